//! What the kernel's route lookups answer beyond the next hop: the input
//! lookup (reverse-path filtering, martians, the ARP a neighbour refuses)
//! and what a refused output lookup means for the packet.

use super::*;
impl Walk<'_> {
    /// The kernel's input checks, asked rather than modelled: the input
    /// route lookup of an IPv4 packet that came in on an interface (after
    /// DNAT, as in the kernel) refuses it when the node's reverse-path
    /// filter rejects its source there, or when it is a martian. Which of
    /// them it was is then told from the node's `rp_filter` (the larger
    /// of `all` and the interface's) and the kernel's own way back to the
    /// source. IPv6 has no such switch (nft's `fib` does it, which the
    /// ruleset shows).
    pub(super) fn reverse_path(&mut self, p: &Packet) -> Result<Option<String>, LabError> {
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
    pub(super) fn arp_refused(&mut self, hop: IpAddr, p: &Packet) -> Option<String> {
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
}

/// What a failed route lookup means for the packet: the kernel answers a
/// lookup that meets a refusing route type (blackhole, prohibit,
/// unreachable; throw in the main table is no route) with that type's
/// error, which is also what a local sender gets; a router answers the
/// sender with the type's ICMP error, or nothing.
pub(super) fn refused_here(e: &nsbox_net::NetError, local: bool, destination: IpAddr) -> String {
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
