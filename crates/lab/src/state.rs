//! What nsbox knows of the labs it has brought up: one small JSON file per
//! lab under /run/nsbox/labs (tmpfs: gone at reboot, like the namespaces).
//!
//! The file is written *before* anything is created and names everything
//! that will be, so that `down` can remove a lab whose `up` was killed
//! half-way, or that crashed: it deletes what exists of what is named.

use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

pub const STATE_DIR: &str = "/run/nsbox/labs";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub name: String,
    /// The lab file it came from, as given to `up` (made absolute).
    pub file: Option<PathBuf>,
    /// Every network namespace of the lab, by its /run/netns name.
    pub namespaces: Vec<String>,
    /// Node names, in the order of `namespaces`.
    pub nodes: Vec<String>,
    /// The lab file's text as it was brought up (or last applied): what
    /// `apply` plans from.
    #[serde(default)]
    pub source: Option<String>,
    /// The nodes that are containers: `lab exec` enters their container,
    /// never the bare network namespace.
    #[serde(default)]
    pub containers: Vec<String>,
}

impl State {
    /// The record of `lab`, brought up (or applied) from `file` whose text
    /// is `source`.
    pub fn of(lab: &crate::Lab, file: Option<&Path>, source: Option<String>) -> State {
        State {
            name: lab.name.clone(),
            file: file.map(|f| std::path::absolute(f).unwrap_or_else(|_| f.to_path_buf())),
            namespaces: lab.namespaces(),
            nodes: lab.nodes.iter().map(|n| n.name.clone()).collect(),
            source,
            containers: lab
                .nodes
                .iter()
                .filter(|n| n.container.is_some())
                .map(|n| n.name.clone())
                .collect(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("{0}")]
    InvalidName(String),
    #[error("{step} {}: {source}", path.display())]
    Io {
        step: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The directory of lab state files.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

impl Default for Store {
    fn default() -> Self {
        Store::at(STATE_DIR)
    }
}

fn io<T>(step: &'static str, path: &Path, r: std::io::Result<T>) -> Result<T, StateError> {
    r.map_err(|source| StateError::Io {
        step,
        path: path.to_path_buf(),
        source,
    })
}

/// An exclusive lock on one lab's name: one `up` or `down` at a time.
pub struct LabLock {
    _file: File,
}

impl Store {
    pub fn at(dir: impl Into<PathBuf>) -> Self {
        Store { dir: dir.into() }
    }

    /// `dir/NAME.SUFFIX`, once `name` is known to be a lab's name: a
    /// name with a '/' or a '..' would reach outside the directory.
    fn file(&self, name: &str, suffix: &str) -> Result<PathBuf, StateError> {
        crate::model::check_lab_name(name).map_err(StateError::InvalidName)?;
        Ok(self.dir.join(format!("{name}.{suffix}")))
    }

    fn path(&self, name: &str) -> Result<PathBuf, StateError> {
        self.file(name, "json")
    }

    /// Takes the lab's lock (a `.lock` file beside its state), waiting for
    /// another nsbox that holds it.
    pub fn lock(&self, name: &str) -> Result<LabLock, StateError> {
        let path = self.file(name, "lock")?;
        io("creating", &self.dir, std::fs::create_dir_all(&self.dir))?;
        let file = io("opening", &path, File::options().create(true).append(true).open(&path))?;
        io("locking", &path, file.lock())?;
        Ok(LabLock { _file: file })
    }

    /// Records `state`, replacing the file whole (write, then rename).
    pub fn write(&self, state: &State) -> Result<(), StateError> {
        let path = self.path(&state.name)?;
        io("creating", &self.dir, std::fs::create_dir_all(&self.dir))?;
        let temporary = self.dir.join(format!(".{}.json.new", state.name));
        let text = serde_json::to_string_pretty(state).expect("plain data serializes");
        let mut file = io("creating", &temporary, File::create(&temporary))?;
        io("writing", &temporary, file.write_all(text.as_bytes()))?;
        io("renaming", &temporary, std::fs::rename(&temporary, &path))
    }

    pub fn read(&self, name: &str) -> Result<Option<State>, StateError> {
        let path = self.path(name)?;
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).map(Some).map_err(|e| StateError::Io {
                step: "reading",
                path,
                source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StateError::Io {
                step: "reading",
                path,
                source: e,
            }),
        }
    }

    /// The directory of a lab's logs: one file per node, with what its
    /// `run` commands print.
    pub fn logs(&self, name: &str) -> Result<PathBuf, StateError> {
        self.file(name, "logs")
    }

    /// The root of the lab's containers (the container runtime's `--root`
    /// for its container nodes).
    pub fn containers(&self, name: &str) -> Result<PathBuf, StateError> {
        self.file(name, "containers")
    }

    /// The bundles (config.json) of the lab's container nodes, one
    /// directory per node.
    pub fn bundles(&self, name: &str) -> Result<PathBuf, StateError> {
        self.file(name, "bundles")
    }

    /// The routers' directories (configuration and logs), one per router
    /// node (see `routers::NodeDirs`).
    pub fn routers(&self, name: &str) -> Result<PathBuf, StateError> {
        self.file(name, "routers")
    }

    /// Removes the lab's state (its lock file, logs, container records,
    /// bundles and routers' directories too); absent is fine.
    pub fn remove(&self, name: &str) -> Result<(), StateError> {
        for dir in [
            self.logs(name)?,
            self.containers(name)?,
            self.bundles(name)?,
            self.routers(name)?,
        ] {
            match std::fs::remove_dir_all(&dir) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(StateError::Io {
                        step: "removing",
                        path: dir,
                        source: e,
                    })
                }
                _ => {}
            }
        }
        for path in [self.path(name)?, self.file(name, "lock")?] {
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(StateError::Io {
                        step: "removing",
                        path,
                        source: e,
                    })
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Every recorded lab, by name, and the state files that could not be
    /// read (each lab's own: one corrupt file hides no other lab).
    pub fn list(&self) -> Result<(Vec<State>, Vec<StateError>), StateError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), Vec::new())),
            Err(e) => {
                return Err(StateError::Io {
                    step: "listing",
                    path: self.dir.clone(),
                    source: e,
                })
            }
        };
        let mut names: Vec<String> = entries
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.strip_suffix(".json").map(str::to_string))
            .filter(|n| crate::model::check_lab_name(n).is_ok())
            .collect();
        names.sort();
        let mut labs = Vec::new();
        let mut unreadable = Vec::new();
        for name in names {
            match self.read(&name) {
                Ok(state) => labs.extend(state),
                Err(e) => unreadable.push(e),
            }
        }
        Ok((labs, unreadable))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_are_written_read_listed_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::at(dir.path().join("labs"));
        assert_eq!(store.read("seed").unwrap(), None);
        assert!(store.list().unwrap().0.is_empty());
        let state = State {
            name: "seed".into(),
            file: Some("/x/seed.yaml".into()),
            namespaces: vec!["seed-a".into()],
            nodes: vec!["a".into()],
            source: Some("name: seed".into()),
            containers: Vec::new(),
        };
        let lock = store.lock("seed").unwrap();
        store.write(&state).unwrap();
        assert_eq!(store.read("seed").unwrap(), Some(state.clone()));
        assert_eq!(store.list().unwrap().0, vec![state]);
        drop(lock);
        store.remove("seed").unwrap();
        store.remove("seed").unwrap();
        assert!(
            std::fs::read_dir(dir.path().join("labs")).unwrap().next().is_none(),
            "nothing left"
        );
    }

    #[test]
    fn names_that_are_paths_are_refused_and_nothing_is_made() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::at(dir.path().join("labs"));
        let victim = dir.path().join("v.logs");
        std::fs::create_dir_all(victim.join("sub")).unwrap();
        for bad in ["../v", "/tmp/v", "a/b", "..", "", "a-b", ".hidden"] {
            assert!(matches!(store.remove(bad), Err(StateError::InvalidName(_))), "{bad:?}");
            assert!(matches!(store.lock(bad), Err(StateError::InvalidName(_))), "{bad:?}");
            assert!(matches!(store.read(bad), Err(StateError::InvalidName(_))), "{bad:?}");
            assert!(matches!(store.logs(bad), Err(StateError::InvalidName(_))), "{bad:?}");
        }
        assert!(victim.join("sub").is_dir(), "someone else's directory is still there");
        assert!(
            !dir.path().join("labs").exists(),
            "not even the state directory was made"
        );
    }

    #[test]
    fn a_corrupt_state_file_is_reported_and_hides_no_other_lab() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::at(dir.path());
        std::fs::write(dir.path().join("junk.json"), "{garbage").unwrap();
        let state = State {
            name: "good".into(),
            file: None,
            namespaces: vec!["good-a".into()],
            nodes: vec!["a".into()],
            source: None,
            containers: Vec::new(),
        };
        store.write(&state).unwrap();
        let (labs, unreadable) = store.list().unwrap();
        assert_eq!(labs, vec![state]);
        assert_eq!(unreadable.len(), 1);
        assert!(unreadable[0].to_string().contains("junk.json"), "{}", unreadable[0]);
    }
}
