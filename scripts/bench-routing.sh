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
mkdir -p bench-results
{
  echo "| routers | timers | tool | up (s) | converged (s) | reconverged (s) | down (s) | daemons PSS/RSS per router | nsbox's own PSS/RSS per router |"
  echo "|---|---|---|---|---|---|---|---|---|"
} > "$results"
for n in $sizes; do
  for timers in fast default; do
    python3 scripts/gen-ospf-ring.py "$n" "$timers" lab > "$work/ring.yaml"
    python3 scripts/gen-ospf-ring.py "$n" "$timers" script-up > "$work/up.sh"
    python3 scripts/gen-ospf-ring.py "$n" "$timers" script-down > "$work/down.sh"
    for tool in nsbox script; do
      echo "== $n routers, $timers timers, $tool"
      start=$(now)
      if [ "$tool" = nsbox ]; then "$nsbox" lab up "$work/ring.yaml" > /dev/null; else sh "$work/up.sh" 2> /dev/null; fi
      up=$(since "$start")
      converged=$(python3 scripts/ring-converged.py "$n" "$start" --timeout 180)
      memory=$(python3 scripts/netns-memory.py "$n")
      daemons=$(echo "$memory" | sed -n 's/^daemons: PSS \([0-9.]*\) MiB, RSS \([0-9.]*\) MiB.*/\1 \/ \2 MiB/p')
      own=$(echo "$memory" | sed -n 's/^nsbox: PSS \([0-9.]*\) MiB, RSS \([0-9.]*\) MiB.*/\1 \/ \2 MiB/p')
      cut=$(now)
      cut_r0_r1
      reconverged=$(python3 scripts/ring-converged.py "$n" "$cut" --cut 0 --timeout 180)
      start=$(now)
      if [ "$tool" = nsbox ]; then "$nsbox" lab down ring > /dev/null; else sh "$work/down.sh" 2> /dev/null; fi
      down=$(since "$start")
      [ "$tool" = nsbox ] || own="—"
      echo "up $up, converged $converged, reconverged $reconverged, down $down; daemons $daemons, nsbox $own"
      echo "| $n | $timers | $tool | $up | $converged | $reconverged | $down | $daemons | $own |" >> "$results"
    done
  done
done
cat "$results"
