#!/usr/bin/env python3
"""Writes a lab file with the topology crates/net/examples/topo.rs and
scripts/gen-ip-topo.py build, for scripts/bench-lab.sh.

usage: gen-lab.py star|allpairs|chain|icmp-errors N > FILE
- star N: lab "s", nodes 0..N-1, each with eth0 on one bridge, 10/8.
- allpairs N: the star, and every ordered pair of nodes expected reachable
  (N*(N-1) expectations: what `lab validate` is timed on in BENCHMARKS.md).
- chain N: lab "c", N routers in a row on /30 links (right -> left),
  forwarding on, and in each a static route to every link it is not on.
- icmp-errors N: lab "e", a host whose default route is a router with no
  route onward, and N expectations of the router's "net unreachable" for
  N addresses beyond it (all errors from one router to one host: what its
  ICMP rate limit bites on; the pacing figure of BENCHMARKS.md).
"""
import sys

kind, n = sys.argv[1], int(sys.argv[2])


def link30(i):
    base = i * 4
    hi, a, b = base // 65536, base // 256 % 256, base % 256
    return f"10.{hi}.{a}.{b}/30", f"10.{hi}.{a}.{b + 1}", f"10.{hi}.{a}.{b + 2}"


out = []
if kind == "icmp-errors":
    out.append("name: e")
    out.append("nodes:")
    out.append("  a: {routes: [default via 10.0.0.1]}")
    out.append("  r: {forwarding: true}")
    out.append("links:")
    out.append("  - endpoints: [a 10.0.0.2/24, r 10.0.0.1/24]")
    out.append("expect:")
    for i in range(n):
        out.append(f"  a -> 10.9.{i // 256}.{i % 256 + 1 if i % 256 < 255 else 1}: unreachable (net unreachable from 10.0.0.1)")
elif kind in ("star", "allpairs"):
    out.append("name: s")
    out.append("nodes:")
    out.extend(f"  '{i}': {{}}" for i in range(n))
    out.append("bridges:")
    out.append("  br0:")
    out.append("    endpoints:")
    for i in range(n):
        host = i + 1
        out.append(f"      - {i}:eth0 10.{host >> 16}.{(host >> 8) & 255}.{host & 255}/8")
    if kind == "allpairs":
        out.append("expect:")
        for i in range(n):
            for j in range(n):
                if i != j:
                    to = j + 1
                    out.append(f"  {i} -> 10.{to >> 16}.{(to >> 8) & 255}.{to & 255}: reachable")
else:
    out.append("name: c")
    out.append("nodes:")
    for k in range(n):
        routes = []
        for j in range(n - 1):
            if j + 1 < k:
                routes.append(f"{link30(j)[0]} via {link30(k - 1)[1]}")
            elif j > k:
                routes.append(f"{link30(j)[0]} via {link30(k)[2]}")
        out.append(f"  '{k}':")
        out.append("    sysctls: {net.ipv4.ip_forward: 1}")
        out.append("    routes: [" + ", ".join(routes) + "]")
    out.append("links:")
    for i in range(n - 1):
        out.append(f"  - endpoints: ['{i}:right {link30(i)[1]}/30', '{i + 1}:left {link30(i)[2]}/30']")
print("\n".join(out))
