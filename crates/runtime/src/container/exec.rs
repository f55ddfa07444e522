//! `exec`: a new process in a running container. It joins every
//! namespace of the container's process (by /proc/PID/ns/*) and its
//! cgroups, and is set up as the container's own process is — rlimits,
//! user and groups, capabilities, no_new_privs, the container's seccomp
//! filter — from the container's config.json with the process replaced
//! (`--process`) or changed (runc's flags). In the foreground its exit
//! status is exec's; detached, exec returns once it runs.

use super::{io_err, ContainerError, Root, Status};
use crate::config::{Namespace, Process};
use crate::process::channel::Message;
use crate::process::init::Launch;
use crate::process::spawn::{spawn, SpawnOptions};
use crate::supervise::{supervise, supervisor_signals};
use std::path::PathBuf;

/// How to run the new process.
#[derive(Debug, Default)]
pub struct ExecOptions {
    /// The process, whole (`--process`); None: the container's, changed below.
    pub process: Option<Process>,
    /// Replace the args (`exec ID ARGS...`).
    pub args: Vec<String>,
    /// KEY=VALUE, added or replacing.
    pub env: Vec<String>,
    pub cwd: Option<PathBuf>,
    pub user: Option<(u32, Option<u32>)>,
    pub additional_gids: Vec<u32>,
    /// Capability bits added to every set.
    pub add_caps: u64,
    pub no_new_privs: bool,
    pub detach: bool,
    pub pid_file: Option<PathBuf>,
    pub preserve_fds: u32,
    /// A terminal for the process (`--tty`), its master sent here.
    pub tty: bool,
    pub console_socket: Option<PathBuf>,
}

pub fn exec(root: &Root, id: &str, opts: ExecOptions) -> Result<i32, ContainerError> {
    let record = root.peek(id)?;
    let status = record.status();
    if status != Status::Running {
        let what = if status == Status::Paused {
            "cannot exec in a paused container (resume it first)"
        } else {
            "cannot exec in a container that is not running"
        };
        return Err(ContainerError::WrongStatus {
            id: id.to_string(),
            status,
            what,
        });
    }
    let pid = record
        .process
        .map(|p| p.pid)
        .expect("a running container has a process");
    let mut config = crate::config::from_bundle(&record.bundle)?;
    let mut process = opts.process.clone().unwrap_or_else(|| config.process.clone());
    if !opts.args.is_empty() {
        process.args = opts.args.clone();
    }
    if process.args.is_empty() {
        return Err(ContainerError::Usage(
            "exec: no command given (args or --process)".into(),
        ));
    }
    for entry in &opts.env {
        let key = entry.split('=').next().unwrap_or_default();
        process.env.retain(|e| e.split('=').next() != Some(key));
        process.env.push(entry.clone());
    }
    if let Some(cwd) = &opts.cwd {
        process.cwd = cwd.clone();
    }
    if let Some((uid, gid)) = opts.user {
        process.uid = uid;
        process.gid = gid.unwrap_or(uid);
    }
    process.additional_gids.extend(&opts.additional_gids);
    if let Some(caps) = &mut process.capabilities {
        caps.bounding |= opts.add_caps;
        caps.effective |= opts.add_caps;
        caps.permitted |= opts.add_caps;
        caps.inheritable |= opts.add_caps;
        caps.ambient |= opts.add_caps;
    }
    process.no_new_privileges |= opts.no_new_privs;
    process.terminal |= opts.tty;
    // A terminal in the foreground is relayed by this runtime, as runc's.
    let relayed = process.terminal && !opts.detach && opts.console_socket.is_none();
    if relayed {
        // The pty is born the size of the terminal it is relayed to.
        process.console_size = super::terminal::caller_size().or(process.console_size);
    }
    if !relayed {
        super::check_console(process.terminal, opts.console_socket.is_some(), opts.detach)?;
    }
    // Not nsbox's init: the process is the container's, not a PID 1.
    process.init = false;
    process.exit_file = None;
    config.process = process;
    config.namespaces = config
        .namespaces
        .iter()
        .map(|n| Namespace {
            kind: n.kind,
            join: Some(PathBuf::from(format!("/proc/{pid}/ns/{}", n.kind.proc_name()))),
        })
        .collect();
    config.setns_only = true;
    config.mounts.clear();
    config.hooks = Default::default();
    config.net_devices.clear();
    let seccomp = match &config.seccomp {
        Some(s) => Some(
            crate::seccomp::compile_cached(s, root.dir())
                .map_err(|e| {
                    ContainerError::Usage(format!(
                        "{}: {}: {}",
                        record.bundle.join("config.json").display(),
                        e.field,
                        e.message
                    ))
                })?
                .0,
        ),
        None => None,
    };
    // Blocked before the clone: no signal meant for the process is lost
    // before the wait (the child unblocks them).
    let old_mask = (!opts.detach)
        .then(|| supervisor_signals().block())
        .transpose()
        .map_err(io_err(id, "blocking signals"))?;
    let result = run_it(&config, &record.cgroups, seccomp.as_ref(), &opts, id, relayed);
    if let Some(mask) = old_mask {
        let _ = mask.set_mask();
    }
    result
}

fn run_it(
    config: &crate::config::Config,
    cgroups: &[crate::cgroup::oci::CgroupDir],
    seccomp: Option<&crate::seccomp::Filter>,
    opts: &ExecOptions,
    id: &str,
    relayed: bool,
) -> Result<i32, ContainerError> {
    let (ours, console) = if relayed {
        let (ours, theirs) = super::terminal::console_pair().map_err(io_err(id, "making the console socket"))?;
        (Some(ours), Some(theirs))
    } else {
        (
            None,
            super::create::connect_console(opts.console_socket.as_deref(), id)?,
        )
    };
    let spawned = spawn(
        config,
        SpawnOptions {
            launch: Launch::Exec,
            preserve_fds: Some(opts.preserve_fds),
            no_pivot: false,
            keyring: None,
            cgroups,
            seccomp,
            console,
        },
    )
    .map_err(|source| ContainerError::Spawn {
        id: id.to_string(),
        source,
    })?;
    if spawned.waits_for_go {
        spawned
            .channel
            .send(&Message::Go)
            .map_err(io_err(id, "starting the exec'd process's set-up"))?;
    }
    // End of file: the process runs (its end of the channel closed on exec).
    let report = spawned
        .channel
        .recv()
        .map_err(io_err(id, "reading the exec'd process's report"))?;
    if let Some(message) = report {
        // Killed (if it still runs) and reaped.
        drop(spawned.child);
        return Err(match message {
            Message::Failed(failure) => ContainerError::Init {
                id: id.to_string(),
                failure,
            },
            Message::CommandFailed(f) => ContainerError::Io {
                id: id.to_string(),
                step: "starting the exec'd process",
                source: std::io::Error::other(f.message),
            },
            other => io_err(id, "reading the exec'd process's report")(std::io::Error::other(format!(
                "unexpected {other:?}"
            ))),
        });
    }
    let pid = spawned.child.disarm();
    if let Some(path) = &opts.pid_file {
        super::create::write_pid_file(path, pid).map_err(|source| ContainerError::PidFile {
            id: id.to_string(),
            path: path.clone(),
            source,
        })?;
    }
    if opts.detach {
        return Ok(0);
    }
    let Some(ours) = ours else {
        return supervise(pid, false).map_err(io_err(id, "waiting for the exec'd process"));
    };
    let master = super::terminal::receive_master(&ours).map_err(io_err(id, "receiving the terminal"))?;
    super::terminal::relay_until_exit(master, pid).map_err(io_err(id, "waiting for the exec'd process"))
}
