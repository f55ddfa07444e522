#!/usr/bin/env bash
# Container start latency, nsbox against the kernel floor and the anchors,
# all in one hyperfine run so that the ratios hold on a noisy machine.
# Writes bench-results/unshare.md and .json. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-common.sh
bench_tools hyperfine bwrap:bubblewrap
nsbox=$(scripts/build.sh)
# The floor is built exactly as nsbox is (same flags, same target dir).
floor=$(bench_example nsbox-runtime clone_floor)
# The same floor as a minimal C program with gcc's defaults (dynamic).
floor_c=target/clone_floor_c
gcc -O2 -o "$floor_c" bench/clone_floor.c

# A busybox rootfs, removed on exit.
rootfs=$(mktemp -d /tmp/nsbox-bench-rootfs.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT
mkdir -p "$rootfs"/{bin,proc,dev,tmp}
cp "$(command -v busybox)" "$rootfs/bin/busybox"
ln -s busybox "$rootfs/bin/true"

mkdir -p bench-results
rm -f bench-results/*.json
# Several short rounds rather than one long one: hyperfine runs each command
# as a block, and on a noisy machine a long block drifts.
rounds=${ROUNDS:-30}
runs=${RUNS:-20}
names=(
  "floor: clone3(5 ns) + exec"
  "floor: + fresh /proc"
  "floor: + pivot_root busybox + fresh /proc"
  "floor: + busybox rootfs, fresh /proc, /dev, init"
  "floor in C (dynamic): clone(5 ns) + fresh /proc"
  "unshare (util-linux) 5 ns + --mount-proc"
  "bwrap --unshare-all, host view"
  "nsbox: 3 ns (uts,ipc,net), no init, no mounts"
  "nsbox: + pid ns and init"
  "nsbox: 5 ns, busybox rootfs, fresh /proc + /dev"
  "nsbox: 5 ns, host view"
  "nsbox: default (6 ns, host view)"
  "nsbox: default + --pids 64 (cgroup), back to back"
)
commands=(
  "$floor"
  "$floor --proc"
  "$floor --rootfs $rootfs"
  "$floor --rootfs $rootfs --dev --init"
  "$floor_c --proc"
  "unshare --pid --fork --mount --uts --ipc --net --mount-proc /bin/true"
  "bwrap --unshare-all --ro-bind /usr /usr --symlink usr/bin /bin --symlink usr/lib /lib --symlink usr/lib64 /lib64 --symlink usr/sbin /sbin --ro-bind /etc /etc --proc /proc --dev /dev --tmpfs /tmp /bin/true"
  "$nsbox unshare --ns uts,ipc,net -- /bin/true"
  "$nsbox unshare --ns pid,uts,ipc,net -- /bin/true"
  "$nsbox unshare --ns pid,mnt,uts,ipc,net --rootfs $rootfs -- /bin/true"
  "$nsbox unshare --ns pid,mnt,uts,ipc,net -- /bin/true"
  "$nsbox unshare -- /bin/true"
  "$nsbox unshare --pids 64 -- /bin/true"
)
count=${#names[@]}
for round in $(seq "$rounds"); do
  # Each round starts at another command, so that no command always runs
  # right after the same one (each leaves deferred kernel work behind,
  # such as freeing its network namespace, that the next one pays for).
  args=()
  for i in $(seq 0 $((count - 1))); do
    j=$(( (i + round - 1) % count ))
    args+=(-n "${names[$j]}" "${commands[$j]}")
  done
  hyperfine -N --warmup 5 --runs "$runs" --export-json "bench-results/unshare-$round.json" "${args[@]}" >/dev/null
done
# Round 1 lists the commands in their natural order, which the table keeps.
# The goal's comparisons besides the one to the reference row: like for like
# (the same rootfs, the same /dev and init) and to the floor as the issue
# words it (a minimal C program).
pairs=(
  --pair "nsbox: 5 ns, busybox rootfs, fresh /proc + /dev=floor: + pivot_root busybox + fresh /proc"
  --pair "nsbox: 5 ns, busybox rootfs, fresh /proc + /dev=floor: + busybox rootfs, fresh /proc, /dev, init"
  --pair "nsbox: 5 ns, busybox rootfs, fresh /proc + /dev=floor in C (dynamic): clone(5 ns) + fresh /proc"
  --pair "nsbox: 5 ns, host view=floor in C (dynamic): clone(5 ns) + fresh /proc"
)
scripts/bench-table.py "${pairs[@]}" "floor: + fresh /proc" $(seq -f 'bench-results/unshare-%g.json' "$rounds") |
  tee bench-results/unshare.md

# The first cgroup.procs write after the machine idles is slow: measured apart.
hyperfine -N --warmup 3 --runs 30 --prepare 'sleep 1' --export-json bench-results/idle.json \
  -n "nsbox: default, after 1 s idle" "$nsbox unshare -- /bin/true" \
  -n "nsbox: default + --pids 64, after 1 s idle" "$nsbox unshare --pids 64 -- /bin/true" >/dev/null
scripts/bench-table.py "nsbox: default, after 1 s idle" bench-results/idle.json | tee bench-results/idle.md

# On cgroup v2 nsbox starts the container in its cgroup (CLONE_INTO_CGROUP)
# instead of writing cgroup.procs; the two ways side by side, after idle,
# on whatever v2 hierarchy is mounted (this host's holds no controllers).
# (The filesystem type is the field after the "-" that ends the optional fields.)
cgroup2=$(awk '{for (i = 7; i < NF; i++) if ($i == "-") {if ($(i + 1) == "cgroup2") {print $5; exit} break}}' /proc/self/mountinfo)
if [ -n "$cgroup2" ]; then
  entry=target/cgroup_entry
  gcc -O2 -o "$entry" bench/cgroup_entry.c
  hyperfine -N --warmup 3 --runs 30 --prepare 'sleep 1' --export-json bench-results/cgroup-entry.json \
    -n "write cgroup.procs, after 1 s idle" "$entry write $cgroup2" \
    -n "clone3(CLONE_INTO_CGROUP), after 1 s idle" "$entry into $cgroup2" >/dev/null
  scripts/bench-table.py "write cgroup.procs, after 1 s idle" bench-results/cgroup-entry.json |
    tee bench-results/cgroup-entry.md
else
  echo "SKIPPED: cgroup entry after idle (no cgroup v2 hierarchy mounted)"
fi

# Peak memory (VmHWM) of the nsbox process itself, while its container runs.
"$nsbox" unshare -- sleep 0.5 &
pid=$!
sleep 0.25
echo "nsbox process peak RSS: $(awk '/VmHWM/ {print $2, $3}' /proc/$pid/status)" | tee bench-results/memory.txt
wait $pid
