//! The verbs over a container's cgroups: `pause`, `resume`, `ps` and
//! `update` (its resources from a JSON file, stdin, or runc's flags).

use super::{verb, GlobalOpts, IdArg};
use clap::{Args, ValueEnum};
use nsbox_runtime::config::Resources;
use nsbox_runtime::container::{self, ContainerError};
use std::path::PathBuf;

pub fn pause(global: &GlobalOpts, args: IdArg) -> i32 {
    verb(global, |root| container::pause(root, &args.id).map(|()| 0))
}

pub fn resume(global: &GlobalOpts, args: IdArg) -> i32 {
    verb(global, |root| container::resume(root, &args.id).map(|()| 0))
}

#[derive(Args, Debug)]
pub struct PsArgs {
    /// table (ps's own output, the container's lines) or json (an array of PIDs).
    #[arg(short, long, value_enum, default_value = "table")]
    format: PsFormat,
    /// The container's id.
    id: String,
    /// The arguments `ps` is run with for the table (default: -ef).
    #[arg(last = true)]
    ps_args: Vec<String>,
}

#[derive(ValueEnum, Debug, Clone, Copy)]
pub enum PsFormat {
    Table,
    Json,
}

pub fn ps(global: &GlobalOpts, args: PsArgs) -> i32 {
    verb(global, |root| {
        let pids = container::pids(root, &args.id)?;
        match args.format {
            PsFormat::Json => println!("{}", serde_json::to_string(&pids).expect("plain data")),
            PsFormat::Table => print!("{}", ps_table(&pids, &args.ps_args)?),
        }
        Ok(0)
    })
}

/// `ps ARGS`'s header and the lines of the container's processes, found
/// by the header's PID column (as runc filters them).
fn ps_table(pids: &[i32], ps_args: &[String]) -> Result<String, ContainerError> {
    let args: Vec<String> = if ps_args.is_empty() {
        vec!["-ef".into()]
    } else {
        ps_args.to_vec()
    };
    let out = std::process::Command::new("ps")
        .args(&args)
        .output()
        .map_err(|e| ContainerError::Usage(format!("running ps: {e}")))?;
    if !out.status.success() {
        return Err(ContainerError::Usage(format!(
            "ps {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let column = header
        .split_whitespace()
        .position(|h| h == "PID")
        .ok_or_else(|| ContainerError::Usage(format!("ps {}: no PID column in its output", args.join(" "))))?;
    let mut table = format!("{header}\n");
    for line in lines {
        let pid = line.split_whitespace().nth(column).and_then(|p| p.parse::<i32>().ok());
        if pid.is_some_and(|p| pids.contains(&p)) {
            table.push_str(line);
            table.push('\n');
        }
    }
    Ok(table)
}

#[derive(Args, Debug)]
pub struct UpdateArgs {
    /// The new resources as the spec's linux.resources JSON (a file, or - for stdin).
    #[arg(short, long, value_name = "FILE")]
    resources: Option<PathBuf>,
    /// Memory limit in bytes (units k, m, g; -1: none).
    #[arg(long, value_name = "BYTES", allow_hyphen_values = true)]
    memory: Option<String>,
    /// Memory plus swap in bytes (units k, m, g; -1: none).
    #[arg(long = "memory-swap", value_name = "BYTES", allow_hyphen_values = true)]
    memory_swap: Option<String>,
    /// Memory soft limit in bytes (units k, m, g).
    #[arg(long = "memory-reservation", value_name = "BYTES", allow_hyphen_values = true)]
    memory_reservation: Option<String>,
    /// Kernel TCP buffer memory limit in bytes (v1).
    #[arg(long = "kernel-memory-tcp", value_name = "BYTES", allow_hyphen_values = true)]
    kernel_memory_tcp: Option<String>,
    /// CPU shares (relative weight).
    #[arg(long = "cpu-share", visible_alias = "cpu-shares", value_name = "N")]
    cpu_share: Option<u64>,
    /// CFS quota in microseconds per period (-1: none).
    #[arg(long = "cpu-quota", value_name = "US", allow_hyphen_values = true)]
    cpu_quota: Option<i64>,
    /// CFS period in microseconds.
    #[arg(long = "cpu-period", value_name = "US")]
    cpu_period: Option<u64>,
    /// CFS burst in microseconds.
    #[arg(long = "cpu-burst", value_name = "US")]
    cpu_burst: Option<u64>,
    /// Realtime period in microseconds (v1).
    #[arg(long = "cpu-rt-period", value_name = "US")]
    cpu_rt_period: Option<u64>,
    /// Realtime runtime in microseconds (v1).
    #[arg(long = "cpu-rt-runtime", value_name = "US", allow_hyphen_values = true)]
    cpu_rt_runtime: Option<i64>,
    /// CPUs the container may use (0-2,4).
    #[arg(long = "cpuset-cpus", value_name = "LIST")]
    cpuset_cpus: Option<String>,
    /// Memory nodes the container may use.
    #[arg(long = "cpuset-mems", value_name = "LIST")]
    cpuset_mems: Option<String>,
    /// SCHED_IDLE for the container's cgroup (1) or not (0).
    #[arg(long = "cpu-idle", value_name = "0|1")]
    cpu_idle: Option<i64>,
    /// Maximum number of processes (0 or -1: none).
    #[arg(long = "pids-limit", value_name = "N", allow_hyphen_values = true)]
    pids_limit: Option<i64>,
    /// Block IO weight (10 to 1000).
    #[arg(long = "blkio-weight", value_name = "W")]
    blkio_weight: Option<u16>,
    /// Intel RDT L3 cache schema (refused: this host has no resctrl).
    #[arg(long = "l3-cache-schema", value_name = "SCHEMA")]
    l3_cache_schema: Option<String>,
    /// Intel RDT memory bandwidth schema (refused: this host has no resctrl).
    #[arg(long = "mem-bw-schema", value_name = "SCHEMA")]
    mem_bw_schema: Option<String>,
    /// The container's id.
    id: String,
}

pub fn update(global: &GlobalOpts, args: UpdateArgs) -> i32 {
    verb(global, |root| {
        let resources = args.resources()?;
        container::update(root, &args.id, &resources).map(|()| 0)
    })
}

/// runc's reading of a memory size: a number with an optional unit, or -1.
fn bytes(flag: &str, value: &Option<String>) -> Result<Option<i64>, ContainerError> {
    let Some(text) = value else { return Ok(None) };
    if text.trim() == "-1" {
        return Ok(Some(-1));
    }
    nsbox_runtime::spec::parse_size(text)
        .ok()
        .and_then(|n| i64::try_from(n).ok())
        .map(Some)
        .ok_or_else(|| {
            ContainerError::Usage(format!(
                "--{flag} {text:?}: expected bytes with an optional unit k, m, g, or -1"
            ))
        })
}

impl UpdateArgs {
    /// The resources file (or stdin), then each flag over it, as runc.
    fn resources(&self) -> Result<Resources, ContainerError> {
        if self.l3_cache_schema.is_some() || self.mem_bw_schema.is_some() {
            return Err(ContainerError::Usage(
                "--l3-cache-schema/--mem-bw-schema: Intel RDT needs resctrl, which this host does not have".into(),
            ));
        }
        let mut r = match &self.resources {
            None => Resources::default(),
            Some(path) => {
                let (name, text) = if path.as_os_str() == "-" {
                    let mut text = String::new();
                    std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
                        .map_err(|e| ContainerError::Usage(format!("reading the resources from stdin: {e}")))?;
                    (PathBuf::from("<stdin>"), text)
                } else {
                    let text = std::fs::read_to_string(path)
                        .map_err(|e| ContainerError::Usage(format!("{}: {e}", path.display())))?;
                    (path.clone(), text)
                };
                nsbox_runtime::config::oci::resources_from_json(&name, &text)?
            }
        };
        let m = &mut r.memory;
        m.limit = bytes("memory", &self.memory)?.or(m.limit);
        m.swap = bytes("memory-swap", &self.memory_swap)?.or(m.swap);
        m.reservation = bytes("memory-reservation", &self.memory_reservation)?.or(m.reservation);
        m.kernel_tcp = bytes("kernel-memory-tcp", &self.kernel_memory_tcp)?.or(m.kernel_tcp);
        let c = &mut r.cpu;
        c.shares = self.cpu_share.or(c.shares);
        c.quota = self.cpu_quota.or(c.quota);
        c.period = self.cpu_period.or(c.period);
        c.burst = self.cpu_burst.or(c.burst);
        c.realtime_period = self.cpu_rt_period.or(c.realtime_period);
        c.realtime_runtime = self.cpu_rt_runtime.or(c.realtime_runtime);
        c.cpus = self.cpuset_cpus.clone().or(c.cpus.take());
        c.mems = self.cpuset_mems.clone().or(c.mems.take());
        c.idle = self.cpu_idle.or(c.idle);
        r.pids_limit = self.pids_limit.or(r.pids_limit);
        r.block_io.weight = self.blkio_weight.or(r.block_io.weight);
        Ok(r)
    }
}

#[derive(Args, Debug)]
pub struct EventsArgs {
    /// Print one stats event and exit.
    #[arg(long)]
    stats: bool,
    /// How often stats are printed (500ms, 5s, 1m).
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = crate::numbers::go_duration)]
    interval: std::time::Duration,
    /// The container's id.
    id: String,
}

/// runc's event stream: JSON lines, `stats` every interval and `oom` as
/// it happens, until the container stops; `--stats`: one stats event.
pub fn events(global: &GlobalOpts, args: EventsArgs) -> i32 {
    verb(global, |root| {
        if args.stats {
            println!("{}", container::events::stats(root, &args.id)?);
            return Ok(0);
        }
        container::events::watch(root, &args.id, args.interval, |event| {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{event}");
            let _ = out.flush();
        })?;
        Ok(0)
    })
}
