//! `nsbox unshare`: a container from a [`Spec`], run to completion.
//!
//! The process tree:
//!
//! ```text
//! nsbox (host)            forwards signals, waits, removes the cgroups
//! └── child (new namespaces)   sets up hostname, mounts, time; then either
//!     ├── execs the command          (no new pid or time namespace), or
//!     └── is PID 1 (nsbox-init) and forks the command
//! ```

use crate::cgroup::oci::{CgroupDir, Place};
use crate::cgroup::CgroupError;
use crate::config::Config;
use crate::exec::{describe, Command, CommandError, Failure, EXIT_SETUP_FAILED};
use crate::process::channel::Message;
use crate::process::init::Launch;
use crate::process::spawn::{spawn, SpawnError, SpawnOptions};
use crate::spec::{Spec, SpecError};
use crate::supervise::{supervise, supervisor_signals};
use nsbox_ns::JoinError;
use std::io;

/// Why a container did not run (its command's own exit status is not an error).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error(transparent)]
    Command(#[from] CommandError),
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
    #[error(transparent)]
    Spawn(#[from] SpawnError),
    #[error(transparent)]
    Join(#[from] JoinError),
    #[error("{step}: {}", describe(source))]
    Io { step: &'static str, source: io::Error },
    /// The child failed before the command ran, or the command could not be executed.
    #[error("{}", .0.message)]
    Child(Failure),
}

impl RunError {
    /// The exit status nsbox reports for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            RunError::Child(f) => f.code,
            _ => EXIT_SETUP_FAILED,
        }
    }
}

pub(crate) fn io_err(step: &'static str) -> impl FnOnce(io::Error) -> RunError {
    move |source| RunError::Io { step, source }
}

/// Runs `spec`'s command in new namespaces and returns its exit status
/// (128+N if it died of signal N).
pub fn run(mut spec: Spec) -> Result<i32, RunError> {
    spec.validate()?;
    let command = Command::new(&spec.argv, &spec.env)?
        .with_workdir(spec.workdir.clone())
        .with_user(spec.user);
    // A cgroup of its own only for limits (the first write to cgroup.procs
    // after an idle moment costs milliseconds), at the root of each
    // hierarchy under a name only this nsbox uses.
    let config = crate::config::unshare::from_spec(&spec);
    let cgroups = Cgroups(if config.resources.is_empty() {
        Vec::new()
    } else {
        let name = crate::cgroup::unique_name();
        crate::cgroup::oci::create(&config, Place::FreshAtRoot(&name))?
    });
    let old_mask = supervisor_signals().block().map_err(io_err("blocking signals"))?;
    let result = spawn_and_wait(&config, &command, &cgroups.0);
    let _ = old_mask.set_mask();
    // A SIGKILL under a memory limit: say whether the OOM killer sent it
    // (the memory cgroup counts its kills), or the status alone hides why.
    if let (Ok(code), Some(limit)) = (&result, spec.limits.memory) {
        if *code == 128 + libc::SIGKILL && crate::cgroup::oci::oom_kills(&cgroups.0) > 0 {
            eprintln!(
                "nsbox: the command was killed by the OOM killer (memory limit {}M)",
                limit >> 20
            );
        }
    }
    // The container is gone (or never started): its cgroups can go too.
    let removed = cgroups.remove();
    let code = result?;
    removed?;
    Ok(code)
}

/// The cgroups made for one run, removed on drop (a failure half-way)
/// or by `remove`, with what killed nsbox processes left beside them.
struct Cgroups(Vec<CgroupDir>);

impl Cgroups {
    fn remove(mut self) -> Result<(), CgroupError> {
        let dirs = std::mem::take(&mut self.0);
        let removed = crate::cgroup::oci::remove(&dirs);
        crate::cgroup::sweep_beside(&dirs);
        removed
    }
}

impl Drop for Cgroups {
    fn drop(&mut self) {
        let _ = crate::cgroup::oci::remove(&self.0);
    }
}

fn spawn_and_wait(config: &Config, command: &Command, cgroups: &[CgroupDir]) -> Result<i32, RunError> {
    let spawned = spawn(
        config,
        SpawnOptions {
            launch: Launch::Now(command),
            preserve_fds: None,
            no_pivot: false,
            keyring: None,
            cgroups,
            seccomp: None,
            console: None,
        },
    )?;
    if spawned.waits_for_go {
        spawned
            .channel
            .send(&Message::Go)
            .map_err(io_err("starting the container"))?;
    }
    // End of file: the child's end closed on exec (or, with an init, once
    // the command was spawned).
    let failure = match spawned
        .channel
        .recv()
        .map_err(io_err("reading the container's report"))?
    {
        None => {
            let pid = spawned.child.disarm();
            return supervise(pid, false).map_err(io_err("waiting for the container"));
        }
        Some(Message::CommandFailed(failure)) => failure,
        Some(Message::Failed(failure)) => Failure::setup(failure),
        Some(other) => Failure::setup(format!("reading the container's report: unexpected {other:?}")),
    };
    spawned.child.reap();
    Err(RunError::Child(failure))
}
