//! `process`: the program, its user, rlimits, capabilities, scheduling and
//! security labels.

use super::*;
use crate::config::{Capabilities, Process, Rlimit};

pub(super) fn process(p: &oci_spec::runtime::Process) -> Checked<Process> {
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
        init: false,
        exit_file: None,
        io_priority: io_priority(p)?,
        scheduler: scheduler(p)?,
        terminal: p.terminal().unwrap_or(false),
        console_size: p.console_size().as_ref().map(|b| {
            (
                b.height().min(u64::from(u16::MAX)) as u16,
                b.width().min(u64::from(u16::MAX)) as u16,
            )
        }),
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

#[derive(Clone, Copy)]
pub(super) enum Lsm {
    AppArmor,
    SeLinux,
}

/// Why a label of `lsm` cannot be applied here.
pub(super) fn lsm_refusal(lsm: Lsm) -> &'static str {
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
