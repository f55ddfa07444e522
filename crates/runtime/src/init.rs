//! nsbox's PID 1: starts the command, passes signals on, reaps orphans, and
//! exits with the command's status.
//!
//! The kernel gives PID 1 of a pid namespace two jobs (the seed describes
//! both): every orphan in the namespace is reparented to it and must be
//! reaped or it stays a zombie, and when it exits, the kernel kills every
//! other process in the namespace. A shell or a server is not written to be
//! PID 1 (it would ignore SIGTERM, since PID 1 only gets signals it handles,
//! and leave zombies), so nsbox puts this small loop in front of it.

use crate::exec::Command;
use crate::process::channel::Channel;
use crate::supervise::supervise;

/// Runs as PID 1 (or, for a time namespace alone, as the command's parent):
/// starts the command, supervises it, and exits with its status. The
/// supervisor signals must already be blocked.
///
/// The command is started with posix_spawn rather than fork: the init is a
/// copy of nsbox, and copying its page tables only to replace them with
/// exec was the largest avoidable cost of a container start.
pub fn run_init(command: &Command, channel: Channel) -> ! {
    let pid = match command.spawn() {
        Ok(pid) => pid,
        Err(failure) => channel.fail_command(failure),
    };
    // Our end of the channel must close, or the parent would wait for end
    // of file as long as this init lives.
    drop(channel);
    // Best effort: a name that shows in ps which process is the init.
    let _ = rustix::thread::set_name(c"nsbox-init");
    match supervise(pid, true) {
        Ok(code) => nsbox_sys::exit_now(code),
        Err(e) => {
            eprintln!("nsbox-init: waiting for the command: {e}");
            nsbox_sys::exit_now(crate::exec::EXIT_SETUP_FAILED)
        }
    }
}
