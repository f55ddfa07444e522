//! `pause` and `resume`: the container's cgroup frozen and thawed (every
//! process of it, not only its first). The record's status follows, but
//! `state` reads the freezer itself (see `Record::status`).

use super::{ContainerError, Root, Status};

pub fn pause(root: &Root, id: &str) -> Result<(), ContainerError> {
    set_paused(root, id, true)
}

pub fn resume(root: &Root, id: &str) -> Result<(), ContainerError> {
    set_paused(root, id, false)
}

fn set_paused(root: &Root, id: &str, paused: bool) -> Result<(), ContainerError> {
    let entry = root.open(id)?;
    let mut record = entry.read()?;
    let status = record.status();
    let (from, to, what) = if paused {
        (
            Status::Running,
            Status::Paused,
            "only a running container can be paused",
        )
    } else {
        (
            Status::Paused,
            Status::Running,
            "only a paused container can be resumed",
        )
    };
    if status != from {
        return Err(ContainerError::WrongStatus {
            id: id.to_string(),
            status,
            what,
        });
    }
    crate::cgroup::freezer::set_frozen(&record.cgroups, paused)?;
    record.status = to;
    entry.write(&record)?;
    Ok(())
}
