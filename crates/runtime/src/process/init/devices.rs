//! The container's device nodes: the default ones (in a fresh /dev) and
//! `linux.devices`, with their modes and owners (the host's nodes bound
//! where mknod is refused), and /dev's links (ptmx, fd, stdio, core).

use super::mounts::{attach, open_in_root, Make};
use super::rx;
use crate::config::Device;
use crate::process::channel::InitFailure;
use rustix::fs::{Mode, OFlags, CWD};
use std::os::fd::OwnedFd;
use std::path::Path;

/// The devices every container gets (runc's list), made in a fresh /dev.
pub(super) fn default_devices() -> Vec<Device> {
    crate::rootfs::DEV_NODES
        .iter()
        .map(|&(name, major, minor)| Device {
            path: Path::new("/dev").join(name),
            kind: 'c',
            major,
            minor,
            mode: 0o666,
            uid: 0,
            gid: 0,
        })
        .collect()
}

pub(super) fn make_devices(root: &OwnedFd, devices: &[Device], in_user_ns: bool) -> Result<(), InitFailure> {
    let old = rustix::process::umask(Mode::empty());
    let made = devices.iter().try_for_each(|d| make_device(root, d, in_user_ns));
    rustix::process::umask(old);
    made
}

fn make_device(root: &OwnedFd, d: &Device, in_user_ns: bool) -> Result<(), InitFailure> {
    let step = format!("making device {}", d.path.display());
    let parent_path = d.path.parent().unwrap_or(Path::new("/"));
    let name = d.path.file_name().ok_or_else(|| InitFailure {
        step: step.clone(),
        message: "not a file name".into(),
    })?;
    let parent = open_in_root(root, parent_path, Make::Dir).map_err(rx(step.clone()))?;
    // openat needs a real directory fd, not O_PATH, for mknodat.
    let parent = rustix::fs::openat(&parent, c".", OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
        .map_err(rx(step.clone()))?;
    match rustix::fs::unlinkat(&parent, name, rustix::fs::AtFlags::empty()) {
        Ok(()) | Err(rustix::io::Errno::NOENT) => {}
        Err(e) => return Err(rx(step)(e)),
    }
    let file_type = match d.kind {
        'b' => rustix::fs::FileType::BlockDevice,
        'p' => rustix::fs::FileType::Fifo,
        _ => rustix::fs::FileType::CharacterDevice,
    };
    let mode = Mode::from_bits_truncate(d.mode & 0o7777);
    let dev = rustix::fs::makedev(d.major, d.minor);
    match rustix::fs::mknodat(&parent, name, file_type, mode, dev) {
        // Where mknod is refused (a user namespace), the host's node is bound.
        Err(rustix::io::Errno::PERM) if in_user_ns || file_type != rustix::fs::FileType::Fifo => {
            rustix::fs::openat(
                &parent,
                name,
                OFlags::CREATE | OFlags::WRONLY | OFlags::CLOEXEC,
                Mode::from_bits_truncate(0o644),
            )
            .map_err(rx(step.clone()))?;
            let tree = rustix::mount::open_tree(
                CWD,
                &d.path,
                rustix::mount::OpenTreeFlags::OPEN_TREE_CLONE | rustix::mount::OpenTreeFlags::OPEN_TREE_CLOEXEC,
            )
            .map_err(rx(format!("{step}: binding the host's node")))?;
            let target = rustix::fs::openat(&parent, name, OFlags::PATH | OFlags::CLOEXEC, Mode::empty())
                .map_err(rx(step.clone()))?;
            return attach(&tree, &target);
        }
        other => other.map_err(rx(step.clone()))?,
    }
    rustix::fs::chownat(
        &parent,
        name,
        Some(rustix::process::Uid::from_raw(d.uid)),
        Some(rustix::process::Gid::from_raw(d.gid)),
        rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
    )
    .map_err(rx(format!("{step}: setting its owner")))
}

/// /dev/ptmx → pts/ptmx, /dev/fd and the std links, /dev/core where /proc/kcore is.
pub(super) fn make_dev_links(root: &OwnedFd) -> Result<(), InitFailure> {
    let dev = open_in_root(root, Path::new("/dev"), Make::Dir).map_err(rx("opening /dev"))?;
    let dev = rustix::fs::openat(&dev, c".", OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
        .map_err(rx("opening /dev"))?;
    let mut links: Vec<(&str, &str)> = crate::rootfs::DEV_LINKS.to_vec();
    if Path::new("/proc/kcore").exists() {
        links.push(("core", "/proc/kcore"));
    }
    for (name, target) in links {
        match rustix::fs::unlinkat(&dev, name, rustix::fs::AtFlags::empty()) {
            Ok(()) | Err(rustix::io::Errno::NOENT) => {}
            Err(e) => return Err(rx(format!("replacing /dev/{name}"))(e)),
        }
        rustix::fs::symlinkat(target, &dev, name).map_err(rx(format!("linking /dev/{name} to {target}")))?;
    }
    Ok(())
}
