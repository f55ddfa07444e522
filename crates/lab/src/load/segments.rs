//! Links and bridges: their ends, addresses, MTU and impairments, and the
//! interface names they give each node.

use super::*;

impl Checker<'_> {
    pub(super) fn address(&mut self, text: &Text) -> Option<IpNet> {
        match text.value.parse::<IpNet>() {
            Ok(net) => {
                if let Some(why) = odd_host_address(&net) {
                    self.warn_at(text.referenced, why);
                }
                Some(net)
            }
            Err(_) => {
                self.error_at(
                    text.referenced,
                    format!(
                        "{:?} is not an address with its prefix length (10.0.1.2/24)",
                        text.value
                    ),
                );
                None
            }
        }
    }

    pub(super) fn node_index(&mut self, lab: &Lab, name: &str, at: Location) -> Option<usize> {
        let found = lab.nodes.iter().position(|n| n.name == name);
        if found.is_none() {
            let known: Vec<&str> = lab.nodes.iter().map(|n| n.name.as_str()).collect();
            self.error_at(at, format!("unknown node {name:?} (nodes: {})", known.join(", ")));
        }
        found
    }

    /// `NODE[:IFACE] [ADDR/LEN ...]`; an empty interface name is filled in
    /// later by [`Checker::name_interfaces`].
    pub(super) fn endpoint(&mut self, lab: &Lab, text: &Text) -> Option<End> {
        let at = text.referenced;
        let mut parts = text.value.split_whitespace();
        let Some(head) = parts.next() else {
            self.error_at(at, "an empty endpoint: expected NODE[:IFACE] [ADDR/LEN ...]");
            return None;
        };
        let (node, iface) = head.split_once(':').unwrap_or((head, ""));
        let node = self.node_index(lab, node, at)?;
        if !iface.is_empty() && nsbox_net::link::check_name(iface).is_err() {
            self.error_at(
                at,
                format!("interface name {iface:?} is invalid: it must be 1 to 15 bytes without '/', ':' or whitespace, and not all or default"),
            );
        }
        let mut addresses = Vec::new();
        for word in parts {
            match word.parse::<IpNet>() {
                Ok(net) => {
                    if let Some(why) = odd_host_address(&net) {
                        self.warn_at(at, why);
                    }
                    addresses.push(net)
                }
                Err(_) => self.error_at(
                    at,
                    format!("{word:?} is not an address with its prefix length (10.0.1.2/24)"),
                ),
            }
        }
        Some(End {
            node,
            iface: iface.to_string(),
            addresses,
        })
    }

    pub(super) fn link(&mut self, lab: &Lab, link: &Spanned<SegmentFile>) -> Option<Link> {
        let l = &link.value;
        if l.endpoints.len() != 2 {
            self.error_at(
                link.referenced,
                format!("a link joins exactly two endpoints, not {}", l.endpoints.len()),
            );
            return None;
        }
        let a = self.endpoint(lab, &l.endpoints[0]);
        let b = self.endpoint(lab, &l.endpoints[1]);
        if let (Some(a), Some(b)) = (&a, &b) {
            if let Some(why) = apart(&a.addresses, &b.addresses) {
                self.warn_at(l.endpoints[1].referenced, why);
            }
        }
        let impairments = self.impairments(l);
        Some(Link {
            ends: [a?, b?],
            mtu: self.mtu(&l.mtu),
            impairments,
        })
    }

    pub(super) fn bridge(
        &mut self,
        lab: &Lab,
        name: &Text,
        bridge: &Spanned<SegmentFile>,
    ) -> Option<crate::model::Bridge> {
        if nsbox_net::link::check_name(&name.value).is_err() || !is_plain_name(&name.value) {
            self.error_at(
                name.referenced,
                format!(
                    "bridge name {:?}: use 1 to 15 letters, digits, '.', '_' or '-'",
                    name.value
                ),
            );
        }
        let b = &bridge.value;
        if b.endpoints.len() < 2 {
            self.error_at(bridge.referenced, "a bridge joins two endpoints or more");
        }
        let ports: Vec<_> = b.endpoints.iter().map(|e| self.endpoint(lab, e)).collect();
        let impairments = self.impairments(b);
        Some(crate::model::Bridge {
            name: name.value.clone(),
            ports: ports.into_iter().collect::<Option<Vec<_>>>()?,
            mtu: self.mtu(&b.mtu),
            impairments,
        })
    }

    /// A link's or bridge's MTU, checked against what an interface takes.
    pub(super) fn mtu(&mut self, mtu: &Option<Spanned<u32>>) -> Option<u32> {
        let mtu = mtu.as_ref()?;
        if !(68..=65535).contains(&mtu.value) {
            self.error_at(mtu.referenced, format!("MTU {} is outside 68 to 65535", mtu.value));
        }
        Some(mtu.value)
    }

    /// `rate: 10mbit`, `delay: 20ms`, `loss: 1%`, checked as written.
    pub(super) fn impairments(&mut self, segment: &SegmentFile) -> crate::model::Impairments {
        let SegmentFile { rate, delay, loss, .. } = segment;
        let mut out = crate::model::Impairments::default();
        if let Some(rate) = rate {
            match nsbox_net::qdisc::parse_rate(&rate.value) {
                Ok(bits) => out.rate = Some(bits),
                Err(e) => self.error_at(rate.referenced, e),
            }
        }
        for given in [delay, loss].into_iter().flatten() {
            let why = self.no_netem.get_or_insert_with(crate::deploy::why_no_netem).clone();
            self.error_at(given.referenced, why);
        }
        if let Some(delay) = delay {
            let ok = ["ms", "us", "s"].iter().any(|u| {
                delay
                    .value
                    .strip_suffix(u)
                    .is_some_and(|n| n.parse::<f64>().is_ok_and(|v| v >= 0.0))
            });
            out.delay = self.valid_or_error(delay, ok, "delay", "20ms, 500us or 1s");
        }
        if let Some(loss) = loss {
            let ok = loss
                .value
                .strip_suffix('%')
                .is_some_and(|n| n.parse::<f64>().is_ok_and(|v| (0.0..=100.0).contains(&v)));
            out.loss = self.valid_or_error(loss, ok, "loss", "a percentage (1%)");
        }
        out
    }

    /// `given` as written if it is `valid`; otherwise an error at its place
    /// naming `what` and the `expected` form.
    pub(super) fn valid_or_error(&mut self, given: &Text, valid: bool, what: &str, expected: &str) -> Option<String> {
        if !valid {
            self.error_at(
                given.referenced,
                format!("{what} {:?} is not valid: expected {expected}", given.value),
            );
        }
        valid.then(|| given.value.clone())
    }

    /// Gives every unnamed interface the first free `ethN` of its node, and
    /// reports names used twice in one node.
    pub(super) fn name_interfaces(&mut self, lab: &mut Lab) {
        let names: Vec<String> = lab.nodes.iter().map(|n| n.name.clone()).collect();
        for (node, name) in names.iter().enumerate() {
            let mut used: Vec<String> = vec!["lo".into()];
            let mut next = 0;
            for (end, at) in lab.ends_mut().zip(&self.ends_at).filter(|(e, _)| e.node == node) {
                if end.iface.is_empty() {
                    while used.contains(&format!("eth{next}")) {
                        next += 1;
                    }
                    end.iface = format!("eth{next}");
                }
                if used.contains(&end.iface) {
                    self.diagnostics.list.push(Diagnostic {
                        line: at.line(),
                        column: at.column(),
                        message: format!("node {name:?} has two interfaces named {:?}", end.iface),
                        warning: false,
                    });
                }
                used.push(end.iface.clone());
            }
        }
    }

    /// The same address twice anywhere in the lab is an error: probes and
    /// routes could not tell the two apart.
    pub(super) fn check_addresses(&mut self, lab: &Lab) {
        let mut places: Vec<(IpAddr, String, Location)> = Vec::new();
        for (node, at) in lab.nodes.iter().zip(&self.lo_at) {
            for (a, at) in node.lo.iter().zip(at) {
                places.push((a.addr(), format!("{}:lo", node.name), *at));
            }
        }
        for (end, at) in lab.ends().zip(&self.ends_at) {
            for a in &end.addresses {
                places.push((a.addr(), format!("{}:{}", lab.nodes[end.node].name, end.iface), *at));
            }
        }
        let mut first: std::collections::HashMap<IpAddr, &str> = std::collections::HashMap::new();
        for (addr, owner, at) in &places {
            match first.get(addr) {
                Some(earlier) => self.error_at(*at, format!("address {addr} is on both {earlier} and {owner}")),
                None => {
                    first.insert(*addr, owner);
                }
            }
        }
    }
}

/// Why an address is an odd one to give an interface, if it is: a
/// subnet's network or broadcast address, or a prefix that covers
/// everything.
fn odd_host_address(net: &IpNet) -> Option<String> {
    let addr = net.addr();
    if net.prefix_len() == 0 {
        return Some(format!(
            "{net}: an interface address with prefix length 0 puts every destination on this link"
        ));
    }
    // /31 and /32 (/127, /128) have no network or broadcast address.
    if net.max_prefix_len() - net.prefix_len() < 2 {
        return None;
    }
    if addr == net.network() {
        return Some(format!(
            "{addr} is the network address of {}, not a host's",
            net.trunc()
        ));
    }
    if net.addr().is_ipv4() && addr == net.broadcast() {
        return Some(format!(
            "{addr} is the broadcast address of {}, not a host's",
            net.trunc()
        ));
    }
    None
}

/// Why the two ends of a link cannot reach each other directly, if so:
/// in some address family both have, no subnet of one holds an address of
/// the other.
fn apart(a: &[IpNet], b: &[IpNet]) -> Option<String> {
    for v4 in [true, false] {
        let of = |list: &[IpNet]| -> Vec<IpNet> { list.iter().filter(|n| n.addr().is_ipv4() == v4).copied().collect() };
        let (a, b) = (of(a), of(b));
        if a.is_empty() || b.is_empty() {
            continue;
        }
        let meets = a
            .iter()
            .any(|x| b.iter().any(|y| x.contains(&y.addr()) || y.contains(&x.addr())));
        if !meets {
            return Some(format!(
                "the ends of this link are on different subnets ({} and {}): they cannot reach each other directly",
                a[0], b[0]
            ));
        }
    }
    None
}
