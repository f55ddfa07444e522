//! The two pipes between nsbox and the child it creates.
//!
//! - The gate (parent to child): the child waits on it until the parent has
//!   written its uid/gid maps and put it into its cgroups. End of file
//!   without the go byte means the parent gave up or died: the child exits.
//! - The report (child to parent): a child that fails before the command
//!   runs writes its exit code and a message; the write end is close-on-exec,
//!   so a successful exec closes it, and the parent reads end of file.

use crate::exec::Failure;
use std::io::{self, Read, Write};

fn cloexec_pipe() -> io::Result<(std::fs::File, std::fs::File)> {
    let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
    Ok((std::fs::File::from(r), std::fs::File::from(w)))
}

/// The child's side of the gate.
pub struct GateWait(std::fs::File);
/// The parent's side of the gate.
pub struct GateOpen(std::fs::File);

pub fn gate() -> io::Result<(GateWait, GateOpen)> {
    let (r, w) = cloexec_pipe()?;
    Ok((GateWait(r), GateOpen(w)))
}

impl GateWait {
    /// Blocks until the parent opens the gate; false if it never will.
    pub fn wait(mut self) -> bool {
        let mut byte = [0u8; 1];
        loop {
            match self.0.read(&mut byte) {
                Ok(1) => return true,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                _ => return false,
            }
        }
    }
}

impl GateOpen {
    pub fn open(mut self) -> io::Result<()> {
        self.0.write_all(&[1])
    }
}

/// The child's side of the report pipe.
pub struct Reporter(std::fs::File);
/// The parent's side of the report pipe.
pub struct ReportReader(std::fs::File);

pub fn report_pipe() -> io::Result<(ReportReader, Reporter)> {
    let (r, w) = cloexec_pipe()?;
    Ok((ReportReader(r), Reporter(w)))
}

impl Reporter {
    /// Reports `failure` to the parent and exits with its code.
    pub fn fail(mut self, failure: Failure) -> ! {
        let mut msg = failure.code.to_le_bytes().to_vec();
        msg.extend_from_slice(failure.message.as_bytes());
        // A parent that is gone cannot be told; exit all the same.
        let _ = self.0.write_all(&msg);
        nsbox_sys::exit_now(failure.code)
    }
}

impl ReportReader {
    /// Reads until every write end is closed: `None` means the command started.
    pub fn read(mut self) -> io::Result<Option<Failure>> {
        let mut buf = Vec::new();
        self.0.read_to_end(&mut buf)?;
        if buf.len() < 4 {
            return Ok(None);
        }
        let code = i32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]);
        Ok(Some(Failure {
            code,
            message: String::from_utf8_lossy(&buf[4..]).into_owned(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a child would write before exiting: the code, then the message.
    fn reader_of(bytes: &[u8]) -> ReportReader {
        let (reader, Reporter(mut writer)) = report_pipe().unwrap();
        let bytes = bytes.to_vec();
        // A thread, so that a report larger than the pipe's buffer cannot block.
        std::thread::spawn(move || writer.write_all(&bytes).unwrap());
        reader
    }

    #[test]
    fn nothing_written_means_the_command_started() {
        assert_eq!(reader_of(&[]).read().unwrap(), None);
    }

    #[test]
    fn a_failure_is_read_whole_however_long() {
        for len in [0, 10, 4092, 4093, 100_000] {
            let message = "x".repeat(len);
            let mut bytes = 127i32.to_le_bytes().to_vec();
            bytes.extend_from_slice(message.as_bytes());
            let failure = reader_of(&bytes).read().unwrap().expect("a failure");
            assert_eq!((failure.code, failure.message.len()), (127, len));
        }
    }
}
