//! A TCP connection attempt from inside a network namespace, answered as
//! the kernel answers it: connected, refused, unreachable, or no reply.

use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::io::Errno;
use rustix::net::{bind, connect as connect_socket, socket_with, sockopt, AddressFamily, SocketFlags, SocketType};
use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::OwnedFd;
use std::time::Duration;

/// One attempt from the calling thread's namespace; a silence longer than
/// `timeout` is `TimedOut`.
fn connect_once(to: SocketAddr, source: Option<IpAddr>, timeout: Duration) -> Result<(), Errno> {
    let family = if to.is_ipv4() {
        AddressFamily::INET
    } else {
        AddressFamily::INET6
    };
    let flags = SocketFlags::NONBLOCK | SocketFlags::CLOEXEC;
    let socket = socket_with(family, SocketType::STREAM, flags, None)?;
    if let Some(source) = source {
        bind(&socket, &SocketAddr::new(source, 0))?;
    }
    // A probe ends its connection with a reset rather than a FIN: a
    // graceful close leaves an orphaned socket on either side (FIN_WAIT,
    // LAST_ACK) that keeps the lab's namespaces alive after `down` if a
    // step cuts the path before the close completes.
    sockopt::set_socket_linger(&socket, Some(Duration::ZERO))?;
    match connect_socket(&socket, &to) {
        Ok(()) => return Ok(()),
        Err(Errno::INPROGRESS) => {}
        Err(e) => return Err(e),
    }
    let timeout = Timespec {
        tv_sec: timeout.as_secs() as i64,
        tv_nsec: timeout.subsec_nanos() as i64,
    };
    let mut fds = [PollFd::new(&socket, PollFlags::OUT)];
    if poll(&mut fds, Some(&timeout))? == 0 {
        return Err(Errno::TIMEDOUT);
    }
    sockopt::socket_error(&socket)?
}

/// Connects once from the namespace `ns` to `to` (from `source` if
/// given), waiting up to `timeout` for an answer. The inner result is the
/// connection's (`ConnectionRefused`, `TimedOut`, `NetworkUnreachable`,
/// `HostUnreachable`...); the outer one joining the namespace.
pub fn connect_in(
    ns: &OwnedFd,
    to: SocketAddr,
    source: Option<IpAddr>,
    timeout: Duration,
) -> Result<std::io::Result<()>, nsbox_ns::netns::NetnsError> {
    nsbox_ns::netns::run_in_fd(ns, move || connect_once(to, source, timeout).map_err(Into::into))
}

/// The ports TCP sockets listen on in each of the namespaces `each`,
/// IPv4 and IPv6 (the kernel's `/proc/net/tcp` and `tcp6` as each shows
/// them), read by one thread that joins them in turn.
pub fn listening_ports_in_each(each: &[&OwnedFd]) -> Result<Vec<BTreeSet<u16>>, nsbox_ns::netns::NetnsError> {
    ports_in_each(each, ["tcp", "tcp6"], LISTEN)
}

/// The ports UDP sockets are bound to (and not connected) in each of the
/// namespaces `each`, as [`listening_ports_in_each`].
pub fn bound_udp_ports_in_each(each: &[&OwnedFd]) -> Result<Vec<BTreeSet<u16>>, nsbox_ns::netns::NetnsError> {
    // An unconnected UDP socket shows the state TCP calls CLOSE (07).
    const UNCONNECTED: &str = "07";
    ports_in_each(each, ["udp", "udp6"], UNCONNECTED)
}

/// TCP's LISTEN state in `/proc/net/tcp`.
const LISTEN: &str = "0A";

fn ports_in_each(
    each: &[&OwnedFd],
    tables: [&'static str; 2],
    state: &'static str,
) -> Result<Vec<BTreeSet<u16>>, nsbox_ns::netns::NetnsError> {
    let fds = each
        .iter()
        .map(|fd| fd.try_clone())
        .collect::<std::io::Result<Vec<OwnedFd>>>()
        .map_err(|source| nsbox_ns::netns::NetnsError::Io {
            step: "duplicating",
            path: "namespace fd".into(),
            source,
        })?;
    nsbox_ns::netns::run_in_each(fds, move |_| {
        // thread-self: this thread joined the namespace, the process did not.
        tables
            .iter()
            .filter_map(|table| std::fs::read_to_string(format!("/proc/thread-self/net/{table}")).ok())
            .flat_map(|text| ports_in_state(&text, state))
            .collect()
    })
}

/// The local ports of the lines in `state` of a `/proc/net/tcp`-like
/// table: `sl local_address rem_address st ...`, addresses as HEX:PORT.
fn ports_in_state(table: &str, state: &str) -> Vec<u16> {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (local, st) = (fields.get(1)?, fields.get(3)?);
            (*st == state).then_some(())?;
            u16::from_str_radix(local.rsplit_once(':')?.1, 16).ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_listening_sockets_are_read_from_the_kernel_s_table() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0
   1: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0 20 4 30 10 -1
   2: 00000000000000000000000001000000:0035 00000000000000000000000000000000:0000 0A 0 0 0 0 0 0
";
        assert_eq!(ports_in_state(table, LISTEN), vec![80, 53]);
        assert!(ports_in_state("", LISTEN).is_empty());
    }
}
