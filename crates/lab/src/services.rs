//! A node's commands (its `run` services and its container): started in
//! the node's network namespace, each in a pid namespace of its own under
//! nsbox's init, and watched for a short grace period so that one that
//! dies at start fails `up` with its own words.
//!
//! Each command runs as `nsbox unshare --ns pid -- sh -c CMD` (a container
//! node's command already is an `nsbox unshare` with a pid namespace), so
//! that every process a service forks lives in that pid namespace: killing
//! its init kills them all at once, even a child forked a moment before.
//! A kill that reads /proc and signals PIDs one by one can miss such a
//! child, which then keeps the node's network namespace alive.

use crate::deploy::{LabError, NodeHandle};
use crate::model::Node;
use crate::state::Store;
use nsbox_ns::netns::Registry;
use nsbox_runtime::cgroup::{KillGroup, Layout};
use std::path::PathBuf;
use std::process::Child;
use std::time::{Duration, Instant};

/// How long `up` watches the commands it started: one that exits within
/// it fails `up` (a `run` command that exits 0 was a one-shot command and
/// is fine; a container must still be running).
pub const GRACE: Duration = Duration::from_millis(100);

/// How long `up` waits for a container's init to appear.
const CONTAINER_START: Duration = Duration::from_secs(10);

/// The name nsbox's init gives itself in a container (`ps`, /proc/PID/comm).
const INIT_NAME: &str = "nsbox-init";

/// A command that `up` started and watches.
pub struct Started {
    pub node: String,
    /// As the lab file says it (a container's: its `command`).
    pub command: String,
    pub container: bool,
    child: Child,
    log: PathBuf,
}

/// The shell line that runs `command` under nsbox's init in a pid
/// namespace of its own.
fn in_own_pid_namespace(command: &str) -> String {
    let quoted = format!("'{}'", command.replace('\'', "'\\''"));
    format!("exec \"${{NSBOX_BIN:-nsbox}}\" unshare --ns pid -- sh -c {quoted}")
}

/// The file in the lab's logs where command `index` of `node` writes its
/// exit status when it ends (absent while it runs).
fn exit_file(logs: &std::path::Path, node: &str, index: usize) -> PathBuf {
    logs.join(format!("{node}.run{index}.exit"))
}

/// `line`, run in a subshell, then its exit status written to `file` (as
/// the shell reports it: 128+N for a signal) and passed on.
fn recording_exit(line: &str, file: &std::path::Path) -> String {
    let quoted = format!("'{}'", file.to_string_lossy().replace('\'', "'\\''"));
    format!("({line}); status=$?; echo $status > {quoted}; exit $status")
}

/// How each of `node`'s `count` commands is doing, by index: `None` while
/// it runs (or if it never recorded an end), else its exit status.
pub fn exits(store: &Store, lab: &str, node: &str, count: usize) -> Vec<Option<i32>> {
    let Ok(logs) = store.logs(lab) else {
        return vec![None; count];
    };
    (0..count)
        .map(|i| {
            std::fs::read_to_string(exit_file(&logs, node, i))
                .ok()
                .and_then(|s| s.trim().parse().ok())
        })
        .collect()
}

/// Starts a node's commands in its namespace, in the background (a
/// process group of their own, output to the lab's log of the node); each
/// records its exit status in the lab's logs when it ends (see [`exits`]).
pub fn start(node: &Node, handle: &NodeHandle, store: &Store, lab: &str) -> Result<Vec<Started>, LabError> {
    let logs = store.logs(lab)?;
    let log = logs.join(format!("{}.log", node.name));
    let exit_files: Vec<PathBuf> = (0..node.run.len()).map(|i| exit_file(&logs, &node.name, i)).collect();
    let lines: Vec<String> = node
        .run
        .iter()
        .enumerate()
        .map(|(i, command)| {
            // A container node's first command is its container already.
            let line = if node.container.is_some() && i == 0 {
                command.clone()
            } else {
                in_own_pid_namespace(command)
            };
            recording_exit(&line, &exit_files[i])
        })
        .collect();
    let log_path = log.clone();
    let spawned = std::fs::create_dir_all(&logs).and_then(|()| {
        // A restarted node's earlier ends are not this run's.
        for file in &exit_files {
            match std::fs::remove_file(file) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        let file = std::fs::File::create(&log_path)?;
        nsbox_ns::netns::run_in_fd(&handle.fd, move || {
            lines
                .iter()
                .map(|line| {
                    use std::os::unix::process::CommandExt;
                    std::process::Command::new("sh")
                        .args(["-c", line])
                        .stdin(std::process::Stdio::null())
                        .stdout(file.try_clone()?)
                        .stderr(file.try_clone()?)
                        .process_group(0)
                        .spawn()
                })
                .collect::<std::io::Result<Vec<Child>>>()
        })
        .map_err(std::io::Error::other)?
    });
    let children = spawned.map_err(|e| LabError::Run {
        node: node.name.clone(),
        source: e,
    })?;
    Ok(children
        .into_iter()
        .enumerate()
        .map(|(i, child)| Started {
            node: node.name.clone(),
            command: node.run[i].clone(),
            container: node.container.is_some() && i == 0,
            child,
            log: log.clone(),
        })
        .collect())
}

/// Watches `started` for [`GRACE`], and until every container's init is
/// there: the first command that died (or container that never came up)
/// is the error, with the end of its node's log.
pub fn await_started(started: &mut [Started], registry: &Registry, lab: &crate::Lab) -> Result<(), LabError> {
    if started.is_empty() {
        return Ok(());
    }
    let since = Instant::now();
    // The containers whose init has not been seen yet: each is looked for
    // (a pass over /proc) only until it is found.
    let mut waiting: Vec<usize> = (0..started.len()).filter(|&i| started[i].container).collect();
    loop {
        for s in started.iter_mut() {
            if let Ok(Some(status)) = s.child.try_wait() {
                if s.container || !status.success() {
                    return Err(died(s, &describe(status)));
                }
            }
        }
        waiting.retain(|&i| container_init(registry, &netns_of(lab, &started[i].node)).is_none());
        let waited = since.elapsed();
        match waiting.first() {
            None if waited >= GRACE => return Ok(()),
            Some(&i) if waited >= CONTAINER_START => return Err(died(&started[i], "did not start")),
            _ => std::thread::sleep(Duration::from_millis(2)),
        }
    }
}

fn netns_of(lab: &crate::Lab, node: &str) -> String {
    crate::model::netns_name(&lab.name, node)
}

/// The kill group of the processes that `lab exec` starts in network
/// namespace `netns` (see [`nsbox_runtime::cgroup::KillGroup`]): named and
/// marked after the namespace's inode, which no other live namespace has,
/// so that labs of the same name under other state directories (tests'
/// sandboxes) never share one. None when the namespace is not pinned or
/// the host has no cgroup v2 hierarchy.
pub fn exec_group(registry: &Registry, netns: &str) -> Option<KillGroup> {
    exec_group_under(&Layout::unified_mount()?, registry, netns)
}

fn exec_group_under(root: &std::path::Path, registry: &Registry, netns: &str) -> Option<KillGroup> {
    use std::os::unix::fs::MetadataExt;
    let inode = std::fs::metadata(registry.path(netns).ok()?).ok()?.ino();
    Some(KillGroup::under(
        root,
        &format!("nsbox-netns-{inode}"),
        &format!("nsbox lab exec in {netns} ({inode})"),
    ))
}

/// Kills what `lab exec` started in each of `namespaces`, all at once per
/// namespace, and removes their kill groups; a group that is not ours is
/// left alone (and its processes to the kill that reads /proc).
pub(crate) fn kill_exec_groups(registry: &Registry, namespaces: &[String]) {
    let Some(root) = Layout::unified_mount() else { return };
    for group in namespaces.iter().filter_map(|n| exec_group_under(&root, registry, n)) {
        // Best effort: what survives is killed through /proc next, and what
        // survives that shows in the teardown's error.
        let _ = group.kill();
    }
}

/// The init of the container running in network namespace `netns`: an
/// nsbox init in a mount namespace of its own (the inits of the node's
/// `run` services share the host's).
pub fn container_init(registry: &Registry, netns: &str) -> Option<i32> {
    let mount_ns = |pid: &str| std::fs::read_link(format!("/proc/{pid}/ns/mnt")).ok();
    let ours = mount_ns("self");
    registry.pids(netns).unwrap_or_default().into_iter().find(|pid| {
        std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == INIT_NAME)
            && mount_ns(&pid.to_string()) != ours
    })
}

fn describe(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (_, Some(signal)) => format!("was killed by signal {signal}"),
        _ => "ended".to_string(),
    }
}

/// The error for a command that died at start, with the last lines of
/// what it printed.
fn died(s: &Started, how: &str) -> LabError {
    let log = std::fs::read_to_string(&s.log).unwrap_or_default();
    let tail = last_lines(&log, 5);
    LabError::Died {
        node: s.node.clone(),
        what: if s.container { "its container" } else { "command" }.to_string(),
        command: s.command.clone(),
        how: how.to_string(),
        output: tail,
    }
}

/// The last `n` lines of `text` that are not blank, joined for one
/// indented message.
pub(crate) fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join("\n  ")
}
