//! memory: v1's limit, memory+swap, soft limit, kernel TCP, OOM killer,
//! swappiness and hierarchy files; v2's memory.max, memory.low and
//! memory.swap.max (swap alone: the spec's value is memory+swap).

use crate::cgroup::{write_file, CgroupError};
use crate::config::resources::Memory;
use std::path::Path;

fn limit_text(v: i64) -> String {
    if v < 0 {
        "-1".into()
    } else {
        v.to_string()
    }
}

pub(super) fn v1(dir: &Path, m: &Memory) -> Result<(), CgroupError> {
    // Unlimited memory and no word on swap: swap unlimited too (runc).
    let swap = match (m.limit, m.swap) {
        (Some(-1), None) => Some(-1),
        (_, swap) => swap,
    };
    match (m.limit, swap) {
        // The kernel keeps memory <= memory+swap at every write: raise the
        // one that grows first.
        (Some(limit), Some(swap)) => {
            let current = read_i64(dir, "memory.limit_in_bytes").unwrap_or(0);
            if swap < 0 || current < swap {
                write_file(dir, "memory.memsw.limit_in_bytes", &limit_text(swap))?;
                write_file(dir, "memory.limit_in_bytes", &limit_text(limit))?;
            } else {
                write_file(dir, "memory.limit_in_bytes", &limit_text(limit))?;
                write_file(dir, "memory.memsw.limit_in_bytes", &limit_text(swap))?;
            }
        }
        (Some(limit), None) => write_file(dir, "memory.limit_in_bytes", &limit_text(limit))?,
        (None, Some(swap)) => write_file(dir, "memory.memsw.limit_in_bytes", &limit_text(swap))?,
        (None, None) => {}
    }
    if let Some(v) = m.reservation {
        write_file(dir, "memory.soft_limit_in_bytes", &limit_text(v))?;
    }
    if let Some(v) = m.kernel_tcp {
        write_file(dir, "memory.kmem.tcp.limit_in_bytes", &limit_text(v))?;
    }
    if m.disable_oom_killer == Some(true) {
        write_file(dir, "memory.oom_control", "1")?;
    }
    if let Some(v) = m.swappiness {
        write_file(dir, "memory.swappiness", &v.to_string())?;
    }
    if let Some(v) = m.use_hierarchy {
        write_file(dir, "memory.use_hierarchy", if v { "1" } else { "0" })?;
    }
    Ok(())
}

pub(super) fn check_v2(m: &Memory) -> Result<(), CgroupError> {
    let refusals = [
        (m.kernel_tcp.is_some(), "linux.resources.memory.kernelTCP on cgroup v2"),
        (
            m.swappiness.is_some(),
            "linux.resources.memory.swappiness on cgroup v2 (it has none)",
        ),
        (
            m.disable_oom_killer == Some(true),
            "linux.resources.memory.disableOOMKiller on cgroup v2 (it has no such switch)",
        ),
        (
            m.use_hierarchy == Some(false),
            "linux.resources.memory.useHierarchy false on cgroup v2 (always hierarchical)",
        ),
    ];
    match refusals.iter().find(|(refused, _)| *refused) {
        Some((_, what)) => Err(CgroupError::Unsupported(what)),
        None => swap_v2(m).map(drop),
    }
}

/// memory.swap.max from the spec's memory+swap (runc's conversion): None
/// leaves it, -1 is `max`.
fn swap_v2(m: &Memory) -> Result<Option<i64>, CgroupError> {
    let memory = m.limit.unwrap_or(0);
    let swap = m.swap.unwrap_or(0);
    if memory == -1 && swap == 0 {
        return Ok(Some(-1));
    }
    if swap == -1 {
        return Ok(Some(-1));
    }
    if swap == 0 {
        return Ok(None);
    }
    if memory <= 0 {
        return Err(CgroupError::Unsupported(
            "linux.resources.memory.swap without a memory limit on cgroup v2",
        ));
    }
    if swap < memory {
        return Err(CgroupError::Unsupported(
            "linux.resources.memory.swap below the memory limit (it is memory+swap)",
        ));
    }
    Ok(Some(swap - memory))
}

fn max_text(v: i64) -> String {
    if v < 0 {
        "max".into()
    } else {
        v.to_string()
    }
}

pub(super) fn v2(dir: &Path, m: &Memory) -> Result<(), CgroupError> {
    let swap = swap_v2(m)?;
    // As on v1: the swap file first when the limit grows.
    if let Some(swap) = swap {
        write_file(dir, "memory.swap.max", &max_text(swap))?;
    }
    if let Some(v) = m.limit {
        write_file(dir, "memory.max", &max_text(v))?;
    }
    if let Some(v) = m.reservation {
        write_file(dir, "memory.low", &max_text(v))?;
    }
    Ok(())
}

fn read_i64(dir: &Path, file: &str) -> Option<i64> {
    std::fs::read_to_string(dir.join(file)).ok()?.trim().parse().ok()
}

/// With `checkBeforeUpdate`, a new limit below what the cgroup uses now
/// is refused before anything is written (v1 `memory.usage_in_bytes`, v2
/// `memory.current`).
pub(crate) fn check_before_update(dir: &Path, m: &Memory) -> Result<(), CgroupError> {
    let (Some(true), Some(limit)) = (m.check_before_update, m.limit) else {
        return Ok(());
    };
    let used = read_i64(dir, "memory.current").or_else(|| read_i64(dir, "memory.usage_in_bytes"));
    match used {
        Some(used) if limit >= 0 && used > limit => Err(CgroupError::Write {
            path: dir.join("memory.max"),
            value: limit.to_string(),
            source: std::io::Error::other(format!(
                "checkBeforeUpdate: the container uses {used} bytes, more than the new limit"
            )),
        }),
        _ => Ok(()),
    }
}
