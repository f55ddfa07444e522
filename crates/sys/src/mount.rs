//! Mount calls that rustix does not wrap: `mount_setattr`.

use std::io;
use std::os::fd::{AsFd, AsRawFd};

const MOUNT_ATTR_RDONLY: u64 = 0x0000_0001;

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// Makes the mount tree at `fd` (an `open_tree` or `fsmount` file descriptor)
/// read-only, with all its submounts.
///
/// Unlike a `MS_REMOUNT|MS_BIND|MS_RDONLY` remount, this works on a detached
/// tree in one call and covers every submount (Linux 5.12).
pub fn set_tree_readonly(fd: impl AsFd) -> io::Result<()> {
    set_tree_attrs(fd, MOUNT_ATTR_RDONLY, 0, true)
}

/// `MOUNT_ATTR_*` bits of `mount_setattr` (linux/mount.h).
pub mod attr {
    pub const RDONLY: u64 = 0x0000_0001;
    pub const NOSUID: u64 = 0x0000_0002;
    pub const NODEV: u64 = 0x0000_0004;
    pub const NOEXEC: u64 = 0x0000_0008;
    /// The access-time setting is one field of these bits, not three flags.
    pub const ATIME_MASK: u64 = 0x0000_0070;
    pub const RELATIME: u64 = 0x0000_0000;
    pub const NOATIME: u64 = 0x0000_0010;
    pub const STRICTATIME: u64 = 0x0000_0020;
    pub const NODIRATIME: u64 = 0x0000_0080;
    pub const IDMAP: u64 = 0x0010_0000;
}

/// Makes the detached tree at `fd` an id-mapped mount through the user
/// namespace at `userns` (with every submount if `recursive`).
pub fn set_tree_idmap(fd: impl AsFd, userns: impl AsFd, recursive: bool) -> io::Result<()> {
    let attr = MountAttr {
        attr_set: attr::IDMAP,
        attr_clr: 0,
        propagation: 0,
        userns_fd: userns.as_fd().as_raw_fd() as u64,
    };
    mount_setattr(fd, &attr, recursive)
}

/// Sets the attributes `set` and clears `clear` (`attr::*` bits) on the
/// mount at `fd` (with its submounts if `recursive`): the way to change a
/// bind mount's flags, detached or attached, in one call.
pub fn set_tree_attrs(fd: impl AsFd, set: u64, clear: u64, recursive: bool) -> io::Result<()> {
    let attr = MountAttr {
        attr_set: set,
        attr_clr: clear,
        propagation: 0,
        userns_fd: 0,
    };
    mount_setattr(fd, &attr, recursive)
}

fn mount_setattr(fd: impl AsFd, attr: &MountAttr, recursive: bool) -> io::Result<()> {
    let flags = libc::AT_EMPTY_PATH | if recursive { libc::AT_RECURSIVE } else { 0 };
    let empty = c"";
    // SAFETY: `empty` is a valid C string, `attr` is a valid `mount_attr` whose
    // size is passed with it, and the fd is borrowed for the whole call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_fd().as_raw_fd(),
            empty.as_ptr(),
            flags,
            attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
