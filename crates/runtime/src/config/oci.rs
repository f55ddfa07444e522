//! `config.json` → [`Config`]: runc's `specconv`. The file is read with the
//! `oci-spec` crate's types (through serde_path_to_error, so that a type
//! error names its JSON path and line:column); every field is then carried
//! into the model or refused by its path. Nothing here touches the kernel,
//! so bad input is refused before anything exists.

use super::mount_options::{self, Meaning, OptionError};
use super::{Capabilities, Config, Device, DeviceRule, Mount, MountKind, Namespace, Process, Resources, Rlimit};
use nsbox_ns::idmap::IdMap;
use nsbox_ns::NsKind;
use oci_spec::runtime::{
    LinuxCapabilities, LinuxDeviceType, LinuxIdMapping, LinuxNamespaceType, LinuxResources, PosixRlimitType, Spec,
};
use rustix::mount::{MountFlags, MountPropagationFlags};
use std::path::{Path, PathBuf};

/// Why a bundle cannot run. Each names the file and where in it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("bundle {}: {}", path.display(), nsbox_sys::errno::describe(source))]
    Bundle { path: PathBuf, source: std::io::Error },
    #[error("{}: {}", path.display(), nsbox_sys::errno::describe(source))]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{}:{line}:{column}: {}{message}", file.display(), at(json_path))]
    Json {
        file: PathBuf,
        json_path: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{}: {field}: {message}", file.display())]
    Field {
        file: PathBuf,
        field: String,
        message: String,
    },
}

fn at(json_path: &str) -> String {
    if json_path.is_empty() || json_path == "." {
        String::new()
    } else {
        format!("{json_path}: ")
    }
}

/// A field's refusal, before the file's name is added.
struct Refusal {
    field: String,
    message: String,
}

fn refuse(field: impl Into<String>, message: impl Into<String>) -> Refusal {
    Refusal {
        field: field.into(),
        message: message.into(),
    }
}

fn not_yet(field: &str, issue: u32) -> Refusal {
    refuse(
        field,
        format!("not supported yet (nsbox issue {issue}); remove it to run"),
    )
}

type Checked<T> = Result<T, Refusal>;

/// Reads `bundle/config.json` and translates it.
pub fn from_bundle(bundle: &Path) -> Result<Config, ConfigError> {
    let bundle = std::path::absolute(bundle).map_err(|source| ConfigError::Bundle {
        path: bundle.into(),
        source,
    })?;
    match std::fs::metadata(&bundle) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(ConfigError::Bundle {
                path: bundle,
                source: std::io::Error::from_raw_os_error(libc::ENOTDIR),
            })
        }
        Err(source) => return Err(ConfigError::Bundle { path: bundle, source }),
    }
    let file = bundle.join("config.json");
    let text = std::fs::read_to_string(&file).map_err(|source| ConfigError::Read {
        path: file.clone(),
        source,
    })?;
    let spec = parse(&file, &text)?;
    // oci-spec 0.8's Mount has no uidMappings/gidMappings (spec 1.2): an
    // id-mapped mount's maps are read from the JSON itself.
    let raw = text
        .contains("idmap")
        .then(|| serde_json::from_str::<serde_json::Value>(&text).ok())
        .flatten();
    translate(&bundle, &spec, raw.as_ref()).map_err(|r| ConfigError::Field {
        file,
        field: r.field,
        message: r.message,
    })
}

/// Parses the text of a config.json, naming the JSON path of a type error.
pub fn parse(file: &Path, text: &str) -> Result<Spec, ConfigError> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let spec: Spec = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let json_path = e.path().to_string();
        let inner = e.into_inner();
        ConfigError::Json {
            file: file.into(),
            json_path,
            line: inner.line(),
            column: inner.column(),
            message: strip_position(&inner.to_string()),
        }
    })?;
    deserializer.end().map_err(|e| ConfigError::Json {
        file: file.into(),
        json_path: String::new(),
        line: e.line(),
        column: e.column(),
        message: strip_position(&e.to_string()),
    })?;
    Ok(spec)
}

/// serde_json ends its messages with " at line L column C", which the
/// error already says at its front.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

fn translate(bundle: &Path, spec: &Spec, raw: Option<&serde_json::Value>) -> Checked<Config> {
    check_version(spec.version())?;
    for (present, name) in [
        (spec.solaris().is_some(), "solaris"),
        (spec.windows().is_some(), "windows"),
        (spec.vm().is_some(), "vm"),
        (spec.zos().is_some(), "zos"),
    ] {
        if present {
            return Err(refuse(name, "this runtime runs Linux containers only"));
        }
    }
    let linux = spec.linux().clone().unwrap_or_default();
    let namespaces = namespaces(&linux)?;
    let has = |k: NsKind| namespaces.iter().any(|n| n.kind == k);
    let creates = |k: NsKind| namespaces.iter().any(|n| n.kind == k && n.join.is_none());

    let extensions = Extensions::of(spec)?;
    let root = spec.root().as_ref().ok_or_else(|| refuse("root", "is required"))?;
    let rootfs = bundle.join(root.path());
    if !extensions.host_view && !rootfs.is_dir() {
        return Err(refuse("root.path", format!("{}: not a directory", rootfs.display())));
    }
    for (name, value) in [("hostname", spec.hostname()), ("domainname", spec.domainname())] {
        if value.as_ref().is_some_and(|v| !v.is_empty()) && !has(NsKind::Uts) {
            return Err(refuse(
                name,
                "needs a uts namespace of the container's own (linux.namespaces)",
            ));
        }
    }
    let (uid_maps, gid_maps) = id_maps(&linux, creates(NsKind::User))?;
    let mut process = process(
        spec.process()
            .as_ref()
            .ok_or_else(|| refuse("process", "is required"))?,
    )?;
    process.init = extensions.init;
    process.exit_file = extensions.exit_file;
    let mounts = spec
        .mounts()
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, m)| {
            let maps = raw.map(|r| &r["mounts"][i]);
            mount(bundle, i, m, maps, (&uid_maps, &gid_maps))
        })
        .collect::<Checked<Vec<_>>>()?;
    let time_offsets = time_offsets(&linux, creates(NsKind::Time))?;
    let net_devices = net_devices(&linux, creates(NsKind::Net))?;
    refuse_linux_extras(&linux)?;
    Ok(Config {
        oci_version: spec.version().clone(),
        bundle: bundle.to_path_buf(),
        rootfs,
        rootfs_readonly: root.readonly().unwrap_or(false),
        host_view: extensions.host_view,
        rootfs_propagation: rootfs_propagation(&linux)?,
        hostname: spec.hostname().clone().filter(|h| !h.is_empty()),
        domainname: spec.domainname().clone().filter(|d| !d.is_empty()),
        annotations: spec
            .annotations()
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        sysctl: sysctls(&linux, &has)?,
        devices: devices(&linux)?,
        masked_paths: absolute_paths("linux.maskedPaths", linux.masked_paths())?,
        readonly_paths: absolute_paths("linux.readonlyPaths", linux.readonly_paths())?,
        resources: resources(linux.resources().as_ref())?,
        cgroups_path: linux.cgroups_path().clone(),
        namespaces,
        uid_maps,
        gid_maps,
        mounts,
        process,
        time_offsets,
        hooks: hooks(spec)?,
        net_devices,
        personality: personality(&linux)?,
    })
}

/// nsbox's own settings, as annotations (the spec's place for what one
/// runtime understands and the others ignore): what `nsbox unshare` and lab
/// container nodes use beyond the spec.
struct Extensions {
    /// `io.github.nsbox.host-view: "true"`: the root is a read-only view of
    /// the host's system directories on a tmpfs (`root.path` is not used).
    host_view: bool,
    /// `io.github.nsbox.init: "true"`: nsbox's init is PID 1, in front of the process.
    init: bool,
    /// `io.github.nsbox.exit-file: PATH`: where that init writes the
    /// process's exit status (absolute, on the runtime's side).
    exit_file: Option<PathBuf>,
}

impl Extensions {
    fn of(spec: &Spec) -> Checked<Extensions> {
        let get = |key: &str| spec.annotations().as_ref().and_then(|a| a.get(key)).map(String::as_str);
        let flag = |key: &str| match get(key) {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(other) => Err(refuse(
                format!("annotations.{key}"),
                format!("{other:?}: use true or false"),
            )),
        };
        let (host_view, init) = (flag("io.github.nsbox.host-view")?, flag("io.github.nsbox.init")?);
        let exit_file = get("io.github.nsbox.exit-file").map(PathBuf::from);
        if let Some(path) = &exit_file {
            if !init || !path.is_absolute() || path.file_name().is_none() {
                return Err(refuse(
                    "annotations.io.github.nsbox.exit-file",
                    "an absolute file path, with io.github.nsbox.init",
                ));
            }
        }
        Ok(Extensions {
            host_view,
            init,
            exit_file,
        })
    }
}

fn check_version(version: &str) -> Checked<()> {
    let known = ["1.0.", "1.1.", "1.2.", "1.3."].iter().any(|p| version.starts_with(p));
    if known {
        Ok(())
    } else {
        Err(refuse(
            "ociVersion",
            format!("{version:?}: this runtime reads runtime-spec 1.0.x to 1.3.x"),
        ))
    }
}

fn hooks(spec: &Spec) -> Checked<crate::hooks::Hooks> {
    let Some(h) = spec.hooks() else {
        return Ok(crate::hooks::Hooks::default());
    };
    let list = |name: &str, hooks: &Option<Vec<oci_spec::runtime::Hook>>| -> Checked<Vec<crate::hooks::Hook>> {
        hooks
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, hook)| {
                let field = format!("hooks.{name}[{i}]");
                if !hook.path().is_absolute() {
                    return Err(refuse(format!("{field}.path"), "must be an absolute path"));
                }
                let timeout = match hook.timeout() {
                    None => None,
                    Some(t) if t > 0 => Some(t as u64),
                    Some(t) => return Err(refuse(format!("{field}.timeout"), format!("{t}: must be above 0"))),
                };
                Ok(crate::hooks::Hook {
                    path: hook.path().clone(),
                    args: hook.args().clone().unwrap_or_default(),
                    env: hook.env().clone().unwrap_or_default(),
                    timeout,
                })
            })
            .collect()
    };
    Ok(crate::hooks::Hooks {
        prestart: list("prestart", h.prestart())?,
        create_runtime: list("createRuntime", h.create_runtime())?,
        create_container: list("createContainer", h.create_container())?,
        start_container: list("startContainer", h.start_container())?,
        poststart: list("poststart", h.poststart())?,
        poststop: list("poststop", h.poststop())?,
    })
}

/// `linux.netDevices` (spec 1.3): host links to move in, each named as
/// it is inside (its own name unless `name` says another).
fn net_devices(linux: &oci_spec::runtime::Linux, new_net_ns: bool) -> Checked<Vec<(String, String)>> {
    let Some(devices) = linux.net_devices().as_ref().filter(|d| !d.is_empty()) else {
        return Ok(Vec::new());
    };
    if !new_net_ns {
        return Err(refuse(
            "linux.netDevices",
            "needs a new network namespace (linux.namespaces)",
        ));
    }
    let mut out: Vec<(String, String)> = Vec::new();
    for (host, device) in devices {
        let field = format!("linux.netDevices.{host}");
        let inside = device
            .name()
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| host.clone());
        for name in [host, &inside] {
            nsbox_net::link::check_name(name).map_err(|e| refuse(&field, e.to_string()))?;
        }
        if out.iter().any(|(_, other)| *other == inside) {
            return Err(refuse(field, format!("a second device named {inside:?} inside")));
        }
        out.push((host.clone(), inside));
    }
    out.sort();
    Ok(out)
}

fn personality(linux: &oci_spec::runtime::Linux) -> Checked<Option<u32>> {
    let Some(p) = linux.personality() else { return Ok(None) };
    if p.flags().as_ref().is_some_and(|f| !f.is_empty()) {
        return Err(not_yet("linux.personality.flags", 15));
    }
    // PER_LINUX and PER_LINUX32 (linux/personality.h).
    Ok(Some(match p.domain() {
        oci_spec::runtime::LinuxPersonalityDomain::PerLinux => 0x0000,
        oci_spec::runtime::LinuxPersonalityDomain::PerLinux32 => 0x0008,
    }))
}

fn ns_kind(typ: LinuxNamespaceType) -> NsKind {
    match typ {
        LinuxNamespaceType::Mount => NsKind::Mnt,
        LinuxNamespaceType::Cgroup => NsKind::Cgroup,
        LinuxNamespaceType::Uts => NsKind::Uts,
        LinuxNamespaceType::Ipc => NsKind::Ipc,
        LinuxNamespaceType::User => NsKind::User,
        LinuxNamespaceType::Pid => NsKind::Pid,
        LinuxNamespaceType::Network => NsKind::Net,
        LinuxNamespaceType::Time => NsKind::Time,
    }
}

fn namespaces(linux: &oci_spec::runtime::Linux) -> Checked<Vec<Namespace>> {
    let mut out: Vec<Namespace> = Vec::new();
    for (i, ns) in linux.namespaces().iter().flatten().enumerate() {
        let kind = ns_kind(ns.typ());
        let field = format!("linux.namespaces[{i}]");
        if out.iter().any(|n| n.kind == kind) {
            return Err(refuse(field, format!("a second {} namespace", kind.proc_name())));
        }
        let join = ns.path().clone().filter(|p| !p.as_os_str().is_empty());
        if let Some(path) = &join {
            if !path.is_absolute() {
                return Err(refuse(format!("{field}.path"), "must be an absolute path"));
            }
            if let Err(e) = std::fs::metadata(path) {
                return Err(refuse(
                    format!("{field}.path"),
                    format!("{}: {}", path.display(), nsbox_sys::errno::describe(&e)),
                ));
            }
        }
        out.push(Namespace { kind, join });
    }
    Ok(out)
}

fn id_maps(linux: &oci_spec::runtime::Linux, new_user_ns: bool) -> Checked<(Vec<IdMap>, Vec<IdMap>)> {
    let convert = |maps: &Option<Vec<LinuxIdMapping>>| -> Vec<IdMap> {
        maps.iter()
            .flatten()
            .map(|m| IdMap {
                inside: m.container_id(),
                outside: m.host_id(),
                count: m.size(),
            })
            .collect()
    };
    let (uids, gids) = (convert(linux.uid_mappings()), convert(linux.gid_mappings()));
    match (new_user_ns, uids.is_empty() && gids.is_empty()) {
        (false, false) => Err(refuse(
            "linux.uidMappings",
            "id mappings need a new user namespace (linux.namespaces)",
        )),
        (true, true) => Err(refuse(
            "linux.uidMappings",
            "a new user namespace needs uid and gid mappings",
        )),
        _ => Ok((uids, gids)),
    }
}

fn process(p: &oci_spec::runtime::Process) -> Checked<Process> {
    if p.terminal().unwrap_or(false) {
        return Err(refuse(
            "process.terminal",
            "terminals are not supported yet (nsbox issue 17); set it to false",
        ));
    }
    let args = p.args().clone().unwrap_or_default();
    if args.is_empty() {
        return Err(refuse("process.args", "must name the program to run"));
    }
    if !p.cwd().is_absolute() {
        return Err(refuse("process.cwd", format!("{:?} must be an absolute path", p.cwd())));
    }
    let env = p.env().clone().unwrap_or_default();
    if let Some(i) = env.iter().position(|e| !e.contains('=')) {
        return Err(refuse(
            format!("process.env[{i}]"),
            format!("{:?} is not KEY=VALUE", env[i]),
        ));
    }
    for (present, field, issue) in [
        (p.command_line().is_some(), "process.commandLine", 0),
        (p.user().username().is_some(), "process.user.username", 0),
        (p.exec_cpu_affinity().is_some(), "process.execCPUAffinity", 16),
    ] {
        if present {
            return Err(match issue {
                0 => refuse(field, "is for Windows containers"),
                n => not_yet(field, n),
            });
        }
    }
    // runc fails such a container too where the host has no such LSM
    // (checked against runc 1.1.5 on this host); where it has one, nsbox
    // does not apply labels yet and says so rather than run unconfined.
    if let Some(profile) = p.apparmor_profile().as_ref().filter(|s| !s.is_empty()) {
        return Err(refuse(
            "process.apparmorProfile",
            format!("{profile:?}: {}", lsm_refusal(Lsm::AppArmor)),
        ));
    }
    if let Some(label) = p.selinux_label().as_ref().filter(|s| !s.is_empty()) {
        return Err(refuse(
            "process.selinuxLabel",
            format!("{label:?}: {}", lsm_refusal(Lsm::SeLinux)),
        ));
    }
    Ok(Process {
        args,
        env,
        cwd: p.cwd().clone(),
        uid: p.user().uid(),
        gid: p.user().gid(),
        umask: p.user().umask(),
        additional_gids: p.user().additional_gids().clone().unwrap_or_default(),
        rlimits: rlimits(p)?,
        capabilities: p.capabilities().as_ref().map(capabilities),
        no_new_privileges: p.no_new_privileges().unwrap_or(false),
        oom_score_adj: p.oom_score_adj(),
        terminal: false,
        init: false,
        exit_file: None,
        io_priority: io_priority(p)?,
        scheduler: scheduler(p)?,
    })
}

fn io_priority(p: &oci_spec::runtime::Process) -> Checked<Option<(u32, u32)>> {
    use oci_spec::runtime::IOPriorityClass as C;
    let Some(io) = p.io_priority() else { return Ok(None) };
    let class = match io.class() {
        C::IoprioClassRt => 1,
        C::IoprioClassBe => 2,
        C::IoprioClassIdle => 3,
    };
    match u32::try_from(io.priority()) {
        Ok(level) if level <= 7 => Ok(Some((class, level))),
        _ => Err(refuse(
            "process.ioPriority.priority",
            format!("{}: use 0 to 7", io.priority()),
        )),
    }
}

fn scheduler(p: &oci_spec::runtime::Process) -> Checked<Option<nsbox_sys::SchedAttr>> {
    use oci_spec::runtime::{LinuxSchedulerFlag as F, LinuxSchedulerPolicy as P};
    let Some(s) = p.scheduler() else { return Ok(None) };
    let policy = match s.policy() {
        P::SchedOther => 0,
        P::SchedFifo => 1,
        P::SchedRr => 2,
        P::SchedBatch => 3,
        P::SchedIso => 4,
        P::SchedIdle => 5,
        P::SchedDeadline => 6,
    };
    let flags = s.flags().iter().flatten().fold(0u64, |all, f| {
        all | match f {
            F::SchedResetOnFork => 0x01,
            F::SchedFlagReclaim => 0x02,
            F::SchedFlagDLOverrun => 0x04,
            F::SchedFlagKeepPolicy => 0x08,
            F::SchedFlagKeepParams => 0x10,
            F::SchedFlagUtilClampMin => 0x20,
            F::SchedFlagUtilClampMax => 0x40,
        }
    });
    let nice = s.nice().unwrap_or(0);
    if !(-20..=19).contains(&nice) {
        return Err(refuse("process.scheduler.nice", format!("{nice}: use -20 to 19")));
    }
    let priority = s.priority().unwrap_or(0);
    let realtime = matches!(policy, 1 | 2);
    if (realtime && !(1..=99).contains(&priority)) || (!realtime && priority != 0) {
        return Err(refuse(
            "process.scheduler.priority",
            format!("{priority}: SCHED_FIFO and SCHED_RR take 1 to 99, the other policies 0"),
        ));
    }
    Ok(Some(nsbox_sys::SchedAttr {
        policy,
        flags,
        nice,
        priority: priority as u32,
        runtime: s.runtime().unwrap_or(0),
        deadline: s.deadline().unwrap_or(0),
        period: s.period().unwrap_or(0),
    }))
}

fn rlimits(p: &oci_spec::runtime::Process) -> Checked<Vec<Rlimit>> {
    use rustix::process::Resource as R;
    let mut out: Vec<Rlimit> = Vec::new();
    for (i, limit) in p.rlimits().iter().flatten().enumerate() {
        let (name, resource) = match limit.typ() {
            PosixRlimitType::RlimitCpu => ("RLIMIT_CPU", R::Cpu),
            PosixRlimitType::RlimitFsize => ("RLIMIT_FSIZE", R::Fsize),
            PosixRlimitType::RlimitData => ("RLIMIT_DATA", R::Data),
            PosixRlimitType::RlimitStack => ("RLIMIT_STACK", R::Stack),
            PosixRlimitType::RlimitCore => ("RLIMIT_CORE", R::Core),
            PosixRlimitType::RlimitRss => ("RLIMIT_RSS", R::Rss),
            PosixRlimitType::RlimitNproc => ("RLIMIT_NPROC", R::Nproc),
            PosixRlimitType::RlimitNofile => ("RLIMIT_NOFILE", R::Nofile),
            PosixRlimitType::RlimitMemlock => ("RLIMIT_MEMLOCK", R::Memlock),
            PosixRlimitType::RlimitAs => ("RLIMIT_AS", R::As),
            PosixRlimitType::RlimitLocks => ("RLIMIT_LOCKS", R::Locks),
            PosixRlimitType::RlimitSigpending => ("RLIMIT_SIGPENDING", R::Sigpending),
            PosixRlimitType::RlimitMsgqueue => ("RLIMIT_MSGQUEUE", R::Msgqueue),
            PosixRlimitType::RlimitNice => ("RLIMIT_NICE", R::Nice),
            PosixRlimitType::RlimitRtprio => ("RLIMIT_RTPRIO", R::Rtprio),
            PosixRlimitType::RlimitRttime => ("RLIMIT_RTTIME", R::Rttime),
        };
        let field = format!("process.rlimits[{i}]");
        if out.iter().any(|r| r.name == name) {
            return Err(refuse(field, format!("a second {name}")));
        }
        if limit.soft() > limit.hard() {
            return Err(refuse(
                field,
                format!("{name}: soft limit {} above hard limit {}", limit.soft(), limit.hard()),
            ));
        }
        out.push(Rlimit {
            name,
            resource,
            soft: limit.soft(),
            hard: limit.hard(),
        });
    }
    Ok(out)
}

/// The capability's number: its name as the spec writes it (`CAP_NET_RAW`)
/// is looked up in the kernel's list. The names are checked by the
/// deserializer already (an unknown one is a type error at its path).
fn capability_bit(cap: &oci_spec::runtime::Capability) -> u64 {
    let name = serde_json::to_value(cap)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let number = CAPABILITY_NAMES
        .iter()
        .position(|n| *n == name)
        .expect("oci-spec's names are the kernel's");
    1 << number
}

/// The kernel's capabilities in the order of their numbers.
pub const CAPABILITY_NAMES: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

fn capabilities(caps: &LinuxCapabilities) -> Capabilities {
    let mask = |set: &Option<oci_spec::runtime::Capabilities>| set.iter().flatten().map(capability_bit).sum();
    Capabilities {
        bounding: mask(caps.bounding()),
        effective: mask(caps.effective()),
        permitted: mask(caps.permitted()),
        inheritable: mask(caps.inheritable()),
        ambient: mask(caps.ambient()),
    }
}

/// A mount's own `uidMappings`/`gidMappings` (spec 1.2), from its JSON.
fn mount_maps(raw: &serde_json::Value, field: &str) -> Checked<Option<(Vec<IdMap>, Vec<IdMap>)>> {
    let list = |key: &str| -> Checked<Vec<IdMap>> {
        let Some(items) = raw.get(key).and_then(|v| v.as_array()) else {
            return Ok(Vec::new());
        };
        items
            .iter()
            .enumerate()
            .map(|(j, item)| {
                let number = |name: &str| {
                    item.get(name)
                        .and_then(|v| v.as_u64())
                        .and_then(|n| u32::try_from(n).ok())
                };
                match (number("containerID"), number("hostID"), number("size")) {
                    (Some(inside), Some(outside), Some(count)) if count > 0 => Ok(IdMap { inside, outside, count }),
                    _ => Err(refuse(
                        format!("{field}.{key}[{j}]"),
                        "needs containerID, hostID and size (above 0)",
                    )),
                }
            })
            .collect()
    };
    let (uids, gids) = (list("uidMappings")?, list("gidMappings")?);
    Ok((!uids.is_empty() || !gids.is_empty()).then_some((uids, gids)))
}

fn mount(
    bundle: &Path,
    i: usize,
    m: &oci_spec::runtime::Mount,
    raw: Option<&serde_json::Value>,
    container_maps: (&[IdMap], &[IdMap]),
) -> Checked<Mount> {
    let field = format!("mounts[{i}]");
    if !m.destination().is_absolute() {
        return Err(refuse(
            format!("{field}.destination"),
            format!("{:?} must be an absolute path", m.destination()),
        ));
    }
    let mut out = Mount {
        destination: m.destination().clone(),
        fstype: m.typ().clone().unwrap_or_default(),
        source: m.source().clone(),
        kind: MountKind::New,
        flags: MountFlags::empty(),
        cleared: MountFlags::empty(),
        propagation: None,
        recursive_set: 0,
        recursive_clear: 0,
        idmap: None,
        data: String::new(),
    };
    let mut idmapped = None;
    for (j, option) in m.options().iter().flatten().enumerate() {
        let meaning = mount_options::meaning(option).map_err(|e| match e {
            OptionError::Unknown(_) | OptionError::Unsupported(_) => {
                refuse(format!("{field}.options[{j}]"), e.to_string())
            }
        })?;
        match meaning {
            Meaning::Set(f) => {
                out.flags |= f;
                out.cleared &= !f;
            }
            Meaning::Clear(f) => {
                out.flags &= !f;
                out.cleared |= f;
            }
            Meaning::Propagation(p) => out.propagation = Some(p),
            Meaning::Bind { recursive } => out.kind = MountKind::Bind { recursive },
            Meaning::IdMap { recursive } => idmapped = Some((j, recursive)),
            Meaning::Recursive { set, clear } => {
                out.recursive_set = (out.recursive_set & !clear) | set;
                out.recursive_clear = (out.recursive_clear & !set) | clear;
            }
            Meaning::Data => {
                if !out.data.is_empty() {
                    out.data.push(',');
                }
                out.data.push_str(option);
            }
        }
    }
    if out.fstype == "bind" && out.kind == MountKind::New {
        out.kind = MountKind::Bind { recursive: false };
    }
    match out.kind {
        MountKind::Bind { .. } => {
            let source = out
                .source
                .as_ref()
                .ok_or_else(|| refuse(format!("{field}.source"), "a bind mount needs a source"))?;
            // runc reads a relative bind source from the bundle.
            let source = bundle.join(source);
            if let Err(e) = std::fs::metadata(&source) {
                return Err(refuse(
                    format!("{field}.source"),
                    format!("{}: {}", source.display(), nsbox_sys::errno::describe(&e)),
                ));
            }
            if !out.data.is_empty() {
                return Err(refuse(
                    format!("{field}.options"),
                    format!("a bind mount takes no file system options ({:?})", out.data),
                ));
            }
            out.source = Some(source);
            if let Some((_, recursive)) = idmapped {
                let own = raw.map(|r| mount_maps(r, &field)).transpose()?.flatten();
                let (uids, gids) = match own {
                    Some(maps) => maps,
                    // Without maps of its own, the container's (spec 1.2).
                    None if !container_maps.0.is_empty() => (container_maps.0.to_vec(), container_maps.1.to_vec()),
                    None => {
                        return Err(refuse(
                            format!("{field}.uidMappings"),
                            "an idmap mount needs uidMappings and gidMappings (or a user namespace's)",
                        ))
                    }
                };
                out.idmap = Some(super::IdMapping { uids, gids, recursive });
            }
        }
        MountKind::New if idmapped.is_some() => {
            let (j, _) = idmapped.expect("checked");
            return Err(refuse(
                format!("{field}.options[{j}]"),
                "idmap and ridmap are for bind mounts",
            ));
        }
        MountKind::New if out.fstype.is_empty() => {
            return Err(refuse(
                format!("{field}.type"),
                "is required unless the mount is a bind",
            ));
        }
        MountKind::New => {}
    }
    Ok(out)
}

fn rootfs_propagation(linux: &oci_spec::runtime::Linux) -> Checked<MountPropagationFlags> {
    match linux.rootfs_propagation().as_deref().filter(|s| !s.is_empty()) {
        None => Ok(MountPropagationFlags::PRIVATE | MountPropagationFlags::REC),
        Some(name) => mount_options::propagation(name).ok_or_else(|| {
            refuse(
                "linux.rootfsPropagation",
                format!("{name:?} is not a propagation (private, shared, slave, unbindable, or r-)"),
            )
        }),
    }
}

fn absolute_paths(field: &str, paths: &Option<Vec<String>>) -> Checked<Vec<PathBuf>> {
    paths
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, p)| {
            let path = PathBuf::from(p);
            if path.is_absolute() {
                Ok(path)
            } else {
                Err(refuse(
                    format!("{field}[{i}]"),
                    format!("{p:?} must be an absolute path"),
                ))
            }
        })
        .collect()
}

/// The namespace a sysctl key belongs to (runc's list): only keys of a
/// namespace the container has may be set.
fn sysctl_namespace(key: &str) -> Option<NsKind> {
    const IPC: [&str; 7] = [
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
    ];
    if IPC.contains(&key) || key == "kernel.shm_rmid_forced" || key.starts_with("fs.mqueue.") {
        Some(NsKind::Ipc)
    } else if key.starts_with("net.") {
        Some(NsKind::Net)
    } else if key == "kernel.hostname" || key == "kernel.domainname" {
        Some(NsKind::Uts)
    } else {
        None
    }
}

fn sysctls(linux: &oci_spec::runtime::Linux, has: &dyn Fn(NsKind) -> bool) -> Checked<Vec<(String, String)>> {
    let mut out: Vec<(String, String)> = linux
        .sysctl()
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    out.sort();
    for (key, _) in &out {
        let field = format!("linux.sysctl.{key}");
        match sysctl_namespace(key) {
            None => return Err(refuse(field, "is not namespaced: it would change the host")),
            Some(kind) if !has(kind) => {
                return Err(refuse(
                    field,
                    format!("needs a {} namespace of the container's own", kind.proc_name()),
                ))
            }
            Some(_) => {}
        }
        if key.contains("..") || key.contains('/') {
            return Err(refuse(field, "is not a sysctl name"));
        }
    }
    Ok(out)
}

fn devices(linux: &oci_spec::runtime::Linux) -> Checked<Vec<Device>> {
    let mut out = Vec::new();
    for (i, d) in linux.devices().iter().flatten().enumerate() {
        let field = format!("linux.devices[{i}]");
        if !d.path().is_absolute() {
            return Err(refuse(format!("{field}.path"), "must be an absolute path"));
        }
        let kind = match d.typ() {
            LinuxDeviceType::C | LinuxDeviceType::U => 'c',
            LinuxDeviceType::B => 'b',
            LinuxDeviceType::P => 'p',
            LinuxDeviceType::A => return Err(refuse(format!("{field}.type"), "must be c, b, u or p")),
        };
        let number = |n: i64, name: &str| {
            u32::try_from(n).map_err(|_| refuse(format!("{field}.{name}"), format!("{n} is out of range")))
        };
        out.push(Device {
            path: d.path().clone(),
            kind,
            major: number(d.major(), "major")?,
            minor: number(d.minor(), "minor")?,
            mode: d.file_mode().unwrap_or(0o666),
            uid: d.uid().unwrap_or(0),
            gid: d.gid().unwrap_or(0),
        });
    }
    Ok(out)
}

fn resources(r: Option<&LinuxResources>) -> Checked<Resources> {
    let Some(r) = r else {
        return Ok(Resources::default());
    };
    for (present, field) in [
        (r.block_io().is_some(), "linux.resources.blockIO"),
        (
            r.hugepage_limits().as_ref().is_some_and(|h| !h.is_empty()),
            "linux.resources.hugepageLimits",
        ),
        (r.network().is_some(), "linux.resources.network"),
        (r.rdma().as_ref().is_some_and(|h| !h.is_empty()), "linux.resources.rdma"),
        (
            r.unified().as_ref().is_some_and(|h| !h.is_empty()),
            "linux.resources.unified",
        ),
    ] {
        if present {
            return Err(not_yet(field, 16));
        }
    }
    let mut out = Resources::default();
    if let Some(m) = r.memory() {
        for (present, field) in [
            (m.swap().is_some(), "swap"),
            (m.kernel().is_some(), "kernel"),
            (m.kernel_tcp().is_some(), "kernelTCP"),
            (m.swappiness().is_some(), "swappiness"),
            (m.disable_oom_killer().is_some(), "disableOOMKiller"),
            (m.use_hierarchy().is_some(), "useHierarchy"),
            (m.check_before_update().is_some(), "checkBeforeUpdate"),
        ] {
            if present {
                return Err(not_yet(&format!("linux.resources.memory.{field}"), 16));
            }
        }
        out.memory_limit = m.limit();
        out.memory_reservation = m.reservation();
    }
    if let Some(c) = r.cpu() {
        for (present, field) in [
            (c.idle().is_some(), "idle"),
            (c.burst().is_some(), "burst"),
            (c.realtime_runtime().is_some(), "realtimeRuntime"),
            (c.realtime_period().is_some(), "realtimePeriod"),
            (c.cpus().as_ref().is_some_and(|s| !s.is_empty()), "cpus"),
            (c.mems().as_ref().is_some_and(|s| !s.is_empty()), "mems"),
        ] {
            if present {
                return Err(not_yet(&format!("linux.resources.cpu.{field}"), 16));
            }
        }
        out.cpu_shares = c.shares();
        out.cpu_quota = c.quota();
        out.cpu_period = c.period();
    }
    out.pids_limit = r.pids().as_ref().map(|p| p.limit());
    for (i, d) in r.devices().iter().flatten().enumerate() {
        let kind = match d.typ().unwrap_or(LinuxDeviceType::A) {
            LinuxDeviceType::A => 'a',
            LinuxDeviceType::C | LinuxDeviceType::U => 'c',
            LinuxDeviceType::B => 'b',
            LinuxDeviceType::P => {
                return Err(refuse(
                    format!("linux.resources.devices[{i}].type"),
                    "the device cgroup knows a, c and b",
                ))
            }
        };
        let access = d.access().clone().unwrap_or_else(|| "rwm".to_string());
        if access.is_empty() || !access.chars().all(|c| "rwm".contains(c)) {
            return Err(refuse(
                format!("linux.resources.devices[{i}].access"),
                format!("{access:?}: use r, w and m"),
            ));
        }
        out.devices.push(DeviceRule {
            allow: d.allow(),
            kind,
            major: d.major(),
            minor: d.minor(),
            access,
        });
    }
    Ok(out)
}

fn time_offsets(linux: &oci_spec::runtime::Linux, new_time_ns: bool) -> Checked<Option<(i64, i64)>> {
    let Some(offsets) = linux.time_offsets().as_ref().filter(|o| !o.is_empty()) else {
        return Ok(None);
    };
    if !new_time_ns {
        return Err(refuse(
            "linux.timeOffsets",
            "need a new time namespace (linux.namespaces)",
        ));
    }
    let mut out = (0, 0);
    for (clock, offset) in offsets {
        match clock.as_str() {
            "monotonic" => out.0 = offset.secs().unwrap_or(0),
            "boottime" => out.1 = offset.secs().unwrap_or(0),
            other => {
                return Err(refuse(
                    format!("linux.timeOffsets.{other}"),
                    "the clocks are monotonic and boottime",
                ))
            }
        }
        if offset.nanosecs().unwrap_or(0) != 0 {
            return Err(not_yet(&format!("linux.timeOffsets.{clock}.nanosecs"), 15));
        }
    }
    Ok(Some(out))
}

#[derive(Clone, Copy)]
enum Lsm {
    AppArmor,
    SeLinux,
}

/// Why a label of `lsm` cannot be applied here.
fn lsm_refusal(lsm: Lsm) -> &'static str {
    let enabled = match lsm {
        Lsm::AppArmor => {
            std::fs::read_to_string("/sys/module/apparmor/parameters/enabled").is_ok_and(|s| s.starts_with('Y'))
        }
        Lsm::SeLinux => Path::new("/sys/fs/selinux/enforce").exists(),
    };
    match (lsm, enabled) {
        (Lsm::AppArmor, false) => "AppArmor is not enabled on this host",
        (Lsm::SeLinux, false) => "SELinux is not enabled on this host",
        (Lsm::AppArmor, true) => "AppArmor profiles are not applied by nsbox yet",
        (Lsm::SeLinux, true) => "SELinux labels are not applied by nsbox yet",
    }
}

/// The fields of `linux` this runtime does not apply yet, refused by name.
fn refuse_linux_extras(linux: &oci_spec::runtime::Linux) -> Checked<()> {
    if linux.seccomp().is_some() {
        return Err(not_yet("linux.seccomp", 16));
    }
    if linux.intel_rdt().is_some() {
        return Err(refuse("linux.intelRdt", "this host has no resctrl file system"));
    }
    if linux.memory_policy().is_some() {
        return Err(not_yet("linux.memoryPolicy", 16));
    }
    if linux.mount_label().as_ref().is_some_and(|l| !l.is_empty()) {
        return Err(refuse(
            "linux.mountLabel",
            "SELinux labels are not supported (this host has no SELinux)",
        ));
    }
    Ok(())
}
