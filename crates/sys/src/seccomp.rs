//! Loading a compiled seccomp filter (a BPF program) into the calling
//! thread, with seccomp(2) itself: the program was made by libseccomp in
//! the runtime, so the container's process needs no library call here.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

const SECCOMP_SET_MODE_FILTER: libc::c_uint = 1;
/// The flag that asks for a notification listener (returned as an fd).
const SECCOMP_FILTER_FLAG_NEW_LISTENER: u32 = 8;

/// Loads `bpf` (an array of `struct sock_filter`, 8 bytes each) with
/// `flags`; returns the listener when the flags ask for one.
pub fn load(bpf: &[u8], flags: u32) -> io::Result<Option<OwnedFd>> {
    if bpf.is_empty() || !bpf.len().is_multiple_of(std::mem::size_of::<libc::sock_filter>()) {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    // The program is copied into aligned storage: the bytes may sit at any address.
    let count = bpf.len() / std::mem::size_of::<libc::sock_filter>();
    let mut program: Vec<libc::sock_filter> = Vec::with_capacity(count);
    for chunk in bpf.chunks_exact(8) {
        program.push(libc::sock_filter {
            code: u16::from_ne_bytes([chunk[0], chunk[1]]),
            jt: chunk[2],
            jf: chunk[3],
            k: u32::from_ne_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]),
        });
    }
    let fprog = libc::sock_fprog {
        len: u16::try_from(count).map_err(|_| io::Error::from_raw_os_error(libc::E2BIG))?,
        filter: program.as_mut_ptr(),
    };
    // SAFETY: seccomp(SECCOMP_SET_MODE_FILTER) reads `fprog`, which points
    // at `count` initialised sock_filter entries that outlive the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SECCOMP_SET_MODE_FILTER,
            flags,
            &fprog as *const libc::sock_fprog,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    if flags & SECCOMP_FILTER_FLAG_NEW_LISTENER != 0 {
        // SAFETY: with NEW_LISTENER the kernel returns a new descriptor,
        // owned by nobody else.
        return Ok(Some(unsafe { OwnedFd::from_raw_fd(rc as i32) }));
    }
    Ok(None)
}
