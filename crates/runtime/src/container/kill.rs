//! `kill`: a signal to the container's process (or, with `--all`, to every
//! process of the container), through a pidfd checked against the
//! recorded identity, so that a PID reused by another process is never
//! signalled.

use super::{io_err, ContainerError, ProcessIdentity, Record, Root, Status};
use std::os::fd::OwnedFd;

/// Signal names as runc takes them (`TERM`, `SIGTERM`) and numbers (`15`).
pub fn parse_signal(text: &str) -> Option<i32> {
    if let Ok(n) = text.parse::<i32>() {
        return (1..=libc::SIGRTMAX()).contains(&n).then_some(n);
    }
    let upper = text.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    let number = match name {
        "HUP" => libc::SIGHUP,
        "INT" => libc::SIGINT,
        "QUIT" => libc::SIGQUIT,
        "ILL" => libc::SIGILL,
        "TRAP" => libc::SIGTRAP,
        "ABRT" | "IOT" => libc::SIGABRT,
        "BUS" => libc::SIGBUS,
        "FPE" => libc::SIGFPE,
        "KILL" => libc::SIGKILL,
        "USR1" => libc::SIGUSR1,
        "SEGV" => libc::SIGSEGV,
        "USR2" => libc::SIGUSR2,
        "PIPE" => libc::SIGPIPE,
        "ALRM" => libc::SIGALRM,
        "TERM" => libc::SIGTERM,
        "STKFLT" => libc::SIGSTKFLT,
        "CHLD" | "CLD" => libc::SIGCHLD,
        "CONT" => libc::SIGCONT,
        "STOP" => libc::SIGSTOP,
        "TSTP" => libc::SIGTSTP,
        "TTIN" => libc::SIGTTIN,
        "TTOU" => libc::SIGTTOU,
        "URG" => libc::SIGURG,
        "XCPU" => libc::SIGXCPU,
        "XFSZ" => libc::SIGXFSZ,
        "VTALRM" => libc::SIGVTALRM,
        "PROF" => libc::SIGPROF,
        "WINCH" => libc::SIGWINCH,
        "IO" | "POLL" => libc::SIGIO,
        "PWR" => libc::SIGPWR,
        "SYS" => libc::SIGSYS,
        _ => return None,
    };
    Some(number)
}

/// A pidfd on the process `who`, if it is still that very process.
pub(crate) fn open_process(who: &ProcessIdentity) -> Option<OwnedFd> {
    let pid = rustix::process::Pid::from_raw(who.pid)?;
    let fd = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()).ok()?;
    // Checked after opening: the pidfd holds the process that had the PID
    // then, and if that is still ours now, it was ours then.
    who.is_alive().then_some(fd)
}

pub fn kill(root: &Root, id: &str, signal: i32, all: bool) -> Result<(), ContainerError> {
    let entry = root.open(id)?;
    let record = entry.read()?;
    let status = record.status();
    if status == Status::Stopped {
        return Err(ContainerError::WrongStatus {
            id: id.to_string(),
            status,
            what: "container not running",
        });
    }
    signal_container(&record, signal, all).map_err(io_err(id, "sending the signal"))
}

/// Sends `signal` to the container's process, or with `all` to each of its
/// processes: those in its pid namespace, or in its cgroups.
pub(crate) fn signal_container(record: &Record, signal: i32, all: bool) -> std::io::Result<()> {
    let Some(who) = record.process else { return Ok(()) };
    let Some(pidfd) = open_process(&who) else { return Ok(()) };
    if all {
        for pid in members(record, who.pid) {
            if pid != who.pid {
                let _ = nsbox_sys::kill(pid, signal);
            }
        }
    }
    let sent = match nsbox_sys::pidfd_send_signal(&pidfd, signal) {
        // Ended meanwhile: nothing left to signal.
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(()),
        other => other,
    };
    // A frozen process dies of SIGKILL only once thawed (v1's freezer):
    // a paused container that is killed is thawed, as runc does.
    if signal == libc::SIGKILL && crate::cgroup::freezer::is_frozen(&record.cgroups) == Some(true) {
        let _ = crate::cgroup::freezer::set_frozen(&record.cgroups, false);
    }
    sent
}

/// The container's processes (host PIDs).
pub(crate) fn members(record: &Record, pid: i32) -> Vec<i32> {
    if record.own_pid_ns {
        let Ok(ns) = std::fs::metadata(format!("/proc/{pid}/ns/pid")) else {
            return Vec::new();
        };
        use std::os::unix::fs::MetadataExt;
        let ino = ns.ino();
        std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
            .filter(|p| std::fs::metadata(format!("/proc/{p}/ns/pid")).is_ok_and(|m| m.ino() == ino))
            .collect()
    } else if !record.cgroups.is_empty() {
        crate::cgroup::oci::pids(&record.cgroups)
    } else {
        vec![pid]
    }
}

#[cfg(test)]
mod tests {
    use super::parse_signal;

    #[test]
    fn signals_by_name_with_or_without_sig_and_by_number() {
        assert_eq!(parse_signal("TERM"), Some(libc::SIGTERM));
        assert_eq!(parse_signal("SIGKILL"), Some(libc::SIGKILL));
        assert_eq!(parse_signal("sigusr1"), Some(libc::SIGUSR1));
        assert_eq!(parse_signal("9"), Some(9));
        assert_eq!(parse_signal("0"), None);
        assert_eq!(parse_signal("SIGNOPE"), None);
        assert_eq!(parse_signal("99"), None);
    }
}
