//! `run`: create and start; in the foreground also wait for the container's
//! process (this runtime is its parent), pass signals on, and delete the
//! container after it (unless `--keep`).

use super::{create, delete, start, ContainerError, CreateOptions, Root};
use crate::supervise::{supervise, supervisor_signals};

/// Runs container `id`; returns its exit status (128+N for signal N) in the
/// foreground, 0 once started when `detach`.
pub fn run(root: &Root, id: &str, opts: &CreateOptions, detach: bool, keep: bool) -> Result<i32, ContainerError> {
    // A terminal in the foreground is the runtime's to relay, as runc's.
    let relayed_terminal =
        !detach && opts.console_socket.is_none() && crate::config::from_bundle(&opts.bundle)?.process.terminal;
    if !detach && opts.console_socket.is_some() {
        super::check_console(true, true, false)?;
    }
    // Blocked before the clone, so that no signal meant for the container
    // is lost before the wait; the child unblocks them (see process::init).
    let old_mask = if detach {
        None
    } else {
        Some(
            supervisor_signals()
                .block()
                .map_err(super::io_err(id, "blocking signals"))?,
        )
    };
    let result = if relayed_terminal {
        create_start_relay(root, id, opts)
    } else {
        create_start_wait(root, id, opts, detach)
    };
    if let Some(mask) = old_mask {
        let _ = mask.set_mask();
    }
    // Another's container of that id is never touched.
    let ours = !matches!(result, Err(ContainerError::Store(super::StoreError::Exists(_))));
    // In the foreground the container is gone by now: so goes its record
    // (unless --keep). A run that failed takes away what it made, detached
    // or not, as runc's does.
    if ours && (result.is_err() || (!detach && !keep)) {
        let _ = delete(root, id, true);
    }
    result
}

fn create_start_wait(root: &Root, id: &str, opts: &CreateOptions, detach: bool) -> Result<i32, ContainerError> {
    let pid = create(root, id, opts)?;
    start(root, id)?;
    if detach {
        return Ok(0);
    }
    supervise(pid, false).map_err(super::io_err(id, "waiting for the container"))
}

/// The foreground with a terminal: the pty's master comes to this runtime,
/// which relays it to its own stdio in raw mode until the process ends.
fn create_start_relay(root: &Root, id: &str, opts: &CreateOptions) -> Result<i32, ContainerError> {
    use super::terminal;
    let (ours, theirs) = terminal::console_pair().map_err(super::io_err(id, "making the console socket"))?;
    let pid = super::create::create_with_console(root, id, opts, Some(theirs))?;
    let master = terminal::receive_master(&ours).map_err(super::io_err(id, "receiving the terminal"))?;
    start(root, id)?;
    terminal::relay_until_exit(master, pid).map_err(super::io_err(id, "waiting for the container"))
}
