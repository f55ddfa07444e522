#!/usr/bin/env bash
# Bring-up and teardown of network topologies: nsbox's library (the topo
# example), the bare-netlink floor, single `ip` commands, and `ip -batch`
# (one batch per namespace), side by side in one hyperfine run per
# topology. Everything runs in a private mount namespace with its own
# /run, so no named namespace reaches the host. Writes bench-results/net-*.
# Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-common.sh
if bench_outer; then
  bench_tools hyperfine
  export TOPO
  TOPO=$(bench_example nsbox-net topo)
fi
bench_private_run "$0" "$@"
work=$(mktemp -d /run/nsbox-bench.XXXXXX)

# Clean slate between runs: delete every namespace, then give the kernel
# time to finish the asynchronous teardown of the previous run.
# (A function, not a string made once: SETTLE is set per topology.)
settle() { echo "ip -all netns delete 2>/dev/null; sleep ${SETTLE:-2}"; }

bench() { # bench NAME RUNS TOPOLOGY...
  local name=$1 runs=$2; shift 2
  local dir=$work/$name
  python3 scripts/gen-ip-topo.py "$dir" "$@"
  hyperfine -N --runs "$runs" --prepare "sh -c '$(settle)'" --export-json "bench-results/net-$name-up.json" \
    -n "nsbox up" "$TOPO up $*" \
    -n "floor up (bare netlink, one by one)" "$TOPO up $* --floor" \
    -n "ip -batch up" "sh $dir/ipb-up.sh" \
    -n "ip single commands up" "sh $dir/ip-up.sh" >/dev/null
  hyperfine -N --runs "$runs" --prepare "sh -c '$(settle); $TOPO up $*'" --export-json "bench-results/net-$name-down.json" \
    -n "nsbox down" "$TOPO down $*" \
    -n "floor down" "$TOPO down $* --floor" \
    -n "ip -batch down" "sh $dir/ipb-down.sh" \
    -n "ip single commands down" "sh $dir/ip-down.sh" >/dev/null
  echo "## $name: bring-up"
  scripts/bench-table.py "floor up (bare netlink, one by one)" "bench-results/net-$name-up.json"
  echo
  echo "## $name: teardown"
  scripts/bench-table.py "floor down" "bench-results/net-$name-down.json"
  echo
  sh -c "$(settle)"
}

{
  SETTLE=0.3 bench seed "${SEED_RUNS:-20}" seed
  bench star-100 "${STAR_RUNS:-5}" star 100
  SETTLE=4 bench star-500 "${BIG_RUNS:-3}" star 500
  SETTLE=4 bench chain-100 "${BIG_RUNS:-3}" chain 100
} | tee bench-results/net.md
