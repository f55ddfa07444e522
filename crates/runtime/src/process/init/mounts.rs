//! The container's root: `/` made slave (or as `rootfsPropagation` says),
//! the rootfs bound onto itself, `mounts` in order (each destination
//! resolved inside the rootfs, never through a symlink out of it), the
//! device nodes, pivot_root (or MS_MOVE and chroot), masked and read-only
//! paths, and a read-only root last.

use super::devices;
use super::{fail, rx};
use crate::config::{Config, Mount, MountKind, Origin};
use crate::process::channel::InitFailure;
use nsbox_sys::mount::attr;
use rustix::fs::{Mode, OFlags, ResolveFlags, CWD};
use rustix::mount::{MountFlags, MountPropagationFlags as P};
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Everything before pivot_root: `/` a slave, the rootfs a mount of its
/// own, `mounts` in order, the devices.
pub(super) fn build_root(config: &Config, idmap_userns: &[(usize, OwnedFd)]) -> Result<(), InitFailure> {
    let root_propagation = if config.rootfs_propagation.contains(P::SHARED) {
        config.rootfs_propagation
    } else {
        // Host mounts may reach the container, never the other way round.
        P::DOWNSTREAM | P::REC
    };
    rustix::mount::mount_change("/", root_propagation).map_err(rx("making / a slave mount"))?;
    let rootfs = &config.rootfs;
    // A host view's tmpfs hides what is under its staging directory: bind
    // sources are captured before it (a bind of `/tmp/x` with /tmp as the
    // staging directory still finds the host's /tmp/x).
    let mut captured: Vec<Option<Captured>> = Vec::new();
    if config.host_view {
        captured = config
            .mounts
            .iter()
            .enumerate()
            .map(|(i, m)| match m.kind {
                MountKind::Bind { recursive } => capture(m, recursive)
                    .map(Some)
                    .map_err(|f| named(config.origin, i, m, f)),
                MountKind::New => Ok(None),
            })
            .collect::<Result<_, _>>()?;
        super::host_view::build(rootfs)?;
    } else {
        rustix::mount::mount_bind_recursive(rootfs, rootfs)
            .map_err(rx(format!("binding the rootfs {} onto itself", rootfs.display())))?;
    }
    let root_fd = rustix::fs::open(
        rootfs,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(rx(format!("opening the rootfs {}", rootfs.display())))?;
    for (i, m) in config.mounts.iter().enumerate() {
        let userns = idmap_userns.iter().find(|(at, _)| *at == i).map(|(_, fd)| fd);
        let tree = captured.get_mut(i).and_then(Option::take);
        mount_one(&root_fd, m, userns, tree).map_err(|f| named(config.origin, i, m, f))?;
    }
    let dev_is_fresh = config
        .mounts
        .iter()
        .any(|m| m.destination == Path::new("/dev") && m.kind == MountKind::New);
    if dev_is_fresh {
        devices::populate_fresh_dev(&root_fd, config.creates(nsbox_ns::NsKind::User), config.dev_shm_dir)?;
    }
    devices::make_devices(&root_fd, &config.devices, config.creates(nsbox_ns::NsKind::User))
}

/// A failure of `mounts[i]`, named as the user wrote it.
fn named(origin: Origin, i: usize, m: &Mount, mut f: InitFailure) -> InitFailure {
    let what = format!("{} at {}", m.fstype_or_bind(), m.destination.display());
    f.step = match origin {
        Origin::ConfigJson => format!("mounts[{i}] ({what}): {}", f.step),
        Origin::UnshareFlags => format!("{what}: {}", f.step),
    };
    f
}

/// After the hooks that run before it: pivot_root (or MS_MOVE and chroot),
/// read-only and masked paths, a read-only root, the root's propagation.
pub(super) fn enter_root(config: &Config, no_pivot: bool) -> Result<(), InitFailure> {
    let rootfs = &config.rootfs;
    if no_pivot {
        move_root(rootfs)?;
    } else {
        pivot_into(rootfs)?;
    }
    // runc's order: read-only paths, then masks (a mask under a read-only
    // path is still made).
    for path in &config.readonly_paths {
        make_readonly(path)?;
    }
    for path in &config.masked_paths {
        mask(path)?;
    }
    if config.rootfs_readonly {
        let fd = open_path(Path::new("/")).map_err(rx("opening /"))?;
        nsbox_sys::mount::set_tree_attrs(&fd, attr::RDONLY, 0, false).map_err(fail("making root.readonly"))?;
    }
    if config.rootfs_propagation != (P::PRIVATE | P::REC) {
        rustix::mount::mount_change("/", config.rootfs_propagation).map_err(rx("setting linux.rootfsPropagation"))?;
    }
    Ok(())
}

impl Mount {
    fn fstype_or_bind(&self) -> &str {
        match self.kind {
            MountKind::Bind { .. } => "bind",
            MountKind::New => &self.fstype,
        }
    }
}

fn open_path(path: &Path) -> rustix::io::Result<OwnedFd> {
    rustix::fs::open(path, OFlags::PATH | OFlags::CLOEXEC, Mode::empty())
}

/// What a missing destination is created as.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Make {
    Dir,
    File,
}

/// Opens `dest` inside the root at `root` (O_PATH), symlinks resolved as if
/// `root` were `/` (openat2 RESOLVE_IN_ROOT: nothing outside is reachable);
/// creates what is missing (directories 0755, the last one a file if asked),
/// also the target of a dangling symlink on the way, inside the root.
pub(super) fn open_in_root(root: &OwnedFd, dest: &Path, make: Make) -> rustix::io::Result<OwnedFd> {
    make_in_root(root, dest, make, 0)
}

fn open_resolved(root: &OwnedFd, path: &Path) -> rustix::io::Result<OwnedFd> {
    let resolve = ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS;
    let path = path.strip_prefix("/").unwrap_or(path);
    let path = if path.as_os_str().is_empty() {
        Path::new(".")
    } else {
        path
    };
    rustix::fs::openat2(root, path, OFlags::PATH | OFlags::CLOEXEC, Mode::empty(), resolve)
}

/// How many dangling symlinks one destination may lead through (the kernel's own limit).
const MAX_LINKS: u32 = 40;

fn make_in_root(root: &OwnedFd, dest: &Path, make: Make, depth: u32) -> rustix::io::Result<OwnedFd> {
    match open_resolved(root, dest) {
        Err(rustix::io::Errno::NOENT) if depth < MAX_LINKS => {}
        other => return other,
    }
    // Most often only the last component is missing (a mount point in a
    // fresh tmpfs): made in its parent at once, without the walk below.
    if let (Some(parent), Some(name)) = (dest.parent(), dest.file_name()) {
        if let Ok(dir) = open_resolved(root, parent) {
            let made = match make {
                Make::Dir => rustix::fs::mkdirat(&dir, name, Mode::from_bits_truncate(0o755)),
                Make::File => rustix::fs::openat(
                    &dir,
                    name,
                    OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::CLOEXEC,
                    Mode::from_bits_truncate(0o644),
                )
                .map(drop),
            };
            if made.is_ok() {
                return open_resolved(root, dest);
            }
        }
    }
    let parts: Vec<_> = dest
        .components()
        .filter(|c| matches!(c, std::path::Component::Normal(_)))
        .collect();
    let mut so_far = PathBuf::from("/");
    for (i, part) in parts.iter().enumerate() {
        let next = so_far.join(part);
        if open_resolved(root, &next).is_err() {
            let parent = open_resolved(root, &so_far)?;
            match rustix::fs::readlinkat(&parent, part.as_os_str(), Vec::new()) {
                // A dangling symlink: what it names is made, inside the root.
                Ok(target) => {
                    let target = PathBuf::from(std::ffi::OsStr::from_bytes(target.as_bytes()));
                    let whole = so_far.join(target);
                    let kind = if i + 1 == parts.len() { make } else { Make::Dir };
                    make_in_root(root, &whole, kind, depth + 1)?;
                }
                Err(_) if i + 1 == parts.len() && make == Make::File => {
                    rustix::fs::openat(
                        &parent,
                        part.as_os_str(),
                        OFlags::CREATE | OFlags::WRONLY | OFlags::CLOEXEC,
                        Mode::from_bits_truncate(0o644),
                    )
                    .map(drop)?;
                }
                Err(_) => match rustix::fs::mkdirat(&parent, part.as_os_str(), Mode::from_bits_truncate(0o755)) {
                    Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                    Err(e) => return Err(e),
                },
            }
        }
        so_far = next;
    }
    open_resolved(root, dest)
}

/// The path through which the kernel reaches what `fd` is open on.
fn proc_path(fd: &OwnedFd) -> CString {
    CString::new(format!("/proc/self/fd/{}", fd.as_raw_fd())).expect("no NUL")
}

fn mount_one(
    root: &OwnedFd,
    m: &Mount,
    userns: Option<&OwnedFd>,
    captured: Option<Captured>,
) -> Result<(), InitFailure> {
    match m.kind {
        MountKind::Bind { recursive } => {
            let captured = match captured {
                Some(c) => c,
                None => capture(m, recursive)?,
            };
            bind(root, m, recursive, userns, captured)
        }
        MountKind::New if m.fstype == "cgroup" || m.fstype == "cgroup2" => {
            let target = open_in_root(root, &m.destination, Make::Dir).map_err(rx("creating the mount point"))?;
            super::cgroup_mount::mount_cgroups(&target, m)?;
            // The fd shows the directory under the new mount; the path
            // resolved again reaches the mount itself.
            let mounted = open_in_root(root, &m.destination, Make::Dir).map_err(rx("opening the mount"))?;
            super::cgroup_mount::finish(&mounted, m)
        }
        MountKind::New => {
            let target = open_in_root(root, &m.destination, Make::Dir).map_err(rx("creating the mount point"))?;
            let source = m.source.clone().unwrap_or_else(|| PathBuf::from(&m.fstype));
            let data = CString::new(m.data.as_str()).map_err(|_| InitFailure {
                step: "reading options".into(),
                message: "an option contains a NUL byte".into(),
            })?;
            let result = rustix::mount::mount(
                &source,
                proc_path(&target).as_c_str(),
                &m.fstype,
                m.flags,
                data.as_c_str(),
            );
            match result {
                // A user namespace that does not own the pid namespace may
                // not mount proc; nor sysfs without its own network
                // namespace: runc binds the host's then, and so does nsbox.
                Err(rustix::io::Errno::PERM) if m.fstype == "proc" || m.fstype == "sysfs" => {
                    let host = if m.fstype == "proc" { "/proc" } else { "/sys" };
                    let tree = rustix::mount::open_tree(
                        CWD,
                        host,
                        rustix::mount::OpenTreeFlags::OPEN_TREE_CLONE
                            | rustix::mount::OpenTreeFlags::OPEN_TREE_CLOEXEC
                            | rustix::mount::OpenTreeFlags::AT_RECURSIVE,
                    )
                    .map_err(rx(format!("binding the host's {host}")))?;
                    attach(&tree, &target)?;
                }
                other => other.map_err(rx("mounting"))?,
            }
            if m.propagation.is_some() || m.recursive_set != 0 || m.recursive_clear != 0 {
                let mounted = open_in_root(root, &m.destination, Make::Dir).map_err(rx("opening the mount"))?;
                finish_mount(&mounted, m)?;
            }
            Ok(())
        }
    }
}

pub(super) fn attach(tree: &OwnedFd, target: &OwnedFd) -> Result<(), InitFailure> {
    use rustix::mount::MoveMountFlags as F;
    rustix::mount::move_mount(
        tree,
        c"",
        target,
        c"",
        F::MOVE_MOUNT_F_EMPTY_PATH | F::MOVE_MOUNT_T_EMPTY_PATH,
    )
    .map_err(rx("attaching the mount"))
}

/// `mount_setattr` bits for a mount's flags: what to set and what to clear.
fn attrs(set: MountFlags, cleared: MountFlags) -> (u64, u64) {
    let pairs = [
        (MountFlags::RDONLY, attr::RDONLY),
        (MountFlags::NOSUID, attr::NOSUID),
        (MountFlags::NODEV, attr::NODEV),
        (MountFlags::NOEXEC, attr::NOEXEC),
        (MountFlags::NODIRATIME, attr::NODIRATIME),
    ];
    let (mut on, mut off) = (0, 0);
    for (flag, bit) in pairs {
        if set.contains(flag) {
            on |= bit;
        }
        if cleared.contains(flag) {
            off |= bit;
        }
    }
    // Access times are one field: setting one of its values clears the rest.
    for (flag, value) in [
        (MountFlags::NOATIME, attr::NOATIME),
        (MountFlags::STRICTATIME, attr::STRICTATIME),
        (MountFlags::RELATIME, attr::RELATIME),
    ] {
        if set.contains(flag) {
            on = (on & !attr::ATIME_MASK) | value;
            off |= attr::ATIME_MASK;
        }
    }
    (on, off)
}

/// A bind's source as a detached tree, and whether it is a directory
/// (read while its path still leads to it).
pub(super) struct Captured {
    tree: OwnedFd,
    is_dir: bool,
}

fn capture(m: &Mount, recursive: bool) -> Result<Captured, InitFailure> {
    use rustix::mount::OpenTreeFlags as T;
    let source = m.source.as_ref().expect("a bind has a source (checked)");
    let mut flags = T::OPEN_TREE_CLONE | T::OPEN_TREE_CLOEXEC;
    if recursive {
        flags |= T::AT_RECURSIVE;
    }
    let tree = rustix::mount::open_tree(CWD, source, flags)
        .map_err(rx(format!("capturing the source {}", source.display())))?;
    Ok(Captured {
        tree,
        is_dir: source.is_dir(),
    })
}

fn bind(
    root: &OwnedFd,
    m: &Mount,
    recursive: bool,
    userns: Option<&OwnedFd>,
    Captured { tree, is_dir }: Captured,
) -> Result<(), InitFailure> {
    if let (Some(idmap), Some(userns)) = (&m.idmap, userns) {
        nsbox_sys::mount::set_tree_idmap(&tree, userns, idmap.recursive).map_err(fail("id-mapping the mount"))?;
    }
    let (on, off) = attrs(m.flags, m.cleared);
    if on != 0 || off != 0 {
        nsbox_sys::mount::set_tree_attrs(&tree, on, off, recursive).map_err(fail("setting the options"))?;
    }
    let make = if is_dir { Make::Dir } else { Make::File };
    let target = open_in_root(root, &m.destination, make).map_err(rx("creating the mount point"))?;
    attach(&tree, &target)?;
    if m.propagation.is_some() || m.recursive_set != 0 || m.recursive_clear != 0 {
        let mounted = open_in_root(root, &m.destination, make).map_err(rx("opening the mount"))?;
        finish_mount(&mounted, m)?;
    }
    Ok(())
}

/// What is set on a mount once it is in place: the recursive attributes
/// (`rro`, ...) on it and every mount under it, then its propagation.
fn finish_mount(mounted: &OwnedFd, m: &Mount) -> Result<(), InitFailure> {
    if m.recursive_set != 0 || m.recursive_clear != 0 {
        nsbox_sys::mount::set_tree_attrs(mounted, m.recursive_set, m.recursive_clear, true)
            .map_err(fail("setting the recursive options"))?;
    }
    if let Some(p) = m.propagation {
        rustix::mount::mount_change(proc_path(mounted).as_c_str(), p).map_err(rx("setting propagation"))?;
    }
    Ok(())
}

/// Makes `new_root` the root and detaches the old one, so that no path
/// leads back to the host's files. pivot_root(".", ".") stacks the old
/// root on top of the new one at "/"; unmounting "." then takes the old
/// root away without a directory to park it in (runc's and crun's trick).
fn pivot_into(new_root: &Path) -> Result<(), InitFailure> {
    let at = new_root.display();
    rustix::process::chdir(new_root).map_err(rx(format!("entering the new root {at}")))?;
    rustix::process::pivot_root(".", ".").map_err(rx(format!("pivot_root into {at}")))?;
    // The old root is a slave or private: detaching it drops every host
    // mount from this namespace, and from no other.
    rustix::mount::unmount(".", rustix::mount::UnmountFlags::DETACH)
        .map_err(rx(format!("detaching the old root from {at}")))?;
    rustix::process::chdir("/").map_err(rx("entering /"))
}

/// runc's --no-pivot: the rootfs moved onto / and chrooted into.
fn move_root(rootfs: &Path) -> Result<(), InitFailure> {
    rustix::process::chdir(rootfs).map_err(rx("entering the rootfs"))?;
    rustix::mount::mount_move(".", "/").map_err(rx("moving the rootfs onto / (--no-pivot)"))?;
    rustix::process::chroot(".").map_err(rx("chroot into the rootfs (--no-pivot)"))?;
    rustix::process::chdir("/").map_err(rx("entering /"))
}

/// A masked path: /dev/null over a file, an empty read-only tmpfs over a
/// directory; a path that does not exist needs no mask.
fn mask(path: &Path) -> Result<(), InitFailure> {
    let step = format!("masking linux.maskedPaths {}", path.display());
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(fail(step)(e)),
    };
    if meta.is_dir() {
        rustix::mount::mount("tmpfs", path, "tmpfs", MountFlags::RDONLY, c"").map_err(rx(step))
    } else {
        rustix::mount::mount_bind("/dev/null", path).map_err(rx(step))
    }
}

fn make_readonly(path: &Path) -> Result<(), InitFailure> {
    let step = format!("making linux.readonlyPaths {} read-only", path.display());
    match rustix::mount::mount_bind_recursive(path, path) {
        Ok(()) => {}
        Err(rustix::io::Errno::NOENT) => return Ok(()),
        Err(e) => return Err(rx(step)(e)),
    }
    let fd = open_path(path).map_err(rx(step.clone()))?;
    nsbox_sys::mount::set_tree_attrs(fd.as_fd(), attr::RDONLY, 0, true).map_err(fail(step))
}
