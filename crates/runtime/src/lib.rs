//! Containers built on namespaces: the spec of what to run, the root
//! filesystem and mounts, the PID 1 init, cgroup limits, and the processes
//! that tie them together. Knows nothing of labs.

pub mod cgroup;
pub mod config;
pub mod container;
pub mod enter;
pub mod exec;
pub mod hooks;
pub mod init;
pub mod netns_exec;
pub mod process;
pub mod rootfs;
pub mod spec;
pub mod supervise;
pub mod unshare;

pub use spec::{Bind, Limits, RootChoice, Spec, SpecError, TimeOffsets};
