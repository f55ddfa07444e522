//! cgroup v1 limit files.

use super::{write_file, CgroupError, Controller};
use crate::spec::Limits;
use std::path::Path;

/// The CFS period nsbox uses, in microseconds (the kernel's default, and runc's).
pub(crate) const CPU_PERIOD_US: u64 = 100_000;

/// The CFS quota for `cpus` CPUs per period. The kernel rejects quotas under
/// 1 ms, and nsbox lets it say so rather than rounding a request silently.
pub(crate) fn cpu_quota_us(cpus: f64) -> u64 {
    (cpus * CPU_PERIOD_US as f64).round() as u64
}

pub(crate) fn apply(dir: &Path, controller: Controller, limits: &Limits) -> Result<(), CgroupError> {
    match controller {
        Controller::Memory => {
            if let Some(bytes) = limits.memory {
                write_file(dir, "memory.limit_in_bytes", &bytes.to_string())?;
            }
        }
        Controller::Pids => {
            if let Some(max) = limits.pids {
                write_file(dir, "pids.max", &max.to_string())?;
            }
        }
        Controller::Cpu => {
            if let Some(cpus) = limits.cpus {
                write_file(dir, "cpu.cfs_period_us", &CPU_PERIOD_US.to_string())?;
                write_file(dir, "cpu.cfs_quota_us", &cpu_quota_us(cpus).to_string())?;
            }
        }
    }
    Ok(())
}
