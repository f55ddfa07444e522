//! Checking expectations: an ICMP echo from the node's namespace, and what
//! came back read as reachable or as the reason it is not.

use crate::deploy::NodeHandle;
use crate::model::{Expect, Outcome, RouteKind, Transport};
use crate::pacing::{self, Pacer};
use crate::window;
use nsbox_net::neigh_table::{self, TableStats};
use nsbox_net::ping::{ping, Event, PingError, PingOptions, Summary};
use nsbox_net::Netlink;
use serde::Serialize;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::OwnedFd;
use std::time::Duration;

/// What a probe needs of a node: its name (for the words) and its
/// namespace (to send from). Its netlink socket stays with the caller, who
/// may flush the node's neighbours while probes run.
#[derive(Clone, Copy)]
pub struct Prober<'a> {
    pub name: &'a str,
    pub fd: &'a OwnedFd,
}

impl<'a> From<&'a NodeHandle> for Prober<'a> {
    fn from(node: &'a NodeHandle) -> Self {
        Prober {
            name: &node.name,
            fd: &node.fd,
        }
    }
}

/// Splits nodes into what probes need and the netlink sockets that make
/// room in the neighbour table, so that both can be used at once.
fn split(nodes: &mut [NodeHandle]) -> (Vec<Prober<'_>>, Vec<&mut Netlink>) {
    nodes
        .iter_mut()
        .map(|NodeHandle { name, fd, nl }| (Prober { name, fd }, nl))
        .unzip()
}

/// What a probe found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Observed {
    pub reachable: bool,
    /// "reply from 2.2.2.2, ttl 63", "network unreachable",
    /// "destination net unreachable from 10.0.1.1", "no reply"...
    pub detail: String,
    /// What echoes saw, counted as iputils counts (an echo probe's only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub echo: Option<EchoSeen>,
}

/// The run of echoes behind a probe, as iputils `ping` would sum it up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EchoSeen {
    pub replies: u32,
    /// Each reply's TTL (hop limit), in the order they came.
    pub reply_ttls: Vec<u8>,
    /// ICMP errors, redirects aside.
    pub errors: u32,
    /// iputils' exit status: 0 a reply came, 1 none did, 2 nothing could
    /// be sent.
    pub exit: i32,
}

impl EchoSeen {
    fn of(summary: &Summary) -> EchoSeen {
        EchoSeen {
            replies: summary.received,
            reply_ttls: summary
                .events
                .iter()
                .filter_map(|e| match e {
                    Event::Reply { ttl, .. } => *ttl,
                    _ => None,
                })
                .collect(),
            errors: summary.errors,
            exit: if summary.received > 0 { 0 } else { 1 },
        }
    }

    /// A run that could not send anything (iputils exits 2).
    fn not_sent() -> EchoSeen {
        EchoSeen {
            replies: 0,
            reply_ttls: Vec::new(),
            errors: 0,
            exit: 2,
        }
    }

    /// Where this run differs from what `facts` ask, in words
    /// (`reply ttl 63, not 62`); None when it is all as asked.
    pub fn differs(&self, facts: &crate::model::EchoFacts) -> Option<String> {
        let mut said = Vec::new();
        if let Some(want) = facts.reply_ttl {
            match self.reply_ttls.iter().find(|t| **t != want) {
                _ if self.reply_ttls.is_empty() => said.push(format!("no reply to show ttl {want}")),
                Some(t) => said.push(format!("reply ttl {t}, not {want}")),
                None => {}
            }
        }
        if let Some(want) = facts.errors.filter(|n| *n != self.errors) {
            said.push(format!("{} ICMP errors, not {want}", self.errors));
        }
        if let Some(want) = facts.exit.filter(|n| *n != self.exit) {
            said.push(format!("iputils would exit {}, not {want}", self.exit));
        }
        (!said.is_empty()).then(|| said.join(", "))
    }
}

impl Observed {
    /// Whether the answer may have been an ICMP error (or redirect) from a
    /// router: anything but a reply, a refused connection, silence, or a
    /// probe the node itself did not send (see [`refused_by_route`]).
    pub fn may_have_drawn_an_error(&self) -> bool {
        let local = self.detail.contains("not sent")
            || self.detail.starts_with("local error")
            || self.detail.contains("refused by an output rule");
        !self.reachable && self.detail != "no reply" && self.detail != REFUSED && !local
    }
}

/// One expectation and what was found.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub expect: String,
    pub wanted: Outcome,
    /// The nodes the request had to pass (`reachable (via r3)`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub via: Vec<String>,
    /// What its echoes had to see besides, where the file said.
    #[serde(skip_serializing_if = "is_default")]
    pub facts: crate::model::EchoFacts,
    /// How it was probed, where the file said.
    #[serde(skip_serializing_if = "is_default")]
    pub params: crate::model::ProbeParams,
    pub observed: Observed,
    pub holds: bool,
}

/// Two echoes 0.2 s apart (one where a router's error is expected), a
/// second to answer: enough for a reply to come from anywhere in a lab,
/// and for a router's ICMP error to come back. The probe ends at the first
/// answer: a second error would spend another of the router's rate-limit
/// tokens (see [`crate::pacing`]).
fn options(expect: &Expect) -> PingOptions {
    let p = &expect.params;
    PingOptions {
        // One echo where a router's error is expected: a second, sent when
        // the error is held back, would only drain the router's bucket. A
        // count the file gives is sent whole.
        count: p.count.unwrap_or(if pacing::draws_an_error(expect) { 1 } else { 2 }),
        interval: p.interval.unwrap_or(Duration::from_millis(200)),
        wait: p.wait.unwrap_or(Duration::from_secs(1)),
        source: expect.source,
        ttl: p.ttl,
        until_answered: p.count.is_none(),
        ..PingOptions::default()
    }
}

/// What a probe whose packets the node's own firewall dropped on the way
/// out reads as: no reply, and why.
fn refused_by_output_rule(node: &str) -> String {
    format!("no reply (the send was refused by an output rule of {node})")
}

/// [`read`], and how many of the echoes were answered when the file asked
/// for a count (`reply from 10.0.2.2, ttl 63 (4 of 5 answered)`).
fn read_counted(summary: &Summary, node: &str, count: Option<u32>) -> Observed {
    let mut observed = read(summary, node);
    if let Some(count) = count {
        observed.detail = format!("{} ({} of {count} answered)", observed.detail, summary.received);
    }
    observed
}

fn read(summary: &Summary, node: &str) -> Observed {
    if let Some(Event::Reply { from, ttl, .. }) = summary.events.iter().find(|e| matches!(e, Event::Reply { .. })) {
        let ttl = ttl.map(|t| format!(", ttl {t}")).unwrap_or_default();
        return Observed {
            reachable: true,
            detail: format!("reply from {from}{ttl}"),
            echo: None,
        };
    }
    let errors = summary.events.iter().filter_map(|e| match e {
        Event::Error {
            from, error, redirect, ..
        } => Some((format!("{} from {from}", icmp_words(error)), *redirect)),
        _ => None,
    });
    let (redirects, errors): (Vec<_>, Vec<_>) = errors.partition(|(_, redirect)| *redirect);
    let detail = match (errors.first(), redirects.first()) {
        (Some((error, _)), _) => error.clone(),
        // A redirect is advice, not a failure: the echo went on its way
        // (and nothing came back).
        (None, Some((redirect, _))) => format!("no reply ({redirect})"),
        (None, None) if summary.refused > 0 => refused_by_output_rule(node),
        (None, None) => "no reply".to_string(),
    };
    Observed {
        reachable: false,
        detail,
        echo: None,
    }
}

/// An ICMP error as iputils words it, in lower case; IPv4's "packet
/// filtered" (a prohibit route or a reject rule) also says what IPv6 says
/// of it, so that one expectation fits both families.
fn icmp_words(error: &str) -> String {
    let words = error.to_lowercase();
    if words == "packet filtered" {
        return "administratively prohibited (packet filtered)".into();
    }
    words
}

/// What a send that the node's own route refused reads as. The kernel
/// answers each refusing route type with its own error (seen with
/// iputils); a throw route in the main table is no route at all.
fn refused_by_route(errno: Option<i32>, node: &str) -> Option<String> {
    let kind = RouteKind::refusing_with(errno)?;
    Some(match kind {
        RouteKind::Blackhole => format!("not sent (invalid argument: a blackhole route of {node})"),
        RouteKind::Prohibit => format!("not sent (permission denied: a prohibit route of {node})"),
        RouteKind::Unreachable => format!("host unreachable (not sent: an unreachable route of {node})"),
        _ => "network unreachable".into(),
    })
}

/// What a refused TCP connection reads as.
const REFUSED: &str = "connection refused";

/// How long a TCP connection may take: long enough for the kernel's first
/// retransmission of the SYN, 1 s after it (a first SYN lost on the way is
/// sent again, as it would be for any client: an IPv6 port forward loses
/// the first packet of its first connection on this kernel), and how long
/// a port that should be open may keep refusing (a service the lab
/// started may still be on its way up).
const CONNECT_TIMEOUT: Duration = Duration::from_millis(1500);
const OPEN_PATIENCE: Duration = Duration::from_secs(2);

fn tcp_observed(result: std::io::Result<()>, node: &str) -> Observed {
    use std::io::ErrorKind;
    // EPERM: an output rule of the node's own firewall dropped the SYN.
    const EPERM: i32 = 1;
    let (reachable, detail) = match result {
        Ok(()) => (true, "connected".to_string()),
        Err(e) if e.raw_os_error() == Some(EPERM) => (false, refused_by_output_rule(node)),
        Err(e) => match e.kind() {
            ErrorKind::ConnectionRefused => (false, REFUSED.to_string()),
            ErrorKind::TimedOut => (false, "no reply".to_string()),
            ErrorKind::NetworkUnreachable => (false, "network unreachable".to_string()),
            // A router's ICMP error or a neighbour that never answered, as
            // well as a local unreachable route: TCP cannot tell which.
            ErrorKind::HostUnreachable => (false, "host unreachable".to_string()),
            _ => (
                false,
                refused_by_route(e.raw_os_error(), node).unwrap_or_else(|| format!("local error: {e}")),
            ),
        },
    };
    Observed {
        reachable,
        detail,
        echo: None,
    }
}

/// A TCP connection from the node to the expectation's port. One that
/// should be open and is refused may have met a service still starting
/// (a node's `run` commands start at `up`): nsbox then waits, up to
/// [`OPEN_PATIENCE`], for a socket to start listening anywhere in
/// `others` (the lab's nodes; the service may be behind DNAT), without
/// connecting again meanwhile, since each connection is one more first
/// packet for a NAT rule's counter; and tries once more if one does.
fn tcp_probe(node: &Prober, others: &[Prober], expect: &Expect, port: u16) -> Observed {
    let to = SocketAddr::new(expect.to, port);
    let timeout = expect.params.wait.unwrap_or(CONNECT_TIMEOUT);
    let connect = || nsbox_net::tcp::connect_in(node.fd, to, expect.source, timeout);
    // What listens before the first attempt: a service that starts after
    // it is one that was starting.
    let before = (expect.outcome == Outcome::Open).then(|| listeners(others));
    let mut result = connect();
    let refused = matches!(&result, Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused);
    if let Some(before) = before.filter(|_| refused) {
        if a_listener_starts(others, &before) {
            result = connect();
        }
    }
    match result {
        Ok(result) => tcp_observed(result, node.name),
        Err(e) => Observed {
            reachable: false,
            detail: format!("local error: {e}"),
            echo: None,
        },
    }
}

/// Every (node, port) a TCP socket listens on among `probers`.
fn listeners(probers: &[Prober]) -> std::collections::BTreeSet<(usize, u16)> {
    let fds: Vec<&OwnedFd> = probers.iter().map(|p| p.fd).collect();
    nsbox_net::tcp::listening_ports_in_each(&fds)
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .flat_map(|(node, ports)| ports.into_iter().map(move |port| (node, port)))
        .collect()
}

/// Whether a socket starts listening among `probers` (one not in
/// `before`) within [`OPEN_PATIENCE`].
fn a_listener_starts(probers: &[Prober], before: &std::collections::BTreeSet<(usize, u16)>) -> bool {
    let deadline = std::time::Instant::now() + OPEN_PATIENCE;
    while std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        if listeners(probers).difference(before).next().is_some() {
            return true;
        }
    }
    false
}

/// How long a UDP datagram's answer may take.
const UDP_WAIT: Duration = Duration::from_secs(1);

/// One UDP datagram from the node to the expectation's port: an answer
/// means open, an ICMP port unreachable closed; silence is only "no reply"
/// (UDP cannot tell a quiet service from a dropped datagram).
fn udp_probe(node: &Prober, expect: &Expect, port: u16) -> Observed {
    use nsbox_net::udp::{probe_in, UdpAnswer};
    // EPERM: an output rule of the node's own firewall dropped it.
    const EPERM: i32 = 1;
    let to = SocketAddr::new(expect.to, port);
    let wait = expect.params.wait.unwrap_or(UDP_WAIT);
    let (reachable, detail) = match probe_in(node.fd, to, expect.source, wait) {
        Ok(Ok(UdpAnswer::Data(bytes))) => (true, format!("answered ({bytes} bytes)")),
        Ok(Ok(UdpAnswer::Error { text, from })) => match from {
            Some(from) => (false, format!("{} from {from}", icmp_words(&text))),
            None => (false, icmp_words(&text)),
        },
        Ok(Ok(UdpAnswer::Silence)) => (false, "no reply".to_string()),
        Ok(Err(e)) if e.raw_os_error() == Some(EPERM) => (false, refused_by_output_rule(node.name)),
        Ok(Err(e)) => (
            false,
            refused_by_route(e.raw_os_error(), node.name).unwrap_or_else(|| format!("local error: {e}")),
        ),
        Err(e) => (false, format!("local error: {e}")),
    };
    Observed {
        reachable,
        detail,
        echo: None,
    }
}

/// Probes `expect` from its node: a TCP connection when it names a port
/// (among `others`, the lab's nodes, a refused one waits for a service to
/// start: see [`tcp_probe`]), ICMP echoes otherwise.
pub fn probe(node: &Prober, others: &[Prober], expect: &Expect) -> Observed {
    if let Some(port) = expect.port {
        return match port.transport {
            Transport::Tcp => tcp_probe(node, others, expect, port.number),
            Transport::Udp => udp_probe(node, expect, port.number),
        };
    }
    match ping(Some(node.fd), expect.to, &options(expect), |_| {}) {
        Ok(summary) => Observed {
            echo: Some(EchoSeen::of(&summary)),
            ..read_counted(&summary, node.name, expect.params.count)
        },
        Err(e) => Observed {
            reachable: false,
            detail: local_failure(&e, node.name),
            echo: Some(EchoSeen::not_sent()),
        },
    }
}

/// Whether `observed` is what `wanted` asks for: the reason, when given,
/// must appear in what was observed (case aside).
pub fn holds(wanted: &Outcome, observed: &Observed) -> bool {
    // A refused connection or a port unreachable reached the host: it is
    // closed, not unreachable.
    let closed = observed.detail == REFUSED || observed.detail.contains("port unreachable");
    let unreachable = !observed.reachable && !closed;
    match wanted {
        Outcome::Reachable | Outcome::Open => observed.reachable,
        Outcome::Closed => closed,
        Outcome::Unreachable(None) => unreachable,
        Outcome::Unreachable(Some(reason)) => {
            unreachable && observed.detail.to_lowercase().contains(&reason.to_lowercase())
        }
        Outcome::SeenAs(address) => observed.reachable && observed.detail == seen_words(*address),
        // A counter's and a route's check are judged where they are read
        // (see `check_counted`, `check_routes`),
        // and a throughput's where it is measured (`throughput::check`).
        Outcome::Packets { .. } | Outcome::Route { .. } | Outcome::RouteAbsent | Outcome::Throughput { .. } => {
            observed.reachable
        }
    }
}

/// Reads each counted rule's packet counter (once a section's probes are
/// done) and judges it: exactly the count, or at least it.
/// Looks for each route in its node's main table (read once per node, over
/// netlink): the prefix exactly, with the gateway, device and protocol the
/// check names.
pub fn check_routes(nodes: &mut [NodeHandle], checks: &[crate::model::RouteCheck]) -> Vec<Check> {
    let mut tables = std::collections::BTreeMap::new();
    checks
        .iter()
        .map(|c| {
            let handle = &mut nodes[c.node];
            let table = tables.entry(c.node).or_insert_with(|| {
                let routes = handle.nl.main_routes().map_err(|e| e.to_string())?;
                let links = handle.nl.links().map_err(|e| e.to_string())?;
                Ok::<_, String>((routes, links))
            });
            let (holds, detail) = match table {
                Ok((routes, links)) => {
                    let name_of = |index: Option<u32>| {
                        links
                            .iter()
                            .find(|l| Some(l.index) == index)
                            .map_or_else(|| "?".to_string(), |l| l.name.clone())
                    };
                    let found: Vec<&nsbox_net::route::Route> = routes
                        .iter()
                        .filter(|r| r.destination == c.prefix && r.kind == "unicast")
                        .collect();
                    let describe = |r: &nsbox_net::route::Route| {
                        let mut words = Vec::new();
                        let gateways: Vec<String> =
                            r.gateway.iter().chain(&r.nexthops).map(|g| g.to_string()).collect();
                        if !gateways.is_empty() {
                            words.push(format!("via {}", gateways.join(", ")));
                        }
                        words.push(format!("dev {}", name_of(r.oif)));
                        words.push(format!("proto {}", r.protocol));
                        words.join(" ")
                    };
                    let holds = match &c.outcome {
                        Outcome::RouteAbsent => found.is_empty(),
                        Outcome::Route { via, dev, proto } => found.iter().any(|r| {
                            via.is_none_or(|v| r.gateway == Some(v) || r.nexthops.contains(&v))
                                && dev.as_ref().is_none_or(|d| name_of(r.oif) == *d)
                                && proto.as_ref().is_none_or(|p| r.protocol == *p)
                        }),
                        _ => false,
                    };
                    let detail = if found.is_empty() {
                        "no route".to_string()
                    } else {
                        found.iter().map(|r| describe(r)).collect::<Vec<_>>().join("; ")
                    };
                    (holds, detail)
                }
                Err(e) => (false, format!("reading the routes: {e}")),
            };
            read_off(&c.text, &c.outcome, holds, detail)
        })
        .collect()
}

/// The check of something read off a node rather than probed (a route, a
/// counter): `holds` when what was read (`detail`) is what the outcome
/// wants.
fn read_off(text: &str, outcome: &Outcome, holds: bool, detail: String) -> Check {
    Check {
        via: Vec::new(),
        expect: text.to_string(),
        wanted: outcome.clone(),
        facts: Default::default(),
        params: Default::default(),
        holds,
        observed: Observed {
            reachable: holds,
            detail,
            echo: None,
        },
    }
}

pub fn check_counted(nodes: &[NodeHandle], counted: &[crate::model::Counted]) -> Vec<Check> {
    // Each node's rules listed once (each listing runs `nft`).
    let mut listings = std::collections::BTreeMap::new();
    counted
        .iter()
        .map(|c| {
            let listed = listings.entry(c.node).or_insert_with(|| {
                crate::deploy::firewall(&nodes[c.node])
                    .map_err(|e| e.to_string())
                    .and_then(|fw| fw.list(None).map_err(|e| e.to_string()))
            });
            let (holds, detail) = match listed {
                Ok(rules) => match rules.iter().find(|l| l.rule.as_ref() == Some(&c.rule)) {
                    Some(l) => {
                        let holds = match c.outcome {
                            Outcome::Packets { count, at_least: true } => l.packets >= count,
                            Outcome::Packets { count, .. } => l.packets == count,
                            _ => false,
                        };
                        (holds, format!("packets {}", l.packets))
                    }
                    None => (false, "the rule is not in nsbox's table".into()),
                },
                Err(e) => (false, format!("reading the counters: {e}")),
            };
            read_off(&c.text, &c.outcome, holds, detail)
        })
        .collect()
}

fn seen_words(address: IpAddr) -> String {
    format!("seen as {address}")
}

/// How long a `seen as` datagram may take to arrive.
const SEEN_WAIT: Duration = Duration::from_secs(1);

/// One datagram from `from` to the expectation's address, received by
/// nsbox in `at` (the node that has the address): whom it came from there.
fn seen_probe(from: &Prober, at: &Prober, expect: &Expect) -> Observed {
    let wait = expect.params.wait.unwrap_or(SEEN_WAIT);
    let (reachable, detail) = match nsbox_net::seen::seen_as(from.fd, at.fd, expect.to, expect.source, wait) {
        Ok(Ok(Some(address))) => (true, seen_words(address)),
        Ok(Ok(None)) => (
            false,
            format!("nothing arrived at {} within {} ms", at.name, wait.as_millis()),
        ),
        Ok(Err(e)) => (
            false,
            refused_by_route(e.raw_os_error(), from.name).unwrap_or_else(|| format!("local error: {e}")),
        ),
        Err(e) => (false, format!("local error: {e}")),
    };
    Observed {
        reachable,
        detail,
        echo: None,
    }
}

/// Probes `expect` from its node, among the lab's `probers` (a `seen as`
/// probe is received by another node).
pub fn probe_among(probers: &[Prober], expect: &Expect) -> Observed {
    match (&expect.outcome, expect.receiver) {
        (Outcome::SeenAs(_), Some(at)) => seen_probe(&probers[expect.from], &probers[at], expect),
        _ => probe(&probers[expect.from], probers, expect),
    }
}

/// One cell of a reachability matrix.
#[derive(Debug, Clone, Serialize)]
pub struct Cell {
    pub from: String,
    pub to: String,
    pub address: IpAddr,
    pub observed: Observed,
}

/// Who reaches whom: from every node to every other node's address (its
/// first on a link, else on `lo`), one echo each, a second to answer.
pub fn matrix(lab: &crate::model::Lab, nodes: &mut [NodeHandle]) -> Vec<Cell> {
    matrix_with(lab, nodes, Duration::from_secs(1), &|_, _| {})
}

/// [`matrix`], each probe waiting `wait` for its answer, as many at once as
/// [`window`] allows, telling `progress(done, total)` as probes end.
pub fn matrix_with(
    lab: &crate::model::Lab,
    nodes: &mut [NodeHandle],
    wait: Duration,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Vec<Cell> {
    let targets: Vec<(usize, IpAddr)> = (0..lab.nodes.len())
        .filter_map(|i| crate::load::node_address(lab, i).map(|a| (i, a)))
        .collect();
    let pairs: Vec<(usize, usize, IpAddr)> = (0..lab.nodes.len())
        .flat_map(|from| {
            targets
                .iter()
                .filter(move |(to, _)| *to != from)
                .map(move |(to, a)| (from, *to, *a))
        })
        .collect();
    let options = PingOptions {
        count: 1,
        wait,
        ..PingOptions::default()
    };
    let before = neigh_table::stats();
    let (probers, sockets) = split(nodes);
    let probe = |i: usize| {
        let (from, _, address) = pairs[i];
        match ping(Some(probers[from].fd), address, &options, |_| {}) {
            Ok(summary) => read(&summary, probers[from].name),
            Err(e) => Observed {
                reachable: false,
                detail: local_failure(&e, probers[from].name),
                echo: None,
            },
        }
    };
    let done = |finished: usize| {
        // Often enough for a person, seldom enough to cost nothing.
        if finished.is_multiple_of(64) || finished == pairs.len() {
            progress(finished, pairs.len());
        }
    };
    let observed = window::run(pairs.len(), window::width(), sockets, &probe, &done);
    let note = overflow_note(before, neigh_table::stats());
    pairs
        .iter()
        .zip(observed)
        .map(|(&(from, to, address), observed)| {
            let mut observed = observed.unwrap_or_else(panicked);
            note_overflow(&mut observed, note.as_deref());
            Cell {
                from: lab.nodes[from].name.clone(),
                to: lab.nodes[to].name.clone(),
                address,
                observed,
            }
        })
        .collect()
}

/// A ping that could not be sent, as people say it.
fn local_failure(e: &PingError, node: &str) -> String {
    match e {
        PingError::Local { source, .. } => {
            refused_by_route(source.raw_os_error(), node).unwrap_or_else(|| format!("local error: {e}"))
        }
        e => format!("local error: {e}"),
    }
}

/// Checks every expectation: those that draw no ICMP error in a
/// [`window`] of probes (failing probes wait their second side by side;
/// the lab's neighbours are flushed when the host's table fills up); those that
/// expect an error from a router one source at a time, as `pacer` allows
/// (see [`crate::pacing`]), alongside.
pub fn check_all(nodes: &mut [NodeHandle], expects: &[Expect], pacer: &Pacer) -> Vec<Check> {
    let before = neigh_table::stats();
    let (at_once, groups) = pacing::plan(expects);
    let (probers, sockets) = split(nodes);
    let probers = &probers;
    // Paced probes pass the window's gate too: the lab's neighbours are
    // never flushed under any probe in flight.
    let room = &window::Room::new(sockets);
    let observed: Vec<(usize, Observed)> = std::thread::scope(|scope| {
        let paced: Vec<_> = groups
            .iter()
            .map(|(source, group)| {
                let running = scope.spawn(move || {
                    pacer.run(
                        group,
                        *source,
                        |i| room.pass(|| probe_among(probers, &expects[i])),
                        |observed| observed.may_have_drawn_an_error(),
                        |observed| observed.detail == "no reply",
                    )
                });
                (group.clone(), running)
            })
            .collect();
        let probe = |k: usize| probe_among(probers, &expects[at_once[k]]);
        let answers = window::run_in(room, at_once.len(), window::width(), &probe, &|_| {});
        let mut found: Vec<(usize, Observed)> = Vec::with_capacity(expects.len());
        found.extend(
            at_once
                .iter()
                .zip(answers)
                .map(|(&i, o)| (i, o.unwrap_or_else(panicked))),
        );
        for (indexes, handle) in paced {
            let mut answers = handle.join().unwrap_or_default().into_iter();
            found.extend(
                indexes
                    .into_iter()
                    .map(|i| (i, answers.next().unwrap_or_else(panicked))),
            );
        }
        found
    });
    let mut by_index: Vec<Option<Observed>> = vec![None; expects.len()];
    for (i, o) in observed {
        by_index[i] = Some(o);
    }
    let observed = by_index.into_iter().map(|o| o.unwrap_or_else(panicked)).collect();
    judge(expects, observed, before, pacer)
}

/// Each expectation beside what its probe observed: whether it holds, and
/// for one that does not, what may explain it (the host's neighbour table
/// overflowed while probing, a router's rate limit).
fn judge(expects: &[Expect], observed: Vec<Observed>, before: Option<TableStats>, pacer: &Pacer) -> Vec<Check> {
    let note = overflow_note(before, neigh_table::stats());
    expects
        .iter()
        .zip(observed)
        .map(|(expect, mut observed)| {
            let differs = observed.echo.as_ref().and_then(|seen| seen.differs(&expect.facts));
            let holds = holds(&expect.outcome, &observed) && differs.is_none();
            if let Some(differs) = differs {
                observed.detail = format!("{} ({differs})", observed.detail);
            }
            if !holds {
                note_overflow(&mut observed, note.as_deref());
                if pacing::draws_an_error(expect) && observed.detail == "no reply" {
                    observed.detail = format!("no reply ({})", pacing::rate_limit_note(pacer.pace()));
                }
            }
            Check {
                via: Vec::new(),
                expect: expect.text.clone(),
                wanted: expect.outcome.clone(),
                facts: expect.facts,
                params: expect.params.clone(),
                holds,
                observed,
            }
        })
        .collect()
}

/// Checks every expectation: [`check_in_order`] when the lab or step
/// says `sequential`, else [`check_all`].
pub fn check(nodes: &mut [NodeHandle], expects: &[Expect], pacer: &Pacer, sequential: bool) -> Vec<Check> {
    if sequential {
        check_in_order(nodes, expects, pacer)
    } else {
        check_all(nodes, expects, pacer)
    }
}

/// Checks every expectation one at a time, in the order given (for labs
/// where one probe's traffic changes the next one's answer: conntrack
/// state, a neighbour cache, counters); those that expect a router's ICMP
/// error still wait for `pacer`'s tokens.
pub fn check_in_order(nodes: &[NodeHandle], expects: &[Expect], pacer: &Pacer) -> Vec<Check> {
    let before = neigh_table::stats();
    // The pacing source of each expectation that is paced.
    let mut source_of = vec![None; expects.len()];
    for (source, group) in pacing::plan(expects).1 {
        for i in group {
            source_of[i] = Some(source);
        }
    }
    let probers: Vec<Prober> = nodes.iter().map(Prober::from).collect();
    let observed: Vec<Observed> = (0..expects.len())
        .map(|i| {
            let probe_one = |i: usize| probe_among(&probers, &expects[i]);
            match source_of[i] {
                None => probe_one(i),
                Some(source) => pacer
                    .run(
                        &[i],
                        source,
                        probe_one,
                        |observed| observed.may_have_drawn_an_error(),
                        |observed| observed.detail == "no reply",
                    )
                    .pop()
                    .unwrap_or_else(panicked),
            }
        })
        .collect();
    judge(expects, observed, before, pacer)
}

fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

/// What stands for the answer of a probe whose thread panicked.
fn panicked() -> Observed {
    Observed {
        reachable: false,
        detail: "the probe panicked".into(),
        echo: None,
    }
}

/// Whether the host's neighbour table was found full between two looks.
pub fn table_overflowed(before: Option<TableStats>, after: Option<TableStats>) -> bool {
    matches!((before, after), (Some(b), Some(a)) if a.table_fulls > b.table_fulls)
}

/// What to add to a failed probe's detail when the host's neighbour table
/// overflowed between two looks (said once for every probe of a batch).
fn overflow_note(before: Option<TableStats>, after: Option<TableStats>) -> Option<String> {
    table_overflowed(before, after).then(|| neigh_table::overflow_note(neigh_table::limit()))
}

/// Adds the cause (`note`, when the table overflowed meanwhile) to what a
/// failed probe saw: "no reply" alone would hide it.
pub fn note_overflow(observed: &mut Observed, note: Option<&str>) {
    if let Some(note) = note.filter(|_| !observed.reachable) {
        observed.detail = format!("{} ({note})", observed.detail);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(events: Vec<Event>) -> Summary {
        Summary {
            destination: "2.2.2.2".parse().unwrap(),
            transmitted: 2,
            received: 0,
            errors: 0,
            refused: 0,
            time_ms: 0,
            events,
        }
    }

    fn error(text: &str, from: &str, redirect: bool) -> Event {
        Event::Error {
            seq: 1,
            from: from.parse().unwrap(),
            error: text.into(),
            redirect,
        }
    }

    #[test]
    fn what_came_back_is_read_as_people_say_it() {
        let reply = Event::Reply {
            seq: 1,
            from: "2.2.2.2".parse().unwrap(),
            bytes: 64,
            ttl: Some(63),
            rtt_ms: 0.1,
        };
        assert_eq!(read(&summary(vec![reply]), "a").detail, "reply from 2.2.2.2, ttl 63");
        let net = read(
            &summary(vec![error("Destination Net Unreachable", "10.0.1.1", false)]),
            "a",
        );
        assert_eq!(net.detail, "destination net unreachable from 10.0.1.1");
        let redirect = read(
            &summary(vec![error("Redirect Host(New nexthop: 10.0.2.2)", "10.0.2.1", true)]),
            "a",
        );
        assert_eq!(
            redirect.detail,
            "no reply (redirect host(new nexthop: 10.0.2.2) from 10.0.2.1)"
        );
        assert_eq!(read(&summary(vec![]), "a").detail, "no reply");
        let dropped = Summary {
            refused: 2,
            ..summary(vec![])
        };
        assert_eq!(
            read(&dropped, "a").detail,
            "no reply (the send was refused by an output rule of a)"
        );
        assert!(holds(
            &Outcome::Unreachable(Some("no reply".into())),
            &read(&dropped, "a")
        ));
    }

    #[test]
    fn reasons_match_by_their_words() {
        let observed = Observed {
            reachable: false,
            detail: "destination net unreachable from 10.0.1.1".into(),
            echo: None,
        };
        assert!(holds(&Outcome::Unreachable(None), &observed));
        assert!(holds(
            &Outcome::Unreachable(Some("Net Unreachable from 10.0.1.1".into())),
            &observed
        ));
        assert!(!holds(
            &Outcome::Unreachable(Some("host unreachable".into())),
            &observed
        ));
        assert!(!holds(&Outcome::Reachable, &observed));
        let refused = tcp_observed(Err(std::io::ErrorKind::ConnectionRefused.into()), "a");
        assert!(holds(&Outcome::Closed, &refused));
        assert!(!holds(&Outcome::Unreachable(None), &refused), "a refusal is an answer");
        assert!(!holds(&Outcome::Open, &refused));
        let silent = tcp_observed(Err(std::io::ErrorKind::TimedOut.into()), "a");
        assert!(holds(&Outcome::Unreachable(Some("no reply".into())), &silent));
        assert!(!holds(&Outcome::Closed, &silent));
        assert!(holds(&Outcome::Open, &tcp_observed(Ok(()), "a")));
    }

    #[test]
    fn a_failed_probe_names_the_full_neighbour_table() {
        let stats = |fulls| {
            Some(TableStats {
                entries: 1024,
                table_fulls: fulls,
            })
        };
        assert!(table_overflowed(stats(3), stats(5)));
        assert!(!table_overflowed(stats(3), stats(3)));
        assert!(!table_overflowed(None, stats(5)), "nothing to compare");
        let mut lost = Observed {
            reachable: false,
            detail: "no reply".into(),
            echo: None,
        };
        note_overflow(&mut lost, Some(&neigh_table::overflow_note(Some(1024))));
        assert!(
            lost.detail
                .starts_with("no reply (the host's neighbour table overflowed"),
            "{}",
            lost.detail
        );
        assert!(
            lost.detail.contains("net.ipv4.neigh.default.gc_thresh3"),
            "{}",
            lost.detail
        );
        let mut reached = Observed {
            reachable: true,
            detail: "reply from 10.0.0.1".into(),
            echo: None,
        };
        note_overflow(&mut reached, Some("the table overflowed"));
        assert_eq!(reached.detail, "reply from 10.0.0.1");
    }
}
