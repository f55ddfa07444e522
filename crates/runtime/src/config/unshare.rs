//! `nsbox unshare`'s front end: its flags (a checked [`Spec`]) translate
//! into the engine's [`Config`], as config.json does. The host view and
//! the minimal /dev become mounts like a bundle's; what has no place in an
//! OCI bundle (`--lo-up`, /dev/shm as a directory, the caller's directory,
//! umask and environment, which the command keeps) is a field of the model
//! or left to the command itself (see `process::init::Launch::Now`).

use super::{resources, Config, Mount, MountKind, Namespace, Process, Resources};
use crate::spec::{RootChoice, Spec};
use nsbox_ns::NsKind;
use rustix::mount::{MountFlags, MountPropagationFlags};
use std::path::PathBuf;

/// Where a host view's root is assembled: any directory serves, as it is
/// mounted over in the container's own mount namespace only, and bind
/// sources under it are captured before (see `init::mounts`).
const STAGING: &str = "/tmp";

/// The devpts options of a minimal /dev: a private instance whose ptmx
/// anyone may open.
pub const DEVPTS_OPTIONS: &str = "newinstance,ptmxmode=0666,mode=0620";

/// The model of `spec` (checked by `Spec::validate`).
pub fn from_spec(spec: &Spec) -> Config {
    let namespaces = NsKind::ALL
        .iter()
        .filter(|k| spec.has(**k))
        .map(|&kind| Namespace { kind, join: None })
        .collect();
    let (rootfs, host_view) = match &spec.root {
        RootChoice::HostView => (PathBuf::from(STAGING), true),
        RootChoice::Dir(dir) => (std::path::absolute(dir).unwrap_or_else(|_| dir.clone()), false),
    };
    let mounts = if spec.has(NsKind::Mnt) {
        mounts(spec)
    } else {
        Vec::new()
    };
    let limits = &spec.limits;
    let resources = Resources {
        memory: resources::Memory {
            limit: limits.memory.map(|b| b as i64),
            ..Default::default()
        },
        cpu: resources::Cpu {
            quota: limits.cpus.map(|c| crate::cgroup::oci::cpu_quota_us(c) as i64),
            period: limits.cpus.map(|_| crate::cgroup::oci::CPU_PERIOD_US),
            ..Default::default()
        },
        pids_limit: limits.pids.map(|n| n as i64),
        ..Resources::default()
    };
    Config {
        oci_version: "1.3.0".into(),
        bundle: PathBuf::new(),
        rootfs,
        rootfs_readonly: false,
        host_view,
        rootfs_propagation: MountPropagationFlags::PRIVATE | MountPropagationFlags::REC,
        hostname: spec.hostname.clone(),
        domainname: spec.domainname.clone(),
        annotations: Default::default(),
        namespaces,
        uid_maps: spec.uid_maps.clone(),
        gid_maps: spec.gid_maps.clone(),
        mounts,
        devices: Vec::new(),
        masked_paths: Vec::new(),
        readonly_paths: Vec::new(),
        sysctl: Vec::new(),
        process: Process {
            args: spec.argv.clone(),
            // PID 1 of a new pid namespace must reap orphans and pass
            // signals on; a new time namespace applies to children only.
            init: spec.needs_init(),
            ..Process::default()
        },
        cgroups_path: None,
        resources,
        time_offsets: spec.time_offsets.map(|o| (o.monotonic, o.boottime)),
        hooks: Default::default(),
        net_devices: Vec::new(),
        personality: None,
        loopback_up: spec.loopback_up,
        dev_shm_dir: true,
        seccomp: None,
        setns_only: false,
        memory_policy: None,
        origin: super::Origin::UnshareFlags,
    }
}

/// A fresh /proc, a minimal /dev (devpts; /dev/mqueue with a new ipc
/// namespace), the binds, the tmpfs mounts.
fn mounts(spec: &Spec) -> Vec<Mount> {
    use MountFlags as F;
    let new = |destination: &str, fstype: &str, flags: MountFlags, data: &str| Mount {
        destination: destination.into(),
        fstype: fstype.into(),
        source: Some(fstype.into()),
        kind: MountKind::New,
        flags,
        cleared: MountFlags::empty(),
        propagation: None,
        recursive_set: 0,
        recursive_clear: 0,
        idmap: None,
        data: data.into(),
    };
    let mut out = vec![
        new("/proc", "proc", F::NOSUID | F::NODEV | F::NOEXEC, ""),
        new("/dev", "tmpfs", F::NOSUID | F::NOEXEC, "mode=0755"),
        new("/dev/pts", "devpts", F::NOSUID | F::NOEXEC, DEVPTS_OPTIONS),
    ];
    if spec.has(NsKind::Ipc) {
        // The mqueue file system shows the queues of the ipc namespace of
        // whoever mounts it: the container's new one.
        out.push(new("/dev/mqueue", "mqueue", F::NOSUID | F::NODEV | F::NOEXEC, ""));
    }
    for bind in &spec.binds {
        out.push(Mount {
            destination: bind.target.clone(),
            fstype: "bind".into(),
            source: Some(std::path::absolute(&bind.source).unwrap_or_else(|_| bind.source.clone())),
            kind: MountKind::Bind { recursive: true },
            flags: if bind.readonly { F::RDONLY } else { F::empty() },
            ..new("", "bind", F::empty(), "")
        });
    }
    for target in &spec.tmpfs {
        out.push(new(
            &target.to_string_lossy(),
            "tmpfs",
            F::NOSUID | F::NODEV,
            "mode=1777",
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn a_host_view_with_binds_and_limits_is_a_model_like_a_bundle() {
        let mut spec = Spec::new(vec!["true".into()]);
        spec.binds.push("/etc:/mnt/etc:ro".parse().unwrap());
        spec.tmpfs.push("/scratch".into());
        spec.limits.cpus = Some(0.5);
        spec.limits.memory = Some(64 << 20);
        let config = from_spec(&spec);
        assert!(config.host_view && config.dev_shm_dir && config.process.init);
        let at: Vec<&Path> = config.mounts.iter().map(|m| m.destination.as_path()).collect();
        let want: Vec<&Path> = ["/proc", "/dev", "/dev/pts", "/dev/mqueue", "/mnt/etc", "/scratch"]
            .iter()
            .map(Path::new)
            .collect();
        assert_eq!(at, want);
        assert!(config.mounts[4].flags.contains(MountFlags::RDONLY));
        assert_eq!(config.resources.cpu.quota, Some(50_000));
        assert_eq!(config.resources.memory.limit, Some(64 << 20));
    }

    #[test]
    fn without_a_mount_namespace_nothing_is_mounted() {
        let mut spec = Spec::new(vec!["true".into()]);
        spec.namespaces.remove(NsKind::Mnt);
        spec.namespaces.remove(NsKind::Pid);
        let config = from_spec(&spec);
        assert!(config.mounts.is_empty() && !config.process.init);
        assert!(!config.has(NsKind::Mnt));
    }
}
