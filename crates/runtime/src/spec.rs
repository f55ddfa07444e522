//! What to run and how to isolate it, checked before anything is created.

use nsbox_ns::{IdMap, NsKind, NsSet};
use std::path::{Component, Path, PathBuf};
use std::str::FromStr;

/// Where the container's `/` comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootChoice {
    /// A read-only view of the host's system directories on a fresh tmpfs.
    HostView,
    /// `pivot_root` into this directory.
    Dir(PathBuf),
}

/// A bind mount from the host into the container: `SRC:DST[:ro]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind {
    pub source: PathBuf,
    pub target: PathBuf,
    pub readonly: bool,
}

/// Resource limits applied through cgroups.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Limits {
    /// Memory in bytes.
    pub memory: Option<u64>,
    /// Maximum number of tasks.
    pub pids: Option<u64>,
    /// CPU bandwidth in CPUs (0.5 = half a CPU).
    pub cpus: Option<f64>,
}

impl Limits {
    pub fn is_empty(&self) -> bool {
        self.memory.is_none() && self.pids.is_none() && self.cpus.is_none()
    }
}

/// Clock offsets of a new time namespace, in seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeOffsets {
    pub monotonic: i64,
    pub boottime: i64,
}

/// Everything `nsbox unshare` needs to run one command.
#[derive(Debug, Clone)]
pub struct Spec {
    pub namespaces: NsSet,
    pub argv: Vec<String>,
    /// Variables set on top of the inherited environment.
    pub env: Vec<(String, String)>,
    pub hostname: Option<String>,
    pub domainname: Option<String>,
    pub root: RootChoice,
    pub binds: Vec<Bind>,
    pub tmpfs: Vec<PathBuf>,
    pub workdir: Option<PathBuf>,
    /// `--user UID[:GID]`: who the command runs as inside.
    pub user: Option<(u32, Option<u32>)>,
    pub uid_maps: Vec<IdMap>,
    pub gid_maps: Vec<IdMap>,
    pub limits: Limits,
    pub time_offsets: Option<TimeOffsets>,
    /// Bring `lo` up in a new network namespace.
    pub loopback_up: bool,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SpecError {
    #[error("no command given")]
    NoCommand,
    #[error("rootfs {0}: No such file or directory")]
    RootfsMissing(PathBuf),
    #[error("rootfs {0}: Not a directory")]
    RootfsNotDir(PathBuf),
    #[error("bind source {0}: No such file or directory")]
    BindSourceMissing(PathBuf),
    #[error("malformed bind {0:?}: expected SRC:DST or SRC:DST:ro with absolute DST")]
    MalformedBind(String),
    #[error("{what} {path}: must be an absolute path without '..'")]
    BadTarget { what: &'static str, path: PathBuf },
    #[error("{option} needs a new {kind} namespace (add {kind} to --ns)")]
    NeedsNamespace { option: &'static str, kind: NsKind },
    #[error("malformed {what} {value:?}: {why}")]
    Malformed {
        what: &'static str,
        value: String,
        why: &'static str,
    },
}

impl FromStr for Bind {
    type Err = SpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || SpecError::MalformedBind(s.to_string());
        let parts: Vec<&str> = s.split(':').collect();
        let (src, dst, readonly) = match parts.as_slice() {
            [src, dst] => (src, dst, false),
            [src, dst, "ro"] => (src, dst, true),
            [src, dst, "rw"] => (src, dst, false),
            _ => return Err(bad()),
        };
        if src.is_empty() || !is_clean_absolute(Path::new(dst)) {
            return Err(bad());
        }
        Ok(Bind {
            source: PathBuf::from(src),
            target: PathBuf::from(dst),
            readonly,
        })
    }
}

/// Parses a size such as `64M`, `1G`, `512k` or `1048576` (binary units, as
/// docker and runc read them).
pub fn parse_size(value: &str) -> Result<u64, SpecError> {
    let bad = |why| SpecError::Malformed {
        what: "size",
        value: value.to_string(),
        why,
    };
    let v = value.trim();
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (digits, unit) = v.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| bad("expected a number with an optional unit k, m, g"))?;
    let mult: u64 = match unit.to_ascii_lowercase().trim_end_matches(['b', 'i']) {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        _ => return Err(bad("unknown unit; use k, m, g or t")),
    };
    n.checked_mul(mult).ok_or_else(|| bad("too large"))
}

/// Parses `--time-offset monotonic=SECS,boottime=SECS` (either part may be left out).
pub fn parse_time_offsets(value: &str) -> Result<TimeOffsets, SpecError> {
    let bad = |why| SpecError::Malformed {
        what: "time offset",
        value: value.to_string(),
        why,
    };
    let mut offsets = TimeOffsets::default();
    let mut given = Vec::new();
    for part in value.split(',').filter(|p| !p.is_empty()) {
        let (clock, secs) = part.split_once('=').ok_or_else(|| bad("expected CLOCK=SECS"))?;
        let secs: i64 = secs.trim().parse().map_err(|_| bad("seconds must be an integer"))?;
        let clock = clock.trim();
        if given.contains(&clock) {
            return Err(bad("a clock is given twice"));
        }
        given.push(clock);
        match clock {
            "monotonic" => offsets.monotonic = secs,
            "boottime" => offsets.boottime = secs,
            _ => return Err(bad("clock must be monotonic or boottime")),
        }
    }
    Ok(offsets)
}

/// Parses `--user UID[:GID]`.
pub fn parse_user(value: &str) -> Result<(u32, Option<u32>), SpecError> {
    let bad = || SpecError::Malformed {
        what: "user",
        value: value.to_string(),
        why: "expected UID or UID:GID",
    };
    let (uid, gid) = match value.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (value, None),
    };
    // (uid_t)-1 means "leave unchanged" to setresuid and setresgid: the
    // command would keep running as root. It is nobody's id.
    let id = |text: &str| match text.parse::<u32>() {
        Ok(u32::MAX) => Err(SpecError::Malformed {
            what: "user",
            value: value.to_string(),
            why: "4294967295 is (uid_t)-1, which means \"unchanged\" to the kernel, not an id",
        }),
        Ok(id) => Ok(id),
        Err(_) => Err(bad()),
    };
    let uid = id(uid)?;
    let gid = gid.map(id).transpose()?;
    Ok((uid, gid))
}

/// The least memory limit taken: below it a container cannot even start
/// (Docker's minimum, which users know).
pub const MIN_MEMORY: u64 = 6 << 20;

/// Parses `--memory`: a size (see [`parse_size`]) of at least [`MIN_MEMORY`].
pub fn parse_memory(value: &str) -> Result<u64, SpecError> {
    let size = parse_size(value)?;
    if size < MIN_MEMORY {
        return Err(SpecError::Malformed {
            what: "memory limit",
            value: value.to_string(),
            why: "below 6M, the least in which a container can start",
        });
    }
    Ok(size)
}

/// Parses `--pids`: at least 1 (0 would let not even the command run).
pub fn parse_pids(value: &str) -> Result<u64, SpecError> {
    // Digits only: "+5" or " 5" are typing mistakes, not counts.
    let digits = !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit());
    match value.parse::<u64>() {
        Ok(n) if digits && n >= 1 => Ok(n),
        _ => Err(SpecError::Malformed {
            what: "pids limit",
            value: value.to_string(),
            why: "expected a whole number of processes, 1 or more",
        }),
    }
}

/// The range of `--cpus` the kernel can express: CFS quotas of a 100 ms
/// period from 1 ms (0.01 CPU) up to its largest quota (about 175 000 CPUs
/// at that period; capped lower, at 100 000).
pub const CPUS_RANGE: std::ops::RangeInclusive<f64> = 0.01..=100_000.0;

/// Parses `--cpus`: a number of CPUs, such as 0.5 or 2, in [`CPUS_RANGE`].
pub fn parse_cpus(value: &str) -> Result<f64, SpecError> {
    match value.trim().parse::<f64>() {
        Ok(cpus) if cpus.is_finite() && CPUS_RANGE.contains(&cpus) => Ok(cpus),
        _ => Err(SpecError::Malformed {
            what: "cpus",
            value: value.into(),
            why: "expected a number of CPUs from 0.01 to 100000, such as 0.5",
        }),
    }
}

/// Parses `--env K=V`.
pub fn parse_env(value: &str) -> Result<(String, String), SpecError> {
    match value.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(SpecError::Malformed {
            what: "environment variable",
            value: value.into(),
            why: "expected KEY=VALUE",
        }),
    }
}

pub(crate) fn is_clean_absolute(p: &Path) -> bool {
    p.is_absolute() && p.components().all(|c| !matches!(c, Component::ParentDir))
}

impl Spec {
    /// A spec that runs `argv` with the default namespaces: all but user
    /// and time when root; as another user, all but time, with a user
    /// namespace where that user is root.
    pub fn new(argv: Vec<String>) -> Self {
        let mut namespaces = NsSet::all();
        namespaces.remove(NsKind::Time);
        if rustix::process::geteuid().is_root() {
            namespaces.remove(NsKind::User);
        }
        Spec {
            namespaces,
            argv,
            env: Vec::new(),
            hostname: None,
            domainname: None,
            root: RootChoice::HostView,
            binds: Vec::new(),
            tmpfs: Vec::new(),
            workdir: None,
            user: None,
            uid_maps: Vec::new(),
            gid_maps: Vec::new(),
            limits: Limits::default(),
            time_offsets: None,
            loopback_up: false,
        }
    }

    pub fn has(&self, kind: NsKind) -> bool {
        self.namespaces.contains(kind)
    }

    /// Whether a PID 1 of nsbox's own stands between nsbox and the command:
    /// a new pid namespace needs an init that reaps, and a new time
    /// namespace applies only to children, so the command must be one.
    pub fn needs_init(&self) -> bool {
        self.has(NsKind::Pid) || self.has(NsKind::Time)
    }

    /// Checks everything that can be checked before a kernel object exists.
    /// Fills in default id maps for a new user namespace.
    pub fn validate(&mut self) -> Result<(), SpecError> {
        if self.argv.is_empty() {
            return Err(SpecError::NoCommand);
        }
        let need = |ok: bool, option, kind| {
            if ok {
                Ok(())
            } else {
                Err(SpecError::NeedsNamespace { option, kind })
            }
        };
        let mnt = self.has(NsKind::Mnt);
        need(mnt || self.root == RootChoice::HostView, "--rootfs", NsKind::Mnt)?;
        need(mnt || self.binds.is_empty(), "--bind", NsKind::Mnt)?;
        need(mnt || self.tmpfs.is_empty(), "--tmpfs", NsKind::Mnt)?;
        need(
            self.has(NsKind::Uts) || self.hostname.is_none(),
            "--hostname",
            NsKind::Uts,
        )?;
        need(
            self.has(NsKind::Uts) || self.domainname.is_none(),
            "--domainname",
            NsKind::Uts,
        )?;
        need(
            self.has(NsKind::Time) || self.time_offsets.is_none(),
            "--time-offset",
            NsKind::Time,
        )?;
        // The kernel's limit (__NEW_UTS_LEN), checked before anything is made.
        for (what, name) in [("hostname", &self.hostname), ("domainname", &self.domainname)] {
            if name.as_ref().is_some_and(|n| n.len() > 64 || n.is_empty()) {
                let value = name.clone().unwrap_or_default();
                return Err(SpecError::Malformed {
                    what,
                    value,
                    why: "must be 1 to 64 bytes",
                });
            }
        }
        need(self.has(NsKind::Net) || !self.loopback_up, "--lo-up", NsKind::Net)?;
        let maps = !self.uid_maps.is_empty() || !self.gid_maps.is_empty();
        need(self.has(NsKind::User) || !maps, "--uid-map/--gid-map", NsKind::User)?;
        if let RootChoice::Dir(dir) = &self.root {
            match std::fs::metadata(dir) {
                Err(_) => return Err(SpecError::RootfsMissing(dir.clone())),
                Ok(m) if !m.is_dir() => return Err(SpecError::RootfsNotDir(dir.clone())),
                Ok(_) => {}
            }
        }
        for bind in &self.binds {
            if std::fs::symlink_metadata(&bind.source).is_err() {
                return Err(SpecError::BindSourceMissing(bind.source.clone()));
            }
        }
        for path in &self.tmpfs {
            if !is_clean_absolute(path) {
                return Err(SpecError::BadTarget {
                    what: "tmpfs target",
                    path: path.clone(),
                });
            }
        }
        if let Some(dir) = &self.workdir {
            if !dir.is_absolute() {
                return Err(SpecError::BadTarget {
                    what: "workdir",
                    path: dir.clone(),
                });
            }
        }
        if self.has(NsKind::User) {
            self.default_id_maps();
        }
        Ok(())
    }

    /// Maps not given are filled in: as root, ids inside are the ids
    /// outside; as another user, root inside is that user (as `unshare -r`).
    fn default_id_maps(&mut self) {
        let root = rustix::process::geteuid().is_root();
        if self.uid_maps.is_empty() {
            let own = rustix::process::geteuid().as_raw();
            self.uid_maps.push(default_map(root, own));
        }
        if self.gid_maps.is_empty() {
            let own = rustix::process::getegid().as_raw();
            self.gid_maps.push(default_map(root, own));
        }
    }

    /// `--map-root-user`: root inside is the caller outside.
    pub fn map_root_user(&mut self) {
        let uid = rustix::process::geteuid().as_raw();
        let gid = rustix::process::getegid().as_raw();
        self.uid_maps = vec![IdMap {
            inside: 0,
            outside: uid,
            count: 1,
        }];
        self.gid_maps = vec![IdMap {
            inside: 0,
            outside: gid,
            count: 1,
        }];
    }
}

fn default_map(root: bool, own: u32) -> IdMap {
    if root {
        IdMap {
            inside: 0,
            outside: 0,
            count: u32::MAX,
        }
    } else {
        IdMap {
            inside: 0,
            outside: own,
            count: 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_parse() {
        let b: Bind = "/src:/dst:ro".parse().unwrap();
        assert_eq!(
            b,
            Bind {
                source: "/src".into(),
                target: "/dst".into(),
                readonly: true
            }
        );
        assert!(!"/a:/b".parse::<Bind>().unwrap().readonly);
        for bad in ["/a", "/a:b", "/a:/b:rx", ":/b", "/a:/../b", "/a:/b:ro:x"] {
            assert!(bad.parse::<Bind>().is_err(), "{bad}");
        }
    }

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("64M").unwrap(), 64 << 20);
        assert_eq!(parse_size("1g").unwrap(), 1 << 30);
        assert_eq!(parse_size("512KiB").unwrap(), 512 << 10);
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert!(parse_size("12X").is_err());
        assert!(parse_size("M").is_err());
        assert!(parse_size("99999999999999T").is_err());
    }

    #[test]
    fn limits_the_kernel_cannot_apply_are_refused() {
        assert_eq!(parse_memory("16M").unwrap(), 16 << 20);
        for bad in ["0", "1", "5m"] {
            assert!(parse_memory(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_pids("64").unwrap(), 64);
        for bad in ["0", "-1", "x"] {
            assert!(parse_pids(bad).is_err(), "{bad}");
        }
        for bad in ["0.000001", "1e9", "0"] {
            assert!(parse_cpus(bad).is_err(), "{bad}");
        }
        assert!(parse_time_offsets("monotonic=1,monotonic=2").is_err());
    }

    #[test]
    fn minus_one_is_no_user_or_group() {
        assert_eq!(parse_user("1000:1000").unwrap(), (1000, Some(1000)));
        assert_eq!(parse_user("4294967294").unwrap(), (4294967294, None));
        for bad in ["4294967295", "1000:4294967295", "4294967295:0", "-1", "1000:-1"] {
            assert!(parse_user(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cpus_must_be_positive() {
        assert_eq!(parse_cpus("0.5").unwrap(), 0.5);
        for bad in ["0", "-1", "nan", "inf", "x"] {
            assert!(parse_cpus(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn time_offsets_parse() {
        let t = parse_time_offsets("monotonic=86400,boottime=-5").unwrap();
        assert_eq!(
            t,
            TimeOffsets {
                monotonic: 86400,
                boottime: -5
            }
        );
        assert!(parse_time_offsets("realtime=1").is_err());
        assert!(parse_time_offsets("monotonic").is_err());
    }

    #[test]
    fn options_need_their_namespace() {
        let mut spec = Spec::new(vec!["true".into()]);
        spec.namespaces = NsSet::parse_list("net").unwrap();
        spec.hostname = Some("x".into());
        assert_eq!(
            spec.validate(),
            Err(SpecError::NeedsNamespace {
                option: "--hostname",
                kind: NsKind::Uts
            })
        );
    }

    #[test]
    fn rootfs_must_be_a_directory() {
        let file = tempfile::NamedTempFile::new().unwrap();
        let mut spec = Spec::new(vec!["true".into()]);
        spec.root = RootChoice::Dir(file.path().into());
        assert!(matches!(spec.validate(), Err(SpecError::RootfsNotDir(_))));
        spec.root = RootChoice::Dir("/nonexistent/nsbox-root".into());
        assert!(matches!(spec.validate(), Err(SpecError::RootfsMissing(_))));
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn sizes_scale_by_their_unit(n in 0u64..1 << 30, unit in prop::sample::select(vec![("", 1u64), ("k", 1 << 10), ("M", 1 << 20), ("g", 1 << 30)])) {
            prop_assert_eq!(parse_size(&format!("{n}{}", unit.0)).unwrap(), n * unit.1);
        }

        #[test]
        fn binds_round_trip(src in "/[a-z]{1,8}(/[a-z]{1,8}){0,2}", dst in "/[a-z]{1,8}(/[a-z]{1,8}){0,2}", ro: bool) {
            let text = format!("{src}:{dst}{}", if ro { ":ro" } else { "" });
            let bind: Bind = text.parse().unwrap();
            prop_assert_eq!(bind, Bind { source: src.into(), target: dst.into(), readonly: ro });
        }

        #[test]
        fn parsers_never_panic(text in ".{0,40}") {
            let _ = text.parse::<Bind>();
            let _ = parse_size(&text);
            let _ = parse_time_offsets(&text);
            let _ = parse_user(&text);
        }
    }
}
