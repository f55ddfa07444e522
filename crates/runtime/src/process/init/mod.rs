//! The container's process from its clone to its exec: runc's `init`, as
//! one ordered list of named steps over a [`Config`]. A step that fails
//! reports its name and object to the runtime over the channel, and the
//! process exits; nothing it made outlives it (its mounts die with its
//! mount namespace, and the runtime removes the rest).

mod cgroup_mount;
mod console;
mod credentials;
mod devices;
mod host_view;
mod mounts;

pub use devices::{DEV_LINKS, DEV_NODES};

use super::channel::{Channel, InitFailure, Message};
use crate::config::Config;
use nsbox_ns::NsKind;
use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// What the container's process gets from the runtime besides the config.
pub struct InitContext<'a> {
    pub config: &'a Config,
    pub channel: Channel,
    pub launch: Launch<'a>,
    /// Whether the runtime has work to do for the process (id maps,
    /// cgroups, the hooks' state) before it may go on: it then waits for
    /// `Go` (a round trip that a plain `nsbox unshare` does without).
    pub wait_for_go: bool,
    /// The runtime itself, to notice that it died before the death signal was set.
    pub parent: OwnedFd,
    /// The seccomp filter, compiled by the runtime.
    pub seccomp: Option<&'a crate::seccomp::Filter>,
    /// The engine's console socket, connected by the runtime: a process
    /// with `terminal` sends its pty's master over it.
    pub console: Option<OwnedFd>,
    /// Descriptors 3 .. 3+N are the container's (`--preserve-fds`); None:
    /// all that the runtime was given.
    pub preserve_fds: Option<u32>,
    pub no_pivot: bool,
    /// The session keyring to join, named after the container (None: `--no-new-keyring`).
    pub keyring: Option<CString>,
    /// For each id-mapped mount (by its index in `mounts`), the user
    /// namespace it is mapped through (made by the runtime: see `userns`).
    pub idmap_userns: Vec<(usize, OwnedFd)>,
    /// The namespaces to join (all but pid and time, which the runtime
    /// joined), opened by the runtime in its own mount namespace, in the
    /// order they are joined.
    pub joins: Vec<(NsKind, OwnedFd)>,
}

/// When the program starts.
pub enum Launch<'a> {
    /// OCI `create`: once set up the process says Ready and blocks until
    /// `start` connects to this listener (`exec.sock`), then execs.
    AtStart(OwnedFd),
    /// `nsbox unshare`: the command runs as soon as the set-up is done
    /// (prepared by the caller: its environment is copied before the
    /// clone), with the caller's umask, and in the caller's directory
    /// unless the root changed or it names one; that it did not start is
    /// reported as `CommandFailed`, with its exit status. The process
    /// dies with the runtime, which waits for it.
    Now(&'a crate::exec::Command),
    /// `exec` into a running container: the config's process runs as soon
    /// as it is set up; that it did not start is reported as
    /// `CommandFailed` (126, 127), and end of file means it runs.
    Exec,
}

/// The exit status of a process whose set-up failed (reported already).
const EXIT_INIT_FAILED: i32 = 1;

pub(crate) fn fail(step: impl Into<String>) -> impl FnOnce(io::Error) -> InitFailure {
    let step = step.into();
    move |e| InitFailure {
        step,
        message: nsbox_sys::errno::describe(&e),
    }
}

pub(crate) fn rx(step: impl Into<String>) -> impl FnOnce(rustix::io::Errno) -> InitFailure {
    let f = fail(step);
    move |e| f(e.into())
}

/// Runs in the cloned child: sets the container up, waits for `start`,
/// and becomes the container's program. Never returns.
pub fn run(ctx: InitContext) -> ! {
    // Until it is set up, the process dies with the runtime that makes it.
    let _ = rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL));
    // `run` blocks the signals it forwards; the mask survives exec.
    let _ = nsbox_sys::SignalSet::empty().set_mask();
    if super::has_exited(&ctx.parent) {
        nsbox_sys::exit_now(EXIT_INIT_FAILED);
    }
    if let Some(preserved) = ctx.preserve_fds {
        let mut keep = vec![ctx.channel.raw_fd()];
        if let Launch::AtStart(listener) = &ctx.launch {
            keep.push(listener.as_raw_fd());
        }
        keep.extend(ctx.idmap_userns.iter().map(|(_, fd)| fd.as_raw_fd()));
        keep.extend(ctx.joins.iter().map(|(_, fd)| fd.as_raw_fd()));
        keep.extend(ctx.console.iter().map(|fd| fd.as_raw_fd()));
        // Nothing of nsbox's may reach the container: files, the store's lock.
        if nsbox_sys::close_fds_from(3 + preserved, &keep).is_err() {
            nsbox_sys::exit_now(EXIT_INIT_FAILED);
        }
    }
    let state = if ctx.wait_for_go {
        wait_for_go(&ctx.channel)
    } else {
        String::new()
    };
    // Opened before pivot_root: the file is on the host's side.
    let exit_dir = ctx.config.process.exit_file.as_ref().map(|f| {
        let dir = f.parent().unwrap_or(Path::new("/"));
        rustix::fs::open(
            dir,
            rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
    });
    let exit_dir = match exit_dir.transpose() {
        Ok(dir) => dir,
        Err(e) => {
            let failure = rx("opening the exit file's directory")(e);
            let _ = ctx.channel.send(&Message::Failed(failure));
            nsbox_sys::exit_now(EXIT_INIT_FAILED)
        }
    };
    let program = match set_up(&ctx, &state) {
        Ok(program) => program,
        Err(failure) => {
            let _ = ctx.channel.send(&Message::Failed(failure));
            nsbox_sys::exit_now(EXIT_INIT_FAILED)
        }
    };
    let start_listener = match ctx.launch {
        Launch::AtStart(listener) => listener,
        Launch::Now(command) => launch_now(ctx.config, command, ctx.channel),
        Launch::Exec => exec_now(&program.expect("found for an exec"), ctx.channel),
    };
    let program = program.expect("found for a launch at start");
    // From here on the process belongs to whoever reaps it (the engine's
    // subreaper), not to the runtime that made it.
    let _ = rustix::process::set_parent_process_death_signal(None);
    if ctx.channel.send(&Message::Ready).is_err() {
        nsbox_sys::exit_now(EXIT_INIT_FAILED);
    }
    drop(ctx.channel);
    // A created container ends on kill's signals, as runc's does.
    let _ = nsbox_sys::signal::exit_on_terminating_signals();
    let Some(mut starter) = wait_for_start(&start_listener) else {
        nsbox_sys::exit_now(EXIT_INIT_FAILED)
    };
    drop(start_listener);
    let (argv, envp) = program.argv_envp();
    // The byte tells `start` the process is released; the connection
    // closes on exec, and a message before the close means exec failed.
    use std::io::Write;
    let _ = starter.write_all(&[1]);
    let hooks = &ctx.config.hooks.start_container;
    if !hooks.is_empty() {
        let state = state.replacen("\"status\":\"creating\"", "\"status\":\"created\"", 1);
        if let Err(e) = crate::hooks::run_all("startContainer", hooks, &state) {
            let _ = write!(starter, "{e}");
            nsbox_sys::exit_now(EXIT_INIT_FAILED);
        }
    }
    if let Some(domain) = ctx.config.personality {
        if let Err(e) = nsbox_sys::personality(domain) {
            let _ = write!(starter, "setting linux.personality: {}", nsbox_sys::errno::describe(&e));
            nsbox_sys::exit_now(EXIT_INIT_FAILED);
        }
    }
    // Last, so that nothing the runtime does lands under the policy.
    if let Some(policy) = &ctx.config.memory_policy {
        if let Err(e) = nsbox_sys::set_mempolicy(policy.mode, &policy.nodes) {
            let _ = write!(
                starter,
                "setting linux.memoryPolicy: {}",
                nsbox_sys::errno::describe(&e)
            );
            nsbox_sys::exit_now(EXIT_INIT_FAILED);
        }
    }
    if ctx.config.process.init {
        run_as_init(
            &program,
            &argv,
            &envp,
            starter,
            exit_dir.as_ref(),
            ctx.config.process.exit_file.as_deref(),
        )
    }
    let err = nsbox_sys::execve(&program.path, &argv, &envp);
    let code = if err.kind() == io::ErrorKind::NotFound {
        127
    } else {
        126
    };
    let _ = write!(
        starter,
        "exec {}: {}",
        program.path.to_string_lossy(),
        nsbox_sys::errno::describe(&err)
    );
    nsbox_sys::exit_now(code)
}

/// `exec`'s last step: the program replaces this process; the channel
/// closes on exec, or carries why it could not.
fn exec_now(program: &Program, channel: Channel) -> ! {
    let _ = rustix::process::set_parent_process_death_signal(None);
    let (argv, envp) = program.argv_envp();
    let err = nsbox_sys::execve(&program.path, &argv, &envp);
    let code = if err.kind() == io::ErrorKind::NotFound {
        127
    } else {
        126
    };
    channel.fail_command(crate::exec::Failure {
        code,
        message: format!(
            "exec {}: {}",
            program.path.to_string_lossy(),
            nsbox_sys::errno::describe(&err)
        ),
    })
}

/// `nsbox unshare`'s last step: the command is exec'd, or with an init
/// spawned and supervised. The channel closes on exec (or once the
/// command is spawned): end of file tells the runtime it started.
fn launch_now(config: &Config, command: &crate::exec::Command, channel: Channel) -> ! {
    if !config.process.init {
        channel.fail_command(command.exec())
    }
    let _ = crate::supervise::supervisor_signals().block();
    // posix_spawn rather than fork: this process is a copy of nsbox, and
    // copying its page tables only to replace them with exec was the
    // largest avoidable cost of a container start.
    // Named before the command starts: it may look at its PID 1 at once.
    let _ = rustix::thread::set_name(c"nsbox-init");
    let pid = match command.spawn() {
        Ok(pid) => pid,
        Err(failure) => channel.fail_command(failure),
    };
    // The runtime waits for end of file, which this close gives it.
    drop(channel);
    match crate::supervise::supervise(pid, true) {
        Ok(code) => nsbox_sys::exit_now(code),
        Err(e) => {
            eprintln!("nsbox-init: waiting for the command: {e}");
            nsbox_sys::exit_now(crate::exec::EXIT_SETUP_FAILED)
        }
    }
}

/// PID 1 as nsbox's init: the program is spawned (not exec'd), supervised
/// (signals passed on, orphans reaped), and its exit status written to the
/// exit file and exited with.
fn run_as_init(
    program: &Program,
    argv: &[CString],
    envp: &[CString],
    mut starter: std::os::unix::net::UnixStream,
    exit_dir: Option<&OwnedFd>,
    exit_file: Option<&Path>,
) -> ! {
    use std::io::Write;
    let _ = nsbox_sys::signal::default_terminating_signals();
    let blocked = crate::supervise::supervisor_signals().block();
    let defaults = nsbox_sys::SignalSet::of(&[libc::SIGPIPE]);
    let mask = nsbox_sys::SignalSet::empty();
    // Named before the program starts: it may look at its PID 1 at once.
    let _ = rustix::thread::set_name(c"nsbox-init");
    let pid = match nsbox_sys::spawn::spawn(&program.path, argv, envp, &mask, &defaults) {
        Ok(pid) => pid,
        Err(e) => {
            let _ = write!(
                starter,
                "starting {}: {}",
                program.path.to_string_lossy(),
                nsbox_sys::errno::describe(&e)
            );
            nsbox_sys::exit_now(127)
        }
    };
    drop(starter);
    let code = match blocked.and_then(|_| crate::supervise::supervise(pid, true)) {
        Ok(code) => code,
        Err(_) => crate::exec::EXIT_SETUP_FAILED,
    };
    if let (Some(dir), Some(name)) = (exit_dir, exit_file.and_then(|f| f.file_name())) {
        let flags = rustix::fs::OFlags::CREATE
            | rustix::fs::OFlags::WRONLY
            | rustix::fs::OFlags::TRUNC
            | rustix::fs::OFlags::CLOEXEC;
        if let Ok(file) = rustix::fs::openat(dir, name, flags, rustix::fs::Mode::from_bits_truncate(0o644)) {
            let _ = std::fs::File::from(file).write_all(format!("{code}\n").as_bytes());
        }
    }
    nsbox_sys::exit_now(code)
}

/// Blocks until the runtime says `Go`; returns the state JSON for the
/// hooks if it sent one before.
fn wait_for_go(channel: &Channel) -> String {
    let mut state = String::new();
    loop {
        match channel.recv() {
            Ok(Some(Message::Go)) => return state,
            Ok(Some(Message::State(json))) => state = json,
            _ => nsbox_sys::exit_now(EXIT_INIT_FAILED),
        }
    }
}

/// Blocks until `start` connects.
fn wait_for_start(listener: &OwnedFd) -> Option<std::os::unix::net::UnixStream> {
    loop {
        match rustix::net::accept_with(listener, rustix::net::SocketFlags::CLOEXEC) {
            Ok(fd) => return Some(std::os::unix::net::UnixStream::from(fd)),
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => return None,
        }
    }
}

/// The program to exec, found before `start` so that a missing one fails `create`.
struct Program {
    path: CString,
    args: Vec<String>,
    env: Vec<String>,
}

impl Program {
    fn argv_envp(&self) -> (Vec<CString>, Vec<CString>) {
        // NULs were refused when the process was checked; one here is cut.
        let c = |s: &String| CString::new(s.split('\0').next().unwrap_or_default()).unwrap_or_default();
        (self.args.iter().map(c).collect(), self.env.iter().map(c).collect())
    }
}

/// Every step, in order. Each names itself in its failure.
/// The program is found here for a launch at `start` (a missing one fails
/// `create`); a command launched now finds its own (None).
fn set_up(ctx: &InitContext, state: &str) -> Result<Option<Program>, InitFailure> {
    let config = ctx.config;
    join_namespaces(&ctx.joins)?;
    // With root unmapped (`nsbox unshare --uid-map 1000:0:1`) the process
    // stays the unmapped user it starts as.
    if config.creates(NsKind::User) && config.maps_root() {
        credentials::become_root().map_err(rx("becoming root of the new user namespace"))?;
    }
    if let Some(name) = &ctx.keyring {
        join_keyring(name)?;
    }
    if config.setns_only {
        // Joining a running container (exec): it is built already.
        return finish_process(ctx);
    }
    if config.creates(NsKind::Cgroup) {
        nsbox_sys::unshare_namespaces(NsKind::Cgroup.clone_flag()).map_err(fail("creating the cgroup namespace"))?;
    }
    if config.creates(NsKind::Time) {
        new_time_namespace(config.time_offsets.unwrap_or_default())?;
    }
    if let Some(name) = &config.hostname {
        rustix::system::sethostname(name.as_bytes()).map_err(rx(format!("setting the hostname {name:?}")))?;
    }
    if let Some(name) = &config.domainname {
        rustix::system::setdomainname(name.as_bytes()).map_err(rx(format!("setting the domain name {name:?}")))?;
    }
    if config.loopback_up {
        nsbox_sys::net::set_link_up("lo").map_err(fail("bringing lo up"))?;
    }
    // Without a mount namespace of its own (`nsbox unshare --ns` without
    // mnt) the process sees the caller's mounts and changes none.
    let own_mounts = config.has(NsKind::Mnt);
    if own_mounts {
        mounts::build_root(config, &ctx.idmap_userns)?;
    }
    if !config.hooks.prestart.is_empty() || !config.hooks.create_runtime.is_empty() {
        let sent = ctx.channel.send(&Message::RuntimeHooks);
        if sent.is_err() || !matches!(ctx.channel.recv(), Ok(Some(Message::Go))) {
            nsbox_sys::exit_now(EXIT_INIT_FAILED);
        }
    }
    crate::hooks::run_all("createContainer", &config.hooks.create_container, state).map_err(|e| InitFailure {
        step: "running the createContainer hooks".into(),
        message: e.to_string(),
    })?;
    if own_mounts {
        mounts::enter_root(config, ctx.no_pivot)?;
    }
    for (key, value) in &config.sysctl {
        let path = PathBuf::from("/proc/sys").join(key.replace('.', "/"));
        std::fs::write(&path, value).map_err(fail(format!("setting sysctl {key} to {value:?}")))?;
    }
    if let Some(adj) = config.process.oom_score_adj {
        std::fs::write("/proc/self/oom_score_adj", adj.to_string())
            .map_err(fail(format!("setting oomScoreAdj {adj}")))?;
    }
    finish_process(ctx)
}

/// The process's own steps, for a new container and for `exec` alike:
/// rlimits, scheduling, cwd, user and capabilities, umask, no_new_privs,
/// seccomp, and the program found.
fn finish_process(ctx: &InitContext) -> Result<Option<Program>, InitFailure> {
    let config = ctx.config;
    if config.process.terminal {
        // In the container's /dev (after pivot_root, or in the joined
        // mount namespace), while still root.
        console::set_up(ctx.console.as_ref(), config.process.console_size)?;
    }
    credentials::set_rlimits(&config.process.rlimits)?;
    // As root still: a realtime policy or class needs CAP_SYS_NICE / CAP_SYS_ADMIN.
    if let Some(attr) = &config.process.scheduler {
        nsbox_sys::set_scheduler(attr).map_err(fail("setting process.scheduler"))?;
    }
    if let Some((class, level)) = config.process.io_priority {
        nsbox_sys::set_io_priority(class, level).map_err(fail("setting process.ioPriority"))?;
    }
    if let Launch::Now(_) = ctx.launch {
        // The command enters its own directory and user (see exec::Command).
        return Ok(None);
    }
    make_cwd(&config.process.cwd)?;
    // Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: it is
    // loaded while the process is still root (runc's order).
    if !config.process.no_new_privileges {
        load_seccomp(ctx)?;
    }
    credentials::switch_user(&config.process)?;
    let umask = config.process.umask.unwrap_or(0o022);
    rustix::process::umask(rustix::fs::Mode::from_bits_truncate(umask));
    rustix::process::chdir(&config.process.cwd)
        .map_err(rx(format!("entering process.cwd {}", config.process.cwd.display())))?;
    if config.process.no_new_privileges {
        rustix::thread::set_no_new_privs(true).map_err(rx("setting no_new_privs"))?;
        load_seccomp(ctx)?;
    }
    let mut env = config.process.env.clone();
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!("HOME={}", home_of(config.process.uid)));
    }
    find_program(&config.process.args, &env).map(Some)
}

/// Loads the seccomp filter; a notifying one's listener goes to the
/// runtime, which passes it on to `linux.seccomp.listenerPath`.
fn load_seccomp(ctx: &InitContext) -> Result<(), InitFailure> {
    let Some(filter) = ctx.seccomp else { return Ok(()) };
    let listener = nsbox_sys::seccomp::load(&filter.bpf, filter.flags).map_err(fail("loading linux.seccomp"))?;
    if let Some(fd) = listener {
        ctx.channel
            .send_fd(&Message::SeccompListener, &fd)
            .map_err(fail("sending the seccomp listener to the runtime"))?;
    }
    Ok(())
}

/// The home directory of `uid` in the container's /etc/passwd, or `/`
/// (what runc gives a process whose env has no HOME).
fn home_of(uid: u32) -> String {
    std::fs::read_to_string("/etc/passwd")
        .unwrap_or_default()
        .lines()
        .find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            (fields.get(2)? == &uid.to_string().as_str()).then(|| fields.get(5).map(|h| h.to_string()))?
        })
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "/".into())
}

fn join_namespaces(joins: &[(NsKind, OwnedFd)]) -> Result<(), InitFailure> {
    use rustix::thread::{move_into_link_name_space, LinkNameSpaceType as T};
    for (kind, fd) in joins {
        let ty = match kind {
            NsKind::User => T::User,
            NsKind::Cgroup => T::ControlGroup,
            NsKind::Ipc => T::InterProcessCommunication,
            NsKind::Uts => T::HostNameAndNISDomainName,
            NsKind::Net => T::Network,
            NsKind::Mnt => T::Mount,
            NsKind::Pid => T::ProcessID,
            NsKind::Time => T::Time,
        };
        move_into_link_name_space(fd.as_fd(), Some(ty)).map_err(rx(format!("joining the {kind} namespace")))?;
    }
    Ok(())
}

fn join_keyring(name: &CString) -> Result<(), InitFailure> {
    match nsbox_sys::join_session_keyring(name) {
        // Kernels without keyrings, and sandboxes that refuse keyctl: as runc.
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOSYS) | Some(libc::EPERM)) => Ok(()),
        other => other.map_err(fail("joining a new session keyring")),
    }
}

fn new_time_namespace((monotonic, boottime): (i64, i64)) -> Result<(), InitFailure> {
    nsbox_sys::unshare_namespaces(NsKind::Time.clone_flag()).map_err(fail("creating the time namespace"))?;
    let text = format!("monotonic {monotonic} 0\nboottime {boottime} 0\n");
    std::fs::write("/proc/self/timens_offsets", text).map_err(fail("setting linux.timeOffsets"))
}

/// runc makes a missing cwd (as root, before the user changes).
fn make_cwd(cwd: &Path) -> Result<(), InitFailure> {
    std::fs::create_dir_all(cwd).map_err(fail(format!("creating process.cwd {}", cwd.display())))
}

/// The program's path: args[0] if it has a slash, else searched in the
/// container's own PATH (as runc does, never nsbox's).
fn find_program(args: &[String], env: &[String]) -> Result<Program, InitFailure> {
    let name = &args[0];
    let not_found = |message: String| InitFailure {
        step: format!("finding process.args[0] {name:?}"),
        message,
    };
    let runnable = |p: &Path| {
        rustix::fs::access(p, rustix::fs::Access::EXEC_OK).is_ok() && p.metadata().is_ok_and(|m| m.is_file())
    };
    let path = if name.contains('/') {
        let p = PathBuf::from(name);
        if let Err(e) = p.metadata() {
            return Err(not_found(nsbox_sys::errno::describe(&e)));
        }
        p
    } else {
        let search = env
            .iter()
            .rev()
            .find_map(|e| e.strip_prefix("PATH="))
            .unwrap_or_default();
        search
            .split(':')
            .filter(|d| !d.is_empty())
            .map(|d| Path::new(d).join(name))
            .find(|p| runnable(p))
            .ok_or_else(|| not_found("not found in the container's PATH".to_string()))?
    };
    let path = CString::new(path.into_os_string().into_encoded_bytes())
        .map_err(|_| not_found("contains a NUL byte".to_string()))?;
    Ok(Program {
        path,
        args: args.to_vec(),
        env: env.to_vec(),
    })
}
