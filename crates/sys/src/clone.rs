//! Process creation with namespace flags: `clone3`.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

/// `CLONE_INTO_CGROUP` from <linux/sched.h>. The libc crate (0.2.191) declares
/// it as a C int, which truncates 0x200000000 to 0: the flag would be lost.
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// Which side of a fork the caller is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloneResult {
    /// In the parent: the child's PID as the parent's pid namespace sees it.
    Parent(i32),
    /// In the child.
    Child,
}

/// Creates a child process with the given `CLONE_*` namespace flags, like
/// `fork` but with namespaces made for the child in the same step.
///
/// The child gets `SIGCHLD` as its exit signal, so the parent can wait for it
/// with a plain `waitpid`. `clone3` (Linux 5.3) is used rather than `clone`
/// because its argument layout is the same on every architecture and it takes
/// 64-bit flags.
///
/// # Safety
///
/// The caller must be single-threaded: the child is a copy of the calling
/// thread only, and a lock held by another thread (the allocator's, stdio's)
/// would stay locked forever in the child. nsbox's binary never starts threads
/// before it forks.
pub unsafe fn clone3(flags: u64) -> io::Result<CloneResult> {
    // SAFETY: passed on from the caller.
    unsafe { clone3_raw(flags, None) }
}

/// [`clone3`], with the child born in the cgroup v2 directory `cgroup`
/// (`CLONE_INTO_CGROUP`, Linux 5.7): it never runs outside it, and nobody
/// writes its PID to `cgroup.procs`, whose first write after an idle moment
/// waits for an RCU grace period (milliseconds). A v1 cgroup is refused (EBADF).
///
/// # Safety
///
/// As for [`clone3`].
pub unsafe fn clone3_into_cgroup(flags: u64, cgroup: BorrowedFd<'_>) -> io::Result<CloneResult> {
    // SAFETY: passed on from the caller.
    unsafe { clone3_raw(flags, Some(cgroup)) }
}

/// # Safety
///
/// As for [`clone3`].
unsafe fn clone3_raw(flags: u64, cgroup: Option<BorrowedFd<'_>>) -> io::Result<CloneResult> {
    let (flags, cgroup) = match cgroup {
        Some(fd) => (flags | CLONE_INTO_CGROUP, fd.as_raw_fd() as u64),
        None => (flags, 0),
    };
    let mut args = libc::clone_args {
        flags,
        pidfd: 0,
        child_tid: 0,
        parent_tid: 0,
        exit_signal: libc::SIGCHLD as u64,
        stack: 0,
        stack_size: 0,
        tls: 0,
        set_tid: 0,
        set_tid_size: 0,
        cgroup,
    };
    // SAFETY: `args` is a valid, fully initialised `clone_args` and its size is
    // passed with it; `cgroup`, if any, is an fd borrowed for this call. With
    // no CLONE_VM and no stack the child runs on a copy of our stack, exactly
    // like fork; the caller guarantees single-threadedness.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut args as *mut libc::clone_args,
            std::mem::size_of::<libc::clone_args>(),
        )
    };
    match rc {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(CloneResult::Child),
        pid => Ok(CloneResult::Parent(pid as i32)),
    }
}

/// Whether `clone3` may be called here. Docker's and podman's default
/// seccomp profiles answer it with ENOSYS for callers without
/// CAP_SYS_ADMIN (so that libc falls back to `clone`), whatever its
/// arguments; the kernel itself refuses a zero-sized argument with EINVAL.
/// One cheap, harmless call tells them apart.
pub fn clone3_available() -> bool {
    // SAFETY: a null pointer with size 0 is refused before anything is
    // read or created (EINVAL from the kernel, ENOSYS from a filter).
    let rc = unsafe { libc::syscall(libc::SYS_clone3, std::ptr::null_mut::<libc::clone_args>(), 0usize) };
    !(rc == -1 && io::Error::last_os_error().raw_os_error() == Some(libc::ENOSYS))
}

/// [`clone3`] where it is refused: `clone` with the same flags (they fit
/// its 32 bits, CLONE_INTO_CGROUP aside, which it lacks: the caller puts
/// the child in its cgroups itself).
///
/// # Safety
///
/// As for [`clone3`].
unsafe fn clone_raw(flags: u64) -> io::Result<CloneResult> {
    let flags = libc::c_ulong::try_from(flags).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: with no new stack (0) and no CLONE_VM the child runs on a
    // copy of our stack, exactly like fork; the remaining arguments (the
    // tid pointers and TLS) are unused without the flags that read them.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_clone,
            flags | libc::SIGCHLD as libc::c_ulong,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    match rc {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(CloneResult::Child),
        pid => Ok(CloneResult::Parent(pid as i32)),
    }
}

/// [`clone_raw`], made safe as [`clone3_checked`] is: the caller must be
/// single-threaded, which is checked first (`EDEADLK` otherwise).
pub fn clone_checked(flags: u64) -> io::Result<CloneResult> {
    if !is_single_threaded()? {
        return Err(io::Error::from_raw_os_error(libc::EDEADLK));
    }
    // SAFETY: the process has one thread (checked just above).
    unsafe { clone_raw(flags) }
}

/// Whether the calling process has exactly one thread. A procfs task
/// directory has two links plus one per thread, so one stat answers.
pub fn is_single_threaded() -> io::Result<bool> {
    Ok(rustix::fs::stat("/proc/self/task")?.st_nlink == 3)
}

/// [`clone3`], made safe by checking first that the caller is
/// single-threaded (one stat of /proc/self/task); fails with `EDEADLK`
/// ("Resource deadlock avoided") otherwise. With `cgroup`, the child is born
/// in that cgroup v2 directory, as by [`clone3_into_cgroup`].
pub fn clone3_checked(flags: u64, cgroup: Option<BorrowedFd<'_>>) -> io::Result<CloneResult> {
    if !is_single_threaded()? {
        return Err(io::Error::from_raw_os_error(libc::EDEADLK));
    }
    // SAFETY: the process has one thread (checked just above; a thread
    // started between the check and the clone would have to be started by
    // this very thread, which is here).
    unsafe { clone3_raw(flags, cgroup) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With a second thread alive, the checked clone refuses (and forks nothing).
    #[test]
    fn refuses_when_multithreaded() {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let helper = std::thread::spawn(move || rx.recv());
        assert!(!is_single_threaded().unwrap());
        let err = clone3_checked(0, None).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EDEADLK));
        tx.send(()).unwrap();
        helper.join().unwrap().unwrap();
    }

    /// Where a filesystem of type `fstype` (cgroup2, or cgroup for v1) is
    /// mounted, if one is.
    fn mount_of(fstype: &str) -> Option<std::path::PathBuf> {
        let text = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
        text.lines().find_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            (right.split(' ').next() == Some(fstype)).then(|| left.split(' ').nth(4).map(std::path::PathBuf::from))?
        })
    }

    /// A child cloned into a v2 cgroup is in it from its first instruction:
    /// the kernel's /proc/PID/cgroup says so while it waits, with nothing
    /// written to cgroup.procs. A v1 cgroup (or any other directory) is refused.
    #[test]
    fn child_is_born_in_the_cgroup() {
        use std::os::fd::AsFd;
        if rustix::process::geteuid().as_raw() != 0 {
            eprintln!("SKIPPED: needs root (makes a cgroup)");
            return;
        }
        let Some(mount) = mount_of("cgroup2") else {
            eprintln!("SKIPPED: no cgroup v2 hierarchy is mounted");
            return;
        };
        let name = format!("nsbox-clone-test-{}", std::process::id());
        let dir = mount.join(&name);
        std::fs::create_dir(&dir).unwrap();
        // Removes the cgroup however the test ends (once the child is gone).
        struct Rmdir(std::path::PathBuf);
        impl Drop for Rmdir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir(&self.0);
            }
        }
        let _rmdir = Rmdir(dir.clone());
        let cgroup = std::fs::File::open(&dir).unwrap();
        let (hold, release) = std::io::pipe().unwrap();
        // SAFETY: the test binary has other threads, so the child calls
        // nothing that could wait for their locks: one read, then _exit.
        match unsafe { clone3_into_cgroup(0, cgroup.as_fd()) }.unwrap() {
            CloneResult::Child => {
                let mut byte = 0u8;
                // SAFETY: a one-byte read into a live local; _exit never returns.
                unsafe {
                    libc::read(hold.as_raw_fd(), (&raw mut byte).cast(), 1);
                    libc::_exit(0)
                }
            }
            CloneResult::Parent(pid) => {
                let seen = std::fs::read_to_string(format!("/proc/{pid}/cgroup"));
                // The child holds a copy of this end too: write, do not close.
                std::io::Write::write_all(&mut &release, b"x").unwrap();
                let mut status = 0;
                // SAFETY: waits for our own child; `status` is a live local.
                unsafe { libc::waitpid(pid, &mut status, 0) };
                let seen = seen.unwrap();
                assert!(seen.lines().any(|l| l == format!("0::/{name}")), "{seen}");
                let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap();
                assert_eq!(procs, "", "the child is gone, and so is its membership");
            }
        }
        // Not a cgroup v2 directory: the kernel refuses, and no child is made.
        let v1 = mount_of("cgroup");
        for other in [Some(std::env::temp_dir()), v1].into_iter().flatten() {
            let dir = std::fs::File::open(&other).unwrap();
            // SAFETY: as above; the call fails before any child exists.
            let err = unsafe { clone3_into_cgroup(0, dir.as_fd()) }.unwrap_err();
            assert_eq!(err.raw_os_error(), Some(libc::EBADF), "{}: {err}", other.display());
        }
    }
}
