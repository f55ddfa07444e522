//! A `cgroup` mount in the container: the container's own cgroups and
//! nothing above them. On a v1 or hybrid host (this one) that is a tmpfs
//! with one bind per hierarchy of the process's cgroup directory, as runc
//! makes it; on a v2 host a fresh cgroup2 in a new cgroup namespace, else a
//! bind of the process's v2 cgroup.

use super::rx;
use crate::config::Mount;
use crate::process::channel::InitFailure;
use nsbox_sys::mount::attr;
use rustix::fs::{Mode, OFlags, CWD};
use rustix::mount::{MountFlags, OpenTreeFlags as T};
use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;

/// One cgroup hierarchy mounted on the host (as this process sees it).
struct Hierarchy {
    mount_point: PathBuf,
    /// The cgroup path the mount shows at its mount point (`/` on a host).
    mount_root: String,
    /// `cpu,cpuacct`, `name=systemd`, or empty for v2.
    key: Vec<String>,
}

fn hierarchies(mountinfo: &str) -> Vec<Hierarchy> {
    let mut out = Vec::new();
    for (root, point, fstype, options) in crate::cgroup::layout::mountinfo(mountinfo) {
        let key = match fstype {
            "cgroup" => {
                let mut key: Vec<String> = options
                    .split(',')
                    .filter(|o| o.starts_with("name=") || KNOWN_CONTROLLERS.contains(o))
                    .map(String::from)
                    .collect();
                key.sort();
                key
            }
            "cgroup2" => Vec::new(),
            _ => continue,
        };
        out.push(Hierarchy {
            mount_point: PathBuf::from(point),
            mount_root: root.to_string(),
            key,
        });
    }
    out
}

const KNOWN_CONTROLLERS: [&str; 13] = [
    "cpu",
    "cpuacct",
    "cpuset",
    "memory",
    "devices",
    "freezer",
    "blkio",
    "pids",
    "net_cls",
    "net_prio",
    "hugetlb",
    "perf_event",
    "rdma",
];

/// This process's cgroup in the hierarchy with `key` (from /proc/self/cgroup).
fn own_cgroup(proc_cgroup: &str, key: &[String]) -> Option<String> {
    crate::cgroup::membership(proc_cgroup)
        .into_iter()
        .find(|(names, _)| names == key)
        .map(|(_, path)| path)
}

/// Mounts what the container sees at a `cgroup` mount's `target`; the
/// hierarchies go in by [`finish`], on the mount resolved again.
pub(super) fn mount_cgroups(target: &OwnedFd, m: &Mount) -> Result<(), InitFailure> {
    let (all, proc_cgroup) = read_host()?;
    if all.iter().all(|h| h.key.is_empty()) {
        let v2 = all.first().ok_or_else(|| InitFailure {
            step: "finding the cgroup hierarchy".into(),
            message: "no cgroup file system is mounted".into(),
        })?;
        return bind_own(v2, &proc_cgroup, target, m.flags.contains(MountFlags::RDONLY));
    }
    let target_path = CString::new(format!("/proc/self/fd/{}", target.as_raw_fd())).expect("no NUL");
    let flags = MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC;
    rustix::mount::mount("tmpfs", target_path.as_c_str(), "tmpfs", flags, c"mode=755")
        .map_err(rx("mounting the tmpfs for the cgroup hierarchies"))
}

fn read_host() -> Result<(Vec<Hierarchy>, String), InitFailure> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").map_err(super::fail("reading mountinfo"))?;
    let proc_cgroup = std::fs::read_to_string("/proc/self/cgroup").map_err(super::fail("reading /proc/self/cgroup"))?;
    Ok((hierarchies(&mountinfo), proc_cgroup))
}

/// On a v1 or hybrid host: one bind per hierarchy in the tmpfs at `mounted`,
/// the host's links between them, and the tmpfs made read-only if asked.
pub(super) fn finish(mounted: &OwnedFd, m: &Mount) -> Result<(), InitFailure> {
    let (all, proc_cgroup) = read_host()?;
    let Some(first_v1) = all.iter().find(|h| !h.key.is_empty()) else {
        return Ok(());
    };
    let readonly = m.flags.contains(MountFlags::RDONLY);
    let dir = rustix::fs::openat(mounted, c".", OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
        .map_err(rx("opening the cgroup tmpfs"))?;
    // The v2 hierarchy of a hybrid host is left out, as runc does.
    for h in all.iter().filter(|h| !h.key.is_empty()) {
        let Some(name) = h.mount_point.file_name() else {
            continue;
        };
        rustix::fs::mkdirat(&dir, name, Mode::from_bits_truncate(0o755))
            .map_err(rx("making a hierarchy's directory"))?;
        let sub = rustix::fs::openat(&dir, name, OFlags::PATH | OFlags::CLOEXEC, Mode::empty())
            .map_err(rx("opening a hierarchy's directory"))?;
        bind_own(h, &proc_cgroup, &sub, readonly)?;
    }
    // The host's links between hierarchies (cpu -> cpu,cpuacct on some systems).
    if let Some(parent) = first_v1.mount_point.parent() {
        for entry in std::fs::read_dir(parent).into_iter().flatten().flatten() {
            if let Ok(link) = std::fs::read_link(entry.path()) {
                let _ = rustix::fs::symlinkat(&link, &dir, entry.file_name().as_os_str());
            }
        }
    }
    if readonly {
        nsbox_sys::mount::set_tree_attrs(mounted, attr::RDONLY, 0, false)
            .map_err(super::fail("making the cgroup tmpfs read-only"))?;
    }
    Ok(())
}

/// Binds this process's cgroup directory of hierarchy `h` at `target`.
fn bind_own(h: &Hierarchy, proc_cgroup: &str, target: &OwnedFd, readonly: bool) -> Result<(), InitFailure> {
    let own = own_cgroup(proc_cgroup, &h.key).unwrap_or_else(|| "/".into());
    let inside = own.strip_prefix(h.mount_root.trim_end_matches('/')).unwrap_or(&own);
    let source = h.mount_point.join(inside.trim_start_matches('/'));
    let tree = rustix::mount::open_tree(CWD, &source, T::OPEN_TREE_CLONE | T::OPEN_TREE_CLOEXEC)
        .map_err(rx(format!("capturing cgroup {}", source.display())))?;
    let set = attr::NOSUID | attr::NODEV | attr::NOEXEC | if readonly { attr::RDONLY } else { 0 };
    nsbox_sys::mount::set_tree_attrs(&tree, set, 0, false)
        .map_err(super::fail("setting the cgroup mount's options"))?;
    use rustix::mount::MoveMountFlags as F;
    rustix::mount::move_mount(
        &tree,
        c"",
        target,
        c"",
        F::MOVE_MOUNT_F_EMPTY_PATH | F::MOVE_MOUNT_T_EMPTY_PATH,
    )
    .map_err(rx(format!("attaching cgroup {}", source.display())))
}
