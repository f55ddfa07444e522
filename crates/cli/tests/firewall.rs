//! `nsbox nat` and `nsbox filter` against the kernel, with `nft -j list
//! ruleset` as the oracle, on the seed's topology built with iproute2. Each
//! test runs in a private mount namespace with its own /run, so its named
//! network namespaces (and every rule in them) die with it, pass or fail.

mod common;

use common::field;

use serde_json::json;

/// The seed lab (seed-lab.md §1-§5): server 10.0.1.2 (1.1.1.1 on lo),
/// router 10.0.1.1 / 10.0.2.1 forwarding, client 10.0.2.2 (2.2.2.2 on lo).
/// The server's default route is via the router; the client has none.
const SEED: &str = r#"
ip netns add server; ip netns add router; ip netns add client
ip link add vethS netns server type veth peer name veth-srv netns router
ip link add vethC netns client type veth peer name veth-cli netns router
ip -n server addr add 10.0.1.2/24 dev vethS; ip -n server addr add 1.1.1.1/24 dev lo
ip -n router addr add 10.0.1.1/24 dev veth-srv; ip -n router addr add 10.0.2.1/24 dev veth-cli
ip -n client addr add 10.0.2.2/24 dev vethC; ip -n client addr add 2.2.2.2/24 dev lo
ip netns exec router sysctl -qw net.ipv4.ip_forward=1
for ns in server router client; do ip -n $ns link set lo up; done
ip -n server link set vethS up; ip -n router link set veth-srv up
ip -n router link set veth-cli up; ip -n client link set vethC up
ip -n server route add default via 10.0.1.1
pings() { # NS DEST: ping's exit status (0 replies, 1 none)
  ip netns exec "$1" ping -c 2 -i 0.2 -W 1 "$2" >/dev/null 2>&1 && echo 0 || echo $?
}
tcp() { # NS ADDR PORT: what the server said, or the error
  ip netns exec "$1" python3 -c '
import socket, sys
try:
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1)
    print(s.recv(100).decode() or "closed")
except Exception as e:
    print(type(e).__name__)' "$2" "$3"
}
serve() { # NS ADDR PORT: a TCP server answering each client with its address
  ip netns exec "$1" python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(8)
open(sys.argv[3], "w").close()
while True:
    c, peer = s.accept(); c.sendall(peer[0].encode()); c.close()' "$2" "$3" "/run/ready-$1" >/dev/null 2>&1 &
  SERVERS="$SERVERS $!"
  while [ ! -e "/run/ready-$1" ]; do sleep 0.02; done
}
udp_source() { # TO FROM ADDR: the source address TO sees on a datagram FROM sends to ADDR
  rm -f /run/ready-udp
  ip netns exec "$1" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 9999)); s.settimeout(5)
open("/run/ready-udp", "w").close()
print(s.recvfrom(100)[1][0])' "$3" > /run/seen &
  while [ ! -e /run/ready-udp ]; do sleep 0.02; done
  ip netns exec "$2" python3 -c '
import socket, sys
family = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
socket.socket(family, socket.SOCK_DGRAM).sendto(b"x", (sys.argv[1], 9999))' "$3"
  wait
  cat /run/seen
}
# Servers go with the script, however it ends (they would keep their
# namespaces alive).
SERVERS=""
trap 'kill $SERVERS 2>/dev/null || true' EXIT
"#;

fn run(script: &str) -> String {
    let (code, out, err) = common::in_private_run(&format!("{SEED}\n{script}\necho END"));
    assert!(
        code == 0 && out.contains("END"),
        "script failed ({code}):\n{out}\n{err}"
    );
    out
}

fn json(out: &str, key: &str) -> serde_json::Value {
    serde_json::from_str(field(out, key)).unwrap_or_else(|e| panic!("{key}: {e}\n{out}"))
}

/// Every rule of every table in an `nft -j list ruleset`, as (table, chain,
/// handle, expressions).
fn oracle_rules(ruleset: &serde_json::Value) -> Vec<(String, String, u64, serde_json::Value)> {
    ruleset["nftables"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|o| o.get("rule"))
        .map(|r| {
            (
                format!("{} {}", r["family"].as_str().unwrap(), r["table"].as_str().unwrap()),
                r["chain"].as_str().unwrap().to_string(),
                r["handle"].as_u64().unwrap(),
                r["expr"].clone(),
            )
        })
        .collect()
}

/// Whether a rule's expressions hold `expr` (compared as JSON values, so
/// that the order of keys does not matter).
fn has(exprs: &serde_json::Value, expr: serde_json::Value) -> bool {
    exprs.as_array().unwrap().contains(&expr)
}

fn tables(ruleset: &serde_json::Value) -> Vec<String> {
    ruleset["nftables"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|o| o.get("table"))
        .map(|t| format!("{} {}", t["family"].as_str().unwrap(), t["name"].as_str().unwrap()))
        .collect()
}

#[test]
fn the_seeds_snat_makes_the_client_see_the_router_and_counts_the_first_packet() {
    require_root!();
    if common::missing_tool(&["nft", "ping", "python3", "ip"]) {
        return;
    }
    // T10: the router's default route points at the client, and the client
    // has no route back to 10.0.1.0/24: only SNAT lets the server's ping
    // get an answer.
    let out = run(r#"
ip -n router route add default via 10.0.2.2
echo "BEFORE $(pings server 2.2.2.2)"
echo "ADDED $($NSBOX nat -n router add snat --source 10.0.1.0/24 --out veth-cli --to-source 10.0.2.1)"
echo "WITH $(pings server 2.2.2.2)"
echo "AFTER_PING $($NSBOX nat -n router list --json | tr -d ' \n')"
# What arrives at the client: a UDP datagram's source address.
echo "SEEN $(udp_source client server 2.2.2.2)"
echo "ORACLE $(ip netns exec router nft -j list ruleset)"
$NSBOX nat -n router list
$NSBOX nat -n router delete snat --source 10.0.1.0/24 --out veth-cli --to-source 10.0.2.1
echo "DELETED $(pings server 2.2.2.2)"
echo "LEFT $(ip netns exec router nft -j list ruleset)"
"#);
    assert_eq!(
        field(&out, "BEFORE"),
        "1",
        "without SNAT the reply has no way back:\n{out}"
    );
    assert_eq!(field(&out, "WITH"), "0", "with SNAT the ping is answered:\n{out}");
    assert_eq!(field(&out, "SEEN"), "10.0.2.1", "the client sees the router's address");
    // seed-lab.md T9: a 2-echo ping is one flow, and a NAT rule sees only
    // the first packet of a flow: 1 packet, 84 bytes.
    let listed = json(&out, "AFTER_PING");
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(
        (listed[0]["packets"].as_u64(), listed[0]["bytes"].as_u64()),
        (Some(1), Some(84))
    );
    assert_eq!(listed[0]["rule"]["to"]["addr"], "10.0.2.1");
    // nft sees the same rule, in nsbox's table only, with the UDP flow
    // counted too.
    let oracle = json(&out, "ORACLE");
    assert_eq!(tables(&oracle), ["inet nsbox"]);
    let rules = oracle_rules(&oracle);
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].1, "postrouting");
    assert_eq!(rules[0].2, listed[0]["handle"].as_u64().unwrap());
    assert_eq!(
        field(&out, "ADDED"),
        format!(
            "nat rule {}: postrouting: -s 10.0.1.0/24 -o veth-cli -> snat to:10.0.2.1",
            rules[0].2
        ),
        "add names the handle nft shows"
    );
    let exprs = rules[0].3.to_string();
    assert!(
        has(&rules[0].3, json!({"snat": {"addr": "10.0.2.1", "family": "ip"}})),
        "{exprs}"
    );
    assert!(
        exprs.contains(r#""packets":2"#),
        "the UDP flow is a second first packet: {exprs}"
    );
    assert!(out.contains("to:10.0.2.1"), "the table shows the target:\n{out}");
    assert_eq!(field(&out, "DELETED"), "1", "without the rule the ping fails again");
    assert_eq!(
        tables(&json(&out, "LEFT")),
        Vec::<String>::new(),
        "nothing of nsbox's left"
    );
}

#[test]
fn a_port_forward_reaches_a_tcp_server_behind_the_router() {
    require_root!();
    if common::missing_tool(&["nft", "ping", "python3", "ip"]) {
        return;
    }
    let out = run(r#"
ip -n client route add default via 10.0.2.1
serve server 10.0.1.2 80
echo "BEFORE $(tcp client 10.0.2.1 8080)"
$NSBOX nat -n router add dnat -i veth-cli -p tcp --dport 8080 --to-destination 10.0.1.2:80
echo "FORWARDED $(tcp client 10.0.2.1 8080)"
echo "OTHER_PORT $(tcp client 10.0.2.1 8081)"
echo "LISTED $($NSBOX nat -n router list --json | tr -d ' \n')"
echo "ORACLE $(ip netns exec router nft -j list ruleset)"
$NSBOX nat -n router flush
echo "FLUSHED $(tcp client 10.0.2.1 8080)"
echo "REFLUSH $($NSBOX nat -n router flush)"
echo "LEFT $(ip netns exec router nft -j list ruleset)"
"#);
    assert_eq!(
        field(&out, "BEFORE"),
        "ConnectionRefusedError",
        "nothing listens on the router:\n{out}"
    );
    assert_eq!(
        field(&out, "FORWARDED"),
        "10.0.2.2",
        "the server answers, and sees the client:\n{out}"
    );
    assert_eq!(field(&out, "OTHER_PORT"), "ConnectionRefusedError");
    let listed = json(&out, "LISTED");
    assert_eq!(listed[0]["hook"], "prerouting");
    assert_eq!(listed[0]["packets"], 1, "one connection, one first packet: {listed}");
    let rules = oracle_rules(&json(&out, "ORACLE"));
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].1, "prerouting");
    let exprs = rules[0].3.to_string();
    assert!(
        has(
            &rules[0].3,
            json!({"dnat": {"addr": "10.0.1.2", "family": "ip", "port": 80}})
        ) && exprs.contains(r#""right":8080"#)
            && exprs.contains(r#""right":"veth-cli""#),
        "{exprs}"
    );
    assert_eq!(field(&out, "FLUSHED"), "ConnectionRefusedError");
    assert_eq!(
        field(&out, "REFLUSH"),
        "deleted 0 nat rules",
        "flushing nothing is not an error"
    );
    assert_eq!(tables(&json(&out, "LEFT")), Vec::<String>::new());
}

#[test]
fn a_filter_rule_partitions_two_nodes_and_deleting_it_heals_them() {
    require_root!();
    if common::missing_tool(&["nft", "ping", "python3", "ip"]) {
        return;
    }
    let out = run(r#"
ip -n client route add default via 10.0.2.1
ip -n router route add 2.2.2.0/24 via 10.0.2.2
serve client 2.2.2.2 7000
echo "JOINED $(pings server 2.2.2.2) $(tcp server 2.2.2.2 7000)"
$NSBOX filter -n router add forward drop -s 10.0.1.2 -d 2.2.2.2
echo "CUT $(pings server 2.2.2.2) $(tcp server 2.2.2.2 7000)"
echo "OTHER $(pings server 10.0.2.2)"
echo "LISTED $($NSBOX filter -n router list --json | tr -d ' \n')"
handle=$($NSBOX filter -n router list --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["handle"])')
$NSBOX filter -n router delete --handle "$handle"
echo "HEALED $(pings server 2.2.2.2) $(tcp server 2.2.2.2 7000)"
$NSBOX filter -n router add forward reject -p tcp -d 2.2.2.2 --dport 7000
echo "REJECTED $(pings server 2.2.2.2) $(tcp server 2.2.2.2 7000)"
$NSBOX filter -n router flush
echo "LEFT $(ip netns exec router nft -j list ruleset)"
"#);
    assert_eq!(field(&out, "JOINED"), "0 10.0.1.2", "{out}");
    assert_eq!(
        field(&out, "CUT"),
        "1 TimeoutError",
        "ping fails and TCP connect times out:\n{out}"
    );
    assert_eq!(field(&out, "OTHER"), "0", "only the named pair is cut");
    let listed = json(&out, "LISTED");
    assert!(
        listed[0]["packets"].as_u64().unwrap() >= 3,
        "the drops are counted: {listed}"
    );
    assert_eq!(field(&out, "HEALED"), "0 10.0.1.2", "{out}");
    assert_eq!(
        field(&out, "REJECTED"),
        "0 ConnectionRefusedError",
        "a TCP reject answers with a reset at once; ping still passes:\n{out}"
    );
    assert_eq!(tables(&json(&out, "LEFT")), Vec::<String>::new());
}

#[test]
fn every_kind_of_rule_reaches_the_kernel_as_listed_and_only_once() {
    require_root!();
    if common::missing_tool(&["nft", "ping", "python3", "ip"]) {
        return;
    }
    // Someone else's table (as iptables-nft or podman would keep) stays
    // untouched by everything nsbox does.
    let out = run(r#"
ip netns exec router nft add table ip theirs
ip netns exec router nft add chain ip theirs post '{ type nat hook postrouting priority 100; }'
ip netns exec router nft add rule ip theirs post counter masquerade
add() { $NSBOX "$@" >/dev/null; }
add nat -n router add snat -s 10.0.1.0/24 -o veth-cli --to-source 10.0.2.1-10.0.2.5
add nat -n router add masquerade -o veth-srv -p udp --to-ports 1024-2048
add nat -n router add dnat -i veth-cli -p udp --dport 5300-5399 --to-destination '[fd00::2]:53'
add nat -n router add dnat -d fd00::1/64 -p tcp --dport 80 --to-destination fd00::2
add filter -n router add input accept -p icmpv6
add filter -n router add output drop -o veth-cli -p sctp --sport 9
add filter -n router add forward reject -s 10.0.1.0/24 -i veth-srv -o veth-cli
echo "FIRST $(ip netns exec router nft -j list ruleset)"
echo "LISTED $($NSBOX nat -n router list --json | tr -d ' \n')"
echo "AGAIN $($NSBOX nat -n router add snat -s 10.0.1.7/24 -o veth-cli --to-source 10.0.2.1-10.0.2.5)"
add filter -n router add input accept -p icmpv6
echo "SECOND $(ip netns exec router nft -j list ruleset)"
echo "TEXT_BEGIN"; ip netns exec router nft list table inet nsbox; echo "TEXT_END"
echo "SHOW $($NSBOX show -n router --json | tr -d ' \n')"
$NSBOX show -n router | grep -E '^Chain|masquerade'
$NSBOX nat -n router flush
echo "NAT_FLUSHED $(ip netns exec router nft -j list ruleset)"
$NSBOX filter -n router flush
echo "ALL_FLUSHED $(ip netns exec router nft -j list ruleset)"
# A rule whose text is longer than an nft comment holds is still known again.
long="dnat -s ffff:ffff:ffff:ffff:ffff:ffff:ffff:fff0/124 -d ffff:ffff:ffff:ffff:ffff:ffff:ffff:fff0/124 -i a-name-of-15-by -p sctp --sport 65534-65535 --dport 65534-65535 --to-destination [ffff:ffff:ffff:ffff:ffff:ffff:ffff:fff0-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65534-65535"
$NSBOX nat -n client add $long >/dev/null
echo "LONG $($NSBOX nat -n client add $long)"
echo "LONG_COUNT $(ip netns exec client nft list ruleset | grep -c 'sctp sport')"
# Eight nsbox at once adding one rule: the namespace's lock lets one add it.
for i in 1 2 3 4 5 6 7 8; do $NSBOX filter -n server add input accept -p tcp --dport 4242 >/dev/null & done
wait
echo "RACE $(ip netns exec server nft list ruleset | grep -c 'dport 4242')"
"#);
    let first = json(&out, "FIRST");
    assert_eq!(tables(&first), ["ip theirs", "inet nsbox"]);
    let ours: Vec<_> = oracle_rules(&first)
        .into_iter()
        .filter(|r| r.0 == "inet nsbox")
        .collect();
    assert_eq!(ours.len(), 7, "{ours:?}");
    // nsbox's listing names the same rules, with nft's handles, in the
    // order the kernel evaluates them.
    let listed = json(&out, "LISTED");
    let listed: Vec<(String, u64)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["hook"].as_str().unwrap().to_string(), l["handle"].as_u64().unwrap()))
        .collect();
    let mut from_oracle: Vec<(String, u64)> = ours
        .iter()
        .filter(|r| r.1 == "prerouting" || r.1 == "postrouting")
        .map(|r| (r.1.clone(), r.2))
        .collect();
    from_oracle.sort_by_key(|(chain, _)| chain != "prerouting");
    assert_eq!(listed, from_oracle);
    // The same rule again (10.0.1.7/24 is 10.0.1.0/24) is recognised.
    assert!(field(&out, "AGAIN").ends_with("(already there)"), "{out}");
    let second = json(&out, "SECOND");
    assert_eq!(
        oracle_rules(&second).len(),
        oracle_rules(&first).len(),
        "nothing added twice"
    );
    // nft's own rendering of what nsbox sent.
    let text = out
        .split("TEXT_BEGIN")
        .nth(1)
        .unwrap()
        .split("TEXT_END")
        .next()
        .unwrap();
    for line in [
        "oifname \"veth-cli\" ip saddr 10.0.1.0/24 counter packets 0 bytes 0 snat ip to 10.0.2.1-10.0.2.5",
        "oifname \"veth-srv\" meta l4proto udp counter packets 0 bytes 0 masquerade to :1024-2048",
        // No address of its own says the family: the target's is given.
        "iifname \"veth-cli\" meta nfproto ipv6 udp dport 5300-5399 counter packets 0 bytes 0 dnat ip6 to [fd00::2]:53",
        "ip6 daddr fd00::/64 tcp dport 80 counter packets 0 bytes 0 dnat ip6 to fd00::2",
        "meta l4proto ipv6-icmp counter packets 0 bytes 0 accept",
        "oifname \"veth-cli\" sctp sport 9 counter packets 0 bytes 0 drop",
        "iifname \"veth-srv\" oifname \"veth-cli\" ip saddr 10.0.1.0/24 counter packets 0 bytes 0 reject",
    ] {
        assert!(text.contains(line), "nft does not list {line:?}:\n{text}");
    }
    let show = json(&out, "SHOW");
    assert_eq!(show["rules"].as_array().unwrap().len(), 7, "{show}");
    assert!(out.contains("Chain postrouting (nat)"), "{out}");
    let nat_flushed = json(&out, "NAT_FLUSHED");
    let mut left: Vec<String> = oracle_rules(&nat_flushed)
        .iter()
        .map(|r| format!("{} {}", r.0, r.1))
        .collect();
    left.sort();
    assert_eq!(
        left,
        [
            "inet nsbox forward",
            "inet nsbox input",
            "inet nsbox output",
            "ip theirs post"
        ]
    );
    let all_flushed = json(&out, "ALL_FLUSHED");
    assert_eq!(
        tables(&all_flushed),
        ["ip theirs"],
        "nsbox's table is gone, theirs stays"
    );
    assert_eq!(oracle_rules(&all_flushed).len(), 1);
    assert_eq!(field(&out, "RACE"), "1", "{out}");
    assert!(field(&out, "LONG").ends_with("(already there)"), "{out}");
    assert_eq!(field(&out, "LONG_COUNT"), "1", "{out}");
}

#[test]
fn bad_input_is_one_clear_line_and_changes_no_rule() {
    require_root!();
    if common::missing_tool(&["nft", "ping", "python3", "ip"]) {
        return;
    }
    let cases: &[(&str, &str)] = &[
        (
            "nat -n router add snat -s 10.0.1.300/24 --to-source 10.0.2.1",
            "address \"10.0.1.300/24\" is not valid",
        ),
        (
            "nat -n router add snat -s 10.0.1.0/33 --to-source 10.0.2.1",
            "address \"10.0.1.0/33\" is not valid",
        ),
        (
            "nat -n router add snat -o veth-cli --to-source 10.0.2",
            "NAT target \"10.0.2\" is not valid",
        ),
        (
            "nat -n router add masquerade -o a-name-of-16-byt",
            "interface name \"a-name-of-16-byt\" is invalid",
        ),
        (
            "nat -n router add dnat -p tcp --dport 80",
            "dnat needs --to-destination",
        ),
        ("nat -n router add snat -s 10.0.1.0/24", "snat needs --to-source"),
        (
            "nat -n router add dnat -p icmp --dport 80 --to-destination 10.0.1.2",
            "ports need --proto tcp, udp or sctp (not icmp)",
        ),
        (
            "nat -n router add dnat --to-destination 10.0.1.2:80",
            "ports need --proto tcp, udp or sctp",
        ),
        (
            "nat -n router add snat -s fd00::/64 --to-source 10.0.2.1",
            "mixes IPv4 and IPv6",
        ),
        (
            "nat -n router add dnat -o veth-cli --to-destination 10.0.1.2",
            "packets at prerouting have no output interface",
        ),
        (
            "filter -n router add input drop -o veth-cli",
            "packets at input have no output interface",
        ),
        (
            "filter -n router add forward drop -p gre",
            "protocol \"gre\" is not valid",
        ),
        (
            "filter -n router add forward drop -p tcp --dport 0",
            "port \"0\" is not valid",
        ),
        ("nat -n nowhere add masquerade", "nowhere"),
        ("nat -n router delete --handle 999", "no nat rule with handle 999"),
        (
            "filter -n router delete forward drop -s 10.9.9.9",
            "no filter rule matches",
        ),
        ("nat -n router delete", "delete needs --handle N or the rule to delete"),
    ];
    let mut script = String::from(
        r#"
$NSBOX nat -n router add snat -s 10.0.1.0/24 -o veth-cli --to-source 10.0.2.1 >/dev/null
$NSBOX filter -n router add forward drop -s 10.0.1.2 >/dev/null
before=$(ip netns exec router nft -j list ruleset)
"#,
    );
    for (i, (args, _)) in cases.iter().enumerate() {
        script.push_str(&format!(
            "set +e; err=$($NSBOX {args} 2>&1 >/dev/null); code=$?; set -e\n\
             echo \"CASE{i} $code $(printf '%s\\n' \"$err\" | wc -l) $err\"\n\
             [ \"$(ip netns exec router nft -j list ruleset)\" = \"$before\" ] && echo UNCHANGED{i}\n"
        ));
    }
    script.push_str(
        "set +e; err=$(NSBOX_NFT=/nonexistent/nft $NSBOX nat -n router list 2>&1); echo \"NONFT $? $err\"; set -e\n",
    );
    let out = run(&script);
    for (i, (args, expected)) in cases.iter().enumerate() {
        let line = field(&out, &format!("CASE{i}"));
        assert!(
            line.starts_with("1 1 nsbox: ") && line.contains(expected),
            "nsbox {args}: wanted status 1 and one line with {expected:?}, got {line:?}"
        );
        assert!(
            out.contains(&format!("UNCHANGED{i}\n")),
            "nsbox {args} changed the ruleset"
        );
    }
    assert_eq!(
        field(&out, "NONFT"),
        "1 nsbox: nft not found: NAT and filter rules need nftables (install it with: apt-get install nftables)"
    );
}

#[test]
fn ipv6_masquerade_and_a_partition_work_like_their_ipv4_twins() {
    require_root!();
    if common::missing_tool(&["nft", "ping", "python3", "ip"]) {
        return;
    }
    // The seed's shape in IPv6: the client (fd00:99::99 on lo) has no route
    // back to the server's fd00:1::/64, so only the router's masquerade
    // gets the server's ping answered.
    let out = run(r#"
for a in "server fd00:1::2/64 vethS" "router fd00:1::1/64 veth-srv" "router fd00:2::1/64 veth-cli" "client fd00:2::2/64 vethC"; do
  set -- $a; ip -n "$1" addr add "$2" dev "$3" nodad
done
ip -n client addr add fd00:99::99/128 dev lo
ip netns exec router sysctl -qw net.ipv6.conf.all.forwarding=1
ip -n server route add default via fd00:1::1
ip -n router route add fd00:99::/64 via fd00:2::2
echo "BEFORE $(pings server fd00:99::99)"
$NSBOX nat -n router add masquerade -s fd00:1::/64 -o veth-cli >/dev/null
echo "WITH $(pings server fd00:99::99)"
echo "SEEN $(udp_source client server fd00:99::99)"
$NSBOX filter -n router add forward drop -s fd00:1::2 -p icmpv6 >/dev/null
echo "CUT $(pings server fd00:99::99)"
echo "LISTED $($NSBOX filter -n router list --json | tr -d ' \n')"
$NSBOX filter -n router delete forward drop -s fd00:1::2 -p icmpv6 >/dev/null
echo "HEALED $(pings server fd00:99::99)"
echo "ORACLE $(ip netns exec router nft -j list ruleset)"
"#);
    assert_eq!(field(&out, "BEFORE"), "1", "{out}");
    assert_eq!(field(&out, "WITH"), "0", "{out}");
    assert_eq!(field(&out, "SEEN"), "fd00:2::1", "the client sees the router's address");
    assert_eq!(field(&out, "CUT"), "1", "{out}");
    let listed = json(&out, "LISTED");
    assert!(listed[0]["packets"].as_u64().unwrap() >= 2, "{listed}");
    assert_eq!(listed[0]["rule"]["proto"], "icmpv6");
    assert_eq!(field(&out, "HEALED"), "0", "{out}");
    let rules = oracle_rules(&json(&out, "ORACLE"));
    assert_eq!(rules.len(), 1, "only the masquerade is left: {rules:?}");
    let exprs = rules[0].3.to_string();
    let prefix = json!({"match": {"op": "==", "left": {"payload": {"protocol": "ip6", "field": "saddr"}},
        "right": {"prefix": {"addr": "fd00:1::", "len": 64}}}});
    assert!(
        has(&rules[0].3, prefix) && has(&rules[0].3, json!({"masquerade": null})),
        "{exprs}"
    );
}
