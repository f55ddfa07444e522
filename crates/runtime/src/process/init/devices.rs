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

/// The device nodes of a minimal /dev with their (major, minor) numbers,
/// which the kernel fixes for every machine (Documentation/admin-guide/
/// devices.txt), so none is looked up on the host: runc's list.
pub const DEV_NODES: [(&str, u32, u32); 6] = [
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
];

/// The symlinks of a minimal /dev, with their targets.
pub const DEV_LINKS: [(&str, &str); 5] = [
    ("ptmx", "pts/ptmx"),
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
];

/// The devices every container gets (runc's list), made in a fresh /dev.
fn default_devices() -> Vec<Device> {
    DEV_NODES
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

/// A fresh /dev (a tmpfs just mounted): the default devices, /dev/shm as
/// a directory if asked, and the links, all through one descriptor of it
/// and with the umask cleared (the modes must be exactly these).
pub(super) fn populate_fresh_dev(root: &OwnedFd, in_user_ns: bool, shm_dir: bool) -> Result<(), InitFailure> {
    let dev = open_in_root(root, Path::new("/dev"), Make::Dir).map_err(rx("opening /dev"))?;
    // mknodat needs a real directory fd, not O_PATH.
    let dev = rustix::fs::openat(&dev, c".", OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
        .map_err(rx("opening /dev"))?;
    let old = rustix::process::umask(Mode::empty());
    let made = (|| {
        let creator = (rustix::process::geteuid().as_raw(), rustix::process::getegid().as_raw());
        for d in default_devices() {
            let step = format!("making device {}", d.path.display());
            make_device(&dev, &d, in_user_ns, creator, step)?;
        }
        if shm_dir {
            rustix::fs::mkdirat(&dev, c"shm", Mode::from_bits_truncate(0o1777)).map_err(rx("making /dev/shm"))?;
        }
        make_dev_links(&dev)
    })();
    rustix::process::umask(old);
    made
}

pub(super) fn make_devices(root: &OwnedFd, devices: &[Device], in_user_ns: bool) -> Result<(), InitFailure> {
    if devices.is_empty() {
        return Ok(());
    }
    let old = rustix::process::umask(Mode::empty());
    // Devices share their directory (/dev): it is opened once.
    let mut parent: Option<(&Path, OwnedFd)> = None;
    let creator = (rustix::process::geteuid().as_raw(), rustix::process::getegid().as_raw());
    let made = devices.iter().try_for_each(|d| {
        let step = format!("making device {}", d.path.display());
        let parent_path = d.path.parent().unwrap_or(Path::new("/"));
        if parent.as_ref().is_none_or(|(p, _)| *p != parent_path) {
            let dir = open_in_root(root, parent_path, Make::Dir).map_err(rx(step.clone()))?;
            // mknodat needs a real directory fd, not O_PATH.
            let dir = rustix::fs::openat(&dir, c".", OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
                .map_err(rx(step.clone()))?;
            parent = Some((parent_path, dir));
        }
        let (_, dir) = parent.as_ref().expect("opened above");
        make_device(dir, d, in_user_ns, creator, step)
    });
    rustix::process::umask(old);
    made
}

/// `creator`: this process's (uid, gid), who owns what it makes.
fn make_device(
    parent: &OwnedFd,
    d: &Device,
    in_user_ns: bool,
    creator: (u32, u32),
    step: String,
) -> Result<(), InitFailure> {
    let name = d.path.file_name().ok_or_else(|| InitFailure {
        step: step.clone(),
        message: "not a file name".into(),
    })?;
    let file_type = match d.kind {
        'b' => rustix::fs::FileType::BlockDevice,
        'p' => rustix::fs::FileType::Fifo,
        _ => rustix::fs::FileType::CharacterDevice,
    };
    let mode = Mode::from_bits_truncate(d.mode & 0o7777);
    let dev = rustix::fs::makedev(d.major, d.minor);
    let mut made = rustix::fs::mknodat(parent, name, file_type, mode, dev);
    if made == Err(rustix::io::Errno::EXIST) {
        // The rootfs has a file there: the device replaces it, as in runc.
        rustix::fs::unlinkat(parent, name, rustix::fs::AtFlags::empty()).map_err(rx(step.clone()))?;
        made = rustix::fs::mknodat(parent, name, file_type, mode, dev);
    }
    match made {
        // Where mknod is refused (a user namespace), the host's node is bound.
        Err(rustix::io::Errno::PERM) if in_user_ns || file_type != rustix::fs::FileType::Fifo => {
            rustix::fs::openat(
                parent,
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
            let target = rustix::fs::openat(parent, name, OFlags::PATH | OFlags::CLOEXEC, Mode::empty())
                .map_err(rx(step.clone()))?;
            return attach(&tree, &target);
        }
        other => other.map_err(rx(step.clone()))?,
    }
    // Made by this process: owned by it already (root, of the container's
    // user namespace where it has one).
    if (d.uid, d.gid) == creator {
        return Ok(());
    }
    rustix::fs::chownat(
        parent,
        name,
        Some(rustix::process::Uid::from_raw(d.uid)),
        Some(rustix::process::Gid::from_raw(d.gid)),
        rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
    )
    .map_err(rx(format!("{step}: setting its owner")))
}

/// /dev/ptmx → pts/ptmx, /dev/fd and the std links, /dev/core where /proc/kcore is.
fn make_dev_links(dev: &OwnedFd) -> Result<(), InitFailure> {
    let mut links: Vec<(&str, &str)> = DEV_LINKS.to_vec();
    if Path::new("/proc/kcore").exists() {
        links.push(("core", "/proc/kcore"));
    }
    for (name, target) in links {
        let step = || format!("linking /dev/{name} to {target}");
        match rustix::fs::symlinkat(target, dev, name) {
            Err(rustix::io::Errno::EXIST) => {
                rustix::fs::unlinkat(dev, name, rustix::fs::AtFlags::empty())
                    .map_err(rx(format!("replacing /dev/{name}")))?;
                rustix::fs::symlinkat(target, dev, name).map_err(rx(step()))?;
            }
            other => other.map_err(rx(step()))?,
        }
    }
    Ok(())
}
