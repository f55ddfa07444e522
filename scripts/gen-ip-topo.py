#!/usr/bin/env python3
"""Writes the iproute2 baselines of scripts/bench-net.sh for one topology.

usage: gen-ip-topo.py DIR seed|star|chain [N]
Writes DIR/ip-up.sh (one `ip` command per step), DIR/ipb-up.sh (`ip -batch`,
one batch per namespace), DIR/ip-down.sh and DIR/ipb-down.sh. The topologies
are the same as crates/net/examples/topo.rs builds.
"""
import os
import sys

out, kind = sys.argv[1], sys.argv[2]
n = int(sys.argv[3]) if len(sys.argv) > 3 else 0
ns_cmds = {}   # namespace -> list of `ip` sub-commands run inside it
names = []


def ns(name):
    names.append(name)
    ns_cmds[name] = []


def cmd(name, text):
    ns_cmds[name].append(text)


def link30(i):
    base = i * 4
    hi, a, b = base // 65536, base // 256 % 256, base % 256
    return f"10.{hi}.{a}.{b}/30", f"10.{hi}.{a}.{b + 1}", f"10.{hi}.{a}.{b + 2}"


if kind == "seed":
    for x in ("router", "server", "client"):  # the router makes the links the others use
        ns(x)
    cmd("router", "link add veth-srv up type veth peer name vethS netns server")
    cmd("router", "link add veth-cli up type veth peer name vethC netns client")
    cmd("router", "link set lo up")
    cmd("router", "addr add 10.0.1.1/24 dev veth-srv")
    cmd("router", "addr add 10.0.2.1/24 dev veth-cli")
    cmd("router", "route add 1.1.1.0/24 via 10.0.1.2")
    cmd("router", "route add 2.2.2.0/24 via 10.0.2.2")
    for host, dev, addr, lo, gw in (("server", "vethS", "10.0.1.2/24", "1.1.1.1/24", "10.0.1.1"),
                                    ("client", "vethC", "10.0.2.2/24", "2.2.2.2/24", "10.0.2.1")):
        cmd(host, "link set lo up")
        cmd(host, f"link set {dev} up")
        cmd(host, f"addr add {addr} dev {dev}")
        cmd(host, f"addr add {lo} dev lo")
        cmd(host, f"route add default via {gw}")
    sysctl = ["router"]
elif kind == "star":
    ns("s-hub")
    for i in range(n):
        ns(f"s-{i}")
    cmd("s-hub", "link add br0 up type bridge")
    for i in range(n):
        cmd("s-hub", f"link add h{i} up master br0 type veth peer name eth0 netns s-{i}")
        cmd(f"s-{i}", "link set lo up")
        cmd(f"s-{i}", "link set eth0 up")
        host = i + 1
        cmd(f"s-{i}", f"addr add 10.{host >> 16}.{(host >> 8) & 255}.{host & 255}/8 dev eth0")
    sysctl = []
else:
    for i in range(n):
        ns(f"c-{i}")
    for i in range(n - 1):
        cmd(f"c-{i}", f"link add right up type veth peer name left netns c-{i + 1}")
    for k in range(n):
        r = f"c-{k}"
        cmd(r, "link set lo up")
        if k > 0:
            cmd(r, "link set left up")
            cmd(r, f"addr add {link30(k - 1)[2]}/30 dev left")
        if k + 1 < n:
            cmd(r, f"addr add {link30(k)[1]}/30 dev right")
        for j in range(n - 1):
            if j + 1 < k:
                cmd(r, f"route add {link30(j)[0]} via {link30(k - 1)[1]}")
            elif j > k:
                cmd(r, f"route add {link30(j)[0]} via {link30(k)[2]}")
    sysctl = list(names)

os.makedirs(out, exist_ok=True)
with open(f"{out}/ip-up.sh", "w") as f:
    f.write("set -e\n")
    for x in names:
        f.write(f"ip netns add {x}\n")
    for x in sysctl:
        f.write(f"ip netns exec {x} sysctl -qw net.ipv4.ip_forward=1\n")
    for x in names:
        for c in ns_cmds[x]:
            f.write(f"ip -n {x} {c}\n")
with open(f"{out}/netns.batch", "w") as f:
    f.writelines(f"netns add {x}\n" for x in names)
with open(f"{out}/ipb-up.sh", "w") as f:
    f.write("set -e\n")
    f.write(f"ip -batch {out}/netns.batch\n")
    for x in sysctl:
        f.write(f"ip netns exec {x} sysctl -qw net.ipv4.ip_forward=1\n")
    for x in names:
        if ns_cmds[x]:
            with open(f"{out}/{x}.batch", "w") as b:
                b.writelines(c + "\n" for c in ns_cmds[x])
            f.write(f"ip -n {x} -batch {out}/{x}.batch\n")
with open(f"{out}/ip-down.sh", "w") as f:
    f.write("set -e\n")
    f.writelines(f"ip netns del {x}\n" for x in names)
with open(f"{out}/netns-del.batch", "w") as f:
    f.writelines(f"netns del {x}\n" for x in names)
with open(f"{out}/ipb-down.sh", "w") as f:
    f.write(f"ip -batch {out}/netns-del.batch\n")
