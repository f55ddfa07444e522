//! ICMP and ICMPv6 echo messages and errors: building a request and reading
//! what comes back, with the texts iputils `ping` prints for each error.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The Internet checksum (RFC 1071) of `data`.
pub fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for chunk in data.chunks(2) {
        let word = if chunk.len() == 2 {
            u16::from_be_bytes([chunk[0], chunk[1]])
        } else {
            u16::from_be_bytes([chunk[0], 0])
        };
        sum += word as u32;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An echo request with `payload_len` bytes of payload. For IPv6 the
/// checksum is left to the kernel (it covers a pseudo-header only the
/// kernel knows the source of).
pub fn echo_request(v6: bool, id: u16, seq: u16, payload_len: usize) -> Vec<u8> {
    let mut packet = vec![if v6 { 128 } else { 8 }, 0, 0, 0];
    packet.extend_from_slice(&id.to_be_bytes());
    packet.extend_from_slice(&seq.to_be_bytes());
    packet.extend((0..payload_len).map(|i| (i % 256) as u8));
    if !v6 {
        let sum = checksum(&packet);
        packet[2..4].copy_from_slice(&sum.to_be_bytes());
    }
    packet
}

/// What an ICMP message that concerns one of our probes says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// An echo reply: `bytes` of ICMP (header and payload), with the
    /// reply's TTL (IPv4 only; IPv6 raw sockets do not show the header).
    Reply {
        seq: u16,
        from: IpAddr,
        bytes: usize,
        ttl: Option<u8>,
    },
    /// An ICMP error about our probe `seq`, sent by `from`.
    Error {
        seq: u16,
        from: IpAddr,
        text: String,
        redirect: bool,
    },
}

/// Reads an IPv4 packet (with its IP header, as a raw socket delivers it)
/// and returns what it says about echo id `id`, if anything.
pub fn parse_v4(packet: &[u8], id: u16) -> Option<Received> {
    let header_len = ((*packet.first()? & 0x0f) as usize) * 4;
    let ttl = *packet.get(8)?;
    let src: [u8; 4] = packet.get(12..16)?.try_into().ok()?;
    let from = IpAddr::V4(Ipv4Addr::from(src));
    let icmp = packet.get(header_len..)?;
    let (kind, code) = (*icmp.first()?, *icmp.get(1)?);
    match kind {
        0 => {
            let seq = seq_if_ours(icmp, 0, id)?;
            Some(Received::Reply {
                seq,
                from,
                bytes: icmp.len(),
                ttl: Some(ttl),
            })
        }
        3 | 4 | 5 | 11 | 12 => {
            // The error quotes our datagram: its IP header, then the first 8
            // bytes of our echo request (type, code, checksum, id, seq).
            let quoted = icmp.get(8..)?;
            let quoted_len = ((*quoted.first()? & 0x0f) as usize) * 4;
            let seq = seq_if_ours(quoted.get(quoted_len..)?, 8, id)?;
            let gateway = Ipv4Addr::new(icmp[4], icmp[5], icmp[6], icmp[7]);
            Some(Received::Error {
                seq,
                from,
                text: error_text_v4(kind, code, gateway, icmp),
                redirect: kind == 5,
            })
        }
        _ => None,
    }
}

/// Reads an ICMPv6 message (no IP header: raw IPv6 sockets strip it) from
/// `from` and returns what it says about echo id `id`, if anything.
pub fn parse_v6(icmp: &[u8], from: Ipv6Addr, id: u16) -> Option<Received> {
    let (kind, code) = (*icmp.first()?, *icmp.get(1)?);
    let from = IpAddr::V6(from);
    match kind {
        129 => {
            let seq = seq_if_ours(icmp, 129, id)?;
            Some(Received::Reply {
                seq,
                from,
                bytes: icmp.len(),
                ttl: None,
            })
        }
        1..=4 => {
            // The quoted datagram: a 40-byte IPv6 header, then our request.
            let seq = seq_if_ours(icmp.get(8 + 40..)?, 128, id)?;
            Some(Received::Error {
                seq,
                from,
                text: error_text_v6(kind, code),
                redirect: false,
            })
        }
        _ => None,
    }
}

/// The sequence number of `echo` (an echo header: type, code, checksum,
/// id, seq) if it is of type `kind` and carries our `id`.
fn seq_if_ours(echo: &[u8], kind: u8, id: u16) -> Option<u16> {
    let header = echo.get(..8)?;
    let ours = header[0] == kind && u16::from_be_bytes([header[4], header[5]]) == id;
    ours.then(|| u16::from_be_bytes([header[6], header[7]]))
}

/// The text iputils prints for an ICMP error known by its type, code and
/// the kernel's `ee_info` (the MTU of "frag needed", the pointer of a
/// parameter problem), as a socket's error queue gives them.
pub fn error_text(v6: bool, kind: u8, code: u8, info: u32) -> String {
    if v6 {
        return error_text_v6(kind, code);
    }
    let [_, _, high, low] = info.to_be_bytes();
    let header = [kind, code, 0, 0, low, 0, high, low];
    error_text_v4(kind, code, Ipv4Addr::UNSPECIFIED, &header)
}

/// The text iputils prints for an ICMP error.
fn error_text_v4(kind: u8, code: u8, gateway: Ipv4Addr, icmp: &[u8]) -> String {
    match (kind, code) {
        (3, 0) => "Destination Net Unreachable".into(),
        (3, 1) => "Destination Host Unreachable".into(),
        (3, 2) => "Destination Protocol Unreachable".into(),
        (3, 3) => "Destination Port Unreachable".into(),
        (3, 4) => format!(
            "Frag needed and DF set (mtu = {})",
            u16::from_be_bytes([icmp[6], icmp[7]])
        ),
        (3, 5) => "Source Route Failed".into(),
        (3, 6) => "Destination Net Unknown".into(),
        (3, 7) => "Destination Host Unknown".into(),
        (3, 8) => "Source Host Isolated".into(),
        (3, 9) => "Destination Net Prohibited".into(),
        (3, 10) => "Destination Host Prohibited".into(),
        (3, 11) => "Destination Net Unreachable for Type of Service".into(),
        (3, 12) => "Destination Host Unreachable for Type of Service".into(),
        (3, 13) => "Packet filtered".into(),
        (3, 14) => "Precedence Violation".into(),
        (3, 15) => "Precedence Cutoff".into(),
        (3, c) => format!("Dest Unreachable, Bad Code: {c}"),
        (4, _) => "Source Quench".into(),
        (5, c) => {
            let what = match c {
                0 => "Redirect Network",
                1 => "Redirect Host",
                2 => "Redirect Type of Service and Network",
                3 => "Redirect Type of Service and Host",
                _ => "Redirect, Bad Code",
            };
            format!("{what}(New nexthop: {gateway})")
        }
        (11, 0) => "Time to live exceeded".into(),
        (11, 1) => "Frag reassembly time exceeded".into(),
        (11, c) => format!("Time exceeded, Bad Code: {c}"),
        (12, _) => format!("Parameter problem: pointer = {}", icmp[4]),
        (k, c) => format!("Bad ICMP type: {k}, code {c}"),
    }
}

/// The text iputils prints for an ICMPv6 error.
fn error_text_v6(kind: u8, code: u8) -> String {
    match (kind, code) {
        (1, 0) => "Destination unreachable: No route".into(),
        (1, 1) => "Destination unreachable: Administratively prohibited".into(),
        (1, 2) => "Destination unreachable: Beyond scope of source address".into(),
        (1, 3) => "Destination unreachable: Address unreachable".into(),
        (1, 4) => "Destination unreachable: Port unreachable".into(),
        (1, c) => format!("Destination unreachable: Unknown code {c}"),
        (2, _) => "Packet too big".into(),
        (3, 0) => "Time exceeded: Hop limit".into(),
        (3, 1) => "Time exceeded: Defragmentation failure".into(),
        (3, c) => format!("Time exceeded: code {c}"),
        (4, c) => format!("Parameter problem: code {c}"),
        (k, c) => format!("ICMP type {k}, code {c}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_of_a_known_request() {
        // An echo request id 0x1234 seq 1 with no payload: 08 00 ck ck 12 34 00 01.
        let packet = echo_request(false, 0x1234, 1, 0);
        assert_eq!(packet, [8, 0, 0xe5, 0xca, 0x12, 0x34, 0, 1]);
        assert_eq!(checksum(&packet), 0, "a packet with its checksum sums to zero");
    }

    fn ipv4_header(src: [u8; 4], ttl: u8) -> Vec<u8> {
        let mut h = vec![0x45, 0, 0, 0, 0, 0, 0, 0, ttl, 1, 0, 0];
        h.extend_from_slice(&src);
        h.extend_from_slice(&[10, 0, 1, 2]);
        h
    }

    #[test]
    fn reads_an_echo_reply() {
        let mut packet = ipv4_header([2, 2, 2, 2], 63);
        let mut reply = echo_request(false, 77, 5, 56);
        reply[0] = 0;
        packet.extend_from_slice(&reply);
        let got = parse_v4(&packet, 77).unwrap();
        assert_eq!(
            got,
            Received::Reply {
                seq: 5,
                from: "2.2.2.2".parse().unwrap(),
                bytes: 64,
                ttl: Some(63)
            }
        );
        assert_eq!(parse_v4(&packet, 78), None, "another pinger's reply");
    }

    #[test]
    fn reads_errors_with_their_sender() {
        let quoted: Vec<u8> = [ipv4_header([10, 0, 1, 2], 63), echo_request(false, 77, 2, 0)].concat();
        let error = |kind: u8, code: u8, rest: [u8; 4]| {
            let mut icmp = vec![kind, code, 0, 0];
            icmp.extend_from_slice(&rest);
            icmp.extend_from_slice(&quoted);
            [ipv4_header([10, 0, 1, 1], 64), icmp].concat()
        };
        let from: IpAddr = "10.0.1.1".parse().unwrap();
        let net = parse_v4(&error(3, 0, [0; 4]), 77).unwrap();
        assert_eq!(
            net,
            Received::Error {
                seq: 2,
                from,
                text: "Destination Net Unreachable".into(),
                redirect: false
            }
        );
        let Received::Error { text, redirect, .. } = parse_v4(&error(5, 1, [10, 0, 2, 2]), 77).unwrap() else {
            panic!()
        };
        assert_eq!(text, "Redirect Host(New nexthop: 10.0.2.2)");
        assert!(redirect);
        let Received::Error { text, .. } = parse_v4(&error(11, 0, [0; 4]), 77).unwrap() else {
            panic!()
        };
        assert_eq!(text, "Time to live exceeded");
        assert_eq!(
            parse_v4(&error(3, 1, [0; 4]), 1),
            None,
            "an error about another pinger's probe"
        );
        assert_eq!(
            parse_v4(&[0x45, 0], 77),
            None,
            "a truncated packet is ignored, not a panic"
        );
    }
}
