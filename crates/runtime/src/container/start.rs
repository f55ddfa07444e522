//! `start`: releases a created container's process. It connects to the
//! socket the process waits on; the process answers one byte and execs,
//! which closes the connection (close-on-exec). Anything it writes after
//! the byte is why exec failed.

use super::{io_err, ContainerError, Root, Status};
use std::io::Read;
use std::os::fd::AsRawFd;

pub fn start(root: &Root, id: &str) -> Result<(), ContainerError> {
    let entry = root.open(id)?;
    let mut record = entry.read()?;
    let status = record.status();
    if status != Status::Created {
        return Err(ContainerError::WrongStatus {
            id: id.to_string(),
            status,
            what: "only a created container can be started",
        });
    }
    let dir = std::fs::File::open(entry.dir()).map_err(io_err(id, "opening the container's directory"))?;
    let path = format!("/proc/self/fd/{}/exec.sock", dir.as_raw_fd());
    let mut stream =
        std::os::unix::net::UnixStream::connect(&path).map_err(io_err(id, "connecting to the container's process"))?;
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .map_err(io_err(id, "waiting for the container's process to exec"))?;
    let _ = std::fs::remove_file(entry.start_socket());
    match answer.split_first() {
        Some((1, [])) => {
            record.status = Status::Running;
            entry.write(&record)?;
            let pid = record.process.map(|p| p.pid);
            let state = record.hook_state(Status::Running, pid);
            if let Err(source) = crate::hooks::run_all("poststart", &record.hooks.poststart, &state) {
                // Spec 1.3: a failed poststart hook fails the start; the
                // container does not run on unnoticed.
                let _ = super::kill::signal_container(&record, libc::SIGKILL, true);
                return Err(ContainerError::Hook {
                    id: id.to_string(),
                    source,
                });
            }
            Ok(())
        }
        Some((1, why)) => {
            record.status = Status::Stopped;
            entry.write(&record)?;
            Err(ContainerError::Io {
                id: id.to_string(),
                step: "starting the container's program",
                source: std::io::Error::other(String::from_utf8_lossy(why).into_owned()),
            })
        }
        _ => Err(ContainerError::Io {
            id: id.to_string(),
            step: "starting the container's program",
            source: std::io::Error::other("the container's process ended before it was started"),
        }),
    }
}
