//! A terminal in the foreground (`run` with `process.terminal` and no
//! console socket, as runc does it): the runtime keeps the console socket
//! to itself (a socketpair), receives the pty's master, puts its own
//! terminal in raw mode (restored on every way out), sets the pty to its
//! size and again on SIGWINCH, and relays bytes both ways until the
//! container's process has ended and the pty has no more to say.

use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};

/// The runtime's end and the container's end of the console socket.
pub(crate) fn console_pair() -> std::io::Result<(OwnedFd, OwnedFd)> {
    use rustix::net::{socketpair, AddressFamily, SocketFlags, SocketType};
    Ok(socketpair(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC,
        None,
    )?)
}

/// The master the container's process sent over `ours`.
pub(crate) fn receive_master(ours: &OwnedFd) -> std::io::Result<OwnedFd> {
    let mut name = [0u8; 256];
    nsbox_sys::fdpass::recv(ours, &mut name)?
        .1
        .ok_or_else(|| std::io::Error::other("no terminal came over the console socket"))
}

/// The caller's terminal in raw mode while this lives (None when stdin is
/// not a terminal: nothing to change, nothing to restore).
struct RawMode(Option<rustix::termios::Termios>);

impl RawMode {
    fn enter() -> Self {
        let stdin = std::io::stdin();
        let Ok(saved) = rustix::termios::tcgetattr(stdin.as_fd()) else {
            return RawMode(None);
        };
        let mut raw = saved.clone();
        raw.make_raw();
        let _ = rustix::termios::tcsetattr(stdin.as_fd(), rustix::termios::OptionalActions::Now, &raw);
        RawMode(Some(saved))
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(saved) = &self.0 {
            let _ = rustix::termios::tcsetattr(std::io::stdin().as_fd(), rustix::termios::OptionalActions::Now, saved);
        }
    }
}

/// The pty takes the size of the caller's terminal (if it has one).
/// The size of the caller's terminal, (rows, columns), if it has one: a
/// relayed pty is born with it, so that no SIGWINCH meets the program as
/// it starts (busybox's stty then failed now and then).
pub(crate) fn caller_size() -> Option<(u16, u16)> {
    let size = rustix::termios::tcgetwinsize(std::io::stdin().as_fd()).ok()?;
    Some((size.ws_row, size.ws_col))
}

fn follow_size(master: &OwnedFd) {
    if let Ok(size) = rustix::termios::tcgetwinsize(std::io::stdin().as_fd()) {
        let _ = rustix::termios::tcsetwinsize(master, size);
    }
}

/// Relays the terminal `master` to this process's stdio (raw mode, size
/// followed) while waiting for `pid`, and returns its exit status once
/// the pty has said all it had to. One thread, one poll loop: `exec` has
/// joined the container's pid namespace for its child by now, after which
/// the kernel refuses this process new threads (EINVAL). Signals stay
/// blocked (see `supervisor_signals`) and are taken between polls:
/// SIGWINCH resizes the pty (the kernel tells the container), the others
/// are passed on.
pub(crate) fn relay_until_exit(master: OwnedFd, pid: i32) -> std::io::Result<i32> {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    let _raw = RawMode::enter();
    follow_size(&master);
    let signals = crate::supervise::supervisor_signals();
    let stdin = std::io::stdin();
    let mut stdout = std::io::stdout();
    let mut stdin_open = true;
    let mut master_open = true;
    let mut status = None;
    let mut buf = [0u8; 4096];
    loop {
        let tick = Timespec {
            tv_sec: 0,
            tv_nsec: 50_000_000,
        };
        let mut fds = vec![PollFd::new(&master, PollFlags::IN)];
        if stdin_open {
            fds.push(PollFd::new(&stdin, PollFlags::IN));
        }
        let ready = match poll(&mut fds, Some(&tick)) {
            Ok(n) => n,
            Err(rustix::io::Errno::INTR) => 0,
            Err(e) => return Err(e.into()),
        };
        let master_ready = master_open && !fds[0].revents().is_empty();
        let stdin_ready = fds.get(1).is_some_and(|f| !f.revents().is_empty());
        drop(fds);
        if master_ready {
            // EIO (or 0) once every slave descriptor is closed.
            match rustix::io::read(&master, &mut buf) {
                Ok(n) if n > 0 => {
                    let _ = stdout.write_all(&buf[..n]);
                    let _ = stdout.flush();
                }
                _ => master_open = false,
            }
        }
        if stdin_ready {
            match (&stdin).read(&mut buf) {
                Ok(n) if n > 0 => {
                    let _ = rustix::io::write(&master, &buf[..n]);
                }
                _ => stdin_open = false,
            }
        }
        while let Some(sig) = signals.take_pending()? {
            match sig {
                libc::SIGWINCH => follow_size(&master),
                libc::SIGCHLD => {}
                other => {
                    let _ = nsbox_sys::kill(pid, other);
                }
            }
        }
        if status.is_none() {
            use rustix::process::{waitpid, Pid, WaitOptions};
            if let Ok(Some((_, s))) = waitpid(Pid::from_raw(pid), WaitOptions::NOHANG) {
                status = Some(crate::supervise::exit_code(s));
            }
        }
        // Done once the process has ended and the pty is drained (closed,
        // or quiet for a tick: another process may hold its slave).
        if let Some(code) = status {
            if !master_open || ready == 0 {
                return Ok(code);
            }
        }
    }
}
