//! `nsbox netns` against `ip netns`, both ways. Every test runs its script
//! in a private mount namespace with a fresh tmpfs on /run, so the named
//! namespaces it makes (pinned by mounts there) die with it and the host's
//! /run/netns never sees them.

mod common;

/// Runs `script` with `$NSBOX` set, in a private mount namespace whose /run
/// is a fresh tmpfs. Returns (exit code, stdout, stderr).
#[test]
fn namespaces_made_by_either_tool_are_seen_and_used_by_the_other() {
    require_root!();
    let script = r#"
        $NSBOX netns add made-by-nsbox
        ip netns add made-by-ip
        echo "ip sees: $(ip netns list | cut -d' ' -f1 | sort | tr '\n' ' ')"
        echo "nsbox sees: $($NSBOX netns list | tr '\n' ' ')"
        $NSBOX netns set made-by-ip 5
        ip netns set made-by-nsbox 6
        echo "ids, ip: $(ip netns list | sort | tr '\n' ' ')"
        echo "ids, nsbox: $($NSBOX netns list | sort | tr '\n' ' ')"
        ip link add v-nsbox netns made-by-nsbox type veth peer name v-ip netns made-by-ip
        echo "in nsbox's, via ip: $(ip -n made-by-nsbox -o link show | cut -d: -f2 | cut -d@ -f1 | tr -d ' ' | tr '\n' ' ')"
        echo "in ip's, via nsbox: $($NSBOX netns exec made-by-ip sh -c 'ls /sys/class/net' | tr '\n' ' ')"
        $NSBOX netns delete made-by-nsbox
        # The kernel releases a namespace asynchronously (as after ip netns
        # delete): the peer goes within moments, not at once.
        for i in $(seq 100); do
            [ "$(ip -n made-by-ip -o link show | wc -l)" = 1 ] && break
            sleep 0.05
        done
        echo "after delete, ip's has: $(ip -n made-by-ip -o link show | cut -d: -f2 | tr -d ' ' | tr '\n' ' ')"
        ip netns delete made-by-ip
        echo "left: $($NSBOX netns list | wc -l)"
    "#;
    let (code, out, err) = common::in_private_run(script);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "ip sees: made-by-ip made-by-nsbox \n\
         nsbox sees: made-by-ip made-by-nsbox \n\
         ids, ip: made-by-ip (id: 5) made-by-nsbox (id: 6) \n\
         ids, nsbox: made-by-ip (id: 5) made-by-nsbox (id: 6) \n\
         in nsbox's, via ip: lo v-nsbox \n\
         in ip's, via nsbox: lo v-ip \n\
         after delete, ip's has: lo \n\
         left: 0\n"
    );
}

#[test]
fn exec_gives_the_namespace_its_sys_and_etc_files() {
    require_root!();
    let script = r#"
        # A private copy of /etc with an override for namespace "lab".
        mount -t tmpfs nsbox-test-etc /mnt
        cp -a /etc /mnt/etc
        mkdir -p /mnt/etc/netns/lab
        echo "nameserver 192.0.2.53" > /mnt/etc/netns/lab/resolv.conf
        mount --bind /mnt/etc /etc
        $NSBOX netns add lab
        $NSBOX netns exec lab cat /etc/resolv.conf
        $NSBOX netns exec lab ls /sys/class/net
        ip netns exec lab cat /etc/resolv.conf
        grep -c 192.0.2.53 /etc/resolv.conf || true
        $NSBOX netns exec lab sh -c 'exit 3' || echo "status $?"
        $NSBOX netns exec -e GREETING=hi lab sh -c 'echo $GREETING'
        $NSBOX netns delete lab
    "#;
    let (code, out, err) = common::in_private_run(script);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out, "nameserver 192.0.2.53\nlo\nnameserver 192.0.2.53\n0\nstatus 3\nhi\n",
        "nsbox's override matches ip's, and /sys shows only the namespace's links"
    );
}

#[test]
fn identify_pids_and_attach() {
    require_root!();
    let script = r#"
        $NSBOX netns add one
        ip netns exec one sleep 30 &
        inside=$!
        unshare --net sleep 30 &
        other=$!
        sleep 0.3
        echo "pids: $($NSBOX netns pids one | tr '\n' ' ')" | sed "s/$inside/INSIDE/"
        echo "identify: $($NSBOX netns identify $inside)"
        echo "identify self: [$($NSBOX netns identify)]"
        $NSBOX netns attach two $other
        echo "ip identify: $(ip netns identify $other)"
        kill $inside $other
        $NSBOX netns delete --all
        echo "left: $(ip netns list | wc -l)"
    "#;
    let (code, out, err) = common::in_private_run(script);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "pids: INSIDE \nidentify: one\nidentify self: []\nip identify: two\nleft: 0\n"
    );
}

#[test]
fn bad_input_changes_nothing() {
    require_root!();
    let script = r#"
        $NSBOX netns add dup
        $NSBOX netns add dup 2>&1 || echo "status $?"
        $NSBOX netns add a/b 2>&1 || echo "status $?"
        $NSBOX netns delete missing 2>&1 || echo "status $?"
        $NSBOX netns exec missing true 2>&1 || echo "status $?"
        $NSBOX netns exec dup nsbox-no-such-command 2>&1 || echo "status $?"
        $NSBOX netns pids missing 2>&1 || echo "status $?"
        $NSBOX netns identify 2147483647 2>&1 || echo "status $?"
        echo "list: $($NSBOX netns list | tr '\n' ' ')"
        # A pin file without a namespace on it (a crash half-way) is not listed, and delete removes it.
        touch /run/netns/stale
        echo "list: $($NSBOX netns list | tr '\n' ' ')"
        $NSBOX netns delete stale dup
        echo "files: $(ls /run/netns | wc -l)"
    "#;
    let (code, out, err) = common::in_private_run(script);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "nsbox: network namespace \"dup\" already exists\nstatus 1\n\
         nsbox: invalid network namespace name \"a/b\": it must be a file name (no '/', not '.' or '..')\nstatus 1\n\
         nsbox: network namespace \"missing\" does not exist\nstatus 1\n\
         nsbox: network namespace \"missing\" does not exist\nstatus 125\n\
         nsbox: nsbox-no-such-command: No such file or directory\nstatus 127\n\
         nsbox: network namespace \"missing\" does not exist\nstatus 1\n\
         nsbox: no process with PID 2147483647\nstatus 1\n\
         list: dup \n\
         list: dup \n\
         files: 0\n"
    );
}

/// `nsbox show --json` against `ip -j`, on the seed's router built with
/// iproute2 as seed-lab.sh builds it.
#[test]
fn show_matches_iproute2() {
    require_root!();
    let script = r#"
        ip netns add router
        ip netns add client
        ip -n router link add veth-cli type veth peer name vethC netns client
        ip -n router addr add 10.0.2.1/24 dev veth-cli
        ip -n router link set lo up
        ip -n router link set veth-cli up
        ip -n client link set vethC up
        ip -n client addr add 10.0.2.2/24 dev vethC
        ip -n router route add 2.2.2.0/24 via 10.0.2.2
        ip netns exec router sysctl -qw net.ipv4.ip_forward=1
        ip netns exec router ping -c 1 -W 1 10.0.2.2 >/dev/null
        echo "=== nsbox"
        $NSBOX show -n router --json
        echo "=== link"
        ip -j -n router link show
        echo "=== addr"
        ip -j -n router addr show
        echo "=== route"
        ip -j -n router route show
        echo "=== human"
        $NSBOX show -n router
        $NSBOX show -n missing 2>&1 || echo "status $?"
        $NSBOX netns delete --all
    "#;
    let (code, out, err) = common::in_private_run(script);
    assert_eq!(code, 0, "{err}");
    let section = |name: &str| -> &str {
        let start = out.find(&format!("=== {name}\n")).unwrap() + name.len() + 5;
        let end = out[start..].find("\n=== ").map_or(out.len(), |e| start + e);
        &out[start..end]
    };
    let nsbox: serde_json::Value = serde_json::from_str(section("nsbox")).unwrap();
    let links: serde_json::Value = serde_json::from_str(section("link")).unwrap();
    let addrs: serde_json::Value = serde_json::from_str(section("addr")).unwrap();
    let routes: serde_json::Value = serde_json::from_str(section("route")).unwrap();

    let ours: Vec<(u64, &str, &str)> = nsbox["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["index"].as_u64().unwrap(),
                l["name"].as_str().unwrap(),
                l["state"].as_str().unwrap(),
            )
        })
        .collect();
    let theirs: Vec<(u64, &str, &str)> = links
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["ifindex"].as_u64().unwrap(),
                l["ifname"].as_str().unwrap(),
                l["operstate"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(ours, theirs);

    let mut ours: Vec<String> = nsbox["addresses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["address"].as_str().unwrap().to_string())
        .collect();
    let mut theirs: Vec<String> = addrs
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|l| l["addr_info"].as_array().unwrap().clone())
        .map(|a| format!("{}/{}", a["local"].as_str().unwrap(), a["prefixlen"]))
        .collect();
    ours.sort();
    theirs.sort();
    assert_eq!(ours, theirs);

    let ours: Vec<String> = nsbox["routes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| !r["destination"].as_str().unwrap().contains(':'))
        .map(|r| {
            format!(
                "{} {}",
                r["destination"].as_str().unwrap(),
                r["gateway"].as_str().unwrap_or("-")
            )
        })
        .collect();
    let theirs: Vec<String> = routes
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
    let (mut ours, mut theirs) = (ours, theirs);
    ours.sort();
    theirs.sort();
    assert_eq!(ours, theirs);
    assert_eq!(nsbox["sysctls"]["net.ipv4.ip_forward"], "1");
    let neighbour = &nsbox["neighbours"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["address"] == "10.0.2.2")
        .unwrap();
    assert_eq!(neighbour["state"], "REACHABLE");

    let human = section("human");
    assert!(
        human.contains("veth-cli") && human.contains("10.0.2.1/24") && human.contains("2.2.2.0/24"),
        "{human}"
    );
    assert!(
        human.contains("nsbox: network namespace \"missing\" does not exist\nstatus 1"),
        "{human}"
    );
}

/// IPv6: replies with their hop limit, and a local error without a route,
/// as iputils reports them.
#[test]
fn ping_over_ipv6_agrees_with_iputils() {
    require_root!();
    let script = r#"
        ip netns add a; ip netns add b
        ip -n a link add va type veth peer name vb netns b
        ip -n a addr add fd00::1/64 dev va nodad; ip -n b addr add fd00::2/64 dev vb nodad
        ip -n a link set va up; ip -n b link set vb up
        ip -n a link set lo up; ip -n b link set lo up
        set +e
        # The veth's carrier and the first neighbour solicitation take a
        # moment after `up`: one echo first, so both tools meet a link
        # that is ready rather than whichever runs first paying for it.
        ip netns exec a ping -c 1 -W 2 fd00::2 >/dev/null 2>&1
        for dest in fd00::2 fd00::1 fd99::1; do
            a=$(ip netns exec a ping -c 2 -i 0.2 -W 1 $dest 2>&1); ra=$?
            b=$($NSBOX ping -n a -c 2 -i 0.2 -W 1 $dest 2>&1); rb=$?
            echo "$dest iputils $ra $(printf '%s' "$a" | grep -oE 'ttl=[0-9]+|[0-9]+ received|Network is unreachable' | sort -u | tr '\n' ';')"
            echo "$dest nsbox $rb $(printf '%s' "$b" | grep -oE 'ttl=[0-9]+|[0-9]+ received|Network is unreachable' | sort -u | tr '\n' ';')"
        done
        # Output cut short by a closed pipe ends nsbox quietly, no panic.
        $NSBOX ping -n a -c 3 -i 0.2 fd00::2 2>&1 | head -1 >/dev/null
        $NSBOX netns delete --all
    "#;
    let (code, out, err) = common::in_private_run(script);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let lines: Vec<&str> = out.lines().collect();
    for pair in lines.chunks(2) {
        let strip = |l: &str| l.replacen(" iputils ", " ", 1).replacen(" nsbox ", " ", 1);
        assert_eq!(strip(pair[1]), strip(pair[0]), "{out}");
    }
    assert!(lines[0].contains("ttl=64") && lines[0].contains(" 0 "), "{out}");
    assert!(lines[4].contains(" 2 Network is unreachable"), "{out}");
}

/// `netns delete --wait` returns only once the kernel has torn the
/// namespaces down: the veth between two of them is gone from a third
/// namespace's view at once, and a namespace kept alive by a process is
/// named after the timeout.
#[test]
fn delete_wait_returns_when_the_kernel_is_done() {
    require_root!();
    let script = r#"
        set +e
        for n in a b keep; do $NSBOX netns add $n; done
        ip -n keep link add k0 type veth peer name k1 netns a
        ip -n a link add x0 type veth peer name x1 netns b
        touch /run/netns/stale
        $NSBOX netns delete --wait a b stale; echo "status $?"
        echo "files: $(ls /run/netns | tr '\n' ' ')"
        echo "keep has: $(ip -n keep -o link show | cut -d: -f2 | tr -d ' ' | tr '\n' ' ')"
        $NSBOX netns add busy
        ip netns exec busy sleep 30 &
        sleep 0.2
        $NSBOX netns delete --wait --wait-timeout 1 busy >/run/said 2>&1; status=$?
        sed "s/pid $! /pid SLEEP /" /run/said; echo "status $status"
        kill $!
        $NSBOX netns delete --all
    "#;
    let (code, out, err) = common::in_private_run(script);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "status 0\nfiles: keep \nkeep has: lo \n\
         nsbox: network namespaces still alive after 1 s: busy (held by pid SLEEP sleep)\n\
         status 1\n"
    );
}

/// A connection whose process has closed it but whose peer can no longer
/// answer (an orphan in FIN_WAIT1) would keep its namespace alive for two
/// minutes: `delete --wait` aborts it, as `ss -K` would. A connection that a
/// process still holds is never aborted, even from a namespace being
/// deleted: that namespace is named as held instead.
#[test]
fn delete_wait_aborts_orphaned_connections_but_not_held_ones() {
    require_root!();
    let script = r##"
        set +e
        for n in a b c; do $NSBOX netns add $n; done
        ip link add va netns a type veth peer name vb netns b
        ip link add vc netns c type veth peer name vd netns b
        ip -n a addr add 10.99.0.1/24 dev va; ip -n a link set va up
        ip -n c addr add 10.99.1.1/24 dev vc; ip -n c link set vc up
        ip -n b addr add 10.99.0.2/24 dev vb; ip -n b link set vb up
        ip -n b addr add 10.99.1.2/24 dev vd; ip -n b link set vd up
        ip netns exec b python3 -c '
import socket, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 80)); s.listen()
def echo(c):
    while (d := c.recv(100)): c.sendall(d)
while True:
    c, _ = s.accept(); threading.Thread(target=echo, args=(c,), daemon=True).start()
' &
        server=$!
        sleep 0.5
        # Orphans: each client closes after its link went down, so its FIN
        # waits for an answer that cannot come.
        orphan() {
            ip netns exec $1 python3 -c '
import socket, subprocess, sys
s = socket.create_connection((sys.argv[1], 80))
subprocess.run(["ip", "link", "set", sys.argv[2], "down"])
s.close()' $2 $3
        }
        orphan a 10.99.0.2 va
        echo "a orphans $(ip netns exec a ss -Htan state fin-wait-1 | wc -l)"
        start=$(date +%s%N)
        $NSBOX netns delete --wait --wait-timeout 10 a; echo "a deleted $?"
        echo "a took under 2 s: $(( ($(date +%s%N) - start) / 1000000 < 2000 ))"
        # A connection into c held by a process outside c, then an orphan in c.
        python3 -c '
import ctypes, os, socket, struct, time
libc = ctypes.CDLL(None, use_errno=True)
home = os.open("/proc/self/ns/net", os.O_RDONLY)
libc.setns(os.open("/run/netns/c", os.O_RDONLY), 0x40000000)
s = socket.create_connection(("10.99.1.2", 80))
libc.setns(home, 0x40000000)
s.sendall(b"hi"); print("held echo", s.recv(10).decode(), flush=True)
time.sleep(3)
print("held state", s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0], flush=True)
# c is unpinned now, out of reach: close with a reset, not an orphan.
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
' &
        holder=$!
        sleep 1
        orphan c 10.99.1.2 vc
        echo "c orphans $(ip netns exec c ss -Htan state fin-wait-1 | wc -l)"
        $NSBOX netns delete --wait --wait-timeout 1 c; echo "c deleted $?"
        wait $holder
        kill $server; wait $server
        # The server's connections are orphans now: --wait aborts them too.
        $NSBOX netns delete --all --wait
    "##;
    let (code, out, err) = common::in_private_run(script);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "a orphans 1\na deleted 0\na took under 2 s: 1\n\
         held echo hi\nc orphans 1\nc deleted 1\nheld state 1\n",
        "{err}"
    );
    assert!(
        err.contains("still alive after 1 s: c (no process is in it: something holds a socket"),
        "{err}"
    );
}

/// Names are bytes: one that is not UTF-8 is listed (escaped), deleted by
/// its bytes, and deleted by `--all`.
#[test]
fn names_that_are_not_utf8_are_listed_and_deleted() {
    require_root!();
    let script = r#"
        ip netns add "$(printf 'a\377\376')"
        ip netns add plain
        echo "LIST $($NSBOX netns list | tr '\n' ' ')"
        $NSBOX netns delete "$(printf 'a\377\376')"; echo "DELETE $?"
        ip netns add "$(printf 'b\377')"
        $NSBOX netns delete --all; echo "ALL $?"
        echo "LEFT $(ls /run/netns | wc -l)"
    "#;
    let (code, out, err) = common::in_private_run(script);
    assert_eq!(code, 0, "{err}");
    assert_eq!(common::field(&out, "LIST"), r"a\xff\xfe plain", "{out}");
    assert_eq!(common::field(&out, "DELETE"), "0", "{out}{err}");
    assert_eq!(common::field(&out, "ALL"), "0", "{out}{err}");
    assert_eq!(common::field(&out, "LEFT"), "0", "{out}");
}
