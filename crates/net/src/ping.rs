//! ICMP echo ("ping") from inside a network namespace, over a raw socket,
//! reporting what iputils `ping` reports: replies with their TTL and time,
//! ICMP errors with their sender, and local errors before anything is sent.

use crate::icmp::{echo_request, parse_v4, parse_v6, Received};
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::net::{ipproto, AddressFamily, RecvFlags, SendFlags, SocketType};
use std::net::{IpAddr, SocketAddr};
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

/// What to send and how long to wait.
#[derive(Debug, Clone)]
pub struct PingOptions {
    /// Number of echo requests.
    pub count: u32,
    /// Time between requests.
    pub interval: Duration,
    /// How long to wait for answers after the last request.
    pub wait: Duration,
    /// Send from this address (it must be one of the namespace's).
    pub source: Option<IpAddr>,
    /// TTL (hop limit) of the requests.
    pub ttl: Option<u8>,
    /// Bytes of payload per request.
    pub size: usize,
    /// Stop at the first answer (a reply or an ICMP error) instead of
    /// sending `count` requests: a lab's probe needs one answer, and each
    /// further request that a router answers with an error spends a token
    /// of its ICMP rate limit.
    pub until_answered: bool,
}

impl Default for PingOptions {
    fn default() -> Self {
        PingOptions {
            count: 1,
            interval: Duration::from_secs(1),
            wait: Duration::from_secs(10),
            source: None,
            ttl: None,
            size: 56,
            until_answered: false,
        }
    }
}

/// One answer, as it arrives.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "outcome", rename_all = "lowercase")]
pub enum Event {
    Reply {
        seq: u16,
        from: IpAddr,
        bytes: usize,
        ttl: Option<u8>,
        rtt_ms: f64,
    },
    Error {
        seq: u16,
        from: IpAddr,
        error: String,
        redirect: bool,
    },
}

/// The whole run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Summary {
    pub destination: IpAddr,
    pub transmitted: u32,
    pub received: u32,
    pub errors: u32,
    /// Requests the node's own kernel refused to send (EPERM: an output
    /// rule of its firewall dropped them). They count as transmitted and
    /// lost, as iputils counts them.
    #[serde(skip_serializing_if = "is_zero")]
    pub refused: u32,
    /// Milliseconds from the first request to the last.
    pub time_ms: u64,
    pub events: Vec<Event>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Summary {
    /// The round-trip times of the replies, in milliseconds.
    pub fn rtts(&self) -> Vec<f64> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Reply { rtt_ms, .. } => Some(*rtt_ms),
                _ => None,
            })
            .collect()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PingError {
    /// A failure before any request left: no route ("connect: Network is
    /// unreachable", as iputils says), a source address that is not ours...
    #[error("{step}: {}", crate::error::describe_errno(source.raw_os_error().unwrap_or(0)))]
    Local { step: &'static str, source: std::io::Error },
    #[error(transparent)]
    Netns(#[from] nsbox_ns::netns::NetnsError),
}

impl PingError {
    /// Whether this is the kernel refusing to connect to a broadcast
    /// address without SO_BROADCAST (EACCES at the way-out check), which
    /// iputils answers with "Do you want to ping broadcast? Then -b".
    pub fn is_broadcast_refusal(&self) -> bool {
        matches!(self, PingError::Local { step: "connect", source }
            if source.raw_os_error() == Some(rustix::io::Errno::ACCESS.raw_os_error()))
    }
}

fn local(step: &'static str) -> impl FnOnce(rustix::io::Errno) -> PingError {
    move |e| PingError::Local { step, source: e.into() }
}

/// The sockets of one run, made inside the namespace.
struct Sockets {
    raw: OwnedFd,
}

/// Makes the raw socket (in the calling thread's namespace), after checking
/// the way out as iputils does: connecting a UDP socket to the destination
/// fails at once if there is no route.
fn open_sockets(destination: IpAddr, options: &PingOptions) -> Result<Sockets, PingError> {
    let v6 = destination.is_ipv6();
    let family = if v6 { AddressFamily::INET6 } else { AddressFamily::INET };
    // Close-on-exec: a process started meanwhile (nft, a lab's commands)
    // must not hold these sockets, nor the namespace they belong to.
    let cloexec = rustix::net::SocketFlags::CLOEXEC;
    let probe = rustix::net::socket_with(family, SocketType::DGRAM, cloexec, None).map_err(local("socket"))?;
    if let Some(source) = options.source {
        rustix::net::bind(&probe, &SocketAddr::new(source, 0)).map_err(local("bind"))?;
    }
    rustix::net::connect(&probe, &SocketAddr::new(destination, 1025)).map_err(local("connect"))?;
    let protocol = if v6 { ipproto::ICMPV6 } else { ipproto::ICMP };
    let raw = rustix::net::socket_with(family, SocketType::RAW, cloexec, Some(protocol)).map_err(local("socket"))?;
    if let Some(source) = options.source {
        rustix::net::bind(&raw, &SocketAddr::new(source, 0)).map_err(local("bind"))?;
    }
    if v6 {
        // The reply's hop limit comes as ancillary data: raw ICMPv6 sockets
        // do not show the IP header. Without it, replies show no ttl.
        let _ = nsbox_sys::net::set_recv_hoplimit(&raw);
    }
    if let Some(ttl) = options.ttl {
        if v6 {
            rustix::net::sockopt::set_ipv6_unicast_hops(&raw, Some(ttl)).map_err(local("setting the hop limit"))?;
        } else {
            rustix::net::sockopt::set_ip_ttl(&raw, ttl as u32).map_err(local("setting the TTL"))?;
        }
    }
    Ok(Sockets { raw })
}

/// A ping ready to run: its socket is open in the namespace, and the way
/// to the destination was checked.
pub struct Pinger {
    sockets: Sockets,
    destination: IpAddr,
    options: PingOptions,
}

impl Pinger {
    /// Prepares to ping `destination` from the namespace `ns` refers to
    /// (the caller's own with `None`). Fails as iputils does before sending
    /// anything: no route, a source address that is not the namespace's...
    pub fn open(ns: Option<&OwnedFd>, destination: IpAddr, options: &PingOptions) -> Result<Self, PingError> {
        let sockets = match ns {
            Some(fd) => {
                let opts = options.clone();
                nsbox_ns::netns::run_in_fd(fd, move || open_sockets(destination, &opts))??
            }
            None => open_sockets(destination, options)?,
        };
        Ok(Pinger {
            sockets,
            destination,
            options: options.clone(),
        })
    }

    /// Sends the requests, calling `on_event` for each answer as it arrives.
    pub fn run(self, on_event: impl FnMut(&Event)) -> Result<Summary, PingError> {
        run(self.sockets, self.destination, &self.options, on_event)
    }
}

/// Pings `destination` from the namespace `ns` refers to (the caller's
/// own with `None`), calling `on_event` for each answer as it arrives.
pub fn ping(
    ns: Option<&OwnedFd>,
    destination: IpAddr,
    options: &PingOptions,
    on_event: impl FnMut(&Event),
) -> Result<Summary, PingError> {
    Pinger::open(ns, destination, options)?.run(on_event)
}

fn run(
    sockets: Sockets,
    destination: IpAddr,
    options: &PingOptions,
    mut on_event: impl FnMut(&Event),
) -> Result<Summary, PingError> {
    let v6 = destination.is_ipv6();
    // The low 16 bits of the PID tell our replies from other pingers', as in iputils.
    let id = echo_id();
    let mut sent_at: Vec<Instant> = Vec::new();
    let mut answered: Vec<bool> = Vec::new();
    let mut summary = Summary {
        destination,
        transmitted: 0,
        received: 0,
        errors: 0,
        refused: 0,
        time_ms: 0,
        events: Vec::new(),
    };
    let mut next_send = Instant::now();
    let mut buf = vec![0u8; 65536];
    loop {
        let now = Instant::now();
        if summary.transmitted < options.count && now >= next_send {
            let seq = (summary.transmitted + 1) as u16;
            let request = echo_request(v6, id, seq, options.size);
            let target = SocketAddr::new(destination, 0);
            match rustix::net::sendto(&sockets.raw, &request, SendFlags::empty(), &target) {
                Ok(_) => {}
                // A drop by an output rule (nft, iptables): iputils says
                // nothing and counts the request as lost.
                Err(rustix::io::Errno::PERM) => summary.refused += 1,
                // Any other first request failing is a local error; a later
                // one (a route removed meanwhile) counts as a lost probe.
                Err(e) if summary.transmitted == 0 => return Err(local("sendto")(e)),
                Err(_) => {}
            }
            sent_at.push(Instant::now());
            answered.push(false);
            summary.transmitted += 1;
            next_send = next_send.checked_add(options.interval).unwrap_or(next_send);
        }
        let all_sent = summary.transmitted == options.count;
        if all_sent && answered.iter().all(|a| *a) || options.until_answered && answered.iter().any(|a| *a) {
            break;
        }
        let until = if all_sent {
            let last = *sent_at.last().expect("one was sent");
            last.checked_add(options.wait).unwrap_or(last)
        } else {
            next_send
        };
        let now = Instant::now();
        if all_sent && now >= until {
            break;
        }
        let left = until.saturating_duration_since(now);
        let timeout = Timespec {
            tv_sec: left.as_secs() as i64,
            tv_nsec: left.subsec_nanos() as i64,
        };
        let mut fds = [PollFd::new(&sockets.raw, PollFlags::IN)];
        if !matches!(poll(&mut fds, Some(&timeout)), Ok(n) if n > 0) {
            continue;
        }
        let received = if v6 {
            let Ok((len, from, hoplimit)) = nsbox_sys::net::recv_v6_with_hoplimit(&sockets.raw, &mut buf) else {
                continue;
            };
            parse_v6(&buf[..len], from, id).map(|r| match r {
                Received::Reply { seq, from, bytes, .. } => Received::Reply {
                    seq,
                    from,
                    bytes,
                    ttl: hoplimit,
                },
                other => other,
            })
        } else {
            let Ok((len, _, _)) = rustix::net::recvfrom(&sockets.raw, &mut buf[..], RecvFlags::DONTWAIT) else {
                continue;
            };
            parse_v4(&buf[..len], id)
        };
        let Some(received) = received else { continue };
        let event = match received {
            Received::Reply { seq, from, bytes, ttl } => {
                // A sequence number we never sent (0, or from an earlier run
                // with the same id) is not ours.
                let Some(index) = (seq as usize).checked_sub(1) else {
                    continue;
                };
                let Some(sent) = sent_at.get(index) else { continue };
                if answered[index] {
                    continue; // a duplicate
                }
                answered[index] = true;
                summary.received += 1;
                Event::Reply {
                    seq,
                    from,
                    bytes,
                    ttl,
                    rtt_ms: sent.elapsed().as_secs_f64() * 1000.0,
                }
            }
            // A redirect is advice, not a failure: the router forwarded the
            // request all the same, so (as iputils) it is shown but neither
            // counted as an error nor taken as the probe's answer.
            Received::Error {
                seq,
                from,
                text,
                redirect: true,
            } => Event::Error {
                seq,
                from,
                error: text,
                redirect: true,
            },
            Received::Error {
                seq,
                from,
                text,
                redirect: false,
            } => {
                if let Some(a) = (seq as usize).checked_sub(1).and_then(|i| answered.get_mut(i)) {
                    *a = true;
                }
                summary.errors += 1;
                Event::Error {
                    seq,
                    from,
                    error: text,
                    redirect: false,
                }
            }
        };
        on_event(&event);
        summary.events.push(event);
    }
    if let (Some(first), Some(last)) = (sent_at.first(), sent_at.last()) {
        summary.time_ms = last.duration_since(*first).as_millis() as u64;
    }
    Ok(summary)
}

/// The ICMP echo identifier of one run: the process id (as iputils uses,
/// so that other tools tell nsbox's echoes apart), plus a step for every
/// run before it in this process, so that runs at the same time from one
/// namespace (a lab's checks) never take each other's replies.
fn echo_id() -> u16 {
    static RUNS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let run = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    (std::process::id().wrapping_add(run.wrapping_mul(7919)) & 0xffff) as u16
}
