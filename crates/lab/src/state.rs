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
}

#[derive(Debug, thiserror::Error)]
#[error("{step} {}: {source}", path.display())]
pub struct StateError {
    pub step: &'static str,
    pub path: PathBuf,
    pub source: std::io::Error,
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
    r.map_err(|source| StateError {
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

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.json"))
    }

    /// Takes the lab's lock (a `.lock` file beside its state), waiting for
    /// another nsbox that holds it.
    pub fn lock(&self, name: &str) -> Result<LabLock, StateError> {
        io("creating", &self.dir, std::fs::create_dir_all(&self.dir))?;
        let path = self.dir.join(format!("{name}.lock"));
        let file = io("opening", &path, File::options().create(true).append(true).open(&path))?;
        io("locking", &path, file.lock())?;
        Ok(LabLock { _file: file })
    }

    /// Records `state`, replacing the file whole (write, then rename).
    pub fn write(&self, state: &State) -> Result<(), StateError> {
        io("creating", &self.dir, std::fs::create_dir_all(&self.dir))?;
        let path = self.path(&state.name);
        let temporary = self.dir.join(format!(".{}.json.new", state.name));
        let text = serde_json::to_string_pretty(state).expect("plain data serializes");
        let mut file = io("creating", &temporary, File::create(&temporary))?;
        io("writing", &temporary, file.write_all(text.as_bytes()))?;
        io("renaming", &temporary, std::fs::rename(&temporary, &path))
    }

    pub fn read(&self, name: &str) -> Result<Option<State>, StateError> {
        let path = self.path(name);
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).map(Some).map_err(|e| StateError {
                step: "reading",
                path,
                source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StateError {
                step: "reading",
                path,
                source: e,
            }),
        }
    }

    /// The directory of a lab's logs: one file per node, with what its
    /// `run` commands print.
    pub fn logs(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.logs"))
    }

    /// Removes the lab's state (its lock file and logs too); absent is fine.
    pub fn remove(&self, name: &str) -> Result<(), StateError> {
        let logs = self.logs(name);
        match std::fs::remove_dir_all(&logs) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(StateError {
                    step: "removing",
                    path: logs,
                    source: e,
                })
            }
            _ => {}
        }
        for path in [self.path(name), self.dir.join(format!("{name}.lock"))] {
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(StateError {
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

    /// Every recorded lab, by name.
    pub fn list(&self) -> Result<Vec<State>, StateError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(StateError {
                    step: "listing",
                    path: self.dir.clone(),
                    source: e,
                })
            }
        };
        let mut names: Vec<String> = entries
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.strip_suffix(".json").map(str::to_string))
            .filter(|n| !n.starts_with('.'))
            .collect();
        names.sort();
        let mut out = Vec::new();
        for name in names {
            out.extend(self.read(&name)?);
        }
        Ok(out)
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
        assert!(store.list().unwrap().is_empty());
        let state = State {
            name: "seed".into(),
            file: Some("/x/seed.yaml".into()),
            namespaces: vec!["seed-a".into()],
            nodes: vec!["a".into()],
            source: Some("name: seed".into()),
        };
        let lock = store.lock("seed").unwrap();
        store.write(&state).unwrap();
        assert_eq!(store.read("seed").unwrap(), Some(state.clone()));
        assert_eq!(store.list().unwrap(), vec![state]);
        drop(lock);
        store.remove("seed").unwrap();
        store.remove("seed").unwrap();
        assert!(
            std::fs::read_dir(dir.path().join("labs")).unwrap().next().is_none(),
            "nothing left"
        );
    }
}
