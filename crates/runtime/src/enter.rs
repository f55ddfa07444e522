//! `nsbox enter PID`: run a command in another process's namespaces, root
//! and working directory (`nsenter -t PID -a`).

use crate::exec::Command;
use crate::supervise::{supervise, supervisor_signals};
use crate::unshare::{io_err, RunError};
use nsbox_ns::{Joiner, NsKind, NsSet};

/// Joins `kinds` of `pid`'s namespaces (and, with mnt, its root and working
/// directory), runs `argv` there and returns its exit status.
///
/// nsbox itself joins, then spawns the command: a joined pid or time
/// namespace applies only to children. nsbox exits right after, so its
/// own membership does not matter.
pub fn enter(pid: i32, kinds: NsSet, argv: &[String], env: &[(String, String)]) -> Result<i32, RunError> {
    if argv.is_empty() {
        return Err(crate::spec::SpecError::NoCommand.into());
    }
    let command = Command::new(argv, env)?;
    let joiner = Joiner::open(pid, kinds, kinds.contains(NsKind::Mnt))?;
    joiner.join()?;
    let old_mask = supervisor_signals().block().map_err(io_err("blocking signals"))?;
    let result = fork_command(&command);
    let _ = old_mask.set_mask();
    result
}

fn fork_command(command: &Command) -> Result<i32, RunError> {
    let child = command.spawn().map_err(RunError::Child)?;
    supervise(child, false).map_err(io_err("waiting for the command"))
}
