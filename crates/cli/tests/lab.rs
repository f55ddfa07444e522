//! `nsbox lab` against the kernel, with iproute2 and nft as oracles. Every
//! test runs in a private mount namespace with its own /run (so its lab
//! namespaces and state files are its own) and checks that nothing of the
//! lab is left afterwards.

mod common;

use common::field;

/// Returns from the test with a visible skip notice unless it runs as root
/// with every tool the lab tests use.
macro_rules! require_lab_tools {
    () => {
        require_root!();
        if common::missing_tool(&["ip", "nft", "ping", "busybox"]) {
            return;
        }
    };
}

/// The example labs of the repository.
fn examples_dir() -> String {
    format!("{}/../../examples/labs", env!("CARGO_MANIFEST_DIR"))
}

fn seed_file() -> String {
    format!("{}/seed.yaml", examples_dir())
}

/// Runs `script` with `$SEED` set and `leftovers` defined (it prints what
/// is left of any lab: named namespaces and state files).
fn run(script: &str) -> String {
    let script = format!(
        "SEED={}\nleftovers() {{ echo \"LEFT netns=[$(ip netns list | tr '\\n' ' ')] state=[$(ls /run/nsbox/labs 2>/dev/null | tr '\\n' ' ')]\"; }}\n{script}\necho END",
        seed_file()
    );
    let (code, out, err) = common::in_private_run(&script);
    assert!(
        code == 0 && out.contains("END"),
        "script failed ({code}):\n{out}\n{err}"
    );
    out
}

/// The report of `lab test --json` printed as `TEST ...`: every
/// expectation held, `passed` of them.
fn assert_test_passed(out: &str, passed: u64) {
    let report: serde_json::Value = serde_json::from_str(field(out, "TEST")).unwrap();
    assert_eq!(report["failed"], 0, "{report:#}");
    assert_eq!(report["passed"], passed, "{report:#}");
}

/// `lab validate` failed (`VALIDATE 1`) and said each of `wants` on one of
/// its `AT FILE:LINE:COL: ...` lines.
fn assert_validation_says(out: &str, wants: &[&str]) {
    assert_eq!(field(out, "VALIDATE"), "1", "{out}");
    let at: Vec<&str> = out.lines().filter(|l| l.starts_with("AT ")).collect();
    for want in wants {
        assert!(at.iter().any(|l| l.contains(want)), "{want:?} not in:\n{out}");
    }
}

fn nothing_left(out: &str) {
    for line in out.lines().filter(|l| l.starts_with("LEFT ")) {
        assert_eq!(line, "LEFT netns=[] state=[]", "{out}");
    }
}

#[test]
fn the_seed_lab_holds_at_every_step_and_leaves_nothing() {
    require_lab_tools!();
    let out = run(r#"
echo "REPORT $($NSBOX lab test "$SEED" --json 2>/dev/null | tr -d '\n')"
echo "STATUS $?"
leftovers
"#);
    let report: serde_json::Value = serde_json::from_str(field(&out, "REPORT")).unwrap();
    assert_eq!(report["failed"], 0, "{report:#}");
    assert_eq!(report["passed"], 22, "{report:#}");
    assert_eq!(report["sections"].as_array().unwrap().len(), 9, "up and eight steps");
    let t5 = &report["sections"][1]["checks"][3];
    assert_eq!(
        t5["observed"]["detail"], "destination net unreachable from 10.0.1.1",
        "{t5}"
    );
    let t3 = &report["sections"][0]["checks"][3];
    assert_eq!(t3["observed"]["detail"], "network unreachable", "{t3}");
    nothing_left(&out);
}

#[test]
fn every_example_lab_holds_and_leaves_nothing() {
    require_lab_tools!();
    let dir = examples_dir();
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    names.sort();
    assert!(names.len() >= 4, "{names:?}");
    // Routing labs need FRR and BIRD (scripts/install-deps.sh installs them).
    let routing_tools = ["/usr/lib/frr/zebra", "/usr/bin/vtysh", "/usr/sbin/bird"];
    if let Some(absent) = routing_tools.iter().find(|p| !std::path::Path::new(p).exists()) {
        names.retain(|n| {
            let text = std::fs::read_to_string(format!("{dir}/{n}")).unwrap_or_default();
            let routing = text.contains("\n    frr:") || text.contains("\n    bird:");
            if routing {
                eprintln!("SKIPPED: {n} ({absent} is not installed)");
            }
            !routing
        });
    }
    let mut script = String::new();
    for name in &names {
        script.push_str(&format!(
            "set +e; $NSBOX lab test {dir}/{name} > /run/out 2>&1; code=$?; set -e\n\
             echo \"RESULT {name} $code $(tail -1 /run/out)\"\nleftovers\n"
        ));
    }
    let out = run(&script);
    for name in &names {
        let result = field(&out, &format!("RESULT {name}"));
        assert!(result.starts_with("0 up "), "{name}: {result}\n{out}");
    }
    nothing_left(&out);
}

/// IPv6 addresses are usable the moment `up` returns (no address is
/// tentative), through a router too; a node that asks for DAD gets it.
#[test]
fn ipv6_works_right_after_up_and_dad_is_the_node_s_choice() {
    require_lab_tools!();
    let out = run(r#"
cat > /run/v6.yaml <<'EOF'
name: v6
nodes:
  a: {routes: [default via 2001:db8:1::1]}
  r: {forwarding: true}
  b: {routes: [default via 2001:db8:2::1]}
  d: {sysctls: {net.ipv6.conf.default.accept_dad: 1}}
links:
  - endpoints: [a 2001:db8:1::2/64, r 2001:db8:1::1/64]
  - endpoints: [r 2001:db8:2::1/64, b 2001:db8:2::2/64]
  - endpoints: [a:toward-d 2001:db8:3::1/64, d 2001:db8:3::2/64]
expect:
  a -> 2001:db8:1::1: reachable
  a -> 2001:db8:2::2: reachable
  b -> 2001:db8:1::2: reachable
EOF
for i in 1 2 3; do
  set +e; $NSBOX lab test /run/v6.yaml > /run/out 2>&1; echo "TEST$i $? $(tail -1 /run/out)"; set -e
done
$NSBOX lab up /run/v6.yaml >/dev/null
echo "TENTATIVE_A $(ip -n v6-a -6 addr show tentative | grep -c inet6 || true)"
echo "TENTATIVE_D $(ip -n v6-d -6 addr show tentative | grep -c inet6 || true)"
$NSBOX lab down v6 >/dev/null
leftovers
"#);
    for i in 1..=3 {
        let result = field(&out, &format!("TEST{i}"));
        assert!(
            result.starts_with("0 up ") && result.ends_with("3 of 3 expectations hold"),
            "{out}"
        );
    }
    assert_eq!(field(&out, "TENTATIVE_A"), "0", "{out}");
    assert_eq!(
        field(&out, "TENTATIVE_D"),
        "2",
        "d's global and link-local addresses go through DAD: {out}"
    );
    nothing_left(&out);
}

/// Routes of the refusing types are the kernel's own (`ip route` shows
/// them); each refusal reads as the kernel gives it, in both families
/// (the example's expectations), and `explain` tells the same story.
#[test]
fn refusing_route_types_are_probed_and_explained_as_the_kernel_answers() {
    require_lab_tools!();
    let dir = examples_dir();
    let out = run(&format!(
        r#"
FILE={dir}/route-types.yaml
set +e
$NSBOX lab test $FILE >/run/out 2>&1; echo "TEST $? $(tail -1 /run/out | sed 's/.*; //')"
# What went wrong, if anything did: the lines that are not a holding check.
echo "TEST_SAID $(grep -v '^  ok' /run/out | tr '\n' ';')"
set -e
$NSBOX lab up $FILE >/dev/null
echo "KERNEL $(ip -n rtypes-router route show | grep -Eo '^(blackhole|prohibit|unreachable|throw) [0-9./]+' | tr '\n' ';')"
echo "KERNEL6 $(ip -n rtypes-router -6 route show | grep -Eo '^(blackhole|prohibit|unreachable) [0-9a-f:/]+' | tr '\n' ';')"
for d in 10.9.1.1 10.9.2.1 2001:db8:9:2::1 10.9.3.1 10.9.4.1 10.8.1.1 10.8.2.1 10.8.3.1; do
  echo "EXPLAIN $d $($NSBOX lab explain client $d | grep -E '^(router|client): (the route|no route)' | tr '\n' ';')"
done
set +e
ip netns exec rtypes-client ping -n -c 1 -W 1 10.8.3.1 >/dev/null 2>/run/err; echo "IPUTILS $? $(cat /run/err)"
set -e
$NSBOX lab down rtypes >/dev/null
leftovers
"#
    ));
    assert_eq!(field(&out, "TEST"), "0 14 of 14 expectations hold", "{out}");
    assert_eq!(
        field(&out, "KERNEL"),
        "blackhole 10.9.1.0/24;prohibit 10.9.2.0/24;unreachable 10.9.3.0/24;throw 10.9.4.0/24;"
    );
    assert_eq!(
        field(&out, "KERNEL6"),
        "blackhole 2001:db8:9:1::/64;prohibit 2001:db8:9:2::/64;unreachable 2001:db8:9:3::/64;"
    );
    let explained = [
        ("10.9.1.1", "router: the route to 10.9.1.1 is of type blackhole: dropped without a word;"),
        (
            "10.9.2.1",
            "router: the route to 10.9.2.1 is of type prohibit: dropped, and the sender gets an ICMP error (packet filtered);",
        ),
        (
            "2001:db8:9:2::1",
            "router: the route to 2001:db8:9:2::1 is of type prohibit: dropped, and the sender gets an ICMP error (administratively prohibited);",
        ),
        (
            "10.9.3.1",
            "router: the route to 10.9.3.1 is of type unreachable: dropped, and the sender gets an ICMP error (destination host unreachable);",
        ),
        (
            "10.9.4.1",
            "router: no route to 10.9.4.1 (network unreachable): dropped, and the sender gets an ICMP error (destination net unreachable);",
        ),
        ("10.8.1.1", "client: the route to 10.8.1.1 is of type blackhole: nothing is sent;"),
        ("10.8.2.1", "client: the route to 10.8.2.1 is of type prohibit: nothing is sent;"),
        ("10.8.3.1", "client: the route to 10.8.3.1 is of type unreachable: nothing is sent;"),
    ];
    for (to, said) in explained {
        assert_eq!(field(&out, &format!("EXPLAIN {to}")), said, "{out}");
    }
    assert_eq!(field(&out, "IPUTILS"), "2 ping: connect: No route to host");
    nothing_left(&out);
}

/// A UDP port is open when a datagram is answered and closed when the
/// host sends port unreachable, as a plain socket in the same node finds
/// (Python's, the oracle); silence is "no reply".
#[test]
fn udp_probes_agree_with_a_plain_socket() {
    require_lab_tools!();
    let dir = examples_dir();
    let out = run(&format!(
        r#"
$NSBOX lab up {dir}/udp-services.yaml >/dev/null
echo "CHECK $($NSBOX lab check {dir}/udp-services.yaml --json | tr -d '\n')"
for port in 5353 5354 5355; do
  echo "ORACLE $port $(ip netns exec udp-client /usr/bin/python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1)
s.connect(("10.0.2.2", int(sys.argv[1])))
s.send(b"x")
try:
    print("answered", len(s.recv(100)))
except ConnectionRefusedError:
    print("refused")
except socket.timeout:
    print("silence")
' $port)"
done
$NSBOX lab down udp >/dev/null
leftovers
"#
    ));
    let check: serde_json::Value = serde_json::from_str(field(&out, "CHECK")).unwrap();
    let detail = |i: usize| check[i]["observed"]["detail"].as_str().unwrap_or_default().to_string();
    assert!(
        check.as_array().unwrap().iter().all(|c| c["holds"] == true),
        "{check:#}"
    );
    assert_eq!(field(&out, "ORACLE 5353"), "answered 1");
    assert_eq!(detail(0), "answered (12 bytes)");
    assert_eq!(field(&out, "ORACLE 5354"), "refused");
    assert_eq!(detail(2), "destination port unreachable from 10.0.2.2");
    assert_eq!(field(&out, "ORACLE 5355"), "silence");
    assert_eq!(detail(4), "no reply");
    nothing_left(&out);
}

/// A router answers a burst of packets it has no route for with only two
/// errors (its rate limit, seen below with iputils); nsbox paces the
/// probes that expect those errors, so every such verdict holds.
#[test]
fn probes_that_expect_errors_from_one_router_are_paced_and_all_hold() {
    require_lab_tools!();
    let out = run(r#"
python3 "$(dirname "$SEED")/../../scripts/gen-lab.py" icmp-errors 4 > /run/e.yaml
$NSBOX lab up /run/e.yaml >/dev/null
start=$(date +%s%N)
set +e
$NSBOX lab check /run/e.yaml >/run/out 2>&1; echo "CHECK $? $(grep -c "^  ok " /run/out)"
set -e
echo "TOOK_MS $(( ($(date +%s%N) - start) / 1000000 ))"
for i in 1 2 3 4; do ip netns exec e-a ping -n -c 1 -W 1 10.9.0.$i >/run/p$i 2>&1 & done; wait
echo "IPUTILS_ERRORS $(cat /run/p1 /run/p2 /run/p3 /run/p4 | grep -c 'Destination Net Unreachable')"
$NSBOX lab down e >/dev/null
leftovers
"#);
    assert_eq!(field(&out, "CHECK"), "0 4", "{out}");
    let errors: u32 = field(&out, "IPUTILS_ERRORS").parse().unwrap();
    assert!(errors < 4, "without pacing the router's limit bites: {out}");
    let took: u64 = field(&out, "TOOK_MS").parse().unwrap();
    assert!(took >= 3000, "two errors at once, then one per two seconds: {out}");
    nothing_left(&out);
}

/// A node's own nftables ruleset: `validate` places nft's errors at the
/// file's line and column (nft asked in a throwaway namespace) and refuses
/// a full flush; `up` of a broken ruleset rolls back whole; the ruleset
/// stands beside nsbox's table (a stateful forward chain lets replies in
/// and nothing new); `apply` replaces its tables and keeps a table made by
/// hand in the node; `explain` notes the table and its probe disagrees
/// with the model where the table drops.
#[test]
fn a_node_s_nftables_ruleset_is_checked_loaded_replaced_and_noted() {
    require_lab_tools!();
    let out = run(r#"
cat > /run/fw.yaml <<'EOF'
name: fw
nodes:
  a: {routes: [default via 10.0.1.1, default via 2001:db8:1::1]}
  r:
    forwarding: true
    nftables: |
      table inet fw {
        chain forward {
          type filter hook forward priority 0; policy drop;
          ct state established,related accept
          iifname "eth0" accept
        }
      }
  b: {routes: [default via 10.0.2.1, default via 2001:db8:2::1]}
links:
  - endpoints: [a 10.0.1.2/24 2001:db8:1::2/64, r 10.0.1.1/24 2001:db8:1::1/64]
  - endpoints: [r 10.0.2.1/24 2001:db8:2::1/64, b 10.0.2.2/24 2001:db8:2::2/64]
expect:
  a -> b: reachable
  a -> 2001:db8:2::2: reachable
  b -> a: unreachable (no reply)
  b -> 2001:db8:1::2: unreachable (no reply)
EOF
sed 's/related accept/related acept/' /run/fw.yaml > /run/typo.yaml
sed 's/iifname "eth0" accept/jump nowhere/' /run/fw.yaml > /run/jump.yaml
sed 's/      table inet fw {/      flush ruleset\n      table inet fw {/' /run/fw.yaml > /run/flush.yaml
set +e
for f in typo jump flush; do
  $NSBOX lab validate /run/$f.yaml >/dev/null 2>/run/err; echo "VALIDATE_$f $? $(head -1 /run/err)"
done
$NSBOX lab up /run/typo.yaml >/dev/null 2>/run/err; echo "UP_TYPO $? $(cat /run/err)"
set -e
leftovers
$NSBOX lab up /run/fw.yaml >/dev/null
set +e
$NSBOX lab check /run/fw.yaml >/dev/null; echo "CHECK $?"
$NSBOX lab explain b a >/run/explain; echo "EXPLAIN $?"
set -e
echo "NOTE $(grep -c '^note: r: its nftables tables inet fw are not nsbox' /run/explain)"
echo "PROBE $(grep '^probe:' /run/explain | cut -c1-50)"
# A table made by hand in the node, then the ruleset changed and removed.
ip netns exec fw-r nft add table ip byhand
sed 's/iifname "eth0" accept/accept/; s/inet fw/inet fw2/' /run/fw.yaml > /run/fw2.yaml
echo "PLAN $($NSBOX lab apply /run/fw2.yaml | head -1)"
echo "TABLES2 $(ip netns exec fw-r nft list tables | sort | tr '\n' ' ')"
set +e
$NSBOX lab check /run/fw2.yaml >/dev/null 2>&1; echo "CHECK2 $?"
set -e
sed '/nftables: |/,/^      }$/d' /run/fw.yaml | grep -v '^  b -> ' > /run/none.yaml
echo "PLAN3 $($NSBOX lab apply /run/none.yaml | head -1)"
echo "TABLES3 $(ip netns exec fw-r nft list tables | sort | tr '\n' ' ')"
$NSBOX lab down fw >/dev/null
leftovers
"#);
    let validate = |f: &str| field(&out, &format!("VALIDATE_{f}")).to_string();
    assert_eq!(
        validate("typo"),
        "1 /run/typo.yaml:10:45: error: nftables: syntax error, unexpected newline",
        "{out}"
    );
    assert!(
        validate("jump").ends_with(
            "/run/jump.yaml:11:16: error: nftables: Could not process rule: No such file or directory \
             (a table, chain or set it names does not exist)"
        ),
        "{out}"
    );
    assert!(
        validate("flush")
            .starts_with("1 /run/flush.yaml:7:7: error: nftables: `flush ruleset` would remove nsbox's own table"),
        "{out}"
    );
    assert!(
        field(&out, "UP_TYPO").starts_with("1 nsbox: node r: nft refused its nftables ruleset: syntax error"),
        "{out}"
    );
    assert!(
        field(&out, "UP_TYPO").contains("(the lab file's line 10, column 45)"),
        "{out}"
    );
    assert_eq!(field(&out, "CHECK"), "0", "{out}");
    assert_eq!(field(&out, "EXPLAIN"), "1", "the probe's verdict: {out}");
    assert_eq!(field(&out, "NOTE"), "1", "{out}");
    assert_eq!(
        field(&out, "PROBE"),
        "probe: no reply: the kernel disagrees with the mod",
        "{out}"
    );
    assert_eq!(field(&out, "PLAN"), "~ nftables r (its tables replaced)", "{out}");
    assert_eq!(field(&out, "TABLES2"), "table inet fw2 table ip byhand", "{out}");
    // b -> a is now let in by fw2: the file's expectation of no reply fails.
    assert_eq!(field(&out, "CHECK2"), "1", "{out}");
    assert_eq!(field(&out, "PLAN3"), "- nftables r", "{out}");
    assert_eq!(field(&out, "TABLES3"), "table ip byhand", "{out}");
    nothing_left(&out);
}

/// Steps that do what scripts do: set an interface down and up again
/// (IPv4 and IPv6 follow; the router's route through it comes back with
/// it), run commands in nodes whose exit status is
/// checked (a wrong one fails the step, with what it printed), and probe
/// in the file's order when told to (three silent probes one after the
/// other take their three seconds; at once, one).
#[test]
fn steps_set_links_down_and_up_run_commands_and_probe_in_order() {
    require_lab_tools!();
    let out = run(r#"
cat > /run/st.yaml <<'EOF'
name: st
nodes:
  a: {routes: [default via 10.0.1.1, default via 2001:db8:1::1]}
  r: {forwarding: true, routes: [blackhole 10.9.0.0/16, 10.8.0.0/16 via 10.0.2.2]}
  b: {lo: [10.8.0.1/16], routes: [default via 10.0.2.1, default via 2001:db8:2::1]}
links:
  - endpoints: [a 10.0.1.2/24 2001:db8:1::2/64, r 10.0.1.1/24 2001:db8:1::1/64]
  - endpoints: [r 10.0.2.1/24 2001:db8:2::1/64, b 10.0.2.2/24 2001:db8:2::2/64]
expect:
  a -> b: reachable
  a -> 2001:db8:2::2: reachable
steps:
  - name: the router's far link goes down
    down: [r:eth1]
    exec:
      - [r, "ip -o link show eth1 | grep -q 'state DOWN'"]
      - [r, "ip route get 10.0.2.2", 2]
      # A command that leaves a process behind ends all the same.
      - [r, "sleep 300 & echo started"]
    expect:
      a -> b: unreachable (net unreachable from 10.0.1.1)
      a -> 2001:db8:2::2: unreachable
  - name: and up again
    up: [r:eth1]
    wait: 100ms
    expect:
      a -> b: reachable
      a -> 2001:db8:2::2: reachable
      # The router's route through eth1, which the kernel deleted at down.
      a -> 10.8.0.1: reachable
EOF
echo "TEST $($NSBOX lab test /run/st.yaml --json | tr -d '\n')"
sed 's/"ip route get 10.0.2.2", 2/"echo it said no; exit 3"/' /run/st.yaml > /run/fails.yaml
set +e
$NSBOX lab test /run/fails.yaml > /run/out 2>&1; echo "FAILS $?"
set -e
echo "SAID $(grep 'could not be applied' /run/out | sed 's/^ *//')"
echo "PRINTED $(grep -c '^  it said no$' /run/out)"
for order in true false; do
  { echo "name: ord"
    echo "sequential: $order"
    echo "nodes:"
    echo "  a: {routes: [default via 10.0.1.1]}"
    echo "  r: {forwarding: true, routes: [blackhole 10.9.0.0/16]}"
    echo "links:"
    echo "  - endpoints: [a 10.0.1.2/24, r 10.0.1.1/24]"
    echo "expect:"
    for i in 1 2 3; do echo "  a -> 10.9.0.$i: unreachable (no reply)"; done
  } > /run/ord.yaml
  $NSBOX lab up /run/ord.yaml >/dev/null
  start=$(date +%s%N)
  $NSBOX lab check /run/ord.yaml >/dev/null
  echo "TOOK_$order $(( ($(date +%s%N) - start) / 1000000 ))"
  $NSBOX lab down ord >/dev/null
done
leftovers
"#);
    let report: serde_json::Value = serde_json::from_str(field(&out, "TEST")).unwrap();
    assert_eq!(report["failed"], 0, "{report:#}");
    assert_eq!(report["passed"], 7, "{report:#}");
    assert_eq!(field(&out, "FAILS"), "1", "{out}");
    assert_eq!(
        field(&out, "SAID"),
        "FAIL  the step could not be applied: node r: `echo it said no; exit 3` exited with status 3 (0 was expected)",
        "{out}"
    );
    assert_eq!(field(&out, "PRINTED"), "1", "{out}");
    let took = |order: &str| -> u64 { field(&out, &format!("TOOK_{order}")).parse().unwrap() };
    assert!(took("true") >= 3000, "one after the other: {out}");
    assert!(took("false") < took("true"), "at once: {out}");
    nothing_left(&out);
}

/// Steps add and remove addresses, IPv4 and IPv6: a host renumbered
/// mid-test is reached at its new address and no longer at its old one;
/// a route through the new subnet is accepted in the same step; what
/// iproute2 sees agrees; the kernel's deletion of routes through a removed
/// subnet is followed by the file's view (removing such a route again is
/// refused before anything is made).
#[test]
fn steps_add_and_remove_addresses() {
    require_lab_tools!();
    let out = run(r#"
cat > /run/rn.yaml <<'EOF'
name: rn
nodes:
  a: {routes: [default via 10.0.1.1, default via 2001:db8:1::1]}
  r: {forwarding: true}
  b: {routes: [default via 10.0.2.1, default via 2001:db8:2::1]}
links:
  - endpoints: [a 10.0.1.2/24 2001:db8:1::2/64, r 10.0.1.1/24 2001:db8:1::1/64]
  - endpoints: [r 10.0.2.1/24 2001:db8:2::1/64, b 10.0.2.2/24 2001:db8:2::2/64]
expect:
  a -> 10.0.2.2: reachable
  a -> 2001:db8:2::2: reachable
steps:
  - name: b moves to 10.0.3.0/24 and 2001:db8:3::/64
    remove:
      b: {routes: [default via 10.0.2.1, default via 2001:db8:2::1], addresses: [eth0 10.0.2.2/24, eth0 2001:db8:2::2/64]}
    add:
      r: {addresses: [eth1 10.0.3.1/24, eth1 2001:db8:3::1/64]}
      b: {addresses: [eth0 10.0.3.2/24, eth0 2001:db8:3::2/64], routes: [default via 10.0.3.1, default via 2001:db8:3::1]}
    exec:
      - [b, "ip -o addr show dev eth0 | grep -q 'inet 10.0.3.2/24'"]
      - [b, "ip -o addr show dev eth0 | grep -q 'inet 10.0.2.2/24'", 1]
    expect:
      a -> 10.0.3.2: reachable
      a -> 2001:db8:3::2: reachable
      a -> 10.0.2.2: unreachable
      a -> 2001:db8:2::2: unreachable
EOF
echo "TEST $($NSBOX lab test /run/rn.yaml --json | tr -d '\n')"
# A route through a subnet whose address a step removed is gone with it.
cat > /run/gone.yaml <<'EOF'
name: gone
nodes:
  a: {routes: [10.9.0.0/16 via 10.0.1.1]}
  b: {}
links:
  - endpoints: [a 10.0.1.2/24, b 10.0.1.1/24]
steps:
  - name: renumber a
    remove:
      a: {addresses: [eth0 10.0.1.2/24, eth0 10.0.7.7/24, eth9 10.0.1.3/24, eth0 nonsense]}
    add:
      a: {addresses: [eth0 10.0.1.1/24, eth0 10.0.1.5/24, eth0 10.0.1.5/24]}
  - name: the route went with the subnet
    remove:
      a: {routes: [10.9.0.0/16 via 10.0.1.1]}
EOF
set +e
$NSBOX lab validate /run/gone.yaml > /run/out 2>&1; echo "VALIDATE $?"
set -e
sed -n 's/^.*gone.yaml:/AT /p' /run/out
leftovers
"#);
    assert_test_passed(&out, 6);
    assert_validation_says(
        &out,
        &[
            "a:eth0 has no address 10.0.7.7/24 at this step",
            "node \"a\" has no interface \"eth9\" (it has lo, eth0)",
            "\"nonsense\" is not an address with its prefix length",
            "10.0.1.1 is b:eth0's already at this step",
            "10.0.1.5 is a:eth0's already at this step",
            "a has no route to 10.9.0.0/16 like this at step \"the route went with the subnet\"",
        ],
    );
    nothing_left(&out);
}

/// Steps connect and disconnect links: cutting a link by one end takes the
/// pair away (iproute2 no longer sees the other end) and the routes
/// through it with it; a link made at a step gets its named or next free
/// interface, MTU and addresses (IPv4 and IPv6), and routes of the same
/// step go through it. `validate` refuses what cannot be, at its place.
#[test]
fn steps_connect_and_disconnect_links() {
    require_lab_tools!();
    let out = run(r#"
cat > /run/cn.yaml <<'EOF'
name: cn
nodes:
  a: {routes: [default via 10.0.1.1, default via 2001:db8:1::1]}
  r1: {forwarding: true, routes: [10.0.3.0/24 via 10.0.2.2]}
  r2: {forwarding: true, routes: [10.0.1.0/24 via 10.0.2.1]}
  b: {routes: [default via 10.0.3.1]}
links:
  - endpoints: [a 10.0.1.2/24 2001:db8:1::2/64, r1 10.0.1.1/24 2001:db8:1::1/64]
  - endpoints: [r1 10.0.2.1/24, r2 10.0.2.2/24]
  - endpoints: [r2 10.0.3.1/24, b 10.0.3.2/24]
expect:
  a -> b: reachable
steps:
  - name: the middle link is cut
    disconnect: [r2:eth0]
    exec:
      - [r1, "ip link show eth1", 1]
      - [r1, "ip route show 10.0.3.0/24 | grep -q .", 1]
    expect:
      a -> b: unreachable (net unreachable from 10.0.1.1)
  - name: a direct link from r1 to b replaces it
    connect:
      - endpoints: [r1 10.0.4.1/24 2001:db8:4::1/64, b:wan 10.0.4.2/24 2001:db8:4::2/64]
        mtu: 1400
    remove:
      b: {routes: [default via 10.0.3.1]}
    add:
      r1: {routes: [10.0.3.0/24 via 10.0.4.2]}
      b: {routes: [default via 10.0.4.1, default via 2001:db8:4::1]}
    exec:
      - [r1, "ip -o link show eth1 | grep -q 'mtu 1400'"]
      - [b, "ip -o addr show dev wan | grep -q 'inet 10.0.4.2/24'"]
    expect:
      a -> b: reachable
      a -> 2001:db8:4::2: reachable
EOF
echo "TEST $($NSBOX lab test /run/cn.yaml --json | tr -d '\n')"
cat > /run/bad.yaml <<'EOF'
name: bad
nodes:
  a: {}
  b: {lo: [10.0.8.1/32], routes: [10.9.0.0/16 via 10.0.1.1]}
links:
  - endpoints: [a 10.0.1.1/24, b 10.0.1.2/24]
steps:
  - name: cut
    disconnect: [a:eth0, a:lo, a:eth7]
  - name: the route went with the link
    remove:
      b: {routes: [10.9.0.0/16 via 10.0.1.1]}
  - name: links that cannot be
    connect:
      - endpoints: [a:x 10.0.2.1/24, b:x 10.0.2.2/24]
        rate: 1mbit
      - endpoints: [a:y, a:z]
      - endpoints: [a:lo, b]
      - endpoints: [a:w 10.0.8.1/32, b:w 10.0.9.2/24]
EOF
set +e
$NSBOX lab validate /run/bad.yaml > /run/out 2>&1; echo "VALIDATE $?"
set -e
sed -n 's/^.*bad.yaml:/AT /p' /run/out
leftovers
"#);
    assert_test_passed(&out, 4);
    assert_validation_says(
        &out,
        &[
            "9:26: error: lo is no link: it cannot be disconnected",
            "9:32: error: a has no interface \"eth7\" (it has lo)",
            "b has no route to 10.9.0.0/16 like this at step \"the route went with the link\"",
            "a step's link has no rate, delay or loss",
            "a link joins two different nodes",
            "node \"a\" has an interface named \"lo\" already at this step",
            "10.0.8.1 is b:lo's already at this step",
        ],
    );
    nothing_left(&out);
}

/// An `open` probe that is refused waits for a service to start listening
/// anywhere in the lab instead of connecting again and again: a port
/// forward to a closed port counts the expectation's one connection
/// (it counted one per retry, ~40, before), and a service that starts
/// half a second late behind a port forward is found open with at most
/// two connections counted.
#[test]
fn a_refused_open_probe_waits_for_a_listener_and_counts_once() {
    require_lab_tools!();
    let out = run(r#"
cat > /run/oc.yaml <<'EOF'
name: oc
nodes:
  web:
    routes: [default via 10.0.1.1]
    run: ["sleep 0.5; exec busybox nc -ll -p 80 -e /bin/true"]
  router:
    forwarding: true
    nat:
      - dnat -i outside -p tcp --dport 8080 --to-destination 10.0.1.2:80
      - dnat -i outside -p tcp --dport 8081 --to-destination 10.0.1.2:81
  client: {}
links:
  - endpoints: [web 10.0.1.2/24, router:inside 10.0.1.1/24]
  - endpoints: [client 10.0.2.2/24, router:outside 10.0.2.1/24]
expect:
  client -> 10.0.2.1:tcp/8080: open
  router nat "dnat -i outside -p tcp --dport 8080 --to-destination 10.0.1.2:80": packets >= 1
EOF
$NSBOX lab up /run/oc.yaml >/dev/null
echo "CHECK $($NSBOX lab check /run/oc.yaml --json | tr -d '\n')"
{ echo "name: oc"; sed -n '/^nodes:/,/^expect:/p' /run/oc.yaml; echo "  client -> 10.0.2.1:tcp/8081: open"; } > /run/closed.yaml
set +e
start=$(date +%s%N)
$NSBOX lab check /run/closed.yaml >/dev/null; echo "CLOSED $?"
echo "TOOK $(( ($(date +%s%N) - start) / 1000000 ))"
set -e
echo "COUNTED $(ip netns exec oc-router nft -j list ruleset | python3 -c '
import json, sys
for item in json.load(sys.stdin)["nftables"]:
    rule = item.get("rule")
    if rule and any("81" in json.dumps(e) and "dnat" in e for e in rule["expr"]):
        print(sum(e["counter"]["packets"] for e in rule["expr"] if "counter" in e))')"
echo "RACE $(ip netns exec oc-router nft -j list ruleset | python3 -c '
import json, sys
for item in json.load(sys.stdin)["nftables"]:
    rule = item.get("rule")
    if rule and any("\"port\": 80" in json.dumps(e) and "dnat" in e for e in rule["expr"]):
        print(sum(e["counter"]["packets"] for e in rule["expr"] if "counter" in e))')"
$NSBOX lab down oc >/dev/null
leftovers
"#);
    let check: serde_json::Value = serde_json::from_str(field(&out, "CHECK")).unwrap();
    assert!(
        check.as_array().unwrap().iter().all(|c| c["holds"] == true),
        "{check:#}"
    );
    assert_eq!(field(&out, "CLOSED"), "1", "{out}");
    let took: u64 = field(&out, "TOOK").parse().unwrap();
    assert!((2000..6000).contains(&took), "it waits its patience once: {out}");
    assert_eq!(field(&out, "COUNTED"), "1", "one connection, one count: {out}");
    let race: u64 = field(&out, "RACE").parse().unwrap();
    assert!((1..=2).contains(&race), "{out}");
    nothing_left(&out);
}

/// Probe parameters (count, interval, wait, ttl) after an outcome, IPv4
/// and IPv6: a TTL that runs out two routers away is expected as the
/// kernel answers it. `explain` follows each node's own default TTL and a
/// `--ttl`, and places the expiry on the leg where it happens (the reply's,
/// when the replier's TTL is the short one); its probe agrees each time.
#[test]
fn probe_parameters_and_ttl_expiry_are_probed_and_explained_on_the_right_leg() {
    require_lab_tools!();
    let out = run(r#"
cat > /run/ttl.yaml <<'EOF'
name: ttl
nodes:
  a: {routes: [default via 10.0.1.1, default via 2001:db8:1::1]}
  r1: {forwarding: true, routes: [default via 10.0.2.2, default via 2001:db8:2::2]}
  r2: {forwarding: true, routes: [10.0.1.0/24 via 10.0.2.1, 2001:db8:1::/64 via 2001:db8:2::1]}
  b: {routes: [default via 10.0.3.1, default via 2001:db8:3::1]}
links:
  - endpoints: [a 10.0.1.2/24 2001:db8:1::2/64, r1 10.0.1.1/24 2001:db8:1::1/64]
  - endpoints: [r1 10.0.2.1/24 2001:db8:2::1/64, r2 10.0.2.2/24 2001:db8:2::2/64]
  - endpoints: [r2 10.0.3.1/24 2001:db8:3::1/64, b 10.0.3.2/24 2001:db8:3::2/64]
expect:
  a -> b: reachable (count 3, interval 100ms)
  a -> 2001:db8:3::2: reachable (ttl 3)
  a -> 10.0.3.2: unreachable (time to live exceeded from 10.0.2.2) (ttl 2)
  a -> [2001:db8:3::2]: unreachable (hop limit from 2001:db8:2::2) (ttl 2)
  a -> 10.0.3.2:tcp/80: closed (wait 2s)
EOF
echo "CHECK $($NSBOX lab test /run/ttl.yaml | grep -c '^  ok ')"
sed 's/closed (wait 2s)/closed (ttl 2)/' /run/ttl.yaml > /run/bad.yaml
set +e
$NSBOX lab validate /run/bad.yaml 2>&1 | head -1 | sed 's/^/BAD /'
set -e
$NSBOX lab up /run/ttl.yaml >/dev/null
echo "SHORT $($NSBOX lab explain a b --ttl 2 | tail -3 | tr '\n' ';')"
ip netns exec ttl-b sysctl -qw net.ipv4.ip_default_ttl=2
echo "REPLY $($NSBOX lab explain a b | tail -3 | tr '\n' ';')"
$NSBOX lab down ttl >/dev/null
leftovers
"#);
    assert_eq!(field(&out, "CHECK"), "5", "{out}");
    assert_eq!(
        field(&out, "BAD"),
        "/run/bad.yaml:16:25: error: count, interval and ttl are for echoes: a port's probe takes only wait",
        "{out}"
    );
    assert_eq!(
        field(&out, "SHORT"),
        "r2: the TTL runs out here (time exceeded, sent back to 10.0.1.2);unreachable: the request does not arrive;\
         probe: time to live exceeded from 10.0.2.2 (the kernel agrees);",
        "{out}"
    );
    assert_eq!(
        field(&out, "REPLY"),
        "r1: the TTL runs out here (time exceeded, sent back to 10.0.3.2);\
         unreachable: the request arrives, the reply does not come back;probe: no reply (the kernel agrees);",
        "{out}"
    );
    nothing_left(&out);
}

/// What echoes saw beside the outcome: the replies' TTL (hop limit), the
/// number of ICMP errors and the exit status iputils would give, each
/// checked against iputils `ping` run from the same node (the oracle);
/// a wrong one fails and says what was seen. `explain` takes an IPv6
/// node's hop limit from the interface it sends out of (the kernel's;
/// `conf.all.hop_limit` changes no interface that exists).
#[test]
fn reply_ttl_errors_and_exit_status_are_expectations_iputils_agrees_with() {
    require_lab_tools!();
    let out = run(r#"
cat > /run/fx.yaml <<'EOF'
name: fx
nodes:
  a: {routes: [default via 10.0.1.1, default via 2001:db8:1::1]}
  r: {forwarding: true, routes: [unreachable 10.9.0.0/16, blackhole 10.8.0.0/16]}
  b: {routes: [default via 10.0.2.1, default via 2001:db8:2::1], sysctls: {net.ipv4.ip_default_ttl: 100}}
links:
  - endpoints: [a 10.0.1.2/24 2001:db8:1::2/64, r 10.0.1.1/24 2001:db8:1::1/64]
  - endpoints: [r 10.0.2.1/24 2001:db8:2::1/64, b 10.0.2.2/24 2001:db8:2::2/64]
expect:
  a -> b: reachable, reply ttl 99, exit 0
  a -> 2001:db8:2::2: reachable, reply ttl 63, exit 0 (count 3, interval 50ms)
  a -> r: reachable, reply ttl 64
  a -> 10.9.0.1: unreachable (host unreachable from 10.0.1.1), errors 1, exit 1
  a -> 10.7.0.1: unreachable (net unreachable), errors 1, exit 1
  a -> 10.8.0.1: unreachable (no reply), errors 0, exit 1 (wait 300ms)
EOF
echo "TEST $($NSBOX lab test /run/fx.yaml --json | tr -d '\n')"
$NSBOX lab up /run/fx.yaml >/dev/null
# The oracle: iputils from the same node, its TTL and exit status.
oracle() { set +e; out=$(ip netns exec fx-a ping -n -c 1 -W 1 "$1" 2>&1); code=$?; set -e
  echo "ORACLE_$2 exit=$code $(echo "$out" | grep -o 'ttl=[0-9]*' | head -1)"; }
oracle 10.0.2.2 b; oracle 2001:db8:2::2 b6; oracle 10.0.1.1 r; oracle 10.9.0.1 unr; oracle 10.8.0.1 none
# A wrong fact fails and says what was seen.
sed -e 's/reply ttl 99, exit 0/reply ttl 98/' -e '/10.9.0.1/s/errors 1, exit 1$/errors 2/' /run/fx.yaml > /run/wrong.yaml
echo "WRONG $($NSBOX lab check /run/wrong.yaml --json | tr -d '\n')"
ip netns exec fx-b sysctl -qw net.ipv6.conf.all.hop_limit=50
echo "ALL $($NSBOX lab explain a 2001:db8:2::2 | tail -1)"
ip netns exec fx-b sysctl -qw net.ipv6.conf.eth0.hop_limit=50
echo "DEV $($NSBOX lab explain a 2001:db8:2::2 | tail -1)"
$NSBOX lab down fx >/dev/null
leftovers
"#);
    let report: serde_json::Value = serde_json::from_str(field(&out, "TEST")).unwrap();
    assert_eq!(report["failed"], 0, "{report:#}");
    assert_eq!(report["passed"], 6, "{report:#}");
    // iputils agrees with every fact the file states.
    assert_eq!(field(&out, "ORACLE_b"), "exit=0 ttl=99", "{out}");
    assert_eq!(field(&out, "ORACLE_b6"), "exit=0 ttl=63", "{out}");
    assert_eq!(field(&out, "ORACLE_r"), "exit=0 ttl=64", "{out}");
    assert_eq!(field(&out, "ORACLE_unr"), "exit=1", "{out}");
    assert_eq!(field(&out, "ORACLE_none"), "exit=1", "{out}");
    let wrong: serde_json::Value = serde_json::from_str(field(&out, "WRONG")).unwrap();
    let failed: Vec<String> = wrong
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["holds"] == false)
        .map(|c| c["observed"]["detail"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(failed.len(), 2, "{wrong:#}");
    assert!(failed[0].ends_with("(reply ttl 99, not 98)"), "{failed:?}");
    assert!(failed[1].ends_with("(1 ICMP errors, not 2)"), "{failed:?}");
    assert!(field(&out, "ALL").contains("ttl 63"), "{out}");
    assert!(field(&out, "DEV").contains("ttl 49"), "{out}");
    nothing_left(&out);
}

/// Reverse-path filtering, as the kernel's input route lookup answers it
/// (`ip route get DEST from SRC iif IFACE`): strict mode drops a packet
/// whose way back leaves by another interface, loose mode one with no way
/// back at all, and with it off the request arrives (the reply is what
/// gets lost); a neighbour whose ARP requests the filter drops is named
/// as such. Each verdict is checked against a real probe in the same run
/// ("the kernel agrees").
#[test]
fn explain_names_reverse_path_filtering_as_the_kernel_answers_it() {
    require_lab_tools!();
    let out = run(r#"
cat > /run/rp.yaml <<'EOF'
name: rp
nodes:
  a: {lo: [10.0.9.1/32], routes: [default via 10.0.1.1]}
  r: {forwarding: true, sysctls: {net.ipv4.conf.all.rp_filter: 1}, routes: [10.0.9.0/24 via 10.0.3.2]}
  b: {routes: [default via 10.0.2.1]}
  c: {}
links:
  - endpoints: [a 10.0.1.2/24, r 10.0.1.1/24]
  - endpoints: [r 10.0.2.1/24, b 10.0.2.2/24]
  - endpoints: [r 10.0.3.1/24, c 10.0.3.2/24]
expect:
  a -> b: reachable
  a from 10.0.9.1 -> b: unreachable (no reply)
EOF
$NSBOX lab up /run/rp.yaml >/dev/null
echo "STRICT $($NSBOX lab explain a b --from 10.0.9.1 | grep -e rp_filter -e '^probe' | tr '\n' ';')"
# a's ARP requests carry the echo's source too, and r's filter drops them
# as well (said when the entry has failed): each look starts afresh.
echo "ARP $($NSBOX lab explain a b --from 10.0.9.1 --no-probe | grep -c "its ARP requests come from 10.0.9.1, which r's reverse-path filter refuses on eth0" || true)"
ip -n rp-a neigh flush all
ip netns exec rp-r sysctl -qw net.ipv4.conf.all.rp_filter=2
echo "LOOSE_OK $($NSBOX lab explain a b --from 10.0.9.1 --no-probe | grep -c rp_filter || true)"
ip -n rp-r route del 10.0.9.0/24
ip -n rp-a neigh flush all
echo "LOOSE $($NSBOX lab explain a b --from 10.0.9.1 | grep -e rp_filter -e '^probe' | tr '\n' ';')"
ip -n rp-r route add 10.0.9.0/24 via 10.0.3.2
ip netns exec rp-r sysctl -qw net.ipv4.conf.all.rp_filter=0
ip -n rp-a neigh flush all
echo "OFF $($NSBOX lab explain a b --from 10.0.9.1 | grep -e '^unreachable' -e '^probe' | tr '\n' ';')"
$NSBOX lab down rp >/dev/null
leftovers
"#);
    assert_eq!(
        field(&out, "STRICT"),
        "r: dropped by reverse-path filtering (rp_filter 1, strict): it came in on eth0, \
         and the way back to 10.0.9.1 is through eth2;probe: no reply (the kernel agrees);",
        "{out}"
    );
    assert_eq!(
        field(&out, "LOOSE_OK"),
        "0",
        "loose mode passes a source it has a way back to: {out}"
    );
    assert_eq!(
        field(&out, "LOOSE"),
        "r: dropped by reverse-path filtering (rp_filter 2): there is no way back to 10.0.9.1 at all;\
         probe: no reply (the kernel agrees);",
        "{out}"
    );
    assert_eq!(field(&out, "ARP"), "1", "{out}");
    assert_eq!(
        field(&out, "OFF"),
        "unreachable: the request arrives, the reply does not come back;probe: no reply (the kernel agrees);",
        "{out}"
    );
    nothing_left(&out);
}

/// `seen as`: the address the receiver sees a datagram come from, after
/// SNAT and masquerade (IPv4 and IPv6) and without them, as a plain
/// socket in the same node sees it (Python's, the oracle); a wrong
/// address fails with what was seen; `validate` refuses a port, a family
/// that cannot be, and an address no node has.
#[test]
fn seen_as_is_the_source_address_the_receiver_sees_after_nat() {
    const LAB: &str = r#"name: seen
nodes:
  server: {routes: [default via 10.0.1.1, default via 2001:db8:1::1]}
  router:
    forwarding: true
    nat: [snat -s 10.0.1.0/24 -o outside --to-source 10.0.2.1, masquerade -s 2001:db8:1::/64 -o outside]
  client: {}
links:
  - endpoints: [server 10.0.1.2/24 2001:db8:1::2/64, router:inside 10.0.1.1/24 2001:db8:1::1/64]
  - endpoints: [client 10.0.2.2/24 2001:db8:2::2/64, router:outside 10.0.2.1/24 2001:db8:2::1/64]
expect:
  server -> client: seen as 10.0.2.1
  server -> 2001:db8:2::2: seen as 2001:db8:2::1
  router -> server: seen as 10.0.1.1
  client -> server: unreachable (network unreachable)
steps:
  - name: without the SNAT
    remove:
      router: {nat: [snat -s 10.0.1.0/24 -o outside --to-source 10.0.2.1]}
    add:
      client: {routes: [10.0.1.0/24 via 10.0.2.1]}
    expect:
      server -> client: seen as 10.0.1.2
      server -> 2001:db8:2::2: seen as 2001:db8:2::1"#;
    require_lab_tools!();
    let out = run(r#"
cat > /run/seen.yaml <<'EOF'
LAB_TEXT
EOF
echo "TEST $($NSBOX lab test /run/seen.yaml --json | tr -d '\n')"
$NSBOX lab up /run/seen.yaml >/dev/null
# The oracle: a datagram between two plain sockets, one in each node.
ip netns exec seen-client python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", 4999)); s.settimeout(2)
print("ORACLE", s.recvfrom(64)[1][0])' > /run/oracle &
sleep 0.3
ip netns exec seen-server python3 -c '
import socket
socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("10.0.2.2", 4999))'
wait
cat /run/oracle
sed 's/server -> client: seen as 10.0.2.1/server -> client: seen as 10.0.2.9/' /run/seen.yaml > /run/wrong.yaml
set +e
$NSBOX lab check /run/wrong.yaml > /run/out; echo "WRONG $? $(grep FAIL /run/out | sed 's/  */ /g')"
for bad in 'server -> client:udp/53: seen as 10.0.2.1' 'router -> 10.0.2.2: seen as 2001:db8:2::1' 'server -> 10.7.7.7: seen as 10.0.2.1'; do
  sed "s|  router -> server: seen as 10.0.1.1|  $bad|" /run/seen.yaml > /run/bad.yaml
  $NSBOX lab validate /run/bad.yaml 2>&1 | head -1 | sed 's/^/BAD /'
done
set -e
$NSBOX lab down seen >/dev/null
leftovers
"#
    .replace("LAB_TEXT", LAB)
    .as_str());
    let report: serde_json::Value = serde_json::from_str(field(&out, "TEST")).unwrap();
    assert_eq!(report["failed"], 0, "{report:#}");
    assert_eq!(report["passed"], 6, "{report:#}");
    assert_eq!(field(&out, "ORACLE"), "10.0.2.1", "{out}");
    assert_eq!(
        field(&out, "WRONG"),
        "1  FAIL server -> client: seen as 10.0.2.9 seen as 10.0.2.1",
        "{out}"
    );
    let bad: Vec<&str> = out.lines().filter_map(|l| l.strip_prefix("BAD ")).collect();
    assert_eq!(bad.len(), 3, "{out}");
    assert!(
        bad[0].ends_with("seen as is probed with a datagram of nsbox's own, to a port it picks: name no port"),
        "{out}"
    );
    assert!(
        bad[1].ends_with("seen as 2001:db8:2::1: a datagram to 10.0.2.2 comes from an IPv4 address"),
        "{out}"
    );
    assert!(bad[2].contains("no node of the lab has 10.7.7.7"), "{out}");
    nothing_left(&out);
}

/// Rule counters as expectations: `NODE nat|filter RULE: packets N` (or
/// `>= N`), read once the section's probes are done, as nft counts them
/// (the oracle: nft's own listing). A NAT rule counts a connection's first
/// packet only: one per probe, three echoes of one probe included.
/// `validate` refuses a rule the node does not have and a bad count.
#[test]
fn rule_counters_are_expectations_read_after_the_probes() {
    const LAB: &str = r#"name: cnt
nodes:
  server: {routes: [default via 10.0.1.1]}
  router:
    forwarding: true
    nat: [snat -s 10.0.1.0/24 -o outside --to-source 10.0.2.1]
    filter: [forward drop -s 10.0.1.2 -d 10.0.2.3]
  client: {}
links:
  - endpoints: [server 10.0.1.2/24, router:inside 10.0.1.1/24]
  - endpoints: [client 10.0.2.2/24, router:outside 10.0.2.1/24]
sequential: true
expect:
  server -> client: reachable
  server -> 10.0.2.3: unreachable (no reply)
  router nat "snat -s 10.0.1.0/24 -o outside --to-source 10.0.2.1": packets 1
  router filter "forward drop -s 10.0.1.2 -d 10.0.2.3": packets >= 1
steps:
  - name: twice more
    expect:
      server -> client: reachable (count 3)
      server -> 10.0.2.2: reachable
      router nat snat -s 10.0.1.0/24 -o outside --to-source 10.0.2.1: packets 3"#;
    require_lab_tools!();
    let out = run(&r#"
cat > /run/cnt.yaml <<'EOF'
LAB_TEXT
EOF
echo "TEST $($NSBOX lab test /run/cnt.yaml | tail -1)"
$NSBOX lab up /run/cnt.yaml >/dev/null
$NSBOX lab check /run/cnt.yaml >/dev/null
echo "NFT $(ip netns exec cnt-router nft list chain inet nsbox postrouting | grep -o 'packets [0-9]*')"
$NSBOX lab down cnt >/dev/null
set +e
sed 's/--to-source 10.0.2.1": packets 1/--to-source 10.0.2.9": packets 1/' /run/cnt.yaml > /run/bad.yaml
$NSBOX lab validate /run/bad.yaml 2>&1 | head -1 | sed 's/^/BAD /'
sed 's/": packets >= 1/": many/' /run/cnt.yaml > /run/bad.yaml
$NSBOX lab validate /run/bad.yaml 2>&1 | head -1 | sed 's/^/BAD /'
set -e
leftovers
"#
    .replace("LAB_TEXT", LAB));
    assert!(field(&out, "TEST").ends_with("; 7 of 7 expectations hold"), "{out}");
    // The lab check after up: one probe through the SNAT rule.
    assert_eq!(field(&out, "NFT"), "packets 1", "{out}");
    let bad: Vec<&str> = out.lines().filter_map(|l| l.strip_prefix("BAD ")).collect();
    assert!(
        bad[0].ends_with(
            "error: router has no nat rule \"snat -s 10.0.1.0/24 -o outside --to-source 10.0.2.9\" at this point"
        ),
        "{out}"
    );
    assert!(
        bad[1].ends_with("error: \"many\": a counter is expected as packets N or packets >= N"),
        "{out}"
    );
    nothing_left(&out);
}

/// A check runs its unpaced probes in batches, never one thread and
/// socket for every expectation at once: 200 probes that each wait their
/// full second for a reply that never comes (a blackhole route on the
/// router) all hold under a limit of 100 open files. Before, every probe
/// opened its socket at once and half of them failed with EMFILE.
#[test]
fn a_check_of_many_silent_probes_runs_in_batches_within_the_fd_limit() {
    require_lab_tools!();
    let out = run(r#"
{ echo "name: many"
  echo "nodes:"
  echo "  a: {routes: [default via 10.0.0.1]}"
  echo "  r: {forwarding: true, routes: [blackhole 10.9.0.0/16]}"
  echo "links:"
  echo "  - endpoints: [a 10.0.0.2/24, r 10.0.0.1/24]"
  echo "expect:"
  for i in $(seq 1 200); do echo "  a -> 10.9.0.$i: unreachable (no reply)"; done
} > /run/many.yaml
$NSBOX lab up /run/many.yaml >/dev/null
set +e
(ulimit -n 100; $NSBOX lab check /run/many.yaml >/run/out 2>&1; echo "CHECK $? $(grep -c "^  ok " /run/out)")
set -e
echo "FAILED $(grep -m1 FAIL /run/out)"
$NSBOX lab down many >/dev/null
leftovers
"#);
    assert_eq!(field(&out, "CHECK"), "0 200", "{out}");
    nothing_left(&out);
}

/// A request the node's own output rule drops: `nsbox ping` says nothing
/// and exits 1 as iputils does; the lab's probe says why there was no
/// reply, and `explain` names the rule.
#[test]
fn a_send_refused_by_an_output_rule_is_no_reply_with_its_reason() {
    require_lab_tools!();
    let out = run(r#"
cat > /run/out.yaml <<'EOF'
name: out
nodes:
  a: {filter: [output drop -d 10.0.0.2]}
  b: {}
links:
  - endpoints: [a 10.0.0.1/24, b 10.0.0.2/24]
expect:
  a -> b: unreachable (no reply)
  b -> a: unreachable (no reply)
EOF
$NSBOX lab up /run/out.yaml >/dev/null
echo "CHECK $($NSBOX lab check /run/out.yaml --json | tr -d '\n')"
echo "EXPLAIN $($NSBOX lab explain a b | grep dropped)"
set +e
ip netns exec out-a ping -n -c 2 -i 0.2 -W 1 10.0.0.2 >/dev/null 2>/run/err; echo "IPUTILS $? [$(cat /run/err)]"
ip netns exec out-a $NSBOX ping -c 2 -i 0.2 -W 1 10.0.0.2 >/run/out 2>/run/err; echo "NSBOX $? [$(cat /run/err)]"
set -e
echo "STATS $(grep transmitted /run/out)"
$NSBOX lab down out >/dev/null
leftovers
"#);
    let check: serde_json::Value = serde_json::from_str(field(&out, "CHECK")).unwrap();
    let checks = check.as_array().unwrap();
    assert_eq!(
        checks[0]["observed"]["detail"], "no reply (the send was refused by an output rule of a)",
        "{check:#}"
    );
    assert_eq!(checks[1]["observed"]["detail"], "no reply", "{check:#}");
    assert!(checks.iter().all(|c| c["holds"] == true), "{check:#}");
    assert_eq!(
        field(&out, "EXPLAIN"),
        "a: dropped by filter rule 2 (output: -d 10.0.0.2 -> drop)"
    );
    assert_eq!(field(&out, "IPUTILS"), "1 []");
    assert_eq!(field(&out, "NSBOX"), "1 []", "as iputils: {out}");
    assert!(
        field(&out, "STATS").starts_with("2 packets transmitted, 0 received"),
        "{out}"
    );
    nothing_left(&out);
}

#[test]
fn partition_and_heal_cut_and_join_a_running_lab() {
    require_lab_tools!();
    let dir = examples_dir();
    let out = run(&format!(
        r#"
$NSBOX lab up {dir}/partition.yaml >/dev/null
echo "BEFORE $($NSBOX lab exec n1 -- busybox nc -w 1 10.0.0.2 7000 </dev/null >/dev/null 2>&1 && echo 0 || echo $?)"
$NSBOX lab partition n1 n2
echo "RULES $(ip netns exec partition-n2 nft list chain inet nsbox input | grep -c drop)"
echo "CUT $($NSBOX lab exec n1 -- busybox nc -w 1 10.0.0.2 7000 </dev/null >/dev/null 2>&1 && echo 0 || echo $?)"
echo "THIRD $($NSBOX lab exec n3 -- busybox nc -w 1 10.0.0.2 7000 </dev/null >/dev/null 2>&1 && echo 0 || echo $?)"
$NSBOX lab heal n1 n2
echo "HEALED $($NSBOX lab exec n1 -- busybox nc -w 1 10.0.0.2 7000 </dev/null >/dev/null 2>&1 && echo 0 || echo $?)"
echo "TABLE $(ip netns exec partition-n2 nft list tables | wc -l)"
$NSBOX lab down partition >/dev/null
leftovers
"#
    ));
    assert_eq!(field(&out, "BEFORE"), "0", "{out}");
    assert_eq!(
        field(&out, "RULES"),
        "2",
        "n2 drops what comes from n1's two addresses (IPv4 and IPv6)"
    );
    assert_eq!(field(&out, "CUT"), "1", "{out}");
    assert_eq!(field(&out, "THIRD"), "0", "n3 still reaches n2");
    assert_eq!(field(&out, "HEALED"), "0", "{out}");
    assert_eq!(field(&out, "TABLE"), "0", "healing leaves no nsbox table behind");
    nothing_left(&out);
}

#[test]
fn a_lab_that_is_up_is_what_iproute2_and_nft_see() {
    require_lab_tools!();
    let out = run(r#"
cat > /run/lab.yaml <<'EOF'
name: t
nodes:
  a: {routes: [10.9.0.0/16 dev eth0]}
  r:
    forwarding: true
    nat: [snat -s 10.0.1.0/24 -o toward-b --to-source 10.0.2.1]
    filter: [forward drop -s 10.0.1.9]
  b: {lo: [2.2.2.2/32], routes: [default via 10.0.2.1]}
links:
  - endpoints: [a 10.0.1.2/24 fd00:1::2/64, r 10.0.1.1/24]
    mtu: 1400
    rate: 10mbit
  - endpoints: [r:toward-b 10.0.2.1/24, b 10.0.2.2/24]
expect:
  a -> 10.0.1.1: reachable
  b -> r: reachable
EOF
$NSBOX lab up /run/lab.yaml
echo "NETNS $(ip netns list | cut -d' ' -f1 | sort | tr '\n' ' ')"
echo "R_ADDRS $(ip -n t-r -br addr show | awk '{print $1, $3}' | sort | tr '\n' ';')"
echo "A_LINK $(ip -n t-a -o link show eth0 | grep -o 'mtu [0-9]*')"
echo "TBF $(ip netns exec t-a tc qdisc show dev eth0 | grep -o 'tbf 1: root.*rate 10Mbit') / $(ip netns exec t-r tc qdisc show dev eth0 | grep -o 'rate 10Mbit')"
sed 's/    rate: 10mbit/    delay: 20ms/; s/^name: t$/name: d/' /run/lab.yaml > /run/delay.yaml
set +e
$NSBOX lab up /run/delay.yaml 2>/run/err; echo "DELAY $?"
set -e
echo "DELAY_ERR $(tail -1 /run/err)"
grep -v '^nsbox:' /run/err
echo "DELAY_NS $(ip netns list | grep -c '^d-' || true)"
echo "A_V6 $(ip -n t-a -br -6 addr show dev eth0 | grep -o 'fd00:1::2/64')"
echo "A_ROUTE $(ip -n t-a route show 10.9.0.0/16)"
echo "B_ROUTE $(ip -n t-b route show default)"
echo "B_LO $(ip -n t-b -br addr show dev lo | awk '{print $2, $3}')"
echo "FWD $(ip netns exec t-r sysctl -n net.ipv4.ip_forward) $(ip netns exec t-r sysctl -n net.ipv6.conf.all.forwarding)"
echo "NFT $(ip netns exec t-r nft list table inet nsbox | grep -c counter)"
echo "NFT_SNAT $(ip netns exec t-r nft list table inet nsbox | grep -o 'snat ip to 10.0.2.1')"
echo "STATUS $($NSBOX lab status --json | tr -d ' \n')"
echo "EXEC $($NSBOX lab exec b -- cat /proc/sys/net/ipv4/ip_forward) $($NSBOX lab exec r -- cat /proc/sys/net/ipv4/ip_forward)"
$NSBOX lab check /run/lab.yaml; echo "CHECK $?"
$NSBOX lab up /run/lab.yaml 2>/run/err || true; echo "AGAIN $(cat /run/err)"
sed 's/    rate: 10mbit/    rate: 20mbit/' /run/lab.yaml > /run/lab2.yaml
echo "RATE_PLAN $($NSBOX lab apply /run/lab2.yaml | head -2 | tr '\n' ';')"
echo "RATE_NOW $(ip netns exec t-r tc qdisc show dev eth0 | grep -o 'rate 20Mbit')"
grep -v 'rate: ' /run/lab.yaml > /run/lab3.yaml
$NSBOX lab apply /run/lab3.yaml >/dev/null
echo "RATE_GONE $(ip netns exec t-a tc qdisc show dev eth0 | grep -c tbf)"
$NSBOX lab down t
leftovers
"#);
    assert_eq!(field(&out, "NETNS"), "t-a t-b t-r");
    assert_eq!(
        field(&out, "R_ADDRS"),
        "eth0@if2 10.0.1.1/24;lo 127.0.0.1/8;toward-b@if2 10.0.2.1/24;"
    );
    assert_eq!(field(&out, "A_LINK"), "mtu 1400");
    assert_eq!(
        field(&out, "TBF"),
        "tbf 1: root refcnt 3 rate 10Mbit / rate 10Mbit",
        "both ends shaped"
    );
    assert_eq!(field(&out, "DELAY"), "1");
    let delay = field(&out, "DELAY_ERR");
    assert_eq!(delay, "nsbox: /run/delay.yaml: 1 error; nothing was created");
    // Without netem (as here) it says so; with netem, that nsbox does not
    // apply it yet: refused either way, at its place in the file.
    assert!(
        out.contains("/run/delay.yaml:12:12: error: delay and loss"),
        "refused, never ignored: {out}"
    );
    assert_eq!(field(&out, "DELAY_NS"), "0", "refused before anything is made");
    assert_eq!(field(&out, "A_V6"), "fd00:1::2/64");
    assert_eq!(field(&out, "A_ROUTE"), "10.9.0.0/16 dev eth0 scope link");
    assert_eq!(field(&out, "B_ROUTE"), "default via 10.0.2.1 dev eth0");
    assert_eq!(field(&out, "B_LO"), "UNKNOWN 127.0.0.1/8");
    assert_eq!(field(&out, "FWD"), "1 1");
    assert_eq!(field(&out, "NFT"), "2", "the SNAT and the filter rule, each counted");
    assert_eq!(field(&out, "NFT_SNAT"), "snat ip to 10.0.2.1");
    let status: serde_json::Value = serde_json::from_str(field(&out, "STATUS")).unwrap();
    assert_eq!(status[0]["name"], "t");
    assert_eq!(status[0]["alive"], 3);
    assert_eq!(field(&out, "EXEC"), "0 1");
    assert_eq!(field(&out, "CHECK"), "0");
    assert!(field(&out, "AGAIN").contains("lab \"t\" is up already"), "{out}");
    assert_eq!(
        field(&out, "RATE_PLAN"),
        "~ rate a:eth0 20000000 bit/s;~ rate r:eth0 20000000 bit/s;"
    );
    assert_eq!(field(&out, "RATE_NOW"), "rate 20Mbit", "changed in place");
    assert_eq!(field(&out, "RATE_GONE"), "0", "and lifted");
    nothing_left(&out);
}

#[test]
fn a_lab_file_with_mistakes_creates_nothing() {
    require_lab_tools!();
    let out = run(r#"
cat > /run/bad.yaml <<'EOF'
name: bad
nodes:
  a: {}
  b: {routes: [default via 10.7.0.1]}
links:
  - endpoints: [a 10.0.0.1/24, c 10.0.0.2/24]
EOF
set +e
$NSBOX lab up /run/bad.yaml 2>/run/err; echo "CODE $?"
set -e
sed 's/^/ERR /' /run/err
leftovers
"#);
    assert_eq!(field(&out, "CODE"), "1");
    let errors: Vec<&str> = out.lines().filter_map(|l| l.strip_prefix("ERR ")).collect();
    assert_eq!(
        errors,
        [
            "/run/bad.yaml:4:16: error: the gateway 10.7.0.1 is not on a subnet connected to b: the kernel would refuse the route",
            "/run/bad.yaml:6:32: error: unknown node \"c\" (nodes: a, b)",
            "nsbox: /run/bad.yaml: 2 errors; nothing was created",
        ],
        "{out}"
    );
    nothing_left(&out);
}

#[test]
fn a_failure_half_way_through_up_removes_everything() {
    require_lab_tools!();
    // Namespaces, links and addresses are made before the rules; an nft
    // that always fails stops `up` at the router's rules.
    let out = run(r#"
printf '#!/bin/sh\necho "Error: injected failure" >&2\nexit 1\n' > /run/false-nft; chmod +x /run/false-nft
sed 's/^    forwarding: true$/    forwarding: true\n    nat: [masquerade -o veth-cli]/' "$SEED" > /run/seed.yaml
grep -q 'masquerade -o veth-cli' /run/seed.yaml
set +e
NSBOX_NFT=/run/false-nft $NSBOX lab up /run/seed.yaml 2>/run/err; echo "UP $?"
set -e
echo "ERR $(tail -1 /run/err)"
leftovers
"#);
    assert_eq!(field(&out, "UP"), "1", "{out}");
    assert_eq!(
        field(&out, "ERR"),
        "nsbox: node router: nft refused adding rules: injected failure"
    );
    nothing_left(&out);
}

#[test]
fn down_removes_a_lab_whose_up_was_killed_at_any_point() {
    require_lab_tools!();
    // A chain of 30 routers takes long enough to bring up that a SIGKILL
    // lands in every phase: namespaces, links, configuration, state.
    let mut lab = String::from("name: k\nnodes:\n");
    for i in 0..30 {
        lab.push_str(&format!("  n{i}: {{forwarding: true}}\n"));
    }
    lab.push_str("links:\n");
    for i in 0..29 {
        lab.push_str(&format!(
            "  - endpoints: [n{i} 10.{i}.0.1/30, n{} 10.{i}.0.2/30]\n",
            i + 1
        ));
    }
    let out = run(&format!(
        r#"
cat > /run/k.yaml <<'EOF'
{lab}EOF
for delay in 0 0.002 0.005 0.01 0.02 0.04 0.08 0.15; do
  $NSBOX lab up /run/k.yaml >/dev/null 2>&1 &
  pid=$!
  sleep $delay
  kill -9 $pid 2>/dev/null || true
  wait $pid 2>/dev/null || true
  echo "KILLED_AFTER $delay: $(ip netns list | wc -l) namespaces, state: $(ls /run/nsbox/labs 2>/dev/null | tr '\n' ' ')"
  # By name (from the state) half the time, by file the other half.
  case $delay in 0|0.005|0.02|0.08) target=k ;; *) target=/run/k.yaml ;; esac
  $NSBOX lab down --ignore-missing $target >/dev/null
  leftovers
done
"#
    ));
    let killed: Vec<&str> = out.lines().filter(|l| l.starts_with("KILLED_AFTER")).collect();
    assert_eq!(killed.len(), 8, "{out}");
    nothing_left(&out);
}

#[test]
fn a_failing_expectation_fails_the_test_and_still_tears_down() {
    require_lab_tools!();
    let out = run(r#"
cat > /run/f.yaml <<'EOF'
name: f
nodes: {a: {}, b: {}}
links:
  - endpoints: [a 10.0.0.1/24, b 10.0.0.2/24]
expect:
  a -> b: unreachable
  a -> 10.0.9.9: reachable
EOF
set +e
$NSBOX lab test /run/f.yaml > /run/out 2>&1; echo "CODE $?"
set -e
sed 's/^/OUT /' /run/out
leftovers
"#);
    assert_eq!(field(&out, "CODE"), "1");
    assert!(out.contains("OUT   FAIL  a -> b: unreachable"), "{out}");
    assert!(out.contains("reply from 10.0.0.2, ttl 64"), "{out}");
    assert!(out.contains("OUT   FAIL  a -> 10.0.9.9: reachable"), "{out}");
    assert!(out.contains("0 of 2 expectations hold"), "{out}");
    nothing_left(&out);
}

#[test]
fn apply_changes_only_what_the_file_changes() {
    require_lab_tools!();
    let out = run(r#"
cat > /run/a.yaml <<'EOF'
name: ap
nodes:
  a: {routes: [default via 10.0.0.2], run: [sleep 1000]}
  b: {forwarding: true}
links:
  - endpoints: [a 10.0.0.1/24, b 10.0.0.2/24]
EOF
cat > /run/b.yaml <<'EOF'
name: ap
nodes:
  a: {routes: [default via 10.0.0.2], run: [sleep 1000]}
  b: {forwarding: true, filter: [forward drop -s 10.0.0.1 -d 10.0.9.9]}
  c: {routes: [default via 10.0.1.1]}
links:
  - endpoints: [a 10.0.0.1/24, b 10.0.0.2/24]
  - endpoints: [b 10.0.1.1/24, c 10.0.1.2/24]
EOF
$NSBOX lab up /run/a.yaml >/dev/null
echo "SLEEP_BEFORE $(ip netns pids ap-a)"
echo "PLAN $($NSBOX lab apply /run/b.yaml --dry-run | tr '\n' ';')"
echo "DRY $(ip netns list | wc -l)"
echo "JSON $($NSBOX lab apply /run/b.yaml --dry-run --json | tr -d ' \n')"
$NSBOX lab apply /run/b.yaml >/dev/null
echo "SLEEP_AFTER $(ip netns pids ap-a)"
echo "PING $(ip netns exec ap-a ping -c1 -W1 10.0.1.2 >/dev/null && echo 0 || echo $?)"
echo "RULE $(ip netns exec ap-b nft list chain inet nsbox forward | grep -c 'drop')"
echo "AGAIN $($NSBOX lab apply /run/b.yaml)"
# A failure half-way: nft refuses the rule, after c2 and its link are made.
sed 's/^  c: /  c2: {}\n  c: /; s/-d 10.0.9.9/-d 10.0.9.8/' /run/b.yaml > /run/c.yaml
echo "  - endpoints: [b 10.0.2.1/24, c2 10.0.2.2/24]" >> /run/c.yaml
printf '#!/bin/sh\necho "Error: injected failure" >&2\nexit 1\n' > /run/false-nft; chmod +x /run/false-nft
set +e
NSBOX_NFT=/run/false-nft $NSBOX lab apply /run/c.yaml >/dev/null 2>/run/err; echo "FAILED $?"
set -e
echo "ERR $(tail -1 /run/err)"
echo "AFTER_FAILURE $(ip netns list | cut -d' ' -f1 | sort | tr '\n' ' ') $(ip -n ap-b -br link | grep -c eth2)"
$NSBOX lab apply /run/a.yaml >/dev/null
echo "BACK $(ip netns list | cut -d' ' -f1 | sort | tr '\n' ' ') $(ip netns exec ap-b nft list tables | wc -l)"
echo "SLEEP_END $(ip netns pids ap-a)"
$NSBOX lab down ap >/dev/null
leftovers
"#);
    let plan = field(&out, "PLAN");
    assert_eq!(
        plan,
        "+ node c;+ link b:eth1 -- c:eth0;+ address b:eth1 10.0.1.1/24;+ address c:eth0 10.0.1.2/24;\
         + rule b: forward: -s 10.0.0.1 -d 10.0.9.9 -> drop;\
         + sysctl c net.ipv4.ip_forward = 0;+ sysctl c net.ipv6.conf.all.forwarding = 0;\
         + route c: default via 10.0.1.1;"
    );
    assert_eq!(field(&out, "DRY"), "2", "--dry-run changes nothing");
    let ops: serde_json::Value = serde_json::from_str(field(&out, "JSON")).unwrap();
    assert_eq!(ops[0], serde_json::json!({"op": "add_node", "node": "c"}));
    assert_eq!(ops.as_array().unwrap().len(), 8);
    let sleep = field(&out, "SLEEP_BEFORE");
    assert!(!sleep.is_empty());
    assert_eq!(
        field(&out, "SLEEP_AFTER"),
        sleep,
        "node a was not touched: its process is the same"
    );
    assert_eq!(field(&out, "PING"), "0", "a reaches the new node through b");
    assert_eq!(field(&out, "RULE"), "1");
    assert_eq!(field(&out, "AGAIN"), "lab ap: nothing to change");
    assert_eq!(field(&out, "FAILED"), "1");
    assert!(field(&out, "ERR").contains("node b: nft refused"), "{out}");
    assert_eq!(
        field(&out, "AFTER_FAILURE"),
        "ap-a ap-b ap-c  0",
        "c2 and its link were taken away again"
    );
    assert_eq!(
        field(&out, "BACK"),
        "ap-a ap-b  0",
        "back to the first file: c and b's table gone"
    );
    assert_eq!(field(&out, "SLEEP_END"), sleep);
    nothing_left(&out);
}

/// A node whose `forwarding: true` leaves the file stops forwarding: the
/// switch is always said (off unless said), never left as it was or to
/// what the host's own setting would give a new namespace.
#[test]
fn a_node_stops_forwarding_when_the_file_no_longer_says_so() {
    require_lab_tools!();
    let out = run(r#"
cat > /run/a.yaml <<'EOF'
name: fw
nodes:
  a: {}
  b: {forwarding: true}
links:
  - endpoints: [a 10.0.0.1/24, b 10.0.0.2/24]
EOF
sed 's/  b: {forwarding: true}/  b: {}/' /run/a.yaml > /run/b.yaml
$NSBOX lab up /run/a.yaml >/dev/null
echo "BEFORE $(ip netns exec fw-a cat /proc/sys/net/ipv4/ip_forward) $(ip netns exec fw-b cat /proc/sys/net/ipv4/ip_forward)"
echo "PLAN $($NSBOX lab apply /run/b.yaml --dry-run | tr '\n' ';')"
$NSBOX lab apply /run/b.yaml >/dev/null
echo "AFTER $(ip netns exec fw-b cat /proc/sys/net/ipv4/ip_forward) $(ip netns exec fw-b cat /proc/sys/net/ipv6/conf/all/forwarding)"
echo "AGAIN $($NSBOX lab apply /run/b.yaml)"
$NSBOX lab down fw >/dev/null
leftovers
"#);
    assert_eq!(field(&out, "BEFORE"), "0 1", "{out}");
    assert_eq!(
        field(&out, "PLAN"),
        "~ sysctl b net.ipv4.ip_forward 1 -> 0;~ sysctl b net.ipv6.conf.all.forwarding 1 -> 0;"
    );
    assert_eq!(field(&out, "AFTER"), "0 0", "{out}");
    assert_eq!(field(&out, "AGAIN"), "lab fw: nothing to change");
    nothing_left(&out);
}

#[test]
fn explain_follows_the_kernels_routes_rules_and_nat_both_ways() {
    require_lab_tools!();
    let out = run(r#"
cat > /run/t10.yaml <<'EOF'
name: seed
nodes:
  server: {lo: [1.1.1.1/24], routes: [default via 10.0.1.1]}
  router:
    forwarding: true
    routes: [default via 10.0.2.2]
    nat: [snat -s 10.0.1.0/24 -o veth-cli --to-source 10.0.2.1]
  client: {lo: [2.2.2.2/24]}
links:
  - endpoints: [server:vethS 10.0.1.2/24, router:veth-srv 10.0.1.1/24]
  - endpoints: [client:vethC 10.0.2.2/24, router:veth-cli 10.0.2.1/24]
EOF
$NSBOX lab up /run/t10.yaml >/dev/null
# The model's account, and beside it the real echo's answer, which must
# agree every time: PROBE_<case>.
explain() {
  $NSBOX lab explain "$2" "$3" > /run/ex || true
  echo "PROBE_$1 $(grep "^probe:" /run/ex | grep -o "(the kernel agrees)$")" >> /run/probes
  grep -v '^probe:' /run/ex
}
echo "SNAT $(explain SNAT server 2.2.2.2 | tr '\n' ';')"
echo "CLIENT $(explain CLIENT client 10.0.1.2 | tr '\n' ';')"
$NSBOX nat -n seed-router flush >/dev/null
set +e
echo "NO_SNAT $(explain NO_SNAT server 2.2.2.2 | tr '\n' ';')"
$NSBOX lab explain server 2.2.2.2 >/dev/null; echo "NO_SNAT_CODE $?"
# A masquerade of everything: the reply, part of the request's connection,
# is translated back by conntrack and meets no NAT rule of its own.
$NSBOX nat -n seed-router add masquerade >/dev/null
echo "MASQ_ALL $(explain MASQ_ALL server 2.2.2.2 | tr '\n' ';')"
$NSBOX nat -n seed-router flush >/dev/null
$NSBOX filter -n seed-router add forward drop -s 10.0.1.2 >/dev/null
echo "DROPPED $(explain DROPPED server 2.2.2.2 | tail -2 | tr '\n' ';')"
$NSBOX filter -n seed-router flush >/dev/null
ip netns exec seed-router sysctl -qw net.ipv4.ip_forward=0
echo "NO_FORWARDING $(explain NO_FORWARDING server 2.2.2.2 | tail -2 | tr '\n' ';')"
ip netns exec seed-router sysctl -qw net.ipv4.ip_forward=1
# seed-lab.md T6c: an on-link route and a client that no longer answers
# ARP for its loopback address: the router's neighbour entry fails.
ip -n seed-router route replace default dev veth-cli
ip netns exec seed-client sysctl -qw net.ipv4.conf.all.arp_ignore=1
ip -n seed-router neigh flush all
ip netns exec seed-server ping -c 1 -W 4 2.2.2.2 >/dev/null 2>&1
echo "NO_ARP $(explain NO_ARP server 2.2.2.2 | tail -2 | tr '\n' ';')"
cat /run/probes
set -e
$NSBOX lab down seed >/dev/null
leftovers
"#);
    assert_eq!(
        field(&out, "SNAT"),
        "echo request 10.0.1.2 -> 2.2.2.2;server: route to 2.2.2.2 via 10.0.1.1 dev vethS;\
         router: route to 2.2.2.2 via 10.0.2.2 dev veth-cli;router: source 10.0.1.2 rewritten to 10.0.2.1 (SNAT);\
         client: 2.2.2.2 is its own address (on lo): arrived;echo reply 2.2.2.2 -> 10.0.2.1;\
         client: route to 10.0.2.1 on-link dev vethC;router: destination 10.0.2.1 turned back to 10.0.1.2 (SNAT undone);\
         router: route to 10.0.1.2 on-link dev veth-srv;server: 10.0.1.2 is its own address (on vethS): arrived;\
         reachable: the request arrives and the reply comes back;"
    );
    assert_eq!(
        field(&out, "CLIENT"),
        "client: no route to 10.0.1.2 (network unreachable): nothing is sent;unreachable: the request does not arrive;"
    );
    let no_snat = field(&out, "NO_SNAT");
    assert!(
        no_snat.contains("echo reply 2.2.2.2 -> 10.0.1.2;client: no route to 10.0.1.2")
            && no_snat.ends_with("unreachable: the request arrives, the reply does not come back;"),
        "{no_snat}"
    );
    assert_eq!(field(&out, "NO_SNAT_CODE"), "1", "explain exits 1 when the way fails");
    let masq_all = field(&out, "MASQ_ALL");
    assert_eq!(masq_all.matches("(SNAT)").count(), 1, "the request's only: {masq_all}");
    assert!(
        masq_all.contains("router: destination 10.0.2.1 turned back to 10.0.1.2 (SNAT undone)")
            && masq_all.ends_with("reachable: the request arrives and the reply comes back;"),
        "{masq_all}"
    );
    assert!(
        field(&out, "DROPPED").starts_with("router: dropped by filter rule"),
        "{out}"
    );
    let no_arp = field(&out, "NO_ARP");
    assert!(
        no_arp.starts_with("router: the neighbour 2.2.2.2 does not answer (")
            && no_arp.contains("the request does not arrive"),
        "{no_arp}"
    );
    assert_eq!(
        field(&out, "NO_FORWARDING"),
        "router: does not forward (its forwarding switch is off): dropped;unreachable: the request does not arrive;"
    );
    for case in [
        "SNAT",
        "CLIENT",
        "NO_SNAT",
        "MASQ_ALL",
        "DROPPED",
        "NO_FORWARDING",
        "NO_ARP",
    ] {
        assert_eq!(
            field(&out, &format!("PROBE_{case}")),
            "(the kernel agrees)",
            "{case}: {out}"
        );
    }
    nothing_left(&out);
}

/// `explain` of TCP and UDP ports, IPv4 and IPv6: through a port forward
/// (the port rewritten on the way and turned back for the answer), to a
/// port nothing listens on (a reset, closed), to a UDP port nothing is
/// bound to (port unreachable), and into a filter rule that names the
/// port; each beside a real probe that agrees with it.
#[test]
fn explain_follows_tcp_and_udp_ports_through_nat_and_rules() {
    require_lab_tools!();
    let out = run(r#"
cat > /run/pt.yaml <<'EOF'
name: pt
nodes:
  web:
    routes: [default via 10.0.1.1, default via 2001:db8:1::1]
    run: [busybox nc -ll -p 80 -e /bin/true]
  router:
    forwarding: true
    nat: [dnat -i outside -p tcp --dport 8080 --to-destination 10.0.1.2:80]
  client: {routes: [2001:db8:1::/64 via 2001:db8:2::1]}
links:
  - endpoints: [web 10.0.1.2/24 2001:db8:1::2/64, router:inside 10.0.1.1/24 2001:db8:1::1/64]
  - endpoints: [client 10.0.2.2/24 2001:db8:2::2/64, router:outside 10.0.2.1/24 2001:db8:2::1/64]
EOF
$NSBOX lab up /run/pt.yaml >/dev/null
for i in $(seq 50); do ip netns exec pt-web sh -c 'grep -q ":0050 .* 0A " /proc/net/tcp' && break; sleep 0.05; done
explain() {
  set +e; $NSBOX lab explain client "$2" > /run/ex; echo "CODE_$1 $?"; set -e
  echo "STEPS_$1 $(grep -v '^probe:' /run/ex | tr '\n' ';')"
  echo "PROBE_$1 $(grep '^probe:' /run/ex)"
}
explain FORWARD 10.0.2.1:tcp/8080
explain CLOSED 10.0.2.1:tcp/8081
explain UDP 10.0.2.1:udp/53
explain CLOSED6 '[2001:db8:1::2]:tcp/81'
$NSBOX filter -n pt-router add forward drop -p tcp --dport 81 >/dev/null
explain DROPPED6 '[2001:db8:1::2]:tcp/81'
explain OTHER6 '[2001:db8:1::2]:tcp/82'
$NSBOX lab down pt >/dev/null
leftovers
"#);
    let steps = |case: &str| field(&out, &format!("STEPS_{case}")).to_string();
    assert!(
        steps("FORWARD").contains("router: destination 10.0.2.1:8080 rewritten to 10.0.1.2:80 (DNAT);")
            && steps("FORWARD").contains("web: a socket listens on tcp/80: the connection is accepted;")
            && steps("FORWARD").contains("tcp answer from port 80 10.0.1.2 -> 10.0.2.2;")
            && steps("FORWARD").contains("router: source 10.0.1.2:80 turned back to 10.0.2.1:8080 (DNAT undone);")
            && steps("FORWARD").ends_with("open: the request arrives and the answer comes back;"),
        "{out}"
    );
    assert_eq!(field(&out, "CODE_FORWARD"), "0", "{out}");
    assert!(
        steps("CLOSED").contains("router: nothing listens on tcp/8081: the kernel answers with a reset (closed)")
            && steps("CLOSED").ends_with("closed: the request arrives and the host's refusal comes back;"),
        "{out}"
    );
    assert_eq!(field(&out, "CODE_CLOSED"), "1", "{out}");
    assert!(
        steps("UDP").contains("router: nothing is bound to udp/53: the kernel answers port unreachable (closed)"),
        "{out}"
    );
    assert!(
        steps("CLOSED6").contains("web: nothing listens on tcp/81")
            && steps("CLOSED6").ends_with("closed: the request arrives and the host's refusal comes back;"),
        "{out}"
    );
    assert!(
        steps("DROPPED6").contains("router: dropped by filter rule")
            && steps("DROPPED6").ends_with("unreachable: the request does not arrive;"),
        "{out}"
    );
    assert!(
        steps("OTHER6").contains("web: nothing listens on tcp/82"),
        "the rule names 81 only: {out}"
    );
    for case in ["FORWARD", "CLOSED", "UDP", "CLOSED6", "DROPPED6", "OTHER6"] {
        assert!(
            field(&out, &format!("PROBE_{case}")).ends_with("(the kernel agrees)"),
            "{case}: {out}"
        );
    }
    nothing_left(&out);
}

/// Where a node's tables are not nsbox's (a chain with `policy drop`, `ct
/// state` rules), `explain` says its model stops there, and nft's own
/// tracing reports what those tables did to the real probe, IPv4 and IPv6:
/// the policy that dropped the request, the rule that let the reply back.
/// The trace table goes when the probe is done; one that nsbox did not make
/// is left alone, and that node is not traced.
#[test]
fn explain_traces_what_tables_it_does_not_model_did_to_the_probe() {
    require_lab_tools!();
    let out = run(r#"
cat > /run/fw.yaml <<'EOF'
name: fw
nodes:
  a: {routes: [default via 10.0.1.1, default via 2001:db8:1::1]}
  r:
    forwarding: true
    nftables: |
      table inet guard {
        chain forward {
          type filter hook forward priority 0; policy drop;
          ct state established,related accept
          ip saddr 10.0.2.0/24 accept
          ip6 saddr 2001:db8:2::/64 accept
        }
      }
  b: {routes: [default via 10.0.2.1, default via 2001:db8:2::1]}
links:
  - endpoints: [a 10.0.1.2/24 2001:db8:1::2/64, r 10.0.1.1/24 2001:db8:1::1/64]
  - endpoints: [r 10.0.2.1/24 2001:db8:2::1/64, b 10.0.2.2/24 2001:db8:2::2/64]
EOF
$NSBOX lab up /run/fw.yaml >/dev/null
set +e
echo "OUT $($NSBOX lab explain a b | grep -e '^nft trace' -e '^probe' | sort -u | tr '\n' ';')"
echo "IN $($NSBOX lab explain b a | grep -e '^nft trace' -e '^probe' | sort -u | tr '\n' ';')"
echo "IN6 $($NSBOX lab explain b 2001:db8:1::2 | grep -e '^nft trace' | sort -u | tr '\n' ';')"
echo "TABLES $(ip netns exec fw-r nft list tables | tr '\n' ';')"
ip netns exec fw-r nft add table inet nsbox-trace
echo "THEIRS $($NSBOX lab explain a b | grep -e 'not traced' -e '^nft trace' | tr '\n' ';')"
echo "KEPT $(ip netns exec fw-r nft list tables | grep -c nsbox-trace)"
set -e
$NSBOX lab down fw >/dev/null
leftovers
"#);
    assert_eq!(
        field(&out, "OUT"),
        "nft trace: r: inet guard forward: policy drop (10.0.1.2 -> 10.0.2.2 icmp echo-request);\
         probe: no reply: the kernel disagrees with the model; nft's trace below says what the tables the model does not follow did;",
        "{out}"
    );
    assert_eq!(
        field(&out, "IN"),
        "nft trace: r: inet guard forward: rule ct state established,related accept (verdict accept) (10.0.1.2 -> 10.0.2.2 icmp echo-reply);\
         nft trace: r: inet guard forward: rule ip saddr 10.0.2.0/24 accept (verdict accept) (10.0.2.2 -> 10.0.1.2 icmp echo-request);\
         probe: reply from 10.0.1.2, ttl 63 (the kernel agrees);",
        "{out}"
    );
    assert!(
        field(&out, "IN6").contains("rule ip6 saddr 2001:db8:2::/64 accept (verdict accept) (2001:db8:2::2 -> 2001:db8:1::2 icmpv6 echo-request)"),
        "{out}"
    );
    assert_eq!(
        field(&out, "TABLES"),
        "table inet guard;",
        "the trace table goes: {out}"
    );
    assert_eq!(
        field(&out, "THEIRS"),
        "nft trace: r: not traced: it has a table inet nsbox-trace that this explain did not make;",
        "{out}"
    );
    assert_eq!(field(&out, "KEPT"), "1", "{out}");
    nothing_left(&out);
}

#[test]
fn container_nodes_have_namespaces_of_their_own_and_go_with_down() {
    require_lab_tools!();
    let out = run(&format!(
        r#"
$NSBOX lab up {dir}/containers.yaml >/dev/null
# The container's command: the newest process in the node's namespace.
for i in $(seq 50); do p=$(ip netns pids boxes-client | tail -1); [ "$(cat /proc/$p/comm 2>/dev/null)" = sleep ] && break; sleep 0.05; done
echo "COMM $(cat /proc/$p/comm)"
echo "HOSTNAME $(nsenter -t $p -u hostname)"
echo "OWN_PID_NS $([ "$(readlink /proc/$p/ns/pid)" != "$(readlink /proc/self/ns/pid)" ] && echo yes || echo no)"
echo "OWN_MNT_NS $([ "$(readlink /proc/$p/ns/mnt)" != "$(readlink /proc/self/ns/mnt)" ] && echo yes || echo no)"
echo "NODE_NET_NS $([ "$(readlink /proc/$p/ns/net)" = "net:[$(stat -L -c %i /run/netns/boxes-client)]" ] && echo yes || echo no)"
echo "PID_INSIDE $(grep NSpid /proc/$p/status | awk '{{print $NF}}')"
echo "GRAPH $($NSBOX lab graph {dir}/containers.yaml | grep -c container)"
echo "EXEC $($NSBOX lab exec client -- hostname) $($NSBOX lab exec client -- sh -c 'echo $$')"
$NSBOX lab down boxes >/dev/null
echo "GONE $(kill -0 $p 2>/dev/null && echo no || echo yes)"
leftovers
"#,
        dir = format!("{}/../../examples/labs", env!("CARGO_MANIFEST_DIR"))
    ));
    assert_eq!(field(&out, "COMM"), "sleep", "{out}");
    assert_eq!(field(&out, "HOSTNAME"), "client-box");
    assert_eq!(field(&out, "OWN_PID_NS"), "yes");
    assert_eq!(field(&out, "OWN_MNT_NS"), "yes");
    assert_eq!(
        field(&out, "NODE_NET_NS"),
        "yes",
        "the container is in the node's network namespace"
    );
    let inside: u32 = field(&out, "PID_INSIDE").parse().unwrap();
    assert!(inside <= 3, "a small PID inside, after nsbox's init: {inside}");
    assert_eq!(field(&out, "GRAPH"), "2");
    let exec = field(&out, "EXEC");
    let (hostname, pid) = exec.split_once(' ').unwrap();
    assert_eq!(hostname, "client-box", "lab exec enters the container's uts namespace");
    assert!(pid.parse::<u32>().unwrap() < 20, "and its pid namespace: {pid}");
    assert_eq!(field(&out, "GONE"), "yes");
    nothing_left(&out);
}

#[test]
fn apply_puts_back_what_went_missing_from_the_kernel() {
    require_lab_tools!();
    let dir = examples_dir();
    let out = run(&format!(
        r#"
sed 's/^  r3:$/  r3:\n    filter: [forward drop -s 10.9.9.9]/' {dir}/chain.yaml > /run/c.yaml
$NSBOX lab up /run/c.yaml >/dev/null
echo "CLEAN $($NSBOX lab apply /run/c.yaml --dry-run)"
ip -n chain-r2 route del 10.0.3.0/24
ip -n chain-left addr del 10.0.0.2/24 dev eth0
ip netns exec chain-r3 nft delete table inet nsbox
ip netns del chain-right
echo "PLAN $($NSBOX lab apply /run/c.yaml --dry-run | tr '\n' ';')"
$NSBOX lab apply /run/c.yaml >/dev/null
echo "AGAIN $($NSBOX lab apply /run/c.yaml)"
echo "PING $(ip netns exec chain-left ping -c1 -W1 10.0.3.2 >/dev/null && echo 0 || echo 1)"
$NSBOX lab down chain >/dev/null
leftovers
"#,
    ));
    assert_eq!(field(&out, "CLEAN"), "lab chain: nothing to change");
    assert_eq!(
        field(&out, "PLAN"),
        "+ node right;+ link r3:eth1 -- right:eth0;+ address left:eth0 10.0.0.2/24;+ address r3:eth1 10.0.3.1/24;\
         + address r3:eth1 2001:db8:3::1/64;+ address right:eth0 10.0.3.2/24;+ address right:eth0 2001:db8:3::2/64;\
         + route left: default via 10.0.0.1;+ route r2: 10.0.3.0/24 via 10.0.2.2;\
         + rule r3: forward: -s 10.9.9.9 -> drop;\
         + sysctl right net.ipv4.ip_forward = 0;+ sysctl right net.ipv6.conf.all.forwarding = 0;\
         + route right: default via 10.0.3.1;+ route right: default via 2001:db8:3::1;"
    );
    assert_eq!(field(&out, "AGAIN"), "lab chain: nothing to change");
    assert_eq!(field(&out, "PING"), "0");
    nothing_left(&out);
}

#[test]
fn graph_draws_images_through_graphviz_and_text_to_a_file() {
    if common::missing_tool(&["dot"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let star = format!("{}/star.yaml", examples_dir());
    for name in ["star.svg", "star.png", "star.dot"] {
        let out = dir.path().join(name);
        let (code, _, err) = common::run(&["lab", "graph", &star, "-o", out.to_str().unwrap()]);
        assert_eq!(code, 0, "{name}: {err}");
        let bytes = std::fs::read(&out).unwrap();
        match name {
            "star.svg" => assert!(String::from_utf8_lossy(&bytes).contains("<svg"), "{name}"),
            "star.png" => assert!(bytes.starts_with(b"\x89PNG"), "{name}"),
            _ => assert!(String::from_utf8_lossy(&bytes).starts_with("graph \"star\""), "{name}"),
        }
    }
}
