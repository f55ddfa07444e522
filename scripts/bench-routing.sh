#!/usr/bin/env bash
# Routing labs (issue 18): an OSPF ring of 20 and of 100 FRR routers
# (scripts/gen-ospf-ring.py: point-to-point /30 links, a loopback each),
# with FRR's default timers and with fast ones, brought up by nsbox and by
# a plain shell script that builds the same ring with `ip netns` and starts
# the same daemons (zebra, ospfd) one router at a time, in one run:
#   - up: until `nsbox lab up` (or the script) returns;
#   - converged: from the start until every router routes every other
#     router's loopback on its shortest path (scripts/ring-converged.py);
#   - reconverged: from pulling the r0-r1 link (both ends down) until the
#     shortest paths go the other way round;
#   - memory per router: the daemons', and nsbox's own processes in a node;
#   - down: until `nsbox lab down` (or the script's teardown) returns.
# Each ring is brought up RUNS times (5 unless said) by each tool in turn
# (nsbox, script, nsbox, ...: slow drift of the machine hits both alike);
# the table has each figure's median, and the range of `converged` (with
# default timers it has two modes: OSPF's floor, or one stalled database
# exchange 4-5 s above it; see BENCHMARKS.md). Memory is the first run's.
# Writes bench-results/routing.md. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-common.sh
if bench_outer; then
  bench_tools
fi
bench_private_run "$0" "$@"
nsbox=$(scripts/build.sh)
sizes=${SIZES:-20 100}
work=$(mktemp -d /tmp/nsbox-bench-routing.XXXXXX)
trap 'rm -rf "$work"' EXIT
now() { date +%s.%N; }
since() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$1" "$(now)"; }
cut_r0_r1() { ip -n ring-r0 link set east down; ip -n ring-r1 link set west down; }

results=bench-results/routing.md
runs=${RUNS:-5}
raw="$work/raw"
mkdir -p bench-results
for n in $sizes; do
  for timers in fast default; do
    python3 scripts/gen-ospf-ring.py "$n" "$timers" lab > "$work/ring.yaml"
    python3 scripts/gen-ospf-ring.py "$n" "$timers" script-up > "$work/up.sh"
    python3 scripts/gen-ospf-ring.py "$n" "$timers" script-down > "$work/down.sh"
    for run in $(seq "$runs"); do
      for tool in nsbox script; do
        start=$(now)
        if [ "$tool" = nsbox ]; then "$nsbox" lab up "$work/ring.yaml" > /dev/null; else sh "$work/up.sh" 2> /dev/null; fi
        up=$(since "$start")
        converged=$(python3 scripts/ring-converged.py "$n" "$start" --timeout 180)
        daemons=— own=—
        if [ "$run" = 1 ]; then
          memory=$(python3 scripts/netns-memory.py "$n")
          daemons=$(echo "$memory" | sed -n 's/^daemons: PSS \([0-9.]*\) MiB, RSS \([0-9.]*\) MiB.*/\1 \/ \2 MiB/p')
          [ "$tool" = script ] || own=$(echo "$memory" | sed -n 's/^nsbox: PSS \([0-9.]*\) MiB, RSS \([0-9.]*\) MiB.*/\1 \/ \2 MiB/p')
        fi
        cut=$(now)
        cut_r0_r1
        reconverged=$(python3 scripts/ring-converged.py "$n" "$cut" --cut 0 --timeout 180)
        start=$(now)
        if [ "$tool" = nsbox ]; then "$nsbox" lab down ring > /dev/null; else sh "$work/down.sh" 2> /dev/null; fi
        down=$(since "$start")
        echo "== $n routers, $timers timers, $tool, run $run: up $up, converged $converged, reconverged $reconverged, down $down; daemons $daemons, nsbox $own"
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$timers" "$tool" "$up" "$converged" "$reconverged" "$down" "$daemons" "$own" >> "$raw"
      done
    done
  done
done
python3 - "$raw" "$runs" > "$results" <<'TABLE'
import statistics, sys
rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1])]
print(f"| routers | timers | tool | up (s) | converged (s), median (min–max of {sys.argv[2]}) | reconverged (s) | down (s) | daemons PSS/RSS per router | nsbox's own PSS/RSS per router |")
print("|---|---|---|---|---|---|---|---|---|")
seen = []
for key in [tuple(r[:3]) for r in rows]:
    if key in seen:
        continue
    seen.append(key)
    mine = [r for r in rows if tuple(r[:3]) == key]
    med = lambda i: f"{statistics.median(float(r[i]) for r in mine):.2f}"
    conv = [float(r[4]) for r in mine]
    memory = [r for r in mine if r[7] != "—"][0]
    print(f"| {key[0]} | {key[1]} | {key[2]} | {med(3)} | {med(4)} ({min(conv):.2f}–{max(conv):.2f}) | {med(5)} | {med(6)} | {memory[7]} | {memory[8]} |")
TABLE
cat "$results"
