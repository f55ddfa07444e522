//! Every `unsafe` block of nsbox and the raw syscalls that rustix does not offer.
//!
//! Nothing here holds policy: each function does one kernel call (or a tight
//! sequence that only makes sense together) and reports the kernel's error.

pub mod bpf;
pub mod clone;
pub mod errno;
pub mod exec;
pub mod fdpass;
pub mod mount;
pub mod net;
pub mod seccomp;
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
    open_closed_fds(&[0, 1, 2]);
}

/// Opens /dev/null on each of `wanted` (ascending, each the lowest it may
/// be) that is closed: descriptors a caller promised to pass on (runc's
/// `--preserve-fds`) must not be taken by files nsbox opens for itself.
pub fn open_closed_fds(wanted: &[i32]) {
    let mut fds: Vec<libc::pollfd> = wanted
        .iter()
        .map(|&fd| libc::pollfd {
            fd,
            events: 0,
            revents: 0,
        })
        .collect();
    if fds.is_empty() {
        return;
    }
    // SAFETY: `fds` is a live array of pollfd structures, and its length is
    // passed with it; a zero timeout never blocks.
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

/// Closes every file descriptor from `first` up, except those in `keep`:
/// what a container's process must not inherit (nsbox's own files, a lock).
pub fn close_fds_from(first: u32, keep: &[i32]) -> std::io::Result<()> {
    let mut keep: Vec<u32> = keep
        .iter()
        .filter_map(|&fd| u32::try_from(fd).ok())
        .filter(|&fd| fd >= first)
        .collect();
    keep.sort_unstable();
    let mut low = first;
    for fd in keep.into_iter().chain([u32::MAX]) {
        if fd > low {
            let high = if fd == u32::MAX { u32::MAX } else { fd - 1 };
            // SAFETY: close_range takes plain integers; closing numbers this
            // single-threaded child owns (copies of the parent's) is its
            // purpose, and no Rust object of the child uses them afterwards
            // (the caller keeps what it needs in `keep`).
            let rc = unsafe { libc::syscall(libc::SYS_close_range, low, high, 0u32) };
            if rc != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        low = fd.saturating_add(1);
    }
    Ok(())
}

/// Gives the calling process a new session keyring named `name` (runc does
/// so for each container, so that containers share no keys).
pub fn join_session_keyring(name: &std::ffi::CStr) -> std::io::Result<()> {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    // SAFETY: `name` is a valid NUL-terminated string for the whole call.
    let rc = unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.as_ptr()) };
    if rc < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Sends signal `sig` to the process a pidfd refers to: unlike kill(2) by
/// PID, it can never reach a process that took the PID over since.
pub fn pidfd_send_signal(pidfd: impl std::os::fd::AsFd, sig: i32) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: plain integers and a null siginfo pointer (the kernel then
    // fills it as kill(2) would); the fd is borrowed for the whole call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_fd().as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0u32,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// The caller's effective ids.
pub mod ids {
    pub fn euid() -> u32 {
        rustix::process::geteuid().as_raw()
    }

    pub fn egid() -> u32 {
        rustix::process::getegid().as_raw()
    }
}

/// Sets the calling process's execution domain (personality(2)).
pub fn personality(persona: u32) -> std::io::Result<()> {
    // SAFETY: personality takes a plain integer and touches no memory of ours.
    let rc = unsafe { libc::personality(persona as libc::c_ulong) };
    if rc < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Sets the calling process's I/O scheduling class and level (ioprio_set(2)
/// for IOPRIO_WHO_PROCESS 0).
pub fn set_io_priority(class: u32, level: u32) -> std::io::Result<()> {
    const IOPRIO_WHO_PROCESS: libc::c_int = 1;
    const IOPRIO_CLASS_SHIFT: u32 = 13;
    let value = (class << IOPRIO_CLASS_SHIFT) | level;
    // SAFETY: plain integers; the call touches no memory of ours.
    let rc = unsafe { libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, value as libc::c_int) };
    if rc < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// The scheduling attributes of sched_setattr(2).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SchedAttr {
    pub policy: u32,
    pub flags: u64,
    pub nice: i32,
    pub priority: u32,
    pub runtime: u64,
    pub deadline: u64,
    pub period: u64,
}

/// Sets the calling thread's scheduling policy and attributes.
pub fn set_scheduler(attr: &SchedAttr) -> std::io::Result<()> {
    #[repr(C)]
    struct Raw {
        size: u32,
        sched_policy: u32,
        sched_flags: u64,
        sched_nice: i32,
        sched_priority: u32,
        sched_runtime: u64,
        sched_deadline: u64,
        sched_period: u64,
    }
    let raw = Raw {
        size: std::mem::size_of::<Raw>() as u32,
        sched_policy: attr.policy,
        sched_flags: attr.flags,
        sched_nice: attr.nice,
        sched_priority: attr.priority,
        sched_runtime: attr.runtime,
        sched_deadline: attr.deadline,
        sched_period: attr.period,
    };
    // SAFETY: `raw` is a valid sched_attr (its first version, 48 bytes,
    // with its size in it) that outlives the call; flags 0.
    let rc = unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &raw as *const Raw, 0u32) };
    if rc < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// set_mempolicy(2): the calling thread's NUMA policy (`mode` with its
/// MPOL_F_* flags) over the nodes of `nodes` (bit N of word N/64).
pub fn set_mempolicy(mode: i32, nodes: &[u64]) -> std::io::Result<()> {
    let maxnode = (nodes.len() * 64 + 1) as libc::c_ulong;
    let mask = if nodes.is_empty() {
        std::ptr::null()
    } else {
        nodes.as_ptr()
    };
    // SAFETY: the kernel reads `maxnode - 1` bits from `mask`, which holds
    // `nodes.len()` words, or nothing when it is null.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_set_mempolicy,
            mode,
            mask,
            if nodes.is_empty() { 0 } else { maxnode },
        )
    };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}
