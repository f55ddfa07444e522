//! An OCI container's cgroups: at `linux.cgroupsPath` (absolute: from each
//! hierarchy's root; relative: below the runtime's own cgroup, as runc reads
//! it; none: `nsbox-oci-<id>` below the runtime's own), in the hierarchies its
//! `linux.resources` need, with those resources written. What it made is
//! recorded, so that `delete` removes exactly that and never a cgroup that
//! was there before (an engine may make the cgroup in advance).

use super::{remove_dir_patiently, write_file, CgroupError, Layout};
use crate::config::{Config, DeviceRule, Resources};
use std::path::{Path, PathBuf};

/// The cgroup directory of one hierarchy, and those of its directories
/// that this runtime made (deepest last).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CgroupDir {
    pub path: PathBuf,
    pub made: Vec<PathBuf>,
}

/// The devices every container may use, after the config's own rules (runc's list).
const DEFAULT_ALLOWED: [&str; 9] = [
    "c 1:3 rwm",    // null
    "c 1:5 rwm",    // zero
    "c 1:7 rwm",    // full
    "c 1:8 rwm",    // random
    "c 1:9 rwm",    // urandom
    "c 5:0 rwm",    // tty
    "c 5:2 rwm",    // ptmx
    "c 136:* rwm",  // pts
    "c 10:200 rwm", // tun
];

/// The CFS period `nsbox unshare --cpus` uses, in microseconds (the
/// kernel's default, and runc's).
pub const CPU_PERIOD_US: u64 = 100_000;

/// The CFS quota for `cpus` CPUs per period. The kernel rejects quotas
/// under 1 ms, and nsbox lets it say so rather than round a request.
pub fn cpu_quota_us(cpus: f64) -> u64 {
    (cpus * CPU_PERIOD_US as f64).round() as u64
}

/// The controllers `resources` needs.
fn controllers(r: &Resources) -> Vec<&'static str> {
    let mut out = Vec::new();
    if r.memory_limit.is_some() || r.memory_reservation.is_some() {
        out.push("memory");
    }
    if r.pids_limit.is_some() {
        out.push("pids");
    }
    if r.cpu_shares.is_some() || r.cpu_quota.is_some() || r.cpu_period.is_some() {
        out.push("cpu");
    }
    if !r.devices.is_empty() {
        out.push("devices");
    }
    out
}

/// Whether the container gets cgroups of its own.
pub fn wanted(config: &Config) -> bool {
    !config.resources.is_empty() || config.cgroups_path.is_some()
}

/// This process's cgroup in the v1 hierarchy holding `controller` (or v2's).
fn own_cgroup(controller: &str) -> String {
    let text = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    super::membership(&text)
        .into_iter()
        .find(|(names, _)| {
            if controller.is_empty() {
                names.is_empty()
            } else {
                names.iter().any(|n| n == controller)
            }
        })
        .map_or_else(|| "/".into(), |(_, path)| path)
}

/// Where a container's cgroup is made.
#[derive(Debug, Clone, Copy)]
pub enum Place<'a> {
    /// At `linux.cgroupsPath`, or fresh as `nsbox-oci-<id>` below the
    /// runtime's own cgroup (an OCI container).
    Config { id: &'a str },
    /// Fresh at the root of each hierarchy, under this name (`nsbox
    /// unshare`'s, see `unique_name`: on v2 a cgroup that holds processes,
    /// as the runtime's own does, cannot hand controllers down, the root can).
    FreshAtRoot(&'a str),
}

/// Creates the container's cgroups and writes its resources; on failure
/// removes what it made.
pub fn create(config: &Config, place: Place) -> Result<Vec<CgroupDir>, CgroupError> {
    create_in(&Layout::detect()?, config, place)
}

pub(crate) fn create_in(layout: &Layout, config: &Config, place: Place) -> Result<Vec<CgroupDir>, CgroupError> {
    let mut wanted = controllers(&config.resources);
    if wanted.is_empty() {
        // A path without resources: the container is still grouped (for
        // `kill --all` and the engines' accounting).
        wanted.push("pids");
    }
    let mut dirs: Vec<CgroupDir> = Vec::new();
    let made = (|| {
        match layout {
            Layout::V2(root) => {
                if config.resources.devices.iter().any(|_| true) {
                    return Err(CgroupError::Unsupported(
                        "linux.resources.devices on cgroup v2 (an eBPF device program, nsbox issue 16)",
                    ));
                }
                let dir = make_dir(root, || own_cgroup(""), config, place, &mut dirs)?;
                super::v2::enable_controllers_for_oci(root, &dir, &wanted)?;
                apply_v2(&dir, &config.resources)?;
            }
            Layout::V1(_) => {
                for controller in &wanted {
                    let root = layout.hierarchy_of(controller)?;
                    if dirs.iter().any(|d| d.path.starts_with(root)) {
                        continue;
                    }
                    let dir = make_dir(root, || own_cgroup(controller), config, place, &mut dirs)?;
                    apply_v1(&dir, controller, &config.resources)?;
                    if *controller == "devices" {
                        allow_config_devices(&dir, &config.devices)?;
                    }
                }
            }
        }
        Ok(())
    })();
    match made {
        Ok(()) => Ok(dirs),
        Err(e) => {
            let _ = remove(&dirs);
            Err(e)
        }
    }
}

fn make_dir(
    root: &Path,
    own: impl Fn() -> String,
    config: &Config,
    place: Place,
    dirs: &mut Vec<CgroupDir>,
) -> Result<PathBuf, CgroupError> {
    let fresh = match (place, &config.cgroups_path) {
        (Place::FreshAtRoot(name), _) => Some(PathBuf::from(name)),
        (Place::Config { id }, None) => Some(Path::new(&own()).join(format!("nsbox-oci-{id}"))),
        (Place::Config { .. }, Some(_)) => None,
    };
    let relative = match (&config.cgroups_path, fresh) {
        // Its own name, made fresh: an existing one is another's.
        (_, Some(relative)) => {
            let path = root.join(relative.strip_prefix("/").unwrap_or(&relative));
            std::fs::create_dir(&path).map_err(|source| CgroupError::Create {
                path: path.clone(),
                source,
            })?;
            dirs.push(CgroupDir {
                path: path.clone(),
                made: vec![path.clone()],
            });
            return Ok(path);
        }
        (Some(p), None) if p.is_absolute() => p.clone(),
        (Some(p), None) => Path::new(&own()).join(p),
        (None, None) => unreachable!("no path is a fresh one"),
    };
    let path = root.join(relative.strip_prefix("/").unwrap_or(&relative));
    if !path.starts_with(root) || path.components().any(|c| matches!(c, std::path::Component::ParentDir)) {
        return Err(CgroupError::Unsupported("linux.cgroupsPath with '..'"));
    }
    let mut made = Vec::new();
    let mut missing: Vec<&Path> = path.ancestors().take_while(|p| !p.exists()).collect();
    missing.reverse();
    for dir in missing {
        std::fs::create_dir(dir).map_err(|source| CgroupError::Create {
            path: dir.into(),
            source,
        })?;
        made.push(dir.to_path_buf());
    }
    dirs.push(CgroupDir {
        path: path.clone(),
        made,
    });
    Ok(path)
}

fn apply_v1(dir: &Path, controller: &str, r: &Resources) -> Result<(), CgroupError> {
    match controller {
        "memory" => {
            if let Some(v) = r.memory_limit {
                write_file(dir, "memory.limit_in_bytes", &v.to_string())?;
            }
            if let Some(v) = r.memory_reservation {
                write_file(dir, "memory.soft_limit_in_bytes", &v.to_string())?;
            }
        }
        "pids" => {
            if let Some(v) = r.pids_limit {
                write_file(dir, "pids.max", &pids_value(v))?;
            }
        }
        "cpu" => {
            if let Some(v) = r.cpu_shares {
                write_file(dir, "cpu.shares", &v.to_string())?;
            }
            if let Some(v) = r.cpu_period {
                write_file(dir, "cpu.cfs_period_us", &v.to_string())?;
            }
            if let Some(v) = r.cpu_quota {
                write_file(dir, "cpu.cfs_quota_us", &v.to_string())?;
            }
        }
        "devices" => apply_devices_v1(dir, &r.devices)?,
        _ => {}
    }
    Ok(())
}

/// Everything denied, then the config's rules in order, then the defaults.
fn apply_devices_v1(dir: &Path, rules: &[DeviceRule]) -> Result<(), CgroupError> {
    write_file(dir, "devices.deny", "a")?;
    for rule in rules {
        let file = if rule.allow { "devices.allow" } else { "devices.deny" };
        if rule.kind == 'a' && !rule.allow {
            continue; // denied already
        }
        write_file(dir, file, &rule.v1_line())?;
    }
    for line in DEFAULT_ALLOWED {
        write_file(dir, "devices.allow", line)?;
    }
    Ok(())
}

/// The devices `linux.devices` makes are usable, as runc adds them to the
/// device rules.
fn allow_config_devices(dir: &Path, devices: &[crate::config::Device]) -> Result<(), CgroupError> {
    for d in devices.iter().filter(|d| d.kind != 'p') {
        write_file(dir, "devices.allow", &format!("{} {}:{} rwm", d.kind, d.major, d.minor))?;
    }
    Ok(())
}

fn pids_value(v: i64) -> String {
    if v <= 0 {
        "max".into()
    } else {
        v.to_string()
    }
}

fn apply_v2(dir: &Path, r: &Resources) -> Result<(), CgroupError> {
    if let Some(v) = r.memory_limit {
        write_file(dir, "memory.max", &if v < 0 { "max".into() } else { v.to_string() })?;
    }
    if let Some(v) = r.memory_reservation {
        write_file(dir, "memory.low", &v.to_string())?;
    }
    if let Some(v) = r.pids_limit {
        write_file(dir, "pids.max", &pids_value(v))?;
    }
    if let Some(shares) = r.cpu_shares {
        // runc's conversion of v1 shares (2..262144) to v2 weight (1..10000).
        let weight = 1 + (shares.clamp(2, 262_144) - 2) * 9999 / 262_142;
        write_file(dir, "cpu.weight", &weight.to_string())?;
    }
    if r.cpu_quota.is_some() || r.cpu_period.is_some() {
        let quota = r
            .cpu_quota
            .filter(|q| *q > 0)
            .map_or("max".to_string(), |q| q.to_string());
        write_file(dir, "cpu.max", &format!("{quota} {}", r.cpu_period.unwrap_or(100_000)))?;
    }
    Ok(())
}

/// The container's cgroup opened for `clone3(CLONE_INTO_CGROUP)`: a child
/// born in it needs no write to `cgroup.procs` and never runs outside it.
/// Only a v2 cgroup can be entered so: None on v1.
pub fn clone_target(dirs: &[CgroupDir]) -> Option<std::fs::File> {
    match dirs {
        [dir] if super::is_cgroup2(&dir.path) => std::fs::File::open(&dir.path).ok(),
        _ => None,
    }
}

/// How many processes the kernel's OOM killer has killed in these cgroups
/// (`oom_kill` of v1's memory.oom_control, v2's memory.events): the truth
/// about a container killed by SIGKILL under a memory limit.
pub fn oom_kills(dirs: &[CgroupDir]) -> u64 {
    dirs.iter()
        .flat_map(|dir| ["memory.oom_control", "memory.events"].map(|f| dir.path.join(f)))
        .filter_map(|file| std::fs::read_to_string(file).ok())
        .flat_map(|text| {
            text.lines()
                .filter_map(|l| l.strip_prefix("oom_kill ")?.trim().parse::<u64>().ok())
                .collect::<Vec<_>>()
        })
        .sum()
}

/// Puts process `pid` into every directory.
pub fn add(dirs: &[CgroupDir], pid: i32) -> Result<(), CgroupError> {
    for dir in dirs {
        write_file(&dir.path, "cgroup.procs", &pid.to_string())?;
    }
    Ok(())
}

/// The PIDs in the container's cgroups.
pub fn pids(dirs: &[CgroupDir]) -> Vec<i32> {
    let mut out: Vec<i32> = dirs
        .iter()
        .filter_map(|d| std::fs::read_to_string(d.path.join("cgroup.procs")).ok())
        .flat_map(|t| t.lines().filter_map(|l| l.trim().parse().ok()).collect::<Vec<i32>>())
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Removes the directories this runtime made, deepest first; tries all,
/// returns the first error. A parent it made along a `cgroupsPath` may have
/// gained other containers' cgroups since: then it stays.
pub fn remove(dirs: &[CgroupDir]) -> Result<(), CgroupError> {
    let mut first = None;
    for dir in dirs.iter().rev() {
        for made in dir.made.iter().rev() {
            if *made == dir.path {
                if let Err(e) = remove_dir_patiently(made) {
                    first.get_or_insert(e);
                }
            } else {
                let _ = std::fs::remove_dir(made);
            }
        }
    }
    first.map_or(Ok(()), Err)
}
