//! A UDP datagram from inside a network namespace, and what came back: an
//! answer, an ICMP error with its sender (port unreachable: the port is
//! closed), or silence — which UDP cannot tell apart from a datagram that
//! was dropped on the way.

use crate::icmp;
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::io::Errno;
use rustix::net::{
    bind, connect, recv, send, socket_with, AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType,
};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Duration;

/// What a datagram drew.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UdpAnswer {
    /// A datagram came back, of this many bytes.
    Data(usize),
    /// An ICMP error about the datagram, as iputils words its kind
    /// ("Destination Port Unreachable"), and who sent it.
    Error { text: String, from: Option<IpAddr> },
    /// Nothing within the wait.
    Silence,
}

/// What nsbox sends: a line a person reading a capture recognises.
const PAYLOAD: &[u8] = b"nsbox probe\n";

/// Sends one datagram from the namespace `ns` to `to` (from `source` if
/// given) and waits up to `wait` for what comes back. The inner error is a
/// local one (the datagram was not sent: a refusing route, an output rule);
/// the outer one joining the namespace.
pub fn probe_in(
    ns: &OwnedFd,
    to: SocketAddr,
    source: Option<IpAddr>,
    wait: Duration,
) -> Result<std::io::Result<UdpAnswer>, nsbox_ns::netns::NetnsError> {
    nsbox_ns::netns::run_in_fd(ns, move || probe_here(to, source, wait).map_err(Into::into))
}

fn probe_here(to: SocketAddr, source: Option<IpAddr>, wait: Duration) -> Result<UdpAnswer, Errno> {
    let family = if to.is_ipv4() {
        AddressFamily::INET
    } else {
        AddressFamily::INET6
    };
    let socket = socket_with(
        family,
        SocketType::DGRAM,
        SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
        None,
    )?;
    // Every ICMP error about the socket's datagrams, not only the "hard"
    // ones (port unreachable), is kept in its error queue with its sender.
    set_recverr(&socket, to.is_ipv6())?;
    if let Some(source) = source {
        bind(&socket, &SocketAddr::new(source, 0))?;
    }
    connect(&socket, &to)?;
    send(&socket, PAYLOAD, SendFlags::empty())?;
    let timeout = Timespec {
        tv_sec: wait.as_secs() as i64,
        tv_nsec: wait.subsec_nanos() as i64,
    };
    let mut fds = [PollFd::new(&socket, PollFlags::IN)];
    if poll(&mut fds, Some(&timeout))? == 0 {
        return Ok(UdpAnswer::Silence);
    }
    if let Some(error) = queued_error(&socket, to.is_ipv6()) {
        return Ok(error);
    }
    let mut buffer = [0u8; 2048];
    match recv(&socket, &mut buffer, RecvFlags::DONTWAIT) {
        Ok((n, _)) => Ok(UdpAnswer::Data(n)),
        Err(Errno::AGAIN) => Ok(UdpAnswer::Silence),
        // An error whose queue entry is gone: its errno is all there is.
        Err(e) => Ok(UdpAnswer::Error {
            text: std::io::Error::from(e).to_string(),
            from: None,
        }),
    }
}

fn set_recverr(socket: &OwnedFd, v6: bool) -> Result<(), Errno> {
    let (level, name) = if v6 {
        (libc::SOL_IPV6, libc::IPV6_RECVERR)
    } else {
        (libc::SOL_IP, libc::IP_RECVERR)
    };
    let on: libc::c_int = 1;
    // SAFETY: `on` is a live c_int and its size is passed with it; the
    // descriptor is open for the whole call.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            level,
            name,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(Errno::from_io_error(&std::io::Error::last_os_error()).unwrap_or(Errno::INVAL))
    }
}

/// The first ICMP error in the socket's error queue, worded as iputils
/// words it, with the address of the router or host that sent it.
fn queued_error(socket: &OwnedFd, v6: bool) -> Option<UdpAnswer> {
    // Room for one sock_extended_err and the offender's address after it.
    let mut control = [0u64; 32];
    let mut data = [0u8; 64];
    let mut iov = libc::iovec {
        iov_base: data.as_mut_ptr().cast(),
        iov_len: data.len(),
    };
    // SAFETY: an all-zero msghdr is valid (no name, no buffers) before
    // the fields below point it at live buffers.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control);
    // SAFETY: `msg` points at `iov`, `data` and `control`, all alive and of
    // the lengths given, for the whole call.
    let n = unsafe { libc::recvmsg(socket.as_raw_fd(), &mut msg, libc::MSG_ERRQUEUE | libc::MSG_DONTWAIT) };
    if n < 0 {
        return None;
    }
    // SAFETY: the kernel filled `msg`'s control buffer with well-formed
    // headers up to msg_controllen; CMSG_FIRSTHDR/NXTHDR stay inside it.
    let mut header = unsafe { libc::CMSG_FIRSTHDR(&msg) };
    while !header.is_null() {
        // SAFETY: `header` is non-null and inside the control buffer.
        let cmsg = unsafe { &*header };
        let ours = (cmsg.cmsg_level == libc::SOL_IP && cmsg.cmsg_type == libc::IP_RECVERR)
            || (cmsg.cmsg_level == libc::SOL_IPV6 && cmsg.cmsg_type == libc::IPV6_RECVERR);
        if ours {
            // SAFETY: an IP(V6)_RECVERR message carries a sock_extended_err
            // followed by the offender's sockaddr (SO_EE_OFFENDER), both
            // inside cmsg_len; read unaligned, as the buffer is bytes.
            let (err, from) = unsafe {
                let data = libc::CMSG_DATA(header);
                let err: libc::sock_extended_err = std::ptr::read_unaligned(data.cast());
                let offender = data.add(std::mem::size_of::<libc::sock_extended_err>());
                (err, offender_address(offender))
            };
            return Some(error_answer(&err, from, v6));
        }
        // SAFETY: as for CMSG_FIRSTHDR.
        header = unsafe { libc::CMSG_NXTHDR(&msg, header) };
    }
    None
}

/// The address in a sockaddr the kernel wrote after a sock_extended_err.
///
/// # Safety
/// `at` points at a sockaddr_in or sockaddr_in6 (its family says which).
unsafe fn offender_address(at: *const u8) -> Option<IpAddr> {
    // SAFETY: the caller's promise; every sockaddr begins with its family.
    let family = unsafe { std::ptr::read_unaligned(at.cast::<libc::sa_family_t>()) };
    match i32::from(family) {
        libc::AF_INET => {
            // SAFETY: the family says this is a sockaddr_in.
            let sin: libc::sockaddr_in = unsafe { std::ptr::read_unaligned(at.cast()) };
            Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr))))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says this is a sockaddr_in6.
            let sin6: libc::sockaddr_in6 = unsafe { std::ptr::read_unaligned(at.cast()) };
            Some(IpAddr::V6(Ipv6Addr::from(sin6.sin6_addr.s6_addr)))
        }
        _ => None,
    }
}

fn error_answer(err: &libc::sock_extended_err, from: Option<IpAddr>, v6: bool) -> UdpAnswer {
    const ORIGIN_ICMP: u8 = 2;
    const ORIGIN_ICMP6: u8 = 3;
    let text = match err.ee_origin {
        ORIGIN_ICMP | ORIGIN_ICMP6 => icmp::error_text(v6, err.ee_type, err.ee_code, err.ee_info),
        // A local error (the kernel itself, before anything left).
        _ => std::io::Error::from_raw_os_error(err.ee_errno as i32).to_string(),
    };
    UdpAnswer::Error {
        text,
        from: from.filter(|a| !a.is_unspecified()),
    }
}
