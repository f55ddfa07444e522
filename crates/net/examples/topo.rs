//! Brings topologies up and down, for BENCHMARKS.md (scripts/bench-net.sh).
//!
//!   topo up|down seed|star N|chain N [--floor]
//!
//! Namespaces are named (pinned under /run/netns), like those of the `ip`
//! scripts it is compared with; run it in a private mount namespace.
//!
//! - nsbox mode: the library as a lab would use it: namespaces made by two
//!   threads at once (their creation is not serialized by the rtnl lock),
//!   each with its netlink socket opened on the spot; every namespace
//!   configured with one batch (one round trip); interface indexes chosen
//!   at creation so that nothing is looked up; teardown unpins every
//!   namespace and waits until the kernel has torn them all down.
//! - floor mode (--floor): the same kernel operations as bare netlink
//!   messages, one at a time, each waiting for its ack, from one thread;
//!   teardown deletes the links one by one (synchronous), then unpins.

use ipnet::IpNet;
use nsbox_net::link::{set_up_request, veth_request, VethEnd, VethPeer};
use nsbox_net::route::{add_route_request, RouteSpec};
use nsbox_net::socket::Request;
use nsbox_net::{addr::add_address_request, NetError, Netlink};
use nsbox_ns::netns::Registry;
use std::os::fd::{AsFd, OwnedFd};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// A namespace made for the topology, with its socket.
struct Made {
    fd: OwnedFd,
    nl: Netlink,
}

/// Makes namespace `name` in the calling thread (which stays in it), pins
/// it, turns forwarding on if asked, and opens its socket.
fn make_here(registry: &Registry, name: &str, forwarding: bool) -> Result<Made> {
    nsbox_sys::unshare_namespaces(libc::CLONE_NEWNET as u64)?;
    registry.pin_current_thread(name)?;
    if forwarding {
        nsbox_net::sysctl::write("net.ipv4.ip_forward", "1")?;
    }
    let flags = rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC;
    let fd = rustix::fs::open("/proc/thread-self/ns/net", flags, rustix::fs::Mode::empty())?;
    Ok(Made {
        fd,
        nl: Netlink::open()?,
    })
}

/// Makes the namespaces `names` on `threads` threads, in order.
fn make_all(registry: &Registry, names: &[String], forwarding: bool, threads: usize) -> Result<Vec<Made>> {
    let chunk = names.len().div_ceil(threads.max(1)).max(1);
    let results: Vec<std::result::Result<Vec<Made>, String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = names
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|n| make_here(registry, n, forwarding).map_err(|e| format!("{n}: {e}")))
                        .collect()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("worker")).collect()
    });
    let mut all = Vec::new();
    for r in results {
        all.extend(r?);
    }
    Ok(all)
}

/// Sends `requests` in one batch, or (floor) one by one.
fn send(nl: &mut Netlink, requests: Vec<Request>, floor: bool) -> std::result::Result<(), NetError> {
    if floor {
        for (msg, flags, op) in requests {
            nl.request(msg, flags, || op)?;
        }
        Ok(())
    } else {
        nl.request_many(requests)
    }
}

fn net(s: &str) -> IpNet {
    s.parse().expect("valid prefix")
}

fn star_names(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("s-{i}")).collect()
}

fn star_up(registry: &Registry, n: usize, floor: bool) -> Result<()> {
    let threads = if floor { 1 } else { 2 };
    let mut hub = make_all(registry, &["s-hub".to_string()], false, 1)?
        .pop()
        .expect("hub");
    let nodes = make_all(registry, &star_names(n), false, threads)?;
    // The bridge is index 2 in the fresh hub; ports follow.
    let mut hub_requests = vec![nsbox_net::link::bridge_request("br0", true, Some(2))?];
    for (i, node) in nodes.iter().enumerate() {
        let port = format!("h{i}");
        hub_requests.push(veth_request(
            VethEnd {
                name: &port,
                netns: None,
                up: true,
                index: None,
            },
            VethPeer {
                name: "eth0",
                netns: Some(node.fd.as_fd()),
                index: Some(2),
            },
            Some(2),
        )?);
    }
    send(&mut hub.nl, hub_requests, floor)?;
    for (i, mut node) in nodes.into_iter().enumerate() {
        let host = i + 1;
        let address = net(&format!("10.{}.{}.{}/8", host >> 16, (host >> 8) & 255, host & 255));
        let requests = vec![
            set_up_request("lo", true)?,
            set_up_request("eth0", true)?,
            add_address_request(2, "eth0", address),
        ];
        send(&mut node.nl, requests, floor)?;
    }
    Ok(())
}

/// The /30 of link `i` of a chain, and its two host addresses.
fn chain_link(i: usize) -> (String, String, String) {
    let base = i * 4;
    let (a, b) = (base / 256 % 256, base % 256);
    let hi = base / 65536;
    (
        format!("10.{hi}.{a}.{b}/30"),
        format!("10.{hi}.{a}.{}", b + 1),
        format!("10.{hi}.{a}.{}", b + 2),
    )
}

fn chain_up(registry: &Registry, n: usize, floor: bool) -> Result<()> {
    let threads = if floor { 1 } else { 2 };
    let names: Vec<String> = (0..n).map(|i| format!("c-{i}")).collect();
    let mut routers = make_all(registry, &names, true, threads)?;
    // Link i joins router i ("right", index 3) to router i+1 ("left", index 2).
    for i in 0..n.saturating_sub(1) {
        let (left, right) = routers.split_at_mut(i + 1);
        let request = veth_request(
            VethEnd {
                name: "right",
                netns: None,
                up: true,
                index: Some(3),
            },
            VethPeer {
                name: "left",
                netns: Some(right[0].fd.as_fd()),
                index: Some(2),
            },
            None,
        )?;
        send(&mut left[i].nl, vec![request], floor)?;
    }
    for (k, router) in routers.iter_mut().enumerate() {
        let mut requests = vec![set_up_request("lo", true)?];
        if k > 0 {
            let (_, gw_left, me) = chain_link(k - 1);
            requests.push(set_up_request("left", true)?);
            requests.push(add_address_request(2, "left", net(&format!("{me}/30"))));
            let _ = gw_left;
        }
        if k + 1 < n {
            let (_, me, _) = chain_link(k);
            requests.push(add_address_request(3, "right", net(&format!("{me}/30"))));
        }
        // Every link not attached to this router: via the neighbour on its side.
        for j in 0..n.saturating_sub(1) {
            let (subnet, _, _) = chain_link(j);
            let gateway = if j + 1 < k {
                chain_link(k - 1).1 // the left neighbour's "right" address
            } else if j > k {
                chain_link(k).2 // the right neighbour's "left" address
            } else {
                continue;
            };
            requests.push(add_route_request(&RouteSpec {
                destination: Some(net(&subnet)),
                gateway: Some(gateway.parse()?),
                ..Default::default()
            }));
        }
        send(&mut router.nl, requests, floor)?;
    }
    Ok(())
}

fn seed_up(registry: &Registry, floor: bool) -> Result<()> {
    let names = ["server", "router", "client"].map(String::from);
    let mut made = make_all(registry, &names, false, if floor { 1 } else { 2 })?;
    let [server, router, client] = &mut made[..] else {
        unreachable!()
    };
    nsbox_ns::netns::run_in_fd(&router.fd, || nsbox_net::sysctl::write("net.ipv4.ip_forward", "1"))??;
    let requests = vec![
        veth_request(
            VethEnd {
                name: "veth-srv",
                netns: None,
                up: true,
                index: Some(2),
            },
            VethPeer {
                name: "vethS",
                netns: Some(server.fd.as_fd()),
                index: Some(2),
            },
            None,
        )?,
        veth_request(
            VethEnd {
                name: "veth-cli",
                netns: None,
                up: true,
                index: Some(3),
            },
            VethPeer {
                name: "vethC",
                netns: Some(client.fd.as_fd()),
                index: Some(2),
            },
            None,
        )?,
        set_up_request("lo", true)?,
        add_address_request(2, "veth-srv", net("10.0.1.1/24")),
        add_address_request(3, "veth-cli", net("10.0.2.1/24")),
        add_route_request(&RouteSpec {
            destination: Some(net("1.1.1.0/24")),
            gateway: Some("10.0.1.2".parse()?),
            ..Default::default()
        }),
        add_route_request(&RouteSpec {
            destination: Some(net("2.2.2.0/24")),
            gateway: Some("10.0.2.2".parse()?),
            ..Default::default()
        }),
    ];
    send(&mut router.nl, requests, floor)?;
    for (host, dev, addr, lo, gw) in [
        (server, "vethS", "10.0.1.2/24", "1.1.1.1/24", "10.0.1.1"),
        (client, "vethC", "10.0.2.2/24", "2.2.2.2/24", "10.0.2.1"),
    ] {
        let requests = vec![
            set_up_request("lo", true)?,
            set_up_request(dev, true)?,
            add_address_request(2, dev, net(addr)),
            add_address_request(1, "lo", net(lo)),
            add_route_request(&RouteSpec {
                gateway: Some(gw.parse()?),
                ..Default::default()
            }),
        ];
        send(&mut host.nl, requests, floor)?;
    }
    Ok(())
}

/// Tears a topology down.
///
/// nsbox: unpins every namespace at once and waits (through sentinels, see
/// `nsbox_net::teardown`) until the kernel has torn them all down: the
/// kernel then unregisters every device of every namespace under one RCU
/// grace period. The floor deletes the links `links` one request at a time
/// (each waits for its own grace period, ~19 ms here), then unpins.
fn down(registry: &Registry, links: &[(&str, Vec<String>)], names: &[String], floor: bool) -> Result<()> {
    if !floor {
        nsbox_net::teardown::delete_and_wait(registry, names, std::time::Duration::from_secs(60))?;
        return Ok(());
    }
    use netlink_packet_route::link::{LinkAttribute, LinkMessage};
    for (ns, devs) in links {
        let mut nl = Netlink::open_named(registry, ns)?;
        let requests = devs
            .iter()
            .map(|d| {
                let mut msg = LinkMessage::default();
                msg.attributes.push(LinkAttribute::IfName(d.clone()));
                (
                    netlink_packet_route::RouteNetlinkMessage::DelLink(msg),
                    0,
                    format!("deleting {d}"),
                )
            })
            .collect();
        send(&mut nl, requests, true)?;
    }
    for name in names {
        registry.delete(name)?;
    }
    Ok(())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let floor = args.iter().any(|a| a == "--floor");
    let args: Vec<&str> = args.iter().filter(|a| *a != "--floor").map(String::as_str).collect();
    let registry = Registry::default();
    let n = |i: usize| -> Result<usize> { Ok(args.get(i).ok_or("missing N")?.parse()?) };
    match args.as_slice() {
        ["up", "seed"] => seed_up(&registry, floor),
        ["up", "star", _] => star_up(&registry, n(2)?, floor),
        ["up", "chain", _] => chain_up(&registry, n(2)?, floor),
        ["down", "seed"] => {
            let names = ["server", "router", "client"].map(String::from);
            down(
                &registry,
                &[("router", vec!["veth-srv".into(), "veth-cli".into()])],
                &names,
                floor,
            )
        }
        ["down", "star", _] => {
            let n = n(2)?;
            let ports = (0..n).map(|i| format!("h{i}")).collect();
            let mut names = star_names(n);
            names.push("s-hub".into());
            down(&registry, &[("s-hub", ports)], &names, floor)
        }
        ["down", "chain", _] => {
            let n = n(2)?;
            let names: Vec<String> = (0..n).map(|i| format!("c-{i}")).collect();
            let links: Vec<(&str, Vec<String>)> = names
                .iter()
                .take(n.saturating_sub(1))
                .map(|r| (r.as_str(), vec!["right".to_string()]))
                .collect();
            down(&registry, &links, &names, floor)
        }
        _ => Err("usage: topo up|down seed|star N|chain N [--floor]".into()),
    }
}
