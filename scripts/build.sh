#!/usr/bin/env bash
# Builds the release nsbox, statically linked (glibc's dynamic loader costs
# about a tenth of a container start on this kind of machine), and prints
# the binary's path. The explicit --target keeps proc-macros dynamic.
set -euo pipefail
cd "$(dirname "$0")/.."
host=$(rustc -vV | sed -n 's/^host: //p')
RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --quiet --target "$host" "$@"
echo "$PWD/target/$host/release/nsbox"
