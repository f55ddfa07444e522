//! `nsbox lab` under hostile input: every verb that deletes is given
//! someone else's objects (files, directories, namespaces, processes) and
//! must leave them alone. Each test runs in a private mount namespace with
//! its own /run (so /run/netns and /run/nsbox are its own).

mod common;

use common::field;

macro_rules! require_lab_tools {
    () => {
        require_root!();
        if common::missing_tool(&["ip", "nft", "ping", "busybox"]) {
            return;
        }
    };
}

fn run(script: &str) -> String {
    let script = format!("{script}\necho END");
    let (code, out, err) = common::in_private_run(&script);
    assert!(
        code == 0 && out.contains("END"),
        "script failed ({code}):\n{out}\n{err}"
    );
    out
}

const WEB: &str = "cat > /run/w.yaml <<'EOF'
name: web
nodes: {server: {}, client: {}}
links:
  - endpoints: [server 10.0.0.1/24, client 10.0.0.2/24]
EOF
";

/// Lab web is up, then its client's namespace is replaced by someone
/// else's of the same name (no mark of the lab's on it).
const TAKEN_OVER: &str = "$NSBOX lab up /run/w.yaml >/dev/null
ip netns delete web-client
ip netns add web-client
";

#[test]
fn down_refuses_paths_as_names_and_touches_no_file_outside_its_directory() {
    require_lab_tools!();
    let out = run(r#"
mkdir -p /run/v.logs/sub /run/nsbox/labs
echo '{"name":"v","file":null,"namespaces":["victim"],"nodes":["a"]}' > /run/v.json
set +e
$NSBOX lab down /run/v 2>/run/err; echo "ABS $?"
$NSBOX lab down ../../v 2>>/run/err; echo "REL $?"
$NSBOX lab down ../../../tmp/x 2>>/run/err; echo "UP3 $?"
set -e
echo "LOGS $(test -d /run/v.logs/sub && echo kept)"
echo "JSON $(test -f /run/v.json && echo kept)"
echo "LOCK $(ls /tmp/x.lock /run/v.lock 2>/dev/null | wc -l)"
echo "ERR $(head -1 /run/err)"
"#);
    assert_eq!(field(&out, "ABS"), "1");
    assert_eq!(field(&out, "REL"), "1");
    assert_eq!(field(&out, "UP3"), "1");
    assert_eq!(field(&out, "LOGS"), "kept");
    assert_eq!(field(&out, "JSON"), "kept");
    assert_eq!(field(&out, "LOCK"), "0", "no lock file made anywhere");
    assert!(
        field(&out, "ERR").contains("is not a lab file, and invalid lab name"),
        "{out}"
    );
}

#[test]
fn down_leaves_a_namespace_of_the_same_name_and_its_processes_alone() {
    require_lab_tools!();
    let out = run(&format!(
        r#"{WEB}
ip netns add web-server
ip netns exec web-server sleep 1000 &
victim=$!
set +e
$NSBOX lab up /run/w.yaml 2>/run/err; echo "UP $?"
$NSBOX lab down /run/w.yaml 2>>/run/err; echo "DOWN $?"
$NSBOX lab down web 2>>/run/err; echo "DOWN_NAME $?"
set -e
echo "NETNS $(ip netns list | cut -d' ' -f1 | tr '\n' ' ')"
echo "SLEEP $(kill -0 $victim && echo alive)"
kill $victim; wait $victim || true
ip netns delete web-server
echo "ERR $(grep -c 'left alone' /run/err)"
"#
    ));
    assert_eq!(field(&out, "UP"), "1", "refused: the name is taken");
    assert_eq!(field(&out, "DOWN"), "1", "nothing of lab web was up");
    assert_eq!(field(&out, "DOWN_NAME"), "1");
    assert_eq!(field(&out, "NETNS"), "web-server");
    assert_eq!(field(&out, "SLEEP"), "alive");
    assert_eq!(field(&out, "ERR"), "2", "each down says what it left alone: {out}");
}

#[test]
fn a_namespace_taken_over_by_name_after_up_is_not_deleted_by_down() {
    require_lab_tools!();
    // The lab's own namespace is replaced by someone else's of the same
    // name while the lab is up: `down` deletes the lab's other node, leaves
    // the stranger, and says so.
    let out = run(&format!(
        r#"{WEB}{TAKEN_OVER}$NSBOX lab down web 2>/run/err
echo "NETNS $(ip netns list | cut -d' ' -f1 | tr '\n' ' ')"
echo "WARN $(grep -c '"web-client" was left alone' /run/err)"
ip netns delete web-client
"#
    ));
    assert_eq!(field(&out, "NETNS"), "web-client");
    assert_eq!(field(&out, "WARN"), "1", "{out}");
}

#[test]
fn lab_names_cannot_make_two_labs_share_a_namespace() {
    require_lab_tools!();
    let out = run(r#"
printf 'name: a\nnodes: {b-c: {}}\n' > /run/a.yaml
printf 'name: a-b\nnodes: {c: {}}\n' > /run/ab.yaml
set +e
$NSBOX lab validate /run/ab.yaml 2>/run/err; echo "VALIDATE $?"
set -e
$NSBOX lab up /run/a.yaml >/dev/null
echo "NETNS $(ip netns list | cut -d' ' -f1 | tr '\n' ' ')"
$NSBOX lab down a >/dev/null
echo "ERR $(grep -o 'invalid lab name "a-b"' /run/err)"
"#);
    assert_eq!(field(&out, "VALIDATE"), "1");
    assert_eq!(field(&out, "ERR"), "invalid lab name \"a-b\"", "{out}");
    assert_eq!(field(&out, "NETNS"), "a-b-c");
}

#[test]
fn down_of_a_lab_that_is_not_up_fails_unless_told_to_ignore_it() {
    require_lab_tools!();
    let out = run(r#"
set +e
$NSBOX lab down nope 2>/run/err; echo "NAME $?"
$NSBOX lab down nope.yaml 2>>/run/err; echo "FILE $?"
$NSBOX lab down nope --ignore-missing; echo "IGNORED $?"
set -e
echo "ERR $(head -1 /run/err)"
"#);
    assert_eq!(field(&out, "NAME"), "1");
    assert_eq!(field(&out, "FILE"), "1");
    assert_eq!(field(&out, "IGNORED"), "0");
    assert_eq!(field(&out, "ERR"), "nsbox: lab nope is not up");
}

#[test]
fn a_corrupt_state_file_hides_no_other_lab_and_down_still_cleans_its_own() {
    require_lab_tools!();
    let out = run(&format!(
        r#"{WEB}
$NSBOX lab up /run/w.yaml >/dev/null
printf 'name: other\nnodes: {{x: {{}}}}\n' > /run/o.yaml
$NSBOX lab up /run/o.yaml >/dev/null
echo '{{garbage' > /run/nsbox/labs/other.json
echo "STATUS $($NSBOX lab status 2>/run/err | grep -c ' web ')"
echo "STATUS_WARN $(grep -c 'cannot be read' /run/err)"
echo "EXEC $($NSBOX lab exec server -- echo in 2>/dev/null)"
$NSBOX lab down other 2>/run/err >/dev/null; echo "DOWN $?"
echo "NETNS $(ip netns list | cut -d' ' -f1 | sort | tr '\n' ' ')"
echo "STATE $(ls /run/nsbox/labs | sort | tr '\n' ' ')"
$NSBOX lab down web >/dev/null
"#
    ));
    assert_eq!(field(&out, "STATUS"), "2", "both nodes of lab web: {out}");
    assert_eq!(field(&out, "STATUS_WARN"), "1");
    assert_eq!(field(&out, "EXEC"), "in");
    assert_eq!(field(&out, "DOWN"), "0");
    assert_eq!(field(&out, "NETNS"), "web-client web-server");
    assert_eq!(field(&out, "STATE"), "web.json web.lock");
}

#[test]
fn status_is_a_table_of_nodes_and_marks_a_half_made_lab() {
    require_lab_tools!();
    let out = run(&format!(
        r#"{}
$NSBOX lab up "$STAR" >/dev/null
echo "ROWS $($NSBOX lab status | grep -c '^ star ')"
echo "HEADER $($NSBOX lab status | head -1 | tr -s ' ')"
echo "H1 $($NSBOX lab status | grep ' h1 ' | tr -s ' ')"
ip netns delete star-h2
echo "HALF $($NSBOX lab status | grep -c 'star (incomplete)')"
echo "MISSING $($NSBOX lab status | grep ' h2 ' | tr -s ' ')"
echo "JSON $($NSBOX lab status --json | tr -d ' \n')"
$NSBOX lab down star >/dev/null
"#,
        format_args!("STAR={}/../../examples/labs/star.yaml", env!("CARGO_MANIFEST_DIR"))
    ));
    assert_eq!(
        field(&out, "ROWS"),
        "5",
        "one row per node, not the switch's namespace: {out}"
    );
    assert_eq!(
        field(&out, "HEADER"),
        " LAB NODE KIND STATE ADDRESSES PROCESSES SERVICES"
    );
    assert_eq!(
        field(&out, "H1"),
        " star h1 netns up eth0 10.1.0.1/24, eth0 fd00:1::1/64 0"
    );
    assert_eq!(field(&out, "HALF"), "5", "{out}");
    assert!(field(&out, "MISSING").contains(" h2 netns missing "), "{out}");
    let json = field(&out, "JSON");
    assert!(json.contains(r#""complete":false,"alive":4"#), "{json}");
}

/// `status` shows each of a node's commands as running or exited with its
/// status, also once `up` has returned and nobody waits for them.
#[test]
fn status_shows_which_services_run_and_how_the_others_ended() {
    require_lab_tools!();
    let out = run(r#"cat > /run/s.yaml <<'EOF'
name: svc
nodes:
  n:
    run: [sleep 100, sleep 0.3; exit 3, sleep 0.3; kill -9 $$]
EOF
$NSBOX lab up /run/s.yaml >/dev/null
sleep 1
echo "ROW $($NSBOX lab status | grep ' n ' | tr -s ' ')"
echo "JSON $($NSBOX lab status --json | tr -d ' \n')"
$NSBOX lab down svc >/dev/null
"#);
    let row = field(&out, "ROW");
    assert!(row.starts_with(" svc n netns up "), "{out}");
    assert!(row.ends_with(" 1 running, exited 3, exited 137"), "{out}");
    let json = field(&out, "JSON");
    assert!(
        json.contains(r#"{"command":"sleep0.3;exit3","state":"exited","status":3}"#),
        "{json}"
    );
    assert!(json.contains(r#"{"command":"sleep100","state":"running"}"#), "{json}");
}

#[test]
fn an_interrupted_lab_test_takes_its_lab_down() {
    require_lab_tools!();
    for signal in ["INT", "TERM", "HUP"] {
        let out = run(&format!(
            r#"SEED={}/../../examples/labs/seed.yaml
$NSBOX lab test "$SEED" >/run/out 2>&1 &
pid=$!
while [ -z "$(ip netns list)" ]; do sleep 0.005; done
kill -{signal} $pid
set +e; wait $pid; echo "CODE $?"; set -e
echo "LEFT netns=[$(ip netns list | wc -l)] state=[$(ls /run/nsbox/labs | wc -l)]"
echo "SAID $(grep -c 'interrupted: taking lab seed down' /run/out)"
if [ {signal} = HUP ]; then $NSBOX lab test "$SEED" >/dev/null 2>&1; echo "AGAIN $?"; else echo "AGAIN 0"; fi
"#,
            env!("CARGO_MANIFEST_DIR")
        ));
        let number = match signal {
            "INT" => 2,
            "TERM" => 15,
            _ => 1,
        };
        assert_eq!(field(&out, "CODE"), (128 + number).to_string(), "{signal}: {out}");
        assert_eq!(field(&out, "LEFT"), "netns=[0] state=[0]", "{signal}: {out}");
        assert_eq!(field(&out, "SAID"), "1", "{signal}: {out}");
        assert_eq!(field(&out, "AGAIN"), "0", "{signal}: the next test starts: {out}");
    }
}

#[test]
fn exec_right_after_up_runs_inside_the_container_and_never_outside_it() {
    require_lab_tools!();
    let out = run(r#"
printf 'name: c\nnodes:\n  box: {container: {command: sleep 1000, hostname: inside}}\n' > /run/c.yaml
for i in 1 2 3 4 5 6 7 8 9 10; do
  $NSBOX lab up /run/c.yaml >/dev/null
  echo "HOST$i $($NSBOX lab exec box -- hostname)"
  $NSBOX lab down c >/dev/null
done
$NSBOX lab up /run/c.yaml >/dev/null
for pid in $(ip netns pids c-box); do
  [ "$(cat /proc/$pid/comm)" = nsbox-init ] && kill -9 $pid
done
while [ -n "$(ip netns pids c-box)" ]; do sleep 0.01; done
set +e
$NSBOX lab exec box -- hostname 2>/run/err; echo "DEAD $?"
set -e
echo "ERR $(cat /run/err)"
$NSBOX lab down c >/dev/null
"#);
    for i in 1..=10 {
        assert_eq!(field(&out, &format!("HOST{i}")), "inside", "{out}");
    }
    assert_eq!(field(&out, "DEAD"), "1");
    assert_eq!(field(&out, "ERR"), "nsbox: node box's container is not running");
}

#[test]
fn a_container_or_service_that_dies_at_start_fails_up_and_leaves_nothing() {
    require_lab_tools!();
    let out = run(r#"
try() {
  printf "name: d\nnodes:\n  n: {$2}\n" > /run/d.yaml
  set +e
  $NSBOX lab up /run/d.yaml >/dev/null 2>/run/err; echo "$1 $? $(ip netns list | wc -l) $(ls /run/nsbox/labs | wc -l)"
  set -e
  echo "$1_ERR $(head -1 /run/err)"
  echo "$1_SAID $(sed -n 2p /run/err)"
}
try MISSING 'run: [/nonexistent/cmd]'
try FAILS 'run: ["echo broken config >&2; exit 3"]'
try BOX 'container: {command: /no/such/cmd}'
try SHORT 'container: {command: "true"}'
try ONESHOT 'run: ["true", "sleep 1000"]'
$NSBOX lab down d >/dev/null
mkdir -p /run/emptyroot
try NOSH 'container: {command: "sleep 1000", rootfs: /run/emptyroot}'
printf 'name: e\nnodes:\n  n: {container: {command: sleep 1, rootfs: /}}\n' > /run/e.yaml
set +e
$NSBOX lab validate /run/e.yaml 2>/run/err; echo "ROOT $?"
set -e
echo "ROOT_ERR $(head -1 /run/err)"
"#);
    assert_eq!(field(&out, "MISSING"), "1 0 0", "{out}");
    assert_eq!(
        field(&out, "MISSING_ERR"),
        "nsbox: node n: command exited with status 127 at start: /nonexistent/cmd"
    );
    assert!(field(&out, "MISSING_SAID").contains("not found"), "{out}");
    assert_eq!(field(&out, "FAILS"), "1 0 0", "{out}");
    assert_eq!(field(&out, "FAILS_SAID").trim(), "broken config", "{out}");
    assert_eq!(field(&out, "BOX"), "1 0 0", "{out}");
    assert!(
        field(&out, "BOX_ERR").contains("its container exited with status 127"),
        "{out}"
    );
    assert_eq!(
        field(&out, "SHORT"),
        "1 0 0",
        "a container that ends is not running: {out}"
    );
    assert_eq!(
        field(&out, "ONESHOT"),
        "0 1 3",
        "a one-shot command that succeeds is fine: {out}"
    );
    assert_eq!(field(&out, "NOSH"), "1 0 0", "a rootfs without sh: {out}");
    assert!(
        field(&out, "NOSH_ERR").contains("its commands") && field(&out, "NOSH_ERR").contains("process.args[0]"),
        "the runtime's own words: {out}"
    );
    assert_eq!(field(&out, "ROOT"), "1");
    assert!(field(&out, "ROOT_ERR").contains("is the host's own root"), "{out}");
}

#[test]
fn down_kills_a_forking_service_under_load_every_time() {
    require_lab_tools!();
    // The server forks a child for every connection while a client
    // connects as fast as it can: a kill that signals PIDs one by one can
    // miss a child forked in between, and that child keeps the namespace
    // alive. Each service runs in a pid namespace of its own, killed whole.
    let out = run(r#"
cat > /run/f.yaml <<'EOF'
name: f
nodes:
  web: {run: ["busybox nc -ll -p 80 -e /bin/true"]}
  client:
    run:
      - "while :; do busybox nc -w 1 10.0.0.1 80 </dev/null >/dev/null 2>&1; done"
      - "while :; do busybox nc -w 1 10.0.0.1 80 </dev/null >/dev/null 2>&1; done"
      - "while :; do busybox nc -w 1 10.0.0.1 80 </dev/null >/dev/null 2>&1; done"
      - "while :; do busybox nc -w 1 10.0.0.1 80 </dev/null >/dev/null 2>&1; done"
links:
  - endpoints: [web 10.0.0.1/24, client 10.0.0.2/24]
EOF
for i in $(seq 1 15); do
  $NSBOX lab up /run/f.yaml >/dev/null
  sleep 0.05
  if [ $i = 1 ]; then
    # Every process of the services is in a pid namespace other than ours,
    # one per service, each under nsbox's init.
    # (The `nsbox unshare` that waits for each init stays in ours, as does
    # the shell that waits for it to record its exit status.)
    mine=$(readlink /proc/self/ns/pid)
    for p in $(ip netns pids f-web; ip netns pids f-client); do
      [ "$(cat /proc/$p/comm 2>/dev/null)" = nsbox ] || grep -q 'status=\$?' /proc/$p/cmdline ||
        readlink /proc/$p/ns/pid || true
    done > /run/pidns
    echo "SHARED $(grep -Fxc "$mine" /run/pidns)"
    echo "SERVICE_NS $(sort -u /run/pidns | wc -l)"
  fi
  start=$(date +%s%N)
  $NSBOX lab down f >/dev/null 2>/run/err || { echo "FAILED $i $(cat /run/err)"; break; }
  echo "DOWN$i $(( ($(date +%s%N) - start) / 1000000 )) ms"
done
echo "LEFT netns=[$(ip netns list | wc -l)] state=[$(ls /run/nsbox/labs | wc -l)]"
"#);
    assert!(!out.contains("FAILED"), "{out}");
    assert_eq!(
        field(&out, "SHARED"),
        "0",
        "no service process in the host's pid namespace: {out}"
    );
    assert_eq!(field(&out, "SERVICE_NS"), "5", "one pid namespace per service: {out}");
    for i in 1..=15 {
        let ms: u64 = field(&out, &format!("DOWN{i}"))
            .trim_end_matches(" ms")
            .parse()
            .unwrap();
        // Not a timing target: a down that waited for its 30 s timeout.
        assert!(ms < 10_000, "cycle {i}: {out}");
    }
    assert_eq!(field(&out, "LEFT"), "netns=[0] state=[0]", "{out}");
}

/// What `lab exec` starts lives in the node's kill group (a v2 cgroup
/// named and marked after the node's namespace), and `down` kills the
/// group at once: a shell that keeps forking is gone with every child,
/// however fast it forks. A directory of that name that nsbox did
/// not mark is not joined, killed or removed.
#[test]
fn down_kills_what_lab_exec_started_at_once_and_leaves_a_stranger_s_group() {
    require_lab_tools!();
    let Some(v2) = nsbox_runtime::cgroup::Layout::unified_mount() else {
        eprintln!("SKIPPED: no cgroup v2 hierarchy on this host");
        return;
    };
    let out = run(&format!(
        r#"
V2={v2}
cat > /run/x.yaml <<'EOF'
name: x
nodes: {{a: {{}}, b: {{}}}}
links:
  - endpoints: [a 10.0.0.1/24, b 10.0.0.2/24]
EOF
$NSBOX lab up /run/x.yaml >/dev/null
$NSBOX lab exec a sh -c 'while :; do sleep 3131 & sleep 0.002; done' >/dev/null 2>&1 &
# A stranger's directory where b's group would be.
stranger=$V2/nsbox-netns-$(stat -L -c %i /run/netns/x-b)
mkdir $stranger
$NSBOX lab exec b sleep 3132 >/dev/null 2>/run/b.err &
sleep 0.5
group=$V2/nsbox-netns-$(stat -L -c %i /run/netns/x-a)
# The loop keeps forking: a process seen in the namespace, and alive after
# the group was read, was in the group when it was read.
ip netns pids x-a | sort > /run/in_ns
sort $group/cgroup.procs > /run/in_group
outside=0
for p in $(comm -23 /run/in_ns /run/in_group); do
  [ -d /proc/$p ] && outside=$((outside + 1))
done
echo "SEEN $(wc -l < /run/in_ns) OUTSIDE $outside"
echo "STRANGER_WARNED $(grep -c 'is not' /run/b.err)"
start=$(date +%s%N)
$NSBOX lab down x >/dev/null
echo "DOWN_MS $(( ($(date +%s%N) - start) / 1000000 ))"
sleep 0.2
echo "SURVIVORS $(ps -eo args | grep -c '^sleep 313[12]$')"
echo "GROUP_GONE $([ -d $group ] && echo no || echo yes)"
echo "STRANGER_KEPT $([ -d $stranger ] && echo yes || echo no)"
rmdir $stranger
echo "LEFT netns=[$(ip netns list | wc -l)] state=[$(ls /run/nsbox/labs | wc -l)]"
"#,
        v2 = v2.display()
    ));
    let seen: Vec<&str> = field(&out, "SEEN").split(' ').collect();
    assert!(seen[0].parse::<u32>().unwrap() > 2, "{out}");
    assert_eq!(seen[2], "0", "every process of the exec is in its group: {out}");
    assert_eq!(field(&out, "STRANGER_WARNED"), "1", "{out}");
    assert_eq!(field(&out, "SURVIVORS"), "0", "{out}");
    assert_eq!(field(&out, "GROUP_GONE"), "yes", "{out}");
    assert_eq!(field(&out, "STRANGER_KEPT"), "yes", "{out}");
    let ms: u64 = field(&out, "DOWN_MS").parse().unwrap();
    // Not a timing target: a down that waited for its 30 s timeout.
    assert!(ms < 10_000, "{out}");
    assert_eq!(field(&out, "LEFT"), "netns=[0] state=[0]", "{out}");
}

#[test]
fn up_warns_when_the_lab_can_overflow_the_host_s_neighbour_table() {
    require_lab_tools!();
    let Some(limit) = std::fs::read_to_string("/proc/sys/net/ipv4/neigh/default/gc_thresh3")
        .ok()
        .and_then(|t| t.trim().parse::<u64>().ok())
    else {
        eprintln!("SKIPPED: gc_thresh3 is not shown in this namespace");
        return;
    };
    // k ports on one bridge can need k*(k-1) entries: just over the cap.
    let ports = (limit as f64).sqrt() as u64 + 2;
    let mut lab = String::from("name: big\nnodes:\n");
    for i in 0..ports {
        lab.push_str(&format!("  h{i}: {{}}\n"));
    }
    lab.push_str("bridges:\n  lan:\n    endpoints:\n");
    for i in 0..ports {
        lab.push_str(&format!("      - h{i} 10.9.{}.{}/16\n", i / 200, i % 200 + 1));
    }
    let small = "name: small\nnodes: {a: {}, b: {}}\nlinks:\n  - endpoints: [a 10.0.0.1/24, b 10.0.0.2/24]\n";
    let out = run(&format!(
        r#"cat > /run/big.yaml <<'EOF'
{lab}EOF
cat > /run/small.yaml <<'EOF'
{small}EOF
$NSBOX lab up /run/big.yaml 2>/run/err >/dev/null
$NSBOX lab down big >/dev/null
echo "WARN $(cat /run/err)"
$NSBOX lab up /run/small.yaml 2>/run/err >/dev/null
$NSBOX lab down small >/dev/null
echo "QUIET $(wc -c < /run/err)"
"#
    ));
    let warning = field(&out, "WARN");
    assert!(
        warning.contains(&format!("can need up to {} neighbour entries", ports * (ports - 1))),
        "{out}"
    );
    assert!(
        warning.contains("sysctl -w net.ipv4.neigh.default.gc_thresh3="),
        "{out}"
    );
    assert_eq!(field(&out, "QUIET"), "0", "a small lab says nothing: {out}");
}

/// The tests' own guard: a script that fails half-way through still takes
/// its lab's services with it (they would outlive the private /run).
#[test]
fn a_test_script_that_fails_half_way_leaves_no_service_running() {
    require_lab_tools!();
    let marker = format!("sleep 7{}", std::process::id());
    let (code, _, _) = common::in_private_run(&format!(
        "printf 'name: g\\nnodes:\\n  a: {{run: [\"{marker}\"]}}\\n' > /run/g.yaml\n$NSBOX lab up /run/g.yaml >/dev/null\nfalse\n"
    ));
    assert_ne!(code, 0);
    let left = std::process::Command::new("pgrep")
        .args(["-f", &marker])
        .output()
        .unwrap();
    assert!(
        left.stdout.is_empty(),
        "left running: {}",
        String::from_utf8_lossy(&left.stdout)
    );
}

#[test]
fn lab_usage_errors_exit_2() {
    for args in [
        &["lab", "bogus"][..],
        &["lab", "down"],
        &["lab", "up", "a", "b"],
        &["lab", "check", "--nope", "f"],
    ] {
        let (code, _, err) = common::run(args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.starts_with("nsbox: "), "{args:?}: {err}");
    }
}

#[test]
fn healing_nodes_that_are_not_cut_apart_says_so() {
    require_lab_tools!();
    let out = run(&format!(
        r#"$NSBOX lab up {}/../../examples/labs/partition.yaml >/dev/null
set +e
$NSBOX lab heal n1 n2 2>/run/err; echo "HEAL $?"
set -e
echo "ERR $(cat /run/err)"
$NSBOX lab down partition >/dev/null
"#,
        env!("CARGO_MANIFEST_DIR")
    ));
    assert_eq!(field(&out, "HEAL"), "1");
    assert_eq!(
        field(&out, "ERR"),
        "nsbox: n1 and n2 are not partitioned (nsbox lab partition n1 n2 cuts them apart)"
    );
}

#[test]
fn the_matrix_takes_a_per_probe_timeout() {
    require_lab_tools!();
    let out = run(&format!(
        r#"STAR={}/../../examples/labs/star.yaml
$NSBOX lab up "$STAR" >/dev/null
echo "MATRIX $($NSBOX lab check "$STAR" --matrix --timeout 0.3 | tail -1)"
set +e
$NSBOX lab check "$STAR" --timeout 1 2>/dev/null; echo "ALONE $?"
$NSBOX lab check "$STAR" --matrix --timeout inf 2>/dev/null; echo "INF $?"
set -e
$NSBOX lab down star >/dev/null
"#,
        env!("CARGO_MANIFEST_DIR")
    ));
    assert_eq!(
        field(&out, "MATRIX"),
        "20 of 20 pairs reach each other (+ reached, . not)"
    );
    assert_eq!(field(&out, "ALONE"), "2", "--timeout is for --matrix");
    assert_eq!(field(&out, "INF"), "2");
}

#[test]
fn apply_touches_no_namespace_that_only_has_the_lab_s_name() {
    require_lab_tools!();
    let out = run(&format!(
        r#"{WEB}{TAKEN_OVER}ip netns exec web-client sleep 1000 &
victim=$!
sed 's/10.0.0.2\/24/10.0.0.3\/24/' /run/w.yaml > /run/w2.yaml
set +e
$NSBOX lab apply /run/w2.yaml >/dev/null 2>/run/err; echo "APPLY $?"
set -e
echo "SLEEP $(kill -0 $victim && echo alive)"
echo "ERR $(tail -1 /run/err)"
kill $victim; wait $victim || true
ip netns delete web-client
$NSBOX lab down web >/dev/null 2>&1
"#
    ));
    assert_eq!(field(&out, "APPLY"), "1", "{out}");
    assert_eq!(field(&out, "SLEEP"), "alive");
    assert!(field(&out, "ERR").contains("\"web-client\" is not this lab's"), "{out}");
}

#[test]
fn a_usage_error_keeps_clap_s_hint_and_usage_line() {
    let (code, _, err) = common::run(&["lab", "dwon", "x"]);
    assert_eq!(code, 2);
    assert_eq!(
        err,
        "nsbox: unrecognized subcommand 'dwon'\n  tip: a similar subcommand exists: 'down'\nUsage: nsbox lab <COMMAND>\nFor more information, try '--help'.\n"
    );
}

#[test]
fn check_and_partition_work_only_in_the_lab_s_own_namespaces() {
    require_lab_tools!();
    let out = run(&format!(
        r#"{WEB}{TAKEN_OVER}set +e
$NSBOX lab partition server client 2>/run/err; echo "CUT $?"
set -e
echo "ERR $(cat /run/err)"
echo "RULES $(ip netns exec web-client nft list ruleset | wc -l)"
ip netns delete web-client
$NSBOX lab down web >/dev/null 2>&1
"#
    ));
    assert_eq!(field(&out, "CUT"), "1");
    assert!(field(&out, "ERR").contains("\"web-client\" is not this lab's"), "{out}");
    assert_eq!(field(&out, "RULES"), "0", "no rule in the stranger's namespace");
}
