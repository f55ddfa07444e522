//! `nsbox netns exec NAME -- CMD`: run a command in a named network
//! namespace the way `ip netns exec` does, so that scripts written for one
//! work with the other.
//!
//! Besides joining the namespace, the command gets a mount namespace of its
//! own where /sys shows the namespace's interfaces and files from
//! `/etc/netns/NAME/` replace their namesakes in /etc (a per-namespace
//! resolv.conf, say).

use crate::exec::{describe, Command, Failure};
use nsbox_ns::netns::Registry;
use rustix::mount::{mount, mount_bind, mount_change, unmount, MountFlags, MountPropagationFlags, UnmountFlags};
use std::path::Path;

/// Replaces nsbox with `command` inside network namespace `name`. Returns
/// only on failure.
pub fn netns_exec(registry: &Registry, name: &str, command: &Command) -> Failure {
    match enter(registry, name) {
        Ok(()) => command.exec(),
        Err(failure) => failure,
    }
}

fn enter(registry: &Registry, name: &str) -> Result<(), Failure> {
    let fd = registry.open(name).map_err(Failure::setup)?;
    let fail = |step: &str| {
        let step = step.to_string();
        move |e: rustix::io::Errno| Failure::setup(format!("{step}: {}", describe(&e.into())))
    };
    rustix::thread::move_into_link_name_space(
        std::os::fd::AsFd::as_fd(&fd),
        Some(rustix::thread::LinkNameSpaceType::Network),
    )
    .map_err(fail("joining the network namespace"))?;
    nsbox_sys::unshare_namespaces(libc::CLONE_NEWNS as u64)
        .map_err(|e| Failure::setup(format!("creating a mount namespace: {}", describe(&e))))?;
    // Mounts made from here on stay in this process's namespace.
    mount_change("/", MountPropagationFlags::DOWNSTREAM | MountPropagationFlags::REC)
        .map_err(fail("making mounts private"))?;
    remount_sys(name).map_err(fail("mounting /sys"))?;
    bind_etc_overrides(name);
    Ok(())
}

/// A sysfs of the joined namespace over /sys: sysfs shows the network
/// devices of the namespace that mounts it. Read-only if /sys was.
fn remount_sys(name: &str) -> rustix::io::Result<()> {
    let readonly = rustix::fs::statvfs("/sys")
        .map(|s| s.f_flag.contains(rustix::fs::StatVfsMountFlags::RDONLY))
        .unwrap_or(false);
    // /sys may be absent or already unmounted in a minimal environment.
    let _ = unmount("/sys", UnmountFlags::DETACH);
    let flags = if readonly {
        MountFlags::RDONLY
    } else {
        MountFlags::empty()
    };
    mount(name, "/sys", "sysfs", flags, None)
}

/// Binds every file of /etc/netns/NAME/ over its namesake in /etc, as
/// `ip netns exec` does; like it, one that fails is reported and skipped.
fn bind_etc_overrides(name: &str) {
    let dir = Path::new("/etc/netns").join(name);
    let Ok(entries) = std::fs::read_dir(&dir) else { return };
    for entry in entries.flatten() {
        let target = Path::new("/etc").join(entry.file_name());
        if let Err(e) = mount_bind(entry.path(), &target) {
            eprintln!(
                "nsbox: binding {} over {}: {}",
                entry.path().display(),
                target.display(),
                describe(&e.into())
            );
        }
    }
}
