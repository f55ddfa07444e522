//! A cgroup of the unified (v2) hierarchy that only holds processes, so
//! that they can all be killed at once: writing `1` to its `cgroup.kill`
//! kills every process in it, a child forked a moment before included. A
//! kill that reads /proc and signals PIDs one by one can miss such a child.
//!
//! It sets no limits, so it needs no controller: on a hybrid host (v1 for
//! the controllers, v2 mounted beside them, as here) processes can still
//! be moved into v2 cgroups. A host with no v2 mount has no kill groups
//! ([`super::Layout::unified_mount`] is None there).
//!
//! Ownership: a kill group is made with an extended attribute naming its
//! owner (`trusted.nsbox.owner`), and it is killed and removed only when it
//! carries the owner the caller names. A directory that merely has the
//! same name is left alone.

use super::{remove_dir_patiently, write_file, CgroupError};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const OWNER_XATTR: &str = "trusted.nsbox.owner";

/// How long [`KillGroup::kill`] waits for the killed processes to leave.
const EMPTY_TIMEOUT: Duration = Duration::from_secs(5);

/// One kill group (which may not exist yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KillGroup {
    dir: PathBuf,
    owner: String,
}

/// What [`KillGroup::kill`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Killed {
    /// There was no such group.
    Absent,
    /// Its processes were killed and it was removed.
    Removed,
    /// A directory of that name that is not this owner's: left alone.
    NotOurs,
}

impl KillGroup {
    /// The group `name` under `root` (a v2 hierarchy's mount point).
    pub fn under(root: &Path, name: &str, owner: &str) -> Self {
        KillGroup {
            dir: root.join(name),
            owner: owner.to_string(),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Moves this process (all its threads) into the group, made first if
    /// it does not exist; whatever it runs or forks from now on is in it.
    pub fn join(&self) -> Result<(), CgroupError> {
        // "0": the writing process, with all its threads.
        self.enter("0")
    }

    /// Moves process `pid` into the group (made first if need be); what it
    /// forks from then on is in it too.
    pub fn add(&self, pid: u32) -> Result<(), CgroupError> {
        self.enter(&pid.to_string())
    }

    fn enter(&self, pid: &str) -> Result<(), CgroupError> {
        match std::fs::create_dir(&self.dir) {
            Ok(()) => self.mark()?,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                if !self.is_ours() {
                    return Err(CgroupError::Create {
                        path: self.dir.clone(),
                        source: std::io::Error::other(format!("exists and is not {}'s", self.owner)),
                    });
                }
            }
            Err(source) => {
                return Err(CgroupError::Create {
                    path: self.dir.clone(),
                    source,
                })
            }
        }
        write_file(&self.dir, "cgroup.procs", pid)
    }

    fn mark(&self) -> Result<(), CgroupError> {
        rustix::fs::setxattr(
            &self.dir,
            OWNER_XATTR,
            self.owner.as_bytes(),
            rustix::fs::XattrFlags::CREATE,
        )
        .map_err(|e| CgroupError::Write {
            path: self.dir.join(OWNER_XATTR),
            value: self.owner.clone(),
            source: e.into(),
        })
        .inspect_err(|_| {
            // Unmarked, it could never be proven ours: do not leave it.
            let _ = std::fs::remove_dir(&self.dir);
        })
    }

    /// Whether the directory carries this group's owner mark.
    fn is_ours(&self) -> bool {
        let mut buf = vec![0u8; self.owner.len() + 1];
        matches!(
            rustix::fs::getxattr(&self.dir, OWNER_XATTR, &mut buf),
            Ok(n) if buf[..n] == *self.owner.as_bytes()
        )
    }

    /// Whether any process is in the group (`populated 1` in cgroup.events).
    pub fn populated(&self) -> bool {
        std::fs::read_to_string(self.dir.join("cgroup.events"))
            .is_ok_and(|t| t.lines().any(|l| l.trim() == "populated 1"))
    }

    /// Kills every process in the group at once, waits until they are gone
    /// and removes the group; a group of another owner is left alone.
    pub fn kill(&self) -> Result<Killed, CgroupError> {
        if !self.dir.exists() {
            return Ok(Killed::Absent);
        }
        if !self.is_ours() {
            return Ok(Killed::NotOurs);
        }
        if self.populated() {
            write_file(&self.dir, "cgroup.kill", "1")?;
            let deadline = Instant::now() + EMPTY_TIMEOUT;
            while self.populated() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        remove_dir_patiently(&self.dir)?;
        Ok(Killed::Removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v2_root() -> Option<PathBuf> {
        let root = super::super::Layout::unified_mount();
        if root.is_none() {
            eprintln!("skipped: no cgroup v2 hierarchy is mounted");
        }
        root
    }

    fn name(what: &str) -> String {
        format!("nsbox-test-{what}-{}", super::super::unique_name())
    }

    /// A process that forks without pause is killed with everything it
    /// forked, and the group is gone afterwards.
    #[test]
    fn kill_takes_a_forking_process_and_all_its_children_at_once() {
        if !rustix::process::geteuid().is_root() {
            eprintln!("skipped: needs root");
            return;
        }
        let Some(root) = v2_root() else { return };
        let group = KillGroup::under(&root, &name("fork"), "test fork");
        // It waits a moment before forking, so that all it forks is in.
        let mut child = std::process::Command::new("sh")
            .args(["-c", "sleep 0.1; while true; do sleep 5 & done"])
            .spawn()
            .unwrap();
        group.add(child.id()).unwrap();
        std::thread::sleep(Duration::from_millis(300));
        assert!(group.populated());
        assert_eq!(group.kill().unwrap(), Killed::Removed);
        assert!(!group.dir().exists());
        let status = child.wait().unwrap();
        assert_eq!(std::os::unix::process::ExitStatusExt::signal(&status), Some(9));
    }

    /// A directory of the same name that nsbox did not mark is neither
    /// joined nor killed nor removed.
    #[test]
    fn a_stranger_of_the_same_name_is_left_alone() {
        if !rustix::process::geteuid().is_root() {
            eprintln!("skipped: needs root");
            return;
        }
        let Some(root) = v2_root() else { return };
        let dir = root.join(name("stranger"));
        std::fs::create_dir(&dir).unwrap();
        let group = KillGroup::under(&root, dir.file_name().unwrap().to_str().unwrap(), "test");
        let joined = group.join();
        let killed = group.kill();
        let exists = dir.exists();
        std::fs::remove_dir(&dir).unwrap();
        assert!(joined.is_err());
        assert_eq!(killed.unwrap(), Killed::NotOurs);
        assert!(exists);
    }
}
