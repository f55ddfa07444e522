//! `linux.seccomp`: the syscall filter, as the spec describes it, checked
//! (names of actions, operators, flags and architectures are the spec's);
//! `crate::seccomp` compiles it with libseccomp.

use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seccomp {
    pub default_action: Action,
    /// libseccomp's names (`SCMP_ARCH_X86_64`), beside the native one.
    pub architectures: Vec<String>,
    pub flags: Vec<Flag>,
    /// Where the listener of a filter with `SCMP_ACT_NOTIFY` is sent.
    pub listener_path: Option<PathBuf>,
    pub listener_metadata: String,
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// SCMP_ACT_KILL: the thread (as in runc).
    KillThread,
    KillProcess,
    Trap,
    Errno(u16),
    Trace(u16),
    Allow,
    Log,
    Notify,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flag {
    Log,
    Tsync,
    SpecAllow,
}

/// One `syscalls[i]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Its index in `syscalls`, for errors.
    pub index: usize,
    pub names: Vec<String>,
    pub action: Action,
    pub args: Vec<Arg>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arg {
    pub index: u32,
    pub value: u64,
    pub value_two: u64,
    pub op: Op,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Ne,
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
    /// `(arg & value) == value_two`.
    MaskedEq,
}

impl Seccomp {
    /// Whether some rule (or the default) hands syscalls to a listener.
    pub fn notifies(&self) -> bool {
        self.default_action == Action::Notify || self.rules.iter().any(|r| r.action == Action::Notify)
    }
}
