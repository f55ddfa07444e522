//! `linux.resources`: what the container's cgroups limit, one group of
//! fields per controller, as the spec has them. The values are the spec's
//! own (v1 units: shares, blkio weight, memory+swap); `cgroup::resources`
//! writes them to v1 files or converts them for v2, as runc does. The same
//! type is read by `update --resources`.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resources {
    pub memory: Memory,
    pub cpu: Cpu,
    /// `pids.limit` (0 or less: no limit).
    pub pids_limit: Option<i64>,
    pub block_io: BlockIo,
    /// Page size (`2MB`, `1GB`) → limit in bytes.
    pub hugepage_limits: BTreeMap<String, u64>,
    pub network: Network,
    /// Device name → limits.
    pub rdma: BTreeMap<String, Rdma>,
    /// cgroup v2 files → values, written last (v2 only).
    pub unified: BTreeMap<String, String>,
    /// The device cgroup's rules, in order (v1 `devices.allow`/`deny`).
    pub devices: Vec<DeviceRule>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Memory {
    /// Bytes; -1: no limit.
    pub limit: Option<i64>,
    pub reservation: Option<i64>,
    /// Memory plus swap, in bytes (v1's memsw); -1: no limit.
    pub swap: Option<i64>,
    /// v1 `memory.kmem.tcp.limit_in_bytes`.
    pub kernel_tcp: Option<i64>,
    pub swappiness: Option<u64>,
    pub disable_oom_killer: Option<bool>,
    pub use_hierarchy: Option<bool>,
    /// On update: refuse a limit below what the container uses now.
    pub check_before_update: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cpu {
    pub shares: Option<u64>,
    /// Microseconds per period; -1: no limit.
    pub quota: Option<i64>,
    pub burst: Option<u64>,
    pub period: Option<u64>,
    pub realtime_runtime: Option<i64>,
    pub realtime_period: Option<u64>,
    /// cpuset lists (`0-1,3`).
    pub cpus: Option<String>,
    pub mems: Option<String>,
    /// SCHED_IDLE for the cgroup (1) or not (0).
    pub idle: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockIo {
    pub weight: Option<u16>,
    pub leaf_weight: Option<u16>,
    pub weight_device: Vec<WeightDevice>,
    pub throttle_read_bps: Vec<ThrottleDevice>,
    pub throttle_write_bps: Vec<ThrottleDevice>,
    pub throttle_read_iops: Vec<ThrottleDevice>,
    pub throttle_write_iops: Vec<ThrottleDevice>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeightDevice {
    pub major: i64,
    pub minor: i64,
    pub weight: Option<u16>,
    pub leaf_weight: Option<u16>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThrottleDevice {
    pub major: i64,
    pub minor: i64,
    pub rate: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    pub class_id: Option<u32>,
    /// Interface → priority.
    pub priorities: Vec<(String, u32)>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rdma {
    pub hca_handles: Option<u32>,
    pub hca_objects: Option<u32>,
}

/// One rule of the device cgroup: `a`, `c` or `b`, numbers (None: any), access.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRule {
    pub allow: bool,
    pub kind: char,
    pub major: Option<i64>,
    pub minor: Option<i64>,
    pub access: String,
}

impl DeviceRule {
    /// The rule as v1's `devices.allow` and `devices.deny` read it: `c 1:3 rwm`.
    pub fn v1_line(&self) -> String {
        let number = |n: Option<i64>| n.map_or("*".to_string(), |n| n.to_string());
        match self.kind {
            'a' => "a".to_string(),
            kind => format!("{kind} {}:{} {}", number(self.major), number(self.minor), self.access),
        }
    }
}

impl Resources {
    pub fn is_empty(&self) -> bool {
        *self == Resources::default()
    }

    /// The v1 controllers (hierarchies) these resources write to.
    pub fn v1_controllers(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        let m = &self.memory;
        if m != &Memory::default() {
            out.push("memory");
        }
        let c = &self.cpu;
        if c.shares.is_some()
            || c.quota.is_some()
            || c.burst.is_some()
            || c.period.is_some()
            || c.realtime_runtime.is_some()
            || c.realtime_period.is_some()
            || c.idle.is_some()
        {
            out.push("cpu");
        }
        if c.cpus.is_some() || c.mems.is_some() {
            out.push("cpuset");
        }
        if self.pids_limit.is_some() {
            out.push("pids");
        }
        if self.block_io != BlockIo::default() {
            out.push("blkio");
        }
        if !self.hugepage_limits.is_empty() {
            out.push("hugetlb");
        }
        if self.network.class_id.is_some() {
            out.push("net_cls");
        }
        if !self.network.priorities.is_empty() {
            out.push("net_prio");
        }
        if !self.rdma.is_empty() {
            out.push("rdma");
        }
        if !self.devices.is_empty() {
            out.push("devices");
        }
        out
    }
}
