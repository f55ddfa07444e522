#!/usr/bin/env bash
# The whole test suite, as root on a fresh Debian machine: installs what is
# missing, checks formatting and lints, then runs every test (unit, fake
# cgroup trees, and end-to-end tests that build real containers).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# rustfmt and clippy come with the toolchain here; a machine without them
# (no way to fetch them offline) says so and runs the tests all the same.
if cargo fmt --version >/dev/null 2>&1; then
  cargo fmt --all --check
else
  echo "SKIPPED: format check (rustfmt is not installed)"
fi
if cargo clippy --version >/dev/null 2>&1; then
  cargo clippy --workspace --all-targets --quiet -- -D warnings
else
  echo "SKIPPED: lints (clippy is not installed)"
fi
cargo nextest run --workspace --no-fail-fast "$@"
# The OCI conformance suite once more, against runc: its expectations are
# checked against the reference runtime (crates/cli/tests/oci.rs).
if [ "$#" -eq 0 ]; then
  NSBOX_OCI_RUNTIME="$(command -v runc)" cargo nextest run --no-fail-fast --test oci
fi
