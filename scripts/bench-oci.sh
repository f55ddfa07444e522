#!/usr/bin/env bash
# The OCI runtime against runc and crun: `run` of one busybox bundle whose
# process is /bin/true (create + start + wait + delete), then `create`,
# `start` and `delete` apart, the peak RSS of each runtime's process, and
# the cost of memory and pids limits. One hyperfine run per table, the
# anchors side by side. Writes bench-results/oci-*.md and .json. Run as root.
#
# crun 1.8.1 refuses this hybrid host ("cgroups in hybrid mode not
# supported") while the empty v2 hierarchy is mounted: the whole benchmark
# runs in a private mount namespace in which /sys/fs/cgroup/unified is
# unmounted, so that crun runs; nsbox and runc run there under the same
# conditions.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-common.sh
if bench_outer; then
  bench_tools hyperfine runc crun /usr/bin/time:time
fi
bench_private_run "$0" "$@"
if mountpoint -q /sys/fs/cgroup/unified; then
  umount /sys/fs/cgroup/unified
fi
nsbox=$(scripts/build.sh)
runs=${RUNS:-100}

bundle=$(mktemp -d /tmp/nsbox-bench-oci.XXXXXX)
mkdir -p "$bundle/rootfs/bin"
cp "$(command -v busybox)" "$bundle/rootfs/bin/busybox"
ln -s busybox "$bundle/rootfs/bin/true"
(cd "$bundle" && runc spec)
python3 - "$bundle/config.json" <<'PYEOF'
import json, sys
path = sys.argv[1]
c = json.load(open(path))
c["process"]["args"] = ["/bin/true"]
c["process"]["terminal"] = False
json.dump(c, open(path, "w"), indent=1)
PYEOF
limited=$(mktemp -d /tmp/nsbox-bench-oci-limited.XXXXXX)
cleanup() {
  for r in "$nsbox" runc crun; do
    for c in b-run b-verb b-rss b-lim b-pod; do "$r" delete -f "$c" >/dev/null 2>&1 || true; done
  done
  rm -rf "$bundle" "$limited"
}
trap cleanup EXIT
cp -a "$bundle/." "$limited/"
python3 - "$limited/config.json" <<'PYEOF'
import json, sys
path = sys.argv[1]
c = json.load(open(path))
c["linux"]["resources"]["memory"] = {"limit": 64 << 20}
c["linux"]["resources"]["pids"] = {"limit": 64}
json.dump(c, open(path, "w"), indent=1)
PYEOF

# podman's defaults (issue 16): a memory limit, its pids limit, cpu shares,
# and its default seccomp profile (Debian's containers-common), turned into
# linux.seccomp as podman does for x86_64 and the bundle's capabilities
# (scripts/podman-seccomp.py).
podmanlike=$(mktemp -d /tmp/nsbox-bench-oci-podman.XXXXXX)
noseccomp=$(mktemp -d /tmp/nsbox-bench-oci-noseccomp.XXXXXX)
cp -a "$bundle/." "$podmanlike/"
python3 scripts/podman-seccomp.py "$podmanlike/config.json" /usr/share/containers/seccomp.json
cp -a "$podmanlike/." "$noseccomp/"
python3 -c 'import json,sys; c=json.load(open(sys.argv[1])); del c["linux"]["seccomp"]; json.dump(c, open(sys.argv[1], "w"))' "$noseccomp/config.json"
trap 'cleanup; rm -rf "$podmanlike" "$noseccomp"' EXIT

mkdir -p bench-results
echo "== run (create + start + wait + delete)"
hyperfine -N -w 10 -r "$runs" --export-markdown bench-results/oci-run.md --export-json bench-results/oci-run.json \
  -n "nsbox run" "$nsbox run -b $bundle b-run" \
  -n "runc run" "runc run -b $bundle b-run" \
  -n "crun run" "crun run -b $bundle b-run"

echo "== create, start, delete apart (nsbox, runc, crun)"
for r in "$nsbox" runc crun; do
  name=$(basename "$r")
  hyperfine -N -w 5 -r "$runs" --export-json "bench-results/oci-verbs-$name.json" \
    --prepare "$r delete -f b-verb" -n "$name create" "$r create -b $bundle b-verb" \
    --prepare "sh -c '$r delete -f b-verb; $r create -b $bundle b-verb'" -n "$name start" "$r start b-verb" \
    --prepare "sh -c '$r delete -f b-verb; $r create -b $bundle b-verb; $r start b-verb; sleep 0.02'" \
    -n "$name delete" "$r delete b-verb"
  "$r" delete -f b-verb >/dev/null 2>&1 || true
done

echo "== peak RSS of the runtime's process (run, KiB; GNU time's %M, 20 runs, the largest)"
for r in "$nsbox" runc crun; do
  peak=0
  for _ in $(seq 20); do
    kib=$(/usr/bin/time -f %M "$r" run -b "$bundle" b-rss 2>&1 >/dev/null | tail -1)
    [ "$kib" -gt "$peak" ] && peak=$kib
  done
  echo "$(basename "$r"): $peak KiB"
done | tee bench-results/oci-rss.txt

echo "== memory + pids limits against none (nsbox run), back to back and after an idle second"
hyperfine -N -w 5 -r "${LIMIT_RUNS:-40}" --export-json bench-results/oci-limits.json \
  -n "no limits" "$nsbox run -b $bundle b-lim" \
  -n "memory + pids limits" "$nsbox run -b $limited b-lim" \
  -n "runc: memory + pids limits" "runc run -b $limited b-lim"
hyperfine -N -r "${IDLE_RUNS:-15}" --prepare "sleep 1" --export-json bench-results/oci-limits-idle.json \
  -n "no limits, after 1 s idle" "$nsbox run -b $bundle b-lim" \
  -n "memory + pids limits, after 1 s idle" "$nsbox run -b $limited b-lim"

echo "== podman's defaults: memory, pids and cpu shares, and its seccomp profile (issue 16)"
hyperfine -N -w 10 -r "$runs" --export-json bench-results/oci-podman.json \
  -n "nsbox run, podman's defaults" "$nsbox run -b $podmanlike b-pod" \
  -n "runc run, podman's defaults" "runc run -b $podmanlike b-pod" \
  -n "crun run, podman's defaults" "crun run -b $podmanlike b-pod" \
  -n "nsbox run, the same without seccomp" "$nsbox run -b $noseccomp b-pod"
hyperfine -N -r "${IDLE_RUNS:-15}" --prepare "sleep 1" --export-json bench-results/oci-podman-idle.json \
  -n "nsbox run, podman's defaults, after 1 s idle" "$nsbox run -b $podmanlike b-pod" \
  -n "runc run, podman's defaults, after 1 s idle" "runc run -b $podmanlike b-pod" \
  -n "crun run, podman's defaults, after 1 s idle" "crun run -b $podmanlike b-pod"
python3 scripts/bench-medians.py bench-results/oci-run.json bench-results/oci-podman.json bench-results/oci-podman-idle.json
