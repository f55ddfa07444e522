//! `create`: the container's process is made in its namespaces, set up
//! (see `process::init`), and left waiting for `start` on a socket in the
//! container's directory; `create` returns once the pid file is written.
//!
//! ```text
//! nsbox create (parent)                 container process (child, PID 1 of a new pid ns)
//!   config.json → Config
//!   claims the id (its directory)
//!   cgroups; exec.sock listening
//!   clone ──────────────────────────────▶ waits for Go
//!   id maps, cgroup.procs; Go ─────────▶ joins, mounts, pivots, drops privileges
//!   ◀──────────────────────── Ready | Failed { step }
//!   pid file, state.json: created         accept() on exec.sock …
//! ```
//!
//! A failure at any point removes what was made: the process is killed,
//! the cgroups and the container's directory removed.

use super::{io_err, net_devices, ContainerError, ProcessIdentity, Record, Root, Status};
use crate::cgroup::oci::{self as cgroups, CgroupDir};
use crate::config::Config;
use crate::process::channel::{self, Message};
use crate::process::init::Launch;
use crate::process::spawn::SpawnOptions;
use crate::process::{self};
use nsbox_ns::NsKind;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// runc's `create` flags.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    pub bundle: PathBuf,
    pub pid_file: Option<PathBuf>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: u32,
    /// Say what is skipped (unknown syscall names of the seccomp filter).
    pub debug: bool,
    /// Where a process with `terminal` sends its pty's master.
    pub console_socket: Option<PathBuf>,
}

/// Creates container `id` from the bundle and returns its process's PID.
/// Nothing is made before the config is read and checked.
pub fn create(root: &Root, id: &str, opts: &CreateOptions) -> Result<i32, ContainerError> {
    super::check_id(id)?;
    let config = crate::config::from_bundle(&opts.bundle)?;
    super::check_console(config.process.terminal, opts.console_socket.is_some(), true)?;
    let console = connect_console(opts.console_socket.as_deref(), id)?;
    create_from(root, id, config, opts, console)
}

/// `create` whose terminal's master goes to `console` (a socket the caller
/// holds the other end of: `run` relaying a terminal in the foreground).
pub(crate) fn create_with_console(
    root: &Root,
    id: &str,
    opts: &CreateOptions,
    console: Option<OwnedFd>,
) -> Result<i32, ContainerError> {
    super::check_id(id)?;
    let mut config = crate::config::from_bundle(&opts.bundle)?;
    // The pty is born the size of the terminal it is relayed to.
    if let Some(size) = super::terminal::caller_size() {
        config.process.console_size = Some(size);
    }
    create_from(root, id, config, opts, console)
}

/// Creates container `id` from its model. With a host view (nsbox's
/// annotation), the root is assembled in the container's own directory.
fn create_from(
    root: &Root,
    id: &str,
    mut config: Config,
    opts: &CreateOptions,
    console: Option<OwnedFd>,
) -> Result<i32, ContainerError> {
    super::check_id(id)?;
    if !config.has(NsKind::Mnt) {
        return Err(ContainerError::Usage(format!(
            "{}: linux.namespaces: a mount namespace is required (the container's mounts would be the host's)",
            config.bundle.join("config.json").display()
        )));
    }
    // The filter is compiled before anything exists: a bad one fails here.
    let seccomp = compile_seccomp(&config, opts, root.dir())?;
    let entry = root.create(id)?;
    if config.host_view {
        config.rootfs = entry.dir().join("rootfs");
        if let Err(e) = std::fs::create_dir(&config.rootfs) {
            let _ = entry.remove();
            return Err(io_err(id, "making the host view's staging directory")(e));
        }
    }
    let mut record = Record {
        oci_version: config.oci_version.clone(),
        id: id.to_string(),
        bundle: config.bundle.clone(),
        process: None,
        status: Status::Creating,
        annotations: config.annotations.clone(),
        cgroups: Vec::new(),
        own_pid_ns: config.has(NsKind::Pid),
        created: now_rfc3339(),
        hooks: config.hooks.clone(),
        net_devices: Vec::new(),
        creator: ProcessIdentity::of(std::process::id() as i32).ok(),
        resources: config.resources.clone(),
    };
    let mut undo = Undo {
        entry: Some(entry),
        cgroups: Vec::new(),
        child: None,
        net_devices: Vec::new(),
    };
    let entry = undo.entry.as_ref().expect("set above");
    // Cgroups always, as runc: pause, ps, events and kill --all need them.
    // Planned and recorded before any is made: a `create` killed while
    // making them leaves a record of all of them for `delete`.
    let tag = root.tag();
    let plan = cgroups::plan(&config, cgroups::Place::Config { id, tag: &tag })?;
    record.cgroups = plan.dirs();
    entry.write(&record)?;
    // (A failed make removes what it made; the record goes with `undo`.)
    cgroups::make(&plan, &config)?;
    undo.cgroups = plan.dirs();
    let listener = listen(entry.dir(), id)?;
    let pid = spawn(
        &config,
        &mut record,
        opts,
        listener,
        seccomp.as_ref(),
        console,
        &mut undo,
    )?;
    record.status = Status::Created;
    if let Some(path) = &opts.pid_file {
        write_pid_file(path, pid).map_err(|source| ContainerError::PidFile {
            id: id.to_string(),
            path: path.clone(),
            source,
        })?;
    }
    undo.entry.as_ref().expect("held").write(&record)?;
    undo.disarm();
    Ok(pid)
}

/// What a failed `create` must take away again, in reverse order.
struct Undo {
    entry: Option<super::Entry>,
    cgroups: Vec<CgroupDir>,
    child: Option<crate::process::ChildGuard>,
    /// Host links moved into the child's network namespace (pinned in the entry).
    net_devices: Vec<net_devices::MovedDevice>,
}

impl Undo {
    fn disarm(mut self) {
        self.entry = None;
        self.cgroups.clear();
        if let Some(child) = self.child.take() {
            child.disarm();
        }
        self.net_devices.clear();
    }
}

impl Drop for Undo {
    fn drop(&mut self) {
        if let Some(entry) = &self.entry {
            let pin = entry.netns_pin();
            let _ = net_devices::move_back(&pin, &self.net_devices);
            net_devices::unpin(&pin);
        }
        // Killed and reaped (the guard's drop) before its cgroups go.
        drop(self.child.take());
        let _ = cgroups::remove(&self.cgroups);
        if let Some(entry) = self.entry.take() {
            let _ = entry.remove();
        }
    }
}

/// The socket `start` connects to, bound through the directory's fd so
/// that a long `--root` never meets the 108-byte limit of a socket path.
fn listen(dir: &Path, id: &str) -> Result<OwnedFd, ContainerError> {
    use rustix::net::{AddressFamily, SocketAddrUnix, SocketFlags, SocketType};
    let dir_fd = std::fs::File::open(dir).map_err(io_err(id, "opening the container's directory"))?;
    let socket = rustix::net::socket_with(AddressFamily::UNIX, SocketType::STREAM, SocketFlags::CLOEXEC, None)
        .map_err(|e| io_err(id, "making the start socket")(e.into()))?;
    let path = format!("/proc/self/fd/{}/exec.sock", dir_fd.as_raw_fd());
    let address = SocketAddrUnix::new(path.as_str()).map_err(|e| io_err(id, "naming the start socket")(e.into()))?;
    rustix::net::bind(&socket, &address).map_err(|e| io_err(id, "binding the start socket")(e.into()))?;
    rustix::net::listen(&socket, 1).map_err(|e| io_err(id, "listening on the start socket")(e.into()))?;
    Ok(socket)
}

/// Makes the container's process and waits until it is set up.
fn spawn(
    config: &Config,
    record: &mut Record,
    opts: &CreateOptions,
    listener: OwnedFd,
    seccomp: Option<&crate::seccomp::Filter>,
    console: Option<OwnedFd>,
    undo: &mut Undo,
) -> Result<i32, ContainerError> {
    let id = record.id.clone();
    let id = id.as_str();
    let keyring = (!opts.no_new_keyring).then(|| std::ffi::CString::new(id).expect("ids have no NUL"));
    // The store's lock belongs to the runtime; the child closes its copy
    // among all the runtime's descriptors (see init::run).
    let spawned = process::spawn::spawn(
        config,
        SpawnOptions {
            launch: Launch::AtStart(listener),
            preserve_fds: Some(opts.preserve_fds),
            no_pivot: opts.no_pivot,
            keyring,
            cgroups: &undo.cgroups,
            seccomp,
            console,
        },
    )
    .map_err(|source| ContainerError::Spawn {
        id: id.to_string(),
        source,
    })?;
    let pid = spawned.child.pid();
    undo.child = Some(spawned.child);
    let entry = undo.entry.as_ref().expect("held");
    // The child is recorded before anything else is done for it.
    record.process = Some(ProcessIdentity::of(pid).map_err(io_err(id, "reading the container process's identity"))?);
    entry.write(record)?;
    if !config.net_devices.is_empty() {
        let pin = entry.netns_pin();
        let net_err = |source| ContainerError::NetDevice {
            id: id.to_string(),
            source,
        };
        net_devices::pin(pid, &pin).map_err(net_err)?;
        let moved = net_devices::move_in(&pin, &config.net_devices, &mut undo.net_devices);
        record.net_devices = undo.net_devices.clone();
        undo.entry.as_ref().expect("held").write(record)?;
        moved.map_err(net_err)?;
    }
    talk_to_child(&spawned.channel, config, record, pid)
}

/// The parent's side of the set-up: the state for the child's hooks, Go,
/// the runtime's hooks when the child asks, until Ready or a failure.
fn talk_to_child(
    channel: &channel::Channel,
    config: &Config,
    record: &Record,
    pid: i32,
) -> Result<i32, ContainerError> {
    let id = record.id.as_str();
    let state = record.hook_state(Status::Creating, Some(pid));
    let hooks = &config.hooks;
    if !hooks.create_container.is_empty() || !hooks.start_container.is_empty() {
        channel
            .send(&Message::State(state.clone()))
            .map_err(io_err(id, "starting the container's set-up"))?;
    }
    channel
        .send(&Message::Go)
        .map_err(io_err(id, "starting the container's set-up"))?;
    loop {
        let (message, fd) = channel
            .recv_fd()
            .map_err(io_err(id, "reading the container's report"))?;
        match message {
            Some(Message::Ready) => return Ok(pid),
            Some(Message::SeccompListener) => {
                let (Some(fd), Some(seccomp)) = (fd, &config.seccomp) else {
                    return Err(io_err(id, "receiving the seccomp listener")(std::io::Error::other(
                        "no descriptor came with it",
                    )));
                };
                send_listener(seccomp, record, pid, &fd).map_err(|source| ContainerError::Io {
                    id: id.to_string(),
                    step: "sending the seccomp listener to linux.seccomp.listenerPath",
                    source,
                })?;
            }
            Some(Message::RuntimeHooks) => {
                let hook_err = |source| ContainerError::Hook {
                    id: id.to_string(),
                    source,
                };
                crate::hooks::run_all("prestart", &hooks.prestart, &state).map_err(hook_err)?;
                crate::hooks::run_all("createRuntime", &hooks.create_runtime, &state).map_err(hook_err)?;
                channel
                    .send(&Message::Go)
                    .map_err(io_err(id, "resuming the container's set-up"))?;
            }
            Some(Message::Failed(failure)) => {
                return Err(ContainerError::Init {
                    id: id.to_string(),
                    failure,
                })
            }
            _ => {
                return Err(ContainerError::Io {
                    id: id.to_string(),
                    step: "setting the container up",
                    source: std::io::Error::other("the container's process ended without a report"),
                })
            }
        }
    }
}

/// The engine's console socket, connected here in the runtime's mount
/// namespace (the process, in the container's, could not reach the path).
pub(crate) fn connect_console(path: Option<&Path>, id: &str) -> Result<Option<OwnedFd>, ContainerError> {
    let Some(path) = path else { return Ok(None) };
    let stream = std::os::unix::net::UnixStream::connect(path).map_err(|e| ContainerError::Io {
        id: id.to_string(),
        step: "connecting to the console socket",
        source: std::io::Error::new(e.kind(), format!("{}: {e}", path.display())),
    })?;
    Ok(Some(OwnedFd::from(stream)))
}

/// Compiles the container's seccomp filter (unknown syscall names are
/// skipped, as runc does, and said with `--debug`).
fn compile_seccomp(
    config: &Config,
    opts: &CreateOptions,
    cache: &Path,
) -> Result<Option<crate::seccomp::Filter>, ContainerError> {
    let Some(s) = &config.seccomp else { return Ok(None) };
    let (filter, unknown) = crate::seccomp::compile_cached(s, cache).map_err(|e| {
        ContainerError::Usage(format!(
            "{}: {}: {}",
            config.bundle.join("config.json").display(),
            e.field,
            e.message
        ))
    })?;
    if opts.debug {
        for name in unknown {
            eprintln!("nsbox: debug: linux.seccomp: skipping {name:?}, a syscall this libseccomp does not know");
        }
    }
    Ok(Some(filter))
}

/// Sends a notifying filter's listener to `listenerPath` as runc does: one
/// message, the container process state JSON (`fds: ["seccompFd"]`, the
/// pid, the metadata, the OCI state), with the descriptor attached.
fn send_listener(
    seccomp: &crate::config::seccomp::Seccomp,
    record: &Record,
    pid: i32,
    fd: &OwnedFd,
) -> std::io::Result<()> {
    let path = seccomp.listener_path.as_ref().expect("checked with the config");
    let stream = std::os::unix::net::UnixStream::connect(path)
        .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    let mut state = record.oci_state();
    state.status = Status::Creating;
    state.pid = Some(pid);
    let message = serde_json::json!({
        "ociVersion": record.oci_version,
        "fds": ["seccompFd"],
        "pid": pid,
        "metadata": seccomp.listener_metadata,
        "state": state,
    })
    .to_string();
    nsbox_sys::fdpass::send(&stream, message.as_bytes(), fd.as_fd())?;
    Ok(())
}

/// Writes the pid file whole (a reader never sees it half-written), as runc does.
pub(crate) fn write_pid_file(path: &Path, pid: i32) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = dir.join(format!(".{name}.{}", std::process::id()));
    std::fs::write(&temporary, pid.to_string())?;
    std::fs::rename(&temporary, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&temporary);
    })
}

/// Now as RFC 3339 in UTC, without a date crate (civil-from-days, Howard Hinnant's).
pub fn now_rfc3339() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as i64;
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:09}Z",
        rest / 3600,
        rest / 60 % 60,
        rest % 60,
        now.subsec_nanos()
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339_has_the_shape_runc_prints() {
        let t = super::now_rfc3339();
        assert_eq!(t.len(), 30, "{t}");
        assert!(t.starts_with("20") && t.ends_with('Z') && &t[10..11] == "T", "{t}");
    }
}
