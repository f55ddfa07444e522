//! `linux`: namespaces and id maps, sysctls, devices, resources, time
//! offsets, network devices, personality, and the fields refused by name.

use super::*;
use crate::config::{resources, Device, DeviceRule, Namespace, Resources};

/// `linux.netDevices` (spec 1.3): host links to move in, each named as
/// it is inside (its own name unless `name` says another).
pub(super) fn net_devices(linux: &oci_spec::runtime::Linux, new_net_ns: bool) -> Checked<Vec<(String, String)>> {
    let Some(devices) = linux.net_devices().as_ref().filter(|d| !d.is_empty()) else {
        return Ok(Vec::new());
    };
    if !new_net_ns {
        return Err(refuse(
            "linux.netDevices",
            "needs a new network namespace (linux.namespaces)",
        ));
    }
    let mut out: Vec<(String, String)> = Vec::new();
    for (host, device) in devices {
        let field = format!("linux.netDevices.{host}");
        let inside = device
            .name()
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| host.clone());
        for name in [host, &inside] {
            nsbox_net::link::check_name(name).map_err(|e| refuse(&field, e.to_string()))?;
        }
        if out.iter().any(|(_, other)| *other == inside) {
            return Err(refuse(field, format!("a second device named {inside:?} inside")));
        }
        out.push((host.clone(), inside));
    }
    out.sort();
    Ok(out)
}

pub(super) fn personality(linux: &oci_spec::runtime::Linux) -> Checked<Option<u32>> {
    let Some(p) = linux.personality() else { return Ok(None) };
    if p.flags().as_ref().is_some_and(|f| !f.is_empty()) {
        return Err(not_yet("linux.personality.flags", 15));
    }
    // PER_LINUX and PER_LINUX32 (linux/personality.h).
    Ok(Some(match p.domain() {
        oci_spec::runtime::LinuxPersonalityDomain::PerLinux => 0x0000,
        oci_spec::runtime::LinuxPersonalityDomain::PerLinux32 => 0x0008,
    }))
}

fn ns_kind(typ: LinuxNamespaceType) -> NsKind {
    match typ {
        LinuxNamespaceType::Mount => NsKind::Mnt,
        LinuxNamespaceType::Cgroup => NsKind::Cgroup,
        LinuxNamespaceType::Uts => NsKind::Uts,
        LinuxNamespaceType::Ipc => NsKind::Ipc,
        LinuxNamespaceType::User => NsKind::User,
        LinuxNamespaceType::Pid => NsKind::Pid,
        LinuxNamespaceType::Network => NsKind::Net,
        LinuxNamespaceType::Time => NsKind::Time,
    }
}

pub(super) fn namespaces(linux: &oci_spec::runtime::Linux) -> Checked<Vec<Namespace>> {
    let mut out: Vec<Namespace> = Vec::new();
    for (i, ns) in linux.namespaces().iter().flatten().enumerate() {
        let kind = ns_kind(ns.typ());
        let field = format!("linux.namespaces[{i}]");
        if out.iter().any(|n| n.kind == kind) {
            return Err(refuse(field, format!("a second {} namespace", kind.proc_name())));
        }
        let join = ns.path().clone().filter(|p| !p.as_os_str().is_empty());
        if let Some(path) = &join {
            if !path.is_absolute() {
                return Err(refuse(format!("{field}.path"), "must be an absolute path"));
            }
            if let Err(e) = std::fs::metadata(path) {
                return Err(refuse(
                    format!("{field}.path"),
                    format!("{}: {}", path.display(), nsbox_sys::errno::describe(&e)),
                ));
            }
        }
        out.push(Namespace { kind, join });
    }
    Ok(out)
}

pub(super) fn id_maps(linux: &oci_spec::runtime::Linux, new_user_ns: bool) -> Checked<(Vec<IdMap>, Vec<IdMap>)> {
    let convert = |maps: &Option<Vec<LinuxIdMapping>>| -> Vec<IdMap> {
        maps.iter()
            .flatten()
            .map(|m| IdMap {
                inside: m.container_id(),
                outside: m.host_id(),
                count: m.size(),
            })
            .collect()
    };
    let (uids, gids) = (convert(linux.uid_mappings()), convert(linux.gid_mappings()));
    match (new_user_ns, uids.is_empty() && gids.is_empty()) {
        (false, false) => Err(refuse(
            "linux.uidMappings",
            "id mappings need a new user namespace (linux.namespaces)",
        )),
        (true, true) => Err(refuse(
            "linux.uidMappings",
            "a new user namespace needs uid and gid mappings",
        )),
        _ => Ok((uids, gids)),
    }
}

/// The namespace a sysctl key belongs to (runc's list): only keys of a
/// namespace the container has may be set.
fn sysctl_namespace(key: &str) -> Option<NsKind> {
    const IPC: [&str; 7] = [
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
    ];
    if IPC.contains(&key) || key == "kernel.shm_rmid_forced" || key.starts_with("fs.mqueue.") {
        Some(NsKind::Ipc)
    } else if key.starts_with("net.") {
        Some(NsKind::Net)
    } else if key == "kernel.hostname" || key == "kernel.domainname" {
        Some(NsKind::Uts)
    } else {
        None
    }
}

pub(super) fn sysctls(
    linux: &oci_spec::runtime::Linux,
    has: &dyn Fn(NsKind) -> bool,
) -> Checked<Vec<(String, String)>> {
    let mut out: Vec<(String, String)> = linux
        .sysctl()
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    out.sort();
    for (key, _) in &out {
        let field = format!("linux.sysctl.{key}");
        match sysctl_namespace(key) {
            None => return Err(refuse(field, "is not namespaced: it would change the host")),
            Some(kind) if !has(kind) => {
                return Err(refuse(
                    field,
                    format!("needs a {} namespace of the container's own", kind.proc_name()),
                ))
            }
            Some(_) => {}
        }
        if key.contains("..") || key.contains('/') {
            return Err(refuse(field, "is not a sysctl name"));
        }
    }
    Ok(out)
}

pub(super) fn devices(linux: &oci_spec::runtime::Linux) -> Checked<Vec<Device>> {
    let mut out = Vec::new();
    for (i, d) in linux.devices().iter().flatten().enumerate() {
        let field = format!("linux.devices[{i}]");
        if !d.path().is_absolute() {
            return Err(refuse(format!("{field}.path"), "must be an absolute path"));
        }
        let kind = match d.typ() {
            LinuxDeviceType::C | LinuxDeviceType::U => 'c',
            LinuxDeviceType::B => 'b',
            LinuxDeviceType::P => 'p',
            LinuxDeviceType::A => return Err(refuse(format!("{field}.type"), "must be c, b, u or p")),
        };
        let number = |n: i64, name: &str| {
            u32::try_from(n).map_err(|_| refuse(format!("{field}.{name}"), format!("{n} is out of range")))
        };
        out.push(Device {
            path: d.path().clone(),
            kind,
            major: number(d.major(), "major")?,
            minor: number(d.minor(), "minor")?,
            mode: d.file_mode().unwrap_or(0o666),
            uid: d.uid().unwrap_or(0),
            gid: d.gid().unwrap_or(0),
        });
    }
    Ok(out)
}

pub(super) fn resources(r: Option<&LinuxResources>) -> Checked<Resources> {
    let Some(r) = r else {
        return Ok(Resources::default());
    };
    let mut out = Resources::default();
    if let Some(m) = r.memory() {
        if m.kernel().is_some() {
            // Kernel memory limits are deprecated by the kernel (5.4) and
            // refused by it on v2; runc ignores the field with a warning.
            return Err(refuse(
                "linux.resources.memory.kernel",
                "kernel memory limits are deprecated by the kernel; remove the field",
            ));
        }
        out.memory = resources::Memory {
            limit: m.limit(),
            reservation: m.reservation(),
            swap: m.swap(),
            kernel_tcp: m.kernel_tcp(),
            swappiness: m.swappiness(),
            disable_oom_killer: m.disable_oom_killer(),
            use_hierarchy: m.use_hierarchy(),
            check_before_update: m.check_before_update(),
        };
        if out.memory.swappiness.is_some_and(|s| s > 100) {
            return Err(refuse("linux.resources.memory.swappiness", "must be 0 to 100"));
        }
    }
    if let Some(c) = r.cpu() {
        out.cpu = resources::Cpu {
            shares: c.shares(),
            quota: c.quota(),
            burst: c.burst(),
            period: c.period(),
            realtime_runtime: c.realtime_runtime(),
            realtime_period: c.realtime_period(),
            cpus: c.cpus().clone().filter(|s| !s.is_empty()),
            mems: c.mems().clone().filter(|s| !s.is_empty()),
            idle: c.idle(),
        };
    }
    out.pids_limit = r.pids().as_ref().map(|p| p.limit());
    if let Some(b) = r.block_io() {
        let throttle = |list: &Option<Vec<oci_spec::runtime::LinuxThrottleDevice>>| {
            list.iter()
                .flatten()
                .map(|t| resources::ThrottleDevice {
                    major: t.major(),
                    minor: t.minor(),
                    rate: t.rate(),
                })
                .collect::<Vec<_>>()
        };
        out.block_io = resources::BlockIo {
            weight: b.weight(),
            leaf_weight: b.leaf_weight(),
            weight_device: b
                .weight_device()
                .iter()
                .flatten()
                .map(|w| resources::WeightDevice {
                    major: w.major(),
                    minor: w.minor(),
                    weight: w.weight(),
                    leaf_weight: w.leaf_weight(),
                })
                .collect(),
            throttle_read_bps: throttle(b.throttle_read_bps_device()),
            throttle_write_bps: throttle(b.throttle_write_bps_device()),
            throttle_read_iops: throttle(b.throttle_read_iops_device()),
            throttle_write_iops: throttle(b.throttle_write_iops_device()),
        };
    }
    for (i, h) in r.hugepage_limits().iter().flatten().enumerate() {
        let limit = u64::try_from(h.limit()).map_err(|_| {
            refuse(
                format!("linux.resources.hugepageLimits[{i}].limit"),
                "must not be negative",
            )
        })?;
        out.hugepage_limits.insert(h.page_size().clone(), limit);
    }
    if let Some(n) = r.network() {
        out.network = resources::Network {
            class_id: n.class_id(),
            priorities: n
                .priorities()
                .iter()
                .flatten()
                .map(|p| (p.name().clone(), p.priority()))
                .collect(),
        };
    }
    for (device, limits) in r.rdma().iter().flatten() {
        out.rdma.insert(
            device.clone(),
            resources::Rdma {
                hca_handles: limits.hca_handles(),
                hca_objects: limits.hca_objects(),
            },
        );
    }
    for (key, value) in r.unified().iter().flatten() {
        if key.contains('/') || key.starts_with('.') || !key.contains('.') {
            return Err(refuse(
                format!("linux.resources.unified.{key}"),
                "not a cgroup v2 file name (controller.file)",
            ));
        }
        out.unified.insert(key.clone(), value.clone());
    }
    for (i, d) in r.devices().iter().flatten().enumerate() {
        let kind = match d.typ().unwrap_or(LinuxDeviceType::A) {
            LinuxDeviceType::A => 'a',
            LinuxDeviceType::C | LinuxDeviceType::U => 'c',
            LinuxDeviceType::B => 'b',
            LinuxDeviceType::P => {
                return Err(refuse(
                    format!("linux.resources.devices[{i}].type"),
                    "the device cgroup knows a, c and b",
                ))
            }
        };
        let access = d.access().clone().unwrap_or_else(|| "rwm".to_string());
        if access.is_empty() || !access.chars().all(|c| "rwm".contains(c)) {
            return Err(refuse(
                format!("linux.resources.devices[{i}].access"),
                format!("{access:?}: use r, w and m"),
            ));
        }
        out.devices.push(DeviceRule {
            allow: d.allow(),
            kind,
            major: d.major(),
            minor: d.minor(),
            access,
        });
    }
    Ok(out)
}

pub(super) fn time_offsets(linux: &oci_spec::runtime::Linux, new_time_ns: bool) -> Checked<Option<(i64, i64)>> {
    let Some(offsets) = linux.time_offsets().as_ref().filter(|o| !o.is_empty()) else {
        return Ok(None);
    };
    if !new_time_ns {
        return Err(refuse(
            "linux.timeOffsets",
            "need a new time namespace (linux.namespaces)",
        ));
    }
    let mut out = (0, 0);
    for (clock, offset) in offsets {
        match clock.as_str() {
            "monotonic" => out.0 = offset.secs().unwrap_or(0),
            "boottime" => out.1 = offset.secs().unwrap_or(0),
            other => {
                return Err(refuse(
                    format!("linux.timeOffsets.{other}"),
                    "the clocks are monotonic and boottime",
                ))
            }
        }
        if offset.nanosecs().unwrap_or(0) != 0 {
            return Err(not_yet(&format!("linux.timeOffsets.{clock}.nanosecs"), 15));
        }
    }
    Ok(Some(out))
}

/// The fields of `linux` this runtime does not apply yet, refused by name.
pub(super) fn refuse_linux_extras(linux: &oci_spec::runtime::Linux) -> Checked<()> {
    if linux.intel_rdt().is_some() {
        return Err(refuse("linux.intelRdt", "this host has no resctrl file system"));
    }
    if linux.mount_label().as_ref().is_some_and(|l| !l.is_empty()) {
        return Err(refuse(
            "linux.mountLabel",
            "SELinux labels are not supported (this host has no SELinux)",
        ));
    }
    Ok(())
}

/// `linux.seccomp`, checked: actions, operators, argument indexes.
pub(super) fn seccomp(linux: &oci_spec::runtime::Linux) -> Checked<Option<crate::config::seccomp::Seccomp>> {
    use crate::config::seccomp::{Action, Arg, Flag, Op, Rule, Seccomp};
    use oci_spec::runtime::{LinuxSeccompAction as A, LinuxSeccompFilterFlag as F, LinuxSeccompOperator as O};
    let Some(s) = linux.seccomp() else { return Ok(None) };
    // An errno of its own, or EPERM (runc's default); TRACE's message too.
    let action = |a: A, errno: Option<u32>, field: String| -> Checked<Action> {
        let code = || -> Checked<u16> {
            u16::try_from(errno.unwrap_or(libc::EPERM as u32))
                .map_err(|_| refuse(field.clone(), "errnoRet must be below 65536"))
        };
        Ok(match a {
            A::ScmpActKill | A::ScmpActKillThread => Action::KillThread,
            A::ScmpActKillProcess => Action::KillProcess,
            A::ScmpActTrap => Action::Trap,
            A::ScmpActErrno => Action::Errno(code()?),
            A::ScmpActTrace => Action::Trace(code()?),
            A::ScmpActAllow => Action::Allow,
            A::ScmpActLog => Action::Log,
            A::ScmpActNotify => Action::Notify,
        })
    };
    let default_action = action(
        s.default_action(),
        s.default_errno_ret(),
        "linux.seccomp.defaultErrnoRet".into(),
    )?;
    let architectures = s
        .architectures()
        .iter()
        .flatten()
        .map(|a| {
            let name = serde_json::to_value(a).ok();
            name.and_then(|v| v.as_str().map(String::from))
                .ok_or_else(|| refuse("linux.seccomp.architectures", format!("{a:?}: unknown")))
        })
        .collect::<Checked<Vec<String>>>()?;
    let flags = s
        .flags()
        .iter()
        .flatten()
        .map(|f| match f {
            F::SeccompFilterFlagLog => Flag::Log,
            F::SeccompFilterFlagTsync => Flag::Tsync,
            F::SeccompFilterFlagSpecAllow => Flag::SpecAllow,
        })
        .collect();
    let mut rules = Vec::new();
    for (i, call) in s.syscalls().iter().flatten().enumerate() {
        let field = format!("linux.seccomp.syscalls[{i}]");
        let mut args = Vec::new();
        for (j, a) in call.args().iter().flatten().enumerate() {
            if a.index() > 5 {
                return Err(refuse(
                    format!("{field}.args[{j}].index"),
                    "a syscall has six arguments: 0 to 5",
                ));
            }
            args.push(Arg {
                index: a.index() as u32,
                value: a.value(),
                value_two: a.value_two().unwrap_or(0),
                op: match a.op() {
                    O::ScmpCmpNe => Op::Ne,
                    O::ScmpCmpLt => Op::Lt,
                    O::ScmpCmpLe => Op::Le,
                    O::ScmpCmpEq => Op::Eq,
                    O::ScmpCmpGe => Op::Ge,
                    O::ScmpCmpGt => Op::Gt,
                    O::ScmpCmpMaskedEq => Op::MaskedEq,
                },
            });
        }
        rules.push(Rule {
            index: i,
            names: call.names().clone(),
            action: action(call.action(), call.errno_ret(), format!("{field}.errnoRet"))?,
            args,
        });
    }
    let seccomp = Seccomp {
        default_action,
        architectures,
        flags,
        listener_path: s.listener_path().clone(),
        listener_metadata: s.listener_metadata().clone().unwrap_or_default(),
        rules,
    };
    if seccomp.notifies() && seccomp.listener_path.is_none() {
        return Err(refuse(
            "linux.seccomp.listenerPath",
            "SCMP_ACT_NOTIFY needs a listener to send the notifications to",
        ));
    }
    Ok(Some(seccomp))
}

/// `linux.memoryPolicy` (spec 1.3): set_mempolicy's mode, flags and nodes,
/// checked as the kernel would (nodes for the modes that need them, none
/// for those that take none; static and relative nodes exclusive).
pub(super) fn memory_policy(linux: &oci_spec::runtime::Linux) -> Checked<Option<crate::config::MemoryPolicy>> {
    use oci_spec::runtime::{MemoryPolicyFlagType as F, MemoryPolicyModeType as M};
    let Some(p) = linux.memory_policy() else {
        return Ok(None);
    };
    let (mode, needs_nodes, takes_nodes) = match p.mode() {
        M::MpolDefault => (0, false, false),
        M::MpolPreferred => (1, false, true),
        M::MpolBind => (2, true, true),
        M::MpolInterleave => (3, true, true),
        M::MpolLocal => (4, false, false),
        M::MpolPreferredMany => (5, true, true),
        M::MpolWeightedInterleave => (6, true, true),
    };
    let text = p.nodes().clone().unwrap_or_default();
    let mut nodes: Vec<u64> = Vec::new();
    for part in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let bad = || {
            refuse(
                "linux.memoryPolicy.nodes",
                format!("{text:?}: expected a node list such as 0-3,7"),
            )
        };
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (
                a.trim().parse::<usize>().map_err(|_| bad())?,
                b.trim().parse::<usize>().map_err(|_| bad())?,
            ),
            None => {
                let n = part.parse::<usize>().map_err(|_| bad())?;
                (n, n)
            }
        };
        if a > b || b >= 1024 {
            return Err(bad());
        }
        for node in a..=b {
            if nodes.len() <= node / 64 {
                nodes.resize(node / 64 + 1, 0);
            }
            nodes[node / 64] |= 1 << (node % 64);
        }
    }
    if needs_nodes && nodes.is_empty() {
        return Err(refuse("linux.memoryPolicy.nodes", "this mode needs nodes"));
    }
    if !takes_nodes && !nodes.is_empty() {
        return Err(refuse("linux.memoryPolicy.nodes", "this mode takes no nodes"));
    }
    let mut flags = 0;
    for f in p.flags().iter().flatten() {
        flags |= match f {
            F::MpolFNumaBalancing => 1 << 13,
            F::MpolFRelativeNodes => 1 << 14,
            F::MpolFStaticNodes => 1 << 15,
        };
    }
    if flags & (3 << 14) == 3 << 14 {
        return Err(refuse(
            "linux.memoryPolicy.flags",
            "MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES exclude each other",
        ));
    }
    Ok(Some(crate::config::MemoryPolicy {
        mode: mode | flags,
        nodes,
    }))
}
