//! Resource limits through cgroups, v1 (one hierarchy per controller, as on
//! this host) and v2 (one unified hierarchy).
//!
//! One layer for every container (see [`oci`]): an OCI container's cgroup
//! is where `linux.cgroupsPath` says; `nsbox unshare` makes one only when a
//! limit is asked for (the first write to `cgroup.procs` after the machine
//! has been idle costs milliseconds), named `nsbox-<pid>-<random>` at the
//! root of each hierarchy (see [`unique_name`]), and removes it when the
//! container is gone. On v2 the container is born in its cgroup
//! (`clone3(CLONE_INTO_CGROUP)`), so nothing is written to `cgroup.procs`;
//! v1 has no such way in.

mod devices_bpf;
pub mod freezer;
mod kill_group;
pub(crate) mod layout;
pub mod oci;
pub(crate) mod resources;
pub mod stats;
mod sweep;
pub mod update;
mod v2;

pub use kill_group::{KillGroup, Killed};
pub use layout::Layout;

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("no cgroup hierarchy has the {0} controller (is it mounted?)")]
    NoController(&'static str),
    #[error("creating cgroup {path}: {source}")]
    Create { path: PathBuf, source: std::io::Error },
    #[error("cgroup limit rejected: writing {value:?} to {path}: {source}")]
    Write {
        path: PathBuf,
        value: String,
        source: std::io::Error,
    },
    #[error("removing cgroup {path}: {source}")]
    Remove { path: PathBuf, source: std::io::Error },
    #[error("{0}: not supported yet")]
    Unsupported(&'static str),
    #[error("reading {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
}

/// Writes `value` to `dir/file`, with an error that names both.
pub(crate) fn write_file(dir: &Path, file: &str, value: &str) -> Result<(), CgroupError> {
    let path = dir.join(file);
    std::fs::write(&path, value).map_err(|source| CgroupError::Write {
        path,
        value: value.into(),
        source,
    })
}

/// Sweeps the hierarchies of `dirs` (just removed) for what killed nsbox
/// processes left beside them (see `sweep`).
pub(crate) fn sweep_beside(dirs: &[oci::CgroupDir]) {
    let now = std::time::SystemTime::now();
    for dir in dirs {
        if let Some(parent) = dir.path.parent() {
            sweep::sweep(parent, now);
        }
    }
}

/// The lines of a `/proc/PID/cgroup` text: each hierarchy's controllers
/// (sorted; `name=systemd` as it stands; none for v2) and the process's
/// cgroup path in it.
pub(crate) fn membership(text: &str) -> Vec<(Vec<String>, String)> {
    text.lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, ':');
            let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
            let mut names: Vec<String> = controllers
                .split(',')
                .filter(|c| !c.is_empty())
                .map(String::from)
                .collect();
            names.sort();
            Some((names, path.to_string()))
        })
        .collect()
}

/// A name for a new cgroup that no other nsbox uses: its PID alone is not
/// one (two nsbox processes in different pid namespaces have the same PID,
/// and the kernel reuses PIDs), so 64 random bits follow it.
pub fn unique_name() -> String {
    let mut token = [0u8; 8];
    // A failed getrandom leaves zeros: the name is then still unique
    // within this pid namespace, and `create` refuses an existing one.
    let _ = rustix::rand::getrandom(&mut token, rustix::rand::GetRandomFlags::empty());
    format!("nsbox-{}-{:016x}", std::process::id(), u64::from_ne_bytes(token))
}

fn remove_dir_patiently(dir: &Path) -> Result<(), CgroupError> {
    for attempt in 0.. {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && attempt < 100 => {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            // A fake tree in a temp dir holds files; a real cgroup directory
            // never has removable files, so this only happens in tests.
            Err(e) if e.raw_os_error() == Some(libc::ENOTEMPTY) && !is_cgroupfs(dir) => {
                return std::fs::remove_dir_all(dir).map_err(|source| CgroupError::Remove {
                    path: dir.into(),
                    source,
                });
            }
            Err(source) => {
                return Err(CgroupError::Remove {
                    path: dir.into(),
                    source,
                })
            }
        }
    }
    unreachable!("the loop returns")
}

const CGROUP_SUPER_MAGIC: i64 = 0x27e0eb;
const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;

// f_type is i64 here but a different integer type on other architectures.
#[allow(clippy::unnecessary_cast)]
fn fs_type(dir: &Path) -> Option<i64> {
    rustix::fs::statfs(dir).map(|s| s.f_type as i64).ok()
}

fn is_cgroupfs(dir: &Path) -> bool {
    matches!(fs_type(dir), Some(CGROUP_SUPER_MAGIC | CGROUP2_SUPER_MAGIC))
}

fn is_cgroup2(dir: &Path) -> bool {
    fs_type(dir) == Some(CGROUP2_SUPER_MAGIC)
}
