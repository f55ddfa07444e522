//! Joining the namespaces of another process (`setns`), as `nsenter -t PID` does.

use crate::inspect::namespace_of;
use crate::kind::{NsKind, NsSet};
use std::os::fd::OwnedFd;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    #[error("no process with PID {0}")]
    NoSuchProcess(i32),
    #[error("opening {path}: {source}")]
    Open { path: PathBuf, source: std::io::Error },
    #[error("joining the {kind} namespace of PID {pid}: {source}")]
    Setns {
        kind: NsKind,
        pid: i32,
        source: std::io::Error,
    },
    #[error("entering the root directory of PID {pid}: {source}")]
    Root { pid: i32, source: std::io::Error },
    #[error("entering the working directory of PID {pid}: {source}")]
    Cwd { pid: i32, source: std::io::Error },
}

/// The namespaces (and root and working directory) of a target process,
/// opened up front so that joining does not depend on paths that change
/// meaning once the first namespace is joined.
pub struct Joiner {
    pid: i32,
    namespaces: Vec<(NsKind, OwnedFd)>,
    root: Option<OwnedFd>,
    cwd: Option<OwnedFd>,
}

fn open_path(path: PathBuf) -> Result<OwnedFd, JoinError> {
    use rustix::fs::{open, Mode, OFlags};
    open(&path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()).map_err(|e| JoinError::Open { path, source: e.into() })
}

impl Joiner {
    /// Opens the namespaces of `kinds` of process `pid`. Kinds the process
    /// shares with the caller are left out (joining one's own user namespace
    /// is an error, and the rest would be no-ops). With `with_root`, the
    /// process's root and working directory are opened too (and entered on
    /// join), which is what makes a joined mount namespace usable.
    pub fn open(pid: i32, kinds: NsSet, with_root: bool) -> Result<Self, JoinError> {
        let me = rustix::process::getpid().as_raw_nonzero().get();
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            return Err(JoinError::NoSuchProcess(pid));
        }
        let mut namespaces = Vec::new();
        for kind in kinds.iter() {
            // "No such process" only when it is so: EACCES (another user's
            // process, or ptrace rules) says what it says.
            let theirs = namespace_of(pid, kind).map_err(|e| match e {
                crate::inspect::InspectError::NoSuchProcess(pid) => JoinError::NoSuchProcess(pid),
                crate::inspect::InspectError::Read { path, source } => JoinError::Open { path, source },
            })?;
            let ours = namespace_of(me, kind).ok().flatten();
            // For pid and time the relevant "ours" is the one our children get.
            let ours = match kind {
                NsKind::Pid | NsKind::Time => children_namespace(me, kind).or(ours),
                _ => ours,
            };
            if theirs.is_none() || theirs == ours {
                continue;
            }
            let path = PathBuf::from(format!("/proc/{pid}/ns/{}", kind.proc_name()));
            namespaces.push((kind, open_path(path)?));
        }
        let (root, cwd) = if with_root {
            (
                Some(open_path(PathBuf::from(format!("/proc/{pid}/root")))?),
                Some(open_path(PathBuf::from(format!("/proc/{pid}/cwd")))?),
            )
        } else {
            (None, None)
        };
        Ok(Joiner {
            pid,
            namespaces,
            root,
            cwd,
        })
    }

    /// The kinds that [`Joiner::join`] will actually switch.
    pub fn kinds(&self) -> NsSet {
        self.namespaces.iter().map(|(k, _)| *k).collect()
    }

    /// Joins every opened namespace, user first, then enters the root and
    /// working directory. The calling process must be single-threaded (the
    /// kernel refuses mount and user namespace changes otherwise). The pid
    /// and time namespaces apply to children created afterwards.
    pub fn join(self) -> Result<(), JoinError> {
        use rustix::thread::{move_into_link_name_space, LinkNameSpaceType};
        let pid = self.pid;
        for (kind, fd) in &self.namespaces {
            let ty = match kind {
                NsKind::User => LinkNameSpaceType::User,
                NsKind::Cgroup => LinkNameSpaceType::ControlGroup,
                NsKind::Ipc => LinkNameSpaceType::InterProcessCommunication,
                NsKind::Uts => LinkNameSpaceType::HostNameAndNISDomainName,
                NsKind::Net => LinkNameSpaceType::Network,
                NsKind::Pid => LinkNameSpaceType::ProcessID,
                NsKind::Mnt => LinkNameSpaceType::Mount,
                NsKind::Time => LinkNameSpaceType::Time,
            };
            move_into_link_name_space(std::os::fd::AsFd::as_fd(fd), Some(ty)).map_err(|e| JoinError::Setns {
                kind: *kind,
                pid,
                source: e.into(),
            })?;
        }
        if let Some(root) = &self.root {
            rustix::process::fchdir(root).map_err(|e| JoinError::Root { pid, source: e.into() })?;
            rustix::process::chroot(".").map_err(|e| JoinError::Root { pid, source: e.into() })?;
        }
        if let Some(cwd) = &self.cwd {
            rustix::process::fchdir(cwd).map_err(|e| JoinError::Cwd { pid, source: e.into() })?;
        }
        Ok(())
    }
}

fn children_namespace(pid: i32, kind: NsKind) -> Option<crate::inspect::NsId> {
    use std::os::unix::fs::MetadataExt;
    let path = format!("/proc/{pid}/ns/{}_for_children", kind.proc_name());
    std::fs::metadata(path)
        .ok()
        .map(|m| crate::inspect::NsId { kind, inode: m.ino() })
}
