//! Every `unsafe` block of nsbox and the raw syscalls that rustix does not offer.
//!
//! Nothing here holds policy: each function does one kernel call (or a tight
//! sequence that only makes sense together) and reports the kernel's error.

pub mod clone;
pub mod exec;
pub mod mount;
pub mod net;
pub mod signal;
pub mod spawn;

pub use clone::{clone3, clone3_checked, CloneResult};
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
