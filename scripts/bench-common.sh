# The start the benchmark scripts share; sourced by them, from the
# repository's top directory.

# bench_tools TOOL[:PACKAGE]...: installs what a fresh machine lacks: the
# test suite's dependencies, and each tool from its Debian package (named
# as the tool unless given).
bench_tools() {
  scripts/install-deps.sh
  local missing=() tool
  for tool in "$@"; do
    command -v "${tool%%:*}" >/dev/null || missing+=("${tool#*:}")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

# bench_example CRATE NAME: builds an example exactly as scripts/build.sh
# builds nsbox (same flags, so nothing is rebuilt in turn) and prints its path.
bench_example() {
  scripts/build.sh -p "$1" --example "$2" >/dev/null
  echo "$PWD/target/$(rustc -vV | sed -n 's/^host: //p')/release/examples/$2"
}

# bench_outer: true in the first run of a script, before bench_private_run.
bench_outer() {
  [ "${NSBOX_BENCH_INNER:-}" != 1 ]
}

# bench_private_run "$0" "$@": runs the script again in a private mount
# namespace with its own /run, so that no named namespace or lab state
# reaches the host; returns only in that second run.
bench_private_run() {
  if bench_outer; then
    mkdir -p bench-results
    exec env NSBOX_BENCH_INNER=1 unshare --mount --propagation private -- "$@"
  fi
  mount -t tmpfs nsbox-bench-run /run
  mkdir -p /run/netns
}
