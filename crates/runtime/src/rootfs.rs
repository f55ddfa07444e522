//! The container's root filesystem: a host view or a directory, with a fresh
//! /proc, a minimal /dev, the user's binds and tmpfs mounts, then pivot_root.
//!
//! Runs in the child, inside its new mount namespace, before the command
//! starts. Every mount made here lives in that namespace only (propagation
//! is made private first), so a failure half-way leaves nothing on the host:
//! the namespace, and all its mounts, die with the child.

use crate::spec::{Bind, RootChoice, Spec};
use rustix::fs::CWD;
use rustix::mount::{
    mount, mount_bind_recursive, mount_change, move_mount, open_tree, unmount, MountFlags, MountPropagationFlags,
    MoveMountFlags, OpenTreeFlags, UnmountFlags,
};
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

/// One failed step of building the root, with the path it was working on.
#[derive(Debug, thiserror::Error)]
#[error("{step} {path}: {source}")]
pub struct RootfsError {
    pub step: &'static str,
    pub path: PathBuf,
    #[source]
    pub source: io::Error,
}

impl RootfsError {
    /// Names the path as the container will see it, not where it is being assembled.
    fn seen_from(mut self, new_root: &Path) -> Self {
        if let Ok(inside) = self.path.strip_prefix(new_root) {
            self.path = Path::new("/").join(inside);
        }
        self
    }
}

fn step<T>(step: &'static str, path: &Path, result: rustix::io::Result<T>) -> Result<T, RootfsError> {
    result.map_err(|e| RootfsError {
        step,
        path: path.to_path_buf(),
        source: e.into(),
    })
}

fn io_step<T>(step: &'static str, path: &Path, result: io::Result<T>) -> Result<T, RootfsError> {
    result.map_err(|source| RootfsError {
        step,
        path: path.to_path_buf(),
        source,
    })
}

/// The host directories a host view shows, read-only.
const HOST_DIRS: [&str; 8] = ["usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "etc"];

/// The device nodes of a minimal /dev with their (major, minor) numbers,
/// which the kernel fixes for every machine (Documentation/admin-guide/
/// devices.txt), so none is looked up on the host. As root they are made
/// with mknod, mode 0666 as on every Linux system; in a user namespace,
/// where mknod is refused, the host's nodes are bound instead.
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

/// The devpts options of a minimal /dev: a private instance whose ptmx anyone may open.
pub const DEVPTS_OPTIONS: &std::ffi::CStr = c"newinstance,ptmxmode=0666,mode=0620";

/// Where a host view's new root is assembled. It is mounted over inside the
/// private mount namespace only; every source is captured as a detached tree
/// before that, so a bind from under this path still works.
const STAGING: &str = "/tmp";

/// A device node of the container's /dev.
enum DevNode {
    /// The host's node, bound (in a user namespace, where mknod is refused).
    Bound(&'static str, OwnedFd),
    /// A new node (as root: one mknod is cheaper than a bind's clone and attach).
    Made(&'static str, rustix::fs::Dev),
}

fn capture_dev_nodes(in_user_ns: bool) -> Result<Vec<DevNode>, RootfsError> {
    let mut out = Vec::with_capacity(DEV_NODES.len());
    for (name, major, minor) in DEV_NODES {
        if in_user_ns {
            let path = Path::new("/dev").join(name);
            // A host without /dev/tty (no controlling terminal support) just lacks it inside.
            if rustix::fs::access(&path, rustix::fs::Access::EXISTS).is_ok() {
                out.push(DevNode::Bound(name, capture_tree(&path, false)?));
            }
        } else {
            out.push(DevNode::Made(name, rustix::fs::makedev(major, minor)));
        }
    }
    Ok(out)
}

/// What a host directory turns into in the host view.
pub(crate) enum HostEntry {
    Tree(&'static str, OwnedFd),
    Symlink(&'static str, PathBuf),
}

/// Builds the new root described by `spec` and pivots into it.
pub fn enter_new_root(spec: &Spec) -> Result<(), RootfsError> {
    // Nothing we mount may propagate back to the host's mount namespace.
    step(
        "making mounts private at",
        Path::new("/"),
        mount_change("/", MountPropagationFlags::REC | MountPropagationFlags::PRIVATE),
    )?;

    // Capture every source first: after the staging mount, paths under it
    // would show the staging tmpfs instead of the host's files.
    let host_entries = match spec.root {
        RootChoice::HostView => capture_host_dirs()?,
        RootChoice::Dir(_) => Vec::new(),
    };
    // Whether a source is a directory is read now too, while its path still
    // leads to it.
    let binds = spec
        .binds
        .iter()
        .map(|b| Ok((b, capture_tree(&b.source, b.readonly)?, is_dir(&b.source))))
        .collect::<Result<Vec<_>, RootfsError>>()?;
    let devs = capture_dev_nodes(spec.has(nsbox_ns::NsKind::User))?;

    let new_root = match &spec.root {
        RootChoice::HostView => {
            let root = PathBuf::from(STAGING);
            mount_tmpfs(&root, "mode=0755")?;
            for entry in host_entries {
                match entry {
                    HostEntry::Tree(name, fd) => attach(&fd, &root.join(name), true)?,
                    HostEntry::Symlink(name, target) => {
                        let link = root.join(name);
                        io_step("creating symlink", &link, std::os::unix::fs::symlink(&target, &link))?;
                    }
                }
            }
            // /tmp is a sticky world-writable directory of the root's own
            // tmpfs: a tmpfs of its own would cost a superblock per start.
            let tmp = root.join("tmp");
            let sticky = rustix::fs::Mode::from_bits_truncate(0o1777);
            step("creating directory", &tmp, rustix::fs::mkdir(&tmp, sticky))?;
            // The umask took some bits off; /tmp needs them all.
            step("setting the mode of", &tmp, rustix::fs::chmod(&tmp, sticky))?;
            root
        }
        RootChoice::Dir(dir) => {
            // pivot_root needs the new root to be a mount point.
            step("binding rootfs onto itself", dir, mount_bind_recursive(dir, dir))?;
            dir.clone()
        }
    };

    populate(spec, &new_root, devs, binds).map_err(|e| e.seen_from(&new_root))?;
    pivot_into(&new_root)
}

/// Mounts /proc, /dev, the binds and the tmpfs mounts under `new_root`.
fn populate(
    spec: &Spec,
    new_root: &Path,
    devs: Vec<DevNode>,
    binds: Vec<(&Bind, OwnedFd, bool)>,
) -> Result<(), RootfsError> {
    mount_proc(&ensure_dir(&new_root.join("proc"))?)?;
    build_dev(new_root, devs, spec.has(nsbox_ns::NsKind::Ipc))?;
    for (bind, fd, is_dir) in binds {
        attach(&fd, &new_root.join(relative(&bind.target)), is_dir)?;
    }
    for target in &spec.tmpfs {
        mount_tmpfs(&ensure_dir(&new_root.join(relative(target)))?, "mode=1777")?;
    }
    Ok(())
}

fn relative(path: &Path) -> &Path {
    path.strip_prefix("/").unwrap_or(path)
}

fn is_dir(path: &Path) -> bool {
    std::fs::metadata(path).map(|m| m.is_dir()).unwrap_or(true)
}

pub(crate) fn capture_host_dirs() -> Result<Vec<HostEntry>, RootfsError> {
    let mut out = Vec::new();
    for name in HOST_DIRS {
        let path = Path::new("/").join(name);
        match std::fs::symlink_metadata(&path) {
            // Merged-/usr systems have /bin -> usr/bin: keep the link as it is.
            Ok(m) if m.file_type().is_symlink() => out.push(HostEntry::Symlink(
                name,
                io_step("reading symlink", &path, std::fs::read_link(&path))?,
            )),
            Ok(m) if m.is_dir() => out.push(HostEntry::Tree(name, capture_tree(&path, true)?)),
            _ => {}
        }
    }
    Ok(out)
}

/// A detached copy of the mount tree at `path` (with its submounts), made
/// read-only if asked: a bind mount that is not attached anywhere yet.
fn capture_tree(path: &Path, readonly: bool) -> Result<OwnedFd, RootfsError> {
    let flags = OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC | OpenTreeFlags::AT_RECURSIVE;
    let fd = step("capturing bind source", path, open_tree(CWD, path, flags))?;
    if readonly {
        io_step("making read-only", path, nsbox_sys::mount::set_tree_readonly(&fd))?;
    }
    Ok(fd)
}

/// Attaches a captured tree at `target`, creating the mount point (a
/// directory, or an empty file for a file source).
pub(crate) fn attach(fd: &OwnedFd, target: &Path, is_dir: bool) -> Result<(), RootfsError> {
    if is_dir {
        ensure_dir(target)?;
    } else {
        if let Some(parent) = target.parent() {
            ensure_dir(parent)?;
        }
        if !target.exists() {
            io_step("creating mount point", target, std::fs::File::create(target).map(drop))?;
        }
    }
    step(
        "attaching mount at",
        target,
        move_mount(fd, "", CWD, target, MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH),
    )
}

fn ensure_dir(path: &Path) -> Result<PathBuf, RootfsError> {
    io_step("creating directory", path, std::fs::create_dir_all(path))?;
    Ok(path.to_path_buf())
}

pub(crate) fn mount_tmpfs(target: &Path, options: &str) -> Result<(), RootfsError> {
    let data = std::ffi::CString::new(options).expect("options have no NUL");
    step(
        "mounting tmpfs at",
        target,
        mount(
            "tmpfs",
            target,
            "tmpfs",
            MountFlags::NOSUID | MountFlags::NODEV,
            data.as_c_str(),
        ),
    )
}

/// A fresh proc for the container's pid namespace. Where the kernel refuses
/// (a user namespace that does not own the pid namespace), the host's /proc
/// is bound instead, as bwrap does.
fn mount_proc(target: &Path) -> Result<(), RootfsError> {
    let flags = MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC;
    match mount("proc", target, "proc", flags, None) {
        Ok(()) => Ok(()),
        Err(rustix::io::Errno::PERM) => step("binding /proc at", target, mount_bind_recursive("/proc", target)),
        Err(e) => step("mounting proc at", target, Err(e)),
    }
}

/// /dev: a tmpfs with the basic device nodes, a private devpts, and /dev/shm
/// (a sticky world-writable directory of that tmpfs, as bwrap makes it: a
/// tmpfs of its own would cost a superblock made and torn down per start);
/// with a new ipc namespace, its POSIX message queues at /dev/mqueue.
fn build_dev(new_root: &Path, nodes: Vec<DevNode>, own_ipc: bool) -> Result<(), RootfsError> {
    let dev = ensure_dir(&new_root.join("dev"))?;
    let data = c"mode=0755";
    step(
        "mounting tmpfs at",
        &dev,
        mount("tmpfs", &dev, "tmpfs", MountFlags::NOSUID | MountFlags::NOEXEC, data),
    )?;
    // The modes must be exactly these, not what the umask leaves of them.
    let umask = rustix::process::umask(rustix::fs::Mode::empty());
    let made = populate_dev(&dev, nodes);
    rustix::process::umask(umask);
    made?;
    let pts = dev.join("pts");
    step(
        "mounting devpts at",
        &pts,
        mount(
            "devpts",
            &pts,
            "devpts",
            MountFlags::NOSUID | MountFlags::NOEXEC,
            DEVPTS_OPTIONS,
        ),
    )?;
    for (link, target) in DEV_LINKS {
        let path = dev.join(link);
        io_step("creating symlink", &path, std::os::unix::fs::symlink(target, &path))?;
    }
    if own_ipc {
        // The mqueue filesystem shows the queues of the ipc namespace of
        // whoever mounts it: this process's new one. The namespace already
        // has its superblock, so the mount costs no new one.
        let mqueue = dev.join("mqueue");
        let mode = rustix::fs::Mode::from_bits_truncate(0o1777);
        step("creating directory", &mqueue, rustix::fs::mkdir(&mqueue, mode))?;
        step(
            "mounting mqueue at",
            &mqueue,
            mount(
                "mqueue",
                &mqueue,
                "mqueue",
                MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC,
                c"",
            ),
        )?;
    }
    Ok(())
}

/// The device nodes, the shm directory and the devpts mount point in the
/// fresh tmpfs at `dev` (the caller has cleared the umask).
fn populate_dev(dev: &Path, nodes: Vec<DevNode>) -> Result<(), RootfsError> {
    for node in nodes {
        match node {
            DevNode::Bound(name, fd) => attach(&fd, &dev.join(name), false)?,
            DevNode::Made(name, rdev) => {
                let path = dev.join(name);
                let mode = rustix::fs::Mode::from_bits_truncate(0o666);
                match rustix::fs::mknodat(CWD, &path, rustix::fs::FileType::CharacterDevice, mode, rdev) {
                    // Root of a user namespace that nsbox did not make (nsbox
                    // inside a rootless container): bind the host's node instead.
                    Err(rustix::io::Errno::PERM) => {
                        attach(&capture_tree(&Path::new("/dev").join(name), false)?, &path, false)?
                    }
                    made => step("creating device node", &path, made)?,
                }
            }
        }
    }
    for (name, mode) in [("shm", 0o1777), ("pts", 0o755)] {
        let path = dev.join(name);
        step(
            "creating directory",
            &path,
            rustix::fs::mkdir(&path, rustix::fs::Mode::from_bits_truncate(mode)),
        )?;
    }
    Ok(())
}

/// Makes `new_root` the root and detaches the old one, so that no path
/// leads back to the host's files.
pub(crate) fn pivot_into(new_root: &Path) -> Result<(), RootfsError> {
    // pivot_root(".", ".") stacks the old root on top of the new one at "/";
    // unmounting "." then takes the old root away without needing a
    // directory to park it in (the trick runc and crun use).
    step("entering new root", new_root, rustix::process::chdir(new_root))?;
    step("pivot_root into", new_root, rustix::process::pivot_root(".", "."))?;
    // The old root is private already; detaching it drops every host mount
    // from this namespace.
    step("detaching old root from", new_root, unmount(".", UnmountFlags::DETACH))?;
    step("entering new root", Path::new("/"), rustix::process::chdir("/"))?;
    Ok(())
}
