#!/usr/bin/env bash
# `nsbox lab up` / `nsbox lab down` of the seed lab, a star of 1,000 nodes on
# one bridge and a chain of 100 routers, side by side in one hyperfine run
# per topology with the library alone (the topo example), the kernel floor
# (bare netlink messages one by one), `ip -batch` and single `ip` commands;
# then a reachability matrix of 110 pairs and the peak memory of `lab up`.
# Everything runs in a private mount namespace with its own /run, so no
# named namespace reaches the host. Writes bench-results/lab-*. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-common.sh
if bench_outer; then
  bench_tools hyperfine
  export NSBOX TOPO
  NSBOX=$(scripts/build.sh -p nsbox | tail -1)
  TOPO=$(bench_example nsbox-net topo)
fi
bench_private_run "$0" "$@"
work=$(mktemp -d /run/nsbox-bench.XXXXXX)

# Clean slate between runs: delete every namespace (and lab state), then
# give the kernel time to finish the asynchronous teardown of the last run.
# (A function, not a string made once: SETTLE is set per topology.)
# The processes in them go first: a lab's services would outlive a delete.
settle() { echo "for n in \$(ls /run/netns); do ip netns pids \$n | xargs -r kill -9; done; ip -all netns delete 2>/dev/null; rm -rf /run/nsbox; sleep ${SETTLE:-2}"; }

bench() { # bench NAME RUNS LABFILE LABNAME TOPOLOGY...
  local name=$1 runs=$2 lab=$3 labname=$4; shift 4
  # ONLY="seed chain-100" runs just those topologies.
  case " ${ONLY:-$name} " in *" $name "*) ;; *) return 0 ;; esac
  local dir=$work/$name
  python3 scripts/gen-ip-topo.py "$dir" "$@"
  hyperfine -N --runs "$runs" --prepare "sh -c '$(settle)'" --export-json "bench-results/lab-$name-up.json" \
    -n "nsbox lab up" "$NSBOX lab up $lab" \
    -n "library alone (topo example)" "$TOPO up $*" \
    -n "floor up (bare netlink, one by one)" "$TOPO up $* --floor" \
    -n "ip -batch up" "sh $dir/ipb-up.sh" \
    -n "ip single commands up" "sh $dir/ip-up.sh" >/dev/null
  hyperfine -N --runs "$runs" --export-json "bench-results/lab-$name-down.json" \
    --prepare "sh -c '$(settle); $NSBOX lab up $lab'" -n "nsbox lab down" "$NSBOX lab down $labname" \
    --prepare "sh -c '$(settle); $TOPO up $*'" -n "library alone (topo example)" "$TOPO down $*" \
    --prepare "sh -c '$(settle); $TOPO up $*'" -n "floor down" "$TOPO down $* --floor" \
    --prepare "sh -c '$(settle); $TOPO up $*'" -n "ip -batch down" "sh $dir/ipb-down.sh" \
    --prepare "sh -c '$(settle); $TOPO up $*'" -n "ip single commands down" "sh $dir/ip-down.sh" >/dev/null
  echo "## $name: bring-up"
  scripts/bench-table.py "floor up (bare netlink, one by one)" "bench-results/lab-$name-up.json"
  echo
  echo "## $name: teardown"
  scripts/bench-table.py "floor down" "bench-results/lab-$name-down.json"
  echo
  sh -c "$(settle)"
}

python3 scripts/gen-lab.py star 1000 > "$work/star-1000.yaml"
python3 scripts/gen-lab.py chain 100 > "$work/chain-100.yaml"
python3 scripts/gen-lab.py star 11 > "$work/star-11.yaml"
# The seed lab as the topology benchmarks build it: its state after step S8.
cat > "$work/seed.yaml" <<'EOF'
name: seed
nodes:
  server: {lo: [1.1.1.1/24], routes: [default via 10.0.1.1]}
  router:
    sysctls: {net.ipv4.ip_forward: 1}
    routes: [1.1.1.0/24 via 10.0.1.2, 2.2.2.0/24 via 10.0.2.2]
  client: {lo: [2.2.2.2/24], routes: [default via 10.0.2.1]}
links:
  - endpoints: [router:veth-srv 10.0.1.1/24, server:vethS 10.0.1.2/24]
  - endpoints: [router:veth-cli 10.0.2.1/24, client:vethC 10.0.2.2/24]
EOF
{
  SETTLE=0.3 bench seed "${SEED_RUNS:-20}" "$work/seed.yaml" seed seed
  SETTLE=4 bench chain-100 "${CHAIN_RUNS:-5}" "$work/chain-100.yaml" c chain 100
  SETTLE=6 bench star-1000 "${STAR_RUNS:-3}" "$work/star-1000.yaml" s star 1000

  "$NSBOX" lab up "$work/star-11.yaml" >/dev/null
  hyperfine -N --warmup 2 --runs "${MATRIX_RUNS:-20}" --export-json bench-results/lab-matrix.json \
    -n "nsbox lab check --matrix (11 nodes, 110 pairs)" "$NSBOX lab check $work/star-11.yaml --matrix" >/dev/null
  "$NSBOX" lab down s >/dev/null
  echo "## Reachability matrix"
  scripts/bench-table.py "nsbox lab check --matrix (11 nodes, 110 pairs)" bench-results/lab-matrix.json
  echo
  sh -c "$(settle)"
  echo "## Peak memory (maximum resident set size)"
  for lab in seed:seed chain-100:c star-1000:s; do
    file=${lab%%:*}; name=${lab##*:}
    /usr/bin/time -f "nsbox lab up $file: %M KiB" "$NSBOX" lab up "$work/$file.yaml" 2>&1 >/dev/null | tail -1
    /usr/bin/time -f "nsbox lab down $file: %M KiB" "$NSBOX" lab down "$name" 2>&1 >/dev/null | tail -1
    sh -c "$(settle)"
  done
} | tee bench-results/lab.md
