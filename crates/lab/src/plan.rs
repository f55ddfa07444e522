//! The plan: what to change so that a running lab becomes what a new
//! version of its file says, without touching what did not change.

use crate::model::{Lab, Route};
use crate::nft_block::NftBlock;
use ipnet::IpNet;
use nsbox_net::firewall::Rule;
use serde::Serialize;
use std::fmt;

/// A node interface: (node, interface).
pub type Port = (String, String);

/// One change, in the words of the lab file.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "op")]
pub enum Op {
    RemoveRule {
        node: String,
        rule: Rule,
    },
    RemoveRoute {
        node: String,
        route: Route,
    },
    RemoveAddress {
        node: String,
        iface: String,
        address: IpNet,
    },
    RemoveLink {
        a: Port,
        b: Port,
    },
    RemovePort {
        bridge: String,
        port: Port,
    },
    RemoveBridge {
        bridge: String,
    },
    RemoveNode {
        node: String,
    },
    AddNode {
        node: String,
    },
    AddBridge {
        bridge: String,
    },
    AddLink {
        a: Port,
        b: Port,
        mtu: Option<u32>,
    },
    AddPort {
        bridge: String,
        port: Port,
        mtu: Option<u32>,
    },
    SetMtu {
        node: String,
        iface: String,
        mtu: u32,
    },
    /// A link end's rate limit set, changed or (`None`) removed.
    SetRate {
        node: String,
        iface: String,
        rate: Option<u64>,
    },
    AddAddress {
        node: String,
        iface: String,
        address: IpNet,
    },
    SetSysctl {
        node: String,
        key: String,
        value: String,
        old: Option<String>,
    },
    /// A sysctl no longer in the file: left as it is (the kernel has no
    /// "unset").
    KeepSysctl {
        node: String,
        key: String,
    },
    AddRoute {
        node: String,
        route: Route,
    },
    AddRule {
        node: String,
        rule: Rule,
    },
    /// The node's own nftables ruleset set, replaced or (`None`) removed:
    /// the tables the old one declares are deleted, the new one loaded.
    SetRuleset {
        node: String,
        ruleset: Option<NftBlock>,
        #[serde(skip)]
        old: Option<NftBlock>,
    },
    /// The node's `run` commands changed: its processes are killed and
    /// the new commands started.
    RestartCommands {
        node: String,
    },
}

impl fmt::Display for Op {
    /// `+ route r2: 10.0.3.0/24 via 10.0.2.2`, `- node x`, `~ sysctl ...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let port = |(n, i): &Port| format!("{n}:{i}");
        match self {
            Op::RemoveRule { node, rule } => write!(f, "- rule {node}: {rule}"),
            Op::RemoveRoute { node, route } => write!(f, "- route {node}: {}", route),
            Op::RemoveAddress { node, iface, address } => write!(f, "- address {node}:{iface} {address}"),
            Op::RemoveLink { a, b } => write!(f, "- link {} -- {}", port(a), port(b)),
            Op::RemovePort { bridge, port: p } => write!(f, "- port {} on bridge {bridge}", port(p)),
            Op::RemoveBridge { bridge } => write!(f, "- bridge {bridge}"),
            Op::RemoveNode { node } => write!(f, "- node {node}"),
            Op::AddNode { node } => write!(f, "+ node {node}"),
            Op::AddBridge { bridge } => write!(f, "+ bridge {bridge}"),
            Op::AddLink { a, b, .. } => write!(f, "+ link {} -- {}", port(a), port(b)),
            Op::AddPort { bridge, port: p, .. } => write!(f, "+ port {} on bridge {bridge}", port(p)),
            Op::SetMtu { node, iface, mtu } => write!(f, "~ mtu {node}:{iface} {mtu}"),
            Op::SetRate { node, iface, rate } => match rate {
                Some(bits) => write!(f, "~ rate {node}:{iface} {bits} bit/s"),
                None => write!(f, "~ rate {node}:{iface} unlimited"),
            },
            Op::AddAddress { node, iface, address } => write!(f, "+ address {node}:{iface} {address}"),
            Op::SetSysctl {
                node, key, value, old, ..
            } => match old {
                Some(old) => write!(f, "~ sysctl {node} {key} {old} -> {value}"),
                None => write!(f, "+ sysctl {node} {key} = {value}"),
            },
            Op::KeepSysctl { node, key } => write!(f, "= sysctl {node} {key} (no longer in the file: left as it is)"),
            Op::AddRoute { node, route } => write!(f, "+ route {node}: {}", route),
            Op::AddRule { node, rule } => write!(f, "+ rule {node}: {rule}"),
            Op::SetRuleset { node, ruleset, old } => match (ruleset, old) {
                (Some(_), None) => write!(f, "+ nftables {node}"),
                (Some(_), Some(_)) => write!(f, "~ nftables {node} (its tables replaced)"),
                (None, _) => write!(f, "- nftables {node}"),
            },
            Op::RestartCommands { node } => write!(f, "~ commands of {node} (restarted)"),
        }
    }
}

/// Items of `a` not in `b`, keeping `a`'s order (and repeats).
fn missing<'a, T: PartialEq>(a: &'a [T], b: &[T]) -> Vec<&'a T> {
    a.iter().filter(|x| !b.contains(x)).collect()
}

/// Every node interface of a lab with its addresses and MTU: (port,
/// addresses, mtu, where), where is `None` for a link end and the bridge's
/// name for a port.
fn ifaces(lab: &Lab) -> Vec<(Port, Vec<IpNet>, Option<u32>)> {
    let name = |n: usize| lab.nodes[n].name.clone();
    let mut out = Vec::new();
    for link in &lab.links {
        for end in &link.ends {
            out.push(((name(end.node), end.iface.clone()), end.addresses.clone(), link.mtu));
        }
    }
    for bridge in &lab.bridges {
        for end in &bridge.ports {
            out.push(((name(end.node), end.iface.clone()), end.addresses.clone(), bridge.mtu));
        }
    }
    for node in &lab.nodes {
        out.push(((node.name.clone(), "lo".into()), node.lo.clone(), None));
    }
    out
}

fn links(lab: &Lab) -> Vec<(Port, Port, Option<u32>)> {
    let name = |n: usize| lab.nodes[n].name.clone();
    lab.links
        .iter()
        .map(|l| {
            let [a, b] = &l.ends;
            ((name(a.node), a.iface.clone()), (name(b.node), b.iface.clone()), l.mtu)
        })
        .collect()
}

/// Each link end's (and bridge port's, on the node's side) rate limit.
fn rates(lab: &Lab) -> Vec<(Port, Option<u64>)> {
    let name = |n: usize| lab.nodes[n].name.clone();
    let links = lab
        .links
        .iter()
        .flat_map(|l| l.ends.iter().map(move |e| (e, l.impairments.rate)));
    let ports = lab
        .bridges
        .iter()
        .flat_map(|b| b.ports.iter().map(move |e| (e, b.impairments.rate)));
    links
        .chain(ports)
        .map(|(e, rate)| ((name(e.node), e.iface.clone()), rate))
        .collect()
}

fn ports(lab: &Lab) -> Vec<(String, Port)> {
    lab.bridges
        .iter()
        .flat_map(|b| {
            b.ports
                .iter()
                .map(move |p| (b.name.clone(), (lab.nodes[p.node].name.clone(), p.iface.clone())))
        })
        .collect()
}

/// The operations that turn the running `old` into `new`: removals first
/// (rules, routes, addresses, links, ports, bridges, nodes), then
/// additions in the order they can be made. Nothing that is the same in
/// both appears.
pub fn plan(old: &Lab, new: &Lab) -> Result<Vec<Op>, String> {
    if old.name != new.name {
        return Err(format!(
            "the file is lab {:?}, the running lab is {:?}: a lab keeps its name",
            new.name, old.name
        ));
    }
    let mut ops = Vec::new();
    let node_of = |lab: &Lab, name: &str| lab.nodes.iter().find(|n| n.name == name).cloned();
    // Removals.
    for node in &old.nodes {
        let Some(new_node) = node_of(new, &node.name) else {
            continue;
        };
        for rule in missing(&node.rules, &new_node.rules) {
            ops.push(Op::RemoveRule {
                node: node.name.clone(),
                rule: rule.clone(),
            });
        }
        for route in missing(&node.routes, &new_node.routes) {
            ops.push(Op::RemoveRoute {
                node: node.name.clone(),
                route: route.clone(),
            });
        }
    }
    let (old_ifaces, new_ifaces) = (ifaces(old), ifaces(new));
    for (port, addresses, _) in &old_ifaces {
        // Addresses go with their interface when it goes.
        if let Some((_, kept, _)) = new_ifaces.iter().find(|(p, ..)| p == port) {
            for address in missing(addresses, kept) {
                ops.push(Op::RemoveAddress {
                    node: port.0.clone(),
                    iface: port.1.clone(),
                    address: *address,
                });
            }
        }
    }
    let same_link = |x: &(Port, Port, Option<u32>), y: &(Port, Port, Option<u32>)| {
        (x.0 == y.0 && x.1 == y.1) || (x.0 == y.1 && x.1 == y.0)
    };
    let (old_links, new_links) = (links(old), links(new));
    let gone_node = |name: &str| node_of(new, name).is_none();
    for link in &old_links {
        let kept = new_links.iter().any(|l| same_link(l, link));
        // A link between two nodes that both go goes with them.
        let with_its_nodes = gone_node(&link.0 .0) && gone_node(&link.1 .0);
        if !kept && !with_its_nodes {
            ops.push(Op::RemoveLink {
                a: link.0.clone(),
                b: link.1.clone(),
            });
        }
    }
    let (old_ports, new_ports) = (ports(old), ports(new));
    let new_bridge = |name: &str| new.bridges.iter().any(|b| b.name == name);
    for (bridge, port) in missing(&old_ports, &new_ports) {
        if new_bridge(bridge) || !gone_node(&port.0) {
            ops.push(Op::RemovePort {
                bridge: bridge.clone(),
                port: port.clone(),
            });
        }
    }
    for bridge in old.bridges.iter().filter(|b| !new_bridge(&b.name)) {
        ops.push(Op::RemoveBridge {
            bridge: bridge.name.clone(),
        });
    }
    for node in old.nodes.iter().filter(|n| gone_node(&n.name)) {
        ops.push(Op::RemoveNode {
            node: node.name.clone(),
        });
    }
    // Additions.
    for node in new.nodes.iter().filter(|n| node_of(old, &n.name).is_none()) {
        ops.push(Op::AddNode {
            node: node.name.clone(),
        });
    }
    let old_bridge = |name: &str| old.bridges.iter().any(|b| b.name == name);
    for bridge in new.bridges.iter().filter(|b| !old_bridge(&b.name)) {
        ops.push(Op::AddBridge {
            bridge: bridge.name.clone(),
        });
    }
    for link in &new_links {
        match old_links.iter().find(|l| same_link(l, link)) {
            None => ops.push(Op::AddLink {
                a: link.0.clone(),
                b: link.1.clone(),
                mtu: link.2,
            }),
            Some(before) if before.2 != link.2 => {
                for end in [&link.0, &link.1] {
                    ops.push(Op::SetMtu {
                        node: end.0.clone(),
                        iface: end.1.clone(),
                        mtu: link.2.unwrap_or(1500),
                    });
                }
            }
            Some(_) => {}
        }
    }
    for (bridge, port) in missing(&new_ports, &old_ports) {
        let mtu = new.bridges.iter().find(|b| &b.name == bridge).and_then(|b| b.mtu);
        ops.push(Op::AddPort {
            bridge: bridge.clone(),
            port: port.clone(),
            mtu,
        });
    }
    let old_rates = rates(old);
    for (port, rate) in rates(new) {
        let before = old_rates.iter().find(|(p, _)| *p == port).and_then(|(_, r)| *r);
        if rate != before {
            ops.push(Op::SetRate {
                node: port.0.clone(),
                iface: port.1.clone(),
                rate,
            });
        }
    }
    for (port, addresses, _) in &new_ifaces {
        let before: &[IpNet] = old_ifaces
            .iter()
            .find(|(p, ..)| p == port)
            .map_or(&[], |(_, a, _)| a.as_slice());
        for address in missing(addresses, before) {
            ops.push(Op::AddAddress {
                node: port.0.clone(),
                iface: port.1.clone(),
                address: *address,
            });
        }
    }
    for node in &new.nodes {
        let before = node_of(old, &node.name);
        let old_sysctls = before.as_ref().map(|n| n.sysctls.clone()).unwrap_or_default();
        for (key, value) in &node.sysctls {
            let old_value = old_sysctls.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
            if old_value.as_ref() != Some(value) {
                ops.push(Op::SetSysctl {
                    node: node.name.clone(),
                    key: key.clone(),
                    value: value.clone(),
                    old: old_value,
                });
            }
        }
        for (key, _) in old_sysctls
            .iter()
            .filter(|(k, _)| !node.sysctls.iter().any(|(n, _)| n == k))
        {
            ops.push(Op::KeepSysctl {
                node: node.name.clone(),
                key: key.clone(),
            });
        }
        let (old_routes, old_rules, old_run, old_ruleset, old_router, old_binds) = before
            .map(|n| (n.routes, n.rules, n.run, n.nftables, n.router, n.container_binds))
            .unwrap_or_default();
        if node.nftables != old_ruleset {
            ops.push(Op::SetRuleset {
                node: node.name.clone(),
                ruleset: node.nftables.clone(),
                old: old_ruleset,
            });
        }
        for route in missing(&node.routes, &old_routes) {
            ops.push(Op::AddRoute {
                node: node.name.clone(),
                route: route.clone(),
            });
        }
        for rule in missing(&node.rules, &old_rules) {
            ops.push(Op::AddRule {
                node: node.name.clone(),
                rule: rule.clone(),
            });
        }
        // A router's configuration is read at its daemons' start: a new
        // one restarts them.
        let router_changed = node.router.is_some() && node.router != old_router;
        // So are a container's binds, at its start.
        let binds_changed = node.container_binds != old_binds;
        if router_changed || binds_changed || (node.run != old_run && !(node.run.is_empty() && old_run.is_empty())) {
            ops.push(Op::RestartCommands {
                node: node.name.clone(),
            });
        }
    }
    Ok(ops)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn lab(text: &str) -> Lab {
        crate::load::parse(Path::new("t.yaml"), text).unwrap().0
    }

    const A: &str = "name: t
nodes:
  a: {routes: [default via 10.0.0.2]}
  b: {forwarding: true, lo: [2.2.2.2/32]}
links:
  - endpoints: [a 10.0.0.1/24, b 10.0.0.2/24]
";

    fn texts(ops: &[Op]) -> Vec<String> {
        ops.iter().map(|o| o.to_string()).collect()
    }

    #[test]
    fn the_same_file_plans_nothing() {
        assert_eq!(plan(&lab(A), &lab(A)).unwrap(), vec![]);
    }

    #[test]
    fn a_changed_route_and_rule_are_replaced_and_nothing_else() {
        let b = A.replace("default via 10.0.0.2", "10.9.0.0/16 via 10.0.0.2").replace(
            "b: {forwarding: true,",
            "b: {forwarding: true, nat: [masquerade -o eth0],",
        );
        assert_eq!(
            texts(&plan(&lab(A), &lab(&b)).unwrap()),
            [
                "- route a: default via 10.0.0.2",
                "+ route a: 10.9.0.0/16 via 10.0.0.2",
                "+ rule b: postrouting: -o eth0 -> masquerade",
            ]
        );
    }

    #[test]
    fn a_new_node_with_its_link_and_addresses() {
        let b = A.replace("links:", "  c: {}\nlinks:") + "  - endpoints: [b 10.0.1.1/24, c 10.0.1.2/24]\n";
        assert_eq!(
            texts(&plan(&lab(A), &lab(&b)).unwrap()),
            [
                "+ node c",
                "+ link b:eth1 -- c:eth0",
                "+ address b:eth1 10.0.1.1/24",
                "+ address c:eth0 10.0.1.2/24",
                // Said even where the file is silent (see load::nodes).
                "+ sysctl c net.ipv4.ip_forward = 0",
                "+ sysctl c net.ipv6.conf.all.forwarding = 0",
            ]
        );
    }

    #[test]
    fn a_removed_node_takes_its_links_and_addresses_along() {
        let b = "name: t\nnodes:\n  a: {}\n";
        assert_eq!(
            texts(&plan(&lab(A), &lab(b)).unwrap()),
            ["- route a: default via 10.0.0.2", "- link a:eth0 -- b:eth0", "- node b"],
            "a's address goes with its interface, not written out"
        );
    }

    #[test]
    fn addresses_sysctls_mtus_and_commands_change_in_place() {
        let b = A
            .replace("10.0.0.1/24,", "10.0.0.1/24 fd00::1/64,")
            .replace("forwarding: true", "forwarding: false")
            .replace("lo: [2.2.2.2/32]", "lo: [2.2.2.3/32], run: [sleep 1000]")
            + "    mtu: 1400\n";
        assert_eq!(
            texts(&plan(&lab(A), &lab(&b)).unwrap()),
            [
                "- address b:lo 2.2.2.2/32",
                "~ mtu a:eth0 1400",
                "~ mtu b:eth0 1400",
                "+ address a:eth0 fd00::1/64",
                "+ address b:lo 2.2.2.3/32",
                "~ sysctl b net.ipv4.ip_forward 1 -> 0",
                "~ sysctl b net.ipv6.conf.all.forwarding 1 -> 0",
                "~ commands of b (restarted)",
            ]
        );
    }

    #[test]
    fn bridges_and_ports_come_and_go() {
        let with_bridge = A.to_string() + "bridges:\n  lan: {endpoints: [a 10.1.0.1/24, b 10.1.0.2/24]}\n";
        assert_eq!(
            texts(&plan(&lab(A), &lab(&with_bridge)).unwrap()),
            [
                "+ bridge lan",
                "+ port a:eth1 on bridge lan",
                "+ port b:eth1 on bridge lan",
                "+ address a:eth1 10.1.0.1/24",
                "+ address b:eth1 10.1.0.2/24",
            ]
        );
        assert_eq!(
            texts(&plan(&lab(&with_bridge), &lab(A)).unwrap()),
            [
                "- port a:eth1 on bridge lan",
                "- port b:eth1 on bridge lan",
                "- bridge lan"
            ]
        );
    }

    #[test]
    fn rates_are_set_changed_and_lifted_on_both_ends() {
        let limited = A.to_string() + "    rate: 10mbit\n";
        assert_eq!(
            texts(&plan(&lab(A), &lab(&limited)).unwrap()),
            ["~ rate a:eth0 10000000 bit/s", "~ rate b:eth0 10000000 bit/s"]
        );
        assert_eq!(
            texts(&plan(&lab(&limited), &lab(A)).unwrap()),
            ["~ rate a:eth0 unlimited", "~ rate b:eth0 unlimited"]
        );
    }

    #[test]
    fn a_lab_keeps_its_name() {
        let err = plan(&lab(A), &lab(&A.replace("name: t", "name: u"))).unwrap_err();
        assert!(err.contains("a lab keeps its name"), "{err}");
    }
}
