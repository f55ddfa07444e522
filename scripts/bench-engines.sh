#!/usr/bin/env bash
# The engines on nsbox, runc and crun (issue 17): `podman run --rm IMAGE
# true`, `ctr run --rm IMAGE ID true` and `podman exec` of `true` into a
# running container, with each runtime in turn (hyperfine, the runtimes
# side by side in one run); then the runtime's own share of each flow: the
# same flows again, the runtimes interleaved, each runtime behind a wrapper
# of its name that logs the wall time of every call the engine makes of it
# (so the engine's own cost is left out). Writes bench-results/engines-*.
# Run as root.
#
# podman and containerd get roots, run roots and sockets of their own in a
# temp dir (vfs storage, cgroupfs manager, `--network none`: podman's bridge
# would change the host's firewall) and an image built from a busybox
# rootfs (there is no registry). crun 1.8.1 refuses this hybrid host while
# the empty v2 hierarchy is mounted: everything runs in a private mount
# namespace without it (as scripts/bench-oci.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-common.sh
if bench_outer; then
  bench_tools hyperfine runc crun containerd podman
fi
bench_private_run "$0" "$@"
if mountpoint -q /sys/fs/cgroup/unified; then
  umount /sys/fs/cgroup/unified
fi
nsbox=$(scripts/build.sh)
runs=${RUNS:-30}
shares=${SHARES:-20}
image=localhost/nsbox-bench-busybox:latest
work=$(mktemp -d /tmp/nsbox-bench-engines.XXXXXX)

mkdir -p "$work"/rootfs/{bin,etc,proc,sys,dev,tmp}
cp "$(command -v busybox)" "$work/rootfs/bin/busybox"
for applet in sh true sleep; do ln -s busybox "$work/rootfs/bin/$applet"; done
echo 'root:x:0:0:root:/root:/bin/sh' > "$work/rootfs/etc/passwd"
echo 'root:x:0:' > "$work/rootfs/etc/group"

declare -A binary=([nsbox]=$nsbox [runc]=$(command -v runc) [crun]=$(command -v crun))
runtimes=(nsbox runc crun)
# Each runtime behind a wrapper of its own name (podman knows runc and crun
# by name): it logs the wall time of each call, from just before the
# runtime starts to just after it exits.
for r in "${runtimes[@]}"; do
  mkdir -p "$work/wrap/$r"
  cat > "$work/wrap/$r/$r" <<WRAP
#!/bin/bash
start=\$EPOCHREALTIME
"${binary[$r]}" "\$@"
rc=\$?
echo "\$start \$EPOCHREALTIME \$*" >> "$work/calls-$r.log"
exit \$rc
WRAP
  chmod +x "$work/wrap/$r/$r"
done

export CONTAINERS_CONF=$work/containers.conf
cat > "$CONTAINERS_CONF" <<CONF
[containers]
# CAP_SYS_RESOURCE is not in this host's bounding set: no rlimits raised.
default_ulimits = []
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
podman="podman --root $work/podman/root --runroot $work/podman/runroot --tmpdir $work/podman/tmp --storage-driver vfs --cgroup-manager cgroupfs --events-backend file"
podman_run="run --rm --network none --cgroup-parent /nsbox-bench-podman $image true"
tar -C "$work/rootfs" -c . | $podman import - "$image" >/dev/null

cat > "$work/containerd.toml" <<CONF
version = 2
root = "$work/containerd/root"
state = "$work/containerd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs", "io.containerd.tracing.processor.v1.otlp"]
[grpc]
  address = "$work/containerd.sock"
CONF
containerd --config "$work/containerd.toml" >"$work/containerd.log" 2>&1 &
containerd_pid=$!
ctr="ctr --address $work/containerd.sock --namespace nsbox-bench"
cleanup() {
  $podman rm --all --force --time 0 >/dev/null 2>&1 || true
  for task in $($ctr task ls --quiet 2>/dev/null); do
    $ctr task kill --signal SIGKILL "$task" >/dev/null 2>&1 || true
    $ctr task delete --force "$task" >/dev/null 2>&1 || true
  done
  kill "$containerd_pid" 2>/dev/null || true
  wait "$containerd_pid" 2>/dev/null || true
  # conmon's cgroups empty a moment after podman rm returns.
  for _ in $(seq 50); do
    find /sys/fs/cgroup/*/nsbox-bench-podman /sys/fs/cgroup/*/nsbox-bench-ctr -depth -type d -exec rmdir {} + 2>/dev/null && break
    sleep 0.1
  done
  rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq 100); do $ctr version >/dev/null 2>&1 && break; sleep 0.05; done
python3 scripts/oci-archive.py "$work/rootfs" "$work/image.tar" "$image"
$ctr image import "$work/image.tar" >/dev/null
ctr_run() { # RUNTIME-BINARY ID: the ctr command line of one run
  echo "$ctr run --rm --runc-binary $1 --runc-root $work/runc-root --cgroup /nsbox-bench-ctr/$2 $image $2 true"
}

# The running containers that exec goes into, one per runtime.
for r in "${runtimes[@]}"; do
  $podman --runtime "${binary[$r]}" run -d --name "exec-$r" --network none --cgroup-parent /nsbox-bench-podman "$image" sleep 1000000 >/dev/null
done

mkdir -p bench-results
hyperfine_all() { # NAME, then for each runtime: its name and command
  local name=$1 args=()
  shift
  while [ $# -gt 0 ]; do args+=(-n "$1" "$2"); shift 2; done
  hyperfine -N -w 3 -r "$runs" --export-markdown "bench-results/engines-$name.md" --export-json "bench-results/engines-$name.json" "${args[@]}"
}
echo "== podman run --rm IMAGE true"
hyperfine_all podman-run \
  "podman run, nsbox" "$podman --runtime $nsbox $podman_run" \
  "podman run, runc" "$podman --runtime ${binary[runc]} $podman_run" \
  "podman run, crun" "$podman --runtime ${binary[crun]} $podman_run"
echo "== ctr run --rm IMAGE ID true"
hyperfine_all ctr-run \
  "ctr run, nsbox" "$(ctr_run "$nsbox" b-nsbox)" \
  "ctr run, runc" "$(ctr_run "${binary[runc]}" b-runc)" \
  "ctr run, crun" "$(ctr_run "${binary[crun]}" b-crun)"
echo "== podman exec NAME true"
hyperfine_all podman-exec \
  "podman exec, nsbox" "$podman --runtime $nsbox exec exec-nsbox true" \
  "podman exec, runc" "$podman --runtime ${binary[runc]} exec exec-runc true" \
  "podman exec, crun" "$podman --runtime ${binary[crun]} exec exec-crun true"
python3 scripts/bench-medians.py bench-results/engines-podman-run.json bench-results/engines-ctr-run.json bench-results/engines-podman-exec.json

echo "== the runtime's share ($shares of each flow, the runtimes interleaved)"
for r in "${runtimes[@]}"; do
  $podman --runtime "$work/wrap/$r/$r" run -d --name "wexec-$r" --network none --cgroup-parent /nsbox-bench-podman "$image" sleep 1000000 >/dev/null
  : > "$work/calls-$r.log"
done
for _ in $(seq "$shares"); do
  for r in "${runtimes[@]}"; do
    log=$work/calls-$r.log
    echo "flow podman-run" >> "$log"
    $podman --runtime "$work/wrap/$r/$r" $podman_run >/dev/null
    echo "flow ctr-run" >> "$log"
    $(ctr_run "$work/wrap/$r/$r" "w-$r") >/dev/null
    echo "flow podman-exec" >> "$log"
    $podman --runtime "$work/wrap/$r/$r" exec "wexec-$r" true >/dev/null
  done
done
python3 - "$work" "${runtimes[@]}" <<'PYEOF' | tee bench-results/engines-share.md
import statistics, sys
work, runtimes = sys.argv[1], sys.argv[2:]
shares = {}  # (flow, runtime) -> [ms per flow]
verbs = {}  # (flow, runtime, verb) -> [ms per call]


def verb_of(args):
    # The first word that is neither a global flag nor a flag's value.
    valued = {"--root", "--log", "--log-format", "--criu"}
    skip = False
    for a in args:
        if skip:
            skip = False
        elif a in valued:
            skip = True
        elif not a.startswith("-"):
            return a
    return "?"


for r in runtimes:
    flow = None
    for line in open(f"{work}/calls-{r}.log"):
        if line.startswith("flow "):
            flow = line.split()[1]
            shares.setdefault((flow, r), []).append(0.0)
        elif flow:
            words = line.split()
            ms = (float(words[1]) - float(words[0])) * 1000
            shares[(flow, r)][-1] += ms
            verbs.setdefault((flow, r, verb_of(words[2:])), []).append(ms)
print("| flow (runtime's share, median ms) | " + " | ".join(runtimes) + " | nsbox vs crun | nsbox vs runc |")
print("|---" * (len(runtimes) + 3) + "|")
for flow in ["podman-run", "ctr-run", "podman-exec"]:
    m = {r: statistics.median(shares[(flow, r)]) for r in runtimes}
    print(f"| {flow} | " + " | ".join(f"{m[r]:.2f}" for r in runtimes)
          + f" | {m['nsbox'] / m['crun']:.2f}× | {m['nsbox'] / m['runc']:.2f}× |")
print()
print("| flow: calls (median ms per call, calls per flow) | " + " | ".join(runtimes) + " |")
print("|---" * (len(runtimes) + 1) + "|")
flows = len(shares[("podman-run", runtimes[0])])
for key in sorted({(f, v) for f, _, v in verbs}):
    cells = []
    for r in runtimes:
        t = verbs.get((key[0], r, key[1]), [])
        cells.append(f"{statistics.median(t):.2f} ({len(t) / flows:g})" if t else "")
    print(f"| {key[0]}: `{key[1]}` | " + " | ".join(cells) + " |")
PYEOF
