#!/usr/bin/env bash
# Builds nsbox and shows what a container is: the same questions asked on the
# host and inside `nsbox unshare`, answered side by side by the kernel.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
nsbox=$(scripts/build.sh)

probe='
echo "hostname      $(hostname)"
echo "my PID        $$"
echo "processes     $(ls -d /proc/[0-9]* | wc -l)"
echo "net links     $(ip -o link show | cut -d: -f2 | tr -d " " | tr "\n" " ")"
echo "mounts        $(wc -l < /proc/self/mounts)"
echo "SysV queues   $(($(wc -l < /proc/sysvipc/msg) - 1))"
for ns in pid net uts ipc mnt cgroup; do printf "%-13s %s\n" "$ns ns" "$(readlink /proc/self/ns/$ns)"; done
'
host=$(sh -c "$probe")
inside=$("$nsbox" unshare --hostname nsbox-demo --pids 64 -- sh -c "$probe")
echo "The same questions, asked on the host and inside 'nsbox unshare --hostname nsbox-demo --pids 64':"
echo
printf "%-55s %s\n" "HOST" "INSIDE NSBOX"
paste -d'|' <(echo "$host") <(echo "$inside") |
  awk -F'|' '{ printf "%-55s %s\n", $1, substr($2, 15) }'
echo
echo "The init is PID 1, the command is not, and NSpid shows each PID in every pid namespace:"
"$nsbox" unshare -- sh -c 'echo "  PID 1 is: $(cat /proc/1/comm); this shell is PID $$"'
echo
echo "nsbox ns on a process inside a container (the host's view):"
"$nsbox" unshare -- sh -c 'sleep 2' &
sleep 0.3
inner=$(pgrep -n -x sleep)
"$nsbox" ns "$inner" | sed 's/^/  /'
wait
