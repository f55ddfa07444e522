#!/usr/bin/env bash
# nsbox's main job: builds nsbox, then brings the seed lab up (server,
# router, client), walks through every step of seed-lab.md checking what
# must and must not be reachable, and tears it down without a trace.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
nsbox=$(scripts/build.sh)
exec "$nsbox" lab test examples/labs/seed.yaml "$@"
