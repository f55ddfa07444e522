//! A node's commands (its `run` services and its container): started in
//! the node's network namespace, each in a pid namespace of its own under
//! nsbox's init, and watched for a short grace period so that one that
//! dies at start fails `up` with its own words.
//!
//! Each command runs as `nsbox unshare --ns pid -- sh -c CMD`, so that
//! every process a service forks lives in that pid namespace: killing its
//! init kills them all at once, even a child forked a moment before. A
//! container node's command is a container of nsbox's runtime (the same
//! engine as OCI bundles, `nsbox_runtime::container`): `sh -c CMD` under
//! nsbox's init in new pid, ipc, mount and uts namespaces, joining the
//! node's network namespace by path, recorded under the lab's own root.
//! A kill that reads /proc and signals PIDs one by one can miss such a
//! child, which then keeps the node's network namespace alive.

use crate::deploy::{LabError, NodeHandle};
use crate::model::Node;
use crate::state::Store;
use nsbox_ns::netns::Registry;
use nsbox_runtime::cgroup::{KillGroup, Layout};
use nsbox_runtime::container::{self, ProcessIdentity};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::Child;
use std::time::{Duration, Instant};

/// How long `up` watches the commands it started: one that exits within
/// it fails `up` (a `run` command that exits 0 was a one-shot command and
/// is fine; a container must still be running).
pub const GRACE: Duration = Duration::from_millis(100);

/// How long `up` waits for a router's daemons to start.
pub const ROUTER_START: Duration = Duration::from_secs(30);

/// A command that `up` started and watches.
pub struct Started {
    pub node: String,
    /// As the lab file says it (a container's: its `command`).
    pub command: String,
    pub container: bool,
    process: Watched,
    log: PathBuf,
    /// A router's: the marker its start script writes once the daemons run,
    /// and the router (for the error's place and words).
    router: Option<(PathBuf, crate::model::Router)>,
}

/// How `up` sees whether a started command still runs.
enum Watched {
    /// A `sh -c` line it spawned.
    Child(Child),
    /// A container's init (the runtime's record of it), and the file the
    /// init writes the command's exit status to.
    Container(ProcessIdentity, PathBuf),
}

impl Watched {
    /// The exit status, once it has ended.
    fn ended(&mut self) -> Option<std::process::ExitStatus> {
        use std::os::unix::process::ExitStatusExt;
        match self {
            Watched::Child(child) => child.try_wait().ok().flatten(),
            Watched::Container(init, exit_file) if !init.is_alive() => {
                let code = std::fs::read_to_string(exit_file).ok()?.trim().parse::<i32>().ok();
                // No status written: the init itself was killed.
                Some(std::process::ExitStatus::from_raw(code.map_or(KILLED, |c| c << 8)))
            }
            Watched::Container(..) => None,
        }
    }
}

/// SIGKILL's number, as a wait status.
const KILLED: i32 = 9;

fn container_root(store: &Store, lab: &str) -> Result<container::Root, LabError> {
    Ok(container::Root::at(store.containers(lab)?))
}

/// Starts `node`'s container: its bundle (see
/// `nsbox_runtime::config::node`) written under the lab's state, and run
/// detached by nsbox's runtime under the lab's own root, its output to
/// the node's log. The container's id is the node's name. A container of
/// the node's left from before (`apply` restarting it) goes first.
///
/// The runtime runs in a process of its own (this binary's `run
/// --detach`): `lab test` has a thread watching for signals, and a
/// container's process is cloned, which needs a single-threaded caller.
fn start_container(
    node: &Node,
    handle: &NodeHandle,
    store: &Store,
    lab: &str,
    log: &std::fs::File,
    exit_file: PathBuf,
) -> Result<Watched, LabError> {
    use nsbox_runtime::config::node::{shell_container, ShellContainer};
    let root = container_root(store, lab)?;
    let io_failed = |source| LabError::Run {
        node: node.name.clone(),
        source,
    };
    container::delete(&root, &node.name, true).map_err(|source| LabError::Container {
        node: node.name.clone(),
        source: Box::new(source),
    })?;
    let netns = PathBuf::from(format!("/proc/{}/fd/{}", std::process::id(), handle.fd.as_raw_fd()));
    let mut mounts: Vec<serde_json::Value> = node
        .container_binds
        .iter()
        .map(|b| {
            let mut options = vec!["rbind"];
            if b.readonly {
                options.push("ro");
            }
            serde_json::json!({"destination": b.destination, "type": "bind", "source": b.source, "options": options})
        })
        .collect();
    if let Some(router) = &node.router {
        let dirs = crate::routers::NodeDirs::of(&store.routers(lab)?, &node.name);
        crate::routers::prepare(router, &dirs).map_err(io_failed)?;
        mounts.extend(crate::routers::mounts(router, &dirs));
    }
    let config = shell_container(&ShellContainer {
        hostname: node.container.as_deref().unwrap_or(&node.name),
        rootfs: node.container_rootfs.as_deref(),
        netns: &netns,
        command: &node.run[0],
        exit_file: exit_file.clone(),
        mounts,
    });
    let bundle = store.bundles(lab)?.join(&node.name);
    std::fs::create_dir_all(&bundle)
        .and_then(|()| std::fs::write(bundle.join("config.json"), config.to_string()))
        .map_err(io_failed)?;
    let ran = std::process::Command::new(std::env::current_exe().map_err(io_failed)?)
        .arg("--root")
        .arg(store.containers(lab)?)
        .args(["run", "--detach", "--bundle"])
        .arg(&bundle)
        .arg(&node.name)
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().map_err(io_failed)?)
        .stderr(log.try_clone().map_err(io_failed)?)
        .status()
        .map_err(io_failed)?;
    // The record's identity of the process, not the state's pid: a
    // container whose command failed at once is already stopped (no pid in
    // its state), and the exit file says how it ended.
    let init = root
        .peek(&node.name)
        .ok()
        .filter(|_| ran.success())
        .and_then(|record| record.process);
    match init {
        Some(init) => Ok(Watched::Container(init, exit_file)),
        None => {
            // The runtime said why in the node's log, where its stderr went.
            let log_file = store.logs(lab)?.join(format!("{}.log", node.name));
            let said = last_lines(&std::fs::read_to_string(&log_file).unwrap_or_default(), 3);
            Err(io_failed(std::io::Error::other(format!(
                "the container runtime failed ({ran}): {said}"
            ))))
        }
    }
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
    // A container node's first command is its container, started apart.
    let first_service = usize::from(node.container.is_some());
    let lines: Vec<String> = node
        .run
        .iter()
        .enumerate()
        .skip(first_service)
        .map(|(i, command)| recording_exit(&in_own_pid_namespace(command), &exit_files[i]))
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
        let container_log = file.try_clone()?;
        let children = nsbox_ns::netns::run_in_fd(&handle.fd, move || {
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
        .map_err(std::io::Error::other)??;
        Ok((children, container_log))
    });
    let (children, container_log) = spawned.map_err(|e| LabError::Run {
        node: node.name.clone(),
        source: e,
    })?;
    let mut started: Vec<Started> = Vec::new();
    if node.container.is_some() {
        let process = start_container(node, handle, store, lab, &container_log, exit_files[0].clone())?;
        let router = match &node.router {
            Some(r) => Some((
                crate::routers::NodeDirs::of(&store.routers(lab)?, &node.name).started_marker(),
                r.clone(),
            )),
            None => None,
        };
        started.push(Started {
            node: node.name.clone(),
            command: node.run[0].clone(),
            container: true,
            process,
            log: log.clone(),
            router,
        });
    }
    started.extend(children.into_iter().enumerate().map(|(i, child)| Started {
        node: node.name.clone(),
        command: node.run[i + first_service].clone(),
        container: false,
        process: Watched::Child(child),
        log: log.clone(),
        router: None,
    }));
    Ok(started)
}

/// Watches `started` for [`GRACE`] (a container runs once `create` and
/// `start` have returned), and routers until their daemons run (at most
/// [`ROUTER_START`]): the first command that died is the error, with the
/// end of its node's log.
pub fn await_started(started: &mut [Started]) -> Result<(), LabError> {
    if started.is_empty() {
        return Ok(());
    }
    let since = Instant::now();
    loop {
        let mut routers_starting = false;
        for s in started.iter_mut() {
            if let Some(status) = s.process.ended() {
                if s.container || !status.success() {
                    return Err(died(s, &describe(status)));
                }
            }
            if let Some((marker, _)) = &s.router {
                if !marker.exists() {
                    if since.elapsed() >= ROUTER_START {
                        return Err(died(s, &format!("did not start within {} s", ROUTER_START.as_secs())));
                    }
                    routers_starting = true;
                }
            }
        }
        if since.elapsed() >= GRACE && !routers_starting {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(2));
    }
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

/// The PID of `node`'s running container (its init), from the runtime's
/// record of it under the lab's root; None when it is not running.
pub fn container_pid(store: &Store, lab: &str, node: &str) -> Option<i32> {
    let root = container_root(store, lab).ok()?;
    let state = container::state(&root, node).ok()?;
    (state.status == container::Status::Running).then_some(state.pid?)
}

/// Deletes the lab's containers (killing what still runs in them), so that
/// no record or process of theirs outlives `down`.
pub(crate) fn delete_containers(store: &Store, lab: &str) {
    let Ok(root) = container_root(store, lab) else { return };
    for id in root.list().unwrap_or_default() {
        // Best effort: what survives is killed through the namespace next.
        let _ = container::delete(&root, &id, true);
    }
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
    if let Some((_, router)) = &s.router {
        return LabError::Router {
            node: s.node.clone(),
            at: router.at,
            suite: router.suite.name(),
            how: how.to_string(),
            // `tail`'s lines are already joined with their indentation.
            output: crate::routers::place_in_lab_file(router, &tail),
        };
    }
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
