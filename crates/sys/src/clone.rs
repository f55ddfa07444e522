//! Process creation with namespace flags: `clone3`.

use std::io;

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
        cgroup: 0,
    };
    // SAFETY: `args` is a valid, fully initialised `clone_args` and its size is
    // passed with it. With no CLONE_VM and no stack the child runs on a copy of
    // our stack, exactly like fork; the caller guarantees single-threadedness.
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

/// Whether the calling process has exactly one thread. A procfs task
/// directory has two links plus one per thread, so one stat answers.
pub fn is_single_threaded() -> io::Result<bool> {
    Ok(rustix::fs::stat("/proc/self/task")?.st_nlink == 3)
}

/// [`clone3`], made safe by checking first that the caller is
/// single-threaded (one stat of /proc/self/task); fails with `EDEADLK`
/// ("Resource deadlock avoided") otherwise.
pub fn clone3_checked(flags: u64) -> io::Result<CloneResult> {
    if !is_single_threaded()? {
        return Err(io::Error::from_raw_os_error(libc::EDEADLK));
    }
    // SAFETY: the process has one thread (checked just above; a thread
    // started between the check and the clone would have to be started by
    // this very thread, which is here).
    unsafe { clone3(flags) }
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
        let err = clone3_checked(0).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EDEADLK));
        tx.send(()).unwrap();
        helper.join().unwrap().unwrap();
    }
}
