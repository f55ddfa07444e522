//! `lab explain NODE DEST`: the way an echo request takes, hop by hop, as
//! each node's kernel decides it (its own route lookup, RTM_GETROUTE), with
//! nsbox's filter and NAT rules and the forwarding switch of each node on
//! the way, stopping where it fails and saying why; then the way back.
//!
//! Here the walk itself; each thing it asks a node lives in a module of
//! its own: `fib` (the input lookup: reverse-path filtering, martians, a
//! neighbour's refused ARP; refused output lookups), `ruleset` (nsbox's
//! rules, NAT and its undoing, other nftables tables) and `sysctls`
//! (forwarding, the TTL a node sends with).

use crate::deploy::{self, LabError, NodeHandle};
use crate::model::{Lab, RouteKind};
use crate::model::{Port, Transport};
use nsbox_net::firewall::{Action, Hook, Listed, Proto, Rule};
use serde::Serialize;
use std::net::{IpAddr, SocketAddr};

mod fib;
mod ruleset;
mod sockets;
mod sysctls;
mod trace;

use fib::refused_here;

/// `tcp`, `udp`.
fn words(transport: Transport) -> &'static str {
    match transport {
        Transport::Tcp => "tcp",
        Transport::Udp => "udp",
    }
}

/// Linux's default TTL, where a node's cannot be read.
const DEFAULT_TTL: u32 = 64;

#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    /// One line per hop and decision, in order.
    pub steps: Vec<String>,
    /// Whether the request arrived, and whether the reply came back, as
    /// nsbox models it.
    pub arrived: bool,
    pub answered: bool,
    /// What is on the way that nsbox does not model (another nftables
    /// table than its own, say): the model may be wrong there.
    pub unmodeled: Vec<String>,
    /// For a TCP or UDP port: whether a socket took the request where it
    /// arrived (listening on the port, or bound to it). `None` for an echo,
    /// or where the request did not arrive.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listening: Option<bool>,
    /// The kernel's own answer: one real probe, sent as `lab check` sends
    /// it, when asked for (see [`explain`]).
    pub probe: Option<crate::probe::Observed>,
    /// What nftables did to that probe in the nodes whose tables the model
    /// does not follow, as nft's tracing reports it (see [`trace`]): `r:
    /// inet guard forward: policy drop (10.0.1.2 -> 10.0.2.2 icmp
    /// echo-request)`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub trace: Vec<String>,
    /// The nodes on the model's way whose tables it does not follow.
    #[serde(skip)]
    unmodeled_at: Vec<usize>,
    /// The nodes the request is at, in order, from its sender on.
    #[serde(skip)]
    pub request_path: Vec<usize>,
}

impl Explanation {
    /// Whether the request reaches a socket and its answer comes back:
    /// an echo that is answered, a port that is open.
    pub fn reachable(&self) -> bool {
        self.answered && self.listening.unwrap_or(true)
    }

    /// Whether the request reaches the host, which refuses it (a reset, a
    /// port unreachable) and the refusal comes back: a closed port.
    pub fn closed(&self) -> bool {
        self.answered && self.listening == Some(false)
    }

    /// Whether the model and the real probe say the same (true when no
    /// probe was sent): reachable (or open) both, closed both, or
    /// unreachable both.
    pub fn agrees(&self) -> bool {
        self.probe.as_ref().is_none_or(|p| {
            let closed = crate::probe::holds(&crate::model::Outcome::Closed, p);
            p.reachable == self.reachable() && closed == self.closed()
        })
    }
}

/// What `lab explain` is asked: from which node, to what address (and
/// port), from which source address, with which TTL, and whether to send
/// a real probe beside the model.
#[derive(Debug, Clone)]
pub struct Question {
    pub from: usize,
    pub to: IpAddr,
    pub port: Option<Port>,
    pub source: Option<IpAddr>,
    pub ttl: Option<u8>,
    pub probe: bool,
}

/// A packet on its way: where it is, where it came in, its addresses.
#[derive(Debug, Clone)]
struct Packet {
    at: usize,
    came_in: Option<String>,
    source: IpAddr,
    destination: IpAddr,
    ttl: u32,
    /// The echo reply: a packet of the request's connection, which NAT
    /// rules never see (the kernel consults them for a connection's first
    /// packet only; conntrack translates the rest, see `undo`).
    reply: bool,
    /// For a TCP or UDP probe, the service's port: the request's
    /// destination port, the reply's source port (the other side's is an
    /// ephemeral one, unknown here). `None` for an echo.
    port: Option<Port>,
}

/// NAT done on the way out, undone for the reply where it was done (what
/// conntrack does): (node, address before, address after, which side).
#[derive(Debug, Clone)]
struct Translation {
    node: usize,
    before: IpAddr,
    after: IpAddr,
    source_side: bool,
    /// The service's port before and after, where DNAT changed it.
    port: Option<(u16, u16)>,
}

struct Walk<'a> {
    lab: &'a Lab,
    nodes: &'a mut [NodeHandle],
    steps: Vec<String>,
    /// NAT done to the request.
    translations: Vec<Translation>,
    /// NAT still to undo on the reply's way.
    undo: Vec<Translation>,
    /// Each node's rules, listed once (each listing runs `nft`).
    rules: std::collections::BTreeMap<usize, Vec<Listed>>,
    /// Nodes whose other nftables tables were looked for already.
    looked_at: std::collections::BTreeSet<usize>,
    unmodeled: Vec<String>,
    /// The nodes `unmodeled` speaks of, in the order met.
    unmodeled_at: Vec<usize>,
    /// For a TCP or UDP probe, whether a socket took the request where it
    /// arrived (see `service`).
    listening: Option<bool>,
    /// The nodes the request has been at, in order.
    request_path: Vec<usize>,
}

fn owner(lab: &Lab, address: IpAddr) -> Option<(usize, String)> {
    (0..lab.nodes.len()).find_map(|n| {
        lab.interfaces(n)
            .into_iter()
            .find(|(_, addrs)| addrs.iter().any(|a| a.addr() == address))
            .map(|(iface, _)| (n, iface.to_string()))
    })
}
impl Walk<'_> {
    /// The explanation of a walk that ended: its steps and notes, and
    /// whether the request arrived and the reply came back.
    fn finish(self, arrived: bool, answered: bool) -> Explanation {
        Explanation {
            steps: self.steps,
            arrived,
            answered,
            unmodeled: self.unmodeled,
            listening: self.listening,
            probe: None,
            trace: Vec::new(),
            unmodeled_at: self.unmodeled_at,
            request_path: self.request_path,
        }
    }

    fn name(&self, node: usize) -> &str {
        &self.lab.nodes[node].name
    }

    fn say(&mut self, text: String) {
        self.steps.push(text);
    }
    /// Walks `p` until it arrives (`Ok(Some(node))`) or stops (`Ok(None)`).
    fn walk(&mut self, mut p: Packet) -> Result<Option<usize>, LabError> {
        let origin = p.at;
        // Nodes the packet has been at: one it comes back to is a loop.
        let mut seen = std::collections::BTreeSet::new();
        let mut looped = false;
        loop {
            looped |= !seen.insert(p.at);
            if !p.reply {
                self.request_path.push(p.at);
            }
            self.note_other_tables(p.at);
            // The input lookup sees the source the packet came with: a
            // reply's source is turned back (DNAT undone) only on its way
            // out of this node, its destination (SNAT undone) before.
            let came_from = p.source;
            self.undo_nat(&mut p);
            // DNAT where the packet comes in.
            if p.came_in.is_some() && !p.reply {
                let hit = self.first_match(p.at, Hook::Prerouting, &p, None)?;
                if let Some(Action::Dnat { to }) = hit.as_ref().and_then(|l| l.rule.as_ref()).map(|r| r.action.clone())
                {
                    let new_port = p.port.zip(to.ports).map(|(port, ports)| (port.number, ports.first));
                    let shown = |address: IpAddr, port: Option<u16>| match port {
                        Some(port) => SocketAddr::new(address, port).to_string(),
                        None => address.to_string(),
                    };
                    self.say(format!(
                        "{}: destination {} rewritten to {} (DNAT)",
                        self.name(p.at),
                        shown(p.destination, new_port.map(|(before, _)| before)),
                        shown(to.addr, new_port.map(|(_, after)| after)),
                    ));
                    self.translations.push(Translation {
                        node: p.at,
                        before: p.destination,
                        after: to.addr,
                        source_side: false,
                        port: new_port,
                    });
                    p.destination = to.addr;
                    if let (Some(port), Some((_, after))) = (p.port.as_mut(), new_port) {
                        port.number = after;
                    }
                }
            }
            let as_it_came = Packet {
                source: came_from,
                ..p.clone()
            };
            if let Some(dropped) = self.reverse_path(&as_it_came)? {
                self.say(dropped);
                return Ok(None);
            }
            if let Some((node, iface)) = owner(self.lab, p.destination).filter(|(n, _)| *n == p.at) {
                if p.came_in.is_some() {
                    if let Some(dropped) = self.filter(&p, Hook::Input, None)? {
                        self.say(dropped);
                        return Ok(None);
                    }
                }
                self.say(format!(
                    "{}: {} is its own address (on {iface}): arrived",
                    self.name(node),
                    p.destination
                ));
                if let Some(port) = p.port.filter(|_| !p.reply) {
                    self.listening = Some(self.service(node, port));
                }
                return Ok(Some(node));
            }
            if p.at != origin {
                if !self.forwarding(p.at, p.destination.is_ipv6())? {
                    self.say(format!(
                        "{}: does not forward (its forwarding switch is off): dropped",
                        self.name(p.at)
                    ));
                    return Ok(None);
                }
                // A router forwards only what still has a hop to go: one
                // that arrives with TTL 1 gets "time exceeded" instead.
                if p.ttl <= 1 {
                    self.say(format!(
                        "{}: the TTL runs out here (time exceeded, sent back to {}){}",
                        self.name(p.at),
                        p.source,
                        if looped { ": a routing loop" } else { "" }
                    ));
                    return Ok(None);
                }
                p.ttl -= 1;
            }
            let route = match self.nodes[p.at].nl.route_get(p.destination) {
                Ok(route) => route,
                Err(e) => {
                    let refused = refused_here(&e, p.at == origin, p.destination);
                    self.say(format!("{}: {refused}", self.name(p.at)));
                    return Ok(None);
                }
            };
            if route.kind != "unicast" {
                self.say(format!(
                    "{}: the route to {} is {}",
                    self.name(p.at),
                    p.destination,
                    route.kind
                ));
                return Ok(None);
            }
            let links = self.nodes[p.at].nl.links().unwrap_or_default();
            let out = route
                .oif
                .and_then(|i| links.iter().find(|l| l.index == i))
                .map(|l| l.name.clone());
            let hop = route.gateway.unwrap_or(p.destination);
            let via = match route.gateway {
                Some(gw) => format!("via {gw}"),
                None => "on-link".to_string(),
            };
            self.say(format!(
                "{}: route to {} {via} dev {}",
                self.name(p.at),
                p.destination,
                out.as_deref().unwrap_or("?")
            ));
            let hook = if p.at == origin { Hook::Output } else { Hook::Forward };
            if let Some(dropped) = self.filter(&p, hook, out.as_deref())? {
                self.say(dropped);
                return Ok(None);
            }
            // SNAT where the packet goes out.
            let hit = if p.reply {
                None
            } else {
                self.first_match(p.at, Hook::Postrouting, &p, out.as_deref())?
            };
            if let Some(action) = hit.as_ref().and_then(|l| l.rule.as_ref()).map(|r| r.action.clone()) {
                let new_source = match action {
                    Action::Snat { to } => Some(to.addr),
                    Action::Masquerade { .. } => route.prefsrc,
                    _ => None,
                };
                if let Some(new_source) = new_source {
                    self.say(format!(
                        "{}: source {} rewritten to {new_source} (SNAT)",
                        self.name(p.at),
                        p.source
                    ));
                    self.translations.push(Translation {
                        node: p.at,
                        before: p.source,
                        after: new_source,
                        source_side: true,
                        port: None,
                    });
                    p.source = new_source;
                }
            }
            // The kernel's own word on the next hop: an entry that failed to
            // resolve means nobody answers ARP (or neighbour discovery) for
            // it, whoever has the address (a host with arp_ignore, say).
            let neighbours = self.nodes[p.at].nl.neighbours().unwrap_or_default();
            let entry = neighbours
                .iter()
                .find(|n| n.address == hop && route.oif.is_none_or(|i| i == n.index));
            if let Some(entry) = entry.filter(|n| n.state == "FAILED" || n.state == "INCOMPLETE") {
                let why = self.arp_refused(hop, &p).unwrap_or_default();
                self.say(format!(
                    "{}: the neighbour {hop} does not answer ({}){why}: the packet goes nowhere",
                    self.name(p.at),
                    entry.state
                ));
                return Ok(None);
            }
            let Some((next, iface)) = owner(self.lab, hop) else {
                self.say(format!(
                    "{}: no node of the lab has {hop}: its neighbour entry never resolves, the packet goes nowhere",
                    self.name(p.at)
                ));
                return Ok(None);
            };
            if next == p.at {
                self.say(format!("{}: the next hop {hop} is its own address", self.name(p.at)));
                return Ok(None);
            }
            p = Packet {
                at: next,
                came_in: Some(iface),
                ..p
            };
        }
    }
}

/// Explains an echo from node `from` to `to` (from `source`, else the
/// address the kernel picks; with `ttl`, else the node's default TTL) and
/// its reply (with the replier's default TTL), as nsbox models them; with
/// `probe`, then sends one real echo the same way, so that the kernel's
/// answer stands beside the model's (see [`Explanation::agrees`]).
pub fn explain(lab: &Lab, nodes: &mut [NodeHandle], question: &Question) -> Result<Explanation, LabError> {
    let mut explanation = model(lab, nodes, question)?;
    if question.probe {
        let Question {
            from,
            to,
            port,
            source,
            ttl,
            ..
        } = *question;
        // One attempt, as the model has it: a refused port is not retried.
        let expect = crate::model::Expect {
            text: String::new(),
            from,
            source,
            to,
            port,
            outcome: crate::model::Outcome::Reachable,
            params: crate::model::ProbeParams {
                ttl,
                ..Default::default()
            },
            facts: Default::default(),
            receiver: None,
            via: Vec::new(),
        };
        let send = |nodes: &mut [NodeHandle]| {
            let node = (&nodes[from]).into();
            crate::probe::probe(&node, std::slice::from_ref(&node), &expect)
        };
        explanation.probe = Some(if explanation.unmodeled.is_empty() {
            send(nodes)
        } else {
            // Tables the model does not follow are on the way: the kernel
            // reports what they did to the probe.
            let (observed, trace) = trace::watching(lab, nodes, &explanation.unmodeled_at, send);
            explanation.trace = trace;
            observed
        });
    }
    Ok(explanation)
}

fn model(lab: &Lab, nodes: &mut [NodeHandle], question: &Question) -> Result<Explanation, LabError> {
    let Question {
        from,
        to,
        port,
        source,
        ttl,
        ..
    } = *question;
    let lookup = nodes[from].nl.route_get(to);
    let source = source.or_else(|| lookup.as_ref().ok().and_then(|r| r.prefsrc));
    let mut walk = Walk {
        lab,
        nodes,
        steps: Vec::new(),
        translations: Vec::new(),
        undo: Vec::new(),
        rules: Default::default(),
        looked_at: Default::default(),
        unmodeled: Vec::new(),
        unmodeled_at: Vec::new(),
        listening: None,
        request_path: Vec::new(),
    };
    let Some(source) = source else {
        let why = match &lookup {
            Err(e) => refused_here(e, true, to),
            Ok(_) => format!("no source address for {to}: nothing is sent"),
        };
        let name = walk.name(from).to_string();
        walk.say(format!("{name}: {why}"));
        return Ok(walk.finish(false, false));
    };
    let what = |port: Option<Port>, reply: bool| match (port, reply) {
        (None, false) => "echo request".to_string(),
        (None, true) => "echo reply".to_string(),
        (Some(p), false) => format!("{} request to port {}", words(p.transport), p.number),
        (Some(p), true) => format!("{} answer from port {}", words(p.transport), p.number),
    };
    walk.say(format!("{} {source} -> {to}", what(port, false)));
    let request = Packet {
        at: from,
        came_in: None,
        source,
        destination: to,
        ttl: match ttl {
            Some(ttl) => u32::from(ttl),
            None => walk.initial_ttl(from, to)?,
        },
        reply: false,
        port,
    };
    let Some(replier) = walk.walk(request)? else {
        walk.steps.extend(full_table_note());
        return Ok(walk.finish(false, false));
    };
    // The reply goes from where the request arrived (its address after
    // DNAT) to the request's source there (after SNAT).
    let last = |source_side: bool, otherwise: IpAddr| {
        walk.translations
            .iter()
            .rev()
            .find(|t| t.source_side == source_side)
            .map_or(otherwise, |t| t.after)
    };
    let (reply_from, reply_to) = (last(false, to), last(true, source));
    walk.undo = std::mem::take(&mut walk.translations);
    // The answer's port: the service's, after DNAT where it changed it.
    let service_port = port.map(|p| Port {
        number: walk
            .undo
            .iter()
            .rev()
            .find_map(|t| t.port.map(|(_, after)| after))
            .unwrap_or(p.number),
        ..p
    });
    walk.say(format!("{} {reply_from} -> {reply_to}", what(service_port, true)));
    let reply = Packet {
        at: replier,
        came_in: None,
        source: reply_from,
        destination: reply_to,
        ttl: walk.initial_ttl(replier, reply_to)?,
        reply: true,
        port: service_port,
    };
    let back = walk.walk(reply)?;
    let answered = back == Some(from);
    if !answered {
        walk.steps.extend(full_table_note());
    }
    Ok(walk.finish(true, answered))
}

/// The routes may be right and a packet still lost: when the host's
/// neighbour table (one for every namespace) is full, a next hop that is
/// not resolved yet cannot be. Said when it is full now.
fn full_table_note() -> Option<String> {
    use nsbox_net::neigh_table;
    let (stats, limit) = (neigh_table::stats()?, neigh_table::limit()?);
    (stats.entries >= limit).then(|| {
        format!(
            "note: the host's neighbour table is full ({} entries, capped at {limit} by {}): a neighbour not resolved yet cannot be, whatever the routes say",
            stats.entries,
            neigh_table::LIMIT_SYSCTL
        )
    })
}
