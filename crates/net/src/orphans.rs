//! Aborting orphaned TCP connections, so that a namespace being deleted is
//! not kept alive by them.
//!
//! When a process closes a TCP socket (or dies), the kernel keeps the
//! connection to finish its close: FIN_WAIT1, CLOSING or LAST_ACK until
//! the peer acknowledges. Such an orphan belongs to no file and no process,
//! yet holds its network namespace. If the peer is gone too (its namespace
//! deleted in the same teardown, or its link down), the kernel retransmits
//! the FIN for up to two minutes (`tcp_orphan_retries`), and the namespace
//! lingers that long with nothing in it. `ss -K` ends such connections
//! with sock_diag's SOCK_DESTROY; nsbox does the same, for orphans only
//! (inode 0): a socket that some process still holds is that process's.

use crate::error::NetError;
use crate::socket::socket_err;
use netlink_sys::{protocols::NETLINK_SOCK_DIAG, Socket, SocketAddr};
use std::os::fd::OwnedFd;

const SOCK_DIAG_BY_FAMILY: u16 = 20;
const SOCK_DESTROY: u16 = 21;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_DUMP: u16 = 0x300;
const HEADER: usize = 16;
/// `struct inet_diag_sockid`: ports, addresses, interface, cookie.
const SOCKID: usize = 48;
/// `struct inet_diag_req_v2`: family, protocol, ext, pad, states, sockid.
const REQUEST: usize = 8 + SOCKID;
/// `struct inet_diag_msg`: family, state, timer, retrans, sockid, then
/// expires, rqueue, wqueue, uid and inode.
const MESSAGE: usize = 4 + SOCKID + 20;
const TCP_TIME_WAIT: u8 = 6;
const TCP_LISTEN: u8 = 10;
const TCP_NEW_SYN_RECV: u8 = 12;
/// Every TCP state but those that hold no namespace (TIME_WAIT sockets and
/// pending requests do not) and listeners (never orphans).
const STATES: u32 = 0xfff & !(1 << TCP_TIME_WAIT | 1 << TCP_LISTEN | 1 << TCP_NEW_SYN_RECV);

/// One orphaned connection, as sock_diag names it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Orphan {
    family: u8,
    state: u8,
    id: [u8; SOCKID],
}

/// Aborts every orphaned TCP connection in each of `namespaces` (one
/// thread joins them in turn) and returns how many there were.
pub fn abort_in(namespaces: Vec<OwnedFd>) -> Result<usize, NetError> {
    // The kernel counts orphans for the whole host: none anywhere (the
    // common case) spares joining every namespace to look.
    if host_orphans() == Some(0) {
        return Ok(0);
    }
    let counts = nsbox_ns::netns::run_in_each(namespaces, |_| abort_here())?;
    counts.into_iter().sum()
}

/// Aborts the orphaned TCP connections of the calling thread's namespace.
fn abort_here() -> Result<usize, NetError> {
    // A dump walks the host's whole TCP hash table (shared by every
    // namespace): over a millisecond here, a quarter of a second for a lab of
    // 100 nodes. The namespace's own count of TCP sockets costs a file read.
    if tcp_sockets_here() == Some(0) {
        return Ok(0);
    }
    let socket = open()?;
    let mut orphans = Vec::new();
    for family in [libc::AF_INET as u8, libc::AF_INET6 as u8] {
        orphans.extend(dump(&socket, family)?);
    }
    for orphan in &orphans {
        destroy(&socket, orphan)?;
    }
    Ok(orphans.len())
}

/// How many TCP sockets the calling thread's namespace has hashed (orphans
/// among them; TIME_WAIT ones are not), IPv4 and IPv6: `inuse` of
/// `TCP:` and `TCP6:` in its sockstat files. None if they cannot be read.
fn tcp_sockets_here() -> Option<usize> {
    let v4 = std::fs::read_to_string("/proc/thread-self/net/sockstat").ok()?;
    // Without IPv6 there is no sockstat6, and no IPv6 socket.
    let v6 = std::fs::read_to_string("/proc/thread-self/net/sockstat6").unwrap_or_default();
    Some(inuse(&v4, "TCP:")? + inuse(&v6, "TCP6:").unwrap_or(0))
}

/// How many orphaned TCP connections the host has, in every namespace:
/// `orphan` of `TCP:` in any namespace's sockstat.
fn host_orphans() -> Option<usize> {
    let sockstat = std::fs::read_to_string("/proc/thread-self/net/sockstat").ok()?;
    field(&sockstat, "TCP:", "orphan")
}

/// The `inuse` figure of the line for `protocol` in a sockstat file.
fn inuse(sockstat: &str, protocol: &str) -> Option<usize> {
    field(sockstat, protocol, "inuse")
}

/// The figure after `name` on the line for `protocol` in a sockstat file.
fn field(sockstat: &str, protocol: &str, name: &str) -> Option<usize> {
    let line = sockstat
        .lines()
        .find(|l| l.split_whitespace().next() == Some(protocol))?;
    let mut words = line.split_whitespace().skip_while(|w| *w != name);
    words.nth(1)?.parse().ok()
}

fn open() -> Result<Socket, NetError> {
    let mut socket = Socket::new(NETLINK_SOCK_DIAG).map_err(socket_err("creating a sock_diag socket"))?;
    socket.bind_auto().map_err(socket_err("binding a sock_diag socket"))?;
    socket
        .connect(&SocketAddr::new(0, 0))
        .map_err(socket_err("connecting a sock_diag socket"))?;
    Ok(socket)
}

/// The orphans of one address family.
fn dump(socket: &Socket, family: u8) -> Result<Vec<Orphan>, NetError> {
    let request = encode(
        SOCK_DIAG_BY_FAMILY,
        NLM_F_REQUEST | NLM_F_DUMP,
        family,
        STATES,
        &[0; SOCKID],
    );
    socket.send(&request, 0).map_err(socket_err("asking for TCP sockets"))?;
    let mut orphans = Vec::new();
    let mut buf = Vec::with_capacity(64 * 1024);
    loop {
        buf.clear();
        socket.recv(&mut buf, 0).map_err(socket_err("reading TCP sockets"))?;
        for (kind, body) in messages(&buf) {
            match kind {
                NLMSG_DONE => return Ok(orphans),
                NLMSG_ERROR => return Err(refusal("listing TCP sockets", body)),
                SOCK_DIAG_BY_FAMILY => orphans.extend(orphan(body)),
                _ => {}
            }
        }
    }
}

/// Ends `orphan` (the kernel sends its peer a reset). One already gone by
/// itself is no error.
fn destroy(socket: &Socket, orphan: &Orphan) -> Result<(), NetError> {
    let request = encode(
        SOCK_DESTROY,
        NLM_F_REQUEST | NLM_F_ACK,
        orphan.family,
        1 << orphan.state,
        &orphan.id,
    );
    socket.send(&request, 0).map_err(socket_err("aborting a TCP socket"))?;
    let mut buf = Vec::with_capacity(4096);
    loop {
        buf.clear();
        socket
            .recv(&mut buf, 0)
            .map_err(socket_err("reading an acknowledgement"))?;
        for (kind, body) in messages(&buf) {
            if kind == NLMSG_ERROR {
                return match errno(body) {
                    0 | libc::ENOENT => Ok(()),
                    _ => Err(refusal("aborting an orphaned TCP connection", body)),
                };
            }
        }
    }
}

/// A request: a netlink header, then `struct inet_diag_req_v2`.
fn encode(kind: u16, flags: u16, family: u8, states: u32, id: &[u8; SOCKID]) -> Vec<u8> {
    let len = HEADER + REQUEST;
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(&(len as u32).to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(&flags.to_ne_bytes());
    out.extend_from_slice(&[0; 8]); // sequence number and port: the kernel's to fill
    out.extend_from_slice(&[family, libc::IPPROTO_TCP as u8, 0, 0]);
    out.extend_from_slice(&states.to_ne_bytes());
    out.extend_from_slice(id);
    out
}

/// The messages of one datagram: each one's type and body.
fn messages(buf: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    let mut rest = buf;
    std::iter::from_fn(move || {
        let len = u32::from_ne_bytes(rest.get(0..4)?.try_into().ok()?) as usize;
        let kind = u16::from_ne_bytes(rest.get(4..6)?.try_into().ok()?);
        let body = rest.get(HEADER..len)?;
        rest = rest.get((len + 3) & !3..).unwrap_or_default();
        Some((kind, body))
    })
}

/// The connection a `struct inet_diag_msg` describes, if it is an orphan:
/// no socket file (inode 0) is left to own it.
fn orphan(body: &[u8]) -> Option<Orphan> {
    if body.len() < MESSAGE {
        return None;
    }
    let inode = u32::from_ne_bytes(body[MESSAGE - 4..MESSAGE].try_into().ok()?);
    let state = body[1];
    if inode != 0 || STATES & (1 << state) == 0 {
        return None;
    }
    Some(Orphan {
        family: body[0],
        state,
        id: body[4..4 + SOCKID].try_into().ok()?,
    })
}

/// The errno of a `struct nlmsgerr` (0 for an acknowledgement).
fn errno(body: &[u8]) -> i32 {
    body.get(0..4)
        .and_then(|b| b.try_into().ok())
        .map_or(libc::EPROTO, |b| -i32::from_ne_bytes(b))
}

fn refusal(op: &str, body: &[u8]) -> NetError {
    NetError::Kernel {
        op: op.to_string(),
        errno: errno(body),
        detail: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `struct inet_diag_msg` for a connection in `state` whose socket
    /// file is `inode`.
    fn message(state: u8, inode: u32) -> Vec<u8> {
        let mut body = vec![libc::AF_INET as u8, state, 0, 0];
        body.extend((0..SOCKID as u8).map(|i| i + 1));
        body.extend_from_slice(&[0; 16]);
        body.extend_from_slice(&inode.to_ne_bytes());
        body
    }

    #[test]
    fn only_connections_without_a_socket_file_are_orphans() {
        let found = orphan(&message(4, 0)).expect("FIN_WAIT1 without a file");
        assert_eq!(found.state, 4);
        assert_eq!(found.id[0], 1, "the id is copied as the kernel gave it");
        assert_eq!(found.id[SOCKID - 1], SOCKID as u8);
        assert_eq!(orphan(&message(4, 77)), None, "a process holds it");
        assert_eq!(orphan(&message(TCP_TIME_WAIT, 0)), None, "holds no namespace");
        assert_eq!(orphan(&message(4, 0)[..MESSAGE - 1]), None, "truncated");
    }

    #[test]
    fn a_request_is_a_header_and_inet_diag_req_v2() {
        let id = [7; SOCKID];
        let bytes = encode(
            SOCK_DESTROY,
            NLM_F_REQUEST | NLM_F_ACK,
            libc::AF_INET6 as u8,
            1 << 9,
            &id,
        );
        assert_eq!(bytes.len(), 72);
        assert_eq!(u32::from_ne_bytes(bytes[0..4].try_into().unwrap()), 72);
        assert_eq!(u16::from_ne_bytes(bytes[4..6].try_into().unwrap()), SOCK_DESTROY);
        assert_eq!(&bytes[16..20], &[libc::AF_INET6 as u8, libc::IPPROTO_TCP as u8, 0, 0]);
        assert_eq!(u32::from_ne_bytes(bytes[20..24].try_into().unwrap()), 1 << 9);
        assert_eq!(&bytes[24..], &id);
    }

    #[test]
    fn sockstat_counts_are_read_per_protocol() {
        let v4 = "sockets: used 8\nTCP: inuse 3 orphan 1 tw 0 alloc 4 mem 3\nUDP: inuse 7 mem 0\n";
        assert_eq!(inuse(v4, "TCP:"), Some(3));
        assert_eq!(inuse(v4, "UDP:"), Some(7));
        assert_eq!(inuse("TCP6: inuse 0\nUDP6: inuse 2\n", "TCP6:"), Some(0));
        assert_eq!(inuse(v4, "TCP6:"), None);
        assert_eq!(inuse("TCP: inuse x\n", "TCP:"), None);
        assert_eq!(field(v4, "TCP:", "orphan"), Some(1));
    }

    #[test]
    fn messages_are_split_at_their_aligned_lengths() {
        let mut buf = Vec::new();
        for (kind, body) in [(20u16, vec![1u8; 5]), (NLMSG_DONE, vec![0; 4])] {
            buf.extend_from_slice(&((HEADER + body.len()) as u32).to_ne_bytes());
            buf.extend_from_slice(&kind.to_ne_bytes());
            buf.extend_from_slice(&[0; 10]);
            buf.extend_from_slice(&body);
            buf.resize((buf.len() + 3) & !3, 0);
        }
        let split: Vec<(u16, usize)> = messages(&buf).map(|(k, b)| (k, b.len())).collect();
        assert_eq!(split, [(20, 5), (NLMSG_DONE, 4)]);
        assert_eq!(errno(&(-libc::ENOENT).to_ne_bytes()), libc::ENOENT);
    }
}
