use super::*;
use std::time::Duration;

const BASE: &str = "name: t
nodes:
  a: {}
  b:
    forwarding: true
links:
  - endpoints: [a:ea 10.0.0.1/24, b:eb 10.0.0.2/24]
";

fn check(text: &str) -> Result<(Lab, Diagnostics), Diagnostics> {
    parse(Path::new("lab.yaml"), text)
}

/// The one error of `text`, as `LINE:COL: message`.
fn error(text: &str) -> String {
    let d = check(text).expect_err("the file should be refused");
    assert_eq!(d.errors(), 1, "{d}");
    let e = d.list.iter().find(|d| !d.warning).unwrap();
    format!("{}:{}: {}", e.line, e.column, e.message)
}

#[test]
fn the_seed_lab_reads_whole() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/labs/seed.yaml");
    let (lab, warnings) = load(&path).unwrap();
    assert_eq!(lab.name, "seed");
    let names: Vec<&str> = lab.nodes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["server", "router", "client"]);
    assert_eq!(lab.links.len(), 2);
    assert_eq!(lab.links[0].ends[1].iface, "veth-srv");
    assert_eq!(lab.expect.len(), 5);
    assert_eq!(
        lab.expect[3].outcome,
        Outcome::Unreachable(Some("network unreachable".into()))
    );
    assert_eq!(lab.steps.len(), 8);
    assert_eq!(lab.netns(1), "seed-router");
    assert_eq!(
        lab.nodes[1].sysctls[0],
        ("net.ipv4.ip_forward".to_string(), "1".to_string())
    );
    assert_eq!(lab.steps[5].add[0].1.rules.len(), 1, "the SNAT step");
    // S6's gateways are the router's own addresses: legal, and warned.
    assert_eq!(warnings.list.len(), 2, "{warnings}");
    assert!(warnings
        .list
        .iter()
        .all(|w| w.warning && w.message.contains("own address")));
    let text = warnings.to_string();
    assert!(
        text.contains("seed.yaml:42:25: warning"),
        "warnings point at the step's routes: {text}"
    );
}

#[test]
fn forwarding_is_always_said_never_inherited_from_the_host() {
    /// Node `i`'s forwarding switches, as `KEY=VALUE`, in the order written.
    fn switches(lab: &Lab, i: usize) -> Vec<String> {
        lab.nodes[i]
            .sysctls
            .iter()
            .filter(|(k, _)| k.contains("forward"))
            .map(|(k, v)| format!("{k}={v}"))
            .collect()
    }
    let (lab, _) = check(BASE).unwrap();
    // `a` says nothing: off, written all the same.
    assert_eq!(
        switches(&lab, 0),
        ["net.ipv4.ip_forward=0", "net.ipv6.conf.all.forwarding=0"]
    );
    assert_eq!(
        switches(&lab, 1),
        ["net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"]
    );
    // A node that sets a switch through `sysctls:` has it once, its own.
    let (lab, _) = check(&BASE.replace("  a: {}", "  a: {sysctls: {net.ipv4.ip_forward: 1}}")).unwrap();
    assert_eq!(
        switches(&lab, 0),
        ["net.ipv6.conf.all.forwarding=0", "net.ipv4.ip_forward=1"]
    );
    // Said in both places: once if they agree, refused where they do not.
    let both = |value: &str| {
        BASE.replace(
            "    forwarding: true\n",
            &format!("    forwarding: true\n    sysctls: {{net.ipv4.ip_forward: {value}}}\n"),
        )
    };
    let (lab, _) = check(&both("1")).unwrap();
    assert_eq!(
        switches(&lab, 1),
        ["net.ipv6.conf.all.forwarding=1", "net.ipv4.ip_forward=1"]
    );
    assert_eq!(
        error(&both("0")),
        "6:15: sysctl net.ipv4.ip_forward = 0 contradicts `forwarding: true`: say it in one place"
    );
}

#[test]
fn interfaces_without_names_get_eth_n() {
    let text =
        BASE.replace("a:ea 10.0.0.1/24", "a 10.0.0.1/24") + "  - endpoints: [a 10.0.1.1/24, b:eth0 10.0.1.2/24]\n";
    let (lab, _) = check(&text).unwrap();
    assert_eq!(lab.links[0].ends[0].iface, "eth0");
    assert_eq!(lab.links[1].ends[0].iface, "eth1");
    assert_eq!(lab.interfaces(0).len(), 3, "lo, eth0, eth1");
}

/// What `up` would refuse without a position is refused by `validate`
/// at its place; what is odd but works is a warning there.
#[test]
fn what_up_would_refuse_is_refused_here_and_odd_things_are_warned_of() {
    let text = "name: s
nodes:
  a:
    sysctls: {net.core.rmem_max: 1, net.ipv4.ip_forward: banana, net.ipv4.ip_default_ttl: \"64\\n65\"}
  b: {}
links:
  - endpoints: [a:eth0 10.0.0.0/24, b:default 10.0.1.255/24]
  - endpoints: [a 0.0.0.0/0, b 10.0.2.1/24]
  - endpoints: [a:ethx 10.0.3.1/24, b:ethy 10.0.3.2/24]
steps:
  - name: x
    add: {a: {routes: [10.9.0.0/16 via 10.0.3.2 metric 5 metric 6]}}
";
    let d = parse_asking(Path::new("lab.yaml"), text, AskKernel::Yes).unwrap_err();
    let said: Vec<String> = d
        .list
        .iter()
        .map(|d| {
            format!(
                "{}:{} {} {}",
                d.line,
                d.column,
                if d.warning { "warning" } else { "error" },
                d.message
            )
        })
        .collect();
    let has = |start: &str| said.iter().any(|s| s.starts_with(start));
    if nsbox_net::sysctl::probe(&[]).is_ok() {
        assert!(
            has("4:34 error sysctl net.core.rmem_max: /proc/sys/net/core/rmem_max is the host's alone"),
            "{said:#?}"
        );
        assert!(
            has("4:58 error sysctl net.ipv4.ip_forward: the kernel refuses the value \"banana\""),
            "{said:#?}"
        );
    } else {
        eprintln!("SKIPPED: sysctls are not tried without a throwaway namespace");
    }
    assert!(
        has("4:91 warning the value of net.ipv4.ip_default_ttl has a line break"),
        "{said:#?}"
    );
    assert!(
        has("7:17 warning 10.0.0.0 is the network address of 10.0.0.0/24"),
        "{said:#?}"
    );
    assert!(has("7:37 error interface name \"default\" is invalid"), "{said:#?}");
    assert!(has("7:37 warning 10.0.1.255 is the broadcast address"), "{said:#?}");
    assert!(
        has("7:37 warning the ends of this link are on different subnets"),
        "{said:#?}"
    );
    assert!(
        has("8:17 warning 0.0.0.0/0: an interface address with prefix length 0"),
        "{said:#?}"
    );
    assert!(has("12:24 warning `metric` is given twice in this route"), "{said:#?}");
    let long = format!("name: t\nnodes:\n  {}: {{}}\n", "n".repeat(230));
    assert!(error(&long).starts_with("3:3: node name"), "{}", error(&long));
}

#[test]
fn every_mistake_is_named_at_its_place() {
    let cases: Vec<(String, &str)> = vec![
            (BASE.replace("b:eb", "c:eb"), "7:35: unknown node \"c\" (nodes: a, b)"),
            (
                BASE.replace("b:eb", "b:a-name-of-16-byt"),
                "7:35: interface name \"a-name-of-16-byt\" is invalid",
            ),
            (
                BASE.replace("10.0.0.2/24", "10.0.0.1/24"),
                "7:35: address 10.0.0.1 is on both a:ea and b:eb",
            ),
            (
                BASE.replace("10.0.0.2/24", "10.0.0.300/24"),
                "7:35: \"10.0.0.300/24\" is not an address",
            ),
            (
                BASE.replace("b:eb", "b:lo"),
                "7:35: node \"b\" has two interfaces named \"lo\"",
            ),
            (
                BASE.replace("  a: {}", "  a: {routes: [default via 10.9.0.1]}"),
                "3:16: the gateway 10.9.0.1 is not on a subnet connected to a",
            ),
            (
                BASE.replace("  a: {}", "  a: {routes: [10.1.0.0/16 dev eth7]}"),
                "3:16: node \"a\" has no interface \"eth7\"",
            ),
            (
                BASE.replace("  a: {}", "  a: {routes: [default]}"),
                "3:16: a route needs a gateway (via GW) or an interface (dev IFACE)",
            ),
            (
                BASE.replace("  a: {}", "  a: {nat: [snat -s 10.0.0.0/24]}"),
                "3:13: snat needs --to-source",
            ),
            (
                BASE.replace("  a: {}", "  a: {filter: [forward drop -o a-name-of-16-byt]}"),
                "3:16: interface name \"a-name-of-16-byt\" is invalid",
            ),
            (
                BASE.replace("  a: {}", "  a: {sysctls: {kernel.hostname: x}}"),
                "3:17: sysctl \"kernel.hostname\": only net.* keys",
            ),
            (
                BASE.replace("  a: {}", "  a: {colour: red}"),
                "3:7: unknown key `colour`; the keys here are lo, forwarding",
            ),
            (
                BASE.replace("  a: {}", "  a: {lo: [1.1.1.1]}"),
                "3:12: \"1.1.1.1\" is not an address with its prefix length",
            ),
            (
                BASE.to_string() + "expect:\n  a -> 10.0.0.2: maybe\n",
                "9:18: \"maybe\" is not an outcome",
            ),
            (
                BASE.to_string() + "expect:\n  c -> 10.0.0.2: reachable\n",
                "9:3: unknown node \"c\"",
            ),
            (
                BASE.to_string() + "expect:\n  a from 10.0.0.2 -> b: reachable\n",
                "9:3: 10.0.0.2 is not an address of a",
            ),
            (
                BASE.to_string() + "expect:\n  a to b: reachable\n",
                "9:3: \"a to b\": expected SRC [from ADDR] -> DEST",
            ),
            (
                BASE.to_string() + "steps:\n  - name: s\n    heal: [[a, b]]\n",
                "10:12: these nodes are not partitioned at this step",
            ),
            (
                BASE.to_string() + "steps:\n  - name: s\n    partition: [[a, a]]\n",
                "10:17: a node cannot be partitioned from itself",
            ),
            (
                BASE.to_string() + "steps:\n  - name: s\n    partition: [[a, b, a]]\n",
                "10:17: a pair is two nodes: [a, b]",
            ),
            (
                BASE.to_string()
                    + "steps:\n  - name: s\n    partition: [[a, b]]\n  - name: t\n    partition: [[b, a]]\n",
                "12:17: these nodes are partitioned already at this step",
            ),
            (
                BASE.replace(
                    "forwarding: true",
                    "forwarding: true\n    routes: [10.9.0.0/16 via 10.0.0.1]",
                )
                .replace("  a: {}", "  a: {forwarding: true, routes: [10.9.0.0/16 via 10.0.0.2]}")
                .replace("links:", "  c: {lo: [10.9.0.1/32]}\nlinks:")
                    + "expect:\n  a -> c: reachable\n",
                "11:3: the way to 10.9.0.1 is a routing loop: a -> b -> a -> ...",
            ),
            (
                BASE.replace("  a: {}", "  a: {container: {command: sleep 1, rootfs: /nonexistent}}"),
                "3:45: rootfs \"/nonexistent\" is not a directory",
            ),
            (
                BASE.replace(
                    "  a: {}",
                    "  a: {container: {command: sleep 1, hostname: \"no space\"}}",
                ),
                "3:47: hostname \"no space\"",
            ),
            (
                BASE.to_string() + "    rate: fast\n",
                "8:11: rate \"fast\" is not valid",
            ),
            (BASE.to_string() + "    delay: 20ms\n", "8:12: delay and loss"),
            (
                BASE.to_string() + "expect:\n  a -> b:tcp/80: reachable\n",
                "9:3: a port is open, closed or unreachable",
            ),
            (
                BASE.to_string() + "expect:\n  a -> b: open\n",
                "9:3: open needs a port: a -> b:tcp/PORT or a -> b:udp/PORT",
            ),
            (
                BASE.to_string() + "expect:\n  a -> 10.0.0.2:sctp/53: closed\n",
                "9:3: \"a -> 10.0.0.2:sctp/53\": nsbox probes tcp and udp ports, not sctp: DEST:tcp/PORT or DEST:udp/PORT",
            ),
            (
                BASE.to_string() + "expect:\n  a -> fd00::9: unreachable (destination unreachable: no route)\n",
                "9:53: mapping values are not allowed in this context: the value of `a -> fd00::9` holds a `: `, \
                 which YAML reads as a mapping; quote the value: a -> fd00::9: \"unreachable (destination unreachable: no route)\"",
            ),
            (
                BASE.to_string() + "steps:\n  - name: s\n    remove: {a: {routes: [default via 10.0.0.2]}}\n",
                "10:17: a has no route to 0.0.0.0/0 like this at step \"s\"",
            ),
            (
                BASE.to_string() + "steps:\n  - name: s\n    add: {x: {routes: [default via 10.0.0.2]}}\n",
                "10:11: unknown node \"x\"",
            ),
            (
                BASE.replace("nodes:\n  a: {}", "nodes:\n  a: {}\n  a: {}"),
                "4:3: `a` is given twice",
            ),
            (
                BASE.replace("name: t", "name: \"no/slash\""),
                "1:7: invalid lab name \"no/slash\"",
            ),
            (BASE.replace("name: t", "name: a-b"), "1:7: invalid lab name \"a-b\""),
            (BASE.replace("links:", "links: ["), "7:3: "),
            (
                BASE.replace("  a: {}", "  a: {container: {command: sleep 1, rootfs: /}}"),
                "3:45: rootfs \"/\" is the host's own root",
            ),
            (
                BASE.replace("  a: {}", "  a: {container: {command: \"\"}}"),
                "3:28: the container's command is empty",
            ),
            (
                BASE.replace("  a: {}", "  a: {run: [\"  \"]}"),
                "3:13: an empty command",
            ),
        ];
    let mut wrong = Vec::new();
    for (text, expected) in cases {
        let got = error(&text);
        if !got.starts_with(expected) {
            wrong.push(format!("wanted {expected:?}\n   got {got:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn a_gateway_that_is_the_nodes_own_address_is_a_warning_that_explains() {
    let text = BASE.replace("  a: {}", "  a: {routes: [1.1.1.0/24 via 10.0.0.1]}");
    let (_, warnings) = check(&text).unwrap();
    assert_eq!(warnings.list.len(), 1);
    let w = warnings.to_string();
    assert!(
        w.starts_with("lab.yaml:3:16: warning: the gateway 10.0.0.1 is a's own address"),
        "{w}"
    );
    assert!(w.contains("ARP"), "{w}");
}

#[test]
fn routes_and_outcomes_parse() {
    let r = parse_route("10.1.2.3/16 via 10.0.0.2 dev eth0 metric 5").unwrap();
    assert_eq!(r.destination.to_string(), "10.1.0.0/16");
    assert_eq!((r.dev.as_deref(), r.metric), (Some("eth0"), Some(5)));
    assert_eq!(
        parse_route("default via fd00::1").unwrap().destination.to_string(),
        "::/0"
    );
    assert!(parse_route("default via").is_err());
    assert!(parse_route("default gw 1.2.3.4").is_err());
    for text in [
        "blackhole 10.9.0.0/16",
        "prohibit 2001:db8::/32 metric 7",
        "unreachable default",
        "throw ::/0",
    ] {
        let route = parse_route(text).unwrap();
        assert_ne!(route.kind, RouteKind::Unicast, "{text}");
        assert_eq!(route.to_string(), text, "shown as written");
    }
    assert_eq!(
        parse_route("blackhole 10.9.0.0/16 via 10.0.0.1").unwrap_err(),
        "a blackhole route takes no `via`: it refuses what it matches instead of sending it anywhere"
    );
    assert!(parse_route("prohibit").unwrap_err().contains("needs a destination"));
    assert_eq!(parse_wait("500ms"), Ok(Duration::from_millis(500)));
    assert_eq!(parse_wait("1.5s"), Ok(Duration::from_millis(1500)));
    assert_eq!(parse_wait("2m"), Ok(Duration::from_secs(120)));
    for bad in ["", "2", "s", "2h", "-1s", "61m", "1e9s", "2 s"] {
        assert!(parse_wait(bad).is_err(), "{bad:?}");
    }
    assert!(parse_route("10.9.0.0/16")
        .unwrap_err()
        .contains("or a type (blackhole, prohibit"));
    assert_eq!(
        parse_outcome("unreachable ( host unreachable )").unwrap().0,
        Outcome::Unreachable(Some("host unreachable".into()))
    );
    assert!(parse_outcome("unreachable host").is_err());
    let (node, source, dest, port) = parse_path("a from fd00::1 -> fd00::2").unwrap();
    assert_eq!(
        (node.as_str(), source, dest.as_str(), port),
        ("a", "fd00::1".parse().ok(), "fd00::2", None)
    );
    let port = |transport, number| Some(Port { transport, number });
    let (_, _, dest, found) = parse_path("a -> [fd00::2]:tcp/80").unwrap();
    assert_eq!((dest.as_str(), found), ("fd00::2", port(Transport::Tcp, 80)));
    let (_, _, dest, found) = parse_path("a -> b:tcp/8080").unwrap();
    assert_eq!((dest.as_str(), found), ("b", port(Transport::Tcp, 8080)));
    let (_, _, dest, found) = parse_path("a -> [fd00::2]:udp/53").unwrap();
    assert_eq!((dest.as_str(), found), ("fd00::2", port(Transport::Udp, 53)));
    let (_, _, dest, found) = parse_path("a -> fd00::2").unwrap();
    assert_eq!(
        (dest.as_str(), found),
        ("fd00::2", None),
        "an IPv6 address is not a port"
    );
    assert!(parse_path("a -> b:tcp/0").is_err());
    assert!(parse_path("a -> b:udp/70000").unwrap_err().contains("not a UDP port"));
    assert_eq!(parse_outcome("open").unwrap().0, Outcome::Open);
}

#[test]
fn route_checks_read_their_prefix_and_properties() {
    let (lab, _) = check(&format!(
        "{BASE}converge: 30s\nexpect:\n  a route 10.9.0.0/24: via 10.0.0.2 proto ospf\n  b route 10.8.0.0/16: absent\n  a route 2001:db8::/64: present\n  a route 10.7.0.0/24: dev ea\n"
    ))
    .unwrap();
    assert_eq!(lab.converge, Some(Duration::from_secs(30)));
    assert_eq!(lab.route_checks.len(), 4);
    assert_eq!(lab.route_checks[0].node, 0);
    assert_eq!(lab.route_checks[0].prefix, "10.9.0.0/24".parse::<IpNet>().unwrap());
    assert_eq!(
        lab.route_checks[0].outcome,
        Outcome::Route {
            via: Some("10.0.0.2".parse().unwrap()),
            dev: None,
            proto: Some("ospf".into())
        }
    );
    assert_eq!(lab.route_checks[1].outcome, Outcome::RouteAbsent);
    assert_eq!(lab.route_checks[2].outcome.to_string(), "present");
    assert_eq!(lab.route_checks[3].outcome.to_string(), "dev ea");
    assert!(lab.expect.is_empty());
}

#[test]
fn route_check_mistakes_are_placed() {
    let e = error(&format!("{BASE}expect:\n  a route 10.9.0.1/24: present\n"));
    assert!(e.starts_with("9:3: 10.9.0.1/24: the prefix has host bits set"), "{e}");
    let e = error(&format!(
        "{BASE}expect:\n  a route 10.9.0.0/24: via 10.0.0.2 metric 5\n"
    ));
    assert!(e.starts_with("9:24: \"metric\""), "{e}");
    let e = error(&format!("{BASE}expect:\n  a route 10.9.0.0/24: via fd00::1\n"));
    assert!(e.contains("other address family"), "{e}");
    let e = error(&format!("{BASE}expect:\n  z route 10.9.0.0/24: absent\n"));
    assert!(e.starts_with("9:3:") && e.contains("z"), "{e}");
    let e = error(&format!("{BASE}converge: soon\n"));
    assert!(e.contains("converge \"soon\" is not a duration"), "{e}");
}

#[test]
fn a_router_node_is_a_container_whose_command_starts_its_daemons() {
    if !Path::new("/usr/lib/frr/zebra").exists() || !Path::new("/usr/bin/vtysh").exists() {
        eprintln!("SKIPPED: FRR is not installed (scripts/install-deps.sh installs it)");
        return;
    }
    let (lab, _) = check(
        "name: t\nnodes:\n  r1:\n    frr:\n      daemons: [ospfd]\n      config: |\n        router ospf\n         network 10.0.0.0/8 area 0\n",
    )
    .unwrap();
    let node = &lab.nodes[0];
    let router = node.router.as_ref().unwrap();
    assert_eq!(router.daemons, ["ospfd"]);
    assert_eq!(router.config, "router ospf\n network 10.0.0.0/8 area 0\n");
    assert_eq!(router.config_at, Some((7, 9)));
    assert_eq!(node.container.as_deref(), Some("r1"));
    assert!(node.run[0].contains("/usr/lib/frr/ospfd -d"), "{}", node.run[0]);
    // A router forwards unless the file says otherwise.
    assert!(node.sysctls.contains(&("net.ipv4.ip_forward".into(), "1".into())));
}

#[test]
fn via_names_nodes_on_the_way_of_a_reachable_request() {
    use super::expects::split_via;
    assert_eq!(
        split_via("reachable (via r3) (count 3)"),
        ("reachable (count 3)".to_string(), vec!["r3".to_string()])
    );
    assert_eq!(
        split_via("reachable (via r2, r3)"),
        ("reachable".to_string(), vec!["r2".to_string(), "r3".to_string()])
    );
    assert_eq!(
        split_via("unreachable (no reply)"),
        ("unreachable (no reply)".to_string(), Vec::new())
    );
    let (lab, _) = check(&format!("{BASE}expect:\n  a -> 10.0.0.2: reachable (via b)\n")).unwrap();
    assert_eq!(lab.expect[0].via, [1]);
    let e = error(&format!("{BASE}expect:\n  a -> 10.0.0.2: unreachable (via b)\n"));
    assert!(
        e.contains("via names nodes on the way of a request that arrives"),
        "{e}"
    );
    let e = error(&format!("{BASE}expect:\n  a -> 10.0.0.2: reachable (via z)\n"));
    assert!(e.contains("\"z\""), "{e}");
}

#[test]
fn container_binds_are_checked() {
    let dir = std::env::temp_dir();
    let b = super::nodes::parse_bind("/tmp:/srv/t:ro", &dir).unwrap();
    assert_eq!((b.destination.to_str(), b.readonly), (Some("/srv/t"), true));
    assert!(super::nodes::parse_bind("/nonexistent-nsbox:/x", &dir)
        .unwrap_err()
        .contains("does not exist"));
    assert!(super::nodes::parse_bind("/tmp:relative", &dir)
        .unwrap_err()
        .contains("absolute"));
    assert!(super::nodes::parse_bind("/tmp:/x:rx", &dir).is_err());
    let e = error(&BASE.replace(
        "  a: {}",
        "  a: {container: {command: sleep 9, binds: [\"/nonexistent-nsbox:/x\"]}}",
    ));
    assert!(
        e.starts_with("3:45: bind \"/nonexistent-nsbox:/x\": /nonexistent-nsbox does not exist"),
        "{e}"
    );
}

#[test]
fn a_netns_prefix_names_the_nodes_namespaces() {
    let (lab, _) = check(&format!("{BASE}netns_prefix: clab-my-lab\n")).unwrap();
    assert_eq!(lab.netns(0), "clab-my-lab-a");
    assert_eq!(lab.namespaces()[1], "clab-my-lab-b");
    let e = error(&format!("{BASE}netns_prefix: -x\n"));
    assert!(e.starts_with("8:15: netns_prefix: 1 to 64"), "{e}");
}
