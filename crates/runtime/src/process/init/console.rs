//! `process.terminal`: a new pty, made in the container's own devpts (its
//! /dev/ptmx), becomes the process's controlling terminal and its stdin,
//! stdout and stderr; its master goes to the engine over the console
//! socket, with the master's path as the message (runc's docs/terminals.md).

use super::rx;
use crate::process::channel::InitFailure;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

pub(super) fn set_up(socket: Option<&OwnedFd>, size: Option<(u16, u16)>) -> Result<(), InitFailure> {
    let Some(socket) = socket else {
        return Err(InitFailure {
            step: "process.terminal".into(),
            message: "needs a console socket to send the terminal to (--console-socket)".into(),
        });
    };
    use rustix::pty::{openpt, ptsname, unlockpt, OpenptFlags};
    let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)
        .map_err(rx("opening /dev/ptmx for process.terminal"))?;
    unlockpt(&master).map_err(rx("unlocking the terminal"))?;
    let name = ptsname(&master, Vec::new()).map_err(rx("naming the terminal"))?;
    if let Some((rows, columns)) = size {
        let winsize = rustix::termios::Winsize {
            ws_row: rows,
            ws_col: columns,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        rustix::termios::tcsetwinsize(&master, winsize).map_err(rx("setting process.consoleSize"))?;
    }
    let slave = rustix::fs::open(
        name.as_c_str(),
        rustix::fs::OFlags::RDWR | rustix::fs::OFlags::NOCTTY,
        rustix::fs::Mode::empty(),
    )
    .map_err(rx(format!("opening {}", name.to_string_lossy())))?;
    // The message names the master's file, as runc's does.
    nsbox_sys::fdpass::send(socket, b"/dev/ptmx", master.as_fd())
        .map_err(super::fail("sending the terminal to the console socket"))?;
    drop(master);
    // A session of its own, with the pty as its controlling terminal.
    rustix::process::setsid().map_err(rx("starting a session for the terminal"))?;
    rustix::process::ioctl_tiocsctty(&slave).map_err(rx("making the terminal the controlling one"))?;
    for target in 0..3 {
        // SAFETY: dup2 onto the standard descriptors, which this process owns.
        if unsafe { libc::dup2(slave.as_raw_fd(), target) } < 0 {
            return Err(super::fail("making the terminal stdio")(std::io::Error::last_os_error()));
        }
    }
    Ok(())
}
