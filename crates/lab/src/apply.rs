//! Applying a plan to a running lab: each operation on the node it names,
//! nodes that nothing touches left alone. If an operation fails, what this
//! apply added is taken away again (removals are not undone) and the error
//! names the operation.

use crate::deploy::{self, net_err as net, LabError, NodeHandle};
use crate::model::Lab;
use crate::plan::Op;
use crate::state::{State, Store};
use nsbox_net::link::{bridge_request, set_up_request, LinkChange, VethEnd, VethPeer};
use nsbox_net::NetError;
use nsbox_ns::netns::{NetnsError, Registry};
use std::collections::BTreeMap;
use std::os::fd::AsFd;
use std::path::Path;

/// The namespaces a running lab is made of, opened as the plan needs them.
struct Running<'a> {
    new: &'a Lab,
    registry: &'a Registry,
    store: &'a Store,
    handles: BTreeMap<String, NodeHandle>,
}

const SWITCH: &str = "(bridges)";

impl Running<'_> {
    fn netns(&self, node: &str) -> String {
        if node == SWITCH {
            self.new
                .switch_netns()
                .unwrap_or_else(|| format!("{}--bridges", self.new.name))
        } else {
            self.new.netns_of(node)
        }
    }

    fn node(&mut self, node: &str) -> Result<&mut NodeHandle, LabError> {
        if !self.handles.contains_key(node) {
            // apply removes links, rules and processes: only in a namespace
            // that carries the lab's mark (see `deploy::open_node`).
            let netns = self.netns(node);
            let handle = deploy::open_node(self.registry, &self.new.name, node, &netns)?;
            self.handles.insert(node.to_string(), handle);
        }
        Ok(self.handles.get_mut(node).expect("inserted above"))
    }

    /// Makes a namespace (a node's or the switch's), marked as the lab's,
    /// `lo` up; on a throwaway thread, which the new namespace is made for.
    fn create(&mut self, node: &str) -> Result<(), LabError> {
        let netns = self.netns(node);
        let (registry, lab, name) = (self.registry.clone(), self.new.name.clone(), node.to_string());
        let made = std::thread::spawn(move || crate::owner::make_here(&registry, &lab, &name, &netns))
            .join()
            .unwrap_or_else(|_| Err(LabError::Netns(NetnsError::ThreadPanicked(node.to_string()))));
        let (fd, nl) = made?;
        let handle = NodeHandle {
            name: node.to_string(),
            fd,
            nl,
        };
        self.handles.insert(node.to_string(), handle);
        Ok(())
    }

    fn remove_namespace(&mut self, node: &str) -> Result<(), LabError> {
        self.handles.remove(node);
        let netns = self.netns(node);
        deploy::destroy(self.registry, &self.new.name, &[netns], &[])?;
        Ok(())
    }

    fn firewall(&mut self, node: &str) -> Result<nsbox_net::firewall::Firewall, LabError> {
        deploy::firewall(self.node(node)?)
    }

    /// A free name for a bridge port in the switch namespace.
    fn free_port_name(&mut self) -> Result<String, LabError> {
        let taken: Vec<String> = self
            .node(SWITCH)?
            .nl
            .links()
            .map_err(net(SWITCH, "listing links"))?
            .into_iter()
            .map(|l| l.name)
            .collect();
        Ok((0..)
            .map(|k| format!("x{k}"))
            .find(|n| !taken.contains(n))
            .expect("some name is free"))
    }

    fn execute(&mut self, op: &Op) -> Result<(), LabError> {
        let fw = |node: &str| {
            let node = node.to_string();
            move |source| LabError::Firewall { node, source }
        };
        match op {
            Op::RemoveRule { node, rule } => {
                self.firewall(node)?.delete_rule(rule).map_err(fw(node))?;
            }
            Op::RemoveRoute { node, route } => {
                let spec = deploy::route_spec(route);
                self.node(node)?
                    .nl
                    .delete_route(&spec)
                    .map_err(net(node, "deleting a route"))?;
            }
            Op::RemoveAddress { node, iface, address } => {
                self.node(node)?
                    .nl
                    .delete_address(iface, *address)
                    .map_err(net(node, "deleting an address"))?;
            }
            Op::RemoveLink { a, b } => {
                // Deleting one end of a veth pair deletes both; use an end
                // whose node stays (the other may be going too).
                let (node, iface) = if self.registry.path(self.netns(&a.0))?.exists() {
                    a
                } else {
                    b
                };
                self.node(node)?
                    .nl
                    .delete_link(iface)
                    .map_err(net(node, "deleting a link"))?;
            }
            Op::RemovePort { port, .. } => {
                let (node, iface) = port;
                self.node(node)?
                    .nl
                    .delete_link(iface)
                    .map_err(net(node, "deleting a bridge port"))?;
            }
            Op::RemoveBridge { bridge } => {
                self.node(SWITCH)?
                    .nl
                    .delete_link(bridge)
                    .map_err(net(SWITCH, "deleting a bridge"))?;
            }
            Op::RemoveNode { node } => self.remove_namespace(node)?,
            Op::AddNode { node } => self.create(node)?,
            Op::AddBridge { bridge } => {
                if !self.registry.path(self.netns(SWITCH))?.exists() {
                    self.create(SWITCH)?;
                }
                let (request, flags, what) =
                    bridge_request(bridge, true, None).map_err(net(SWITCH, "creating a bridge"))?;
                self.node(SWITCH)?
                    .nl
                    .request(request, flags, || what)
                    .map_err(net(SWITCH, "creating a bridge"))?;
            }
            Op::AddLink { a, b, mtu } => {
                let peer_fd = self.node(&b.0)?.fd.try_clone().map_err(dup(&b.0))?;
                self.node(&a.0)?
                    .nl
                    .create_veth(
                        VethEnd {
                            name: &a.1,
                            netns: None,
                            up: true,
                            index: None,
                        },
                        VethPeer {
                            name: &b.1,
                            netns: Some(peer_fd.as_fd()),
                            index: None,
                        },
                        None,
                    )
                    .map_err(net(&a.0, "creating a link"))?;
                self.node(&b.0)?
                    .nl
                    .set_up(&b.1, true)
                    .map_err(net(&b.0, "bringing a link up"))?;
                if let Some(mtu) = mtu {
                    self.set_mtu(&a.0, &a.1, *mtu)?;
                    self.set_mtu(&b.0, &b.1, *mtu)?;
                }
            }
            Op::AddPort { bridge, port, mtu } => {
                let name = self.free_port_name()?;
                let node_fd = self.node(&port.0)?.fd.try_clone().map_err(dup(&port.0))?;
                let switch = self.node(SWITCH)?;
                let master = switch
                    .nl
                    .link_index(bridge)
                    .map_err(net(SWITCH, "finding the bridge"))?;
                switch
                    .nl
                    .create_veth(
                        VethEnd {
                            name: &name,
                            netns: None,
                            up: true,
                            index: None,
                        },
                        VethPeer {
                            name: &port.1,
                            netns: Some(node_fd.as_fd()),
                            index: None,
                        },
                        Some(master),
                    )
                    .map_err(net(SWITCH, "creating a bridge port"))?;
                self.node(&port.0)?
                    .nl
                    .set_up(&port.1, true)
                    .map_err(net(&port.0, "bringing a port up"))?;
                if let Some(mtu) = mtu {
                    self.set_mtu(SWITCH, &name, *mtu)?;
                    self.set_mtu(&port.0, &port.1, *mtu)?;
                }
            }
            Op::SetMtu { node, iface, mtu } => self.set_mtu(node, iface, *mtu)?,
            Op::SetRate { node, iface, rate } => {
                let set = |handle: &mut NodeHandle, iface: &str| {
                    let name = handle.name.clone();
                    match rate {
                        Some(bits) => handle.nl.replace_rate_limit(iface, *bits),
                        None => handle.nl.clear_rate_limit(iface),
                    }
                    .map_err(net(&name, "setting a rate limit"))
                };
                set(self.node(node)?, iface)?;
                // A bridge port is shaped on the switch's side too: that
                // end is the node end's veth peer.
                let on_bridge = self.new.bridges.iter().any(|b| {
                    b.ports
                        .iter()
                        .any(|p| self.new.nodes[p.node].name == *node && p.iface == *iface)
                });
                if on_bridge {
                    let links = self.node(node)?.nl.links().map_err(net(node, "listing links"))?;
                    let peer = links.iter().find(|l| l.name == *iface).and_then(|l| l.peer_index);
                    let switch = self.node(SWITCH)?;
                    let switch_links = switch.nl.links().map_err(net(SWITCH, "listing links"))?;
                    if let Some(port) = switch_links.iter().find(|l| Some(l.index) == peer) {
                        set(switch, &port.name)?;
                    }
                }
            }
            Op::AddAddress { node, iface, address } => {
                let handle = self.node(node)?;
                if iface == "lo" {
                    let (request, flags, what) = set_up_request("lo", true).map_err(net(node, "bringing lo up"))?;
                    handle
                        .nl
                        .request(request, flags, || what)
                        .map_err(net(node, "bringing lo up"))?;
                }
                handle
                    .nl
                    .add_address(iface, *address)
                    .map_err(net(node, "adding an address"))?;
            }
            Op::SetSysctl { node, key, value, .. } => {
                deploy::set_sysctls(self.node(node)?, &[(key.clone(), value.clone())])?;
            }
            Op::KeepSysctl { .. } => {}
            Op::AddRoute { node, route } => {
                let spec = deploy::route_spec(route);
                self.node(node)?
                    .nl
                    .add_route(&spec)
                    .map_err(net(node, "adding a route"))?;
            }
            Op::AddRule { node, rule } => {
                self.firewall(node)?.add(std::slice::from_ref(rule)).map_err(fw(node))?;
            }
            Op::SetRuleset { node, ruleset, old } => {
                let handle = self.node(node)?;
                // The old ruleset's own tables: not nsbox's, not one made by
                // hand in the node.
                let tables = old.as_ref().map(|b| b.tables()).unwrap_or_default();
                nsbox_net::firewall::ruleset::remove_tables(&handle.fd, &tables)
                    .map_err(|e| deploy::ruleset_error(node, None, e))?;
                if let Some(block) = ruleset {
                    deploy::load_ruleset(node, block, handle)?;
                }
            }
            Op::RestartCommands { node } => {
                let netns = self.netns(node);
                deploy::kill_processes(self.registry, &[netns]);
                let (new, store) = (self.new, self.store);
                let spec = new
                    .nodes
                    .iter()
                    .find(|n| &n.name == node)
                    .expect("planned from the lab");
                let handle = self.node(node)?;
                let mut started = crate::services::start(spec, handle, store, &new.name)?;
                crate::services::await_started(&mut started)?;
            }
        }
        Ok(())
    }

    fn set_mtu(&mut self, node: &str, iface: &str, mtu: u32) -> Result<(), LabError> {
        let change = LinkChange {
            mtu: Some(mtu),
            ..LinkChange::default()
        };
        self.node(node)?
            .nl
            .change_link(iface, &change)
            .map_err(net(node, "setting the MTU"))
    }

    /// Takes back what `op` (done by this apply) added; removals stay.
    fn undo(&mut self, op: &Op) -> Result<(), LabError> {
        let inverse = match op {
            Op::AddNode { node } => Op::RemoveNode { node: node.clone() },
            Op::AddBridge { bridge } => Op::RemoveBridge { bridge: bridge.clone() },
            Op::AddLink { a, b, .. } => Op::RemoveLink {
                a: a.clone(),
                b: b.clone(),
            },
            Op::AddPort { bridge, port, .. } => Op::RemovePort {
                bridge: bridge.clone(),
                port: port.clone(),
            },
            Op::AddAddress { node, iface, address } => Op::RemoveAddress {
                node: node.clone(),
                iface: iface.clone(),
                address: *address,
            },
            Op::AddRoute { node, route } => Op::RemoveRoute {
                node: node.clone(),
                route: route.clone(),
            },
            Op::AddRule { node, rule } => Op::RemoveRule {
                node: node.clone(),
                rule: rule.clone(),
            },
            Op::SetRuleset { node, ruleset, old } => Op::SetRuleset {
                node: node.clone(),
                ruleset: old.clone(),
                old: ruleset.clone(),
            },
            Op::SetSysctl {
                node,
                key,
                old: Some(old),
                value,
            } => Op::SetSysctl {
                node: node.clone(),
                key: key.clone(),
                value: old.clone(),
                old: Some(value.clone()),
            },
            _ => return Ok(()),
        };
        self.execute(&inverse)
    }
}

pub(crate) fn dup(node: &str) -> impl FnOnce(std::io::Error) -> LabError + '_ {
    move |e| LabError::Net {
        node: node.to_string(),
        op: "duplicating its namespace descriptor",
        source: NetError::Socket { step: "dup", source: e },
    }
}

/// Why an apply stopped, with what it undid.
#[derive(Debug, thiserror::Error)]
#[error("{op}: {source} ({undone} change{} undone)", if *undone == 1 { "" } else { "s" })]
pub struct ApplyError {
    pub op: String,
    pub source: Box<LabError>,
    pub undone: usize,
}

/// Applies `ops` (planned from the running lab to `new`), then records
/// `new` as the running lab.
pub fn apply(
    new: &Lab,
    source: &str,
    file: &Path,
    ops: &[Op],
    registry: &Registry,
    store: &Store,
) -> Result<(), ApplyError> {
    let lock = store.lock(&new.name).map_err(|e| ApplyError {
        op: "locking the lab".into(),
        source: Box::new(e.into()),
        undone: 0,
    })?;
    let mut running = Running {
        new,
        registry,
        store,
        handles: BTreeMap::new(),
    };
    for (i, op) in ops.iter().enumerate() {
        if let Err(source) = running.execute(op) {
            // The failed operation may have done part of its work (a
            // namespace made, its socket not opened): take that back too.
            let _ = running.undo(op);
            let undone = ops[..i].iter().rev().filter(|done| running.undo(done).is_ok()).count();
            // A switch namespace this apply made for a new bridge is not in
            // the recorded lab: `down` would not find it, so it goes now.
            let recorded = store
                .read(&new.name)
                .ok()
                .flatten()
                .map(|s| s.namespaces)
                .unwrap_or_default();
            let switch = format!("{}--bridges", new.name);
            if !recorded.contains(&switch) && registry.path(&switch).is_ok_and(|p| p.exists()) {
                let _ = deploy::destroy(registry, &new.name, &[switch], &[]);
            }
            return Err(ApplyError {
                op: op.to_string(),
                source: Box::new(source),
                undone,
            });
        }
    }
    // A lab whose last bridge went keeps no switch namespace.
    let switch = format!("{}--bridges", new.name);
    if new.bridges.is_empty() && registry.path(&switch).is_ok_and(|p| p.exists()) {
        let _ = deploy::destroy(registry, &new.name, &[switch], &[]);
    }
    drop(lock);
    let state = State::of(new, Some(file), Some(source.to_string()));
    store.write(&state).map_err(|e| ApplyError {
        op: "recording the lab".into(),
        source: Box::new(e.into()),
        undone: 0,
    })
}
