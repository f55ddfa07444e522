#!/usr/bin/env bash
# The whole test suite, as root on a fresh Debian machine: installs what is
# missing, checks formatting and lints, then runs every test (unit, fake
# cgroup trees, and end-to-end tests that build real containers).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cargo fmt --all --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
cargo nextest run --workspace --no-fail-fast "$@"
