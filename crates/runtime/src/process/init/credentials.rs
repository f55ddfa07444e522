//! Who the container's process is: rlimits, user and groups, capabilities,
//! in runc's order (bounding set dropped while still root, capabilities
//! kept across the uid change, then set exactly).

use super::rx;
use crate::config::{Capabilities, Process, Rlimit};
use crate::process::channel::InitFailure;
use rustix::process::{Gid, Uid};
use rustix::thread::CapabilitySet;

/// A process starts in a new user namespace as whatever its outside uid
/// maps to; where root is mapped, it becomes root.
pub(super) fn become_root() -> rustix::io::Result<()> {
    rustix::thread::set_thread_res_gid(Gid::ROOT, Gid::ROOT, Gid::ROOT)?;
    rustix::thread::set_thread_res_uid(Uid::ROOT, Uid::ROOT, Uid::ROOT)
}

pub(super) fn set_rlimits(limits: &[Rlimit]) -> Result<(), InitFailure> {
    let value = |v: u64| (v != u64::MAX).then_some(v);
    for limit in limits {
        let wanted = rustix::process::Rlimit {
            current: value(limit.soft),
            maximum: value(limit.hard),
        };
        rustix::process::setrlimit(limit.resource, wanted).map_err(rx(format!(
            "setting {} to soft {} hard {}",
            limit.name, limit.soft, limit.hard
        )))?;
    }
    Ok(())
}

/// Sets groups, gid and uid, and then the capability sets the config
/// asks for (or, without `capabilities`, leaves them to the kernel's rules).
pub(super) fn switch_user(process: &Process) -> Result<(), InitFailure> {
    if let Some(caps) = &process.capabilities {
        drop_bounding(caps.bounding)?;
        // Keep the permitted set across the uid change; it is set exactly below.
        rustix::thread::set_keep_capabilities(true).map_err(rx("keeping capabilities across the user change"))?;
    }
    let groups: Vec<Gid> = process.additional_gids.iter().map(|&g| Gid::from_raw(g)).collect();
    rustix::thread::set_thread_groups(&groups).map_err(rx(format!(
        "setting process.user.additionalGids {:?}",
        process.additional_gids
    )))?;
    let gid = Gid::from_raw(process.gid);
    rustix::thread::set_thread_res_gid(gid, gid, gid).map_err(rx(format!("setting gid {}", process.gid)))?;
    let uid = Uid::from_raw(process.uid);
    rustix::thread::set_thread_res_uid(uid, uid, uid).map_err(rx(format!("setting uid {}", process.uid)))?;
    if let Some(caps) = &process.capabilities {
        set_capabilities(caps)?;
        rustix::thread::set_keep_capabilities(false).map_err(rx("clearing keep-capabilities"))?;
    }
    Ok(())
}

/// The highest capability number this kernel knows.
fn last_capability() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40)
}

fn drop_bounding(keep: u64) -> Result<(), InitFailure> {
    for n in 0..=last_capability().min(63) {
        let bit = 1u64 << n;
        if keep & bit == 0 {
            rustix::thread::remove_capability_from_bounding_set(CapabilitySet::from_bits_retain(bit))
                .map_err(rx(format!("dropping capability {n} from the bounding set")))?;
        }
    }
    Ok(())
}

fn set_capabilities(caps: &Capabilities) -> Result<(), InitFailure> {
    let set = |bits: u64| CapabilitySet::from_bits_retain(bits);
    rustix::thread::set_capabilities(
        None,
        rustix::thread::CapabilitySets {
            effective: set(caps.effective),
            permitted: set(caps.permitted),
            inheritable: set(caps.inheritable),
        },
    )
    .map_err(rx("setting process.capabilities (effective, permitted, inheritable)"))?;
    rustix::thread::clear_ambient_capability_set().map_err(rx("clearing the ambient capabilities"))?;
    for n in 0..64 {
        let bit = 1u64 << n;
        if caps.ambient & bit == 0 {
            continue;
        }
        // The kernel raises an ambient capability only if it is permitted
        // and inheritable; runc skips the others (with a warning), and
        // so do specs made for it (`runc spec` has no inheritable set).
        if caps.permitted & caps.inheritable & bit == 0 {
            continue;
        }
        rustix::thread::configure_capability_in_ambient_set(CapabilitySet::from_bits_retain(bit), true)
            .map_err(rx(format!("raising ambient capability {n}")))?;
    }
    Ok(())
}
