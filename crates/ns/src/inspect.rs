//! Which namespaces a process is in, read from `/proc`, the kernel's own view.

use crate::kind::NsKind;
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

/// A namespace as the kernel names it: its kind and its inode in nsfs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct NsId {
    pub kind: NsKind,
    pub inode: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    #[error("no process with PID {0}")]
    NoSuchProcess(i32),
    #[error("reading {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
}

fn read_err(path: PathBuf) -> impl FnOnce(std::io::Error) -> InspectError {
    move |source| InspectError::Read { path, source }
}

/// The namespace of kind `kind` that process `pid` is in, or `None` if the
/// kernel does not have that kind.
pub fn namespace_of(pid: i32, kind: NsKind) -> Result<Option<NsId>, InspectError> {
    let path = PathBuf::from(format!("/proc/{pid}/ns/{}", kind.proc_name()));
    match std::fs::metadata(&path) {
        Ok(meta) => Ok(Some(NsId {
            kind,
            inode: meta.ino(),
        })),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if std::path::Path::new(&format!("/proc/{pid}")).exists() {
                Ok(None)
            } else {
                Err(InspectError::NoSuchProcess(pid))
            }
        }
        Err(e) => Err(read_err(path)(e)),
    }
}

/// One namespace of a process, compared with the host's.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Membership {
    pub kind: NsKind,
    pub inode: u64,
    /// Whether the host (see [`host_reference`]) is in the same namespace;
    /// `None` when no host process could be read.
    pub shared_with_host: Option<bool>,
}

/// The process whose namespaces count as the host's: PID 1, or, where PID
/// 1's links cannot be read (a sandbox's supervisor can forbid it),
/// `kthreadd` (PID 2), which like every kernel thread lives in the initial
/// namespaces.
pub fn host_reference() -> Option<i32> {
    if namespace_of(1, NsKind::Net).is_ok() {
        return Some(1);
    }
    let comm = std::fs::read_to_string("/proc/2/comm").ok()?;
    (comm.trim() == "kthreadd" && namespace_of(2, NsKind::Net).is_ok()).then_some(2)
}

/// Everything `nsbox ns PID` shows about a process.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ProcessNamespaces {
    pub pid: i32,
    pub command: String,
    pub namespaces: Vec<Membership>,
    /// The PID in every pid namespace from the caller's own down to the
    /// process's (the `NSpid` line of `/proc/PID/status`).
    pub nspid: Vec<i32>,
}

impl ProcessNamespaces {
    pub fn of(pid: i32) -> Result<Self, InspectError> {
        let host = host_reference();
        let mut namespaces = Vec::new();
        for kind in NsKind::ALL {
            let Some(ns) = namespace_of(pid, kind)? else { continue };
            let host_ns = host.and_then(|h| namespace_of(h, kind).ok().flatten());
            namespaces.push(Membership {
                kind,
                inode: ns.inode,
                shared_with_host: host_ns.map(|h| h == ns),
            });
        }
        Ok(ProcessNamespaces {
            pid,
            command: command_of(pid).unwrap_or_default(),
            namespaces,
            nspid: nspid_of(pid)?,
        })
    }
}

/// The `NSpid` line of `/proc/PID/status`.
pub fn nspid_of(pid: i32) -> Result<Vec<i32>, InspectError> {
    let path = PathBuf::from(format!("/proc/{pid}/status"));
    let status = std::fs::read_to_string(&path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            InspectError::NoSuchProcess(pid)
        } else {
            read_err(path.clone())(e)
        }
    })?;
    Ok(parse_nspid(&status).unwrap_or_else(|| vec![pid]))
}

fn parse_nspid(status: &str) -> Option<Vec<i32>> {
    let line = status.lines().find_map(|l| l.strip_prefix("NSpid:"))?;
    line.split_whitespace().map(|p| p.parse().ok()).collect()
}

/// A short command line of `pid`: its arguments joined by spaces, or its
/// `comm` in brackets for kernel threads (as `ps` shows them).
pub fn command_of(pid: i32) -> Option<String> {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    if cmdline.is_empty() {
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
        return Some(format!("[{}]", comm.trim_end()));
    }
    let args: Vec<String> = cmdline
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    Some(args.join(" "))
}

/// One namespace on the system, as `lsns` lists it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NamespaceSummary {
    pub kind: NsKind,
    pub inode: u64,
    /// How many processes are in it.
    pub processes: usize,
    /// The lowest PID in it, and that process's command.
    pub pid: i32,
    pub command: String,
}

/// Every namespace that some process is in, found by walking `/proc`.
/// Processes that vanish during the walk are skipped.
pub fn all_namespaces() -> Result<Vec<NamespaceSummary>, InspectError> {
    let proc = PathBuf::from("/proc");
    let mut pids: Vec<i32> = std::fs::read_dir(&proc)
        .map_err(read_err(proc))?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    pids.sort_unstable();
    let mut seen: BTreeMap<NsId, (usize, i32)> = BTreeMap::new();
    for pid in pids {
        for kind in NsKind::ALL {
            if let Ok(Some(ns)) = namespace_of(pid, kind) {
                seen.entry(ns).and_modify(|(n, _)| *n += 1).or_insert((1, pid));
            }
        }
    }
    Ok(seen
        .into_iter()
        .map(|(ns, (processes, pid))| NamespaceSummary {
            kind: ns.kind,
            inode: ns.inode,
            processes,
            pid,
            command: command_of(pid).unwrap_or_default(),
        })
        .collect())
}

/// The processes whose namespace of `kind` is one of `inodes`, sorted, in
/// one pass over /proc (a process that ends meanwhile is skipped).
pub fn processes_in(kind: NsKind, inodes: &[u64]) -> std::io::Result<Vec<i32>> {
    let mut pids: Vec<i32> = std::fs::read_dir("/proc")?
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::metadata(format!("/proc/{pid}/ns/{}", kind.proc_name())).is_ok_and(|m| inodes.contains(&m.ino()))
        })
        .collect();
    pids.sort_unstable();
    Ok(pids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nspid() {
        let status = "Name:\tsh\nNSpid:\t4242\t7\t1\nPPid:\t1\n";
        assert_eq!(parse_nspid(status), Some(vec![4242, 7, 1]));
        assert_eq!(parse_nspid("Name:\tsh\n"), None);
    }

    #[test]
    fn own_namespaces_are_readable() {
        let me = ProcessNamespaces::of(std::process::id() as i32).unwrap();
        assert!(me.namespaces.iter().any(|m| m.kind == NsKind::Net));
        assert_eq!(*me.nspid.last().unwrap(), std::process::id() as i32);
    }

    #[test]
    fn missing_process_is_named() {
        // PIDs are capped well below i32::MAX (pid_max <= 4194304).
        let err = ProcessNamespaces::of(i32::MAX).unwrap_err();
        assert!(matches!(err, InspectError::NoSuchProcess(p) if p == i32::MAX));
    }
}
