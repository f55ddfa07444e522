//! OCI hooks: programs the runtime runs at fixed points of a container's
//! life, each with the container's state JSON on its stdin, exactly the
//! `env` given, `args` (args[0] is the program's name for itself) and an
//! optional timeout in seconds, after which it is killed and has failed.
//!
//! | kind | when | where | a failure |
//! |---|---|---|---|
//! | prestart, createRuntime | `create`, mounts made, before pivot_root | runtime's namespaces | fails `create` |
//! | createContainer | right after them | the container's namespaces, before pivot_root | fails `create` |
//! | startContainer | `start`, before the program | the container, after pivot_root | fails `start` |
//! | poststart | `start`, once the program runs | runtime's namespaces | fails `start` (the container is killed) |
//! | poststop | `delete` | runtime's namespaces | logged only |

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Hook {
    pub path: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<String>,
    /// Seconds.
    pub timeout: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Hooks {
    pub prestart: Vec<Hook>,
    pub create_runtime: Vec<Hook>,
    pub create_container: Vec<Hook>,
    pub start_container: Vec<Hook>,
    pub poststart: Vec<Hook>,
    pub poststop: Vec<Hook>,
}

/// A hook that failed: which one (its JSON path), and how.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("hooks.{kind}[{index}] {}: {message}", path.display())]
pub struct HookError {
    pub kind: &'static str,
    pub index: usize,
    pub path: PathBuf,
    pub message: String,
}

/// Runs `hooks` (of `kind`, as the spec names it) in order, each with
/// `state` on its stdin; stops at the first that fails.
pub fn run_all(kind: &'static str, hooks: &[Hook], state: &str) -> Result<(), HookError> {
    // A hook may exit without reading its stdin: that must fail (or pass)
    // by its exit status, not end the runtime on SIGPIPE — a container's
    // process that died so before exec would pass for started.
    let _sigpipe = nsbox_sys::signal::SigpipeIgnored::new();
    for (index, hook) in hooks.iter().enumerate() {
        run_one(hook, state).map_err(|message| HookError {
            kind,
            index,
            path: hook.path.clone(),
            message,
        })?;
    }
    Ok(())
}

fn run_one(hook: &Hook, state: &str) -> Result<(), String> {
    let mut command = Command::new(&hook.path);
    if let Some((first, rest)) = hook.args.split_first() {
        use std::os::unix::process::CommandExt;
        command.arg0(first).args(rest);
    }
    command.env_clear();
    for entry in &hook.env {
        if let Some((k, v)) = entry.split_once('=') {
            command.env(k, v);
        }
    }
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| nsbox_sys::errno::describe(&e))?;
    // A hook that does not read its stdin is not an error (EPIPE).
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(state.as_bytes());
    }
    let deadline = hook.timeout.map(|s| Instant::now() + Duration::from_secs(s));
    let status = loop {
        match child.try_wait().map_err(|e| e.to_string())? {
            Some(status) => break status,
            None if deadline.is_some_and(|d| Instant::now() >= d) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("timed out after {} s", hook.timeout.unwrap_or_default()));
            }
            None => std::thread::sleep(Duration::from_millis(2)),
        }
    };
    if status.success() {
        return Ok(());
    }
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        use std::io::Read;
        let _ = pipe.read_to_string(&mut stderr);
    }
    let stderr = stderr.trim();
    let how = match status.code() {
        Some(code) => format!("exit status {code}"),
        None => format!("killed by {status}"),
    };
    Err(if stderr.is_empty() {
        how
    } else {
        format!("{how}: {stderr}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str, timeout: Option<u64>) -> Hook {
        Hook {
            path: "/bin/sh".into(),
            args: vec!["sh".into(), "-c".into(), script.into()],
            env: vec!["ONLY=this".into()],
            timeout,
        }
    }

    #[test]
    fn a_hook_reads_the_state_and_sees_only_its_env() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let script = format!("cat > {0}; env | grep -v -E '^(PWD|SHLVL|_)=' >> {0}", out.display());
        run_all("poststop", &[sh(&script, None)], "{\"id\":\"c\"}").unwrap();
        assert_eq!(std::fs::read_to_string(out).unwrap(), "{\"id\":\"c\"}ONLY=this\n");
    }

    #[test]
    fn failures_name_the_hook_and_say_how() {
        let err = run_all(
            "createRuntime",
            &[sh("true", None), sh("echo bad >&2; exit 3", None)],
            "{}",
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "hooks.createRuntime[1] /bin/sh: exit status 3: bad");
        let started = Instant::now();
        let err = run_all("poststart", &[sh("sleep 10", Some(1))], "{}").unwrap_err();
        assert!(err.message.contains("timed out"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(5));
        let missing = Hook {
            path: "/nonexistent/hook".into(),
            ..Hook::default()
        };
        assert!(run_all("prestart", &[missing], "{}").is_err());
    }

    /// A state larger than a pipe's buffer meets a closed pipe when the
    /// hook does not read it: its exit status decides, and the hook itself
    /// still starts with SIGPIPE at its default.
    #[test]
    fn a_hook_that_ignores_its_stdin_is_judged_by_its_status() {
        let big = format!("{{\"x\":\"{}\"}}", "x".repeat(256 * 1024));
        run_all("poststop", &[sh("exit 0", None)], &big).unwrap();
        let err = run_all("poststop", &[sh("exit 4", None)], &big).unwrap_err();
        assert_eq!(err.message, "exit status 4");
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("ignored");
        let script = format!("exec 0<&-; grep SigIgn /proc/self/status > {}", out.display());
        run_all("poststop", &[sh(&script, None)], &big).unwrap();
        let ignored = std::fs::read_to_string(out).unwrap();
        let mask = u64::from_str_radix(ignored.split_whitespace().nth(1).unwrap(), 16).unwrap();
        assert_eq!(
            mask & (1 << (libc::SIGPIPE - 1)),
            0,
            "SIGPIPE not ignored in the hook: {ignored}"
        );
    }
}
