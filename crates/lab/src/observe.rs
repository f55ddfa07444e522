//! What of a running lab is really there: the lab as it was brought up,
//! less whatever has gone from the kernel since (a namespace deleted, a
//! route or rule removed by hand). Planning from this makes `apply` put
//! back what went missing, not only what the file changed.

use crate::deploy::{self, net_err, LabError, NodeHandle};
use crate::model::Lab;
use nsbox_ns::netns::Registry;
use std::os::fd::AsFd;

/// `recorded` as the kernel holds it now.
pub fn observe(recorded: &Lab, registry: &Registry) -> Result<Lab, LabError> {
    let mut lab = recorded.clone();
    let mut present = Vec::new();
    for (i, node) in recorded.nodes.iter().enumerate() {
        let netns = recorded.netns(i);
        let Ok(fd) = registry.open(&netns) else {
            continue;
        };
        let nl = nsbox_net::Netlink::open_in(fd.as_fd()).map_err(net_err(&node.name, "opening its netlink socket"))?;
        present.push((
            i,
            NodeHandle {
                name: node.name.clone(),
                fd,
                nl,
            },
        ));
    }
    let alive: Vec<usize> = present.iter().map(|(i, _)| *i).collect();
    // A namespace deleted by hand (`ip netns del`) is torn down by the
    // kernel after the command returns: the ends of its links in live
    // nodes linger a moment. Wait for them, so they are not taken for
    // links that still run.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    for (i, handle) in present.iter_mut() {
        let orphans: Vec<&str> = recorded
            .links
            .iter()
            .filter(|l| l.ends.iter().any(|e| !alive.contains(&e.node)))
            .flat_map(|l| l.ends.iter())
            .filter(|e| e.node == *i)
            .map(|e| e.iface.as_str())
            .collect();
        while !orphans.is_empty() && std::time::Instant::now() < deadline {
            let links = handle.nl.links().unwrap_or_default();
            if !links.iter().any(|l| orphans.contains(&l.name.as_str())) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
    for (i, mut handle) in present {
        let name = &recorded.nodes[i].name;
        let links = handle.nl.links().map_err(net_err(name, "listing links"))?;
        let addresses = handle.nl.addresses().map_err(net_err(name, "listing addresses"))?;
        let routes = handle.nl.main_routes().map_err(net_err(name, "listing routes"))?;
        let has_address = |iface: &str, address: &ipnet::IpNet| {
            links
                .iter()
                .find(|l| l.name == iface)
                .is_some_and(|l| addresses.iter().any(|a| a.index == l.index && a.address == *address))
        };
        let node = &mut lab.nodes[i];
        node.lo.retain(|a| has_address("lo", a));
        node.routes.retain(|r| {
            routes.iter().any(|k| {
                k.destination == r.destination
                    && k.kind == r.kind.name()
                    && k.gateway == r.via
                    && (r.metric.is_none() || k.metric == r.metric)
            })
        });
        if !node.rules.is_empty() {
            let present = deploy::firewall(&handle)?
                .present(&node.rules)
                .map_err(|source| LabError::Firewall {
                    node: handle.name.clone(),
                    source,
                })?;
            let mut present = present.into_iter();
            node.rules.retain(|_| present.next().unwrap_or(false));
        }
        let has_link = |iface: &str| links.iter().any(|l| l.name == iface);
        for end in lab.ends_mut() {
            if end.node == i && has_link(&end.iface) {
                let iface = end.iface.clone();
                end.addresses.retain(|a| has_address(&iface, a));
            }
        }
        // An interface that is gone takes its link (or port) with it.
        let gone: Vec<String> = lab
            .ends()
            .filter(|e| e.node == i && !has_link(&e.iface))
            .map(|e| e.iface.clone())
            .collect();
        lab.links
            .retain(|l| !l.ends.iter().any(|e| e.node == i && gone.contains(&e.iface)));
        for bridge in &mut lab.bridges {
            bridge.ports.retain(|p| !(p.node == i && gone.contains(&p.iface)));
        }
    }
    // Bridges live in the switch namespace: without it, none is there.
    if let Some(switch) = recorded.switch_netns() {
        if registry.open(&switch).is_err() {
            lab.bridges.clear();
        }
    }
    // A node whose namespace is gone is not running: it, and what touched
    // it, will be made again.
    let dead: Vec<String> = (0..recorded.nodes.len())
        .filter(|i| !alive.contains(i))
        .map(|i| recorded.nodes[i].name.clone())
        .collect();
    if !dead.is_empty() {
        let keep = |n: usize, lab: &Lab| !dead.contains(&lab.nodes[n].name);
        let snapshot = lab.clone();
        lab.links.retain(|l| l.ends.iter().all(|e| keep(e.node, &snapshot)));
        for bridge in &mut lab.bridges {
            bridge.ports.retain(|p| keep(p.node, &snapshot));
        }
        // Node indexes shift when nodes go: each end's old index becomes
        // its node's place among the nodes that are left.
        lab.nodes.retain(|n| !dead.contains(&n.name));
        let remap: Vec<Option<usize>> = snapshot
            .nodes
            .iter()
            .map(|old| lab.nodes.iter().position(|n| n.name == old.name))
            .collect();
        for end in lab.ends_mut() {
            end.node = remap[end.node].expect("ends of dead nodes were removed");
        }
    }
    Ok(lab)
}
