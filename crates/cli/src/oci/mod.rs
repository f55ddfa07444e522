//! runc's command line at nsbox's top level: `create`, `start`, `run`,
//! `state`, `kill`, `delete`, `list`, `spec`, `features`, with runc's global
//! flags (before the verb, as runc takes them) and runc's exit codes (0
//! done, 1 failed; `run` in the foreground exits with the container's status).

mod exec;
pub mod fast;
mod log;
mod resources;
mod spec;

use clap::{Args, ValueEnum};
use nsbox_runtime::container::{self, ContainerError, CreateOptions, Root};
use std::path::PathBuf;

/// Where containers are recorded unless `--root` says otherwise (labs keep
/// theirs under /run/nsbox/labs: never mixed).
pub const DEFAULT_ROOT: &str = "/run/nsbox/oci";

#[derive(Args, Debug, Clone, PartialEq)]
pub struct GlobalOpts {
    /// Where the containers' state is kept (runc's --root).
    #[arg(long, value_name = "DIR", default_value = DEFAULT_ROOT)]
    pub root: PathBuf,
    /// Also write errors to this file (engines read it).
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// The format of --log's lines: text, or runc's JSON lines {"level","msg","time"}.
    #[arg(long = "log-format", value_enum, default_value = "text", value_name = "FORMAT")]
    pub log_format: LogFormat,
    /// Log debug messages too.
    #[arg(long)]
    pub debug: bool,
    /// Manage cgroups through systemd (refused: not supported yet).
    #[arg(long = "systemd-cgroup")]
    pub systemd_cgroup: bool,
    /// Rootless mode: true, false or auto (only false and auto, as root, are supported).
    #[arg(long, value_name = "true|false|auto")]
    pub rootless: Option<String>,
    /// runc's path to criu (accepted; checkpointing is not offered).
    #[arg(long, value_name = "PATH", hide = true)]
    pub criu: Option<PathBuf>,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Args, Debug, PartialEq)]
pub struct CreateArgs {
    /// The bundle directory (config.json and the rootfs).
    #[arg(short, long, value_name = "DIR", default_value = ".")]
    bundle: PathBuf,
    /// Write the container process's PID here.
    #[arg(long = "pid-file", value_name = "FILE")]
    pid_file: Option<PathBuf>,
    /// The unix socket a process with `terminal` sends its pty's master to.
    #[arg(long = "console-socket", value_name = "SOCKET")]
    console_socket: Option<PathBuf>,
    /// Move the rootfs onto / and chroot instead of pivot_root.
    #[arg(long = "no-pivot")]
    no_pivot: bool,
    /// Keep the caller's session keyring instead of a new one.
    #[arg(long = "no-new-keyring")]
    no_new_keyring: bool,
    /// Pass descriptors 3 .. 3+N to the container.
    #[arg(long = "preserve-fds", value_name = "N", default_value_t = 0)]
    preserve_fds: u32,
    /// The container's id.
    id: String,
}

#[derive(Args, Debug, PartialEq)]
pub struct RunArgs {
    #[command(flatten)]
    create: CreateArgs,
    /// Return once the container has started (it then outlives nsbox).
    #[arg(short, long)]
    detach: bool,
    /// Keep the container's record after it exits (delete it yourself).
    #[arg(long)]
    keep: bool,
}

#[derive(Args, Debug, PartialEq)]
pub struct IdArg {
    /// The container's id.
    pub(crate) id: String,
}

#[derive(Args, Debug, PartialEq)]
pub struct KillArgs {
    /// Signal every process of the container.
    #[arg(short, long)]
    all: bool,
    /// The container's id.
    id: String,
    /// The signal: a name (TERM, SIGTERM) or a number.
    #[arg(default_value = "SIGTERM")]
    signal: String,
}

#[derive(Args, Debug, PartialEq)]
pub struct DeleteArgs {
    /// Kill a running container first; a missing one is no error.
    #[arg(short, long)]
    force: bool,
    /// The container's id.
    id: String,
}

#[derive(Args, Debug)]
pub struct ListArgs {
    /// table or json.
    #[arg(short, long, value_enum, default_value = "table")]
    format: ListFormat,
    /// Print the ids only.
    #[arg(short, long)]
    quiet: bool,
}

#[derive(ValueEnum, Debug, Clone, Copy)]
pub enum ListFormat {
    Table,
    Json,
}

/// Refuses the global flags that are not supported yet, rather than ignore them.
fn check_global(global: &GlobalOpts) -> Result<(), ContainerError> {
    if global.systemd_cgroup {
        return Err(ContainerError::Usage(
            "--systemd-cgroup: cgroups through systemd are not supported yet; leave the flag out".into(),
        ));
    }
    match global.rootless.as_deref() {
        None | Some("false") | Some("auto") => Ok(()),
        Some("true") => Err(ContainerError::Usage(
            "--rootless true: rootless containers are not supported yet".into(),
        )),
        Some(other) => Err(ContainerError::Usage(format!(
            "--rootless {other:?}: use true, false or auto"
        ))),
    }
}

impl CreateArgs {
    fn options(&self, global: &GlobalOpts) -> Result<CreateOptions, ContainerError> {
        Ok(CreateOptions {
            bundle: self.bundle.clone(),
            pid_file: self
                .pid_file
                .as_ref()
                .map(|p| std::path::absolute(p).unwrap_or_else(|_| p.clone())),
            no_pivot: self.no_pivot,
            no_new_keyring: self.no_new_keyring,
            preserve_fds: self.preserve_fds,
            debug: global.debug,
            console_socket: self
                .console_socket
                .as_ref()
                .map(|p| std::path::absolute(p).unwrap_or_else(|_| p.clone())),
        })
    }
}

/// Runs one verb; errors go to stderr and the log; returns the exit status.
pub(crate) fn verb(global: &GlobalOpts, f: impl FnOnce(&Root) -> Result<i32, ContainerError>) -> i32 {
    let logger = log::Logger::new(global);
    let result = check_global(global).and_then(|()| f(&Root::at(&global.root)));
    match result {
        Ok(code) => code,
        Err(e) => {
            logger.error(&e.to_string());
            crate::report(e);
            1
        }
    }
}

/// Holds the descriptors `--preserve-fds` promises (3 .. 3+N) open, so
/// that no file nsbox opens for itself takes one of their numbers and
/// reaches the container in its place.
pub(crate) fn reserve_preserved_fds(n: u32) {
    let wanted: Vec<i32> = (3..3 + n.min(1 << 16) as i32).collect();
    nsbox_sys::open_closed_fds(&wanted);
}

pub fn create(global: &GlobalOpts, args: CreateArgs) -> i32 {
    reserve_preserved_fds(args.preserve_fds);
    verb(global, |root| {
        container::create(root, &args.id, &args.options(global)?)?;
        Ok(0)
    })
}

pub fn run(global: &GlobalOpts, args: RunArgs) -> i32 {
    reserve_preserved_fds(args.create.preserve_fds);
    verb(global, |root| {
        let opts = args.create.options(global)?;
        container::run(root, &args.create.id, &opts, args.detach, args.keep)
    })
}

pub fn start(global: &GlobalOpts, args: IdArg) -> i32 {
    verb(global, |root| container::start(root, &args.id).map(|()| 0))
}

pub fn state(global: &GlobalOpts, args: IdArg) -> i32 {
    verb(global, |root| {
        let state = container::state(root, &args.id)?;
        println!("{}", serde_json::to_string_pretty(&state).expect("plain data"));
        Ok(0)
    })
}

pub fn kill(global: &GlobalOpts, args: KillArgs) -> i32 {
    verb(global, |root| {
        let signal = container::parse_signal(&args.signal).ok_or_else(|| {
            ContainerError::Usage(format!(
                "{:?}: not a signal (a name like TERM or SIGKILL, or a number)",
                args.signal
            ))
        })?;
        container::kill(root, &args.id, signal, args.all).map(|()| 0)
    })
}

pub fn delete(global: &GlobalOpts, args: DeleteArgs) -> i32 {
    verb(global, |root| container::delete(root, &args.id, args.force).map(|()| 0))
}

pub fn list(global: &GlobalOpts, args: ListArgs) -> i32 {
    verb(global, |root| {
        let records = container::list(root)?;
        if args.quiet {
            for r in &records {
                println!("{}", r.id);
            }
            return Ok(0);
        }
        match args.format {
            ListFormat::Json => {
                let items: Vec<serde_json::Value> = records.iter().map(list_item).collect();
                println!("{}", serde_json::Value::Array(items));
            }
            ListFormat::Table => print_table(&records),
        }
        Ok(0)
    })
}

/// One container as runc's `list --format json` shows it.
fn list_item(r: &container::Record) -> serde_json::Value {
    let state = r.oci_state();
    serde_json::json!({
        "ociVersion": state.oci_version,
        "id": state.id,
        "pid": state.pid.unwrap_or(0),
        "status": state.status.to_string(),
        "bundle": state.bundle,
        "rootfs": r.bundle.join("rootfs"),
        "created": r.created,
        "owner": "root",
        "annotations": state.annotations,
    })
}

fn print_table(records: &[container::Record]) {
    let rows: Vec<[String; 6]> = records
        .iter()
        .map(|r| {
            let state = r.oci_state();
            [
                state.id,
                state.pid.unwrap_or(0).to_string(),
                state.status.to_string(),
                state.bundle.display().to_string(),
                r.created.clone(),
                "root".to_string(),
            ]
        })
        .collect();
    let header = ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"].map(String::from);
    let widths: Vec<usize> = (0..6)
        .map(|i| rows.iter().chain([&header]).map(|r| r[i].len()).max().unwrap_or(0))
        .collect();
    for row in [&header].into_iter().chain(&rows) {
        let cells: Vec<String> = row.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        println!("{}", cells.join("   ").trim_end());
    }
}

pub use exec::{exec, ExecArgs};
pub use resources::{events, pause, ps, resume, update, EventsArgs, PsArgs, UpdateArgs};
pub use spec::{features, spec, SpecArgs};

/// Runs a verb the fast path understood.
pub fn dispatch(global: &GlobalOpts, verb: fast::Verb) -> i32 {
    match verb {
        fast::Verb::Create(a) => create(global, a),
        fast::Verb::Run(a) => run(global, a),
        fast::Verb::Start(a) => start(global, a),
        fast::Verb::State(a) => state(global, a),
        fast::Verb::Kill(a) => kill(global, a),
        fast::Verb::Delete(a) => delete(global, a),
    }
}

/// `nsbox --version` as runc prints its own: a version line and the spec.
pub fn print_version() -> i32 {
    println!("nsbox version {}", env!("NSBOX_VERSION"));
    println!("spec: {}", spec::SPEC_VERSION);
    0
}
