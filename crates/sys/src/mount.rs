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
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_RDONLY,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    let empty = c"";
    // SAFETY: `empty` is a valid C string, `attr` is a valid `mount_attr` whose
    // size is passed with it, and the fd is borrowed for the whole call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_fd().as_raw_fd(),
            empty.as_ptr(),
            libc::AT_EMPTY_PATH | libc::AT_RECURSIVE,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
