//! Who a receiver sees as the sender: the source address a datagram
//! arrives from, after every SNAT and masquerade on its way. A lab checks
//! NAT with it (`client -> server: seen as 10.0.2.1`).
//!
//! nsbox listens itself, in the receiving namespace, on the wildcard
//! address and a port the kernel picks, so that no service has to run
//! there; the datagram carries a random token, so that only its own
//! arrival counts.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

/// Sends one UDP datagram from namespace `from_ns` (from `source`, if
/// given) to `to`, and receives it in namespace `at_ns`: the address it
/// came from there, or None if it did not arrive within `wait`. The inner
/// error is a local one (binding, or a send the sender's kernel refused);
/// the outer one joining a namespace.
pub fn seen_as(
    from_ns: &OwnedFd,
    at_ns: &OwnedFd,
    to: IpAddr,
    source: Option<IpAddr>,
    wait: Duration,
) -> Result<std::io::Result<Option<IpAddr>>, nsbox_ns::netns::NetnsError> {
    let any = |v6: bool| -> IpAddr {
        if v6 {
            Ipv6Addr::UNSPECIFIED.into()
        } else {
            Ipv4Addr::UNSPECIFIED.into()
        }
    };
    let v6 = to.is_ipv6();
    // A socket keeps the namespace it was made in.
    let listener = match nsbox_ns::netns::run_in_fd(at_ns, move || UdpSocket::bind(SocketAddr::new(any(v6), 0)))? {
        Ok(listener) => listener,
        Err(e) => return Ok(Err(e)),
    };
    let port = match listener.local_addr() {
        Ok(address) => address.port(),
        Err(e) => return Ok(Err(e)),
    };
    let mut token = [0u8; 16];
    // A failed getrandom leaves zeros: still a token no one else sends.
    let _ = rustix::rand::getrandom(&mut token, rustix::rand::GetRandomFlags::empty());
    let sent = nsbox_ns::netns::run_in_fd(from_ns, move || -> std::io::Result<()> {
        let socket = UdpSocket::bind(SocketAddr::new(source.unwrap_or(any(v6)), 0))?;
        socket.send_to(&token, SocketAddr::new(to, port))?;
        Ok(())
    })?;
    if let Err(e) = sent {
        return Ok(Err(e));
    }
    Ok(receive(&listener, &token, wait))
}

/// The sender of the first datagram that carries `token`, within `wait`.
fn receive(listener: &UdpSocket, token: &[u8], wait: Duration) -> std::io::Result<Option<IpAddr>> {
    let deadline = Instant::now() + wait;
    let mut buffer = [0u8; 64];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        listener.set_read_timeout(Some(left))?;
        match listener.recv_from(&mut buffer) {
            Ok((n, from)) if &buffer[..n] == token => return Ok(Some(from.ip())),
            Ok(_) => {}
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                return Ok(None)
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Within one namespace (this test's own, loopback): the receiver sees
    /// the sender's address.
    #[test]
    fn a_datagram_on_loopback_is_seen_from_loopback() {
        if !rustix::process::geteuid().is_root() {
            eprintln!("skipped: joining a namespace needs root");
            return;
        }
        let Ok(ns) = std::fs::File::open("/proc/self/ns/net").map(OwnedFd::from) else {
            return;
        };
        let seen = seen_as(&ns, &ns, Ipv4Addr::LOCALHOST.into(), None, Duration::from_secs(1));
        assert_eq!(seen.unwrap().unwrap(), Some(Ipv4Addr::LOCALHOST.into()));
    }
}
