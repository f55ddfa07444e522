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
