//! net_cls and net_prio: v1 only (v2 has neither; a container's traffic is
//! classified by its cgroup path there, with BPF).

use crate::cgroup::{write_file, CgroupError};
use crate::config::resources::Network;
use std::path::Path;

pub(super) fn v1(controller: &str, dir: &Path, n: &Network) -> Result<(), CgroupError> {
    if controller == "net_cls" {
        if let Some(id) = n.class_id {
            write_file(dir, "net_cls.classid", &id.to_string())?;
        }
        return Ok(());
    }
    for (interface, priority) in &n.priorities {
        write_file(dir, "net_prio.ifpriomap", &format!("{interface} {priority}"))?;
    }
    Ok(())
}

pub(super) fn check_v2(n: &Network) -> Result<(), CgroupError> {
    if n.class_id.is_some() || !n.priorities.is_empty() {
        return Err(CgroupError::Unsupported(
            "linux.resources.network on cgroup v2 (net_cls and net_prio exist on v1 only)",
        ));
    }
    Ok(())
}
