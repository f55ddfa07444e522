//! What the nodes' firewalls do to the echo: nsbox's own rules (filter
//! and NAT, matched as the kernel matches a connection's first packet),
//! the translations conntrack undoes for the reply, and the other
//! nftables tables on the way, noted as beyond the model.

use super::*;
/// Whether packet `p` (out on `out`) matches `rule`: its addresses,
/// interfaces and protocol (ICMP for an echo), and for a TCP or UDP probe
/// the service's port: the request's destination port, the reply's
/// source port. The other side's port is an ephemeral one nsbox does not
/// know: a rule that names it is taken not to match.
fn matches(rule: &Rule, p: &Packet, out: Option<&str>) -> bool {
    let m = &rule.matches;
    let proto = match p.port.map(|port| port.transport) {
        Some(Transport::Tcp) => Proto::Tcp,
        Some(Transport::Udp) => Proto::Udp,
        None if p.source.is_ipv4() => Proto::Icmp,
        None => Proto::Icmpv6,
    };
    let in_range = |ports: &nsbox_net::firewall::Ports| {
        p.port
            .is_some_and(|port| (ports.first..=ports.last).contains(&port.number))
    };
    let (service, other) = if p.reply {
        (&m.sport, &m.dport)
    } else {
        (&m.dport, &m.sport)
    };
    // A NAT rule translates to an address of one family, and matches only
    // that family's packets (nsbox gives it `meta nfproto`).
    let target_family = match &rule.action {
        Action::Snat { to } | Action::Dnat { to } => Some(to.addr.is_ipv4()),
        _ => None,
    };
    target_family.is_none_or(|v4| v4 == p.destination.is_ipv4())
        && m.source.is_none_or(|s| s.contains(&p.source))
        && m.destination.is_none_or(|d| d.contains(&p.destination))
        && m.in_iface.as_deref().is_none_or(|i| Some(i) == p.came_in.as_deref())
        && m.out_iface.as_deref().is_none_or(|o| Some(o) == out)
        && m.proto.is_none_or(|mp| mp == proto)
        && service.as_ref().is_none_or(in_range)
        && other.is_none()
}

impl Walk<'_> {
    pub(super) fn rules(&mut self, node: usize) -> Result<Vec<Listed>, LabError> {
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
    pub(super) fn note_other_tables(&mut self, node: usize) {
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
        self.unmodeled_at.push(node);
    }

    /// The first of nsbox's rules at `hook` that the packet matches.
    pub(super) fn first_match(
        &mut self,
        node: usize,
        hook: Hook,
        p: &Packet,
        out: Option<&str>,
    ) -> Result<Option<Listed>, LabError> {
        Ok(self
            .rules(node)?
            .into_iter()
            .find(|l| l.hook == hook && l.rule.as_ref().is_some_and(|r| matches(r, p, out))))
    }

    /// Applies a filter hook: `Some(reason)` if the packet is dropped.
    pub(super) fn filter(&mut self, p: &Packet, hook: Hook, out: Option<&str>) -> Result<Option<String>, LabError> {
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
    /// Undoes, at the node it came from, NAT that the request went
    /// through (what conntrack does to the reply).
    pub(super) fn undo_nat(&mut self, p: &mut Packet) {
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
                let (after, before) = match t.port {
                    Some((before, after)) => (
                        SocketAddr::new(t.after, after).to_string(),
                        SocketAddr::new(t.before, before).to_string(),
                    ),
                    None => (t.after.to_string(), t.before.to_string()),
                };
                self.say(format!("{name}: source {after} turned back to {before} (DNAT undone)"));
                p.source = t.before;
                if let (Some(port), Some((before, _))) = (p.port.as_mut(), t.port) {
                    port.number = before;
                }
            }
        }
    }
}
