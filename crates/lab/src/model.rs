//! A lab as nsbox runs it: checked, resolved, and free of positions.

use ipnet::IpNet;
use nsbox_net::firewall::Rule;
pub use nsbox_net::route::RouteKind;
use serde::Serialize;
use std::net::IpAddr;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Lab {
    pub name: String,
    pub nodes: Vec<Node>,
    pub links: Vec<Link>,
    /// Shared segments, each a bridge in the lab's switch namespace.
    pub bridges: Vec<Bridge>,
    pub expect: Vec<Expect>,
    /// Rule counters checked after the lab's expectations.
    pub counted: Vec<Counted>,
    /// Routes looked for in nodes' tables after `up`.
    pub route_checks: Vec<RouteCheck>,
    /// How long the expectations may take to hold after `up` and after
    /// each step (routing daemons converging): they are checked again
    /// until they all hold or the time is up.
    pub converge: Option<std::time::Duration>,
    /// The lab's expectations probed one at a time, in order.
    pub sequential: bool,
    pub steps: Vec<Step>,
    /// What the nodes' namespace names start with, when not the lab's
    /// name: a containerlab file's `clab-LAB` (its nodes are
    /// `clab-LAB-NODE` there too).
    pub netns_prefix: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Node {
    pub name: String,
    /// Addresses on `lo`.
    pub lo: Vec<IpNet>,
    /// Sysctls in the order written (forwarding first when asked).
    pub sysctls: Vec<(String, String)>,
    pub routes: Vec<Route>,
    /// NAT and filter rules, in the order written.
    pub rules: Vec<Rule>,
    /// The node's own nftables ruleset, loaded before nsbox's rules.
    pub nftables: Option<crate::nft_block::NftBlock>,
    /// Commands started once the lab is up, running until `down` (a
    /// container node's comes first).
    pub run: Vec<String>,
    /// The hostname of the node's container, if it is one.
    pub container: Option<String>,
    /// The container's root filesystem (None: a read-only view of the host's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_rootfs: Option<std::path::PathBuf>,
    /// Host paths bound into the node's container.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub container_binds: Vec<Bind>,
    /// The routing daemons the node's container runs (it is then a
    /// container node of the host view, its command nsbox's start script).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub router: Option<Router>,
}

/// A host path bound into a container node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Bind {
    pub source: std::path::PathBuf,
    pub destination: std::path::PathBuf,
    pub readonly: bool,
}

/// A node's routing daemons and their configuration.
#[derive(Debug, Clone, Serialize)]
pub struct Router {
    pub suite: RoutingSuite,
    /// FRR's protocol daemons (zebra and staticd always run); none for BIRD.
    pub daemons: Vec<String>,
    /// The configuration's text (frr.conf or bird.conf).
    pub config: String,
    /// Where the node's `frr:` or `bird:` is in the lab file (line, column),
    /// for errors the daemons report at `up`.
    #[serde(skip)]
    pub at: (u64, u64),
    /// Where an inline configuration's line 1, column 1 is in the lab file
    /// (None: it was read from a file of its own).
    #[serde(skip)]
    pub config_at: Option<(u64, u64)>,
}

/// Two routers are the same when they run the same: where the lab file
/// says so does not matter (to `apply`'s plan).
impl PartialEq for Router {
    fn eq(&self, other: &Self) -> bool {
        (self.suite, &self.daemons, &self.config) == (other.suite, &other.daemons, &other.config)
    }
}

impl Eq for Router {}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RoutingSuite {
    Frr,
    Bird,
}

/// A veth pair between two node interfaces.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Link {
    pub ends: [End; 2],
    pub mtu: Option<u32>,
    pub impairments: Impairments,
}

/// What a link or bridge does to traffic.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Impairments {
    /// Bits per second each end may send.
    pub rate: Option<u64>,
    /// As written (`20ms`, `1%`): netem's, refused where netem is missing.
    pub delay: Option<String>,
    pub loss: Option<String>,
}

impl Impairments {
    /// Whether these take netem (delay or loss), not only tbf (rate).
    pub fn need_netem(&self) -> bool {
        self.delay.is_some() || self.loss.is_some()
    }
}

/// A shared segment: a bridge that many node interfaces plug into.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bridge {
    pub name: String,
    pub ports: Vec<End>,
    pub mtu: Option<u32>,
    pub impairments: Impairments,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct End {
    /// Index into [`Lab::nodes`].
    pub node: usize,
    pub iface: String,
    pub addresses: Vec<IpNet>,
}

/// A static route: `DEST [via GW] [dev IFACE] [metric N]`, or one that
/// refuses what it matches: `blackhole|prohibit|unreachable|throw DEST
/// [metric N]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Route {
    pub kind: RouteKind,
    pub destination: IpNet,
    pub via: Option<IpAddr>,
    pub dev: Option<String>,
    pub metric: Option<u32>,
}

impl std::fmt::Display for Route {
    /// As a lab file (and `ip route`) writes it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.kind != RouteKind::Unicast {
            write!(f, "{} ", self.kind)?;
        }
        // `default` is IPv4's unless a gateway gives it its family.
        if self.destination.prefix_len() == 0 && (self.destination.addr().is_ipv4() || self.via.is_some()) {
            f.write_str("default")?;
        } else {
            write!(f, "{}", self.destination)?;
        }
        if let Some(via) = self.via {
            write!(f, " via {via}")?;
        }
        if let Some(dev) = &self.dev {
            write!(f, " dev {dev}")?;
        }
        if let Some(metric) = self.metric {
            write!(f, " metric {metric}")?;
        }
        Ok(())
    }
}

/// What a probe must find.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase", tag = "outcome", content = "reason")]
pub enum Outcome {
    Reachable,
    /// A TCP connection is accepted; a UDP datagram is answered.
    Open,
    /// A TCP connection is refused (the host answered with a reset); a UDP
    /// datagram draws an ICMP port unreachable.
    Closed,
    /// Unreachable, optionally for a given reason (words that the observed
    /// reason must contain: "network unreachable", "net unreachable",
    /// "host unreachable", "no reply", "ttl exceeded").
    Unreachable(Option<String>),
    /// The datagram arrives, and the receiver sees it come from this
    /// address (after every SNAT on the way).
    #[serde(rename = "seen_as")]
    SeenAs(IpAddr),
    /// A rule's packet counter, read once the section's probes are done:
    /// this many packets, or (`at_least`) this many or more.
    Packets {
        count: u64,
        at_least: bool,
    },
    /// A route in a node's main table, as the kernel has it: present, and
    /// with these of its properties where given (`via` may be any of a
    /// multipath route's gateways; `proto` as iproute2 names it: ospf,
    /// bgp, bird, static, kernel, boot...).
    Route {
        via: Option<IpAddr>,
        dev: Option<String>,
        proto: Option<String>,
    },
    /// No route to exactly this prefix in the node's main table.
    RouteAbsent,
    /// TCP throughput to the destination, measured with iperf3: at least
    /// (or at most) this many bits per second.
    Throughput {
        bits_per_second: u64,
        at_least: bool,
    },
}

/// A rate as tc and the lab file write it: `80mbit`, `1.5gbit`, `512kbit`.
pub fn format_rate(bits_per_second: u64) -> String {
    for (unit, scale) in [("gbit", 1_000_000_000u64), ("mbit", 1_000_000), ("kbit", 1_000)] {
        if bits_per_second >= scale {
            let value = bits_per_second as f64 / scale as f64;
            return if value.fract() == 0.0 {
                format!("{value}{unit}")
            } else {
                format!("{value:.1}{unit}")
            };
        }
    }
    format!("{bits_per_second}bit")
}

/// A route a section looks for in a node's table: `r1 route 10.0.3.0/24:
/// via 10.0.1.2 proto ospf`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RouteCheck {
    /// The key as written, to name it in reports.
    pub text: String,
    pub node: usize,
    pub prefix: IpNet,
    /// [`Outcome::Route`] or [`Outcome::RouteAbsent`].
    pub outcome: Outcome,
}

/// A rule of a node whose counter a section checks: `router nat "snat -s
/// 10.0.1.0/24 --to-source 10.0.2.1": packets 3`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Counted {
    /// The key as written, to name it in reports.
    pub text: String,
    pub node: usize,
    pub rule: Rule,
    /// Always [`Outcome::Packets`].
    pub outcome: Outcome,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Tcp,
    Udp,
}

/// `tcp/80`, `udp/53`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Port {
    pub transport: Transport,
    pub number: u16,
}

/// `server -> 2.2.2.2: reachable`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Expect {
    /// The line as written, to name the expectation in reports.
    pub text: String,
    pub from: usize,
    /// The source address (`server from 1.1.1.1 -> ...`).
    pub source: Option<IpAddr>,
    pub to: IpAddr,
    /// A port: the probe is a TCP connection or a UDP datagram instead of
    /// an echo.
    pub port: Option<Port>,
    pub outcome: Outcome,
    /// How to probe, where the file says (else the probe's defaults).
    pub params: ProbeParams,
    /// What the echoes must have seen beside the outcome.
    pub facts: EchoFacts,
    /// The node that owns the destination address: where nsbox listens
    /// for a `seen as` probe.
    pub receiver: Option<usize>,
    /// Nodes the request must pass through (`reachable (via r3)`), on the
    /// way the nodes' kernels route it now (see `explain`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub via: Vec<usize>,
}

impl std::fmt::Display for ProbeParams {
    /// ` (count 5, ttl 3)` as the file writes it, or nothing.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let seconds = |d: std::time::Duration| match d.as_millis() {
            ms if ms % 1000 == 0 => format!("{}s", ms / 1000),
            ms => format!("{ms}ms"),
        };
        let given: Vec<String> = [
            self.count.map(|n| format!("count {n}")),
            self.interval.map(|d| format!("interval {}", seconds(d))),
            self.wait.map(|d| format!("wait {}", seconds(d))),
            self.ttl.map(|n| format!("ttl {n}")),
            self.time.map(|d| format!("time {}", seconds(d))),
        ]
        .into_iter()
        .flatten()
        .collect();
        if given.is_empty() {
            return Ok(());
        }
        write!(f, " ({})", given.join(", "))
    }
}

/// Probe parameters an expectation may give: `(count 5, interval 200ms,
/// wait 2s, ttl 3)`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ProbeParams {
    /// Echoes sent, all of them (without it, echoes stop at the first
    /// answer).
    pub count: Option<u32>,
    pub interval: Option<std::time::Duration>,
    /// How long to wait for answers (a TCP connection, a UDP answer).
    pub wait: Option<std::time::Duration>,
    /// The requests' TTL (hop limit).
    pub ttl: Option<u8>,
    /// How long a throughput measurement runs.
    pub time: Option<std::time::Duration>,
}

/// What an echo probe must have seen beside its outcome, as iputils
/// `ping` would have reported it: `reachable, reply ttl 62`,
/// `unreachable (host unreachable), errors 3, exit 1 (count 3)`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct EchoFacts {
    /// Every reply's TTL (hop limit).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_ttl: Option<u8>,
    /// How many ICMP errors came back (redirects aside, as iputils counts).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<u32>,
    /// The exit status iputils `ping` gives for the same run: 0 when a
    /// reply came, 1 when none did, 2 when nothing could be sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit: Option<i32>,
}

impl EchoFacts {
    pub fn any(&self) -> bool {
        *self != EchoFacts::default()
    }
}

impl std::fmt::Display for EchoFacts {
    /// `, reply ttl 62, errors 3, exit 1` as the file writes them, or
    /// nothing.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(ttl) = self.reply_ttl {
            write!(f, ", reply ttl {ttl}")?;
        }
        if let Some(n) = self.errors {
            write!(f, ", errors {n}")?;
        }
        if let Some(n) = self.exit {
            write!(f, ", exit {n}")?;
        }
        Ok(())
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Reachable => f.write_str("reachable"),
            Outcome::Open => f.write_str("open"),
            Outcome::Closed => f.write_str("closed"),
            Outcome::Unreachable(None) => f.write_str("unreachable"),
            Outcome::Unreachable(Some(reason)) => write!(f, "unreachable ({reason})"),
            Outcome::SeenAs(address) => write!(f, "seen as {address}"),
            Outcome::Packets { count, at_least: false } => write!(f, "packets {count}"),
            Outcome::Packets { count, at_least: true } => write!(f, "packets >= {count}"),
            Outcome::Route { via, dev, proto } => {
                let words: Vec<String> = [
                    via.map(|v| format!("via {v}")),
                    dev.as_ref().map(|d| format!("dev {d}")),
                    proto.as_ref().map(|p| format!("proto {p}")),
                ]
                .into_iter()
                .flatten()
                .collect();
                if words.is_empty() {
                    f.write_str("present")
                } else {
                    f.write_str(&words.join(" "))
                }
            }
            Outcome::RouteAbsent => f.write_str("absent"),
            Outcome::Throughput {
                bits_per_second,
                at_least,
            } => write!(
                f,
                "throughput {} {}",
                if *at_least { ">=" } else { "<=" },
                format_rate(*bits_per_second)
            ),
        }
    }
}

/// Changes made to one node by a step.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Change {
    /// Addresses given to or taken from the node's interfaces: (interface,
    /// address). Added before the change's routes (which may go through
    /// them), removed after.
    pub addresses: Vec<(String, IpNet)>,
    pub routes: Vec<Route>,
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    pub name: String,
    /// Removals come first, then additions, then sysctls.
    pub remove: Vec<(usize, Change)>,
    pub add: Vec<(usize, Change)>,
    pub sysctls: Vec<(usize, Vec<(String, String)>)>,
    pub flush_neighbours: Vec<usize>,
    /// Links taken away (by one end: node, interface), after the removals.
    pub disconnect: Vec<(usize, String)>,
    /// Links made, after the links taken away and before the additions
    /// (whose addresses and routes may be on them).
    pub connect: Vec<Link>,
    /// Pairs of nodes cut apart, then pairs joined again.
    pub partition: Vec<(usize, usize)>,
    pub heal: Vec<(usize, usize)>,
    /// Interfaces set down or up, in the file's order.
    pub links: Vec<LinkState>,
    /// Commands run in nodes, in order, after the other changes.
    pub exec: Vec<StepCommand>,
    /// A pause after the changes, before the expectations.
    pub wait: Option<std::time::Duration>,
    /// Its expectations probed one at a time, in order.
    pub sequential: bool,
    pub expect: Vec<Expect>,
    /// Rule counters checked after its expectations.
    pub counted: Vec<Counted>,
    /// Routes looked for in nodes' tables after its changes.
    pub route_checks: Vec<RouteCheck>,
    /// How long its expectations may take to hold (else the lab's).
    pub converge: Option<std::time::Duration>,
    /// Interfaces (node, interface) captured for the step's duration.
    pub capture: Vec<(usize, String)>,
}

/// An interface a step sets down or up. Up brings it back as the lab has
/// it: the node's routes through it (at that step) are added again, as
/// the kernel deleted them when it went down.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LinkState {
    pub node: usize,
    pub iface: String,
    pub up: bool,
    pub routes: Vec<Route>,
}

/// A command a step runs in a node (`sh -c`), and the exit status it must
/// end with.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepCommand {
    pub node: usize,
    pub command: String,
    pub status: i32,
}

impl Lab {
    /// The network namespace of a node, also its `ip netns` name.
    pub fn netns(&self, node: usize) -> String {
        self.netns_of(&self.nodes[node].name)
    }

    /// The network namespace of the node named `node`.
    pub fn netns_of(&self, node: &str) -> String {
        netns_name(self.netns_prefix.as_deref().unwrap_or(&self.name), node)
    }

    /// Every interface of a node with its addresses (lo first).
    pub fn interfaces(&self, node: usize) -> Vec<(&str, Vec<IpNet>)> {
        let mut out = vec![("lo", self.nodes[node].lo.clone())];
        for end in self.ends().filter(|e| e.node == node) {
            out.push((end.iface.as_str(), end.addresses.clone()));
        }
        out
    }

    /// Every node interface on a link or a bridge: the links' ends first,
    /// then the bridges' ports, in the order written.
    pub fn ends(&self) -> impl Iterator<Item = &End> {
        let links = self.links.iter().flat_map(|l| l.ends.iter());
        links.chain(self.bridges.iter().flat_map(|b| b.ports.iter()))
    }

    pub fn ends_mut(&mut self) -> impl Iterator<Item = &mut End> {
        let links = self.links.iter_mut().flat_map(|l| l.ends.iter_mut());
        links.chain(self.bridges.iter_mut().flat_map(|b| b.ports.iter_mut()))
    }

    /// The namespace holding the lab's bridges, if it has any. Node names
    /// cannot start with '-', so it never clashes with a node's.
    pub fn switch_netns(&self) -> Option<String> {
        (!self.bridges.is_empty()).then(|| format!("{}--bridges", self.name))
    }

    /// Every namespace of the lab: the nodes', then the switch's.
    pub fn namespaces(&self) -> Vec<String> {
        let nodes = (0..self.nodes.len()).map(|i| self.netns(i));
        nodes.chain(self.switch_netns()).collect()
    }
}

/// `LAB-NODE`: the name under /run/netns. A lab's name has no '-' (see
/// [`check_lab_name`]), so the first '-' ends it and no two labs' nodes can
/// ever have the same namespace name (lab `a` with node `b-c` is `a-b-c`;
/// lab `a-b` cannot exist).
pub fn netns_name(lab: &str, node: &str) -> String {
    format!("{lab}-{node}")
}

/// The prefix every namespace of lab `lab` has, and no other lab's has.
pub fn netns_prefix(lab: &str) -> String {
    format!("{lab}-")
}

/// Longest lab name.
pub const MAX_LAB_NAME: usize = 32;

/// The rule for a lab's name, which every command and the state store
/// apply: 1 to 32 letters, digits, '_' or '.', not starting with '.'. No
/// '/' (it becomes a file name under /run/nsbox/labs) and no '-' (it
/// separates the lab from its nodes in `LAB-NODE`).
pub fn check_lab_name(name: &str) -> Result<(), String> {
    let plain = !name.is_empty()
        && name.len() <= MAX_LAB_NAME
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'.')
        && !name.starts_with('.');
    if plain {
        Ok(())
    } else {
        Err(format!(
            "invalid lab name {:?}: use 1 to {MAX_LAB_NAME} letters, digits, '_' or '.' (no '-': it separates the lab from its nodes in LAB-NODE)",
            crate::model::cut_for_display(name)
        ))
    }
}

/// A user's text cut to a length fit for a message.
pub fn cut_for_display(text: &str) -> String {
    const MAX: usize = 64;
    match text.char_indices().nth(MAX) {
        Some((at, _)) => format!("{}...", &text[..at]),
        None => text.to_string(),
    }
}

impl Lab {
    /// The most entries the lab can add to the host's neighbour tables
    /// (IPv4, IPv6), which every namespace shares: each end of a link may
    /// learn the other, each port of a bridge every other port.
    pub fn neighbour_demand(&self) -> (u64, u64) {
        let speaks = |end: &End, v4: bool| end.addresses.iter().any(|a| a.addr().is_ipv4() == v4);
        let family = |v4: bool| -> u64 {
            let links = self
                .links
                .iter()
                .filter(|l| l.ends.iter().all(|e| speaks(e, v4)))
                .count() as u64
                * 2;
            let bridges: u64 = self
                .bridges
                .iter()
                .map(|b| b.ports.iter().filter(|p| speaks(p, v4)).count() as u64)
                .map(|k| k * k.saturating_sub(1))
                .sum();
            links + bridges
        };
        (family(true), family(false))
    }

    /// The filter rules that cut `a` and `b` apart: each node drops what
    /// comes in from any address of the other (links, bridges and `lo`).
    /// Packets still leave, as in a real partition: a ping gets no reply, a
    /// TCP connect times out. Healing deletes exactly these rules.
    pub fn partition_rules(&self, a: usize, b: usize) -> Vec<(usize, Rule)> {
        use nsbox_net::firewall::{Action, Hook, Match};
        let mut out = Vec::new();
        for (me, other) in [(a, b), (b, a)] {
            for (_, addresses) in self.interfaces(other) {
                for address in addresses {
                    let host = IpNet::from(address.addr());
                    let rule = Rule {
                        hook: Hook::Input,
                        matches: Match {
                            source: Some(host),
                            ..Match::default()
                        },
                        action: Action::Drop,
                    };
                    out.push((me, rule));
                }
            }
        }
        out
    }
}
