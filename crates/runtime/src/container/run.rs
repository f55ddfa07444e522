//! `run`: create and start; in the foreground also wait for the container's
//! process (this runtime is its parent), pass signals on, and delete the
//! container after it (unless `--keep`).

use super::{create, delete, start, ContainerError, CreateOptions, Root};
use crate::supervise::{supervise, supervisor_signals};

/// Runs container `id`; returns its exit status (128+N for signal N) in the
/// foreground, 0 once started when `detach`.
pub fn run(root: &Root, id: &str, opts: &CreateOptions, detach: bool, keep: bool) -> Result<i32, ContainerError> {
    if !detach {
        // Checked before create (which checks as a detached runtime).
        let config = crate::config::from_bundle(&opts.bundle)?;
        super::check_console(config.process.terminal, opts.console_socket.is_some(), false)?;
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
    let result = create_start_wait(root, id, opts, detach);
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
