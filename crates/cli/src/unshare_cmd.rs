//! `nsbox unshare` and `nsbox enter`.

use clap::Args;
use nsbox_ns::{IdMap, NsSet};
use nsbox_runtime::spec::{parse_cpus, parse_env, parse_memory, parse_pids, parse_time_offsets, parse_user};
use nsbox_runtime::unshare::RunError;
use nsbox_runtime::{Bind, RootChoice, Spec};
use std::path::PathBuf;

/// `nsbox unshare`'s arguments: the definition of its command line (the
/// fast path in `unshare_fast` reads the usual forms of the same).
#[derive(Args, Debug, Default, PartialEq)]
#[command(trailing_var_arg = true)]
pub struct UnshareArgs {
    /// Namespaces to create, comma-separated: pid,ipc,mnt,net,uts,user,cgroup,time
    /// [default as root: all but user and time; otherwise all but time]
    #[arg(long, value_name = "LIST", value_parser = NsSet::parse_list)]
    pub(crate) ns: Option<NsSet>,
    /// Hostname in the new uts namespace.
    #[arg(long)]
    pub(crate) hostname: Option<String>,
    /// NIS domain name in the new uts namespace.
    #[arg(long)]
    pub(crate) domainname: Option<String>,
    /// pivot_root into DIR instead of a read-only view of the host's system directories.
    #[arg(long, value_name = "DIR")]
    pub(crate) rootfs: Option<PathBuf>,
    /// Bind SRC from the host at DST inside; add :ro for read-only.
    #[arg(long, value_name = "SRC:DST[:ro]", value_parser = str::parse::<Bind>)]
    pub(crate) bind: Vec<Bind>,
    /// Mount a fresh tmpfs at DST.
    #[arg(long, value_name = "DST")]
    pub(crate) tmpfs: Vec<PathBuf>,
    /// Set an environment variable for the command.
    #[arg(long, short = 'e', value_name = "K=V", value_parser = parse_env)]
    pub(crate) env: Vec<(String, String)>,
    /// Working directory of the command.
    #[arg(long, short = 'w', value_name = "DIR")]
    pub(crate) workdir: Option<PathBuf>,
    /// Run the command as UID (and GID) inside.
    #[arg(long, short = 'u', value_name = "UID[:GID]", value_parser = parse_user)]
    pub(crate) user: Option<(u32, Option<u32>)>,
    /// Map root in the new user namespace to the caller (adds user to --ns).
    #[arg(long, short = 'r')]
    pub(crate) map_root_user: bool,
    /// A uid map line for the new user namespace.
    #[arg(long, value_name = "INSIDE:OUTSIDE:COUNT", value_parser = str::parse::<IdMap>)]
    pub(crate) uid_map: Vec<IdMap>,
    /// A gid map line for the new user namespace.
    #[arg(long, value_name = "INSIDE:OUTSIDE:COUNT", value_parser = str::parse::<IdMap>)]
    pub(crate) gid_map: Vec<IdMap>,
    /// Memory limit (bytes, or with k, m, g).
    #[arg(long, value_name = "SIZE", value_parser = parse_memory)]
    pub(crate) memory: Option<u64>,
    /// Maximum number of processes and threads (1 or more).
    #[arg(long, value_name = "N", value_parser = parse_pids)]
    pub(crate) pids: Option<u64>,
    /// CPU bandwidth in CPUs, such as 0.5.
    #[arg(long, value_name = "CPUS", value_parser = parse_cpus, allow_negative_numbers = true)]
    pub(crate) cpus: Option<f64>,
    /// Clock offsets of the new time namespace (adds time to --ns).
    #[arg(long, value_name = "monotonic=SECS,boottime=SECS", value_parser = parse_time_offsets)]
    pub(crate) time_offset: Option<nsbox_runtime::TimeOffsets>,
    /// Bring the loopback interface of the new network namespace up.
    #[arg(long)]
    pub(crate) lo_up: bool,
    /// The command and its arguments [default: $SHELL, else /bin/sh].
    #[arg(value_name = "CMD")]
    pub(crate) command: Vec<String>,
}

/// What `nsbox help` says of `nsbox unshare`.
pub const ABOUT: &str = "Run a command in new namespaces: a container from flags";

/// Parses `unshare ARGS...` with clap, from the unshare subcommand's tree
/// only: the same help, usage and errors as through the whole command line.
pub fn parse_with_clap(args: impl IntoIterator<Item = std::ffi::OsString>) -> Result<UnshareArgs, clap::Error> {
    use clap::FromArgMatches;
    UnshareArgs::augment_args(clap::Command::new("unshare"))
        .about(ABOUT)
        .bin_name("nsbox unshare")
        .try_get_matches_from(args)
        .and_then(|mut matches| UnshareArgs::from_arg_matches_mut(&mut matches))
}

#[derive(Args)]
#[command(trailing_var_arg = true)]
pub struct EnterArgs {
    /// The process whose namespaces to join.
    pid: i32,
    /// Namespaces to join [default: all that differ from nsbox's own].
    #[arg(long, value_name = "LIST", value_parser = NsSet::parse_list)]
    ns: Option<NsSet>,
    /// Set an environment variable for the command.
    #[arg(long, short = 'e', value_name = "K=V", value_parser = parse_env)]
    env: Vec<(String, String)>,
    /// The command and its arguments.
    #[arg(required = true, value_name = "CMD")]
    command: Vec<String>,
}

pub(crate) fn exit_with(result: Result<i32, RunError>) -> i32 {
    match result {
        Ok(code) => code,
        Err(err) => {
            crate::report(&err);
            err.exit_code()
        }
    }
}

pub fn unshare(mut args: UnshareArgs) -> i32 {
    // No command: a shell, as util-linux unshare gives.
    if args.command.is_empty() {
        args.command = vec![std::env::var("SHELL")
            .ok()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "/bin/sh".into())];
    }
    let mut spec = Spec::new(args.command);
    if let Some(ns) = args.ns {
        spec.namespaces = ns;
    }
    if args.map_root_user {
        spec.namespaces.insert(nsbox_ns::NsKind::User);
        spec.map_root_user();
    }
    if args.time_offset.is_some() {
        spec.namespaces.insert(nsbox_ns::NsKind::Time);
    }
    if !args.uid_map.is_empty() {
        spec.uid_maps = args.uid_map;
    }
    if !args.gid_map.is_empty() {
        spec.gid_maps = args.gid_map;
    }
    spec.hostname = args.hostname;
    spec.domainname = args.domainname;
    spec.root = args.rootfs.map_or(RootChoice::HostView, RootChoice::Dir);
    spec.binds = args.bind;
    spec.tmpfs = args.tmpfs;
    spec.env = args.env;
    spec.workdir = args.workdir;
    spec.user = args.user;
    spec.limits.memory = args.memory;
    spec.limits.pids = args.pids;
    spec.limits.cpus = args.cpus;
    spec.time_offsets = args.time_offset;
    spec.loopback_up = args.lo_up;
    exit_with(nsbox_runtime::unshare::run(spec))
}

pub fn enter(args: EnterArgs) -> i32 {
    let kinds = args.ns.unwrap_or_else(NsSet::all);
    exit_with(nsbox_runtime::enter::enter(args.pid, kinds, &args.command, &args.env))
}
