//! Everything `nsbox show` prints about a network namespace, read in one go.

use crate::addr::Address;
use crate::error::NetError;
use crate::link::Link;
use crate::neigh::Neighbour;
use crate::route::Route;
use crate::socket::Netlink;
use std::collections::BTreeMap;
use std::os::fd::OwnedFd;

/// The sysctls that decide how a namespace forwards and answers, shown
/// with every snapshot (the seed lab turns on the first; the others explain
/// why a packet is dropped or answered).
pub const SHOWN_SYSCTLS: [&str; 6] = [
    "net.ipv4.ip_forward",
    "net.ipv6.conf.all.forwarding",
    "net.ipv4.conf.all.rp_filter",
    "net.ipv4.conf.default.rp_filter",
    "net.ipv4.conf.all.arp_ignore",
    "net.ipv4.ip_default_ttl",
];

/// A network namespace's links, addresses, routes (main table, IPv4 and
/// IPv6), neighbours and the [`SHOWN_SYSCTLS`].
#[derive(Debug, Clone, serde::Serialize)]
pub struct Snapshot {
    pub links: Vec<Link>,
    pub addresses: Vec<Address>,
    pub routes: Vec<Route>,
    /// The neighbour (ARP/NDP) entries: which next hops answered, which did not.
    pub neighbours: Vec<Neighbour>,
    pub sysctls: BTreeMap<String, String>,
}

impl Snapshot {
    /// Reads the namespace `ns` refers to, or the caller's own with `None`.
    pub fn read(ns: Option<&OwnedFd>) -> Result<Self, NetError> {
        // The socket and the sysctls both have to be opened from inside the
        // namespace: one trip of one thread does both.
        let enter = || -> Result<(Netlink, BTreeMap<String, String>), NetError> {
            let sysctls = SHOWN_SYSCTLS
                .iter()
                .filter_map(|key| crate::sysctl::read(key).ok().map(|v| (key.to_string(), v)))
                .collect();
            Ok((Netlink::open()?, sysctls))
        };
        let (mut nl, sysctls) = match ns {
            Some(fd) => nsbox_ns::netns::run_in_fd(fd, enter)??,
            None => enter()?,
        };
        let links = nl.links()?;
        let addresses = nl.addresses()?;
        let routes = nl.main_routes()?;
        let neighbours = nl.neighbours()?;
        Ok(Snapshot {
            links,
            addresses,
            routes,
            neighbours,
            sysctls,
        })
    }

    /// The name of the interface with index `index`, for display.
    pub fn link_name(&self, index: u32) -> Option<&str> {
        self.links.iter().find(|l| l.index == index).map(|l| l.name.as_str())
    }
}
