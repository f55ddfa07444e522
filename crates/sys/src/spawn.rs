//! `posix_spawn`: start a program without copying the caller's address
//! space. glibc implements it with `clone(CLONE_VM | CLONE_VFORK)` on a
//! separate stack, which is what makes it cheaper than fork + exec for a
//! large parent, and it reports an exec failure as its return value.

use crate::SignalSet;
use std::ffi::{CStr, CString};
use std::io;

/// Starts `path` with `argv` and `envp`, with the signal mask `mask` and the
/// signals in `defaults` reset to their default disposition. Returns the
/// child's PID, or the error exec gave.
pub fn spawn(
    path: &CStr,
    argv: &[CString],
    envp: &[CString],
    mask: &SignalSet,
    defaults: &SignalSet,
) -> io::Result<i32> {
    let mut argv_ptrs: Vec<*mut libc::c_char> = argv.iter().map(|a| a.as_ptr() as *mut _).collect();
    argv_ptrs.push(std::ptr::null_mut());
    let mut envp_ptrs: Vec<*mut libc::c_char> = envp.iter().map(|e| e.as_ptr() as *mut _).collect();
    envp_ptrs.push(std::ptr::null_mut());

    // SAFETY: posix_spawnattr_t is plain data that posix_spawnattr_init
    // initialises before any other use.
    let mut attr: libc::posix_spawnattr_t = unsafe { std::mem::zeroed() };
    // SAFETY: `attr` is valid for writes; it is destroyed below on every path.
    let rc = unsafe { libc::posix_spawnattr_init(&mut attr) };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    let flags = (libc::POSIX_SPAWN_SETSIGMASK | libc::POSIX_SPAWN_SETSIGDEF) as libc::c_short;
    let mut pid: libc::pid_t = 0;
    // SAFETY: `attr` was initialised above; the sigsets are valid values
    // copied by the calls; the argument and environment arrays are
    // NULL-terminated and point into CStrings that outlive the call
    // (posix_spawn does not write through them despite the *mut type).
    let rc = unsafe {
        let mut rc = libc::posix_spawnattr_setflags(&mut attr, flags);
        if rc == 0 {
            rc = libc::posix_spawnattr_setsigmask(&mut attr, mask.as_raw());
        }
        if rc == 0 {
            rc = libc::posix_spawnattr_setsigdefault(&mut attr, defaults.as_raw());
        }
        if rc == 0 {
            rc = libc::posix_spawn(
                &mut pid,
                path.as_ptr(),
                std::ptr::null(),
                &attr,
                argv_ptrs.as_ptr(),
                envp_ptrs.as_ptr(),
            );
        }
        libc::posix_spawnattr_destroy(&mut attr);
        rc
    };
    if rc == 0 {
        Ok(pid)
    } else {
        Err(io::Error::from_raw_os_error(rc))
    }
}
