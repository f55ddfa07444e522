//! Changing a running container's resources: the new values are written
//! to each of its cgroups; if the kernel refuses one, the old values are
//! written back (best effort) and the refusal, naming the file and the
//! value, is the answer — the container keeps its old limits, as runc's.

use super::oci::CgroupDir;
use super::{resources, CgroupError, Layout};
use crate::config::Resources;

/// Writes `new` (only the fields it sets) over `old` into `dirs`; returns
/// the resources the container has now.
pub fn update(dirs: &[CgroupDir], old: &Resources, new: &Resources) -> Result<Resources, CgroupError> {
    let layout = Layout::detect()?;
    let merged = merge(old, new);
    match &layout {
        Layout::V2(_) => resources::check_v2(&merged)?,
        Layout::V1(_) => resources::check_v1(&merged)?,
    }
    for dir in dirs {
        resources::check_before_update(&dir.path, &new.memory)?;
    }
    if let Err(e) = write(&layout, dirs, new) {
        let _ = write(&layout, dirs, old);
        return Err(e);
    }
    Ok(merged)
}

fn write(layout: &Layout, dirs: &[CgroupDir], r: &Resources) -> Result<(), CgroupError> {
    match layout {
        Layout::V2(_) => dirs.iter().try_for_each(|d| resources::apply_v2(&d.path, r)),
        Layout::V1(hierarchies) => {
            for dir in dirs {
                let names = hierarchies
                    .iter()
                    .find(|(root, _)| dir.path.starts_with(root))
                    .map(|(_, names)| names.as_slice())
                    .unwrap_or_default();
                for name in names {
                    resources::apply_v1(name, &dir.path, r)?;
                }
            }
            // A controller the update needs that the container is not in.
            for controller in r.v1_controllers() {
                let root = layout.hierarchy_of(controller)?;
                if controller != "devices" && !dirs.iter().any(|d| d.path.starts_with(root)) {
                    return Err(CgroupError::NoController(controller));
                }
            }
            Ok(())
        }
    }
}

/// `old` with every field `new` sets replaced (devices are not updated).
pub fn merge(old: &Resources, new: &Resources) -> Resources {
    macro_rules! take {
        ($out:ident . $group:ident { $($field:ident),* }) => {
            $( if new.$group.$field.is_some() { $out.$group.$field = new.$group.$field.clone(); } )*
        };
    }
    let mut out = old.clone();
    take!(out.memory {
        limit,
        reservation,
        swap,
        kernel_tcp,
        swappiness,
        disable_oom_killer,
        use_hierarchy,
        check_before_update
    });
    take!(out.cpu {
        shares,
        quota,
        burst,
        period,
        realtime_runtime,
        realtime_period,
        cpus,
        mems,
        idle
    });
    take!(out.block_io { weight, leaf_weight });
    take!(out.network { class_id });
    if new.pids_limit.is_some() {
        out.pids_limit = new.pids_limit;
    }
    let b = &new.block_io;
    for (list, from) in [
        (&mut out.block_io.throttle_read_bps, &b.throttle_read_bps),
        (&mut out.block_io.throttle_write_bps, &b.throttle_write_bps),
        (&mut out.block_io.throttle_read_iops, &b.throttle_read_iops),
        (&mut out.block_io.throttle_write_iops, &b.throttle_write_iops),
    ] {
        if !from.is_empty() {
            *list = from.clone();
        }
    }
    if !b.weight_device.is_empty() {
        out.block_io.weight_device = b.weight_device.clone();
    }
    out.hugepage_limits.extend(new.hugepage_limits.clone());
    out.rdma.extend(new.rdma.clone());
    out.unified.extend(new.unified.clone());
    if !new.network.priorities.is_empty() {
        out.network.priorities = new.network.priorities.clone();
    }
    out
}
