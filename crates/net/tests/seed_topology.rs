//! The seed's server / router / client topology built with the library in
//! namespaces of the test's own (anonymous: they die with the test), with
//! iproute2 (`ip -j`, run inside each namespace through nsenter) as the
//! oracle of what the kernel holds.

use ipnet::IpNet;
use nsbox_net::link::{VethEnd, VethPeer};
use nsbox_net::route::RouteSpec;
use nsbox_net::{NetError, Netlink};
use nsbox_ns::netns::{new_anonymous, run_in_fd};
use serde_json::Value;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

macro_rules! require_root {
    () => {
        if !is_root() {
            eprintln!("SKIPPED: this test needs root");
            return;
        }
    };
}

/// `ip -j ARGS` inside the namespace `ns` refers to.
fn ip_json(ns: &OwnedFd, args: &[&str]) -> Value {
    let path = format!("/proc/{}/fd/{}", std::process::id(), ns.as_raw_fd());
    let out = std::process::Command::new("nsenter")
        .arg(format!("--net={path}"))
        .args(["ip", "-j"])
        .args(args)
        .output()
        .expect("nsenter runs");
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("ip -j prints JSON")
}

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

struct Seed {
    server: OwnedFd,
    router: OwnedFd,
    client: OwnedFd,
}

/// Builds the seed topology of seed-lab.md up to S8 (corrected routes).
fn build_seed() -> Seed {
    let seed = Seed {
        server: new_anonymous().unwrap(),
        router: new_anonymous().unwrap(),
        client: new_anonymous().unwrap(),
    };
    let mut router = Netlink::open_in(seed.router.as_fd()).unwrap();
    // Each pair is made from the router with its other end placed directly
    // in the server's or client's namespace, up, with its final name.
    router
        .create_veth(
            VethEnd {
                name: "veth-srv",
                netns: None,
                up: true,
                index: None,
            },
            VethPeer {
                name: "vethS",
                netns: Some(seed.server.as_fd()),
                index: None,
            },
            None,
        )
        .unwrap();
    router
        .create_veth(
            VethEnd {
                name: "veth-cli",
                netns: None,
                up: true,
                index: None,
            },
            VethPeer {
                name: "vethC",
                netns: Some(seed.client.as_fd()),
                index: None,
            },
            None,
        )
        .unwrap();
    router.set_up("lo", true).unwrap();
    router.add_address("veth-srv", net("10.0.1.1/24")).unwrap();
    router.add_address("veth-cli", net("10.0.2.1/24")).unwrap();

    let mut server = Netlink::open_in(seed.server.as_fd()).unwrap();
    server.set_up("lo", true).unwrap();
    server.set_up("vethS", true).unwrap();
    server.add_address("vethS", net("10.0.1.2/24")).unwrap();
    server.add_address("lo", net("1.1.1.1/24")).unwrap();
    server
        .add_route(&RouteSpec {
            gateway: Some("10.0.1.1".parse().unwrap()),
            ..Default::default()
        })
        .unwrap();

    let mut client = Netlink::open_in(seed.client.as_fd()).unwrap();
    client.set_up("lo", true).unwrap();
    client.set_up("vethC", true).unwrap();
    client.add_address("vethC", net("10.0.2.2/24")).unwrap();
    client.add_address("lo", net("2.2.2.2/24")).unwrap();
    client
        .add_route(&RouteSpec {
            gateway: Some("10.0.2.1".parse().unwrap()),
            ..Default::default()
        })
        .unwrap();

    run_in_fd(&seed.router, || nsbox_net::sysctl::write("net.ipv4.ip_forward", "1"))
        .unwrap()
        .unwrap();
    router
        .add_route(&RouteSpec {
            destination: Some(net("1.1.1.0/24")),
            gateway: Some("10.0.1.2".parse().unwrap()),
            ..Default::default()
        })
        .unwrap();
    router
        .add_route(&RouteSpec {
            destination: Some(net("2.2.2.0/24")),
            gateway: Some("10.0.2.2".parse().unwrap()),
            ..Default::default()
        })
        .unwrap();
    seed
}

#[test]
fn seed_topology_matches_iproute2() {
    require_root!();
    let seed = build_seed();

    // Links: names, kinds, state and peers as ip sees them.
    let links = ip_json(&seed.router, &["-d", "link", "show"]);
    let names: Vec<&str> = links
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["ifname"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["lo", "veth-srv", "veth-cli"]);
    for l in links.as_array().unwrap() {
        assert!(l["flags"].as_array().unwrap().iter().any(|f| f == "UP"), "{l}");
    }
    let mut router = Netlink::open_in(seed.router.as_fd()).unwrap();
    let ours = router.links().unwrap();
    assert_eq!(ours.iter().map(|l| l.name.as_str()).collect::<Vec<_>>(), names);
    for (mine, theirs) in ours.iter().zip(links.as_array().unwrap()) {
        assert_eq!(mine.index as u64, theirs["ifindex"].as_u64().unwrap());
        assert_eq!(mine.mtu as u64, theirs["mtu"].as_u64().unwrap());
        assert_eq!(mine.state, theirs["operstate"].as_str().unwrap());
        assert_eq!(mine.kind.as_deref(), theirs["linkinfo"]["info_kind"].as_str());
        assert_eq!(mine.mac.as_deref(), theirs["address"].as_str());
    }

    // Addresses.
    let addrs = ip_json(&seed.server, &["addr", "show"]);
    let mut theirs: Vec<String> = addrs
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|l| l["addr_info"].as_array().unwrap().clone())
        .map(|a| {
            format!(
                "{}/{} {}",
                a["local"].as_str().unwrap(),
                a["prefixlen"],
                a["scope"].as_str().unwrap()
            )
        })
        .collect();
    let mut server = Netlink::open_in(seed.server.as_fd()).unwrap();
    let mut mine: Vec<String> = server
        .addresses()
        .unwrap()
        .iter()
        .map(|a| format!("{} {}", a.address, a.scope))
        .collect();
    theirs.sort();
    mine.sort();
    assert_eq!(mine, theirs);
    assert!(mine.contains(&"10.0.1.2/24 global".to_string()) && mine.contains(&"1.1.1.1/24 global".to_string()));

    // Routes of the main table.
    let routes = ip_json(&seed.router, &["route", "show"]);
    let mut theirs: Vec<String> = routes
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r["dst"].as_str().unwrap(),
                r["gateway"].as_str().unwrap_or("-")
            )
        })
        .collect();
    let mut mine: Vec<String> = router
        .routes(netlink_packet_route::AddressFamily::Inet)
        .unwrap()
        .iter()
        .map(|r| format!("{} {}", r.destination, r.gateway.map_or("-".into(), |g| g.to_string())))
        .collect();
    theirs.sort();
    mine.sort();
    assert_eq!(mine, theirs);
    assert!(mine.contains(&"2.2.2.0/24 10.0.2.2".to_string()), "{mine:?}");

    // The kernel's lookup, as `ip route get` (seed-lab.md acceptance 6).
    let got = router.route_get("2.2.2.2".parse().unwrap()).unwrap();
    assert_eq!(got.gateway, Some("10.0.2.2".parse().unwrap()));
    let ip_got = ip_json(&seed.router, &["route", "get", "2.2.2.2"]);
    assert_eq!(ip_got[0]["gateway"], "10.0.2.2");
    assert_eq!(ip_got[0]["prefsrc"].as_str().unwrap(), got.prefsrc.unwrap().to_string());

    // Forwarding is on in the router only.
    assert_eq!(
        run_in_fd(&seed.router, || nsbox_net::sysctl::read("net.ipv4.ip_forward"))
            .unwrap()
            .unwrap(),
        "1"
    );
    assert_eq!(
        run_in_fd(&seed.server, || nsbox_net::sysctl::read("net.ipv4.ip_forward"))
            .unwrap()
            .unwrap(),
        "0"
    );
}

#[test]
fn refusals_name_the_object_and_change_nothing() {
    require_root!();
    let seed = build_seed();
    let mut router = Netlink::open_in(seed.router.as_fd()).unwrap();
    let before = ip_json(&seed.router, &["addr", "show"]);

    let err = router.add_address("veth-srv", net("10.0.1.1/24")).unwrap_err();
    assert_eq!(err.errno(), Some(libc::EEXIST));
    // The kernel says why in its extended ack; nsbox passes it on.
    assert_eq!(
        err.to_string(),
        "adding address 10.0.1.1/24 to \"veth-srv\": File exists (ipv4: Address already assigned)"
    );

    let err = router
        .add_route(&RouteSpec {
            destination: Some(net("9.9.9.0/24")),
            gateway: Some("10.9.9.9".parse().unwrap()),
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(err.errno(), Some(libc::ENETUNREACH), "{err}");
    assert!(
        err.to_string()
            .starts_with("adding route 9.9.9.0/24 via 10.9.9.9: Network is unreachable"),
        "{err}"
    );

    assert!(
        matches!(router.add_address("nosuchdev", net("10.9.0.1/24")), Err(NetError::NoSuchLink(n)) if n == "nosuchdev")
    );
    let err = router.create_bridge("a-name-over-15-bytes", true).unwrap_err();
    assert!(matches!(err, NetError::BadName(_)), "{err}");
    let err = router
        .create_veth(
            VethEnd {
                name: "veth-srv",
                netns: None,
                up: false,
                index: None,
            },
            VethPeer {
                name: "fresh",
                netns: None,
                index: None,
            },
            None,
        )
        .unwrap_err();
    assert_eq!(err.errno(), Some(libc::EEXIST), "{err}");

    assert_eq!(
        ip_json(&seed.router, &["addr", "show"]),
        before,
        "a refused operation changed the namespace"
    );
    assert_eq!(router.links().unwrap().len(), 3, "no half-made veth");
}

#[test]
fn bridges_ports_rename_and_delete() {
    require_root!();
    let ns = new_anonymous().unwrap();
    let other = new_anonymous().unwrap();
    let mut nl = Netlink::open_in(ns.as_fd()).unwrap();
    nl.create_bridge("br0", true).unwrap();
    let br = nl.link_index("br0").unwrap();
    nl.create_veth(
        VethEnd {
            name: "p0",
            netns: None,
            up: true,
            index: None,
        },
        VethPeer {
            name: "p0-peer",
            netns: Some(other.as_fd()),
            index: None,
        },
        Some(br),
    )
    .unwrap();
    let links = ip_json(&ns, &["link", "show", "p0"]);
    assert_eq!(links[0]["master"], "br0");
    nl.change_link(
        "p0",
        &nsbox_net::link::LinkChange {
            rename: Some("port0"),
            mtu: Some(1400),
            ..Default::default()
        },
    )
    .unwrap();
    let links = ip_json(&ns, &["link", "show", "port0"]);
    assert_eq!(links[0]["mtu"], 1400);
    nl.delete_link("port0").unwrap();
    // The peer went with it, in the other namespace.
    let theirs = ip_json(&other, &["link", "show"]);
    assert_eq!(theirs.as_array().unwrap().len(), 1, "{theirs}");
}

#[test]
fn neighbours_are_listed_and_flushed() {
    require_root!();
    let seed = build_seed();
    // A ping from the router fills its neighbour table with the server.
    let summary = run_in_fd(&seed.router, || {
        let options = nsbox_net::ping::PingOptions {
            count: 1,
            wait: std::time::Duration::from_secs(2),
            ..Default::default()
        };
        nsbox_net::ping::ping(None, "10.0.1.2".parse().unwrap(), &options, |_| {})
    })
    .unwrap()
    .unwrap();
    assert_eq!(summary.received, 1);
    let mut router = Netlink::open_in(seed.router.as_fd()).unwrap();
    let ours = router.neighbours().unwrap();
    let theirs = ip_json(&seed.router, &["neigh", "show"]);
    let entry = ours
        .iter()
        .find(|n| n.address == "10.0.1.2".parse::<std::net::IpAddr>().unwrap())
        .expect("the server");
    let their_entry = theirs
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["dst"] == "10.0.1.2")
        .unwrap();
    assert_eq!(entry.mac.as_deref(), their_entry["lladdr"].as_str());
    assert_eq!(entry.state, their_entry["state"][0].as_str().unwrap());
    assert!(router.flush_neighbours(None).unwrap() >= 1);
    let left = ip_json(&seed.router, &["-4", "neigh", "show"]);
    assert!(
        left.as_array().unwrap().iter().all(|n| n["dst"] != "10.0.1.2"),
        "{left}"
    );
}

#[test]
fn vxlan_macvlan_and_multipath() {
    require_root!();
    let seed = build_seed();
    let mut router = Netlink::open_in(seed.router.as_fd()).unwrap();
    router
        .create_vxlan(&nsbox_net::link::Vxlan {
            name: "vx42",
            vni: 42,
            remote: Some("10.0.2.2".parse().unwrap()),
            local: Some("10.0.2.1".parse().unwrap()),
            dev: Some("veth-cli"),
            port: 4789,
            up: true,
        })
        .unwrap();
    let vx = ip_json(&seed.router, &["-d", "link", "show", "vx42"]);
    assert_eq!(vx[0]["linkinfo"]["info_kind"], "vxlan");
    assert_eq!(vx[0]["linkinfo"]["info_data"]["id"], 42);
    assert_eq!(vx[0]["linkinfo"]["info_data"]["remote"], "10.0.2.2");

    match router.create_macvlan("mv0", "veth-srv", None) {
        Err(e) if e.errno() == Some(libc::EOPNOTSUPP) => eprintln!("SKIPPED macvlan: this kernel has no macvlan ({e})"),
        other => {
            other.unwrap();
            let mv = ip_json(&seed.router, &["-d", "link", "show", "mv0"]);
            assert_eq!(mv[0]["linkinfo"]["info_kind"], "macvlan");
            assert_eq!(mv[0]["linkinfo"]["info_data"]["mode"], "bridge");
        }
    }

    router
        .add_route(&RouteSpec {
            destination: Some(net("9.9.9.0/24")),
            nexthops: vec![
                nsbox_net::route::NextHop {
                    gateway: Some("10.0.1.2".parse().unwrap()),
                    dev: None,
                    weight: 1,
                },
                nsbox_net::route::NextHop {
                    gateway: Some("10.0.2.2".parse().unwrap()),
                    dev: None,
                    weight: 3,
                },
            ],
            ..Default::default()
        })
        .unwrap();
    let r = ip_json(&seed.router, &["route", "show", "9.9.9.0/24"]);
    let hops = r[0]["nexthops"].as_array().unwrap();
    assert_eq!(hops.len(), 2, "{r}");
    assert_eq!(hops[1]["weight"], 3);
    let ours = router.routes(netlink_packet_route::AddressFamily::Inet).unwrap();
    let mp = ours.iter().find(|r| r.destination == net("9.9.9.0/24")).unwrap();
    assert_eq!(mp.nexthops.len(), 2);
}

/// A batch of requests goes out in few datagrams; every request is tried,
/// and the first refusal comes back named.
#[test]
fn batches_apply_every_request_and_name_the_refused_one() {
    require_root!();
    let seed = build_seed();
    let mut router = Netlink::open_in(seed.router.as_fd()).unwrap();
    let mut batch = Vec::new();
    for i in 0..600u32 {
        let destination = net(&format!("172.{}.{}.0/24", 16 + i / 256, i % 256));
        batch.push(nsbox_net::route::add_route_request(&RouteSpec {
            destination: Some(destination),
            gateway: Some("10.0.2.2".parse().unwrap()),
            ..Default::default()
        }));
        if i == 300 {
            // Unreachable gateway: refused by the kernel.
            batch.push(nsbox_net::route::add_route_request(&RouteSpec {
                destination: Some(net("192.0.2.0/24")),
                gateway: Some("10.9.9.9".parse().unwrap()),
                ..Default::default()
            }));
        }
    }
    let err = router.request_many(batch).unwrap_err();
    assert_eq!(err.errno(), Some(libc::ENETUNREACH));
    assert!(
        err.to_string().starts_with("adding route 192.0.2.0/24 via 10.9.9.9"),
        "{err}"
    );
    let routes = ip_json(&seed.router, &["route", "show"]);
    let added = routes
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["dst"].as_str().unwrap().starts_with("172."))
        .count();
    assert_eq!(added, 600);
}

/// The rest of the link, address and route operations, each checked with ip.
#[test]
fn move_mac_delete_replace() {
    require_root!();
    let seed = build_seed();
    let spare = new_anonymous().unwrap();
    let mut router = Netlink::open_in(seed.router.as_fd()).unwrap();
    // MAC and MTU in one change, then move to another namespace.
    router
        .create_veth(
            VethEnd {
                name: "extra",
                netns: None,
                up: false,
                index: None,
            },
            VethPeer {
                name: "extra-peer",
                netns: None,
                index: None,
            },
            None,
        )
        .unwrap();
    let change = nsbox_net::link::LinkChange {
        mac: Some([0x02, 0, 0, 0, 0, 0x42]),
        mtu: Some(1300),
        ..Default::default()
    };
    router.change_link("extra", &change).unwrap();
    let l = ip_json(&seed.router, &["link", "show", "extra"]);
    assert_eq!(
        (l[0]["address"].as_str(), l[0]["mtu"].as_u64()),
        (Some("02:00:00:00:00:42"), Some(1300))
    );
    router
        .change_link(
            "extra",
            &nsbox_net::link::LinkChange {
                netns: Some(spare.as_fd()),
                ..Default::default()
            },
        )
        .unwrap();
    assert!(ip_json(&spare, &["link", "show"])
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l["ifname"] == "extra"));
    assert!(matches!(router.link_index("extra"), Err(NetError::NoSuchLink(_))));

    // Address delete.
    router.add_address("veth-srv", net("10.0.1.99/24")).unwrap();
    router.delete_address("veth-srv", net("10.0.1.99/24")).unwrap();
    let a = ip_json(&seed.router, &["addr", "show", "veth-srv"]);
    assert!(!a.to_string().contains("10.0.1.99"), "{a}");

    // Route replace and delete.
    let spec = |gw: &str| RouteSpec {
        destination: Some(net("2.2.2.0/24")),
        gateway: Some(gw.parse().unwrap()),
        ..Default::default()
    };
    router.replace_route(&spec("10.0.1.2")).unwrap();
    let r = ip_json(&seed.router, &["route", "show", "2.2.2.0/24"]);
    assert_eq!(r[0]["gateway"], "10.0.1.2", "replaced, not added: {r}");
    assert_eq!(r.as_array().unwrap().len(), 1);
    router.delete_route(&spec("10.0.1.2")).unwrap();
    assert!(ip_json(&seed.router, &["route", "show", "2.2.2.0/24"])
        .as_array()
        .unwrap()
        .is_empty());
    let err = router.delete_route(&spec("10.0.1.2")).unwrap_err();
    assert_eq!(err.errno(), Some(libc::ESRCH), "{err}");

    // Any net.* sysctl, in the namespace only.
    run_in_fd(&seed.router, || {
        nsbox_net::sysctl::write("net.ipv4.conf.all.arp_ignore", "1")
    })
    .unwrap()
    .unwrap();
    let inside = run_in_fd(&seed.router, || nsbox_net::sysctl::read("net.ipv4.conf.all.arp_ignore"))
        .unwrap()
        .unwrap();
    assert_eq!(inside, "1");
    let here = nsbox_net::sysctl::read("net.ipv4.conf.all.arp_ignore").unwrap();
    assert_eq!(
        here,
        std::fs::read_to_string("/proc/sys/net/ipv4/conf/all/arp_ignore")
            .unwrap()
            .trim()
    );
}
