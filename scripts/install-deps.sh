#!/usr/bin/env bash
# Installs what nsbox's build, demo and tests need and a fresh Debian machine
# may lack. Installs nothing that is already there; needs root for apt.
set -euo pipefail
missing=()
[ -x /bin/busybox ] || [ -x /usr/bin/busybox ] || missing+=(busybox-static)   # test rootfs
command -v ip >/dev/null || missing+=(iproute2)                              # oracle in tests
[ -x /usr/bin/python3 ] || missing+=(python3)                                # clocks and sockets inside containers
command -v ipcmk >/dev/null || missing+=(util-linux)                         # SysV IPC objects in tests
command -v cc >/dev/null || missing+=(gcc)                                   # linker for cargo
command -v ping >/dev/null || missing+=(iputils-ping)                        # oracle for nsbox ping
command -v nft >/dev/null || missing+=(nftables)                             # NAT in the seed lab
command -v nsenter >/dev/null || missing+=(util-linux)                       # ip oracle inside anonymous namespaces
command -v sysctl >/dev/null || missing+=(procps)                            # sysctl in the seed lab scripts
command -v dot >/dev/null || missing+=(graphviz)                             # lab graph -o FILE.svg
command -v runc >/dev/null || missing+=(runc)                                # the OCI conformance suite's reference
[ -f /usr/include/seccomp.h ] || missing+=(libseccomp-dev)                   # seccomp filters (linked, static too)
[ -f /usr/share/containers/seccomp.json ] || missing+=(golang-github-containers-common) # podman's default seccomp profile in tests
command -v podman >/dev/null || missing+=(podman)                            # an engine on nsbox in tests (with conmon)
command -v containerd >/dev/null || missing+=(containerd)                    # an engine on nsbox in tests (ctr, the runc shim)
[ -x /usr/lib/frr/zebra ] || missing+=(frr)                                  # routing lab nodes (zebra, ospfd, bgpd, vtysh)
[ -x /usr/sbin/bird ] || missing+=(bird2)                                    # routing lab nodes (BIRD 2)
command -v tcpdump >/dev/null || missing+=(tcpdump)                          # lab capture's filters; reads its pcap in tests
command -v iperf3 >/dev/null || missing+=(iperf3)                            # throughput expectations
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing: ${missing[*]}"
  # Packages with daemons (containerd, frr, bird2) must not start them on
  # the host: nsbox runs them in lab nodes. Where the machine has no
  # policy-rc.d saying so, one is in place for the install only.
  policy=/usr/sbin/policy-rc.d
  if [ ! -e "$policy" ]; then
    trap 'rm -f "$policy"' EXIT
    printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy"
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if ! cargo nextest --version >/dev/null 2>&1; then
  echo "installing: cargo-nextest"
  cargo install --locked cargo-nextest
fi
