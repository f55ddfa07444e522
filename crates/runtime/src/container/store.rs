//! The containers under one root directory (runc's `--root`): a directory
//! per container id holding its record, `state.json`, replaced whole (write
//! then rename), and locked (flock on the directory) by whichever command
//! works on the container, so that commands on one id take turns. Making
//! the directory is what claims an id: of two `create`s of one id, one
//! makes it and the other is told the id exists.

use super::state::{ProcessIdentity, Status};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "container id {0:?}: use letters, digits, '_', '+', '-' and '.', not '.' or '..' alone, at most 1024 bytes"
    )]
    BadId(String),
    #[error("container {0} exists")]
    Exists(String),
    #[error("container {0} does not exist")]
    NotFound(String),
    #[error("{step} {}: {source}", path.display())]
    Io {
        step: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

fn io<T>(step: &'static str, path: &Path, r: std::io::Result<T>) -> Result<T, StoreError> {
    r.map_err(|source| StoreError::Io {
        step,
        path: path.to_path_buf(),
        source,
    })
}

/// What is recorded of a container: the OCI state's fields, and its
/// process's identity rather than a bare PID.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Record {
    pub oci_version: String,
    pub id: String,
    pub bundle: PathBuf,
    /// The container's process, once `create` has made it.
    pub process: Option<ProcessIdentity>,
    /// The status the last command left it in; [`Record::status`] says
    /// what it is now.
    pub status: Status,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// The cgroups made or joined for it (removed at `delete`: what was made).
    #[serde(default)]
    pub cgroups: Vec<crate::cgroup::oci::CgroupDir>,
    /// Whether it has a pid namespace of its own (`kill --all` then finds
    /// its processes by that namespace).
    #[serde(default)]
    pub own_pid_ns: bool,
    /// When `create` made it (RFC 3339, UTC).
    #[serde(default)]
    pub created: String,
    /// The hooks `start` and `delete` run (poststart, poststop).
    #[serde(default)]
    pub hooks: crate::hooks::Hooks,
    /// Host links moved into the container (`linux.netDevices`), given back at `delete`.
    #[serde(default)]
    pub net_devices: Vec<super::net_devices::MovedDevice>,
    /// The `create` that is making it: a record left `creating` by a
    /// `create` that has died is `stopped`, and `delete` takes it away.
    #[serde(default)]
    pub creator: Option<ProcessIdentity>,
    /// The resources its cgroups have now (`update` changes them).
    #[serde(default)]
    pub resources: crate::config::Resources,
}

impl Record {
    /// The status now, whoever asks: stopped as soon as the process has
    /// ended (even if nobody waited for it) or its PID is another's.
    pub fn status(&self) -> Status {
        let creating = self.status == Status::Creating;
        if creating && !self.creator.is_none_or(|c| c.is_alive()) {
            return Status::Stopped;
        }
        match (&self.process, self.status) {
            (None, Status::Creating) => Status::Creating,
            // Frozen or thawed by whoever: the freezer is the truth.
            (Some(p), Status::Running | Status::Paused) if p.is_alive() => {
                match crate::cgroup::freezer::is_frozen(&self.cgroups) {
                    Some(true) => Status::Paused,
                    Some(false) => Status::Running,
                    None => self.status,
                }
            }
            (Some(p), status) if p.is_alive() => status,
            _ => Status::Stopped,
        }
    }
}

/// A root directory of containers.
#[derive(Debug, Clone)]
pub struct Root {
    dir: PathBuf,
}

/// One container's directory, locked while this is held.
#[derive(Debug)]
pub struct Entry {
    id: String,
    dir: PathBuf,
    _lock: File,
}

/// runc's rule for ids: `^[\w+\-.]+$`, and not `.` or `..` (they would
/// name the root or its parent), within the length runc allows.
pub fn check_id(id: &str) -> Result<(), StoreError> {
    const LONGEST: usize = 1024;
    let fine = !id.is_empty()
        && id.len() <= LONGEST
        && id != "."
        && id != ".."
        && id.chars().all(|c| c.is_ascii_alphanumeric() || "_+-.".contains(c));
    fine.then_some(()).ok_or_else(|| StoreError::BadId(id.to_string()))
}

impl Root {
    pub fn at(dir: impl Into<PathBuf>) -> Root {
        Root { dir: dir.into() }
    }

    /// The directory itself (it also keeps compiled seccomp filters: see
    /// `seccomp::compile_cached`; plain files, not containers).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Eight hex digits that tell this root from others (FNV-1a of its
    /// absolute path): containers of one id under two roots (two labs'
    /// nodes of one name) get cgroups of different names.
    pub fn tag(&self) -> String {
        use std::os::unix::ffi::OsStrExt;
        let path = std::path::absolute(&self.dir).unwrap_or_else(|_| self.dir.clone());
        let hash = path
            .as_os_str()
            .as_bytes()
            .iter()
            .fold(0x811c_9dc5_u32, |h, b| (h ^ u32::from(*b)).wrapping_mul(0x0100_0193));
        format!("{hash:08x}")
    }

    fn path(&self, id: &str) -> Result<PathBuf, StoreError> {
        check_id(id)?;
        Ok(self.dir.join(id))
    }

    /// Claims `id` (its directory is made, only readable by root) and locks it.
    pub fn create(&self, id: &str) -> Result<Entry, StoreError> {
        let dir = self.path(id)?;
        io("creating", &self.dir, std::fs::create_dir_all(&self.dir))?;
        let private = rustix::fs::Mode::from_bits_truncate(0o700);
        match rustix::fs::mkdir(&dir, private) {
            Ok(()) => {}
            Err(rustix::io::Errno::EXIST) => return Err(StoreError::Exists(id.to_string())),
            Err(e) => return io("creating", &dir, Err(e.into())),
        }
        lock(id, dir)
    }

    /// Locks the container `id`, waiting for the command that holds it.
    pub fn open(&self, id: &str) -> Result<Entry, StoreError> {
        let dir = self.path(id)?;
        if !dir.is_dir() {
            return Err(StoreError::NotFound(id.to_string()));
        }
        let entry = lock(id, dir)?;
        // Deleted while this waited for the lock.
        if !entry.dir.is_dir() {
            return Err(StoreError::NotFound(id.to_string()));
        }
        Ok(entry)
    }

    /// Reads the record of `id` without waiting for the command that holds
    /// it (records are replaced whole, so a reader never sees half of one).
    pub fn peek(&self, id: &str) -> Result<Record, StoreError> {
        let path = self.path(id)?.join(STATE);
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| StoreError::Io {
                step: "reading",
                path,
                source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(StoreError::NotFound(id.to_string())),
            Err(e) => io("reading", &path, Err(e)),
        }
    }

    /// The ids of the containers under the root, sorted.
    pub fn list(&self) -> Result<Vec<String>, StoreError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return io("listing", &self.dir, Err(e)),
        };
        let mut ids: Vec<String> = entries
            .flatten()
            .filter(|e| e.path().is_dir())
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|id| check_id(id).is_ok())
            .collect();
        ids.sort();
        Ok(ids)
    }
}

/// The record's file in a container's directory.
const STATE: &str = "state.json";
/// The socket the container's process listens on until `start`.
const START_SOCKET: &str = "exec.sock";
/// The pin of the container's network namespace (see `net_devices`).
const NETNS_PIN: &str = "netns";

fn lock(id: &str, dir: PathBuf) -> Result<Entry, StoreError> {
    let file = io("opening", &dir, File::open(&dir))?;
    io("locking", &dir, file.lock())?;
    Ok(Entry {
        id: id.to_string(),
        dir,
        _lock: file,
    })
}

impl Entry {
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Records `record`, replacing the file whole: a reader sees the old
    /// record or the new one, never half of one.
    pub fn write(&self, record: &Record) -> Result<(), StoreError> {
        let path = self.dir.join(STATE);
        let temporary = self.dir.join(".state.json.new");
        let text = serde_json::to_string(record).expect("plain data serializes");
        let mut file = io("creating", &temporary, File::create(&temporary))?;
        io("writing", &temporary, file.write_all(text.as_bytes()))?;
        io("renaming", &temporary, std::fs::rename(&temporary, &path))
    }

    pub fn read(&self) -> Result<Record, StoreError> {
        let path = self.dir.join(STATE);
        let text = io("reading", &path, std::fs::read_to_string(&path))?;
        serde_json::from_str(&text).map_err(|e| StoreError::Io {
            step: "reading",
            path,
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
        })
    }

    /// Where the container's network namespace is pinned while host links are in it.
    pub fn netns_pin(&self) -> PathBuf {
        self.dir.join(NETNS_PIN)
    }

    /// Where `start` releases the container's process (see `create`).
    pub fn start_socket(&self) -> PathBuf {
        self.dir.join(START_SOCKET)
    }

    /// Removes the container's directory and all in it (the lock is held
    /// to the end).
    pub fn remove(self) -> Result<(), StoreError> {
        io("removing", &self.dir, std::fs::remove_dir_all(&self.dir))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn record(id: &str, process: Option<ProcessIdentity>, status: Status) -> Record {
        Record {
            oci_version: "1.2.0".into(),
            id: id.into(),
            bundle: "/b".into(),
            process,
            status,
            annotations: BTreeMap::new(),
            cgroups: Vec::new(),
            own_pid_ns: false,
            created: String::new(),
            hooks: Default::default(),
            net_devices: Vec::new(),
            creator: None,
            resources: Default::default(),
        }
    }

    #[test]
    fn a_container_is_claimed_written_read_listed_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::at(dir.path().join("root"));
        assert!(root.list().unwrap().is_empty());
        let entry = root.create("c1").unwrap();
        let me = ProcessIdentity::of(std::process::id() as i32).unwrap();
        let r = record("c1", Some(me), Status::Created);
        entry.write(&r).unwrap();
        assert_eq!(entry.read().unwrap(), r);
        assert_eq!(entry.read().unwrap().status(), Status::Created);
        assert!(matches!(root.create("c1"), Err(StoreError::Exists(_))));
        drop(entry);
        assert_eq!(root.list().unwrap(), vec!["c1".to_string()]);
        root.open("c1").unwrap().remove().unwrap();
        assert!(matches!(root.open("c1"), Err(StoreError::NotFound(_))));
        assert!(root.list().unwrap().is_empty());
    }

    #[test]
    fn ids_that_are_paths_are_refused_and_nothing_is_made() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::at(dir.path().join("root"));
        for bad in ["", ".", "..", "a/b", "../x", "a b", &"x".repeat(1025)] {
            assert!(matches!(root.create(bad), Err(StoreError::BadId(_))), "{bad:?}");
            assert!(matches!(root.open(bad), Err(StoreError::BadId(_))), "{bad:?}");
        }
        assert!(!dir.path().join("root").exists(), "not even the root was made");
        for good in ["a", "a.b_c+d-e", "0", &"x".repeat(1024)] {
            assert!(check_id(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn of_two_creates_of_one_id_one_wins_and_commands_on_one_id_take_turns() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::at(dir.path());
        let results: Vec<bool> = std::thread::scope(|s| {
            let racers: Vec<_> = (0..8).map(|_| s.spawn(|| root.create("same").is_ok())).collect();
            racers.into_iter().map(|r| r.join().unwrap()).collect()
        });
        assert_eq!(results.iter().filter(|won| **won).count(), 1, "{results:?}");
        let held = root.open("same").unwrap();
        let started = Instant::now();
        std::thread::scope(|s| {
            let waiter = s.spawn(|| {
                let _second = root.open("same").unwrap();
                started.elapsed()
            });
            std::thread::sleep(Duration::from_millis(200));
            drop(held);
            assert!(
                waiter.join().unwrap() >= Duration::from_millis(200),
                "the second waited"
            );
        });
    }

    #[test]
    fn a_record_whose_process_ended_is_stopped() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let it = ProcessIdentity::of(child.id() as i32);
        child.wait().unwrap();
        // It may have ended before its identity could be read: either way
        // no live process stands behind the record.
        let it = it.ok();
        let r = record("c", it, Status::Running);
        assert_eq!(r.status(), Status::Stopped);
        assert_eq!(record("c", None, Status::Creating).status(), Status::Creating);
        assert_eq!(record("c", None, Status::Created).status(), Status::Stopped);
        let mut orphan = record("c", None, Status::Creating);
        orphan.creator = it;
        assert_eq!(orphan.status(), Status::Stopped, "its create has died");
    }
}
