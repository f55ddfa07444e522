//! `lab explain NODE DEST`: the way an echo request takes, hop by hop, as
//! each node's kernel decides it (its own route lookup, RTM_GETROUTE), with
//! nsbox's filter and NAT rules and the forwarding switch of each node on
//! the way, stopping where it fails and saying why; then the way back.

use crate::deploy::{self, LabError, NodeHandle};
use crate::model::{Lab, RouteKind};
use nsbox_net::firewall::{Action, Hook, Listed, Proto, Rule};
use serde::Serialize;
use std::net::IpAddr;

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
    /// The kernel's own answer: one real echo, sent as `lab check` sends
    /// it, when asked for (see [`explain`]).
    pub probe: Option<crate::probe::Observed>,
}

impl Explanation {
    /// Whether the model and the real probe say the same (true when no
    /// probe was sent).
    pub fn agrees(&self) -> bool {
        self.probe.as_ref().is_none_or(|p| p.reachable == self.answered)
    }
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
}

/// NAT done on the way out, undone for the reply where it was done (what
/// conntrack does): (node, address before, address after, which side).
#[derive(Debug, Clone)]
struct Translation {
    node: usize,
    before: IpAddr,
    after: IpAddr,
    source_side: bool,
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
}

fn owner(lab: &Lab, address: IpAddr) -> Option<(usize, String)> {
    (0..lab.nodes.len()).find_map(|n| {
        lab.interfaces(n)
            .into_iter()
            .find(|(_, addrs)| addrs.iter().any(|a| a.addr() == address))
            .map(|(iface, _)| (n, iface.to_string()))
    })
}

/// Whether an ICMP echo from `source` to `destination` (in on `came_in`,
/// out on `out`) matches `rule`.
fn matches(rule: &Rule, source: IpAddr, destination: IpAddr, came_in: Option<&str>, out: Option<&str>) -> bool {
    let m = &rule.matches;
    let icmp = if source.is_ipv4() { Proto::Icmp } else { Proto::Icmpv6 };
    m.source.is_none_or(|s| s.contains(&source))
        && m.destination.is_none_or(|d| d.contains(&destination))
        && m.in_iface.as_deref().is_none_or(|i| Some(i) == came_in)
        && m.out_iface.as_deref().is_none_or(|o| Some(o) == out)
        && m.proto.is_none_or(|p| p == icmp)
        && m.sport.is_none()
        && m.dport.is_none()
}

impl Walk<'_> {
    fn name(&self, node: usize) -> &str {
        &self.lab.nodes[node].name
    }

    fn say(&mut self, text: String) {
        self.steps.push(text);
    }

    fn rules(&mut self, node: usize) -> Result<Vec<Listed>, LabError> {
        if let Some(rules) = self.rules.get(&node) {
            return Ok(rules.clone());
        }
        let rules = deploy::firewall(&self.nodes[node])?
            .list(None)
            .map_err(|source| LabError::Firewall {
                node: self.lab.nodes[node].name.clone(),
                source,
            })?;
        self.rules.insert(node, rules.clone());
        Ok(rules)
    }

    /// Says, once per node, what tables of the node's ruleset nsbox does
    /// not model (its `nftables:` block, or tables made by hand): their
    /// chains see the packet too, and may drop or change it.
    fn note_other_tables(&mut self, node: usize) {
        if !self.looked_at.insert(node) {
            return;
        }
        let tables = nsbox_net::firewall::ruleset::foreign_tables(&self.nodes[node].fd).unwrap_or_default();
        if tables.is_empty() {
            return;
        }
        let note = format!(
            "{}: its nftables tables {} are not nsbox's rules and are not modelled here: they may drop or change this packet",
            self.name(node),
            tables.join(", ")
        );
        self.say(format!("note: {note}"));
        self.unmodeled.push(note);
    }

    /// The first of nsbox's rules at `hook` that the packet matches.
    fn first_match(
        &mut self,
        node: usize,
        hook: Hook,
        p: &Packet,
        out: Option<&str>,
    ) -> Result<Option<Listed>, LabError> {
        Ok(self.rules(node)?.into_iter().find(|l| {
            l.hook == hook
                && l.rule
                    .as_ref()
                    .is_some_and(|r| matches(r, p.source, p.destination, p.came_in.as_deref(), out))
        }))
    }

    /// Applies a filter hook: `Some(reason)` if the packet is dropped.
    fn filter(&mut self, p: &Packet, hook: Hook, out: Option<&str>) -> Result<Option<String>, LabError> {
        let Some(hit) = self.first_match(p.at, hook, p, out)? else {
            return Ok(None);
        };
        let rule = hit.rule.as_ref().expect("matched rules are decoded");
        Ok(match rule.action {
            Action::Drop | Action::Reject => Some(format!(
                "{}: dropped by filter rule {} ({rule})",
                self.name(p.at),
                hit.handle
            )),
            _ => None,
        })
    }

    fn forwarding(&mut self, node: usize, v6: bool) -> Result<bool, LabError> {
        let key = if v6 {
            "net.ipv6.conf.all.forwarding"
        } else {
            "net.ipv4.ip_forward"
        };
        Ok(self.sysctl(node, key, "reading its forwarding switch")?.trim() == "1")
    }

    /// The TTL (hop limit) that `node` gives the packets it sends to
    /// `destination`: its `ip_default_ttl`; for IPv6 the `hop_limit` of
    /// the interface the kernel sends them out of (the kernel reads the
    /// device's own; `conf.all.hop_limit` changes none that exists), 64
    /// unless changed.
    fn initial_ttl(&mut self, node: usize, destination: IpAddr) -> Result<u32, LabError> {
        let key = if destination.is_ipv6() {
            let dev = self.nodes[node]
                .nl
                .route_get(destination)
                .ok()
                .and_then(|r| r.oif)
                .and_then(|oif| {
                    let links = self.nodes[node].nl.links().ok()?;
                    links.into_iter().find(|l| l.index == oif).map(|l| l.name)
                });
            match dev {
                Some(dev) => format!("net.ipv6.conf.{dev}.hop_limit"),
                None => "net.ipv6.conf.default.hop_limit".to_string(),
            }
        } else {
            "net.ipv4.ip_default_ttl".to_string()
        };
        let value = self.sysctl_named(node, key, "reading its default TTL")?;
        Ok(value.trim().parse().unwrap_or(DEFAULT_TTL))
    }

    fn sysctl(&mut self, node: usize, key: &'static str, op: &'static str) -> Result<String, LabError> {
        self.sysctl_named(node, key.to_string(), op)
    }

    fn sysctl_named(&mut self, node: usize, key: String, op: &'static str) -> Result<String, LabError> {
        let value = nsbox_ns::netns::run_in_fd(&self.nodes[node].fd, move || nsbox_net::sysctl::read(&key))?;
        let name = self.lab.nodes[node].name.clone();
        value.map_err(|source| LabError::Net { node: name, op, source })
    }

    /// Undoes, at the node it came from, NAT that the request went
    /// through (what conntrack does to the reply).
    fn undo_nat(&mut self, p: &mut Packet) {
        while let Some(i) = self.undo.iter().position(|t| {
            t.node == p.at
                && if t.source_side {
                    p.destination == t.after
                } else {
                    p.source == t.after
                }
        }) {
            let t = self.undo.remove(i);
            let name = self.name(t.node).to_string();
            if t.source_side {
                self.say(format!(
                    "{name}: destination {} turned back to {} (SNAT undone)",
                    t.after, t.before
                ));
                p.destination = t.before;
            } else {
                self.say(format!(
                    "{name}: source {} turned back to {} (DNAT undone)",
                    t.after, t.before
                ));
                p.source = t.before;
            }
        }
    }

    /// The kernel's input checks, asked rather than modelled: the input
    /// route lookup of an IPv4 packet that came in on an interface (after
    /// DNAT, as in the kernel) refuses it when the node's reverse-path
    /// filter rejects its source there, or when it is a martian. Which of
    /// them it was is then told from the node's `rp_filter` (the larger
    /// of `all` and the interface's) and the kernel's own way back to the
    /// source. IPv6 has no such switch (nft's `fib` does it, which the
    /// ruleset shows).
    fn reverse_path(&mut self, p: &Packet) -> Result<Option<String>, LabError> {
        let Some(iif) = p.came_in.clone() else {
            return Ok(None);
        };
        if !p.source.is_ipv4() {
            return Ok(None);
        }
        let nl = &mut self.nodes[p.at].nl;
        match nl.route_get_input(p.destination, p.source, &iif) {
            Err(e) if e.refused_on_input() => {}
            _ => return Ok(None),
        }
        // A refusing route to the destination answers the input lookup
        // with EINVAL too (a blackhole's error): that is the walk's to tell.
        match nl.route_get(p.destination) {
            Ok(route) if route.kind == "unicast" || route.kind == "local" => {}
            _ => return Ok(None),
        }
        let back = nl.route_get(p.source).ok();
        let links = nl.links().unwrap_or_default();
        let back_dev = back
            .as_ref()
            .and_then(|r| r.oif)
            .and_then(|i| links.iter().find(|l| l.index == i))
            .map(|l| l.name.clone());
        let mode = |walk: &mut Self, key: String| -> Result<u32, LabError> {
            Ok(walk
                .sysctl_named(p.at, key, "reading its rp_filter")?
                .trim()
                .parse()
                .unwrap_or(0))
        };
        let strictness = mode(self, "net.ipv4.conf.all.rp_filter".into())?
            .max(mode(self, format!("net.ipv4.conf.{iif}.rp_filter"))?);
        let (node, source) = (self.name(p.at).to_string(), p.source);
        Ok(Some(match (strictness, back_dev) {
            (1, Some(dev)) if dev != iif => format!(
                "{node}: dropped by reverse-path filtering (rp_filter 1, strict): it came in on {iif}, \
                 and the way back to {source} is through {dev}"
            ),
            (1 | 2, None) => format!(
                "{node}: dropped by reverse-path filtering (rp_filter {strictness}): there is no way back to {source} at all"
            ),
            _ => format!(
                "{node}: the kernel refuses a packet from {source} coming in on {iif} (a martian source or destination)"
            ),
        }))
    }

    /// Why the lab node that has `hop` may not answer `p.at`'s ARP
    /// requests for it: they carry the packet's source as their sender
    /// (`arp_announce` 0), and the kernel checks that sender as it checks
    /// a packet's source (`arp_process` asks the input route lookup), so
    /// its reverse-path filter drops them too.
    fn arp_refused(&mut self, hop: IpAddr, p: &Packet) -> Option<String> {
        if !hop.is_ipv4() {
            return None;
        }
        let (next, iface) = owner(self.lab, hop)?;
        let refused = self.nodes[next]
            .nl
            .route_get_input(hop, p.source, &iface)
            .is_err_and(|e| e.refused_on_input());
        refused.then(|| {
            format!(
                " (its ARP requests come from {}, which {}'s reverse-path filter refuses on {iface})",
                p.source,
                self.name(next)
            )
        })
    }

    /// Walks `p` until it arrives (`Ok(Some(node))`) or stops (`Ok(None)`).
    fn walk(&mut self, mut p: Packet) -> Result<Option<usize>, LabError> {
        let origin = p.at;
        // Nodes the packet has been at: one it comes back to is a loop.
        let mut seen = std::collections::BTreeSet::new();
        let mut looped = false;
        loop {
            looped |= !seen.insert(p.at);
            self.note_other_tables(p.at);
            self.undo_nat(&mut p);
            // DNAT where the packet comes in.
            if p.came_in.is_some() && !p.reply {
                let hit = self.first_match(p.at, Hook::Prerouting, &p, None)?;
                if let Some(Action::Dnat { to }) = hit.as_ref().and_then(|l| l.rule.as_ref()).map(|r| r.action.clone())
                {
                    self.say(format!(
                        "{}: destination {} rewritten to {} (DNAT)",
                        self.name(p.at),
                        p.destination,
                        to.addr
                    ));
                    self.translations.push(Translation {
                        node: p.at,
                        before: p.destination,
                        after: to.addr,
                        source_side: false,
                    });
                    p.destination = to.addr;
                }
            }
            if let Some(dropped) = self.reverse_path(&p)? {
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

/// What a failed route lookup means for the packet: the kernel answers a
/// lookup that meets a refusing route type (blackhole, prohibit,
/// unreachable; throw in the main table is no route) with that type's
/// error, which is also what a local sender gets; a router answers the
/// sender with the type's ICMP error, or nothing.
fn refused_here(e: &nsbox_net::NetError, local: bool, destination: IpAddr) -> String {
    let kind = RouteKind::refusing_with(e.errno());
    let what = match kind {
        // What a throw route in the main table answers is no route.
        Some(RouteKind::Throw) => format!("no route to {destination} (network unreachable)"),
        Some(kind) => format!("the route to {destination} is of type {kind}"),
        None => {
            let reason = e.to_string();
            let reason = reason
                .rsplit_once(": ")
                .map_or(reason.as_str(), |(_, r)| r)
                .to_lowercase();
            format!("no route to {destination} ({reason})")
        }
    };
    if local {
        return format!("{what}: nothing is sent");
    }
    let answer = kind
        .and_then(RouteKind::refusal)
        .and_then(|r| if destination.is_ipv6() { r.v6 } else { r.v4 });
    match answer {
        Some(icmp) => format!("{what}: dropped, and the sender gets an ICMP error ({icmp})"),
        None => format!("{what}: dropped without a word"),
    }
}

/// Explains an echo from node `from` to `to` (from `source`, else the
/// address the kernel picks; with `ttl`, else the node's default TTL) and
/// its reply (with the replier's default TTL), as nsbox models them; with
/// `probe`, then sends one real echo the same way, so that the kernel's
/// answer stands beside the model's (see [`Explanation::agrees`]).
pub fn explain(
    lab: &Lab,
    nodes: &mut [NodeHandle],
    from: usize,
    to: IpAddr,
    source: Option<IpAddr>,
    ttl: Option<u8>,
    probe: bool,
) -> Result<Explanation, LabError> {
    let mut explanation = model(lab, nodes, from, to, source, ttl)?;
    if probe {
        let expect = crate::model::Expect {
            text: String::new(),
            from,
            source,
            to,
            port: None,
            outcome: crate::model::Outcome::Reachable,
            params: crate::model::ProbeParams {
                ttl,
                ..Default::default()
            },
            facts: Default::default(),
            receiver: None,
        };
        explanation.probe = Some(crate::probe::probe(&(&nodes[from]).into(), &expect));
    }
    Ok(explanation)
}

fn model(
    lab: &Lab,
    nodes: &mut [NodeHandle],
    from: usize,
    to: IpAddr,
    source: Option<IpAddr>,
    ttl: Option<u8>,
) -> Result<Explanation, LabError> {
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
    };
    let Some(source) = source else {
        let why = match &lookup {
            Err(e) => refused_here(e, true, to),
            Ok(_) => format!("no source address for {to}: nothing is sent"),
        };
        let name = walk.name(from).to_string();
        walk.say(format!("{name}: {why}"));
        return Ok(Explanation {
            steps: walk.steps,
            arrived: false,
            answered: false,
            unmodeled: walk.unmodeled,
            probe: None,
        });
    };
    walk.say(format!("echo request {source} -> {to}"));
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
    };
    let Some(replier) = walk.walk(request)? else {
        walk.steps.extend(full_table_note());
        return Ok(Explanation {
            steps: walk.steps,
            arrived: false,
            answered: false,
            unmodeled: walk.unmodeled,
            probe: None,
        });
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
    walk.say(format!("echo reply {reply_from} -> {reply_to}"));
    let reply = Packet {
        at: replier,
        came_in: None,
        source: reply_from,
        destination: reply_to,
        ttl: walk.initial_ttl(replier, reply_to)?,
        reply: true,
    };
    let back = walk.walk(reply)?;
    let answered = back == Some(from);
    if !answered {
        walk.steps.extend(full_table_note());
    }
    Ok(Explanation {
        steps: walk.steps,
        arrived: true,
        answered,
        unmodeled: walk.unmodeled,
        probe: None,
    })
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
