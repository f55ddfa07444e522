//! The seed lab, built with iproute2 exactly as `../shared/seed/seed-lab.sh`
//! builds it, step by step; at every ping of seed-lab.md (T1 to T10),
//! iputils `ping` and `nsbox ping` run one after the other and must agree:
//! the same exit code, the same replies (and TTLs), the same ICMP errors
//! from the same senders.

mod common;

const SCRIPT: &str = r#"
set +e
norm() {
  # replies' TTLs, errors with their senders, the received count, local errors
  printf '%s\n' "$1" | grep -oE "ttl=[0-9]+|From [0-9.]+:? icmp_seq=[0-9]+ .*|[0-9]+ received|Network is unreachable" \
    | sed -E 's/icmp_seq=[0-9]+ //' | sort -u | tr '\n' ';'
}
both() { # both NS PING-ARGS...
  ns=$1; shift
  a=$(ip netns exec "$ns" ping -c "${COUNT:-2}" -i 0.4 -W "${WAIT:-1}" "$@" 2>&1); ra=$?
  b=$($NSBOX ping -n "$ns" -c "${COUNT:-2}" -i 0.4 -W "${WAIT:-1}" "$@" 2>&1); rb=$?
  echo "CASE $ns $*"
  echo "iputils $ra $(norm "$a")"
  echo "nsbox $rb $(norm "$b")"
}
set -e
ip netns add server; ip netns add router; ip netns add client
ip link add vethS type veth peer name veth-srv
ip link add vethC type veth peer name veth-cli
ip link set vethS netns server; ip link set veth-srv netns router
ip link set veth-cli netns router; ip link set vethC netns client
ip -n server addr add 10.0.1.2/24 dev vethS; ip -n server addr add 1.1.1.1/24 dev lo
ip -n router addr add 10.0.1.1/24 dev veth-srv; ip -n router addr add 10.0.2.1/24 dev veth-cli
ip netns exec router sysctl -qw net.ipv4.ip_forward=1
# The router limits the ICMP errors it sends to one host (1 s per error
# after a small burst): a second tool pinging right after the first would
# see fewer errors. The limit is per namespace; off here, in the router only.
ip netns exec router sysctl -qw net.ipv4.icmp_ratelimit=0
ip -n client addr add 10.0.2.2/24 dev vethC; ip -n client addr add 2.2.2.2/24 dev lo
for ns in server router client; do ip -n $ns link set lo up; done
ip -n server link set vethS up; ip -n router link set veth-srv up
ip -n router link set veth-cli up; ip -n client link set vethC up
set +e
echo "STEP T1"; both server 1.1.1.1; both server 10.0.1.1
echo "STEP T2"; both client 10.0.2.1
echo "STEP T3"; both client 10.0.1.1; both server 10.0.2.2
ip -n client route add default via 10.0.2.1; ip -n server route add default via 10.0.1.1
echo "STEP T4"; both client 10.0.1.1; both server 10.0.2.2; both client 10.0.1.2
echo "STEP T5"; both server 2.2.2.2; both client 1.1.1.1
ip -n router route add 1.1.1.0/24 via 10.0.1.1; ip -n router route add 2.2.2.0/24 via 10.0.2.1
echo "STEP T6"; both server 2.2.2.2; both client 1.1.1.1
ip -n router route del 1.1.1.0/24 via 10.0.1.1; ip -n router route del 2.2.2.0/24 via 10.0.2.1
ip -n router neigh flush all
ip -n router route add 1.1.1.0/24 via 10.0.1.2; ip -n router route add 2.2.2.0/24 via 10.0.2.2
echo "STEP T7"; both server 2.2.2.2; both client 1.1.1.1; both server -I 1.1.1.1 2.2.2.2
echo "STEP TTL"; both server -t 1 2.2.2.2
# A host that does not answer ARP: the router gives up after about 3 s and
# says so (seed-lab.md T6c); enough probes and patience to see it.
echo "STEP HOST"; COUNT=6 WAIT=3 both server 10.0.2.99
echo "JSON $($NSBOX ping -n server -c 1 --json 2.2.2.2 | tr -d ' \n')"
ip -n router route del 1.1.1.0/24; ip -n router route del 2.2.2.0/24
ip -n router route add default scope global via 10.0.2.2
echo "STEP T8"; both server 2.2.2.2; both client 1.1.1.1
ip netns exec router nft add table ip nsbox_seed
ip netns exec router nft add chain ip nsbox_seed post '{ type nat hook postrouting priority 100; }'
ip netns exec router nft add rule ip nsbox_seed post ip saddr 10.0.1.0/24 oifname veth-cli snat to 10.0.2.1
echo "STEP T9"; both server 2.2.2.2; both server 10.0.2.2
ip -n client route del default via 10.0.2.1
echo "STEP T10"; both server 2.2.2.2
ip netns exec router nft delete table ip nsbox_seed
both server 2.2.2.2
ip netns del server; ip netns del router; ip netns del client
echo "END"
"#;

#[test]
fn nsbox_ping_agrees_with_iputils_at_every_step_of_the_seed_lab() {
    require_root!();
    for tool in ["ping", "nft"] {
        if std::process::Command::new(tool).arg("-V").output().is_err() {
            eprintln!("SKIPPED: {tool} is not installed (scripts/install-deps.sh installs it)");
            return;
        }
    }
    let (_, stdout, stderr) = common::in_private_run(SCRIPT);
    assert!(stdout.contains("END"), "the script stopped early:\n{stdout}\n{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    let mut cases = 0;
    let mut outcomes = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(case) = line.strip_prefix("CASE ") else {
            continue;
        };
        let iputils = lines[i + 1].strip_prefix("iputils ").unwrap();
        let nsbox = lines[i + 2].strip_prefix("nsbox ").unwrap();
        assert_eq!(nsbox, iputils, "ping {case}: nsbox and iputils disagree");
        outcomes.push(format!("{case} => {iputils}"));
        cases += 1;
    }
    assert_eq!(cases, 23, "{stdout}");
    assert!(
        outcomes
            .iter()
            .any(|o| o.starts_with("server -t 1") && o.contains("From 10.0.1.1 Time to live exceeded")),
        "{outcomes:?}"
    );
    let json = lines.iter().find_map(|l| l.strip_prefix("JSON ")).unwrap();
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    assert_eq!(
        (v["transmitted"].as_u64(), v["received"].as_u64()),
        (Some(1), Some(1)),
        "{v}"
    );
    assert_eq!(v["events"][0]["outcome"], "reply");
    assert_eq!(v["events"][0]["ttl"], 63);
    assert_eq!(v["events"][0]["from"], "2.2.2.2");
    // The outcomes themselves are those seed-lab.md records.
    let outcome = |case: &str| outcomes.iter().find(|o| o.starts_with(case)).unwrap().clone();
    assert!(
        outcome("client 10.0.1.1").contains("2 Network is unreachable"),
        "T3: {outcomes:?}"
    );
    assert!(
        outcome("server 2.2.2.2").contains("From 10.0.1.1 Destination Net Unreachable"),
        "T5: {outcomes:?}"
    );
    assert!(
        outcomes
            .iter()
            .any(|o| o.starts_with("client 1.1.1.1") && o.contains("Redirect Host(New nexthop: 10.0.2.2)")),
        "T8: {outcomes:?}"
    );
    assert!(
        outcomes
            .iter()
            .any(|o| o.starts_with("server 10.0.2.2") && o.contains("ttl=63")),
        "T4: {outcomes:?}"
    );
    assert!(
        outcomes.last().unwrap().starts_with("server 2.2.2.2 => 1 "),
        "T10 without SNAT: {outcomes:?}"
    );
}
