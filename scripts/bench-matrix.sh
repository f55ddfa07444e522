#!/usr/bin/env bash
# `nsbox lab check --matrix` on a star of 11 nodes, a bridge of 50 nodes and
# a chain of 100 routers (9,900 ordered pairs, many beyond the 64 hops an
# echo's TTL allows): the time (hyperfine), the host's neighbour table's
# `table_fulls` before and after, beside iputils `ping` run for every pair
# 32 at a time (what a script does), and every verdict of nsbox's last run checked
# against iputils `ping` (every pair of the bridge; 300 pairs of the chain
# drawn at random, all its failing ones among them). In a private mount
# namespace with its own /run. Writes bench-results/matrix-*. Run as root.
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

# The host's table's counters: shown in its own namespace, and here
# (another network namespace is not made) through PID 1's.
table_fulls() {
  python3 -c 'import sys; print(sum(int(l.split()[-1], 16) for f in sys.argv[1:] for l in open(f).readlines()[1:]))' \
    /proc/1/net/stat/arp_cache /proc/1/net/stat/ndisc_cache
}

matrix() { # matrix NAME RUNS LABNAME ORACLE_PAIRS GEN-ARGS...
  local name=$1 runs=$2 labname=$3 pairs=$4; shift 4
  python3 scripts/gen-lab.py "$@" > "$work/$name.yaml"
  "$NSBOX" lab up "$work/$name.yaml" >/dev/null
  "$NSBOX" lab check "$work/$name.yaml" --matrix --json > "$work/$name.json"
  # The anchor: what a script does, iputils ping for every pair, 32 at a
  # time (`xargs -P 32`); the same pairs, the same one-second wait.
  python3 -c 'import json, sys
lab = sys.argv[2]
for c in json.load(open(sys.argv[1])):
    print(lab + "-" + c["from"], c["address"])' "$work/$name.json" "$labname" > "$work/$name.pairs"
  cat > "$work/$name-iputils.sh" <<SH
xargs -P 32 -L 1 sh -c 'ip netns exec "\$0" ping -n -q -c 1 -W 1 "\$1" >/dev/null 2>&1 || true' < $work/$name.pairs
SH
  hyperfine -N --warmup 1 --runs "$runs" --export-json "bench-results/matrix-$name.json" \
    -n "nsbox lab check --matrix ($name)" "$NSBOX lab check $work/$name.yaml --matrix" \
    -n "iputils ping per pair, 32 at a time ($name)" "sh $work/$name-iputils.sh" >/dev/null
  # nsbox's own run, alone, between two looks at the table's overflows
  # (iputils' runs above overflow it on the bridge).
  local before after
  sleep "${SETTLE:-2}"
  before=$(table_fulls)
  "$NSBOX" lab check "$work/$name.yaml" --matrix --json > "$work/$name.json"
  after=$(table_fulls)
  echo "## $name"
  scripts/bench-table.py "iputils ping per pair, 32 at a time ($name)" "bench-results/matrix-$name.json"
  echo
  echo "- table_fulls around nsbox's last run: $before before, $after after"
  python3 - "$work/$name.json" "$labname" "$pairs" <<'PYEOF'
import json, random, subprocess, sys
from concurrent.futures import ThreadPoolExecutor
cells, lab, wanted = json.load(open(sys.argv[1])), sys.argv[2], int(sys.argv[3])
random.seed(14)
failing = [c for c in cells if not c["observed"]["reachable"]]
sample = cells if wanted >= len(cells) else random.sample(cells, wanted)
sample = sample + [c for c in random.sample(failing, min(len(failing), wanted // 3)) if c not in sample]
def iputils(c):
    run = subprocess.run(["ip", "netns", "exec", f"{lab}-{c['from']}", "ping", "-n", "-c", "1", "-W", "1", c["address"]],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return run.returncode == 0
# iputils knows nothing of the host's neighbour table: the oracle itself
# would overflow it on the bridge (1,100 of 2,450 pings lost when tried).
# So it goes 100 pings at a time and the lab's nodes forget their
# neighbours before each batch (nsbox's last run left some).
nodes = sorted({c["from"] for c in cells})
truth = []
for start in range(0, len(sample), 100):
    for n in nodes:
        subprocess.run(["ip", "-n", f"{lab}-{n}", "neigh", "flush", "all"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with ThreadPoolExecutor(32) as pool:
        truth += list(pool.map(iputils, sample[start:start + 100]))
wrong = [c for c, t in zip(sample, truth) if t != c["observed"]["reachable"]]
print(f"- {len(cells)} pairs, {sum(c['observed']['reachable'] for c in cells)} reachable; "
      f"{len(sample)} checked against iputils ping, {len(wrong)} differ")
for c in wrong[:10]:
    print(f"  - {c['from']} -> {c['to']} ({c['address']}): nsbox {c['observed']['detail']}")
PYEOF
  echo
  "$NSBOX" lab down "$labname" >/dev/null
}

{
  matrix star-11 "${MATRIX_RUNS:-20}" s 110 star 11
  matrix bridge-50 "${MATRIX_RUNS:-10}" s 2450 star 50
  matrix chain-100 "${MATRIX_RUNS:-5}" c 300 chain 100
} | tee bench-results/matrix.md
