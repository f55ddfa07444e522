//! The last step of every container process: become the command.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// The exit status of a command that exists but could not be run (shell convention).
pub const EXIT_CANNOT_EXECUTE: i32 = 126;
/// The exit status of a command that was not found (shell convention).
pub const EXIT_NOT_FOUND: i32 = 127;
/// The exit status when nsbox itself failed before the command ran (as podman).
pub const EXIT_SETUP_FAILED: i32 = 125;

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("argument {0:?} contains a NUL byte")]
    Nul(String),
}

/// A command with its arguments and environment made ready for `execve`
/// before any fork, so the child only looks the program up and runs it.
#[derive(Debug, Clone)]
pub struct Command {
    argv: Vec<CString>,
    env: Vec<CString>,
    search_path: String,
    workdir: Option<PathBuf>,
    user: Option<(u32, Option<u32>)>,
}

/// Why a command did not start: the exit status to report and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub code: i32,
    pub message: String,
}

impl Failure {
    pub fn setup(message: impl std::fmt::Display) -> Self {
        Failure {
            code: EXIT_SETUP_FAILED,
            message: message.to_string(),
        }
    }
}

pub use nsbox_sys::errno::describe;

impl Command {
    /// `argv` with the caller's environment plus `overrides`.
    pub fn new(argv: &[String], overrides: &[(String, String)]) -> Result<Self, CommandError> {
        let cstr =
            |s: Vec<u8>| CString::new(s).map_err(|e| CommandError::Nul(String::from_utf8_lossy(&e.into_vec()).into()));
        // Each variable becomes its "K=V" string in one allocation: a
        // container start copies the whole environment, so this is on the
        // hot path.
        let entry = |k: &[u8], v: &[u8]| {
            let mut bytes = Vec::with_capacity(k.len() + v.len() + 2);
            bytes.extend_from_slice(k);
            bytes.push(b'=');
            bytes.extend_from_slice(v);
            bytes
        };
        let mut env = Vec::new();
        let mut search_path = None;
        for (k, v) in std::env::vars_os() {
            let (k, v) = (k.as_bytes(), v.as_bytes());
            if overrides.iter().any(|(o, _)| o.as_bytes() == k) {
                continue;
            }
            if k == b"PATH" {
                search_path = Some(String::from_utf8_lossy(v).into_owned());
            }
            env.push(cstr(entry(k, v))?);
        }
        for (k, v) in overrides {
            // An inherited PATH was skipped above; of several given, the
            // first is the one the program's getenv finds, so it searches.
            if k == "PATH" && search_path.is_none() {
                search_path = Some(v.clone());
            }
            env.push(cstr(entry(k.as_bytes(), v.as_bytes()))?);
        }
        Ok(Command {
            argv: argv
                .iter()
                .map(|a| cstr(a.clone().into_bytes()))
                .collect::<Result<_, _>>()?,
            env,
            search_path: search_path.unwrap_or_else(|| DEFAULT_PATH.to_string()),
            workdir: None,
            user: None,
        })
    }

    pub fn with_workdir(mut self, workdir: Option<PathBuf>) -> Self {
        self.workdir = workdir;
        self
    }

    pub fn with_user(mut self, user: Option<(u32, Option<u32>)>) -> Self {
        self.user = user;
        self
    }

    fn program(&self) -> String {
        self.argv
            .first()
            .map(|a| a.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// Enters the working directory and switches user: what the command's
    /// process needs before the program starts.
    fn enter_context(&self) -> Result<(), Failure> {
        if let Some(dir) = &self.workdir {
            if let Err(e) = rustix::process::chdir(dir) {
                return Err(Failure::setup(format!(
                    "workdir {}: {}",
                    dir.display(),
                    describe(&e.into())
                )));
            }
        }
        if let Some((uid, gid)) = self.user {
            if let Err(e) = switch_user(uid, gid) {
                return Err(Failure::setup(format!("switching to user {uid}: {}", describe(&e))));
            }
        }
        Ok(())
    }

    /// Replaces the calling process with the command (after entering its
    /// context and restoring default signal handling). Returns only on failure.
    pub fn exec(&self) -> Failure {
        if let Err(failure) = self.enter_context() {
            return failure;
        }
        nsbox_sys::signal::restore_sigpipe();
        if let Err(e) = nsbox_sys::SignalSet::empty().set_mask() {
            return Failure::setup(format!("unblocking signals: {}", describe(&e)));
        }
        let err = match self.search(|path| Err::<(), _>(nsbox_sys::execve(path, &self.argv, &self.env))) {
            Ok(()) => unreachable!("execve returns only on failure"),
            Err(e) => e,
        };
        self.not_started(err)
    }

    /// Starts the command as a child of the calling process (which enters the
    /// command's working directory and user first) without copying the
    /// caller's memory, and returns its PID. The child starts with no
    /// blocked signals and SIGPIPE at its default.
    pub fn spawn(&self) -> Result<i32, Failure> {
        self.enter_context()?;
        let defaults = nsbox_sys::SignalSet::of(&[libc::SIGPIPE]);
        let mask = nsbox_sys::SignalSet::empty();
        self.search(|path| nsbox_sys::spawn::spawn(path, &self.argv, &self.env, &mask, &defaults))
            .map_err(|e| self.not_started(e))
    }

    fn not_started(&self, err: io::Error) -> Failure {
        let code = match err.raw_os_error() {
            Some(libc::ENOENT) | Some(libc::ENOTDIR) => EXIT_NOT_FOUND,
            _ => EXIT_CANNOT_EXECUTE,
        };
        Failure {
            code,
            message: format!("{}: {}", self.program(), describe(&err)),
        }
    }

    /// `execvp`'s search: a name with a slash is tried as it is; otherwise
    /// `start` is tried on each PATH directory in turn, and a found but
    /// not executable file is reported over "not found".
    fn search<T>(&self, mut start: impl FnMut(&std::ffi::CStr) -> io::Result<T>) -> io::Result<T> {
        let Some(program) = self.argv.first() else {
            return Err(io::Error::from_raw_os_error(libc::ENOENT));
        };
        if program.as_bytes().contains(&b'/') {
            return start(program);
        }
        let mut result = io::Error::from_raw_os_error(libc::ENOENT);
        for dir in self.search_path.split(':') {
            let dir = if dir.is_empty() { "." } else { dir };
            let candidate = Path::new(dir).join(std::ffi::OsStr::from_bytes(program.as_bytes()));
            let Ok(candidate) = CString::new(candidate.as_os_str().as_bytes()) else {
                continue;
            };
            // Only a file that exists is tried: a failed spawn still costs a
            // process (and a PID of the container's pid namespace).
            if rustix::fs::access(candidate.as_c_str(), rustix::fs::Access::EXISTS).is_err() {
                continue;
            }
            match start(&candidate) {
                Ok(v) => return Ok(v),
                Err(e) => match e.raw_os_error() {
                    Some(libc::ENOENT) | Some(libc::ENOTDIR) => {}
                    Some(libc::EACCES) => result = e,
                    _ => return Err(e),
                },
            }
        }
        Err(result)
    }
}

/// Drops supplementary groups and becomes `uid`/`gid` (gid defaults to uid).
fn switch_user(uid: u32, gid: Option<u32>) -> io::Result<()> {
    use rustix::process::{Gid, Uid};
    use rustix::thread::{set_thread_groups, set_thread_res_gid, set_thread_res_uid};
    // rustix's calls are per thread; container processes are
    // single-threaded, so per thread is per process here.
    let gid = Gid::from_raw(gid.unwrap_or(uid));
    let uid = Uid::from_raw(uid);
    set_thread_groups(&[])?;
    set_thread_res_gid(gid, gid, gid)?;
    set_thread_res_uid(uid, uid, uid)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_replace_inherited_variables() {
        let cmd = Command::new(
            &["true".into()],
            &[("PATH".into(), "/x".into()), ("NSBOX_T".into(), "1".into())],
        )
        .unwrap();
        assert_eq!(cmd.search_path, "/x");
        let twice = Command::new(
            &["true".into()],
            &[("PATH".into(), "/a".into()), ("PATH".into(), "/b".into())],
        );
        assert_eq!(twice.unwrap().search_path, "/a");
        assert_eq!(cmd.env.iter().filter(|e| e.as_bytes().starts_with(b"PATH=")).count(), 1);
        assert!(cmd.env.iter().any(|e| e.as_bytes() == b"NSBOX_T=1"));
    }

    #[test]
    fn nul_in_an_argument_is_an_error() {
        assert!(Command::new(&["a\0b".into()], &[]).is_err());
    }

    #[test]
    fn describe_drops_the_os_error_suffix() {
        assert_eq!(
            describe(&io::Error::from_raw_os_error(libc::ENOENT)),
            "No such file or directory"
        );
    }
}
