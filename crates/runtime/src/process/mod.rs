//! The processes of an OCI container and how they talk: the typed channel
//! between the runtime and the container's process, and the ordered steps
//! that process takes before it becomes the container's program.

pub mod channel;
pub mod init;
pub mod spawn;
pub mod userns;

/// Whether the process behind `pidfd` has exited (a pidfd becomes readable
/// then): how a child sees that its parent died before its death signal
/// was armed.
pub(crate) fn has_exited(pidfd: &std::os::fd::OwnedFd) -> bool {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    let mut fds = [PollFd::new(pidfd, PollFlags::IN)];
    let now = Timespec { tv_sec: 0, tv_nsec: 0 };
    matches!(poll(&mut fds, Some(&now)), Ok(n) if n > 0)
}

/// Kills and reaps a child unless disarmed, so that an error in the parent
/// after the clone never leaves the child (and its namespaces) behind.
pub(crate) struct ChildGuard(Option<i32>);

impl ChildGuard {
    pub(crate) fn new(pid: i32) -> Self {
        ChildGuard(Some(pid))
    }

    pub(crate) fn pid(&self) -> i32 {
        self.0.expect("armed")
    }

    pub(crate) fn reap(mut self) {
        if let Some(pid) = self.0.take() {
            let _ = rustix::process::waitpid(
                rustix::process::Pid::from_raw(pid),
                rustix::process::WaitOptions::empty(),
            );
        }
    }

    pub(crate) fn disarm(mut self) -> i32 {
        self.0.take().expect("armed")
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(pid) = self.0.take() {
            let _ = nsbox_sys::kill(pid, libc::SIGKILL);
            let _ = rustix::process::waitpid(
                rustix::process::Pid::from_raw(pid),
                rustix::process::WaitOptions::empty(),
            );
        }
    }
}
