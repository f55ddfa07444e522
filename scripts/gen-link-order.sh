#!/usr/bin/env bash
# Writes crates/cli/link-order.txt: the functions a container start runs, so
# that scripts/build.sh can have the linker (lld, rustc's default) place them
# side by side at the front of nsbox's text.
#
# Why: nsbox's text is 4.6 MB, and the code of one `nsbox unshare` was spread
# over about 30 of its 64 KB windows; each first touch is a page fault (about
# 3 µs on this VM), and the container's child pays them again, since fork
# copies no page tables of file-backed text. Laid out together, a start took
# 0.17 ms less (BENCHMARKS.md).
#
# The file names mangled symbols, which change with the compiler and with
# dependency versions; a few also carry a ThinLTO suffix (.llvm.N) that
# changes with any change to their module. A stale file breaks nothing (lld
# ignores names it does not find); the start just gets slower again. Rerun
# this script after a toolchain or dependency update, or a change to the
# start's code, and commit the result. Run as root (it starts containers).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
command -v perf >/dev/null || {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq linux-perf >/dev/null; }
host=$(rustc -vV | sed -n 's/^host: //p')
# The same build as scripts/build.sh, with symbols kept, in its own directory.
CARGO_PROFILE_RELEASE_STRIP=none CARGO_TARGET_DIR=target/link-order scripts/build.sh -p nsbox >/dev/null
nsbox=$PWD/target/link-order/$host/release/nsbox

work=$(mktemp -d /tmp/nsbox-link-order.XXXXXX)
trap 'rm -rf "$work"' EXIT
rootfs=$work/rootfs
mkdir -p "$rootfs"/{bin,proc,dev,tmp}
cp "$(command -v busybox)" "$rootfs/bin/busybox"
ln -s busybox "$rootfs/bin/true"
starts="$nsbox unshare --ns pid,mnt,uts,ipc,net --rootfs $rootfs -- /bin/true; $nsbox unshare -- /bin/true"

# Functions that run long enough to be sampled, over many starts ...
perf record -q -o "$work/cpu.data" -F 49000 -e cpu-clock -- \
  sh -c "for i in \$(seq 1000); do $starts; done" >/dev/null 2>&1
# ... and every function whose first call faults its page in.
for i in $(seq 20); do
  perf record -q -o "$work/faults-$i.data" -e page-faults -c 1 -- sh -c "$starts" >/dev/null 2>&1
done
{
  printf '# The functions of a container start, laid out first by lld (scripts/build.sh).\n'
  printf '# Made by scripts/gen-link-order.sh with %s; regenerate, do not edit.\n' "$(rustc -V)"
  for data in "$work"/*.data; do
    perf script -i "$data" --no-demangle -F comm,ip,sym,dso 2>/dev/null |
      awk -v bin="($nsbox)" '($1 == "nsbox" || $1 == "nsbox-init") && $NF == bin && $3 !~ /^\[/ {print $3}'
  done | sort -u
} >crates/cli/link-order.txt
echo "crates/cli/link-order.txt: $(grep -vc '^#' crates/cli/link-order.txt) functions"
