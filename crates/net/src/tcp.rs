//! A TCP connection attempt from inside a network namespace, answered as
//! the kernel answers it: connected, refused, unreachable, or no reply.

use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::io::Errno;
use rustix::net::{bind, connect as connect_socket, socket_with, sockopt, AddressFamily, SocketFlags, SocketType};
use std::net::{IpAddr, SocketAddr};
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

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

/// Connects from the namespace `ns` to `to` (from `source` if given),
/// waiting up to `timeout` for an answer; while refused, tries again for
/// up to `patience` (a server may still be starting). The inner result is
/// the connection's (`ConnectionRefused`, `TimedOut`, `NetworkUnreachable`,
/// `HostUnreachable`...); the outer one joining the namespace.
pub fn connect_in(
    ns: &OwnedFd,
    to: SocketAddr,
    source: Option<IpAddr>,
    timeout: Duration,
    patience: Duration,
) -> Result<std::io::Result<()>, nsbox_ns::netns::NetnsError> {
    nsbox_ns::netns::run_in_fd(ns, move || {
        let deadline = Instant::now() + patience;
        loop {
            let result = connect_once(to, source, timeout);
            if result != Err(Errno::CONNREFUSED) || Instant::now() >= deadline {
                return result.map_err(Into::into);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    })
}
