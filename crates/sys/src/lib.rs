//! Every `unsafe` block of nsbox and the raw syscalls that rustix does not offer.
//!
//! Nothing here holds policy: each function does one kernel call (or a tight
//! sequence that only makes sense together) and reports the kernel's error.

pub mod clone;
pub mod errno;
pub mod exec;
pub mod mount;
pub mod net;
pub mod signal;
pub mod spawn;

pub use clone::{clone3, clone3_available, clone3_checked, clone3_into_cgroup, clone_checked, CloneResult};
pub use exec::execve;
pub use signal::SignalSet;

/// Ends the calling process at once, without running Rust or C exit handlers.
///
/// Used by forked children, which must not flush buffers or run destructors
/// that belong to the parent's copy of the address space.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: `_exit` has no preconditions; it never returns.
    unsafe { libc::_exit(code) }
}

/// Opens /dev/null on whichever of file descriptors 0, 1 and 2 is closed, as
/// Rust's runtime start does for programs that begin at its `main`.
///
/// A program started with, say, stdout closed would otherwise hand fd 1 to
/// the next file it opens, and later writes meant for stdout would land there.
pub fn open_closed_std_fds() {
    let mut fds = [0, 1, 2].map(|fd| libc::pollfd {
        fd,
        events: 0,
        revents: 0,
    });
    // SAFETY: `fds` is a live array of three pollfd structures, and its
    // length is passed with it; a zero timeout never blocks.
    let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 0) };
    if rc < 0 {
        return;
    }
    for pfd in fds.iter().filter(|p| p.revents & libc::POLLNVAL != 0) {
        // The lowest free number is taken by open: the closed one, since
        // the lower ones are open or being filled in this same order.
        // SAFETY: the path is a NUL-terminated literal; the flags are plain bits.
        let fd = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) };
        if fd != pfd.fd {
            // /dev/null missing or a number mismatch: nothing better to do
            // than leave things as they were.
            if fd >= 0 {
                // SAFETY: `fd` was just opened here and is owned by no one else.
                unsafe { libc::close(fd) };
            }
            return;
        }
    }
}

/// Sends signal `sig` (a raw number, so that real-time signals work too) to `pid`.
pub fn kill(pid: i32, sig: i32) -> std::io::Result<()> {
    // SAFETY: kill takes plain integers and touches no memory of ours.
    let rc = unsafe { libc::kill(pid, sig) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Moves the calling thread into new namespaces of the kinds in `flags`
/// (only `CLONE_NEW*` bits are accepted).
pub fn unshare_namespaces(flags: u64) -> std::io::Result<()> {
    const NAMESPACE_FLAGS: u64 = (libc::CLONE_NEWCGROUP
        | libc::CLONE_NEWIPC
        | libc::CLONE_NEWNET
        | libc::CLONE_NEWNS
        | libc::CLONE_NEWPID
        | libc::CLONE_NEWTIME
        | libc::CLONE_NEWUSER
        | libc::CLONE_NEWUTS) as u32 as u64;
    if flags & !NAMESPACE_FLAGS != 0 {
        return Err(std::io::Error::from_raw_os_error(libc::EINVAL));
    }
    // SAFETY: only namespace flags reach the kernel (checked above); those
    // do not unshare file tables or other state Rust code relies on.
    let rc = unsafe { libc::unshare(flags as libc::c_int) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}
