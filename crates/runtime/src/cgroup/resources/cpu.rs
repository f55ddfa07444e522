//! cpu and cpuset: v1's cfs and rt files, shares and idle, and the cpuset
//! lists (a new v1 cpuset cgroup starts empty and takes no task: what the
//! spec leaves out is copied from the parent, as runc does); v2's
//! cpu.weight (converted from shares), cpu.max, cpu.max.burst, cpu.idle.

use crate::cgroup::{write_file, CgroupError};
use crate::config::resources::Cpu;
use std::path::Path;

pub(super) fn v1(dir: &Path, c: &Cpu) -> Result<(), CgroupError> {
    // The realtime budget first: a quota below it is refused.
    if let Some(v) = c.realtime_period {
        write_file(dir, "cpu.rt_period_us", &v.to_string())?;
    }
    if let Some(v) = c.realtime_runtime {
        write_file(dir, "cpu.rt_runtime_us", &v.to_string())?;
    }
    if let Some(v) = c.shares {
        write_file(dir, "cpu.shares", &v.to_string())?;
        // The kernel clamps shares silently: say so instead (runc does).
        let set = std::fs::read_to_string(dir.join("cpu.shares")).unwrap_or_default();
        if set.trim() != v.to_string() {
            return Err(CgroupError::Write {
                path: dir.join("cpu.shares"),
                value: v.to_string(),
                source: std::io::Error::other(format!("the kernel set {} instead", set.trim())),
            });
        }
    }
    if let Some(v) = c.period {
        write_file(dir, "cpu.cfs_period_us", &v.to_string())?;
    }
    if let Some(v) = c.quota {
        write_file(dir, "cpu.cfs_quota_us", &v.to_string())?;
    }
    if let Some(v) = c.burst {
        write_file(dir, "cpu.cfs_burst_us", &v.to_string())?;
    }
    if let Some(v) = c.idle {
        write_file(dir, "cpu.idle", &v.to_string())?;
    }
    Ok(())
}

pub(super) fn v1_cpuset(dir: &Path, c: &Cpu) -> Result<(), CgroupError> {
    for (file, value) in [("cpuset.cpus", &c.cpus), ("cpuset.mems", &c.mems)] {
        let value = match value {
            Some(v) => v.clone(),
            None => {
                let current = std::fs::read_to_string(dir.join(file)).unwrap_or_default();
                if !current.trim().is_empty() {
                    continue;
                }
                let parent = dir.parent().unwrap_or(dir);
                std::fs::read_to_string(parent.join(file))
                    .unwrap_or_default()
                    .trim()
                    .to_string()
            }
        };
        write_file(dir, file, &value)?;
    }
    Ok(())
}

pub(super) fn check_v2(c: &Cpu) -> Result<(), CgroupError> {
    if c.realtime_runtime.is_some() || c.realtime_period.is_some() {
        return Err(CgroupError::Unsupported(
            "linux.resources.cpu.realtimeRuntime/realtimePeriod on cgroup v2 (it has no rt budget)",
        ));
    }
    Ok(())
}

/// runc's conversion of v1 shares (2..262144) to v2 weight (1..10000).
pub(crate) fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    1 + (shares.clamp(2, 262_144) - 2) * 9999 / 262_142
}

pub(super) fn v2(dir: &Path, c: &Cpu) -> Result<(), CgroupError> {
    if let Some(shares) = c.shares.filter(|s| *s != 0) {
        write_file(dir, "cpu.weight", &shares_to_weight(shares).to_string())?;
    }
    if c.quota.is_some() || c.period.is_some() {
        let quota = c.quota.filter(|q| *q > 0).map_or("max".to_string(), |q| q.to_string());
        let period = c.period.filter(|p| *p != 0).unwrap_or(100_000);
        write_file(dir, "cpu.max", &format!("{quota} {period}"))?;
    }
    if let Some(v) = c.burst {
        write_file(dir, "cpu.max.burst", &v.to_string())?;
    }
    if let Some(v) = c.idle {
        write_file(dir, "cpu.idle", &v.to_string())?;
    }
    if let Some(v) = &c.cpus {
        write_file(dir, "cpuset.cpus", v)?;
    }
    if let Some(v) = &c.mems {
        write_file(dir, "cpuset.mems", v)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn shares_convert_to_weight_as_runc_does() {
        assert_eq!(super::shares_to_weight(2), 1);
        assert_eq!(super::shares_to_weight(1024), 39);
        assert_eq!(super::shares_to_weight(262_144), 10_000);
    }
}
