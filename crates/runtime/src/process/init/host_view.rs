//! The host view: a root that is a fresh tmpfs with the host's system
//! directories read-only (merged-/usr links kept as links) and a sticky
//! world-writable /tmp — `nsbox unshare` without `--rootfs`, and lab
//! container nodes without one. The trees are captured (detached copies,
//! `open_tree`) before the tmpfs hides the staging directory's own
//! contents, then attached to it.

use super::{fail, rx};
use crate::process::channel::InitFailure;
use rustix::fs::{Mode, CWD};
use rustix::mount::{MountFlags, MoveMountFlags, OpenTreeFlags};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

/// The host directories a host view shows, read-only.
const HOST_DIRS: [&str; 8] = ["usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "etc"];

/// What a host directory turns into in the host view.
enum HostEntry {
    Tree(&'static str, OwnedFd),
    Symlink(&'static str, PathBuf),
}

/// Builds the host view at `staging` (in the container's mount namespace).
pub(super) fn build(staging: &Path) -> Result<(), InitFailure> {
    let entries = capture_host_dirs()?;
    let data = c"mode=0755";
    rustix::mount::mount("tmpfs", staging, "tmpfs", MountFlags::NOSUID | MountFlags::NODEV, data).map_err(rx(
        format!("building the host view: mounting tmpfs at {}", staging.display()),
    ))?;
    for entry in entries {
        match entry {
            HostEntry::Tree(name, fd) => {
                let target = staging.join(name);
                std::fs::create_dir(&target).map_err(fail(format!("building the host view: making /{name}")))?;
                rustix::mount::move_mount(&fd, "", CWD, &target, MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH)
                    .map_err(rx(format!("building the host view: attaching /{name}")))?;
            }
            HostEntry::Symlink(name, target) => std::os::unix::fs::symlink(&target, staging.join(name))
                .map_err(fail(format!("building the host view: linking /{name}")))?,
        }
    }
    // /tmp is a directory of the root's own tmpfs: a tmpfs of its own
    // would cost a superblock per start. The umask took bits off; /tmp
    // needs them all.
    let tmp = staging.join("tmp");
    let sticky = Mode::from_bits_truncate(0o1777);
    rustix::fs::mkdir(&tmp, sticky).map_err(rx("building the host view: making /tmp"))?;
    rustix::fs::chmod(&tmp, sticky).map_err(rx("building the host view: making /tmp"))
}

fn capture_host_dirs() -> Result<Vec<HostEntry>, InitFailure> {
    let mut out = Vec::new();
    for name in HOST_DIRS {
        let path = Path::new("/").join(name);
        match std::fs::symlink_metadata(&path) {
            // Merged-/usr systems have /bin -> usr/bin: keep the link as it is.
            Ok(m) if m.file_type().is_symlink() => {
                let target =
                    std::fs::read_link(&path).map_err(fail(format!("building the host view: reading /{name}")))?;
                out.push(HostEntry::Symlink(name, target));
            }
            Ok(m) if m.is_dir() => {
                let flags =
                    OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC | OpenTreeFlags::AT_RECURSIVE;
                let tree = rustix::mount::open_tree(CWD, &path, flags)
                    .map_err(rx(format!("building the host view: capturing /{name}")))?;
                nsbox_sys::mount::set_tree_readonly(&tree)
                    .map_err(fail(format!("building the host view: making /{name} read-only")))?;
                out.push(HostEntry::Tree(name, tree));
            }
            _ => {}
        }
    }
    Ok(out)
}
