//! A lab as nsbox runs it: checked, resolved, and free of positions.

use ipnet::IpNet;
use nsbox_net::firewall::Rule;
use serde::Serialize;
use std::net::IpAddr;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Lab {
    pub name: String,
    pub nodes: Vec<Node>,
    pub links: Vec<Link>,
    pub expect: Vec<Expect>,
    pub steps: Vec<Step>,
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
}

/// A veth pair between two node interfaces.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Link {
    pub ends: [End; 2],
    pub mtu: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct End {
    /// Index into [`Lab::nodes`].
    pub node: usize,
    pub iface: String,
    pub addresses: Vec<IpNet>,
}

/// A static route: `DEST [via GW] [dev IFACE] [metric N]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Route {
    pub destination: IpNet,
    pub via: Option<IpAddr>,
    pub dev: Option<String>,
    pub metric: Option<u32>,
}

/// What a probe must find.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase", tag = "outcome", content = "reason")]
pub enum Outcome {
    Reachable,
    /// Unreachable, optionally for a given reason (words that the observed
    /// reason must contain: "network unreachable", "net unreachable",
    /// "host unreachable", "no reply", "ttl exceeded").
    Unreachable(Option<String>),
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
    pub outcome: Outcome,
}

/// Changes made to one node by a step.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Change {
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
    pub expect: Vec<Expect>,
}

impl Lab {
    /// The network namespace of a node, also its `ip netns` name.
    pub fn netns(&self, node: usize) -> String {
        netns_name(&self.name, &self.nodes[node].name)
    }

    /// Every interface of a node with its addresses (lo first).
    pub fn interfaces(&self, node: usize) -> Vec<(&str, Vec<IpNet>)> {
        let mut out = vec![("lo", self.nodes[node].lo.clone())];
        for link in &self.links {
            for end in link.ends.iter().filter(|e| e.node == node) {
                out.push((end.iface.as_str(), end.addresses.clone()));
            }
        }
        out
    }
}

/// `LAB-NODE`: the name under /run/netns.
pub fn netns_name(lab: &str, node: &str) -> String {
    format!("{lab}-{node}")
}
