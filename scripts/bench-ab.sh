#!/usr/bin/env bash
# A/B of two nsbox binaries on one command line, with hyperfine in rounds
# that alternate which binary goes first (on this noisy machine the order
# within one hyperfine call moves a median by up to a tenth); the runs of
# all rounds are pooled and the medians compared.
# Usage: scripts/bench-ab.sh BEFORE_BINARY AFTER_BINARY [ARGS...]
#   (ARGS default: unshare -- /bin/true; ROUNDS=20, RUNS=50 per round and binary)
set -euo pipefail
before=$1 after=$2
shift 2
args=("$@")
[ ${#args[@]} -gt 0 ] || args=(unshare -- /bin/true)
rounds=${ROUNDS:-20} runs=${RUNS:-50}
out=$(mktemp -d /tmp/nsbox-bench-ab.XXXXXX)
trap 'rm -rf "$out"' EXIT
for round in $(seq "$rounds"); do
  if [ $((round % 2)) -eq 0 ]; then first=$before second=$after; else first=$after second=$before; fi
  hyperfine -N -w 5 -r "$runs" --export-json "$out/$round.json" \
    -n "$first" "$first ${args[*]}" -n "$second" "$second ${args[*]}" >/dev/null 2>&1
done
python3 - "$out" "$before" "$after" <<'PYEOF'
import json, os, statistics, sys
out, before, after = sys.argv[1:]
times = {before: [], after: []}
for f in os.listdir(out):
    for r in json.load(open(os.path.join(out, f)))["results"]:
        times[r["command"]].extend(r["times"])
b, a = statistics.median(times[before]), statistics.median(times[after])
print(f"before {b*1000:.3f} ms, after {a*1000:.3f} ms (medians of {len(times[before])} runs each), ratio {a/b:.4f}")
PYEOF
