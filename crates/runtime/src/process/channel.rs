//! Typed messages between the runtime (parent) and the container's process
//! (child) over one socketpair (SOCK_SEQPACKET: one message per send, and
//! end of file when the other side is gone).
//!
//! ```text
//! parent                         child
//!   writes id maps, cgroups
//!   [State(json)]; Go    ───▶
//!                                joins, mounts
//!                        ◀───   [RuntimeHooks]   (prestart, createRuntime)
//!   [Go]                 ───▶   createContainer hooks, pivots, drops privileges
//!                        ◀───   Ready | Failed { step, message }
//! ```

use rustix::net::{AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType};
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};

/// Why the container's process did not get as far as waiting for `start`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, thiserror::Error)]
#[error("{step}: {message}")]
pub struct InitFailure {
    /// The init step that failed ("mounting mounts[3] at /sys").
    pub step: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Message {
    /// Parent → child: the maps are written and the cgroups joined; go on.
    /// (Also the answer to `RuntimeHooks`.)
    Go,
    /// Parent → child, before `Go` when the container has hooks: the state
    /// JSON the hooks the child runs get on their stdin.
    State(String),
    /// Child → parent: the mounts are made; run the prestart and
    /// createRuntime hooks, then say `Go`.
    RuntimeHooks,
    /// Child → parent: set up; blocked until `start`.
    Ready,
    Failed(InitFailure),
    /// Child → parent (`nsbox unshare`): the command did not start, and the
    /// exit status nsbox reports for it. No message at all (end of file:
    /// the child's end closes on exec) means it started.
    CommandFailed(crate::exec::Failure),
}

/// One end of the channel.
#[derive(Debug)]
pub struct Channel(OwnedFd);

/// A connected pair: (parent's end, child's end). Both close on exec.
pub fn pair() -> io::Result<(Channel, Channel)> {
    let (a, b) = rustix::net::socketpair(AddressFamily::UNIX, SocketType::SEQPACKET, SocketFlags::CLOEXEC, None)?;
    Ok((Channel(a), Channel(b)))
}

/// The largest message: a failure's text is cut to fit.
const MAX_MESSAGE: usize = 16 * 1024;

impl Channel {
    pub fn send(&self, message: &Message) -> io::Result<()> {
        let mut bytes = serde_json::to_vec(message).expect("messages serialize");
        if bytes.len() > MAX_MESSAGE {
            let cut = |text: &str| text.chars().take(MAX_MESSAGE / 2).collect::<String>();
            let short = match message {
                Message::Failed(f) => Message::Failed(InitFailure {
                    step: cut(&f.step),
                    message: cut(&f.message),
                }),
                Message::CommandFailed(f) => Message::CommandFailed(crate::exec::Failure {
                    code: f.code,
                    message: cut(&f.message),
                }),
                other => other.clone(),
            };
            bytes = serde_json::to_vec(&short).expect("messages serialize");
        }
        rustix::net::send(&self.0, &bytes, SendFlags::NOSIGNAL)?;
        Ok(())
    }

    /// The next message; None when the other side has closed its end.
    pub fn recv(&self) -> io::Result<Option<Message>> {
        let mut buf = vec![0u8; MAX_MESSAGE + 1024];
        let n = loop {
            match rustix::net::recv(&self.0, &mut buf, RecvFlags::empty()) {
                Ok((n, _)) => break n,
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
        };
        if n == 0 {
            return Ok(None);
        }
        serde_json::from_slice(&buf[..n])
            .map(Some)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }

    /// Reports that the command did not start, and exits with its code.
    pub fn fail_command(self, failure: crate::exec::Failure) -> ! {
        let code = failure.code;
        // A parent that is gone cannot be told; exit all the same.
        let _ = self.send(&Message::CommandFailed(failure));
        nsbox_sys::exit_now(code)
    }

    pub fn raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_cross_whole_and_eof_is_none() {
        let (a, b) = pair().unwrap();
        a.send(&Message::Go).unwrap();
        let failure = InitFailure {
            step: "mounting".into(),
            message: "x".repeat(100_000),
        };
        b.send(&Message::Failed(failure)).unwrap();
        assert_eq!(b.recv().unwrap(), Some(Message::Go));
        match a.recv().unwrap() {
            Some(Message::Failed(f)) => assert_eq!((f.step.as_str(), f.message.len()), ("mounting", MAX_MESSAGE / 2)),
            other => panic!("{other:?}"),
        }
        drop(b);
        assert_eq!(a.recv().unwrap(), None);
    }

    #[test]
    fn a_command_failure_crosses_whole_or_cut_however_long() {
        for len in [0, 10, 4093, 100_000] {
            let (a, b) = pair().unwrap();
            let failure = crate::exec::Failure {
                code: 127,
                message: "x".repeat(len),
            };
            b.send(&Message::CommandFailed(failure)).unwrap();
            match a.recv().unwrap() {
                Some(Message::CommandFailed(f)) => {
                    assert_eq!(f.code, 127);
                    assert_eq!(f.message.len(), len.min(MAX_MESSAGE / 2));
                }
                other => panic!("{other:?}"),
            }
        }
    }
}
