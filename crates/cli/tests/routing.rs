//! Routing labs: FRR and BIRD in lab nodes (Debian's packages, the host's
//! binaries), route checks read from the kernel, `converge:`, and the
//! mistakes a router node can hold. Each script runs in a private /run
//! (`common::in_private_run`), so its namespaces and state are its own.

mod common;
use common::*;

/// Root and the lab's tools (ip, nft, ping), and `extra` besides; else
/// the test says SKIPPED and returns.
macro_rules! require_tools {
    ($($extra:expr),*) => {
        require_root!();
        if common::missing_tool(&["ip", "nft", "ping", $($extra),*]) {
            return;
        }
    };
}

macro_rules! require_routing_tools {
    () => {
        require_tools!("vtysh", "bird", "birdc")
    };
}

/// Runs `script` after a shell function `left LAB` that prints `LEFT` and
/// what is left of that lab: its namespaces, its state files, mounts that
/// name it, and the routing daemons among `$PIDS` still alive (a zombie
/// is dead: the host's init reaps the containers' inits in its own time).
fn run(script: &str) -> String {
    let script = format!(
        "left() {{ alive=''; for p in $PIDS; do state=$(sed 's/.*) //' /proc/$p/stat 2>/dev/null | cut -c1); \
         [ -n \"$state\" ] && [ \"$state\" != Z ] && alive=\"$alive $p\"; done; \
         echo \"LEFT netns=[$(ip netns list | tr '\\n' ' ')] state=[$(ls /run/nsbox/labs 2>/dev/null | tr '\\n' ' ')] \
         mounts=[$(grep -c \"$1\" /proc/self/mountinfo)] daemons=[$alive]\"; }}\nPIDS=''\n{script}\necho END"
    );
    let (code, out, err) = in_private_run(&script);
    assert!(
        code == 0 && out.contains("END"),
        "script failed ({code}):\n{out}\n{err}"
    );
    out
}

const NOTHING_LEFT: &str = "LEFT netns=[] state=[] mounts=[0] daemons=[]";

/// OSPF between FRR and BIRD, fast timers on both sides; a static route on
/// the FRR side (so staticd runs there).
const INTEROP: &str = r#"name: interop
converge: 40s
nodes:
  r1:
    lo: [10.255.0.1/32]
    frr:
      daemons: [ospfd]
      config: |
        ip route 10.77.0.0/24 10.0.12.2
        router ospf
         ospf router-id 10.255.0.1
         timers throttle spf 0 50 500
         timers throttle lsa all 0
         timers lsa min-arrival 0
         network 10.255.0.1/32 area 0
         network 10.0.12.0/24 area 0
        interface eth0
         ip ospf hello-interval 1
         ip ospf dead-interval 4
         ip ospf retransmit-interval 1
  r2:
    lo: [10.255.0.2/32]
    bird:
      config: |
        router id 10.255.0.2;
        protocol device { scan time 1; }
        protocol direct { ipv4; interface "lo"; }
        protocol kernel { ipv4 { export where source = RTS_OSPF; }; }
        protocol ospf v2 {
          ipv4 { import all; export where source = RTS_DEVICE; };
          area 0 { interface "eth0" { hello 1; dead 4; retransmit 2; }; };
        }
links:
  - endpoints: [r1:eth0 10.0.12.1/24, r2:eth0 10.0.12.2/24]
expect:
  r1 route 10.255.0.2/32: via 10.0.12.2 proto ospf
  r2 route 10.255.0.1/32: via 10.0.12.1 proto bird
  r1 route 10.9.9.0/24: absent
  r1 route 10.77.0.0/24: via 10.0.12.2 proto static
  r1 from 10.255.0.1 -> 10.255.0.2: reachable
"#;

/// FRR and BIRD speak OSPF to each other in two nodes: each installs the
/// other's loopback with its own protocol, `lab check` waits for them to
/// converge, vtysh and birdc answer as on a router, and `down` ends the
/// daemons and leaves no namespace, state or mount.
#[test]
fn frr_and_bird_routers_converge_answer_their_shells_and_leave_nothing() {
    require_routing_tools!();
    let out = run(&format!(
        r#"cat > /run/interop.yaml <<'EOF'
{INTEROP}EOF
$NSBOX lab up /run/interop.yaml
PIDS="$(ip netns pids interop-r1) $(ip netns pids interop-r2)"
echo "DAEMONS $(for p in $PIDS; do cat /proc/$p/comm; done | sort | tr '\n' ' ')"
set +e; $NSBOX lab check /run/interop.yaml > /run/check 2>&1; echo "CHECK $?"; set -e
cat /run/check
echo "VTYSH $($NSBOX lab exec r1 -- vtysh -c 'show ip ospf neighbor' | grep -c Full)"
echo "BIRDC $($NSBOX lab exec r2 -- birdc show protocols | grep -c 'ospf1 .*Running')"
echo "ETC $($NSBOX lab exec r1 -- stat -c '%U:%G %a' /etc/frr /etc/frr/frr.conf | tr '\n' ' ')"
echo "VARTMP $($NSBOX lab exec r1 -- ls /var/tmp/frr | wc -l) $(ls /var/tmp/frr 2>/dev/null | wc -l)"
$NSBOX lab down interop
left interop
"#
    ));
    let daemons = field(&out, "DAEMONS");
    for d in ["zebra", "staticd", "ospfd", "bird"] {
        assert!(daemons.split(' ').any(|n| n == d), "{d} not in {daemons}:\n{out}");
    }
    assert_eq!(field(&out, "CHECK"), "0", "{out}");
    assert_eq!(field(&out, "VTYSH"), "1", "{out}");
    assert_eq!(field(&out, "BIRDC"), "1", "{out}");
    assert_eq!(field(&out, "ETC"), "frr:frr 750 frr:frr 640", "{out}");
    // FRR's /var/tmp/frr/<daemon>.<pid> directories are the node's own.
    let vartmp = field(&out, "VARTMP");
    assert!(vartmp.ends_with(" 0") && !vartmp.starts_with("0 "), "{vartmp}");
    assert_eq!(field(&out, "LEFT"), &NOTHING_LEFT["LEFT ".len()..], "{out}");
}

/// A route that appears a second after `up` (a node's command adds it):
/// with `converge` the check waits for it and the report says how long it
/// took; a route that never comes fails once the time is up.
#[test]
fn converge_waits_for_routes_and_reports_the_time() {
    require_tools!();
    let out = run(r#"cat > /run/late.yaml <<'EOF'
name: late
converge: 10s
nodes:
  a:
    run: ["sleep 1; ip route add 10.9.0.0/24 via 10.0.0.2"]
  b: {}
links:
  - endpoints: [a:eth0 10.0.0.1/24, b:eth0 10.0.0.2/24]
expect:
  a route 10.9.0.0/24: via 10.0.0.2 dev eth0 proto boot
  a route 10.0.0.0/24: dev eth0 proto kernel
steps:
  - name: never
    converge: 1s
    expect:
      a route 10.8.0.0/24: present
EOF
set +e; $NSBOX lab test /run/late.yaml --json > /run/report; echo "STATUS $?"; set -e
echo "REPORT $(tr -d '\n' < /run/report)"
left late
"#);
    assert_eq!(field(&out, "STATUS"), "1", "{out}");
    let report: serde_json::Value = serde_json::from_str(field(&out, "REPORT")).unwrap();
    let up = &report["sections"][0];
    assert!(
        up["checks"].as_array().unwrap().iter().all(|c| c["holds"] == true),
        "{up:#}"
    );
    let took = up["converged_ms"].as_f64().unwrap();
    assert!((900.0..10_000.0).contains(&took), "{took}");
    let never = &report["sections"][1];
    assert_eq!(never["checks"][0]["holds"], false, "{never:#}");
    assert_eq!(never["checks"][0]["observed"]["detail"], "no route", "{never:#}");
    assert!(never.get("converged_ms").is_none(), "{never:#}");
    assert_eq!(field(&out, "LEFT"), &NOTHING_LEFT["LEFT ".len()..], "{out}");
}

/// Three OSPF routers in a triangle with FRR's default MinLSArrival: `up`
/// starts r2 first, then r1 and r3, whose link closes the cycle, at least
/// 1.5 s after r2 runs and 0.3 s apart (crates/lab/src/start_order.rs),
/// and the triangle converges. Each router's start script stamps its
/// marker file the moment its daemons run. (With `min-arrival 0` nothing
/// is discarded and all start at once: the unit tests of start_order.)
#[test]
fn a_cycle_of_ospf_routers_is_closed_last() {
    require_routing_tools!();
    let router = |n: u8, ifaces: [&str; 2]| {
        let mut text = format!(
            "  r{n}:\n    lo: [10.255.0.{n}/32]\n    frr:\n      daemons: [ospfd]\n      config: |\n        router ospf\n         network 10.0.0.0/8 area 0\n"
        );
        for iface in ifaces {
            text += &format!(
                "        interface {iface}\n         ip ospf hello-interval 1\n         ip ospf dead-interval 4\n"
            );
        }
        text
    };
    let out = run(&format!(
        r#"cat > /run/cycle.yaml <<'EOF'
name: cycle
converge: 40s
nodes:
{}{}{}links:
  - endpoints: [r1:to2 10.0.12.1/24, r2:to1 10.0.12.2/24]
  - endpoints: [r2:to3 10.0.23.2/24, r3:to2 10.0.23.3/24]
  - endpoints: [r1:to3 10.0.13.1/24, r3:to1 10.0.13.3/24]
expect:
  r1 route 10.255.0.3/32: via 10.0.13.3 proto ospf
  r3 route 10.255.0.2/32: via 10.0.23.2 proto ospf
EOF
$NSBOX lab up /run/cycle.yaml > /dev/null
for r in r1 r2 r3; do echo "$r $(stat -c %.9Y /run/nsbox/labs/cycle.routers/$r/log/nsbox-started)"; done
$NSBOX lab check /run/cycle.yaml > /dev/null && echo "CHECK holds"
$NSBOX lab down cycle > /dev/null
left cycle
"#,
        router(1, ["to2", "to3"]),
        router(2, ["to1", "to3"]),
        router(3, ["to1", "to2"])
    ));
    let started = |router: &str| -> f64 { field(&out, router).parse().unwrap_or_else(|e| panic!("{e}: {out}")) };
    let (r1, r2, r3) = (started("r1"), started("r2"), started("r3"));
    assert!(r1 - r2 >= 1.5 && r3 - r2 >= 1.5, "r1 {r1} r2 {r2} r3 {r3}");
    assert!(r3 - r1 >= 0.3, "r1 {r1} r3 {r3}");
    assert!(out.contains("CHECK holds"), "{out}");
    assert_eq!(field(&out, "LEFT"), &NOTHING_LEFT["LEFT ".len()..], "{out}");
}

/// What a router node can get wrong is refused at its place in the file,
/// by `validate` (which also gives the configuration to the daemon's own
/// check) and by `up`, which then makes nothing: an unknown daemon, a node
/// that is both FRR and BIRD or also a container, a configuration file
/// that is not there, a configuration the daemon refuses (inline: at its
/// line of the lab file; in a file: that file's line).
#[test]
fn router_mistakes_are_refused_with_their_place_and_nothing_is_made() {
    require_routing_tools!();
    let out = run(r#"cat > /run/bad.yaml <<'EOF'
name: bad
nodes:
  r1:
    frr:
      daemons: [ospfd, ospf]
      config: |
        router ospf
         netwrk 10.0.0.0/8 area 0
  r2:
    frr: {config: missing.conf}
  r3:
    bird: {config: b.conf}
  r4:
    container: {command: sleep 1000}
    frr: {config: "hostname r4\n"}
EOF
printf 'router id 1.2.3.4;\nprotocol kernel { ipv4 { exprt all; }; }\n' > /run/b.conf
set +e
$NSBOX lab validate /run/bad.yaml > /run/out 2>&1; echo "VALIDATE $?"
sed 's/^/AT /' /run/out
$NSBOX lab up /run/bad.yaml > /run/out 2>&1; echo "UP $?"
sed 's/^/UPSAYS /' /run/out
set -e
left bad
"#);
    assert_eq!(field(&out, "VALIDATE"), "1", "{out}");
    let at: Vec<&str> = out.lines().filter(|l| l.starts_with("AT ")).collect();
    for want in [
        "bad.yaml:5:24: error: unknown FRR daemon \"ospf\"",
        "bad.yaml:8:9: error: FRR: % Unknown command[41]:  netwrk 10.0.0.0/8 area 0",
        "bad.yaml:10:19: error: cannot read /run/missing.conf",
        "bad.yaml:12:20: error: b.conf:2:26: BIRD: syntax error",
        "bad.yaml:14:16: error: a router node is a container of its own",
    ] {
        assert!(at.iter().any(|l| l.contains(want)), "{want:?} not in:\n{out}");
    }
    assert_eq!(field(&out, "UP"), "1", "{out}");
    assert!(out.contains("nothing was created"), "{out}");
    assert_eq!(field(&out, "LEFT"), &NOTHING_LEFT["LEFT ".len()..], "{out}");
}

/// At `up`, FRR's configurations go to vtysh's check before anything is
/// made (FRR's daemons would pass over a mistake): the mistake is refused
/// at its line of the lab file. BIRD refuses its own at start (`up` does
/// not ask `bird -p`): `up` fails with BIRD's words at the node's place,
/// and the configuration's line in the lab file, and takes back all it made.
#[test]
fn configurations_the_daemons_refuse_fail_up_with_their_words() {
    require_routing_tools!();
    let out = run(r#"cat > /run/refused.yaml <<'LAB'
name: refused
nodes:
  r1:
    frr:
      daemons: [ospfd]
      config: |
        router ospf
         netwrk 10.0.0.0/8 area 0
  r2: {}
links:
  - endpoints: [r1 10.0.0.1/24, r2 10.0.0.2/24]
LAB
set +e; $NSBOX lab up /run/refused.yaml > /run/out 2>&1; echo "FRRUP $?"; set -e
sed 's/^/FRRSAYS /' /run/out
cat > /run/birdy.yaml <<'LAB'
name: birdy
nodes:
  r1: {}
  r2:
    bird:
      config: |
        router id 10.255.0.2;
        protocol device {}
        protocol ospf v2 {
          area 0 { interface "eth0" { retransmit 1; }; };
        }
links:
  - endpoints: [r1:eth0 10.0.0.1/24, r2:eth0 10.0.0.2/24]
LAB
set +e; $NSBOX lab up /run/birdy.yaml > /run/out 2>&1; echo "BIRDUP $?"; set -e
sed 's/^/BIRDSAYS /' /run/out
left refused
left birdy
"#);
    assert_eq!(field(&out, "FRRUP"), "1", "{out}");
    assert!(
        out.contains("refused.yaml:8:9: error: FRR: % Unknown command[41]:  netwrk 10.0.0.0/8 area 0"),
        "{out}"
    );
    assert!(out.contains("nothing was created"), "{out}");
    assert_eq!(field(&out, "BIRDUP"), "1", "{out}");
    assert!(
        out.contains("birdy.yaml:6:7: node r2: BIRD exited with status 1 at start:"),
        "{out}"
    );
    assert!(
        out.contains("Retransmit int must be greater than one (lab file line 10, column"),
        "{out}"
    );
    for line in out.lines().filter(|l| l.starts_with("LEFT ")) {
        assert_eq!(line, NOTHING_LEFT, "{out}");
    }
}

/// `up` killed while the daemons start: `down` still ends them all (they
/// are in the node container's pid namespace) and leaves nothing.
#[test]
fn down_after_a_killed_up_ends_the_daemons() {
    require_routing_tools!();
    let out = run(&format!(
        r#"cat > /run/interop.yaml <<'EOF'
{INTEROP}EOF
$NSBOX lab up /run/interop.yaml > /dev/null 2>&1 &
up=$!
for i in $(seq 200); do
  ip netns pids interop-r1 2>/dev/null | while read p; do cat /proc/$p/comm; done | grep -q zebra && break
  sleep 0.005
done
kill -9 $up 2>/dev/null || true; wait $up || true
PIDS="$(ip netns pids interop-r1 2>/dev/null) $(ip netns pids interop-r2 2>/dev/null)"
echo "STARTED $(echo $PIDS | wc -w)"
$NSBOX lab down interop
left interop
"#
    ));
    assert_ne!(field(&out, "STARTED"), "0", "{out}");
    assert_eq!(field(&out, "LEFT"), &NOTHING_LEFT["LEFT ".len()..], "{out}");
}

/// `lab capture` writes pcap that tcpdump reads, with the packets of a
/// known ping (a filter in tcpdump's syntax keeps ARP out), live to stdout
/// too; a missing interface and a filter tcpdump refuses are clear errors.
#[test]
fn capture_writes_pcap_that_tcpdump_reads() {
    require_tools!("tcpdump");
    let out = run(r#"cat > /run/cap.yaml <<'LAB'
name: cap
nodes: {a: {}, b: {}}
links:
  - endpoints: [a:eth0 10.0.0.1/24, b:eth0 10.0.0.2/24]
LAB
$NSBOX lab up /run/cap.yaml > /dev/null
started() { for i in $(seq 200); do grep -q capturing "$1" 2>/dev/null && return; sleep 0.01; done; }
$NSBOX lab capture a:eth0 -w /run/x.pcap -c 4 icmp 2> /run/cap.err &
cap=$!
started /run/cap.err
ip netns exec cap-a ping -c 2 -i 0.2 -q 10.0.0.2 > /dev/null
wait $cap
echo "FILE $(tcpdump -r /run/x.pcap -n 2>/dev/null | grep -c 'ICMP echo')"
tcpdump -r /run/x.pcap -n 2>/dev/null | sed 's/^/PKT /'
echo "SAID $(tail -1 /run/cap.err)"
($NSBOX lab capture a:eth0 -w - -c 2 icmp 2> /run/live.err | tcpdump -r - -n 2>/dev/null > /run/live) &
live=$!
started /run/live.err
ip netns exec cap-b ping -c 1 -q 10.0.0.1 > /dev/null
wait $live
echo "LIVE $(grep -c 'ICMP echo' /run/live)"
set +e
$NSBOX lab capture a:nope -c 1 > /dev/null 2> /run/err; echo "NOPE $? $(cat /run/err)"
$NSBOX lab capture a:eth0 -c 1 'icmp and' > /dev/null 2> /run/err; echo "BADFILTER $? $(cat /run/err)"
set -e
$NSBOX lab down cap > /dev/null
left cap
"#);
    assert_eq!(field(&out, "FILE"), "4", "{out}");
    let packets: Vec<&str> = out.lines().filter(|l| l.starts_with("PKT ")).collect();
    assert!(packets[0].contains("10.0.0.1 > 10.0.0.2: ICMP echo request"), "{out}");
    assert!(packets[1].contains("10.0.0.2 > 10.0.0.1: ICMP echo reply"), "{out}");
    assert_eq!(field(&out, "SAID"), "4 packets captured", "{out}");
    assert_eq!(field(&out, "LIVE"), "2", "{out}");
    assert!(
        field(&out, "NOPE").starts_with("1 nsbox: a: capturing on nope: no such interface"),
        "{out}"
    );
    let bad = field(&out, "BADFILTER");
    assert!(
        bad.starts_with("1 nsbox: the filter \"icmp and\": ") && bad.contains("syntax error"),
        "{out}"
    );
    assert_eq!(field(&out, "LEFT"), &NOTHING_LEFT["LEFT ".len()..], "{out}");
}

/// Throughput measured with iperf3 between two nodes: under a link's
/// `rate` of 50mbit, within 20 % of it; without one, far more; the report
/// gives the figure.
#[test]
fn throughput_is_measured_and_a_rate_limit_holds() {
    require_tools!("iperf3");
    let out = run(r#"cat > /run/rate.yaml <<'LAB'
name: rate
nodes: {a: {}, b: {}, c: {}}
links:
  - endpoints: [a:eth0 10.0.0.1/24, b:eth0 10.0.0.2/24]
    rate: 50mbit
  - endpoints: [a:eth1 10.0.1.1/24, c:eth0 10.0.1.2/24]
expect:
  a -> 10.0.0.2: throughput >= 40mbit (time 2s)
  b -> 10.0.0.1: throughput <= 60mbit (time 2s)
  a -> c: throughput >= 200mbit (time 1s)
LAB
set +e; $NSBOX lab test /run/rate.yaml --json > /run/report; echo "STATUS $?"; set -e
echo "REPORT $(tr -d '\n' < /run/report)"
left rate
"#);
    let report: serde_json::Value = serde_json::from_str(field(&out, "REPORT")).unwrap();
    assert_eq!(field(&out, "STATUS"), "0", "{report:#}");
    let detail = report["sections"][0]["checks"][0]["observed"]["detail"]
        .as_str()
        .unwrap();
    assert!(detail.ends_with("mbit/s measured"), "{detail}");
    assert_eq!(field(&out, "LEFT"), &NOTHING_LEFT["LEFT ".len()..], "{out}");
}

/// `lab apply` of a router's new configuration restarts its daemons with
/// it (they read it at start), and only that router's.
#[test]
fn apply_restarts_a_router_whose_configuration_changed() {
    require_routing_tools!();
    let out = run(r#"cat > /run/a.yaml <<'LAB'
name: appl
nodes:
  r1:
    frr:
      daemons: [ospfd]
      config: |
        router ospf
         network 10.0.0.0/8 area 0
  r2:
    frr:
      daemons: [ospfd]
      config: |
        router ospf
         network 10.0.0.0/8 area 0
links:
  - endpoints: [r1:eth0 10.0.0.1/24, r2:eth0 10.0.0.2/24]
LAB
# The same lab, r1 with a static route more.
python3 - <<'EDIT'
text = open("/run/a.yaml").read()
text = text.replace("      config: |\n        router ospf", "      config: |\n        ip route 10.88.0.0/24 10.0.0.2\n        router ospf", 1)
open("/run/b.yaml", "w").write(text)
EDIT
$NSBOX lab up /run/a.yaml > /dev/null
before1=$(ip netns pids appl-r1 | sort | tr '\n' ' ')
before2=$(ip netns pids appl-r2 | sort | tr '\n' ' ')
$NSBOX lab apply /run/b.yaml | sed 's/^/PLAN /'
echo "ROUTE $(ip -n appl-r1 route show 10.88.0.0/24)"
echo "R2SAME $([ "$before2" = "$(ip netns pids appl-r2 | sort | tr '\n' ' ')" ] && echo yes || echo no)"
echo "R1NEW $([ "$before1" = "$(ip netns pids appl-r1 | sort | tr '\n' ' ')" ] && echo no || echo yes)"
PIDS="$before1 $before2 $(ip netns pids appl-r1) $(ip netns pids appl-r2)"
$NSBOX lab down appl > /dev/null
left appl
"#);
    let plan: Vec<&str> = out.lines().filter(|l| l.starts_with("PLAN ")).collect();
    assert!(
        plan.iter().any(|l| l.contains("r1")) && !plan.iter().any(|l| l.contains("r2")),
        "{out}"
    );
    assert!(
        field(&out, "ROUTE").contains("via 10.0.0.2 dev eth0 proto static"),
        "{out}"
    );
    assert_eq!(field(&out, "R2SAME"), "yes", "{out}");
    assert_eq!(field(&out, "R1NEW"), "yes", "{out}");
    assert_eq!(field(&out, "LEFT"), &NOTHING_LEFT["LEFT ".len()..], "{out}");
}

/// A containerlab file runs as it is (the shape of containerlab's
/// lab-examples/frr01: FRR routers from group and kind, PCs configured by
/// exec lines, zebra applying the startup-configs' addresses); converted
/// to nsbox's format it takes expectations: the PCs reach each other
/// through OSPF.
#[test]
fn a_containerlab_file_runs_as_it_is() {
    require_routing_tools!();
    let example = format!("{}/../../examples/clab/frr-tri", env!("CARGO_MANIFEST_DIR"));
    let out = run(&format!(
        r#"cp -r {example} /run/ft
$NSBOX lab up /run/ft/frr-tri.clab.yml 2> /run/notes | sed 's/^/UP /'
grep -c 'is not used: nsbox runs the host' /run/notes | sed 's/^/IMAGES /'
echo "PCROUTE $(ip -n clab-frr-tri-PC1 route show default)"
echo "INSPECT $($NSBOX lab status --clab | tr -d ' \n')"
$NSBOX lab down frr_tri > /dev/null
$NSBOX lab convert /run/ft/frr-tri.clab.yml > /run/ft/frr-tri.yaml 2> /dev/null
cat >> /run/ft/frr-tri.yaml <<'LAB'
converge: 40s
expect:
  PC1 -> 192.168.13.2: reachable
  PC3 -> 192.168.12.2: reachable
  router1 route 10.10.10.3/32: via 192.168.2.2 proto ospf
LAB
set +e; $NSBOX lab test /run/ft/frr-tri.yaml > /run/report; echo "TEST $?"; set -e
sed 's/^/REPORT /' /run/report
left frr_tri
"#
    ));
    assert!(
        field(&out, "UP").starts_with("lab frr_tri is up: 6 nodes, 6 links"),
        "{out}"
    );
    assert_eq!(field(&out, "IMAGES"), "2", "one note per image: {out}");
    assert_eq!(field(&out, "PCROUTE"), "default via 192.168.11.1 dev eth1", "{out}");
    let inspect: serde_json::Value = serde_json::from_str(field(&out, "INSPECT")).unwrap();
    let router1 = &inspect["containers"][0];
    assert_eq!(
        (router1["name"].as_str(), router1["kind"].as_str()),
        (Some("clab-frr-tri-router1"), Some("frr"))
    );
    assert_eq!(inspect["containers"][3]["kind"], "linux", "{inspect:#}");
    assert_eq!(inspect["containers"][3]["state"], "running", "{inspect:#}");
    assert_eq!(field(&out, "TEST"), "0", "{out}");
    assert_eq!(field(&out, "LEFT"), &NOTHING_LEFT["LEFT ".len()..], "{out}");
}

/// A step's `capture:` writes a pcap file of the interface for the step's
/// duration, beside the report (`lab test --captures DIR`), with the
/// packets of the step's own ping in it.
#[test]
fn a_step_captures_its_interfaces_to_pcap_files() {
    require_tools!("tcpdump");
    let out = run(r#"cat > /run/stepcap.yaml <<'LAB'
name: stepcap
nodes: {a: {}, b: {}}
links:
  - endpoints: [a:eth0 10.0.0.1/24, b:eth0 10.0.0.2/24]
steps:
  - name: ping b
    capture: [b:eth0]
    expect:
      a -> 10.0.0.2: reachable (count 3, interval 200ms)
LAB
mkdir /run/pcaps
set +e; $NSBOX lab test /run/stepcap.yaml --captures /run/pcaps > /run/report; echo "TEST $?"; set -e
sed 's/^/REPORT /' /run/report
echo "FILES $(ls /run/pcaps)"
echo "ECHOES $(tcpdump -r /run/pcaps/stepcap-step1-b-eth0.pcap -n icmp 2>/dev/null | grep -c 'ICMP echo request')"
left stepcap
"#);
    assert_eq!(field(&out, "TEST"), "0", "{out}");
    assert_eq!(field(&out, "FILES"), "stepcap-step1-b-eth0.pcap", "{out}");
    assert_eq!(field(&out, "ECHOES"), "3", "{out}");
    assert!(
        out.contains("REPORT   pcap  /run/pcaps/stepcap-step1-b-eth0.pcap ("),
        "{out}"
    );
    assert_eq!(field(&out, "LEFT"), &NOTHING_LEFT["LEFT ".len()..], "{out}");
}

/// A containerlab linux node's `binds:` (a container node of nsbox's with
/// the paths bound in): its exec lines see them, `:ro` holds, and nothing
/// is left after `down`.
#[test]
fn containerlab_binds_are_bound_into_linux_nodes() {
    require_tools!();
    let out = run(r#"mkdir -p /run/cb/data && echo hello > /run/cb/data/greeting
cat > /run/cb/binds.clab.yml <<'LAB'
name: binds
topology:
  nodes:
    h1:
      kind: linux
      binds: [data:/srv/data:ro]
      exec: [test -f /srv/data/greeting]
    h2: {kind: linux}
  links:
    - endpoints: ["h1:eth1", "h2:eth1"]
LAB
$NSBOX lab up /run/cb/binds.clab.yml > /dev/null
echo "READ $($NSBOX lab exec h1 -- cat /srv/data/greeting)"
set +e; $NSBOX lab exec h1 -- sh -c 'echo x > /srv/data/new' 2>/dev/null; echo "WRITE $?"; set -e
echo "HOSTSIDE $(ls /run/cb/data)"
$NSBOX lab down binds > /dev/null
left binds
"#);
    assert_eq!(field(&out, "READ"), "hello", "{out}");
    assert_ne!(field(&out, "WRITE"), "0", "{out}");
    assert_eq!(field(&out, "HOSTSIDE"), "greeting", "{out}");
    assert_eq!(field(&out, "LEFT"), &NOTHING_LEFT["LEFT ".len()..], "{out}");
}

/// A containerlab linux node routes when its `sysctls` say so (containerlab
/// leaves forwarding to what the host gives a new namespace; nsbox says
/// it): the router's two hosts reach each other through it, and a router
/// that does not say so does not forward.
#[test]
fn containerlab_sysctls_make_a_linux_node_a_router() {
    require_tools!();
    let out = run(r#"mkdir -p /run/cs
cat > /run/cs/r.clab.yml <<'LAB'
name: fwd
topology:
  defaults: {kind: linux}
  nodes:
    r:
      sysctls: {net.ipv4.ip_forward: 1}
      exec: [ip addr add 10.1.0.1/24 dev eth1, ip addr add 10.2.0.1/24 dev eth2]
    a:
      exec: [ip addr add 10.1.0.2/24 dev eth1, ip route add default via 10.1.0.1]
    b:
      exec: [ip addr add 10.2.0.2/24 dev eth1, ip route add default via 10.2.0.1]
  links:
    - endpoints: ["r:eth1", "a:eth1"]
    - endpoints: ["r:eth2", "b:eth1"]
LAB
sed 's/{net.ipv4.ip_forward: 1}/{net.ipv4.conf.all.rp_filter: 0}/' /run/cs/r.clab.yml > /run/cs/n.clab.yml
$NSBOX lab up /run/cs/r.clab.yml > /dev/null
echo "FORWARD $(ip netns exec clab-fwd-r cat /proc/sys/net/ipv4/ip_forward)"
echo "PING $(ip netns exec clab-fwd-a ping -c1 -W1 10.2.0.2 > /dev/null && echo 0 || echo 1)"
$NSBOX lab down fwd > /dev/null
$NSBOX lab up /run/cs/n.clab.yml > /dev/null
echo "NOFORWARD $(ip netns exec clab-fwd-r cat /proc/sys/net/ipv4/ip_forward)"
echo "NOPING $(ip netns exec clab-fwd-a ping -c1 -W1 10.2.0.2 > /dev/null && echo 0 || echo 1)"
$NSBOX lab down fwd > /dev/null
left fwd
"#);
    assert_eq!(field(&out, "FORWARD"), "1", "{out}");
    assert_eq!(field(&out, "PING"), "0", "{out}");
    assert_eq!(field(&out, "NOFORWARD"), "0", "{out}");
    assert_eq!(field(&out, "NOPING"), "1", "{out}");
    assert_eq!(field(&out, "LEFT"), &NOTHING_LEFT["LEFT ".len()..], "{out}");
}

/// containerlab's namespace names are someone else's when they exist
/// already: `up` refuses to take one, and `down` leaves it alone.
#[test]
fn a_containerlab_name_that_is_taken_is_left_alone() {
    require_tools!();
    let out = run(r#"ip netns add clab-victim-a
cat > /run/victim.clab.yml <<'LAB'
name: victim
topology:
  nodes:
    a: {kind: linux}
    b: {kind: linux}
  links:
    - endpoints: ["a:eth1", "b:eth1"]
LAB
set +e; $NSBOX lab up /run/victim.clab.yml > /run/out 2>&1; echo "UP $?"; set -e
sed 's/^/SAYS /' /run/out
$NSBOX lab down victim > /dev/null 2>&1 || true
echo "NETNS $(ip netns list | tr '\n' ' ')"
ip netns delete clab-victim-a
left victim
"#);
    assert_eq!(field(&out, "UP"), "1", "{out}");
    assert!(out.contains("clab-victim-a"), "{out}");
    assert_eq!(field(&out, "NETNS"), "clab-victim-a", "{out}");
    assert_eq!(field(&out, "LEFT"), &NOTHING_LEFT["LEFT ".len()..], "{out}");
}
