//! Bringing a lab up (all or nothing) and tearing it down (also after a
//! crash). Every namespace is named `LAB-NODE` under /run/netns, so `ip
//! netns` sees the nodes too.

use crate::model::{End, Lab, Route};
use crate::nft_block::NftBlock;
use crate::owner::Owner;
use crate::state::{State, StateError, Store};
use nsbox_net::addr::add_address_request;
use nsbox_net::firewall::ruleset::RulesetError;
use nsbox_net::firewall::{Firewall, FirewallError};
use nsbox_net::link::{bridge_request, set_up_request, veth_request, LinkChange, VethEnd, VethPeer};
use nsbox_net::route::{add_route_request, RouteSpec};
use nsbox_net::socket::Request;
use nsbox_net::{NetError, Netlink};
use nsbox_ns::netns::{NetnsError, Registry};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::time::{Duration, Instant};

/// How long `down` waits for the kernel to tear the namespaces down.
const TEARDOWN_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error("lab {0:?} is up already (nsbox lab down {0})")]
    AlreadyUp(String),
    #[error("network namespace {0:?} exists already and is not this lab's")]
    NameTaken(String),
    #[error("lab {0:?} is not up")]
    NotUp(String),
    #[error("network namespace {0:?} is not this lab's ({1}): nsbox leaves it alone")]
    NotOurs(String, String),
    #[error("{0} and {1} are not partitioned (nsbox lab partition {0} {1} cuts them apart)")]
    NotPartitioned(String, String),
    #[error("node {node}: {op}: {source}")]
    Net {
        node: String,
        op: &'static str,
        source: NetError,
    },
    #[error("node {node}: {source}")]
    Firewall { node: String, source: FirewallError },
    #[error("node {node}: nft refused its nftables ruleset: {errors}")]
    Ruleset { node: String, errors: String },
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Netns(#[from] NetnsError),
    #[error("tearing the lab down: {0}")]
    Teardown(NetError),
    #[error("node {node}: starting its commands: {source}")]
    Run { node: String, source: std::io::Error },
    #[error("node {node}: its container: {source}")]
    Container {
        node: String,
        source: Box<nsbox_runtime::container::ContainerError>,
    },
    #[error("node {node}: {what} {how} at start: {command}{}", if output.is_empty() { String::new() } else { format!("\n  {output}") })]
    Died {
        node: String,
        what: String,
        command: String,
        how: String,
        /// The end of what it printed.
        output: String,
    },
    /// A router's daemons did not start; `at` is where the lab file makes
    /// the node a router (the CLI puts the file's name before it).
    #[error("line {}, column {}: node {node}: {suite} {how} at start{}", at.0, at.1, if output.is_empty() { String::new() } else { format!(":\n  {output}") })]
    Router {
        node: String,
        at: (u64, u64),
        suite: &'static str,
        how: String,
        /// The end of what the daemons and the start script printed.
        output: String,
    },
    #[error("{what}: {why}")]
    Unsupported { what: String, why: String },
    #[error("node {node}: `{command}` {how}{}", if output.is_empty() { String::new() } else { format!("\n  {output}") })]
    StepCommand {
        node: String,
        command: String,
        /// "exited with status 1 (0 was expected)", ...
        how: String,
        /// The end of what it printed.
        output: String,
    },
}

/// A node's namespace, open, with its netlink socket.
pub struct NodeHandle {
    pub name: String,
    pub fd: OwnedFd,
    pub nl: Netlink,
}

pub(crate) fn net_err<'a>(node: &'a str, op: &'static str) -> impl FnOnce(NetError) -> LabError + 'a {
    move |source| LabError::Net {
        node: node.to_string(),
        op,
        source,
    }
}

/// Removes what an `up` made if it does not finish.
struct Rollback<'a> {
    registry: &'a Registry,
    store: &'a Store,
    state: &'a State,
    armed: bool,
}

impl Drop for Rollback<'_> {
    fn drop(&mut self) {
        if self.armed {
            // Best effort: the error that stopped `up` is what gets reported;
            // `down` can finish the job from the state file if this fails.
            let names = &self.state.namespaces;
            // The containers first: their records and cgroups go through
            // the runtime, not with the state directory.
            crate::services::delete_containers(self.store, &self.state.name);
            if destroy(self.registry, &self.state.name, names, names).is_ok() {
                let _ = self.store.remove(&self.state.name);
            }
        }
    }
}

/// What a teardown did.
#[derive(Debug, Default)]
pub struct Teardown {
    /// The namespaces deleted (they carried the lab's mark).
    pub deleted: Vec<String>,
    /// Namespaces by a name of the lab's that were left alone, and why:
    /// someone else's (no mark of this lab's on them).
    pub left_alone: Vec<(String, String)>,
}

/// Deletes those of `namespaces` that are the lab's (they carry its mark,
/// see [`crate::owner`]) and waits until the kernel has torn them down.
/// Processes still inside (the nodes' `run` commands, or anything started
/// with `lab exec`) are killed first: they would keep their namespace alive.
/// An empty pin file left by a crash is removed only where `recorded` (the
/// names the lab's own state holds) names it. Nothing else is touched.
pub(crate) fn destroy(
    registry: &Registry,
    lab: &str,
    namespaces: &[String],
    recorded: &[String],
) -> Result<Teardown, LabError> {
    destroy_with(registry, lab, namespaces, recorded, Wait::ForKernel)
}

/// Whether a teardown waits for the kernel to release the namespaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Until their devices are gone (what `down` promises).
    ForKernel,
    /// Only unpin them: for a process about to exit that still holds
    /// sockets in them (which keep them alive until it does).
    UnpinOnly,
}

fn destroy_with(
    registry: &Registry,
    lab: &str,
    namespaces: &[String],
    recorded: &[String],
    wait: Wait,
) -> Result<Teardown, LabError> {
    let owners = crate::owner::owners(registry, lab, namespaces)?;
    let mut teardown = Teardown::default();
    let mut ours = Vec::new();
    for (name, owner) in namespaces.iter().zip(owners) {
        match owner {
            Owner::Ours => ours.push(name.clone()),
            Owner::Absent => {}
            Owner::Unpinned if recorded.contains(name) => ours.push(name.clone()),
            Owner::Unpinned => teardown
                .left_alone
                .push((name.clone(), "an empty pin file this lab has no record of".into())),
            Owner::Foreign(why) => teardown.left_alone.push((name.clone(), why)),
        }
    }
    kill_processes(registry, &ours);
    match wait {
        Wait::ForKernel => {
            nsbox_net::teardown::delete_and_wait(registry, &ours, TEARDOWN_TIMEOUT).map_err(LabError::Teardown)?
        }
        Wait::UnpinOnly => ours.iter().try_for_each(|n| registry.delete(n))?,
    }
    teardown.deleted = ours;
    Ok(teardown)
}

/// Kills every process in `namespaces` (and reaps those that are this
/// process's children): they would keep their namespaces alive.
pub(crate) fn kill_processes(registry: &Registry, namespaces: &[String]) {
    crate::services::kill_exec_groups(registry, namespaces);
    // Best effort: a process that survives shows in the teardown's error.
    let _ = registry.kill_all_in(namespaces);
}

/// The sysctls every lab namespace starts with, before its node's own
/// (which may set them back). IPv6 duplicate address detection is off:
/// with it, every IPv6 address (link-local ones too) stays tentative for
/// a second or two after `up`, and a probe then gets no reply or "beyond
/// scope of source address". A lab's addresses are unique by validation;
/// a node that sets `net.ipv6.conf.default.accept_dad: 1` gets DAD back.
/// Interfaces made in the namespace afterwards take `default`'s value.
/// IPv6 addresses are also kept when an interface is set down (as IPv4's
/// are): a step that sets a link down and up again gets the lab's
/// addresses back (`keep_addr_on_down`; the kernel's default flushes
/// them).
///
/// The IPv4 settings that change what a lab does are the kernel's defaults
/// rather than the host's: a new namespace takes the host's
/// `net.ipv4.conf.{all,default}` values (`devconf_inherit_init_net` 0),
/// and hosts change them — systemd's sysctl defaults set loose
/// reverse-path filtering, hardened hosts stop sending and accepting ICMP
/// redirects (the seed lab's S9 expects the router's redirect), and
/// kube-proxy's IPVS mode with strict ARP makes a host answer ARP only for
/// the incoming interface's addresses. A lab gives the same answers on
/// every host; a node that sets one of them in its `sysctls` gets its own
/// value. (Forwarding is said per node, see `load::nodes`.)
pub(crate) const LAB_DEFAULTS: [(&str, &str); 16] = [
    ("net.ipv6.conf.all.accept_dad", "0"),
    ("net.ipv6.conf.default.accept_dad", "0"),
    ("net.ipv6.conf.all.keep_addr_on_down", "1"),
    ("net.ipv6.conf.default.keep_addr_on_down", "1"),
    ("net.ipv4.conf.all.rp_filter", "0"),
    ("net.ipv4.conf.default.rp_filter", "0"),
    ("net.ipv4.conf.all.send_redirects", "1"),
    ("net.ipv4.conf.default.send_redirects", "1"),
    ("net.ipv4.conf.all.accept_redirects", "1"),
    ("net.ipv4.conf.default.accept_redirects", "1"),
    ("net.ipv4.conf.all.secure_redirects", "1"),
    ("net.ipv4.conf.default.secure_redirects", "1"),
    ("net.ipv4.conf.all.arp_ignore", "0"),
    ("net.ipv4.conf.default.arp_ignore", "0"),
    ("net.ipv4.conf.all.arp_announce", "0"),
    ("net.ipv4.conf.default.arp_announce", "0"),
];

/// Makes the lab's namespaces (nodes', then the switch's) on two threads
/// at once (namespace creation is not serialized by the kernel's rtnl
/// lock): each thread makes a namespace, stays in it to set the node's
/// sysctls and open its netlink socket, and goes on to the next.
fn make_namespaces(
    lab: &Lab,
    registry: &Registry,
    namespaces: &[String],
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Vec<NodeHandle>, LabError> {
    const THREADS: usize = 2;
    let done = std::sync::atomic::AtomicUsize::new(0);
    let make = |i: usize| -> Result<NodeHandle, LabError> {
        progress(Progress {
            stage: "namespaces",
            done: done.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            total: namespaces.len(),
        });
        let node = lab.nodes.get(i);
        let name = node.map_or("(bridges)", |n| n.name.as_str());
        let (fd, nl) = crate::owner::make_here(registry, &lab.name, name, &namespaces[i])?;
        if let Some(node) = node {
            node.sysctls
                .iter()
                .try_for_each(|(key, value)| nsbox_net::sysctl::write(key, value))
                .map_err(net_err(name, "setting sysctls"))?;
        }
        Ok(NodeHandle {
            name: name.to_string(),
            fd,
            nl,
        })
    };
    let chunk = namespaces.len().div_ceil(THREADS).max(1);
    let indexes: Vec<usize> = (0..namespaces.len()).collect();
    let made: Vec<Result<Vec<NodeHandle>, LabError>> = std::thread::scope(|scope| {
        let workers: Vec<_> = indexes
            .chunks(chunk)
            .map(|part| scope.spawn(|| part.iter().map(|&i| make(i)).collect()))
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|_| Err(LabError::Netns(NetnsError::ThreadPanicked("lab".into()))))
            })
            .collect()
    });
    let mut nodes = Vec::with_capacity(namespaces.len());
    for part in made {
        nodes.extend(part?);
    }
    Ok(nodes)
}

/// Delay and loss need netem: where the kernel has none, say so before
/// anything is made (never ignore them). Where it has one, nsbox does not
/// set it yet (it could not be tried on the kernel nsbox is built on).
fn refuse_what_cannot_be_made(lab: &Lab) -> Result<(), LabError> {
    let name = |end: &End| format!("{}:{}", lab.nodes[end.node].name, end.iface);
    let wanting = lab
        .links
        .iter()
        .filter(|l| l.impairments.need_netem())
        .map(|l| format!("link {} -- {}", name(&l.ends[0]), name(&l.ends[1])))
        .chain(
            lab.bridges
                .iter()
                .filter(|b| b.impairments.need_netem())
                .map(|b| format!("bridge {}", b.name)),
        )
        .next();
    let Some(what) = wanting else {
        return Ok(());
    };
    Err(LabError::Unsupported {
        what,
        why: why_no_netem(),
    })
}

/// Why delay and loss cannot be had: the kernel lacks netem (asked by
/// adding one in a throwaway namespace), or nsbox does not set it yet.
pub(crate) fn why_no_netem() -> String {
    match nsbox_net::qdisc::probe_netem() {
        Err(kernel) => format!("delay and loss need the netem qdisc, which this kernel does not have ({kernel})"),
        Ok(()) => "delay and loss (netem) are not applied by nsbox yet".to_string(),
    }
}

/// Rate limits: each end of a link, and both ends of each bridge port,
/// send at most the rate.
fn limit_rates(lab: &Lab, nodes: &mut [NodeHandle], mut switch: Option<&mut NodeHandle>) -> Result<(), LabError> {
    let limit = |handle: &mut NodeHandle, iface: &str, rate: u64| {
        let name = handle.name.clone();
        handle
            .nl
            .set_rate_limit(iface, rate)
            .map_err(net_err(&name, "limiting a link's rate"))
    };
    for link in &lab.links {
        if let Some(rate) = link.impairments.rate {
            for end in &link.ends {
                limit(&mut nodes[end.node], &end.iface, rate)?;
            }
        }
    }
    for (b, bridge) in lab.bridges.iter().enumerate() {
        if let Some(rate) = bridge.impairments.rate {
            for (p, port) in bridge.ports.iter().enumerate() {
                limit(&mut nodes[port.node], &port.iface, rate)?;
                if let Some(switch) = switch.as_deref_mut() {
                    limit(switch, &port_name(b, p), rate)?;
                }
            }
        }
    }
    Ok(())
}

/// Starts every node's commands, wave by wave (all at once unless OSPF
/// routers form a cycle: [`crate::start_order`]), watching each wave start
/// (see [`crate::services`]) before the next.
fn start_commands(
    lab: &Lab,
    nodes: &[NodeHandle],
    store: &Store,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<(), LabError> {
    let waves = crate::start_order::waves(lab);
    let runs = |n: &usize| !lab.nodes[*n].run.is_empty();
    let total = (0..lab.nodes.len()).filter(runs).count();
    let mut so_far = 0;
    let mut started = Vec::new();
    let mut running: Option<(Instant, Instant)> = None; // (first wave's, previous wave's)
    for wave in &waves {
        if let Some((first, previous)) = running {
            let at = (first + wave.since_first).max(previous + wave.since_previous);
            std::thread::sleep(at.saturating_duration_since(Instant::now()));
        }
        let mut this = Vec::new();
        for &n in wave.nodes.iter().filter(|n| runs(n)) {
            this.extend(crate::services::start(&lab.nodes[n], &nodes[n], store, &lab.name)?);
        }
        // Routers take a while to start, wave by wave: say how far.
        progress(Progress {
            stage: "nodes started",
            done: so_far,
            total,
        });
        so_far += wave.nodes.iter().filter(|n| runs(n)).count();
        crate::services::await_started(&mut this)?;
        let now = Instant::now();
        running = Some((running.map_or(now, |(first, _)| first), now));
        started.append(&mut this);
    }
    if waves.len() > 1 {
        // A command of an early wave that died while later ones started.
        crate::services::await_started(&mut started)?;
    }
    Ok(())
}

/// Brings `lab` up: namespaces, links, addresses, routes, sysctls, rules.
/// On any failure everything made so far is removed and the error names
/// the node and the operation.
pub fn up(lab: &Lab, file: Option<&Path>, registry: &Registry, store: &Store) -> Result<Vec<NodeHandle>, LabError> {
    up_with_progress(lab, file, registry, store, &|_| {})
}

/// How far `up` has got: a stage, and how much of it is done.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub stage: &'static str,
    pub done: usize,
    pub total: usize,
}

/// [`up`], telling `progress` as namespaces are made and nodes configured
/// (called from the threads that do the work).
pub fn up_with_progress(
    lab: &Lab,
    file: Option<&Path>,
    registry: &Registry,
    store: &Store,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Vec<NodeHandle>, LabError> {
    // Before the lock: a refused lab leaves not even a lock file.
    refuse_what_cannot_be_made(lab)?;
    let _lock = store.lock(&lab.name)?;
    let namespaces = lab.namespaces();
    if let Some(old) = store.read(&lab.name)? {
        if old
            .namespaces
            .iter()
            .any(|n| registry.path(n).is_ok_and(|p| p.exists()))
        {
            return Err(LabError::AlreadyUp(lab.name.clone()));
        }
    }
    for name in &namespaces {
        if registry.path(name)?.exists() {
            // Nothing of this lab runs: leave no lock file behind either.
            store.remove(&lab.name)?;
            return Err(LabError::NameTaken(name.clone()));
        }
    }
    let state = State::of(lab, file, file.and_then(crate::load::source_of));
    // The state names everything before anything exists: `down` finds it
    // all even if this process dies half-way.
    store.write(&state)?;
    let mut rollback = Rollback {
        registry,
        store,
        state: &state,
        armed: true,
    };
    let mut nodes = make_namespaces(lab, registry, &namespaces, progress)?;
    // The switch's handle (when there are bridges) comes after the nodes'.
    let mut switch = (nodes.len() > lab.nodes.len()).then(|| nodes.pop()).flatten();
    configure(lab, &mut nodes, switch.as_mut(), progress)?;
    limit_rates(lab, &mut nodes, switch.as_mut())?;
    start_commands(lab, &nodes, store, progress)?;
    rollback.armed = false;
    Ok(nodes)
}

/// One interface that `up` makes in a node.
struct Iface<'a> {
    end: &'a End,
    /// Chosen at creation, so that nothing has to be looked up.
    index: u32,
    /// Made as the peer of a veth pair, which cannot be created up.
    peer: bool,
    mtu: Option<u32>,
}

/// Every node interface in the order of [`Lab::ends`], with its index: in
/// each node `lo` is 1, then 2, 3, ... in that order.
fn ifaces(lab: &Lab) -> Vec<Iface<'_>> {
    let mut next = vec![2u32; lab.nodes.len()];
    let links = lab.links.iter().flat_map(|l| {
        l.ends
            .iter()
            .enumerate()
            .map(move |(side, end)| (end, side == 1, l.mtu))
    });
    let ports = lab
        .bridges
        .iter()
        .flat_map(|b| b.ports.iter().map(move |end| (end, true, b.mtu)));
    links
        .chain(ports)
        .map(|(end, peer, mtu)| {
            let index = next[end.node];
            next[end.node] += 1;
            Iface { end, index, peer, mtu }
        })
        .collect()
}

pub(crate) fn route_spec(route: &Route) -> RouteSpec<'_> {
    RouteSpec {
        destination: Some(route.destination),
        gateway: route.via,
        dev: route.dev.as_deref(),
        metric: route.metric,
        kind: route.kind,
        ..RouteSpec::default()
    }
}

/// The name of a bridge port in the switch namespace: bridge `b`, port `p`.
fn port_name(b: usize, p: usize) -> String {
    format!("b{b}p{p}")
}

fn configure(
    lab: &Lab,
    nodes: &mut [NodeHandle],
    switch: Option<&mut NodeHandle>,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<(), LabError> {
    let ifaces = ifaces(lab);
    // Links: each veth pair made whole by its first end's node, both ends
    // in their namespaces with their final names and indexes.
    let mut creations: Vec<Vec<Request>> = (0..nodes.len()).map(|_| Vec::new()).collect();
    for pair in ifaces[..2 * lab.links.len()].chunks(2) {
        let (a, b) = (&pair[0], &pair[1]);
        let request = veth_request(
            VethEnd {
                name: &a.end.iface,
                netns: None,
                up: true,
                index: Some(a.index),
            },
            VethPeer {
                name: &b.end.iface,
                netns: Some(nodes[b.end.node].fd.as_fd()),
                index: Some(b.index),
            },
            None,
        )
        .map_err(net_err(&lab.nodes[a.end.node].name, "creating a link"))?;
        creations[a.end.node].push(request);
    }
    for (node, requests) in nodes.iter_mut().zip(creations) {
        if !requests.is_empty() {
            let name = node.name.clone();
            node.nl
                .request_many(requests)
                .map_err(net_err(&name, "creating links"))?;
        }
    }
    if let Some(switch) = switch {
        make_bridges(lab, &ifaces[2 * lab.links.len()..], nodes, switch)?;
    }
    // Then each node in one round trip: lo and the peer ends up, every
    // address, every route that needs no interface looked up.
    for (i, node) in lab.nodes.iter().enumerate() {
        progress(Progress {
            stage: "nodes configured",
            done: i,
            total: lab.nodes.len(),
        });
        let handle = &mut nodes[i];
        let mine: Vec<&Iface> = ifaces.iter().filter(|f| f.end.node == i).collect();
        // `lo` is up already: it was marked (and brought up) when made.
        let mut batch = Vec::new();
        for address in &node.lo {
            batch.push(add_address_request(1, "lo", *address));
        }
        for iface in &mine {
            if iface.peer {
                batch.push(set_up_request(&iface.end.iface, true).map_err(net_err(&node.name, "bringing a link up"))?);
            }
            for address in &iface.end.addresses {
                batch.push(add_address_request(iface.index, &iface.end.iface, *address));
            }
        }
        for route in node.routes.iter().filter(|r| r.dev.is_none()) {
            batch.push(add_route_request(&route_spec(route)));
        }
        handle
            .nl
            .request_many(batch)
            .map_err(net_err(&node.name, "configuring"))?;
        for route in node.routes.iter().filter(|r| r.dev.is_some()) {
            handle
                .nl
                .add_route(&route_spec(route))
                .map_err(net_err(&node.name, "adding a route"))?;
        }
        for iface in mine.iter().filter(|f| f.mtu.is_some()) {
            set_mtu(handle, &iface.end.iface, iface.mtu)?;
        }
        if let Some(block) = &node.nftables {
            load_ruleset(&node.name, block, handle)?;
        }
        if !node.rules.is_empty() {
            firewall(handle)?
                .add(&node.rules)
                .map_err(|source| LabError::Firewall {
                    node: node.name.clone(),
                    source,
                })?;
        }
    }
    Ok(())
}

/// Loads a node's own ruleset. Before nsbox's rules at `up`: both tables
/// are kept side by side (each table's chains see every packet; a drop in
/// either drops it).
pub(crate) fn load_ruleset(node: &str, block: &NftBlock, handle: &NodeHandle) -> Result<(), LabError> {
    nsbox_net::firewall::ruleset::load(&handle.fd, &block.text).map_err(|e| ruleset_error(node, Some(block), e))
}

/// nft's refusal of `block` (or of deleting a ruleset's tables), each
/// error placed in the lab file.
pub(crate) fn ruleset_error(node: &str, block: Option<&NftBlock>, e: RulesetError) -> LabError {
    match e {
        RulesetError::Refused(errors) => LabError::Ruleset {
            node: node.to_string(),
            errors: errors
                .iter()
                .map(|e| match block {
                    Some(block) => {
                        let (line, column) = block.place(e.line, e.column);
                        format!("{} (the lab file's line {line}, column {column})", e.message)
                    }
                    None => e.to_string(),
                })
                .collect::<Vec<_>>()
                .join("; "),
        },
        RulesetError::Run(source) => LabError::Firewall {
            node: node.to_string(),
            source,
        },
    }
}

fn set_mtu(handle: &mut NodeHandle, iface: &str, mtu: Option<u32>) -> Result<(), LabError> {
    let change = LinkChange {
        mtu,
        ..LinkChange::default()
    };
    let name = handle.name.clone();
    handle
        .nl
        .change_link(iface, &change)
        .map_err(net_err(&name, "setting the MTU"))
}

/// The bridges, in the switch namespace in one round trip: each bridge up,
/// then each port a veth pair whose switch end is a bridge port and whose
/// other end is the node's interface.
fn make_bridges(lab: &Lab, ports: &[Iface], nodes: &[NodeHandle], switch: &mut NodeHandle) -> Result<(), LabError> {
    let switch_name = switch.name.clone();
    let err = |op| net_err(&switch_name, op);
    let mut batch = Vec::new();
    let mut next_index = 2 + lab.bridges.len() as u32;
    let mut ports = ports.iter();
    for (b, bridge) in lab.bridges.iter().enumerate() {
        let bridge_index = 2 + b as u32;
        batch.push(bridge_request(&bridge.name, true, Some(bridge_index)).map_err(err("creating a bridge"))?);
        for p in 0..bridge.ports.len() {
            let node_end = ports.next().expect("one iface per bridge port");
            let name = port_name(b, p);
            batch.push(
                veth_request(
                    VethEnd {
                        name: &name,
                        netns: None,
                        up: true,
                        index: Some(next_index),
                    },
                    VethPeer {
                        name: &node_end.end.iface,
                        netns: Some(nodes[node_end.end.node].fd.as_fd()),
                        index: Some(node_end.index),
                    },
                    Some(bridge_index),
                )
                .map_err(err("creating a bridge port"))?,
            );
            next_index += 1;
        }
    }
    switch.nl.request_many(batch).map_err(err("creating bridges"))?;
    for (b, bridge) in lab.bridges.iter().enumerate() {
        if bridge.mtu.is_some() {
            for p in 0..bridge.ports.len() {
                set_mtu(switch, &port_name(b, p), bridge.mtu)?;
            }
        }
    }
    Ok(())
}

/// The node's nsbox table.
pub fn firewall(node: &NodeHandle) -> Result<Firewall, LabError> {
    let fd = node.fd.try_clone().map_err(|e| LabError::Net {
        node: node.name.clone(),
        op: "duplicating its namespace descriptor",
        source: NetError::Socket { step: "dup", source: e },
    })?;
    Ok(Firewall::new(fd))
}

/// Writes sysctls in the node's namespace (from a thread that joins it).
pub fn set_sysctls(node: &NodeHandle, sysctls: &[(String, String)]) -> Result<(), LabError> {
    if sysctls.is_empty() {
        return Ok(());
    }
    let values = sysctls.to_vec();
    let written = nsbox_ns::netns::run_in_fd(&node.fd, move || {
        values
            .iter()
            .try_for_each(|(key, value)| nsbox_net::sysctl::write(key, value))
    })?;
    written.map_err(net_err(&node.name, "setting sysctls"))
}

/// Opens the nodes of a lab that is up.
pub fn open(lab: &Lab, registry: &Registry) -> Result<Vec<NodeHandle>, LabError> {
    (0..lab.nodes.len())
        .map(|i| open_node(registry, &lab.name, &lab.nodes[i].name, &lab.netns(i)))
        .collect()
}

/// Opens one namespace of lab `lab` (node `node`, or the switch), with its
/// netlink socket, if it carries the lab's mark (read through that same
/// socket): probes, explanations, partitions and `apply` work only in the
/// lab's own namespaces, never in one that merely has a node's name.
pub(crate) fn open_node(registry: &Registry, lab: &str, node: &str, netns: &str) -> Result<NodeHandle, LabError> {
    let fd = registry.open(netns).map_err(|e| match e {
        NetnsError::NotFound(_) => LabError::NotUp(lab.to_string()),
        other => LabError::Netns(other),
    })?;
    let mut nl = Netlink::open_in(fd.as_fd()).map_err(net_err(node, "opening its netlink socket"))?;
    match crate::owner::owner_of(&mut nl, lab) {
        Owner::Ours => Ok(NodeHandle {
            name: node.to_string(),
            fd,
            nl,
        }),
        Owner::Foreign(why) => Err(LabError::NotOurs(netns.to_string(), why)),
        Owner::Absent | Owner::Unpinned => Err(LabError::NotUp(lab.to_string())),
    }
}

/// What `down` did.
#[derive(Debug, Default)]
pub struct Down {
    pub teardown: Teardown,
    /// Whether anything of the lab was found (state, or a namespace of its).
    pub found: bool,
    /// The lab's state file, when it could not be read (it is removed all
    /// the same: the lab's namespaces are found by their names and marks).
    pub unreadable_state: Option<StateError>,
}

/// Tears the lab `name` down: every namespace of the lab that carries its
/// mark, found by the names its state records, the names `also` (a lab
/// file's), and the names under /run/netns that start with `LAB-` (so that
/// a lost or corrupt state hides nothing); then its state. Works on what is
/// left after a crash. Namespaces by those names without the lab's mark are
/// someone else's and are left alone (listed in the result).
pub fn down(name: &str, also: &[String], registry: &Registry, store: &Store) -> Result<Down, LabError> {
    down_with(name, also, registry, store, Wait::ForKernel)
}

/// [`down`], waiting for the kernel or not (see [`Wait`]).
pub fn down_with(
    name: &str,
    also: &[String],
    registry: &Registry,
    store: &Store,
    wait: Wait,
) -> Result<Down, LabError> {
    crate::model::check_lab_name(name).map_err(StateError::InvalidName)?;
    let _lock = store.lock(name)?;
    let (state, unreadable_state) = match store.read(name) {
        Ok(state) => (state, None),
        Err(e @ StateError::Io { .. }) => (None, Some(e)),
        Err(e) => return Err(e.into()),
    };
    let recorded: Vec<String> = state.as_ref().map(|s| s.namespaces.clone()).unwrap_or_default();
    let prefix = crate::model::netns_prefix(name);
    let pinned = registry
        .list()?
        .into_iter()
        .map(|n| n.name)
        .filter(|n| n.starts_with(&prefix));
    let mut namespaces = recorded.clone();
    for n in also.iter().cloned().chain(pinned) {
        if !namespaces.contains(&n) {
            namespaces.push(n);
        }
    }
    // The containers first: killed and unrecorded through the runtime.
    crate::services::delete_containers(store, name);
    let teardown = destroy_with(registry, name, &namespaces, &recorded, wait)?;
    let found = state.is_some() || unreadable_state.is_some() || !teardown.deleted.is_empty();
    store.remove(name)?;
    Ok(Down {
        teardown,
        found,
        unreadable_state,
    })
}
