//! A container's status as runc's state machine has it (creating, created,
//! running, paused, stopped, and the moves allowed between them), and the
//! identity of its process: a PID with the time the kernel started it, so
//! that a PID the kernel has given to another process since is never taken
//! for the container's.

use std::io;

/// Where a container is in its life (`state`'s `status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// `create` is setting it up.
    Creating,
    /// Set up, its process waiting for `start`.
    Created,
    Running,
    /// Frozen (`pause`).
    Paused,
    /// Its process has ended (or was never there).
    Stopped,
}

impl Status {
    /// Whether a container may go from this status to `next`, as runc
    /// allows: created → running (start), running ⇄ paused, and any live
    /// one → stopped (its process ends, or `kill`).
    pub fn may_become(self, next: Status) -> bool {
        use Status::*;
        matches!(
            (self, next),
            (Creating, Created)
                | (Creating | Created | Running | Paused, Stopped)
                | (Created, Running)
                | (Running, Paused)
                | (Paused, Running)
        )
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        })
    }
}

/// A process as the kernel knows it: its PID and its start time (clock
/// ticks after boot, `/proc/PID/stat`'s 22nd field). Two processes that
/// have the same PID one after the other never have the same start time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProcessIdentity {
    pub pid: i32,
    pub start_time: u64,
}

impl ProcessIdentity {
    /// The identity of the process `pid` now.
    pub fn of(pid: i32) -> io::Result<ProcessIdentity> {
        let (_, start_time) = stat(pid)?;
        Ok(ProcessIdentity { pid, start_time })
    }

    /// Whether this very process still runs: its PID is taken, by a
    /// process started at the same time, which is not a zombie (a process
    /// that has ended but was not reaped yet has stopped).
    pub fn is_alive(&self) -> bool {
        matches!(stat(self.pid), Ok((state, start)) if start == self.start_time && state != 'Z' && state != 'X')
    }
}

/// The state letter and start time of process `pid`, from `/proc/PID/stat`:
/// `PID (COMM) STATE PPID ...`, where COMM may hold spaces and parentheses,
/// so the fields are counted after its last `)`.
fn stat(pid: i32) -> io::Result<(char, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    parse_stat(&text).ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, format!("/proc/{pid}/stat: {text:?}")))
}

fn parse_stat(text: &str) -> Option<(char, u64)> {
    let (_, after_comm) = text.rsplit_once(')')?;
    let fields: Vec<&str> = after_comm.split_whitespace().collect();
    // After COMM: field 3 (state) is the first, field 22 (starttime) the 20th.
    let state = fields.first()?.chars().next()?;
    let start_time = fields.get(19)?.parse().ok()?;
    Some((state, start_time))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_moves_runc_allows_and_no_others() {
        use Status::*;
        let all = [Creating, Created, Running, Paused, Stopped];
        let allowed: Vec<(Status, Status)> = all
            .iter()
            .flat_map(|a| all.iter().map(move |b| (*a, *b)))
            .filter(|(a, b)| a.may_become(*b))
            .collect();
        assert_eq!(
            allowed,
            vec![
                (Creating, Created),
                (Creating, Stopped),
                (Created, Running),
                (Created, Stopped),
                (Running, Paused),
                (Running, Stopped),
                (Paused, Running),
                (Paused, Stopped),
            ]
        );
        assert_eq!(serde_json::to_string(&Running).unwrap(), "\"running\"");
        assert_eq!(Paused.to_string(), "paused");
    }

    #[test]
    fn a_command_name_with_parentheses_and_spaces_is_read_past() {
        let text = "4242 (a (weird) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10";
        assert_eq!(parse_stat(text), Some(('S', 987654)));
        assert_eq!(parse_stat("nonsense"), None);
    }

    #[test]
    fn a_process_is_alive_until_it_ends_even_unreaped_and_a_reused_pid_is_not_it() {
        let me = ProcessIdentity::of(std::process::id() as i32).unwrap();
        assert!(me.is_alive());
        // Another start time under the same PID: another process.
        let impostor = ProcessIdentity {
            start_time: me.start_time + 1,
            ..me
        };
        assert!(!impostor.is_alive());
        let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
        let it = ProcessIdentity::of(child.id() as i32).unwrap();
        assert!(it.is_alive());
        child.kill().unwrap();
        // Dead, not reaped yet: a zombie has stopped.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while it.is_alive() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert!(!it.is_alive(), "a killed, unreaped child has stopped");
        child.wait().unwrap();
        assert!(!it.is_alive(), "reaped (its PID may be another's by now)");
    }
}
