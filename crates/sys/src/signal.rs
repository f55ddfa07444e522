//! Signal masks and synchronous signal waiting.
//!
//! A process that forwards signals and reaps children blocks the signals it
//! cares about before its first fork and then takes them one by one with
//! `sigwaitinfo`: no handler runs, so nothing races with the main loop, and a
//! SIGCHLD from a child that exits very fast is never lost.

use std::io;

/// A set of signals, by raw number.
#[derive(Clone, Copy)]
pub struct SignalSet(libc::sigset_t);

impl SignalSet {
    /// The set holding exactly `signals`.
    pub fn of(signals: &[i32]) -> Self {
        // SAFETY: sigset_t is plain data; sigemptyset initialises it fully.
        let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: `set` is a valid sigset_t owned by this frame.
        unsafe { libc::sigemptyset(&mut set) };
        for &sig in signals {
            // SAFETY: as above; an invalid number only makes sigaddset fail.
            unsafe { libc::sigaddset(&mut set, sig) };
        }
        SignalSet(set)
    }

    /// The raw set, for calls that take one.
    pub fn as_raw(&self) -> &libc::sigset_t {
        &self.0
    }

    /// The empty set.
    pub fn empty() -> Self {
        Self::of(&[])
    }

    /// Adds this set to the calling thread's blocked signals; returns the old mask.
    pub fn block(&self) -> io::Result<SignalSet> {
        self.mask(libc::SIG_BLOCK)
    }

    /// Replaces the calling thread's mask with this set; returns the old mask.
    pub fn set_mask(&self) -> io::Result<SignalSet> {
        self.mask(libc::SIG_SETMASK)
    }

    fn mask(&self, how: i32) -> io::Result<SignalSet> {
        let mut old = SignalSet::empty();
        // SAFETY: both pointers point at valid sigset_t values for the call.
        let rc = unsafe { libc::pthread_sigmask(how, &self.0, &mut old.0) };
        if rc == 0 {
            Ok(old)
        } else {
            Err(io::Error::from_raw_os_error(rc))
        }
    }

    /// Takes one pending signal of this set (which must be blocked)
    /// without waiting; None when none is pending.
    pub fn take_pending(&self) -> io::Result<Option<i32>> {
        let now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        loop {
            // SAFETY: `self.0` and `now` are valid for the call; a NULL siginfo is allowed.
            let sig = unsafe { libc::sigtimedwait(&self.0, std::ptr::null_mut(), &now) };
            if sig >= 0 {
                return Ok(Some(sig));
            }
            let err = io::Error::last_os_error();
            match err.raw_os_error() {
                Some(libc::EAGAIN) => return Ok(None),
                Some(libc::EINTR) => continue,
                _ => return Err(err),
            }
        }
    }

    /// Waits for one signal of this set (which must be blocked) and returns
    /// its number. Restarts by itself when interrupted.
    pub fn wait(&self) -> io::Result<i32> {
        loop {
            // SAFETY: `self.0` is a valid set; a NULL siginfo is allowed.
            let sig = unsafe { libc::sigwaitinfo(&self.0, std::ptr::null_mut()) };
            if sig >= 0 {
                return Ok(sig);
            }
            let err = io::Error::last_os_error();
            if err.raw_os_error() != Some(libc::EINTR) {
                return Err(err);
            }
        }
    }
}

/// The signals that ask a process to stop: Ctrl-C (SIGINT), SIGTERM and a
/// hang-up (SIGHUP).
pub fn stop_signals() -> SignalSet {
    SignalSet::of(&[libc::SIGINT, libc::SIGTERM, libc::SIGHUP])
}

/// Undoes the one signal disposition the Rust runtime changes: it ignores
/// SIGPIPE, and an ignored signal stays ignored across exec, so a command
/// would never die of a broken pipe. (Handled signals are reset by exec
/// itself; dispositions nsbox's caller set are left as they were, as
/// `unshare` and `nsenter` leave them.)
pub fn restore_sigpipe() {
    // SAFETY: SIG_DFL is always a valid disposition for SIGPIPE.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
}

/// SIGPIPE ignored for as long as this lives, then put back as it was: a
/// write to a pipe whose reader is gone then fails with EPIPE instead of
/// ending the process (a hook that exits without reading the state given
/// on its stdin is no reason for the runtime to die).
pub struct SigpipeIgnored(libc::sighandler_t);

impl SigpipeIgnored {
    pub fn new() -> Self {
        // SAFETY: SIG_IGN is always a valid disposition for SIGPIPE; the
        // previous one is kept to be put back.
        Self(unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) })
    }
}

impl Default for SigpipeIgnored {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for SigpipeIgnored {
    fn drop(&mut self) {
        if self.0 != libc::SIG_ERR {
            // SAFETY: puts back the disposition signal() returned.
            unsafe { libc::signal(libc::SIGPIPE, self.0) };
        }
    }
}

extern "C" fn exit_with_signal(sig: libc::c_int) {
    // SAFETY: _exit is async-signal-safe and never returns.
    unsafe { libc::_exit(128 + sig) }
}

/// Makes each signal whose default action ends a process end this one
/// (exit status 128+N) through a handler: PID 1 of a pid namespace gets
/// only the signals it handles, so without one a `kill` from the runtime
/// would be ignored. An exec resets handled signals to their defaults.
pub fn exit_on_terminating_signals() -> io::Result<()> {
    set_terminating_signals(exit_with_signal as extern "C" fn(libc::c_int) as usize)
}

/// Puts the signals [`exit_on_terminating_signals`] handles back to their
/// default actions.
pub fn default_terminating_signals() -> io::Result<()> {
    set_terminating_signals(libc::SIG_DFL)
}

fn set_terminating_signals(handler: libc::sighandler_t) -> io::Result<()> {
    const KEEP_DEFAULT: [i32; 9] = [
        libc::SIGKILL,
        libc::SIGSTOP,
        libc::SIGCHLD,
        libc::SIGCONT,
        libc::SIGTSTP,
        libc::SIGTTIN,
        libc::SIGTTOU,
        libc::SIGWINCH,
        libc::SIGURG,
    ];
    for sig in 1..32 {
        if KEEP_DEFAULT.contains(&sig) {
            continue;
        }
        // SAFETY: `action` is fully initialised (zeroed, then the handler
        // and an empty mask set); the handler is SIG_DFL or only calls _exit.
        let rc = unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = handler;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(sig, &action, std::ptr::null_mut())
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}
