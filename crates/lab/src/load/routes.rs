//! Routes: the words of one, and each checked against the node's
//! interfaces and the routes beside it.

use super::*;

impl Checker<'_> {
    /// `default|PREFIX [via GW] [dev IFACE] [metric N]`, checked against the
    /// node's interfaces and subnets.
    pub(super) fn route(&mut self, lab: &Lab, node: usize, text: &Text) -> Option<Route> {
        self.route_checked(lab, node, text, true)
    }

    /// A route, with its gateway checked only when it is being added (a
    /// removal names a route that was checked when it was added).
    pub(super) fn route_checked(&mut self, lab: &Lab, node: usize, text: &Text, adding: bool) -> Option<Route> {
        let at = text.referenced;
        if let Some(word) = repeated_route_word(&text.value) {
            self.warn_at(
                at,
                format!("`{word}` is given twice in this route: the kernel takes the last"),
            );
        }
        match parse_route(&text.value) {
            Err(e) => {
                self.error_at(at, e);
                None
            }
            Ok(route) => {
                let name = &lab.nodes[node].name;
                let interfaces = self.interfaces[node].clone();
                if let Some(dev) = &route.dev {
                    if !interfaces.iter().any(|(i, _)| i == dev) {
                        self.error_at(at, format!("node {name:?} has no interface {dev:?}"));
                    }
                }
                if let Some(via) = route.via.filter(|_| adding) {
                    let own = interfaces.iter().flat_map(|(_, a)| a.iter()).any(|a| a.addr() == via);
                    let connected = self.connected(node, via, route.dev.as_deref());
                    if own {
                        self.warn_at(
                            at,
                            format!(
                                "the gateway {via} is {name}'s own address: the kernel accepts it but ignores it, \
                                 and the route acts as an on-link route that ARPs for every destination \
                                 (it works only while the far host answers ARP for it); \
                                 use the neighbour's address on the link"
                            ),
                        );
                    } else if !connected {
                        self.error_at(
                            at,
                            format!("the gateway {via} is not on a subnet connected to {name}: the kernel would refuse the route"),
                        );
                    }
                    if via.is_ipv4() != route.destination.addr().is_ipv4() {
                        self.error_at(
                            at,
                            format!("the gateway {via} and the destination are not of one family"),
                        );
                    }
                }
                Some(route)
            }
        }
    }

    /// Whether `gateway` is on a subnet of `node`'s interfaces (of `dev`
    /// alone, when the route names one), as the rest of the file sees them.
    pub(super) fn connected(&self, node: usize, gateway: IpAddr, dev: Option<&str>) -> bool {
        self.interfaces[node]
            .iter()
            .filter(|(i, _)| dev.is_none_or(|d| d == *i))
            .flat_map(|(_, a)| a.iter())
            .any(|a| a.contains(&gateway))
    }

    pub(super) fn check_route_list(&mut self, routes: &[Route], texts: &[Text]) {
        let mut seen = std::collections::HashSet::new();
        for (i, r) in routes.iter().enumerate() {
            if !seen.insert((r.destination, r.metric)) {
                if let Some(text) = texts.get(i) {
                    self.error_at(text.referenced, format!("a second route to {}", r.destination));
                }
            }
        }
    }
}

/// A keyword a route text gives twice (`metric 5 metric 6`).
fn repeated_route_word(text: &str) -> Option<&str> {
    let words: Vec<&str> = text.split_whitespace().skip(1).step_by(2).collect();
    words
        .iter()
        .enumerate()
        .find(|(i, w)| matches!(**w, "via" | "dev" | "metric") && words[..*i].contains(w))
        .map(|(_, w)| *w)
}

/// `[TYPE] DEST [via GW] [dev IFACE] [metric N]`, TYPE one of the route
/// types that refuse what they match (they take no gateway or interface).
pub fn parse_route(text: &str) -> Result<Route, String> {
    const SHAPE: &str =
        "expected [blackhole|prohibit|unreachable|throw] default|PREFIX [via GW] [dev IFACE] [metric N]";
    let mut words = text.split_whitespace().peekable();
    let kind = match words.peek().and_then(|w| RouteKind::from_name(w)) {
        Some(kind) => {
            words.next();
            kind
        }
        None => RouteKind::Unicast,
    };
    let destination = match words.next() {
        None if kind == RouteKind::Unicast => return Err(format!("an empty route: {SHAPE}")),
        None => return Err(format!("a {kind} route needs a destination: {kind} default|PREFIX")),
        Some("default") => None,
        Some(prefix) => Some(
            prefix
                .parse::<IpNet>()
                .or_else(|_| prefix.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("{prefix:?} is not a destination: default or a prefix (1.1.1.0/24); {SHAPE}"))?
                .trunc(),
        ),
    };
    let mut route = Route {
        kind,
        destination: destination.unwrap_or_else(|| IpNet::V4(Default::default())),
        via: None,
        dev: None,
        metric: None,
    };
    while let Some(word) = words.next() {
        let value = words.next().ok_or_else(|| format!("{word:?} needs a value"))?;
        match word {
            "via" | "dev" if kind != RouteKind::Unicast => {
                return Err(format!(
                    "a {kind} route takes no `{word}`: it refuses what it matches instead of sending it anywhere"
                ))
            }
            "via" => {
                route.via = Some(
                    value
                        .parse()
                        .map_err(|_| format!("{value:?} is not a gateway address"))?,
                )
            }
            "dev" => route.dev = Some(value.to_string()),
            "metric" => route.metric = Some(value.parse().map_err(|_| format!("{value:?} is not a metric"))?),
            other => {
                return Err(format!(
                    "unknown word {other:?} in a route: expected via, dev or metric"
                ))
            }
        }
    }
    if kind == RouteKind::Unicast && route.via.is_none() && route.dev.is_none() {
        return Err(format!(
            "a route needs a gateway (via GW) or an interface (dev IFACE), or a type ({}) first",
            RouteKind::REFUSING.map(|k| k.name()).join(", ")
        ));
    }
    // `default` takes the family of its gateway.
    if destination.is_none() && route.via.is_some_and(|v| v.is_ipv6()) {
        route.destination = IpNet::V6(Default::default());
    }
    Ok(route)
}
