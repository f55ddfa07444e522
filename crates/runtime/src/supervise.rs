//! Waiting for a child while passing on the signals a terminal or a process
//! manager sends, as every nsbox process that stands between the caller and
//! the command does (the nsbox parent, and the PID 1 init).

use nsbox_sys::SignalSet;
use rustix::process::{Pid, WaitOptions, WaitStatus};
use std::io;

/// The signals nsbox passes on to the command.
pub const FORWARDED: [i32; 7] = [
    libc::SIGINT,
    libc::SIGTERM,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGWINCH,
];

/// The forwarded signals plus SIGCHLD: what a supervisor blocks before its
/// first fork, so that no signal arrives before it waits for them.
pub fn supervisor_signals() -> SignalSet {
    let mut all = FORWARDED.to_vec();
    all.push(libc::SIGCHLD);
    SignalSet::of(&all)
}

/// The exit status a shell would show for `status`: the code, or 128+N for
/// death by signal N.
pub fn exit_code(status: WaitStatus) -> i32 {
    if let Some(code) = status.exit_status() {
        code
    } else if let Some(sig) = status.terminating_signal() {
        128 + sig
    } else {
        1
    }
}

/// Forwards signals to `child` and waits for it; returns its exit code.
///
/// With `reap_all`, every other child that exits (orphans the kernel gives
/// to a PID 1) is reaped too, so none stays a zombie. The caller must have
/// blocked [`supervisor_signals`] before creating `child`.
pub fn supervise(child: i32, reap_all: bool) -> io::Result<i32> {
    supervise_with(child, reap_all, |_| true)
}

/// [`supervise`], with `forward` deciding for each signal whether it is
/// passed on (a terminal's runtime keeps SIGWINCH: it resizes the pty,
/// and the kernel tells the container).
pub fn supervise_with(child: i32, reap_all: bool, mut forward: impl FnMut(i32) -> bool) -> io::Result<i32> {
    let signals = supervisor_signals();
    loop {
        if let Some(code) = reap(child, reap_all)? {
            return Ok(code);
        }
        let sig = signals.wait()?;
        if sig != libc::SIGCHLD && forward(sig) {
            // The child may be exiting already; a failed forward is not an error.
            let _ = nsbox_sys::kill(child, sig);
        }
    }
}

/// Reaps what has exited. Returns the main child's exit code once it is gone.
fn reap(child: i32, reap_all: bool) -> io::Result<Option<i32>> {
    loop {
        // Any child is waitpid(-1); rustix's waitpid(None) is waitpid(0),
        // which only sees children in the caller's process group, and an
        // interactive shell moves itself into a group of its own.
        let reaped = if reap_all {
            rustix::process::wait(WaitOptions::NOHANG)
        } else {
            rustix::process::waitpid(Pid::from_raw(child), WaitOptions::NOHANG)
        };
        match reaped {
            Ok(Some((pid, status))) => {
                if pid.as_raw_nonzero().get() == child {
                    return Ok(Some(exit_code(status)));
                }
            }
            Ok(None) => return Ok(None),
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}
