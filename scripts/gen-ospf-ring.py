#!/usr/bin/env python3
"""An OSPF ring of N FRR routers, for scripts/bench-routing.sh: as an nsbox
lab file, or as a plain shell script that builds the same ring with
`ip netns` and starts the same daemons one router at a time.

usage: gen-ospf-ring.py N default|fast lab|bird-lab|script-up|script-down > FILE
- Router i (r0..rN-1) has loopback 10.255.H.L/32 (i+1 = 256*H + L) and two
  point-to-point /30 links: `east` to router i+1 and `west` from router
  i-1 (link i is 10.X.Y.Z/30 between router i and router i+1).
- default: FRR's default timers (hello 10 s, dead 40 s, SPF and LSA
  throttling); fast: hello 1 s, dead 4 s, retransmit 1 s, no SPF or LSA
  throttling.
- bird-lab: the same ring with BIRD's OSPF instead of FRR (BIRD's default
  timers whatever the second argument says; each loopback a stub).
- The lab is named `ring`; its nodes are ring-r0... in `ip netns`, as the
  script's namespaces are too (the benchmark runs one or the other).
"""
import sys

n, timers, kind = int(sys.argv[1]), sys.argv[2], sys.argv[3]
fast = timers == "fast"


def loopback(i):
    return f"10.255.{(i + 1) // 256}.{(i + 1) % 256}"


def link(i):
    """Link i (router i east to router i+1 west): network, i's end, i+1's end."""
    base = i * 4
    net = f"10.{base // 65536}.{base // 256 % 256}.{base % 256}"
    a = f"10.{base // 65536}.{base // 256 % 256}.{base % 256 + 1}"
    b = f"10.{base // 65536}.{base // 256 % 256}.{base % 256 + 2}"
    return net, a, b


def ospf_config(i):
    lines = ["frr defaults traditional", f"hostname r{i}"]
    for iface in ["east", "west"]:
        lines += [f"interface {iface}", " ip ospf network point-to-point"]
        if fast:
            lines += [" ip ospf hello-interval 1", " ip ospf dead-interval 4", " ip ospf retransmit-interval 1"]
    lines += ["router ospf", f" ospf router-id {loopback(i)}", " network 10.0.0.0/8 area 0"]
    if fast:
        lines += [" timers throttle spf 0 50 500", " timers throttle lsa all 0", " timers lsa min-arrival 0"]
    return lines


def lab_links():
    """The lab file's `links:` section: router i east to router i+1 west."""
    out = ["links:"]
    for i in range(n):
        _, a, b = link(i)
        out.append(f"  - endpoints: [r{i}:east {a}/30, r{(i + 1) % n}:west {b}/30]")
    return out


if kind == "lab":
    out = [f"name: ring", "nodes:"]
    for i in range(n):
        out += [f"  r{i}:", f"    lo: [{loopback(i)}/32]", "    frr:", "      daemons: [ospfd]", "      config: |"]
        out += ["        " + l for l in ospf_config(i)]
    print("\n".join(out + lab_links()))
elif kind == "bird-lab":
    out = ["name: ring", "nodes:"]
    for i in range(n):
        out += [f"  r{i}:", f"    lo: [{loopback(i)}/32]", "    bird:", "      config: |",
                f"        router id {loopback(i)};",
                "        protocol device { }",
                "        protocol kernel { ipv4 { export where source = RTS_OSPF; }; }",
                "        protocol ospf v2 {",
                "          ipv4 { import all; };",
                "          area 0 {",
                '            interface "east", "west" { type ptp; };',
                '            interface "lo" { stub; };',
                "          };",
                "        }"]
    print("\n".join(out + lab_links()))
elif kind == "script-up":
    # As a network engineer would by hand: namespaces, links, addresses,
    # then each router's zebra and ospfd, one router at a time.
    out = ["set -e", "D=/tmp/nsbox-bench-ring-script", "mkdir -p $D"]
    for i in range(n):
        out += [f"ip netns add ring-r{i}", f"ip -n ring-r{i} link set lo up",
                f"ip -n ring-r{i} addr add {loopback(i)}/32 dev lo",
                f"ip netns exec ring-r{i} sysctl -qw net.ipv4.ip_forward=1"]
    for i in range(n):
        _, a, b = link(i)
        j = (i + 1) % n
        out += [f"ip -n ring-r{i} link add east type veth peer name west netns ring-r{j}",
                f"ip -n ring-r{i} addr add {a}/30 dev east", f"ip -n ring-r{j} addr add {b}/30 dev west",
                f"ip -n ring-r{i} link set east up", f"ip -n ring-r{j} link set west up"]
    for i in range(n):
        d = f"$D/r{i}"
        config = "\\n".join(ospf_config(i))
        out += [f"mkdir -p {d}", f"printf '{config}\\n' > {d}/ospfd.conf", f"printf 'hostname r{i}\\n' > {d}/zebra.conf",
                f"chown -R frr:frr {d}"]
        common = f"-d -F traditional -P 0 -z {d}/zserv.api --vty_socket {d}"
        out += [f"ip netns exec ring-r{i} /usr/lib/frr/zebra {common} -f {d}/zebra.conf -i {d}/zebra.pid",
                f"ip netns exec ring-r{i} /usr/lib/frr/ospfd {common} -f {d}/ospfd.conf -i {d}/ospfd.pid"]
    print("\n".join(out))
elif kind == "script-down":
    out = ["D=/tmp/nsbox-bench-ring-script"]
    for i in range(n):
        out += [f"for p in $D/r{i}/*.pid; do kill $(cat $p) 2>/dev/null; done"]
    # The daemons' /var/tmp/frr/<daemon>.<pid> directories go too (nothing
    # else removes them).
    out += ["sleep 0.2"]
    for i in range(n):
        out += [f"for p in $D/r{i}/*.pid; do rm -rf /var/tmp/frr/*.$(cat $p); done", f"ip netns del ring-r{i}"]
    out += ["rm -rf $D"]
    print("\n".join(out))
else:
    sys.exit(f"unknown kind {kind}")
