//! Containers behind runc's verbs: `create`, `start`, `state`, `kill`,
//! `delete`, `run`, `list`, each a file over the store (one directory per
//! container under `--root`, see `store`) and runc's state machine
//! (`state`).

pub mod create;
pub mod delete;
pub mod events;
pub mod exec;
pub mod kill;
pub mod net_devices;
pub mod pause;
pub mod ps;
pub mod run;
pub mod start;
pub mod state;
pub mod store;
pub(crate) mod terminal;
pub mod update;

pub use create::{create, now_rfc3339 as now, CreateOptions};
pub use delete::delete;
pub use exec::{exec, ExecOptions};
pub use kill::{kill, parse_signal};
pub use pause::{pause, resume};
pub use ps::pids;
pub use run::run;
pub use start::start;
pub use state::{ProcessIdentity, Status};
pub use store::{check_id, Entry, Record, Root, StoreError};
pub use update::update;

use crate::cgroup::CgroupError;
use crate::config::ConfigError;
use crate::process::channel::InitFailure;
use std::path::PathBuf;

/// Why a lifecycle verb failed. Every variant names the container or the
/// object and the step.
#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
    #[error("container {id}: {source}")]
    NetDevice {
        id: String,
        source: net_devices::NetDeviceError,
    },
    #[error("container {id}: {failure}")]
    Init { id: String, failure: InitFailure },
    #[error("container {id}: {source}")]
    Spawn {
        id: String,
        source: crate::process::spawn::SpawnError,
    },
    #[error("container {id}: {step}: {}", nsbox_sys::errno::describe(source))]
    Io {
        id: String,
        step: &'static str,
        source: std::io::Error,
    },
    #[error("container {id} is {status}: {what}")]
    WrongStatus {
        id: String,
        status: Status,
        what: &'static str,
    },
    #[error("container {id}: {source}")]
    Hook {
        id: String,
        source: crate::hooks::HookError,
    },
    #[error("{0}")]
    Usage(String),
    #[error("container {id}: writing the pid file {}: {}", path.display(), nsbox_sys::errno::describe(source))]
    PidFile {
        id: String,
        path: PathBuf,
        source: std::io::Error,
    },
}

/// runc's rules for a terminal: a runtime that returns before the process
/// ends (`create`, `run --detach`, `exec --detach`) sends a terminal's
/// master to a console socket, which it must be given; a console socket
/// needs such a runtime and a terminal. In the foreground the runtime relays
/// the terminal itself (`terminal::relay_until_exit`).
pub(crate) fn check_console(terminal: bool, socket: bool, detach: bool) -> Result<(), ContainerError> {
    let usage = |m: &str| Err(ContainerError::Usage(m.into()));
    match (terminal, socket, detach) {
        (true, false, true) => usage("process.terminal is true: give --console-socket to receive the terminal"),
        (_, true, false) => usage("--console-socket needs a detached runtime (create, run --detach, exec --detach)"),
        (false, true, true) => usage("--console-socket: process.terminal is false, so there is no terminal to send"),
        _ => Ok(()),
    }
}

pub(crate) fn io_err(id: &str, step: &'static str) -> impl FnOnce(std::io::Error) -> ContainerError {
    let id = id.to_string();
    move |source| ContainerError::Io { id, step, source }
}

/// The OCI state document (`state`'s output, and the hooks' stdin).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OciState {
    pub oci_version: String,
    pub id: String,
    pub status: Status,
    /// Absent once the container has stopped (its PID may be another's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<i32>,
    pub bundle: PathBuf,
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub annotations: std::collections::BTreeMap<String, String>,
}

impl Record {
    /// The state as the OCI spec shows it, with the status of now.
    pub fn oci_state(&self) -> OciState {
        let status = self.status();
        OciState {
            oci_version: self.oci_version.clone(),
            id: self.id.clone(),
            status,
            pid: self.process.filter(|_| status != Status::Stopped).map(|p| p.pid),
            bundle: self.bundle.clone(),
            annotations: self.annotations.clone(),
        }
    }
}

impl Record {
    /// The state JSON a hook reads: this record, as `status` with process `pid`.
    pub fn hook_state(&self, status: Status, pid: Option<i32>) -> String {
        let mut state = self.oci_state();
        state.status = status;
        state.pid = pid;
        serde_json::to_string(&state).expect("plain data")
    }
}

/// The state of container `id`.
pub fn state(root: &Root, id: &str) -> Result<OciState, ContainerError> {
    Ok(root.peek(id)?.oci_state())
}

/// Every container under `root` (ids that vanish while listing are skipped).
pub fn list(root: &Root) -> Result<Vec<Record>, ContainerError> {
    let mut out = Vec::new();
    for id in root.list()? {
        match root.peek(&id) {
            Ok(record) => out.push(record),
            Err(StoreError::NotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(out)
}
