//! `events`: runc's event stream for a container — `stats` events (see
//! `cgroup::stats`) every interval, `oom` events as the kernel reports
//! them (v1: an eventfd registered on memory.oom_control; v2: a change of
//! memory.events' oom_kill count), until the container stops.

use super::kill::open_process;
use super::{io_err, ContainerError, Root, Status};
use serde_json::{json, Value};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::time::Duration;

/// One `stats` event of container `id`.
pub fn stats(root: &Root, id: &str) -> Result<Value, ContainerError> {
    let record = root.peek(id)?;
    if record.status() == Status::Stopped {
        return Err(ContainerError::WrongStatus {
            id: id.to_string(),
            status: Status::Stopped,
            what: "a stopped container has no statistics",
        });
    }
    Ok(json!({"type": "stats", "id": id, "data": crate::cgroup::stats::stats(&record.cgroups)}))
}

/// How the kernel tells of an OOM kill in the container's cgroup.
enum OomWatch {
    /// v1: readable once per OOM event.
    EventFd(OwnedFd),
    /// v2: memory.events, which raises POLLPRI when it changes, and the
    /// oom_kill count last seen.
    Events(OwnedFd, std::path::PathBuf, u64),
}

fn oom_kill_count(file: &Path) -> u64 {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("oom_kill ")?.trim().parse().ok())
        .unwrap_or(0)
}

fn watch_oom(dirs: &[crate::cgroup::oci::CgroupDir]) -> Option<OomWatch> {
    use rustix::fs::{Mode, OFlags};
    for d in dirs {
        let control = d.path.join("memory.oom_control");
        if control.exists() {
            let file = rustix::fs::open(&control, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()).ok()?;
            let efd = rustix::event::eventfd(0, rustix::event::EventfdFlags::CLOEXEC).ok()?;
            use std::os::fd::AsRawFd;
            let line = format!("{} {}", efd.as_raw_fd(), file.as_raw_fd());
            std::fs::write(d.path.join("cgroup.event_control"), line).ok()?;
            return Some(OomWatch::EventFd(efd));
        }
        let events = d.path.join("memory.events");
        if events.exists() {
            let fd = rustix::fs::open(&events, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()).ok()?;
            let seen = oom_kill_count(&events);
            return Some(OomWatch::Events(fd, events, seen));
        }
    }
    None
}

/// Emits `stats` events every `interval` and `oom` events as they come,
/// until the container's process ends (or `emit` says stop).
pub fn watch(root: &Root, id: &str, interval: Duration, mut emit: impl FnMut(&Value)) -> Result<(), ContainerError> {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    let record = root.peek(id)?;
    let Some(process) = record.process.as_ref().and_then(open_process) else {
        return Err(ContainerError::WrongStatus {
            id: id.to_string(),
            status: Status::Stopped,
            what: "a stopped container has no events",
        });
    };
    let mut oom = watch_oom(&record.cgroups);
    let timeout = Timespec {
        tv_sec: interval.as_secs() as i64,
        tv_nsec: i64::from(interval.subsec_nanos()),
    };
    loop {
        let mut fds = vec![PollFd::new(&process, PollFlags::IN)];
        match &oom {
            Some(OomWatch::EventFd(fd)) => fds.push(PollFd::new(fd, PollFlags::IN)),
            Some(OomWatch::Events(fd, _, _)) => fds.push(PollFd::new(fd, PollFlags::PRI | PollFlags::ERR)),
            None => {}
        }
        let ready = match poll(&mut fds, Some(&timeout)) {
            Ok(n) => n,
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(io_err(id, "waiting for the container's events")(e.into())),
        };
        let ended = !fds[0].revents().is_empty();
        let oom_ready = fds.get(1).is_some_and(|f| !f.revents().is_empty());
        drop(fds);
        if oom_ready {
            let fired = match &mut oom {
                Some(OomWatch::EventFd(fd)) => {
                    let mut count = [0u8; 8];
                    rustix::io::read(fd.as_fd(), &mut count).is_ok()
                }
                Some(OomWatch::Events(_, file, seen)) => {
                    let now = oom_kill_count(file);
                    let fired = now > *seen;
                    *seen = now;
                    fired
                }
                None => false,
            };
            if fired {
                emit(&json!({"type": "oom", "id": id}));
            }
        }
        if ended {
            return Ok(());
        }
        if ready == 0 {
            emit(&stats(root, id)?);
        }
    }
}
