#!/usr/bin/env bash
# NAT and filter rules: nsbox against iptables and nft doing the same in the
# same hyperfine run (both run the seed's way, `ip netns exec NS ...`):
# installing the seed's SNAT rule in an empty namespace, listing it with
# counters, 100 rules in one namespace, one rule in each of 100 namespaces.
# Everything runs in a private mount namespace with its own /run, so no
# named namespace (nor rule) reaches the host. Writes bench-results/nat*.
# Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-common.sh
if bench_outer; then
  bench_tools hyperfine iptables
  export NSBOX RULES
  NSBOX=$(scripts/build.sh -p nsbox | tail -1)
  RULES=$(bench_example nsbox-net rules)
fi
bench_private_run "$0" "$@"
work=$(mktemp -d /run/nsbox-bench.XXXXXX)
runs=${RUNS:-30}
many_runs=${MANY_RUNS:-10}

ip netns add router
# Rule i drops what 10.(i/256).(i%256).0/24 sends through: all different.
src() { echo "10.$(($1 / 256)).$(($1 % 256)).0/24"; }
cat > "$work/snat.nft" <<'EOF'
add table inet t
add chain inet t post { type nat hook postrouting priority srcnat; policy accept; }
add rule inet t post ip saddr 10.0.1.0/24 oifname "veth-cli" counter snat ip to 10.0.2.1
EOF
{
  echo 'add table inet t'
  echo 'add chain inet t forward { type filter hook forward priority filter; policy accept; }'
  for i in $(seq 0 99); do echo "add rule inet t forward ip saddr $(src "$i") counter drop"; done
} > "$work/100.nft"
{
  echo '*filter'
  for i in $(seq 0 99); do echo "-A FORWARD -s $(src "$i") -j DROP"; done
  echo 'COMMIT'
} > "$work/100.rules"
: > "$work/nsbox-100.sh"; : > "$work/ipt-100.sh"
: > "$work/nsbox-each.sh"; : > "$work/ipt-each.sh"; : > "$work/nft-each.sh"; : > "$work/flush-each.sh"
for i in $(seq 0 99); do
  ip netns add "ns$i"
  echo "$NSBOX filter -n router add forward drop -s $(src "$i") >/dev/null" >> "$work/nsbox-100.sh"
  echo "ip netns exec router iptables -A FORWARD -s $(src "$i") -j DROP" >> "$work/ipt-100.sh"
  echo "$NSBOX filter -n ns$i add forward drop -s $(src "$i") >/dev/null" >> "$work/nsbox-each.sh"
  echo "ip netns exec ns$i iptables -A FORWARD -s $(src "$i") -j DROP" >> "$work/ipt-each.sh"
  {
    echo 'add table inet t'
    echo 'add chain inet t forward { type filter hook forward priority filter; policy accept; }'
    echo "add rule inet t forward ip saddr $(src "$i") counter drop"
  } > "$work/one-$i.nft"
  echo "ip netns exec ns$i nft -f $work/one-$i.nft" >> "$work/nft-each.sh"
  echo "nsenter --net=/run/netns/ns$i nft flush ruleset" >> "$work/flush-each.sh"
done
empty="nsenter --net=/run/netns/router nft flush ruleset"

{
  hyperfine -N --runs "$runs" --prepare "$empty" --export-json bench-results/nat-install.json \
    -n "iptables -t nat -A (ip netns exec)" \
    "ip netns exec router iptables -t nat -A POSTROUTING -s 10.0.1.0/24 -o veth-cli -j SNAT --to-source 10.0.2.1" \
    -n "nft -f (ip netns exec)" "ip netns exec router nft -f $work/snat.nft" \
    -n "nsbox nat add snat" \
    "$NSBOX nat -n router add snat --source 10.0.1.0/24 --out veth-cli --to-source 10.0.2.1" >/dev/null
  echo "## Installing the seed's SNAT rule in an empty namespace"
  scripts/bench-table.py "iptables -t nat -A (ip netns exec)" bench-results/nat-install.json
  echo

  # Each tool lists its own copy of the rule, all three in the router.
  ip netns exec router iptables -t nat -A POSTROUTING -s 10.0.1.0/24 -o veth-cli -j SNAT --to-source 10.0.2.1
  ip netns exec router nft -f "$work/snat.nft"
  "$NSBOX" nat -n router add snat --source 10.0.1.0/24 --out veth-cli --to-source 10.0.2.1 >/dev/null
  hyperfine -N --runs "$runs" --export-json bench-results/nat-list.json \
    -n "iptables -t nat -nL -v (ip netns exec)" "ip netns exec router iptables -t nat -nL -v" \
    -n "nft list table (ip netns exec)" "ip netns exec router nft list table inet t" \
    -n "nsbox nat list" "$NSBOX nat -n router list" \
    -n "nsbox nat add, already there" \
    "$NSBOX nat -n router add snat --source 10.0.1.0/24 --out veth-cli --to-source 10.0.2.1" >/dev/null
  echo "## Listing it with its counters (and adding it again)"
  scripts/bench-table.py "iptables -t nat -nL -v (ip netns exec)" bench-results/nat-list.json
  echo

  hyperfine -N --runs "$many_runs" --prepare "$empty" --export-json bench-results/nat-100-one.json \
    -n "iptables-restore --noflush (ip netns exec)" "ip netns exec router iptables-restore --noflush $work/100.rules" \
    -n "nft -f (ip netns exec)" "ip netns exec router nft -f $work/100.nft" \
    -n "nsbox library, one batch" "$RULES one router 100" \
    -n "100 x iptables -A (ip netns exec)" "sh $work/ipt-100.sh" \
    -n "100 x nsbox filter add" "sh $work/nsbox-100.sh" >/dev/null
  echo "## 100 rules in one namespace"
  scripts/bench-table.py "iptables-restore --noflush (ip netns exec)" bench-results/nat-100-one.json
  echo

  hyperfine -N --runs "$many_runs" --prepare "sh $work/flush-each.sh" --export-json bench-results/nat-100-each.json \
    -n "100 x iptables -A (ip netns exec)" "sh $work/ipt-each.sh" \
    -n "100 x nft -f (ip netns exec)" "sh $work/nft-each.sh" \
    -n "nsbox library, a thread per CPU" "$RULES each ns 100" \
    -n "100 x nsbox filter add" "sh $work/nsbox-each.sh" >/dev/null
  echo "## One rule in each of 100 namespaces"
  scripts/bench-table.py "100 x iptables -A (ip netns exec)" bench-results/nat-100-each.json
} | tee bench-results/nat.md
