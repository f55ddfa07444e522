//! Resource limits through cgroups, v1 (one hierarchy per controller, as on
//! this host) and v2 (one unified hierarchy).
//!
//! nsbox makes one cgroup per container only when a limit is asked for (the
//! first write to `cgroup.procs` after the machine has been idle costs
//! milliseconds), named `nsbox-<pid>-<random>` at the root of each
//! hierarchy (see [`unique_name`]), and
//! removes it when the container is gone. [`CgroupSet`] removes whatever it
//! made on drop, so a failure half-way leaves nothing behind. On v2 the
//! container is born in its cgroup (`clone3(CLONE_INTO_CGROUP)`), so nothing
//! is written to `cgroup.procs` at all; v1 has no such way in.

mod kill_group;
pub(crate) mod layout;
pub mod oci;
mod sweep;
mod v1;
mod v2;

pub use kill_group::{KillGroup, Killed};
pub use layout::{Controller, Layout};

use crate::spec::Limits;
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

/// The cgroups of one container: one directory per hierarchy that holds a
/// controller it needs.
#[derive(Debug)]
pub struct CgroupSet {
    dirs: Vec<PathBuf>,
    /// Made in the one unified (v2) hierarchy.
    v2: bool,
}

impl CgroupSet {
    /// Makes the cgroups for `limits` and writes the limits. On failure,
    /// what was made is removed again.
    pub fn create(layout: &Layout, name: &str, limits: &Limits) -> Result<Self, CgroupError> {
        let mut set = CgroupSet {
            dirs: Vec::new(),
            v2: layout.is_v2(),
        };
        let wanted = Controller::for_limits(limits);
        for (root, controllers) in layout.hierarchies_for(&wanted)? {
            if layout.is_v2() {
                v2::enable_controllers(&root, &controllers)?;
            }
            let dir = root.join(name);
            create_fresh(&dir)?;
            set.dirs.push(dir.clone());
            for controller in controllers {
                if layout.is_v2() {
                    v2::apply(&dir, controller, limits)?;
                } else {
                    v1::apply(&dir, controller, limits)?;
                }
            }
        }
        Ok(set)
    }

    /// The directories made, one per hierarchy.
    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    /// The container's cgroup, opened for `clone3(CLONE_INTO_CGROUP)`: a
    /// child born in it needs no write to `cgroup.procs` (the first one after
    /// an idle moment waits for an RCU grace period, milliseconds) and never
    /// runs outside it. Only a v2 cgroup can be entered so; None on v1.
    pub fn clone_target(&self) -> Option<std::fs::File> {
        match self.dirs.as_slice() {
            [dir] if self.v2 => std::fs::File::open(dir).ok(),
            _ => None,
        }
    }

    /// Moves process `pid` (and, for a new process, everything it will fork) in.
    pub fn add(&self, pid: i32) -> Result<(), CgroupError> {
        for dir in &self.dirs {
            write_file(dir, "cgroup.procs", &pid.to_string())?;
        }
        Ok(())
    }

    /// How many processes the kernel's OOM killer has killed in these
    /// cgroups (`oom_kill` of v1's memory.oom_control, v2's memory.events):
    /// the truth about a container killed by SIGKILL under a memory limit.
    pub fn oom_kills(&self) -> u64 {
        self.dirs
            .iter()
            .flat_map(|dir| ["memory.oom_control", "memory.events"].map(|f| dir.join(f)))
            .filter_map(|file| std::fs::read_to_string(file).ok())
            .flat_map(|text| {
                text.lines()
                    .filter_map(|l| l.strip_prefix("oom_kill ")?.trim().parse::<u64>().ok())
                    .collect::<Vec<_>>()
            })
            .sum()
    }

    /// Removes every directory, trying them all even when one fails; returns
    /// the first error. Processes that are still exiting keep a cgroup busy
    /// for a moment, so a busy directory is retried for up to a second.
    pub fn remove(mut self) -> Result<(), CgroupError> {
        self.remove_all()
    }

    fn remove_all(&mut self) -> Result<(), CgroupError> {
        let mut first = None;
        let now = std::time::SystemTime::now();
        for dir in self.dirs.drain(..).rev() {
            if let Err(e) = remove_dir_patiently(&dir) {
                first.get_or_insert(e);
            }
            // What killed nsbox processes left beside it (see `sweep`).
            if let Some(root) = dir.parent() {
                sweep::sweep(root, now);
            }
        }
        first.map_or(Ok(()), Err)
    }
}

impl Drop for CgroupSet {
    fn drop(&mut self) {
        let _ = self.remove_all();
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

/// Makes the cgroup directory `dir`. One that exists is not ours to take
/// over or remove (another nsbox may have just made it), so that is an error.
fn create_fresh(dir: &Path) -> Result<(), CgroupError> {
    std::fs::create_dir(dir).map_err(|source| CgroupError::Create {
        path: dir.into(),
        source,
    })
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

// f_type is i64 here but a different integer type on other architectures.
#[allow(clippy::unnecessary_cast)]
fn is_cgroupfs(dir: &Path) -> bool {
    const CGROUP_SUPER_MAGIC: i64 = 0x27e0eb;
    const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;
    rustix::fs::statfs(dir)
        .map(|s| matches!(s.f_type as i64, CGROUP_SUPER_MAGIC | CGROUP2_SUPER_MAGIC))
        .unwrap_or(false)
}
