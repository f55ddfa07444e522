//! Packet capture on one interface of a network namespace, written as pcap
//! (what `tcpdump -r` and Wireshark read).
//!
//! The socket is an AF_PACKET socket made on a throwaway thread that joins
//! the namespace (see `nsbox_ns::netns::run_in_fd`): no thread of the
//! caller changes namespace, and the socket keeps capturing there after
//! the thread is gone. A filter in tcpdump's language is compiled to
//! classic BPF by tcpdump itself (`tcpdump -dd`, Debian's tcpdump package:
//! the same compiler as libpcap's, without linking libpcap) and attached
//! before the socket is bound, so that no packet slips in unfiltered.
//! Lab interfaces are Ethernet (veth, bridges, macvlan, vxlan; `lo` has a
//! zeroed Ethernet header): the link type is Ethernet.

use std::io::Write;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// The most of each packet kept (tcpdump's default snap length).
pub const SNAPLEN: u32 = 262_144;

/// pcap's link type for Ethernet.
const LINKTYPE_ETHERNET: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("the filter {expression:?}: {why}")]
    Filter { expression: String, why: String },
    #[error("capturing on {iface}: {step}: {source}")]
    Socket {
        iface: String,
        step: &'static str,
        source: std::io::Error,
    },
    #[error("capturing on {iface}: no such interface in the namespace")]
    NoInterface { iface: String },
    #[error(transparent)]
    Netns(#[from] nsbox_ns::netns::NetnsError),
}

/// A compiled classic BPF filter.
#[derive(Debug, Clone)]
pub struct Filter(Vec<libc::sock_filter>);

impl Filter {
    /// Compiles `expression` (tcpdump's syntax: `icmp`, `tcp port 80`,
    /// `host 10.0.0.1 and not arp`) with `tcpdump -dd`.
    pub fn compile(expression: &str) -> Result<Filter, CaptureError> {
        let failed = |why: String| CaptureError::Filter {
            expression: expression.to_string(),
            why,
        };
        let out = std::process::Command::new("tcpdump")
            .args(["-dd", "-y", "EN10MB", "--", expression])
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| {
                failed(if e.kind() == std::io::ErrorKind::NotFound {
                    "compiling a filter needs tcpdump (apt-get install tcpdump)".into()
                } else {
                    format!("running tcpdump: {e}")
                })
            })?;
        if !out.status.success() {
            let said = String::from_utf8_lossy(&out.stderr);
            let said = said.trim().trim_start_matches("tcpdump: ");
            return Err(failed(said.to_string()));
        }
        parse_dd(&String::from_utf8_lossy(&out.stdout)).ok_or_else(|| failed("tcpdump's program did not read".into()))
    }
}

/// tcpdump's `-dd` output, one `{ code, jt, jf, k },` per line.
fn parse_dd(text: &str) -> Option<Filter> {
    let mut program = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let inner = line.strip_prefix('{')?.trim_end_matches(',').strip_suffix('}')?;
        let fields: Vec<&str> = inner.split(',').map(str::trim).collect();
        let [code, jt, jf, k] = fields[..] else {
            return None;
        };
        let number = |s: &str| -> Option<u32> {
            match s.strip_prefix("0x") {
                Some(hex) => u32::from_str_radix(hex, 16).ok(),
                None => s.parse().ok(),
            }
        };
        program.push(libc::sock_filter {
            code: u16::try_from(number(code)?).ok()?,
            jt: u8::try_from(number(jt)?).ok()?,
            jf: u8::try_from(number(jf)?).ok()?,
            k: number(k)?,
        });
    }
    (!program.is_empty()).then_some(Filter(program))
}

/// One packet as captured.
pub struct Packet<'a> {
    /// Wall-clock time of its arrival (seconds, nanoseconds).
    pub time: (u64, u32),
    /// What was kept (at most [`SNAPLEN`] bytes).
    pub data: &'a [u8],
    /// Its length on the wire.
    pub length: u32,
    /// Whether this host sent it (else it received it).
    pub outgoing: bool,
}

/// A packet socket bound to one interface of a namespace.
pub struct Capture {
    fd: OwnedFd,
    iface: String,
    buf: Vec<u8>,
}

impl Capture {
    /// Opens a capture of `iface` in the namespace `ns`, filtered by
    /// `filter` from its first packet on.
    pub fn open(ns: BorrowedFd<'_>, iface: &str, filter: Option<&Filter>) -> Result<Capture, CaptureError> {
        let err = |step: &'static str| {
            let iface = iface.to_string();
            move |source| CaptureError::Socket { iface, step, source }
        };
        let ns = ns.try_clone_to_owned().map_err(err("duplicating the namespace fd"))?;
        let (name, program) = (iface.to_string(), filter.cloned());
        let opened = nsbox_ns::netns::run_in_fd(&ns, move || open_here(&name, program.as_ref()))?;
        let fd = match opened {
            Ok(fd) => fd,
            Err(Opening::NoInterface) => {
                return Err(CaptureError::NoInterface {
                    iface: iface.to_string(),
                })
            }
            Err(Opening::Failed(step, source)) => return Err(err(step)(source)),
        };
        // A fifth of a second at most in each read, so that the caller can
        // stop.
        rustix::net::sockopt::set_socket_timeout(
            &fd,
            rustix::net::sockopt::Timeout::Recv,
            Some(std::time::Duration::from_millis(200)),
        )
        .map_err(|e| err("setting a read timeout")(e.into()))?;
        Ok(Capture {
            fd,
            iface: iface.to_string(),
            buf: vec![0; SNAPLEN as usize],
        })
    }

    /// The next packet, or None when none came within a moment (so that
    /// the caller may check whether to stop).
    pub fn next_packet(&mut self) -> Result<Option<Packet<'_>>, CaptureError> {
        // SAFETY: an all-zero sockaddr_ll is a valid value of the type.
        let mut from: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        let mut from_len = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
        // SAFETY: the buffer and the address are valid for the lengths
        // given; MSG_TRUNC makes the kernel return the packet's whole length.
        let n = unsafe {
            libc::recvfrom(
                self.fd.as_raw_fd(),
                self.buf.as_mut_ptr().cast(),
                self.buf.len(),
                libc::MSG_TRUNC,
                std::ptr::from_mut(&mut from).cast(),
                &mut from_len,
            )
        };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            return match e.kind() {
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut | std::io::ErrorKind::Interrupted => {
                    Ok(None)
                }
                _ => Err(CaptureError::Socket {
                    iface: self.iface.clone(),
                    step: "reading",
                    source: e,
                }),
            };
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let length = n as usize;
        Ok(Some(Packet {
            time: (now.as_secs(), now.subsec_nanos()),
            data: &self.buf[..length.min(self.buf.len())],
            length: u32::try_from(length).unwrap_or(u32::MAX),
            outgoing: from.sll_pkttype == libc::PACKET_OUTGOING,
        }))
    }
}

enum Opening {
    NoInterface,
    Failed(&'static str, std::io::Error),
}

/// In the namespace: the socket, its filter, bound to `iface`.
fn open_here(iface: &str, filter: Option<&Filter>) -> Result<OwnedFd, Opening> {
    let failed = |step| move |e| Opening::Failed(step, e);
    let name = std::ffi::CString::new(iface).map_err(|_| Opening::NoInterface)?;
    // SAFETY: `name` is a NUL-terminated string.
    let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
    if index == 0 {
        return Err(Opening::NoInterface);
    }
    // Protocol 0: no packet arrives until the socket is bound, after the
    // filter is in place.
    // SAFETY: plain socket(2).
    let raw = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
    if raw < 0 {
        return Err(failed("opening a packet socket")(std::io::Error::last_os_error()));
    }
    // SAFETY: `raw` was just opened and is owned by nothing else.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    if let Some(filter) = filter {
        let program = libc::sock_fprog {
            len: u16::try_from(filter.0.len()).map_err(|_| {
                Opening::Failed("attaching the filter", std::io::Error::other("the program is too long"))
            })?,
            filter: filter.0.as_ptr().cast_mut(),
        };
        // SAFETY: the program and its instructions outlive the call; the
        // kernel copies them.
        let set = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_ATTACH_FILTER,
                std::ptr::from_ref(&program).cast(),
                std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
            )
        };
        if set != 0 {
            return Err(failed("attaching the filter")(std::io::Error::last_os_error()));
        }
    }
    // SAFETY: an all-zero sockaddr_ll is a valid value of the type.
    let mut address: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    address.sll_family = libc::AF_PACKET as u16;
    address.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
    address.sll_ifindex = index as i32;
    // SAFETY: the address is a valid sockaddr_ll of the size given.
    let bound = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            std::ptr::from_ref(&address).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
    if bound != 0 {
        return Err(failed("binding to the interface")(std::io::Error::last_os_error()));
    }
    Ok(fd)
}

/// Writes pcap (nanosecond timestamps, Ethernet).
pub struct PcapWriter<W: Write> {
    out: W,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the file header.
    pub fn new(mut out: W) -> std::io::Result<Self> {
        let mut header = Vec::with_capacity(24);
        header.extend(0xa1b2_3c4d_u32.to_le_bytes()); // nanosecond pcap
        header.extend(2_u16.to_le_bytes());
        header.extend(4_u16.to_le_bytes());
        header.extend(0_i32.to_le_bytes()); // GMT
        header.extend(0_u32.to_le_bytes()); // accuracy
        header.extend(SNAPLEN.to_le_bytes());
        header.extend(LINKTYPE_ETHERNET.to_le_bytes());
        out.write_all(&header)?;
        Ok(PcapWriter { out })
    }

    pub fn write(&mut self, packet: &Packet) -> std::io::Result<()> {
        let mut record = Vec::with_capacity(16 + packet.data.len());
        record.extend(u32::try_from(packet.time.0).unwrap_or(u32::MAX).to_le_bytes());
        record.extend(packet.time.1.to_le_bytes());
        record.extend(u32::try_from(packet.data.len()).unwrap_or(u32::MAX).to_le_bytes());
        record.extend(packet.length.to_le_bytes());
        record.extend_from_slice(packet.data);
        self.out.write_all(&record)
    }

    pub fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// One line about a packet for a terminal: time, direction, addresses and
/// protocol, length (`tcpdump -r` reads the pcap for more).
pub fn summary(packet: &Packet) -> String {
    let d = packet.data;
    let direction = if packet.outgoing { "out" } else { "in " };
    let secs = packet.time.0 % 86_400;
    let time = format!(
        "{:02}:{:02}:{:02}.{:06}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        packet.time.1 / 1000
    );
    let what = if d.len() < 14 {
        "(short frame)".to_string()
    } else {
        let ethertype = u16::from_be_bytes([d[12], d[13]]);
        let ip = &d[14..];
        match ethertype {
            0x0800 if ip.len() >= 20 => {
                let (s, t) = (
                    std::net::Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]),
                    std::net::Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]),
                );
                format!("IP {s} > {t}: {}", protocol_name(ip[9]))
            }
            0x86dd if ip.len() >= 40 => {
                let address = |at: usize| {
                    let mut octets = [0u8; 16];
                    octets.copy_from_slice(&ip[at..at + 16]);
                    std::net::Ipv6Addr::from(octets)
                };
                format!("IP6 {} > {}: {}", address(8), address(24), protocol_name(ip[6]))
            }
            0x0806 => "ARP".to_string(),
            other => format!("ethertype 0x{other:04x}"),
        }
    };
    format!("{time} {direction} {what}, length {}", packet.length)
}

fn protocol_name(number: u8) -> String {
    match number {
        0 => "hop-by-hop options".into(),
        1 => "ICMP".into(),
        2 => "IGMP".into(),
        6 => "TCP".into(),
        17 => "UDP".into(),
        58 => "ICMP6".into(),
        89 => "OSPF".into(),
        n => format!("protocol {n}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcpdump_programs_are_read() {
        let f =
            parse_dd("{ 0x28, 0, 0, 0x0000000c },\n{ 0x15, 0, 3, 0x00000800 },\n{ 0x6, 0, 0, 0x00040000 },\n").unwrap();
        assert_eq!(f.0.len(), 3);
        assert_eq!((f.0[1].code, f.0[1].jt, f.0[1].jf, f.0[1].k), (0x15, 0, 3, 0x800));
        assert!(parse_dd("{ 0x28, 0, 0 }").is_none());
        assert!(parse_dd("").is_none());
    }

    #[test]
    fn the_pcap_header_is_tcpdumps() {
        let mut out = Vec::new();
        let mut w = PcapWriter::new(&mut out).unwrap();
        let data = [0u8; 60];
        w.write(&Packet {
            time: (1, 5),
            data: &data,
            length: 60,
            outgoing: false,
        })
        .unwrap();
        assert_eq!(out.len(), 24 + 16 + 60);
        assert_eq!(out[..4], [0x4d, 0x3c, 0xb2, 0xa1]);
        assert_eq!(out[20..24], [1, 0, 0, 0]);
    }
}
