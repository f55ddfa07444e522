//! `ps`: the container's processes, by host PID (its cgroups' members).

use super::{ContainerError, Root};

pub fn pids(root: &Root, id: &str) -> Result<Vec<i32>, ContainerError> {
    let record = root.peek(id)?;
    Ok(crate::cgroup::oci::pids(&record.cgroups))
}
