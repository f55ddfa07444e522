//! IPv4 and IPv6 routes: add, replace, delete, list, and the kernel's own
//! lookup (`ip route get`).

use crate::addr::family_of;
use crate::error::NetError;
use crate::socket::{Netlink, Request};
use ipnet::IpNet;
use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteFlags, RouteHeader, RouteMessage, RouteNextHop, RouteNextHopFlags,
    RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use rustix::io::Errno;
use std::net::IpAddr;

/// What a route does with what it matches: forwards it (unicast), or
/// refuses it, each type in its own way (see [`RouteKind::refusal`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RouteKind {
    #[default]
    Unicast,
    /// Dropped without a word.
    Blackhole,
    /// Refused as administratively prohibited.
    Prohibit,
    /// Refused as unreachable (host unreachable over IPv4).
    Unreachable,
    /// The lookup goes on in the next table of the policy rules.
    Throw,
}

impl RouteKind {
    /// The types a route can be given, as `ip route` spells them.
    pub const REFUSING: [RouteKind; 4] = [
        RouteKind::Blackhole,
        RouteKind::Prohibit,
        RouteKind::Unreachable,
        RouteKind::Throw,
    ];

    pub fn name(self) -> &'static str {
        match self {
            RouteKind::Unicast => "unicast",
            RouteKind::Blackhole => "blackhole",
            RouteKind::Prohibit => "prohibit",
            RouteKind::Unreachable => "unreachable",
            RouteKind::Throw => "throw",
        }
    }

    pub fn from_name(word: &str) -> Option<RouteKind> {
        [RouteKind::Unicast]
            .into_iter()
            .chain(RouteKind::REFUSING)
            .find(|k| k.name() == word)
    }

    /// The kernel's answer to a packet such a route matches, seen on this
    /// kernel with iputils: what a local sender's connect or send fails
    /// with, and what a router sends back (IPv4, IPv6). `None` for unicast.
    pub fn refusal(self) -> Option<Refusal> {
        let (errno, v4, v6) = match self {
            RouteKind::Unicast => return None,
            RouteKind::Blackhole => (Errno::INVAL, None, None),
            RouteKind::Prohibit => (
                Errno::ACCESS,
                Some("packet filtered"),
                Some("administratively prohibited"),
            ),
            RouteKind::Unreachable => (
                Errno::HOSTUNREACH,
                Some("destination host unreachable"),
                Some("no route"),
            ),
            // In the main table, with no rule after it: no route at all.
            RouteKind::Throw => (Errno::NETUNREACH, Some("destination net unreachable"), Some("no route")),
        };
        Some(Refusal { errno, v4, v6 })
    }

    /// The refusing type whose error `errno` is (throw for ENETUNREACH,
    /// which is also what no route at all answers).
    pub fn refusing_with(errno: Option<i32>) -> Option<RouteKind> {
        RouteKind::REFUSING
            .into_iter()
            .find(|k| k.refusal().map(|r| r.errno.raw_os_error()) == errno)
    }

    fn netlink(self) -> RouteType {
        match self {
            RouteKind::Unicast => RouteType::Unicast,
            RouteKind::Blackhole => RouteType::BlackHole,
            RouteKind::Prohibit => RouteType::Prohibit,
            RouteKind::Unreachable => RouteType::Unreachable,
            RouteKind::Throw => RouteType::Throw,
        }
    }
}

impl std::fmt::Display for RouteKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// How the kernel refuses a packet a route of a refusing type matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    /// The error of a local sender's connect or send.
    pub errno: Errno,
    /// The ICMP error a router sends back, as iputils words it (lower
    /// case); `None`: it sends nothing.
    pub v4: Option<&'static str>,
    pub v6: Option<&'static str>,
}

/// A route to add, replace or delete.
#[derive(Debug, Clone, Default)]
pub struct RouteSpec<'a> {
    /// The destination; 0.0.0.0/0 (or ::/0) is the default route.
    pub destination: Option<IpNet>,
    pub gateway: Option<IpAddr>,
    /// The outgoing interface.
    pub dev: Option<&'a str>,
    /// Use the gateway even if no address of `dev` covers it.
    pub onlink: bool,
    pub metric: Option<u32>,
    /// Routing table; the main table when `None`.
    pub table: Option<u32>,
    /// Scope; like `ip`, link for a route without a gateway, global otherwise.
    pub scope: Option<RouteScope>,
    /// Several next hops (equal-cost multipath), instead of `gateway`/`dev`.
    pub nexthops: Vec<NextHop<'a>>,
    /// Unicast, or a type that refuses what it matches.
    pub kind: RouteKind,
}

/// One next hop of a multipath route.
#[derive(Debug, Clone, Default)]
pub struct NextHop<'a> {
    pub gateway: Option<IpAddr>,
    pub dev: Option<&'a str>,
    /// Relative weight, 1 to 256 (as `ip route ... nexthop weight N`).
    pub weight: u16,
}

/// A route as the kernel reports it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Route {
    pub destination: IpNet,
    pub gateway: Option<IpAddr>,
    /// The gateways of a multipath route (empty otherwise).
    pub nexthops: Vec<IpAddr>,
    /// The outgoing interface's index.
    pub oif: Option<u32>,
    pub prefsrc: Option<IpAddr>,
    pub metric: Option<u32>,
    pub table: u32,
    /// `unicast`, `local`, `broadcast`, `unreachable`...
    pub kind: String,
    pub scope: String,
    pub protocol: String,
}

/// A route's protocol as `ip route` names it: the names of iproute2's
/// tables (/etc/iproute2/rt_protos, and rt_protos.d where packages add
/// theirs: FRR's `static` is 196), else the number.
fn protocol_name(protocol: RouteProtocol) -> String {
    static NAMES: std::sync::OnceLock<std::collections::HashMap<u8, String>> = std::sync::OnceLock::new();
    let number = u8::from(protocol);
    let names = NAMES.get_or_init(|| {
        let mut files = vec![std::path::PathBuf::from("/etc/iproute2/rt_protos")];
        if let Ok(dir) = std::fs::read_dir("/etc/iproute2/rt_protos.d") {
            let mut added: Vec<_> = dir
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "conf"))
                .collect();
            added.sort();
            files.extend(added);
        }
        let mut names = std::collections::HashMap::new();
        for file in files {
            for line in std::fs::read_to_string(file).unwrap_or_default().lines() {
                let mut words = line.split_whitespace();
                if let (Some(n), Some(name)) = (words.next(), words.next()) {
                    if let Ok(n) = n.parse::<u8>() {
                        names.insert(n, name.to_string());
                    }
                }
            }
        }
        names
    });
    match names.get(&number) {
        Some(name) => name.clone(),
        None => match protocol {
            RouteProtocol::Other(n) => n.to_string(),
            known => format!("{known:?}").to_lowercase(),
        },
    }
}

fn ip_of(addr: &RouteAddress) -> Option<IpAddr> {
    match addr {
        RouteAddress::Inet(ip) => Some(IpAddr::V4(*ip)),
        RouteAddress::Inet6(ip) => Some(IpAddr::V6(*ip)),
        _ => None,
    }
}

fn route_address(ip: IpAddr) -> RouteAddress {
    match ip {
        IpAddr::V4(v4) => RouteAddress::Inet(v4),
        IpAddr::V6(v6) => RouteAddress::Inet6(v6),
    }
}

const MAIN_TABLE: u32 = RouteHeader::RT_TABLE_MAIN as u32;

/// The message for `spec`, but for its interface (which needs a lookup).
pub(crate) fn message_without_dev(spec: &RouteSpec<'_>) -> RouteMessage {
    let destination = match (spec.destination, spec.gateway) {
        (Some(d), _) => d,
        (None, Some(IpAddr::V6(_))) => "::/0".parse().expect("valid"),
        (None, _) => "0.0.0.0/0".parse().expect("valid"),
    };
    let mut msg = RouteMessage::default();
    msg.header.address_family = family_of(&destination.addr());
    msg.header.destination_prefix_length = destination.prefix_len();
    let has_gateway = spec.gateway.is_some() || spec.nexthops.iter().any(|n| n.gateway.is_some());
    let table = spec.table.unwrap_or(MAIN_TABLE);
    msg.header.table = if table < 256 { table as u8 } else { 0 };
    // As ip: routes a person adds are "boot" routes, and a unicast one is
    // of link scope when it has no gateway (the other types: global).
    msg.header.protocol = RouteProtocol::Boot;
    msg.header.kind = spec.kind.netlink();
    msg.header.scope = spec.scope.unwrap_or(if has_gateway || spec.kind != RouteKind::Unicast {
        RouteScope::Universe
    } else {
        RouteScope::Link
    });
    if spec.onlink {
        msg.header.flags = RouteFlags::Onlink;
    }
    if table >= 256 {
        msg.attributes.push(RouteAttribute::Table(table));
    }
    if destination.prefix_len() > 0 {
        msg.attributes
            .push(RouteAttribute::Destination(route_address(destination.network())));
    }
    if let Some(gw) = spec.gateway {
        msg.attributes.push(RouteAttribute::Gateway(route_address(gw)));
    }
    if let Some(metric) = spec.metric {
        msg.attributes.push(RouteAttribute::Priority(metric));
    }
    msg
}

/// The request that adds a route given by gateway alone (the kernel finds
/// the interface; `spec.dev` is not looked up), for sending in a batch.
pub fn add_route_request(spec: &RouteSpec<'_>) -> Request {
    let msg = message_without_dev(spec);
    (
        RouteNetlinkMessage::NewRoute(msg),
        NLM_F_CREATE | NLM_F_EXCL,
        describe("adding", spec),
    )
}

/// The `ip route get` request for `destination`.
pub(crate) fn lookup_message(destination: IpAddr) -> RouteMessage {
    let mut msg = RouteMessage::default();
    msg.header.address_family = family_of(&destination);
    msg.header.destination_prefix_length = if destination.is_ipv4() { 32 } else { 128 };
    // As `ip route get`: report the table the route was found in.
    msg.header.flags = RouteFlags::LookupTable;
    msg.attributes
        .push(RouteAttribute::Destination(route_address(destination)));
    msg
}

impl Netlink {
    fn route_message(&mut self, spec: &RouteSpec<'_>) -> Result<RouteMessage, NetError> {
        let mut msg = message_without_dev(spec);
        if let Some(dev) = spec.dev {
            let index = self.link_index(dev)?;
            msg.attributes.push(RouteAttribute::Oif(index));
        }
        if !spec.nexthops.is_empty() {
            let mut hops = Vec::new();
            for nh in &spec.nexthops {
                let mut hop = RouteNextHop::default();
                hop.hops = nh.weight.clamp(1, 256).saturating_sub(1) as u8;
                if let Some(dev) = nh.dev {
                    hop.interface_index = self.link_index(dev)?;
                }
                if let Some(gw) = nh.gateway {
                    hop.attributes.push(RouteAttribute::Gateway(route_address(gw)));
                }
                if spec.onlink {
                    hop.flags = RouteNextHopFlags::Onlink;
                }
                hops.push(hop);
            }
            msg.attributes.push(RouteAttribute::MultiPath(hops));
        }
        Ok(msg)
    }

    /// Adds a route; fails if it exists.
    pub fn add_route(&mut self, spec: &RouteSpec<'_>) -> Result<(), NetError> {
        let msg = self.route_message(spec)?;
        self.request(RouteNetlinkMessage::NewRoute(msg), NLM_F_CREATE | NLM_F_EXCL, || {
            describe("adding", spec)
        })
    }

    /// Adds a route or replaces the one to the same destination.
    pub fn replace_route(&mut self, spec: &RouteSpec<'_>) -> Result<(), NetError> {
        let msg = self.route_message(spec)?;
        self.request(RouteNetlinkMessage::NewRoute(msg), NLM_F_CREATE | NLM_F_REPLACE, || {
            describe("replacing", spec)
        })
    }

    /// Deletes a route.
    pub fn delete_route(&mut self, spec: &RouteSpec<'_>) -> Result<(), NetError> {
        let mut msg = self.route_message(spec)?;
        // Deleting matches on what is given; an unset scope matches any.
        if spec.scope.is_none() {
            msg.header.scope = RouteScope::NoWhere;
        }
        msg.header.protocol = RouteProtocol::Unspec;
        msg.header.kind = RouteType::Unspec;
        self.request(RouteNetlinkMessage::DelRoute(msg), 0, || describe("deleting", spec))
    }

    /// The routes of `family` in the main table.
    pub fn routes(&mut self, family: AddressFamily) -> Result<Vec<Route>, NetError> {
        Ok(self
            .all_routes(family)?
            .into_iter()
            .filter(|r| r.table == MAIN_TABLE)
            .collect())
    }

    /// The IPv4 and IPv6 routes of the main table.
    pub fn main_routes(&mut self) -> Result<Vec<Route>, NetError> {
        let mut routes = self.routes(AddressFamily::Inet)?;
        routes.extend(self.routes(AddressFamily::Inet6)?);
        Ok(routes)
    }

    /// The routes of `family` in every table (the local table included).
    pub fn all_routes(&mut self, family: AddressFamily) -> Result<Vec<Route>, NetError> {
        let mut msg = RouteMessage::default();
        msg.header.address_family = family;
        let replies = self.dump(RouteNetlinkMessage::GetRoute(msg), || "listing routes".into())?;
        Ok(replies
            .into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewRoute(route) => route_from_message(route),
                _ => None,
            })
            .collect())
    }

    /// The route the kernel would use to reach `destination` (`ip route get`).
    pub fn route_get(&mut self, destination: IpAddr) -> Result<Route, NetError> {
        let msg = lookup_message(destination);
        self.lookup(msg, destination)
    }

    /// The kernel's decision for a packet from `source` to `destination`
    /// that came in on interface `iif` (`ip route get DEST from SRC iif
    /// IFACE`): the input route lookup, reverse-path filtering included
    /// (a refusal: [`NetError::refused_on_input`]).
    pub fn route_get_input(&mut self, destination: IpAddr, source: IpAddr, iif: &str) -> Result<Route, NetError> {
        let index = self.link_index(iif)?;
        let mut msg = lookup_message(destination);
        msg.header.source_prefix_length = if source.is_ipv4() { 32 } else { 128 };
        msg.attributes.push(RouteAttribute::Source(route_address(source)));
        msg.attributes.push(RouteAttribute::Iif(index));
        self.lookup(msg, destination)
    }

    fn lookup(&mut self, msg: RouteMessage, destination: IpAddr) -> Result<Route, NetError> {
        let op = || format!("looking up the route to {destination}");
        match self.query(RouteNetlinkMessage::GetRoute(msg), op)? {
            RouteNetlinkMessage::NewRoute(route) => route_from_message(route)
                .ok_or_else(|| NetError::Protocol(format!("undecodable route to {destination}"))),
            other => Err(NetError::Protocol(format!(
                "unexpected reply to a route lookup: {other:?}"
            ))),
        }
    }
}

fn describe(verb: &str, spec: &RouteSpec<'_>) -> String {
    let kind = match spec.kind {
        RouteKind::Unicast => String::new(),
        other => format!("{other} "),
    };
    let mut text = format!(
        "{verb} route {kind}{}",
        spec.destination.map_or("default".to_string(), |d| d.to_string())
    );
    if let Some(gw) = spec.gateway {
        text.push_str(&format!(" via {gw}"));
    }
    if let Some(dev) = spec.dev {
        text.push_str(&format!(" dev {dev}"));
    }
    text
}

pub(crate) fn route_from_message(msg: RouteMessage) -> Option<Route> {
    let family_default: IpAddr = match msg.header.address_family {
        AddressFamily::Inet6 => "::".parse().expect("valid"),
        _ => "0.0.0.0".parse().expect("valid"),
    };
    let mut route = Route {
        destination: IpNet::new(family_default, 0).ok()?,
        gateway: None,
        nexthops: Vec::new(),
        oif: None,
        prefsrc: None,
        metric: None,
        table: msg.header.table as u32,
        kind: format!("{:?}", msg.header.kind).to_lowercase(),
        scope: match msg.header.scope {
            RouteScope::Universe => "global".into(),
            other => format!("{other:?}").to_lowercase(),
        },
        protocol: protocol_name(msg.header.protocol),
    };
    for attr in msg.attributes {
        match attr {
            RouteAttribute::Destination(addr) => {
                route.destination = IpNet::new(ip_of(&addr)?, msg.header.destination_prefix_length).ok()?
            }
            RouteAttribute::Gateway(addr) => route.gateway = ip_of(&addr),
            RouteAttribute::PrefSource(addr) => route.prefsrc = ip_of(&addr),
            RouteAttribute::Oif(index) => route.oif = Some(index),
            RouteAttribute::Priority(metric) => route.metric = Some(metric),
            RouteAttribute::Table(table) => route.table = table,
            RouteAttribute::MultiPath(hops) => {
                for hop in hops {
                    for attr in hop.attributes {
                        if let RouteAttribute::Gateway(addr) = attr {
                            route.nexthops.extend(ip_of(&addr));
                        }
                    }
                }
            }
            _ => {}
        }
    }
    Some(route)
}

#[cfg(test)]
pub(crate) mod tests_support {
    pub(crate) use super::route_from_message;
}
