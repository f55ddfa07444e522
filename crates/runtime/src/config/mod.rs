//! What to run: the one model of a container that the runtime's engine
//! executes. `config.json` (see [`oci`]) translates into it; every field of
//! the file is either carried here or refused by name while translating, so
//! the engine never meets a field it would silently ignore.

pub mod mount_options;
pub mod node;
pub mod oci;
pub mod resources;
pub mod seccomp;
pub mod unshare;

use nsbox_ns::idmap::IdMap;
use nsbox_ns::NsKind;
use rustix::mount::{MountFlags, MountPropagationFlags};
use std::collections::BTreeMap;
use std::path::PathBuf;

pub use oci::{from_bundle, ConfigError};
pub use resources::{DeviceRule, Resources};

/// A container, validated: paths are absolute, names known, values in range.
#[derive(Debug, Clone)]
pub struct Config {
    pub oci_version: String,
    /// The bundle directory, absolute.
    pub bundle: PathBuf,
    /// The root filesystem, absolute. With `host_view`, an empty staging
    /// directory where the root is assembled.
    pub rootfs: PathBuf,
    pub rootfs_readonly: bool,
    /// The root is a tmpfs with the host's /usr, /bin, /sbin, /lib*, /etc
    /// read-only and a writable /tmp (`nsbox unshare`'s host view; lab
    /// container nodes without a rootfs).
    pub host_view: bool,
    /// The propagation of the container's `/` (rprivate unless asked).
    pub rootfs_propagation: MountPropagationFlags,
    pub hostname: Option<String>,
    pub domainname: Option<String>,
    pub annotations: BTreeMap<String, String>,
    pub namespaces: Vec<Namespace>,
    pub uid_maps: Vec<IdMap>,
    pub gid_maps: Vec<IdMap>,
    /// In the order they are mounted.
    pub mounts: Vec<Mount>,
    /// `linux.devices`, made beside the default ones.
    pub devices: Vec<Device>,
    pub masked_paths: Vec<PathBuf>,
    pub readonly_paths: Vec<PathBuf>,
    pub sysctl: Vec<(String, String)>,
    pub process: Process,
    pub cgroups_path: Option<PathBuf>,
    pub resources: Resources,
    /// Clock offsets for a new time namespace: (monotonic, boottime) seconds.
    pub time_offsets: Option<(i64, i64)>,
    pub hooks: crate::hooks::Hooks,
    /// `linux.netDevices`: host links moved into the container's network
    /// namespace, (host name, name inside), sorted.
    pub net_devices: Vec<(String, String)>,
    /// `linux.personality`: the execution domain (PER_LINUX or PER_LINUX32).
    pub personality: Option<u32>,
    /// Bring `lo` up in the new network namespace (`nsbox unshare --lo-up`).
    pub loopback_up: bool,
    /// A fresh /dev gets /dev/shm as a sticky world-writable directory of
    /// its tmpfs, as bwrap makes it (`nsbox unshare`: a tmpfs of its own
    /// would cost a superblock made and torn down per start).
    pub dev_shm_dir: bool,
    /// `linux.memoryPolicy`: the NUMA policy set right before exec.
    pub memory_policy: Option<MemoryPolicy>,
    /// `linux.seccomp`: the syscall filter loaded before exec.
    pub seccomp: Option<seccomp::Seccomp>,
    /// The process joins a running container (`exec`): every namespace is
    /// joined and nothing of the container is built (no hostname, mounts,
    /// devices or sysctls: runc's "setns init").
    pub setns_only: bool,
    /// Which front end made the model: errors name what the user wrote
    /// (JSON paths for config.json, mounts by what they are for flags).
    pub origin: Origin,
}

/// set_mempolicy(2)'s arguments: the mode with its flags, and the node mask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryPolicy {
    /// MPOL_* | MPOL_F_* bits.
    pub mode: i32,
    /// Bit N of word N/64 for node N; empty for none.
    pub nodes: Vec<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    ConfigJson,
    UnshareFlags,
}

/// A namespace the container gets: a new one, or an existing one joined by path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespace {
    pub kind: NsKind,
    pub join: Option<PathBuf>,
}

impl Config {
    /// Whether the container has a namespace of `kind` of its own (new or joined).
    pub fn has(&self, kind: NsKind) -> bool {
        self.namespaces.iter().any(|n| n.kind == kind)
    }

    /// Whether the user namespace the container creates maps its root
    /// (uid and gid 0): only then does its process become root in it.
    pub fn maps_root(&self) -> bool {
        let has_zero = |maps: &[IdMap]| maps.iter().any(|m| m.inside == 0);
        has_zero(&self.uid_maps) && has_zero(&self.gid_maps)
    }

    /// Whether the container gets a new namespace of `kind`.
    pub fn creates(&self, kind: NsKind) -> bool {
        self.namespaces.iter().any(|n| n.kind == kind && n.join.is_none())
    }

    /// The namespaces joined by path, user first (joining it gives the
    /// rights to join the others), mount last (paths after it are the
    /// joined namespace's).
    pub fn joins(&self) -> Vec<(NsKind, &PathBuf)> {
        let rank = |k: NsKind| match k {
            NsKind::User => 0,
            NsKind::Mnt => 2,
            _ => 1,
        };
        let mut out: Vec<(NsKind, &PathBuf)> = self
            .namespaces
            .iter()
            .filter_map(|n| Some((n.kind, n.join.as_ref()?)))
            .collect();
        out.sort_by_key(|(k, _)| rank(*k));
        out
    }
}

/// One entry of `mounts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub destination: PathBuf,
    /// The file system type (`bind` for binds).
    pub fstype: String,
    pub source: Option<PathBuf>,
    pub kind: MountKind,
    pub flags: MountFlags,
    /// Flags that are cleared rather than set (`rw`, `suid`, ...): for a
    /// bind's remount, which must say every flag it keeps.
    pub cleared: MountFlags,
    /// Applied after the mount, recursively where the option says `r...`.
    pub propagation: Option<MountPropagationFlags>,
    /// `mount_setattr` bits set and cleared on the whole tree (`rro`, ...).
    pub recursive_set: u64,
    pub recursive_clear: u64,
    /// `idmap`/`ridmap` (bind mounts only): the mount's id maps.
    pub idmap: Option<IdMapping>,
    /// The options the file system itself reads (`mode=755,size=64k`).
    pub data: String,
}

/// An id-mapped mount's maps (the mount's own, or the container's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdMapping {
    pub uids: Vec<IdMap>,
    pub gids: Vec<IdMap>,
    /// `ridmap`: the submounts too.
    pub recursive: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MountKind {
    /// `bind` or `rbind` (recursive).
    Bind { recursive: bool },
    /// A new file system of the type given (`cgroup` is mounted by nsbox
    /// itself, see the init's mounts).
    New,
}

/// A device node of `linux.devices`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub path: PathBuf,
    /// `c`, `b` or `p` (`u` is `c`).
    pub kind: char,
    pub major: u32,
    pub minor: u32,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// The process the container runs.
#[derive(Debug, Clone, Default)]
pub struct Process {
    pub args: Vec<String>,
    /// Exactly the environment given (nothing is inherited from nsbox).
    pub env: Vec<String>,
    pub cwd: PathBuf,
    pub uid: u32,
    pub gid: u32,
    pub umask: Option<u32>,
    pub additional_gids: Vec<u32>,
    pub rlimits: Vec<Rlimit>,
    /// None: the capability sets are left as they are (all, as root).
    pub capabilities: Option<Capabilities>,
    pub no_new_privileges: bool,
    pub oom_score_adj: Option<i32>,
    /// nsbox's init in front of the program (PID 1: it reaps orphans and
    /// passes signals on); OCI bundles run their program as PID 1 itself.
    pub init: bool,
    /// With `init`: the file the program's exit status is written to when
    /// it ends (a host path, opened before pivot_root).
    pub exit_file: Option<PathBuf>,
    /// `ioPriority`: (class, level), class 1 realtime, 2 best effort, 3 idle.
    pub io_priority: Option<(u32, u32)>,
    /// `scheduler`: sched_setattr's attributes.
    pub scheduler: Option<nsbox_sys::SchedAttr>,
    /// `terminal`: a new pty is the process's controlling terminal and
    /// stdio; its master goes to the engine's console socket.
    pub terminal: bool,
    /// `consoleSize`: (rows, columns).
    pub console_size: Option<(u16, u16)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rlimit {
    /// The name as given (`RLIMIT_NOFILE`), for errors.
    pub name: &'static str,
    pub resource: rustix::process::Resource,
    pub soft: u64,
    pub hard: u64,
}

/// The five capability sets, as bit masks of capability numbers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Capabilities {
    pub bounding: u64,
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
    pub ambient: u64,
}
