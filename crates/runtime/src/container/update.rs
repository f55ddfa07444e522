//! `update`: new resources for a running (or paused, or created)
//! container, written to its cgroups and recorded.

use super::{ContainerError, Root, Status};
use crate::config::Resources;

pub fn update(root: &Root, id: &str, new: &Resources) -> Result<(), ContainerError> {
    let entry = root.open(id)?;
    let mut record = entry.read()?;
    let status = record.status();
    if status == Status::Stopped {
        return Err(ContainerError::WrongStatus {
            id: id.to_string(),
            status,
            what: "a stopped container has no resources to update",
        });
    }
    record.resources = crate::cgroup::update::update(&record.cgroups, &record.resources, new)?;
    entry.write(&record)?;
    Ok(())
}
