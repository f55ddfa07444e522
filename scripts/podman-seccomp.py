"""Gives a config.json podman's defaults, as podman 4.3 asks them of a
runtime: a memory limit, a pids limit, cpu shares, and its seccomp profile
(containers-common's seccomp.json) turned into linux.seccomp as podman does
(containers/common pkg/seccomp): the native architecture with its
sub-architectures, and each group of syscalls whose `includes` hold for
this kernel, architecture and the process's bounding capabilities, and
whose `excludes` do not.
Usage: podman-seccomp.py CONFIG.JSON SECCOMP.JSON"""
import json
import os
import sys

config_path, profile_path = sys.argv[1:]
c = json.load(open(config_path))
resources = c["linux"].setdefault("resources", {})
resources["memory"] = {"limit": 512 << 20}
resources["pids"] = {"limit": 2048}
resources["cpu"] = {"shares": 1024}
profile = json.load(open(profile_path))
caps = set(c["process"].get("capabilities", {}).get("bounding", []))


def version(text):
    return tuple(int(x) for x in text.split("-")[0].split(".")[:2])


kernel = version(os.uname().release)
architectures = ["SCMP_ARCH_X86_64"]
for entry in profile.get("archMap", []):
    if entry["architecture"] == "SCMP_ARCH_X86_64":
        architectures += entry.get("subArchitectures", [])
syscalls = []
for group in profile["syscalls"]:
    inc, exc = group.get("includes") or {}, group.get("excludes") or {}
    if not set(inc.get("caps") or []) <= caps:
        continue
    if inc.get("arches") and "amd64" not in inc["arches"]:
        continue
    if inc.get("minKernel") and kernel < version(inc["minKernel"]):
        continue
    if set(exc.get("caps") or []) & caps or "amd64" in (exc.get("arches") or []):
        continue
    rule = {"names": group["names"], "action": group["action"]}
    for key in ("errnoRet", "args"):
        if group.get(key) is not None:
            rule[key] = group[key]
    syscalls.append(rule)
seccomp = {"defaultAction": profile["defaultAction"], "architectures": architectures, "syscalls": syscalls}
if profile.get("defaultErrnoRet") is not None:
    seccomp["defaultErrnoRet"] = profile["defaultErrnoRet"]
c["linux"]["seccomp"] = seccomp
json.dump(c, open(config_path, "w"), indent=1)
