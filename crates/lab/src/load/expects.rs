//! Expectations: the path (`a -> b:tcp/80`), the outcome, the probe's
//! parameters, and rule counters.

use super::*;

impl Checker<'_> {
    /// The expectations of a section, checked against the routes each node
    /// has at that point (`routes`): a path that would loop past an echo's
    /// 64 hops is an error.
    pub(super) fn expects(
        &mut self,
        lab: &Lab,
        routes: &[Vec<Route>],
        rules: &[Vec<Rule>],
        entries: &Ordered<Text>,
    ) -> (Vec<Expect>, Vec<Counted>, Vec<RouteCheck>) {
        let mut out = Vec::new();
        let mut counted = Vec::new();
        let mut route_checks = Vec::new();
        let topology = crate::paths::Topology::new(lab);
        for (path, outcome) in &entries.0 {
            // `NODE nat|filter RULE`: a rule's counter, not a path.
            let second = path.value.split_whitespace().nth(1);
            if !path.value.contains("->") && matches!(second, Some("nat" | "filter")) {
                counted.extend(self.counted(lab, rules, path, outcome));
                continue;
            }
            // `NODE route PREFIX`: a route in the node's table.
            if !path.value.contains("->") && second == Some("route") {
                route_checks.extend(self.route_check(lab, path, outcome));
                continue;
            }
            let Some(e) = self.expect(lab, path, outcome) else {
                continue;
            };
            // A loop is a mistake in the routes, whatever is expected of it
            // (an expectation of TTL expiry on a long chain is not).
            if let crate::paths::Path::Loops(visited) = topology.follow(lab, routes, e.from, e.to) {
                let names: Vec<&str> = visited.iter().map(|&n| lab.nodes[n].name.as_str()).collect();
                self.error_at(
                    path.referenced,
                    format!(
                        "the way to {} is a routing loop: {} -> ... (until the TTL runs out)",
                        e.to,
                        names.join(" -> ")
                    ),
                );
            }
            out.push(e);
        }
        (out, counted, route_checks)
    }

    /// `NODE route PREFIX` with `absent`, `present`, or any of `via
    /// ADDRESS`, `dev IFACE`, `proto NAME`.
    pub(super) fn route_check(&mut self, lab: &Lab, key: &Text, value: &Text) -> Option<RouteCheck> {
        let words: Vec<&str> = key.value.split_whitespace().collect();
        let [node, _, prefix] = words[..] else {
            self.error_at(
                key.referenced,
                "a route check is NODE route PREFIX: via ADDRESS, proto NAME, dev IFACE, present or absent",
            );
            return None;
        };
        let node = self.node_index(lab, node, key.referenced)?;
        let prefix: IpNet = match prefix
            .parse::<IpNet>()
            .or_else(|_| prefix.parse::<IpAddr>().map(IpNet::from))
        {
            Ok(p) if p.network() == p.addr() => p,
            Ok(p) => {
                self.error_at(
                    key.referenced,
                    format!("{prefix}: the prefix has host bits set (the route is {})", p.trunc()),
                );
                return None;
            }
            Err(_) => {
                self.error_at(
                    key.referenced,
                    format!("{prefix:?} is not a prefix (10.0.3.0/24, 2001:db8::/64)"),
                );
                return None;
            }
        };
        let outcome = match parse_route_outcome(&value.value) {
            Ok(o) => o,
            Err(e) => {
                self.error_at(value.referenced, e);
                return None;
            }
        };
        if let Outcome::Route { via: Some(via), .. } = &outcome {
            if via.is_ipv4() != prefix.addr().is_ipv4() {
                self.error_at(
                    value.referenced,
                    format!("via {via}: a gateway of the other address family than {prefix}"),
                );
                return None;
            }
        }
        if let Outcome::Route { dev: Some(dev), .. } = &outcome {
            if !lab.interfaces(node).iter().any(|(name, _)| *name == dev.as_str()) && dev != "lo" {
                self.warn_at(
                    value.referenced,
                    format!(
                        "dev {dev}: {} has no such interface in the lab file",
                        lab.nodes[node].name
                    ),
                );
            }
        }
        Some(RouteCheck {
            text: key.value.trim().to_string(),
            node,
            prefix,
            outcome,
        })
    }

    /// `NODE nat|filter RULE` (the rule quoted or not) with `packets N` or
    /// `packets >= N`: a rule the node has at that point.
    pub(super) fn counted(&mut self, lab: &Lab, rules: &[Vec<Rule>], key: &Text, value: &Text) -> Option<Counted> {
        let at = key.referenced;
        let split = |text: &str| -> Option<(String, String)> {
            let (first, rest) = text.trim().split_once(char::is_whitespace)?;
            Some((first.to_string(), rest.trim().to_string()))
        };
        let Some(((node, kind), rule)) = split(&key.value).and_then(|(node, rest)| {
            let (kind, rule) = split(&rest)?;
            Some(((node, kind), rule))
        }) else {
            self.error_at(
                at,
                "an expectation is SRC -> DEST, or NODE nat|filter RULE for a rule's counter",
            );
            return None;
        };
        let node = self.node_index(lab, &node, at)?;
        let rule_text = rule.trim_matches('"');
        let parsed = match kind.as_str() {
            "nat" => words::parse_nat(rule_text),
            "filter" => words::parse_filter(rule_text),
            _ => Err(format!("{kind:?}: a counted rule is nat or filter")),
        };
        let rule = match parsed {
            Ok(rule) => rule,
            Err(e) => {
                self.error_at(at, e);
                return None;
            }
        };
        if !rules[node].contains(&rule) {
            self.error_at(
                at,
                format!(
                    "{} has no {kind} rule {rule_text:?} at this point",
                    lab.nodes[node].name
                ),
            );
            return None;
        }
        let wanted = value.value.trim();
        let count = wanted
            .strip_prefix("packets")
            .map(str::trim)
            .and_then(|c| match c.strip_prefix(">=") {
                Some(n) => n.trim().parse().ok().map(|n| (n, true)),
                None => c.parse().ok().map(|n| (n, false)),
            });
        let Some((count, at_least)) = count else {
            self.error_at(
                value.referenced,
                format!("{wanted:?}: a counter is expected as packets N or packets >= N"),
            );
            return None;
        };
        Some(Counted {
            text: key.value.clone(),
            node,
            rule,
            outcome: Outcome::Packets { count, at_least },
        })
    }

    /// `SRC [from ADDR] -> DEST` with its outcome,
    /// `reachable|unreachable [(REASON)]`.
    pub(super) fn expect(&mut self, lab: &Lab, path: &Text, outcome: &Text) -> Option<Expect> {
        let outcome_at = outcome.referenced;
        let (outcome_text, via_names) = split_via(&outcome.value);
        let mut via = Vec::new();
        for name in &via_names {
            via.push(self.node_index(lab, name, outcome_at)?);
        }
        let (outcome, params, facts) = match parse_outcome(&outcome_text) {
            Ok(o) => o,
            Err(e) => {
                self.error_at(outcome.referenced, e);
                return None;
            }
        };
        let at = path.referenced;
        let (src, source, dest, port) = match parse_path(&path.value) {
            Ok(p) => p,
            Err(e) => {
                self.error_at(at, e);
                return None;
            }
        };
        match (port, &outcome) {
            (Some(_), Outcome::Reachable) => {
                self.error_at(at, "a port is open, closed or unreachable, not reachable");
                return None;
            }
            (Some(_), _) if params.count.is_some() || params.interval.is_some() || params.ttl.is_some() => {
                self.error_at(
                    outcome_at,
                    "count, interval and ttl are for echoes: a port's probe takes only wait",
                );
                return None;
            }
            (Some(_), Outcome::SeenAs(_)) => {
                self.error_at(
                    at,
                    "seen as is probed with a datagram of nsbox's own, to a port it picks: name no port",
                );
                return None;
            }
            (Some(_), _) if facts.any() => {
                self.error_at(
                    outcome_at,
                    "reply ttl, errors and exit are what echoes see: a port's probe has none",
                );
                return None;
            }
            (_, Outcome::SeenAs(_)) if facts.any() => {
                self.error_at(
                    outcome_at,
                    "reply ttl, errors and exit are what echoes see: seen as is probed with a datagram",
                );
                return None;
            }
            (Some(_), Outcome::Throughput { .. }) => {
                self.error_at(
                    at,
                    "throughput is measured with iperf3 on a port of its own: name no port",
                );
                return None;
            }
            (None, Outcome::Throughput { .. })
                if facts.any()
                    || params.count.is_some()
                    || params.interval.is_some()
                    || params.ttl.is_some()
                    || params.wait.is_some() =>
            {
                self.error_at(
                    outcome_at,
                    "a throughput measurement takes only (time T): how long it runs",
                );
                return None;
            }
            (None, _) if params.time.is_some() && !matches!(outcome, Outcome::Throughput { .. }) => {
                self.error_at(
                    outcome_at,
                    "time is how long a throughput measurement runs: echoes take count, interval, wait and ttl",
                );
                return None;
            }
            (None, Outcome::Open | Outcome::Closed) => {
                self.error_at(
                    at,
                    format!("{outcome} needs a port: {0}:tcp/PORT or {0}:udp/PORT", path.value),
                );
                return None;
            }
            _ => {}
        }
        let from = self.node_index(lab, &src, at)?;
        if let Some(source) = source {
            let own = lab
                .interfaces(from)
                .iter()
                .flat_map(|(_, a)| a.clone())
                .any(|a| a.addr() == source);
            if !own {
                self.error_at(at, format!("{source} is not an address of {src}"));
            }
        }
        let to = match dest.parse::<IpAddr>() {
            Ok(addr) => addr,
            Err(_) => {
                let node = self.node_index(lab, &dest, at)?;
                match node_address(lab, node) {
                    Some(a) => a,
                    None => {
                        self.error_at(at, format!("node {dest:?} has no address to probe"));
                        return None;
                    }
                }
            }
        };
        let receiver = (0..lab.nodes.len()).find(|&n| {
            self.interfaces[n]
                .iter()
                .any(|(_, addresses)| addresses.iter().any(|a| a.addr() == to))
        });
        if !via.is_empty() && !matches!(outcome, Outcome::Reachable | Outcome::Open) {
            self.error_at(
                outcome_at,
                "via names nodes on the way of a request that arrives: reachable (via r3) or open (via r3)",
            );
            return None;
        }
        if matches!(outcome, Outcome::Throughput { .. }) && receiver.is_none() {
            self.error_at(
                at,
                format!("no node of the lab has {to}: iperf3's server runs in the node that has the address"),
            );
            return None;
        }
        if let Outcome::SeenAs(seen) = outcome {
            if seen.is_ipv4() != to.is_ipv4() {
                let family = if to.is_ipv4() { "IPv4" } else { "IPv6" };
                self.error_at(
                    outcome_at,
                    format!("seen as {seen}: a datagram to {to} comes from an {family} address"),
                );
                return None;
            }
            if receiver.is_none() {
                self.error_at(
                    at,
                    format!(
                        "no node of the lab has {to}: nsbox listens for `seen as` in the node that has the address"
                    ),
                );
                return None;
            }
        }
        Some(Expect {
            via,
            text: path.value.clone(),
            from,
            source,
            to,
            port,
            outcome,
            params,
            facts,
            receiver,
        })
    }

    /// `[a, b]`: two different nodes.
    pub(super) fn pair(&mut self, lab: &Lab, pair: &Spanned<Vec<Text>>) -> Option<(usize, usize)> {
        let [a, b] = pair.value.as_slice() else {
            self.error_at(pair.referenced, "a pair is two nodes: [a, b]");
            return None;
        };
        let a = self.node_index(lab, &a.value, a.referenced)?;
        let b = self.node_index(lab, &b.value, b.referenced)?;
        if a == b {
            self.error_at(pair.referenced, "a node cannot be partitioned from itself");
            return None;
        }
        Some((a, b))
    }
}

/// A node's address for probes: its first address on a link, else its
/// first on `lo`.
pub fn node_address(lab: &Lab, node: usize) -> Option<IpAddr> {
    let interfaces = lab.interfaces(node);
    let on_link = interfaces
        .iter()
        .filter(|(i, _)| *i != "lo")
        .find_map(|(_, a)| a.first());
    on_link.or_else(|| lab.nodes[node].lo.first()).map(|a| a.addr())
}

/// `SRC [from ADDR] -> DEST[:tcp/PORT|:udp/PORT]`, DEST a node or an
/// address (an IPv6 one in brackets when a port follows).
pub fn parse_path(text: &str) -> Result<(String, Option<IpAddr>, String, Option<Port>), String> {
    let shape = || format!("{text:?}: expected SRC [from ADDR] -> DEST[:tcp/PORT|:udp/PORT]");
    let (src, dest) = text.split_once("->").ok_or_else(shape)?;
    let mut src_words = src.split_whitespace();
    let node = src_words.next().ok_or_else(shape)?.to_string();
    let source = match (src_words.next(), src_words.next(), src_words.next()) {
        (None, ..) => None,
        (Some("from"), Some(addr), None) => Some(addr.parse().map_err(|_| format!("{addr:?} is not an address"))?),
        _ => return Err(shape()),
    };
    let dest = dest.trim();
    if dest.is_empty() || dest.contains(char::is_whitespace) {
        return Err(shape());
    }
    let mut port = None;
    let mut dest = dest;
    // `DEST:PROTO/PORT`; an IPv6 address alone has colons but no slash.
    if let Some((host, tail)) = dest.rsplit_once(':') {
        if let Some((proto, number)) = tail
            .split_once('/')
            .filter(|(p, _)| p.chars().all(|c| c.is_ascii_alphabetic()) && !p.is_empty())
        {
            let transport = match proto {
                "tcp" => Transport::Tcp,
                "udp" => Transport::Udp,
                _ => {
                    return Err(format!(
                        "{text:?}: nsbox probes tcp and udp ports, not {proto}: DEST:tcp/PORT or DEST:udp/PORT"
                    ))
                }
            };
            let number = number
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| format!("{number:?} is not a {} port", proto.to_uppercase()))?;
            port = Some(Port { transport, number });
            dest = host;
        }
    }
    let dest = dest.strip_prefix('[').and_then(|d| d.strip_suffix(']')).unwrap_or(dest);
    Ok((node, source, dest.to_string(), port))
}

/// A route check's value: `absent`, `present`, or `via ADDRESS`, `dev
/// IFACE` and `proto NAME` in any order.
pub fn parse_route_outcome(text: &str) -> Result<Outcome, String> {
    let bad = |why: String| format!("{why}: a route is absent, present, or any of via ADDRESS, dev IFACE, proto NAME");
    let words: Vec<&str> = text.split_whitespace().collect();
    match words[..] {
        ["absent"] => return Ok(Outcome::RouteAbsent),
        ["present"] => {
            return Ok(Outcome::Route {
                via: None,
                dev: None,
                proto: None,
            })
        }
        [] => return Err(bad("nothing is said".into())),
        _ => {}
    }
    let (mut via, mut dev, mut proto) = (None, None, None);
    let mut rest = words.chunks(2);
    for pair in &mut rest {
        match pair {
            ["via", address] => {
                via = Some(
                    address
                        .parse::<IpAddr>()
                        .map_err(|_| bad(format!("{address:?} is not an address")))?,
                );
            }
            ["dev", name] => dev = Some(name.to_string()),
            ["proto", name] => proto = Some(name.to_string()),
            [word, _] | [word] => return Err(bad(format!("{word:?}"))),
            _ => unreachable!("chunks of two"),
        }
    }
    Ok(Outcome::Route { via, dev, proto })
}

/// An outcome without its `(via NODE[, NODE...])` group, and the nodes it
/// names: `reachable (via r3) (count 3)` is `reachable (count 3)` via r3.
pub fn split_via(text: &str) -> (String, Vec<String>) {
    let Some(start) = text.find("(via ") else {
        return (text.to_string(), Vec::new());
    };
    let Some(length) = text[start..].find(')') else {
        return (text.to_string(), Vec::new());
    };
    let names = text[start + "(via ".len()..start + length]
        .split([',', ' '])
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(String::from)
        .collect();
    let rest = format!("{}{}", text[..start].trim_end(), &text[start + length + 1..]);
    (rest.trim().to_string(), names)
}
