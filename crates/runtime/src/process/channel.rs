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
//!                        ◀───   [SeccompListener + its fd]  (a notifying filter)
//!                        ◀───   Ready | Failed { step, message }
//! ```

use rustix::net::{AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType};
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};

/// Why the container's process did not get as far as waiting for `start`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{step}: {message}")]
pub struct InitFailure {
    /// The init step that failed ("mounting mounts[3] at /sys").
    pub step: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// Child → parent: the seccomp filter is loaded; its notification
    /// listener comes with the message (SCM_RIGHTS, see `send_fd`).
    SeccompListener,
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

/// The wire format: a tag byte, then the fields; texts are UTF-8, the
/// first of two texts preceded by its length (u32, little-endian), a code
/// by its four bytes. Hand-made rather than serde: a container start sends
/// `Go` and reads end of file on its hottest path, and that code must stay
/// small (every page of it touched is a page fault per start).
mod tag {
    pub const GO: u8 = 0;
    pub const STATE: u8 = 1;
    pub const RUNTIME_HOOKS: u8 = 2;
    pub const READY: u8 = 3;
    pub const FAILED: u8 = 4;
    pub const COMMAND_FAILED: u8 = 5;
    pub const SECCOMP_LISTENER: u8 = 6;
}

fn cut(text: &str) -> &str {
    let mut end = text.len().min(MAX_MESSAGE / 2);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

fn encode(message: &Message) -> Vec<u8> {
    let mut out = Vec::new();
    match message {
        Message::Go => out.push(tag::GO),
        Message::RuntimeHooks => out.push(tag::RUNTIME_HOOKS),
        Message::Ready => out.push(tag::READY),
        Message::SeccompListener => out.push(tag::SECCOMP_LISTENER),
        Message::State(json) => {
            out.push(tag::STATE);
            out.extend_from_slice(json.as_bytes());
        }
        Message::Failed(f) => {
            let step = cut(&f.step);
            out.push(tag::FAILED);
            out.extend_from_slice(&(step.len() as u32).to_le_bytes());
            out.extend_from_slice(step.as_bytes());
            out.extend_from_slice(cut(&f.message).as_bytes());
        }
        Message::CommandFailed(f) => {
            out.push(tag::COMMAND_FAILED);
            out.extend_from_slice(&f.code.to_le_bytes());
            out.extend_from_slice(cut(&f.message).as_bytes());
        }
    }
    out
}

fn decode(bytes: &[u8]) -> Option<Message> {
    let (&tag, rest) = bytes.split_first()?;
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    Some(match tag {
        tag::GO => Message::Go,
        tag::RUNTIME_HOOKS => Message::RuntimeHooks,
        tag::READY => Message::Ready,
        tag::SECCOMP_LISTENER => Message::SeccompListener,
        tag::STATE => Message::State(text(rest)),
        tag::FAILED => {
            let (len, rest) = rest.split_first_chunk::<4>()?;
            let len = u32::from_le_bytes(*len) as usize;
            let (step, message) = (rest.get(..len)?, rest.get(len..)?);
            Message::Failed(InitFailure {
                step: text(step),
                message: text(message),
            })
        }
        tag::COMMAND_FAILED => {
            let (code, message) = rest.split_first_chunk::<4>()?;
            Message::CommandFailed(crate::exec::Failure {
                code: i32::from_le_bytes(*code),
                message: text(message),
            })
        }
        _ => return None,
    })
}

impl Channel {
    pub fn send(&self, message: &Message) -> io::Result<()> {
        rustix::net::send(&self.0, &encode(message), SendFlags::NOSIGNAL)?;
        Ok(())
    }

    /// Sends `message` with a descriptor attached (SCM_RIGHTS).
    pub fn send_fd(&self, message: &Message, fd: &OwnedFd) -> io::Result<()> {
        nsbox_sys::fdpass::send(&self.0, &encode(message), fd.as_fd())
    }

    /// The next message and the descriptor sent with it, if any.
    pub fn recv_fd(&self) -> io::Result<(Option<Message>, Option<OwnedFd>)> {
        let mut buf = vec![0u8; MAX_MESSAGE];
        let (len, fd) = nsbox_sys::fdpass::recv(&self.0, &mut buf)?;
        if len == 0 {
            return Ok((None, fd));
        }
        let message = decode(&buf[..len])
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "a malformed message on the channel"))?;
        Ok((Some(message), fd))
    }

    /// The next message; None when the other side has closed its end.
    pub fn recv(&self) -> io::Result<Option<Message>> {
        // The message's size first (peeked, nothing copied), so that the
        // buffer is as small as the message: a child just cloned would
        // fault in fresh heap pages for a large one.
        let size = loop {
            let mut none: [u8; 0] = [];
            match rustix::net::recv(&self.0, &mut none, RecvFlags::PEEK | RecvFlags::TRUNC) {
                Ok((_, n)) => break n,
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
        };
        if size == 0 {
            return Ok(None);
        }
        let mut buf = Vec::with_capacity(size);
        // The message is there (peeked): this does not wait.
        rustix::net::recv(&self.0, rustix::buffer::spare_capacity(&mut buf), RecvFlags::empty())?;
        decode(&buf)
            .map(Some)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "a malformed message on the channel"))
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
    fn every_message_survives_the_wire() {
        let messages = [
            Message::Go,
            Message::State("{\"id\":\"é\"}".into()),
            Message::RuntimeHooks,
            Message::Ready,
            Message::Failed(InitFailure {
                step: "mounting".into(),
                message: "no".into(),
            }),
            Message::CommandFailed(crate::exec::Failure {
                code: -3,
                message: "not found".into(),
            }),
        ];
        for m in messages {
            assert_eq!(decode(&encode(&m)), Some(m.clone()), "{m:?}");
        }
        assert_eq!(decode(&[]), None);
        assert_eq!(decode(&[tag::FAILED, 9, 0, 0, 0, b'x']), None, "a length past the end");
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
