//! `delete`: removes a stopped container (a created one is killed first,
//! as runc does; a running one only with `--force`). Only what `create`
//! recorded is removed: its cgroups that it made, its directory. An id that
//! does not exist is an error, except with `--force` (engines delete twice).

use super::kill::{open_process, signal_container};
use super::{ContainerError, Root, Status, StoreError};
use std::time::Duration;

pub fn delete(root: &Root, id: &str, force: bool) -> Result<(), ContainerError> {
    let entry = match root.open(id) {
        Ok(entry) => entry,
        Err(StoreError::NotFound(_)) if force => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let record = match entry.read() {
        Ok(record) => record,
        // A directory without a record: a create that died before writing one.
        Err(StoreError::Io { .. }) if force => return entry.remove().map_err(Into::into),
        Err(e) => return Err(e.into()),
    };
    let status = record.status();
    match status {
        // A record a killed `create` left may still name a live process
        // (one that had been set up): it goes too.
        Status::Stopped | Status::Created | Status::Creating => stop(&record)?,
        _ if force => stop(&record)?,
        _ => {
            return Err(ContainerError::WrongStatus {
                id: id.to_string(),
                status,
                what: "it must be stopped first (or use --force)",
            })
        }
    }
    let pin = entry.netns_pin();
    if let Err(source) = super::net_devices::move_back(&pin, &record.net_devices) {
        let e = ContainerError::NetDevice {
            id: id.to_string(),
            source,
        };
        if !force {
            // The pin and the record stay: a second delete can try again.
            return Err(e);
        }
        eprintln!("nsbox: warning: {e}");
    }
    super::net_devices::unpin(&pin);
    crate::cgroup::oci::remove(&record.cgroups)?;
    let state = record.hook_state(Status::Stopped, None);
    if let Err(e) = crate::hooks::run_all("poststop", &record.hooks.poststop, &state) {
        // The spec has poststop failures logged, and the delete goes on.
        eprintln!("nsbox: warning: container {id}: {e}");
    }
    entry.remove()?;
    Ok(())
}

/// Kills every process of the container and waits until its process is gone.
fn stop(record: &super::Record) -> Result<(), ContainerError> {
    let Some(who) = record.process else { return Ok(()) };
    let Some(pidfd) = open_process(&who) else { return Ok(()) };
    signal_container(record, libc::SIGKILL, true).map_err(super::io_err(&record.id, "killing the container"))?;
    // A pidfd is readable once its process has ended (reaped or not).
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    let mut fds = [PollFd::new(&pidfd, PollFlags::IN)];
    let limit = Duration::from_secs(10);
    let timeout = Timespec {
        tv_sec: limit.as_secs() as i64,
        tv_nsec: 0,
    };
    match poll(&mut fds, Some(&timeout)) {
        Ok(n) if n > 0 => Ok(()),
        _ => Err(ContainerError::Io {
            id: record.id.clone(),
            step: "waiting for the killed container to end",
            source: std::io::Error::from_raw_os_error(libc::ETIMEDOUT),
        }),
    }
}
