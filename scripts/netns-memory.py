#!/usr/bin/env python3
"""Memory of the processes in the ring's namespaces (ring-r0...), per
router: PSS and RSS (MiB) of the routing daemons, and of nsbox's own
processes in a node (its init and the `sleep` that holds the container
open), read from /proc/PID/smaps_rollup. usage: netns-memory.py N"""
import os
import subprocess
import sys

n = int(sys.argv[1])
NSBOX_OWN = {"nsbox-init", "sleep"}
totals = {"daemons": [0, 0], "nsbox": [0, 0]}
for i in range(n):
    pids = subprocess.run(["ip", "netns", "pids", f"ring-r{i}"], capture_output=True, text=True).stdout.split()
    for pid in pids:
        try:
            comm = open(f"/proc/{pid}/comm").read().strip()
            rollup = open(f"/proc/{pid}/smaps_rollup").read()
        except OSError:
            continue
        fields = {l.split(":")[0]: int(l.split()[1]) for l in rollup.splitlines()[1:] if l.split()[1].isdigit()}
        kind = "nsbox" if comm in NSBOX_OWN else "daemons"
        totals[kind][0] += fields.get("Pss", 0)
        totals[kind][1] += fields.get("Rss", 0)
for kind, (pss, rss) in totals.items():
    print(f"{kind}: PSS {pss / n / 1024:.2f} MiB, RSS {rss / n / 1024:.2f} MiB per router")
