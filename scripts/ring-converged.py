#!/usr/bin/env python3
"""Waits until every router of scripts/gen-ospf-ring.py's ring routes every
other router's loopback on its shortest path, and prints how long it took
from SINCE (a CLOCK_REALTIME time in seconds), in seconds.

usage: ring-converged.py N SINCE [--cut I] [--timeout SECS]
--cut I: link I (router I east to router I+1) is down: the shortest paths
go the other way round. Each router's table is read from
/proc/self/net/route after joining its namespace (ring-rI): no process is
started per router, so that polling stays cheap beside 100 routers.
Exits 1 if the ring has not converged within the timeout.
"""
import ctypes
import os
import socket
import struct
import sys
import time

n, since = int(sys.argv[1]), float(sys.argv[2])
args = sys.argv[3:]
cut = int(args[args.index("--cut") + 1]) if "--cut" in args else None
timeout = float(args[args.index("--timeout") + 1]) if "--timeout" in args else 120.0
libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000


def loopback(i):
    return f"10.255.{(i + 1) // 256}.{(i + 1) % 256}"


def link(i):
    base = i * 4
    prefix = f"10.{base // 65536}.{base // 256 % 256}."
    return prefix + str(base % 256 + 1), prefix + str(base % 256 + 2)


def distances(start):
    """Hops from `start` to every router on the ring without the cut link."""
    dist = {start: 0}
    frontier = [start]
    while frontier:
        nxt = []
        for i in frontier:
            for j, link_index in (((i + 1) % n, i), ((i - 1) % n, (i - 1) % n)):
                if link_index == cut or j in dist:
                    continue
                dist[j] = dist[i] + 1
                nxt.append(j)
        frontier = nxt
    return dist


# For each router, each other loopback: the gateways on a shortest path.
wanted = {}
for i in range(n):
    d = {j: distances(j) for j in ((i + 1) % n, (i - 1) % n)}
    mine = distances(i)
    east_gw, west_gw = link(i)[1], link((i - 1) % n)[0]
    for k in range(n):
        if k == i:
            continue
        best = mine[k]
        gateways = set()
        if i != cut and d[(i + 1) % n].get(k, 10**9) == best - 1:
            gateways.add(east_gw)
        if (i - 1) % n != cut and d[(i - 1) % n].get(k, 10**9) == best - 1:
            gateways.add(west_gw)
        wanted[(i, loopback(k))] = gateways


def table(i):
    fd = os.open(f"/run/netns/ring-r{i}", os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns ring-r{i}")
    finally:
        os.close(fd)
    routes = {}
    with open("/proc/self/net/route") as f:
        next(f)
        for line in f:
            fields = line.split()
            dest = socket.inet_ntoa(struct.pack("<I", int(fields[1], 16)))
            gateway = socket.inet_ntoa(struct.pack("<I", int(fields[2], 16)))
            mask = fields[7]
            if mask == "FFFFFFFF":
                routes[dest] = gateway
    return routes


def converged():
    for i in range(n):
        routes = table(i)
        for k in range(n):
            if k != i and routes.get(loopback(k)) not in wanted[(i, loopback(k))]:
                return False
    return True


deadline = since + timeout
while True:
    if converged():
        print(f"{time.time() - since:.2f}")
        sys.exit(0)
    if time.time() > deadline:
        print(f"not converged within {timeout:.0f} s", file=sys.stderr)
        sys.exit(1)
    time.sleep(0.05)
