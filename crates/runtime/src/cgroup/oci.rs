//! An OCI container's cgroups: at `linux.cgroupsPath` (absolute: from each
//! hierarchy's root; relative: below the runtime's own cgroup, as runc reads
//! it; none: `nsbox-oci-<id>-<tag>` below the runtime's own), in the hierarchies its
//! `linux.resources` need, with those resources written. What it made is
//! recorded, so that `delete` removes exactly that and never a cgroup that
//! was there before (an engine may make the cgroup in advance).

use super::{remove_dir_patiently, resources, write_file, CgroupError, Layout};
use crate::config::{Config, DeviceRule};
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

/// This process's cgroup in the v1 hierarchy holding `controller` (or v2's).
/// (`membership`: this process's /proc/self/cgroup, read once per plan.)
fn own_cgroup(membership: &[(Vec<String>, String)], controller: &str) -> String {
    membership
        .iter()
        .find(|(names, _)| {
            if controller.is_empty() {
                names.is_empty()
            } else {
                names.iter().any(|n| n == controller)
            }
        })
        .map_or_else(|| "/".into(), |(_, path)| path.clone())
}

/// Where a container's cgroup is made.
#[derive(Debug, Clone, Copy)]
pub enum Place<'a> {
    /// At `linux.cgroupsPath`, or fresh as `nsbox-oci-<id>-<tag>` below
    /// the runtime's own cgroup (an OCI container; the tag tells apart
    /// containers of one id under different `--root`s, such as two labs'
    /// nodes of one name).
    Config { id: &'a str, tag: &'a str },
    /// Fresh at the root of each hierarchy, under this name (`nsbox
    /// unshare`'s, see `unique_name`: on v2 a cgroup that holds processes,
    /// as the runtime's own does, cannot hand controllers down, the root can).
    FreshAtRoot(&'a str),
}

impl Place<'_> {
    /// Whether the container's directory is a fresh name of nsbox's (it
    /// must not exist yet), not a path the config gave.
    fn fresh(&self, config: &Config) -> bool {
        !matches!((self, &config.cgroups_path), (Place::Config { .. }, Some(_)))
    }
}

/// A container's cgroups before they exist: each directory, what of it is
/// to be made, and the controllers written there. Recorded before it is
/// made, so that a runtime killed half-way leaves a record of all of it.
#[derive(Debug)]
pub struct Plan {
    layout: Layout,
    dirs: Vec<(CgroupDir, Vec<String>)>,
    fresh: bool,
}

impl Plan {
    pub fn dirs(&self) -> Vec<CgroupDir> {
        self.dirs.iter().map(|(d, _)| d.clone()).collect()
    }
}

/// Works out the container's cgroups (nothing is made), refusing what the
/// host cannot take.
pub fn plan(config: &Config, place: Place) -> Result<Plan, CgroupError> {
    plan_in(Layout::detect()?, config, place)
}

pub(crate) fn plan_in(layout: Layout, config: &Config, place: Place) -> Result<Plan, CgroupError> {
    let r = &config.resources;
    let mut dirs = Vec::new();
    let membership = super::membership(&std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default());
    match &layout {
        Layout::V2(root) => {
            resources::check_v2(r)?;
            let dir = dir_in(root, &own_cgroup(&membership, ""), config, place)?;
            dirs.push((dir, resources::v2_controllers(r)));
        }
        Layout::V1(hierarchies) => {
            resources::check_v1(r)?;
            let needed = r.v1_controllers();
            for controller in &needed {
                layout.hierarchy_of(controller)?;
            }
            // An OCI container is in every hierarchy, as runc's is (the
            // freezer pauses it, cpuacct counts it, ...); `nsbox unshare`
            // only in those its limits need (each costs a cgroup.procs
            // write), or pids alone to be grouped.
            let every = matches!(place, Place::Config { .. });
            let grouped_by = if needed.is_empty() { vec!["pids"] } else { needed };
            for (root, names) in hierarchies {
                if !names.iter().any(|n| every || grouped_by.contains(&n.as_str())) {
                    continue;
                }
                let dir = dir_in(root, &own_cgroup(&membership, &names[0]), config, place)?;
                dirs.push((dir, names.clone()));
            }
        }
    }
    let fresh = place.fresh(config);
    Ok(Plan { layout, dirs, fresh })
}

/// Makes the planned cgroups and writes the resources; on failure removes
/// what it made.
pub fn make(plan: &Plan, config: &Config) -> Result<(), CgroupError> {
    let r = &config.resources;
    let mut made: Vec<CgroupDir> = Vec::new();
    let result = (|| {
        for (dir, controllers) in &plan.dirs {
            let mut this = CgroupDir {
                path: dir.path.clone(),
                made: Vec::new(),
            };
            for path in &dir.made {
                match std::fs::create_dir(path) {
                    // A parent along a cgroupsPath made meanwhile by another.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && !plan.fresh && *path != dir.path => {}
                    Err(source) => {
                        made.push(this);
                        return Err(CgroupError::Create {
                            path: path.clone(),
                            source,
                        });
                    }
                    Ok(()) => this.made.push(path.clone()),
                }
                // A v1 cpuset cgroup starts with empty lists and takes no
                // task, nor can its children get lists: each one made along
                // a cgroupsPath takes its parent's (the container's own
                // directory gets the spec's below).
                let made_now = this.made.last() == Some(path);
                if made_now && *path != dir.path && controllers.iter().any(|c| c == "cpuset") {
                    if let Layout::V1(_) = plan.layout {
                        if let Err(e) = resources::apply_v1("cpuset", path, &Default::default()) {
                            made.push(this);
                            return Err(e);
                        }
                    }
                }
            }
            made.push(this);
            match &plan.layout {
                Layout::V2(root) => {
                    super::v2::enable_controllers_for_oci(root, &dir.path, controllers)?;
                    resources::apply_v2(&dir.path, r)?;
                    if !r.devices.is_empty() {
                        attach_device_filter(&dir.path, &device_rules(config))?;
                    }
                }
                Layout::V1(_) => {
                    for name in controllers {
                        resources::apply_v1(name, &dir.path, r)?;
                        if name == "devices" && !r.devices.is_empty() {
                            apply_devices_v1(&dir.path, &r.devices)?;
                            allow_config_devices(&dir.path, &config.devices)?;
                        }
                    }
                }
            }
        }
        Ok(())
    })();
    if result.is_err() {
        // Only what this call made: a fresh name that existed is another's.
        let _ = remove(&made);
    }
    result
}

/// Plans and makes at once (no record to write in between).
pub fn create(config: &Config, place: Place) -> Result<Vec<CgroupDir>, CgroupError> {
    let plan = plan(config, place)?;
    make(&plan, config)?;
    Ok(plan.dirs())
}

#[cfg(test)]
pub(crate) fn create_in(layout: &Layout, config: &Config, place: Place) -> Result<Vec<CgroupDir>, CgroupError> {
    let plan = plan_in(layout.clone(), config, place)?;
    make(&plan, config)?;
    Ok(plan.dirs())
}

/// The container's directory in the hierarchy at `root` (`own`: the
/// runtime's cgroup there), and which of its directories are to be made.
fn dir_in(root: &Path, own: &str, config: &Config, place: Place) -> Result<CgroupDir, CgroupError> {
    let relative = match (place, &config.cgroups_path) {
        (Place::FreshAtRoot(name), _) => PathBuf::from(name),
        (Place::Config { id, tag }, None) => Path::new(own).join(format!("nsbox-oci-{id}-{tag}")),
        (Place::Config { .. }, Some(p)) if p.is_absolute() => p.clone(),
        (Place::Config { .. }, Some(p)) => Path::new(own).join(p),
    };
    let path = root.join(relative.strip_prefix("/").unwrap_or(&relative));
    if !path.starts_with(root) || path.components().any(|c| matches!(c, std::path::Component::ParentDir)) {
        return Err(CgroupError::Unsupported("linux.cgroupsPath with '..'"));
    }
    let made = if place.fresh(config) {
        // Its own name, made fresh: an existing one is another's.
        vec![path.clone()]
    } else {
        let mut missing: Vec<PathBuf> = path
            .ancestors()
            .take_while(|p| !p.exists())
            .map(Path::to_path_buf)
            .collect();
        missing.reverse();
        missing
    };
    Ok(CgroupDir { path, made })
}

/// The device rules in the order v1 writes them: everything denied, the
/// config's rules, runc's default allowed devices, linux.devices' nodes.
fn device_rules(config: &Config) -> Vec<DeviceRule> {
    let line = |l: &str| {
        let mut parts = l.split_whitespace();
        let kind = parts.next()?.chars().next()?;
        let (major, minor) = parts.next()?.split_once(':')?;
        let number = |n: &str| n.parse::<i64>().ok();
        Some(DeviceRule {
            allow: true,
            kind,
            major: number(major),
            minor: number(minor),
            access: parts.next()?.to_string(),
        })
    };
    let mut rules = vec![DeviceRule {
        allow: false,
        kind: 'a',
        major: None,
        minor: None,
        access: "rwm".into(),
    }];
    rules.extend(config.resources.devices.iter().cloned());
    rules.extend(DEFAULT_ALLOWED.iter().filter_map(|l| line(l)));
    rules.extend(config.devices.iter().filter(|d| d.kind != 'p').map(|d| DeviceRule {
        allow: true,
        kind: d.kind,
        major: Some(i64::from(d.major)),
        minor: Some(i64::from(d.minor)),
        access: "rwm".into(),
    }));
    rules
}

/// v2: the rules as an eBPF device program attached to the cgroup.
pub(crate) fn attach_device_filter(dir: &Path, rules: &[DeviceRule]) -> Result<(), CgroupError> {
    let failed = |step: &'static str| {
        move |source: std::io::Error| CgroupError::Write {
            path: dir.to_path_buf(),
            value: step.into(),
            source,
        }
    };
    let program = nsbox_sys::bpf::load_device_program(&super::devices_bpf::program(rules))
        .map_err(failed("the device program (bpf BPF_PROG_LOAD)"))?;
    let cgroup = std::fs::File::open(dir).map_err(failed("opening the cgroup"))?;
    use std::os::fd::AsFd;
    nsbox_sys::bpf::attach_device_program(cgroup.as_fd(), program.as_fd())
        .map_err(failed("the device program (bpf BPF_PROG_ATTACH)"))
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
