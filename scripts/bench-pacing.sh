#!/usr/bin/env bash
# `nsbox lab check` of labs whose every expectation is an ICMP error from
# one router ("net unreachable from 10.0.0.1": `scripts/gen-lab.py
# icmp-errors N`), N = 10 and 100. hyperfine stops at the first run that
# exits non-zero, so a finished run means every expectation held every
# time. Beside it, the same N probes sent at once with iputils (what a
# check without pacing meets: the router's rate limit) and the floor the
# kernel's bucket allows (two errors at once, then one per ~2 s). Runs in a
# private mount namespace with its own /run. Writes bench-results/pacing*.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-common.sh
if bench_outer; then
  bench_tools hyperfine
  export NSBOX
  NSBOX=$(scripts/build.sh -p nsbox | tail -1)
fi
bench_private_run "$0" "$@"
work=$(mktemp -d /run/nsbox-bench.XXXXXX)

for n in 10 100; do
  runs=${PACING_RUNS_10:-20}
  [ "$n" = 100 ] && runs=${PACING_RUNS_100:-3}
  python3 scripts/gen-lab.py icmp-errors "$n" > "$work/e$n.yaml"
  "$NSBOX" lab up "$work/e$n.yaml" >/dev/null
  hyperfine -N --runs "$runs" --export-json "bench-results/pacing-$n.json" \
    -n "nsbox lab check ($n ICMP errors from one router)" "$NSBOX lab check $work/e$n.yaml" >/dev/null
  # Let the router's bucket fill up again, then send the N probes at once.
  sleep 6
  for i in $(seq 1 "$n"); do
    ip netns exec e-a ping -n -c 1 -W 1 "10.9.$((i / 250)).$((i % 250 + 1))" >"$work/p$i" 2>&1 &
  done
  wait || true
  got=$(cat "$work"/p* | grep -c 'Unreachable' || true)
  rm -f "$work"/p*
  "$NSBOX" lab down e >/dev/null
  echo "## $n ICMP errors from one router"
  scripts/bench-table.py "nsbox lab check ($n ICMP errors from one router)" "bench-results/pacing-$n.json"
  echo "iputils, the $n probes at once: $got of $n errors came back"
  echo "the bucket's floor: $(( (n - 2) * 2 )) s (two at once, then one per 2 s)"
  echo
  sleep 6
done | tee bench-results/pacing.md
