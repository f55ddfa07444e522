//! Containers built on namespaces: one engine (the model in `config`, the
//! process and its init sequence in `process`, cgroups, the store and
//! runc's verbs in `container`) behind two front ends, config.json and
//! `nsbox unshare`'s flags (`spec`, `unshare`). Knows nothing of labs.

pub mod cgroup;
pub mod config;
pub mod container;
pub mod enter;
pub mod exec;
pub mod hooks;
pub mod netns_exec;
pub mod process;
pub mod seccomp;
pub mod spec;
pub mod supervise;
pub mod unshare;

pub use spec::{Bind, Limits, RootChoice, Spec, SpecError, TimeOffsets};
