//! A synchronous rtnetlink socket: one request at a time, acknowledged or
//! dumped, with sequence numbers checked and kernel errors (with their
//! extended-ack text) mapped to [`NetError`].

use crate::error::NetError;
use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_DUMP, NLM_F_DUMP_INTR, NLM_F_MULTIPART,
    NLM_F_REQUEST,
};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};
use std::os::fd::BorrowedFd;

/// How many times a dump that the kernel marks as interrupted (the table
/// changed under it) is retried before giving up.
const DUMP_RETRIES: usize = 5;

/// A decoded reply, with the kernel's extended-ack text when it is a
/// refusal that carries one.
struct Reply {
    message: NetlinkMessage<RouteNetlinkMessage>,
    detail: Option<String>,
}

/// One request of a batch: the message, its extra flags, and the words
/// that name it in an error.
pub type Request = (RouteNetlinkMessage, u16, String);

/// An rtnetlink socket bound to one network namespace.
pub struct Netlink {
    socket: Socket,
    seq: u32,
    buf: Vec<u8>,
}

pub(crate) fn socket_err(step: &'static str) -> impl FnOnce(std::io::Error) -> NetError {
    move |source| NetError::Socket { step, source }
}

impl Netlink {
    /// A socket in the calling thread's network namespace.
    pub fn open() -> Result<Self, NetError> {
        let mut socket = Socket::new(NETLINK_ROUTE).map_err(socket_err("creating"))?;
        socket.bind_auto().map_err(socket_err("binding"))?;
        socket
            .connect(&SocketAddr::new(0, 0))
            .map_err(socket_err("connecting"))?;
        // Extended acks carry the kernel's reason for a refusal; capped acks
        // do not echo the whole request back. Both are optional niceties.
        let _ = socket.set_ext_ack(true);
        let _ = socket.set_cap_ack(true);
        Ok(Netlink {
            socket,
            seq: 0,
            buf: Vec::with_capacity(64 * 1024),
        })
    }

    /// A socket in the network namespace that `ns` (an nsfs file descriptor,
    /// such as an open `/run/netns/NAME`) refers to. The socket is made on
    /// a throwaway thread that joins the namespace; the socket stays bound
    /// there, and no thread of the caller changes namespace.
    pub fn open_in(ns: BorrowedFd<'_>) -> Result<Self, NetError> {
        let ns = ns
            .try_clone_to_owned()
            .map_err(socket_err("duplicating the namespace fd"))?;
        nsbox_ns::netns::run_in_fd(&ns, Netlink::open)?
    }

    /// A socket in the named network namespace `name` (under /run/netns).
    pub fn open_named(registry: &nsbox_ns::netns::Registry, name: &str) -> Result<Self, NetError> {
        let fd = registry.open(name)?;
        Self::open_in(std::os::fd::AsFd::as_fd(&fd))
    }

    fn send(&mut self, message: RouteNetlinkMessage, flags: u16) -> Result<u32, NetError> {
        self.seq = self.seq.wrapping_add(1);
        let bytes = encode(message, flags, self.seq);
        self.socket.send(&bytes, 0).map_err(socket_err("sending"))?;
        Ok(self.seq)
    }

    /// Receives one datagram and decodes every message in it.
    fn receive_all(&mut self) -> Result<Vec<Reply>, NetError> {
        self.buf.clear();
        self.socket.recv(&mut self.buf, 0).map_err(socket_err("receiving"))?;
        let mut out = Vec::new();
        let mut offset = 0;
        while offset + 16 <= self.buf.len() {
            let len = u32::from_ne_bytes(self.buf[offset..offset + 4].try_into().expect("4 bytes")) as usize;
            if len < 16 || offset + len > self.buf.len() {
                return Err(NetError::Protocol(format!("truncated message of {len} bytes")));
            }
            let part = &self.buf[offset..offset + len];
            let message = NetlinkMessage::<RouteNetlinkMessage>::deserialize(part)
                .map_err(|e| NetError::Protocol(format!("undecodable reply: {e}")))?;
            let refused = matches!(&message.payload, NetlinkPayload::Error(e) if e.code.is_some());
            let detail = if refused { extended_ack_message(part) } else { None };
            out.push(Reply { message, detail });
            offset += (len + 3) & !3;
        }
        Ok(out)
    }

    /// The messages of one datagram that answer `seq`; replies to an earlier
    /// request that was given up on are skipped.
    fn receive(&mut self, seq: u32) -> Result<Vec<Reply>, NetError> {
        let mut replies = self.receive_all()?;
        replies.retain(|r| r.message.header.sequence_number == seq);
        Ok(replies)
    }

    /// Sends `message` and waits for the kernel's acknowledgement. `op`
    /// names the operation and its object for the error, if any.
    pub fn request(
        &mut self,
        message: RouteNetlinkMessage,
        flags: u16,
        op: impl FnOnce() -> String,
    ) -> Result<(), NetError> {
        let seq = self.send(message, NLM_F_REQUEST | NLM_F_ACK | flags)?;
        loop {
            for reply in self.receive(seq)? {
                if let NetlinkPayload::Error(err) = reply.message.payload {
                    return match err.code {
                        None => Ok(()),
                        Some(code) => Err(NetError::Kernel {
                            op: op(),
                            errno: -code.get(),
                            detail: reply.detail,
                        }),
                    };
                }
            }
        }
    }

    /// Sends many requests in as few datagrams as fit, then collects every
    /// acknowledgement: one round trip for a whole batch instead of one per
    /// request. Every request is tried (netlink has no transactions); the
    /// first refusal is returned, named by its `op`.
    pub fn request_many(&mut self, requests: Vec<Request>) -> Result<(), NetError> {
        const DATAGRAM: usize = 32 * 1024;
        let mut pending: std::collections::HashMap<u32, String> = std::collections::HashMap::new();
        let mut first_error: Option<NetError> = None;
        let mut datagram: Vec<u8> = Vec::with_capacity(DATAGRAM);
        let mut requests = requests.into_iter().peekable();
        while requests.peek().is_some() || !pending.is_empty() {
            // Fill a datagram, bounded so the kernel's acks fit our buffer.
            datagram.clear();
            while let Some((message, flags, op)) =
                requests.next_if(|_| datagram.len() < DATAGRAM && pending.len() < 256)
            {
                self.seq = self.seq.wrapping_add(1);
                datagram.extend_from_slice(&encode(message, NLM_F_REQUEST | NLM_F_ACK | flags, self.seq));
                pending.insert(self.seq, op);
            }
            if !datagram.is_empty() {
                self.socket.send(&datagram, 0).map_err(socket_err("sending"))?;
            }
            // Read until this datagram's requests are all answered.
            while !pending.is_empty() {
                for reply in self.receive_all()? {
                    let NetlinkPayload::Error(err) = reply.message.payload else {
                        continue;
                    };
                    let Some(op) = pending.remove(&reply.message.header.sequence_number) else {
                        continue;
                    };
                    if let (Some(code), None) = (err.code, &first_error) {
                        first_error = Some(NetError::Kernel {
                            op,
                            errno: -code.get(),
                            detail: reply.detail,
                        });
                    }
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Sends a request that the kernel answers with one message (such as a
    /// route lookup) and returns that message.
    pub fn query(
        &mut self,
        message: RouteNetlinkMessage,
        op: impl FnOnce() -> String,
    ) -> Result<RouteNetlinkMessage, NetError> {
        let seq = self.send(message, NLM_F_REQUEST)?;
        loop {
            for reply in self.receive(seq)? {
                match reply.message.payload {
                    NetlinkPayload::InnerMessage(inner) => return Ok(inner),
                    NetlinkPayload::Error(err) if err.code.is_some() => {
                        let errno = -err.code.map_or(0, |c| c.get());
                        return Err(NetError::Kernel {
                            op: op(),
                            errno,
                            detail: reply.detail,
                        });
                    }
                    _ => {}
                }
            }
        }
    }

    /// Dumps a table: every message the kernel sends for `message` with
    /// NLM_F_DUMP. A dump that the kernel marks as interrupted (the table
    /// changed meanwhile) is started again.
    pub fn dump(
        &mut self,
        message: RouteNetlinkMessage,
        op: impl Fn() -> String,
    ) -> Result<Vec<RouteNetlinkMessage>, NetError> {
        for _ in 0..DUMP_RETRIES {
            let seq = self.send(message.clone(), NLM_F_REQUEST | NLM_F_DUMP)?;
            let mut out = Vec::new();
            let mut interrupted = false;
            'parts: loop {
                for Reply { message: reply, detail } in self.receive(seq)? {
                    interrupted |= reply.header.flags & NLM_F_DUMP_INTR != 0;
                    match reply.payload {
                        NetlinkPayload::InnerMessage(inner) => out.push(inner),
                        NetlinkPayload::Done(_) => break 'parts,
                        NetlinkPayload::Error(err) if err.code.is_some() => {
                            let errno = -err.code.map_or(0, |c| c.get());
                            return Err(NetError::Kernel {
                                op: op(),
                                errno,
                                detail,
                            });
                        }
                        _ if reply.header.flags & NLM_F_MULTIPART == 0 => break 'parts,
                        _ => {}
                    }
                }
            }
            if !interrupted {
                return Ok(out);
            }
        }
        Err(NetError::Protocol(format!("{}: the dump kept being interrupted", op())))
    }
}

/// The bytes of `message` as sent with `flags` and sequence number `seq`.
pub(crate) fn encode(message: RouteNetlinkMessage, flags: u16, seq: u32) -> Vec<u8> {
    let mut header = NetlinkHeader::default();
    header.flags = flags;
    header.sequence_number = seq;
    let mut packet = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(message));
    packet.finalize();
    let mut bytes = vec![0u8; packet.buffer_len()];
    packet.serialize(&mut bytes);
    bytes
}

/// The text of an extended ack (`NLMSGERR_ATTR_MSG`) in an error message
/// that starts `buf`: after the 16-byte header, the 4-byte error code and
/// the 16-byte copy of the request's header (the request is capped), come
/// attributes.
fn extended_ack_message(buf: &[u8]) -> Option<String> {
    const NLM_F_ACK_TLVS: u16 = 0x200;
    const NLMSGERR_ATTR_MSG: u16 = 1;
    let flags = u16::from_ne_bytes(buf.get(6..8)?.try_into().ok()?);
    if flags & NLM_F_ACK_TLVS == 0 {
        return None;
    }
    let len = u32::from_ne_bytes(buf.get(0..4)?.try_into().ok()?) as usize;
    let mut attrs = buf.get(16 + 4 + 16..len)?;
    while attrs.len() >= 4 {
        let alen = u16::from_ne_bytes([attrs[0], attrs[1]]) as usize;
        let kind = u16::from_ne_bytes([attrs[2], attrs[3]]);
        if alen < 4 || alen > attrs.len() {
            return None;
        }
        if kind == NLMSGERR_ATTR_MSG {
            let text = &attrs[4..alen];
            let text = text.split(|b| *b == 0).next().unwrap_or_default();
            return Some(String::from_utf8_lossy(text).into_owned());
        }
        attrs = attrs.get((alen + 3) & !3..).unwrap_or_default();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error reply as the kernel sends it for a refused RTM_NEWROUTE
    /// with an extended ack (recorded with strace from `ip route add`).
    #[test]
    fn extended_ack_text_is_found() {
        let mut msg = Vec::new();
        let text = b"Nexthop has invalid gateway\0";
        let attr_len = 4 + text.len();
        let total = 16 + 4 + 16 + ((attr_len + 3) & !3);
        msg.extend_from_slice(&(total as u32).to_ne_bytes());
        msg.extend_from_slice(&2u16.to_ne_bytes()); // NLMSG_ERROR
        msg.extend_from_slice(&(0x100u16 | 0x200).to_ne_bytes()); // CAPPED | ACK_TLVS
        msg.extend_from_slice(&[0; 8]);
        msg.extend_from_slice(&(-22i32).to_ne_bytes());
        msg.extend_from_slice(&[0; 16]);
        msg.extend_from_slice(&(attr_len as u16).to_ne_bytes());
        msg.extend_from_slice(&1u16.to_ne_bytes());
        msg.extend_from_slice(text);
        msg.resize(total, 0);
        assert_eq!(
            extended_ack_message(&msg).as_deref(),
            Some("Nexthop has invalid gateway")
        );
        msg[6] = 0;
        msg[7] = 0;
        assert_eq!(extended_ack_message(&msg), None);
    }
}
