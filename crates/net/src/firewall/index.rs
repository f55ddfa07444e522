//! What nsbox's table holds, read straight from nf_tables over netlink:
//! whether the table exists, its chains, and each rule's chain, handle and
//! comment. No process is started, so deciding what to change (is this rule
//! already there? which chain holds handle 7? does deleting it empty the
//! table?) costs a few netlink round trips instead of a run of `nft`.
//! Listing rules with their matches and counters stays with `nft -j`.
//!
//! Every rule nsbox adds carries its canonical text as the rule's comment
//! (nft's `comment "..."`, kept by the kernel as the rule's user data), so
//! the comment is enough to recognise a rule.

use super::rule::Hook;
use super::FirewallError;
use netlink_sys::{protocols::NETLINK_NETFILTER, Socket, SocketAddr};
use std::os::fd::OwnedFd;

const NFNL_SUBSYS_NFTABLES: u16 = 10;
const NFT_MSG_GETTABLE: u16 = 1;
const NFT_MSG_GETCHAIN: u16 = 4;
const NFT_MSG_GETRULE: u16 = 7;
const NFPROTO_INET: u8 = 1;
const NFTA_TABLE_NAME: u16 = 1;
const NFTA_CHAIN_TABLE: u16 = 1;
const NFTA_CHAIN_NAME: u16 = 3;
const NFTA_RULE_TABLE: u16 = 1;
const NFTA_RULE_CHAIN: u16 = 2;
const NFTA_RULE_HANDLE: u16 = 3;
const NFTA_RULE_USERDATA: u16 = 7;
/// The comment's type in libnftnl's user data TLVs (`NFTNL_UDATA_RULE_COMMENT`).
const UDATA_RULE_COMMENT: u8 = 0;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_MULTI: u16 = 2;
const NLM_F_DUMP: u16 = 0x300;
const HEADER: usize = 16;
const NFGENMSG: usize = 4;

/// One rule of nsbox's table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub chain: String,
    pub handle: u64,
    pub comment: Option<String>,
}

impl Entry {
    pub fn hook(&self) -> Option<Hook> {
        Hook::from_chain(&self.chain)
    }
}

/// nsbox's table in one namespace, as far as changing it needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Index {
    pub exists: bool,
    /// Every chain of the table, nsbox's or not.
    pub chains: Vec<String>,
    /// The rules, chain by chain in the kernel's order.
    pub rules: Vec<Entry>,
}

/// What to remove: rules by handle, then the chains they leave empty, or
/// the whole table when nothing else is left in it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Removal {
    pub rules: Vec<(String, u64)>,
    pub chains: Vec<String>,
    pub table: bool,
}

impl Index {
    /// What to remove so that the rules `doomed` picks are gone, with the
    /// chains they leave empty, and the table if nothing else is left in it
    /// (a chain nsbox did not make keeps the table).
    pub fn removal(&self, doomed: impl Fn(&Entry) -> bool) -> Removal {
        let rules: Vec<(String, u64)> = self
            .rules
            .iter()
            .filter(|e| doomed(e))
            .map(|e| (e.chain.clone(), e.handle))
            .collect();
        let survivors: Vec<&str> = self
            .rules
            .iter()
            .filter(|e| !doomed(e))
            .map(|e| e.chain.as_str())
            .collect();
        let mut chains: Vec<String> = rules
            .iter()
            .map(|(c, _)| c.clone())
            .filter(|c| !survivors.contains(&c.as_str()))
            .collect();
        chains.dedup();
        let only_ours = self.chains.iter().all(|c| Hook::from_chain(c).is_some());
        let table = self.exists && survivors.is_empty() && only_ours;
        Removal { rules, chains, table }
    }
}

/// Reads nsbox's table in the namespace `ns`.
pub fn read(ns: &OwnedFd, table: &'static str) -> Result<Index, FirewallError> {
    let read = nsbox_ns::netns::run_in_fd(ns, move || read_here(table))?;
    read.map_err(|(step, source)| FirewallError::Netlink { step, source })
}

type StepError = (&'static str, std::io::Error);

fn read_here(table: &str) -> Result<Index, StepError> {
    let mut socket = Socket::new(NETLINK_NETFILTER).map_err(|e| ("opening a netfilter socket", e))?;
    socket.bind_auto().map_err(|e| ("binding a netfilter socket", e))?;
    socket
        .connect(&SocketAddr::new(0, 0))
        .map_err(|e| ("connecting a netfilter socket", e))?;
    let name = nul_terminated(table);
    let mut index = Index::default();
    match request(&mut socket, 1, NFT_MSG_GETTABLE, 0, &[(NFTA_TABLE_NAME, &name)]) {
        Ok(_) => index.exists = true,
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(index),
        Err(e) => return Err(("reading nsbox's table", e)),
    }
    let chains = request(
        &mut socket,
        2,
        NFT_MSG_GETCHAIN,
        NLM_F_DUMP,
        &[(NFTA_CHAIN_TABLE, &name)],
    )
    .map_err(|e| ("listing nsbox's chains", e))?;
    for attrs in chains {
        // Older kernels ignore the table filter of a chain dump.
        if string(&attrs, NFTA_CHAIN_TABLE).as_deref() == Some(table) {
            index.chains.extend(string(&attrs, NFTA_CHAIN_NAME));
        }
    }
    let rules = request(&mut socket, 3, NFT_MSG_GETRULE, NLM_F_DUMP, &[(NFTA_RULE_TABLE, &name)])
        .map_err(|e| ("listing nsbox's rules", e))?;
    for attrs in rules {
        if string(&attrs, NFTA_RULE_TABLE).as_deref() != Some(table) {
            continue;
        }
        let (Some(chain), Some(handle)) = (string(&attrs, NFTA_RULE_CHAIN), attribute(&attrs, NFTA_RULE_HANDLE)) else {
            continue;
        };
        let Ok(handle) = <[u8; 8]>::try_from(handle) else {
            continue;
        };
        index.rules.push(Entry {
            chain,
            handle: u64::from_be_bytes(handle),
            comment: attribute(&attrs, NFTA_RULE_USERDATA).and_then(comment),
        });
    }
    Ok(index)
}

fn nul_terminated(s: &str) -> Vec<u8> {
    let mut bytes = s.as_bytes().to_vec();
    bytes.push(0);
    bytes
}

/// Sends one nf_tables request and collects the attributes of every
/// message of the answer (one for a get, many for a dump).
fn request(
    socket: &mut Socket,
    seq: u32,
    message: u16,
    flags: u16,
    attrs: &[(u16, &[u8])],
) -> std::io::Result<Vec<Vec<u8>>> {
    let mut out = vec![0u8; HEADER];
    out.extend_from_slice(&[NFPROTO_INET, 0, 0, 0]);
    for (kind, value) in attrs {
        let len = 4 + value.len();
        out.extend_from_slice(&(len as u16).to_ne_bytes());
        out.extend_from_slice(&kind.to_ne_bytes());
        out.extend_from_slice(value);
        out.resize(out.len().next_multiple_of(4), 0);
    }
    let total = out.len() as u32;
    out[0..4].copy_from_slice(&total.to_ne_bytes());
    out[4..6].copy_from_slice(&((NFNL_SUBSYS_NFTABLES << 8) | message).to_ne_bytes());
    out[6..8].copy_from_slice(&(NLM_F_REQUEST | flags).to_ne_bytes());
    out[8..12].copy_from_slice(&seq.to_ne_bytes());
    socket.send(&out, 0)?;
    let mut replies = Vec::new();
    let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
    loop {
        buf.clear();
        socket.recv(&mut buf, 0)?;
        for Message {
            kind,
            flags: msg_flags,
            seq: msg_seq,
            body,
        } in messages(&buf)?
        {
            if msg_seq != seq {
                continue;
            }
            match kind {
                NLMSG_DONE => return Ok(replies),
                NLMSG_ERROR => {
                    let code = body
                        .get(0..4)
                        .map_or(0, |b| i32::from_ne_bytes(b.try_into().expect("4 bytes")));
                    if code != 0 {
                        return Err(std::io::Error::from_raw_os_error(-code));
                    }
                    return Ok(replies);
                }
                _ => {
                    replies.push(body.get(NFGENMSG..).unwrap_or_default().to_vec());
                    if msg_flags & NLM_F_MULTI == 0 {
                        return Ok(replies);
                    }
                }
            }
        }
    }
}

/// One netlink message of a datagram.
struct Message<'a> {
    kind: u16,
    flags: u16,
    seq: u32,
    body: &'a [u8],
}

/// The messages of a datagram.
fn messages(buf: &[u8]) -> std::io::Result<Vec<Message<'_>>> {
    let mut out = Vec::new();
    let mut rest = buf;
    while rest.len() >= HEADER {
        let len = u32::from_ne_bytes(rest[0..4].try_into().expect("4 bytes")) as usize;
        if len < HEADER || len > rest.len() {
            return Err(std::io::Error::other(format!(
                "truncated netlink message of {len} bytes"
            )));
        }
        let kind = u16::from_ne_bytes([rest[4], rest[5]]);
        let flags = u16::from_ne_bytes([rest[6], rest[7]]);
        let seq = u32::from_ne_bytes(rest[8..12].try_into().expect("4 bytes"));
        out.push(Message {
            kind,
            flags,
            seq,
            body: &rest[HEADER..len],
        });
        rest = rest.get(len.next_multiple_of(4)..).unwrap_or_default();
    }
    Ok(out)
}

/// The value of the first attribute of type `kind`.
fn attribute(attrs: &[u8], kind: u16) -> Option<&[u8]> {
    let mut rest = attrs;
    while rest.len() >= 4 {
        let len = u16::from_ne_bytes([rest[0], rest[1]]) as usize;
        // The top two bits flag nesting and byte order, not the type.
        let this = u16::from_ne_bytes([rest[2], rest[3]]) & 0x3fff;
        if len < 4 || len > rest.len() {
            return None;
        }
        if this == kind {
            return Some(&rest[4..len]);
        }
        rest = rest.get(len.next_multiple_of(4)..).unwrap_or_default();
    }
    None
}

fn string(attrs: &[u8], kind: u16) -> Option<String> {
    let value = attribute(attrs, kind)?;
    let text = value.split(|b| *b == 0).next().unwrap_or_default();
    Some(String::from_utf8_lossy(text).into_owned())
}

/// The comment in a rule's user data: libnftnl's TLVs of one type byte,
/// one length byte and the value (a NUL-terminated string).
fn comment(udata: &[u8]) -> Option<String> {
    let mut rest = udata;
    while rest.len() >= 2 {
        let (kind, len) = (rest[0], rest[1] as usize);
        let value = rest.get(2..2 + len)?;
        if kind == UDATA_RULE_COMMENT {
            let text = value.split(|b| *b == 0).next().unwrap_or_default();
            return Some(String::from_utf8_lossy(text).into_owned());
        }
        rest = &rest[2 + len..];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(chain: &str, handle: u64) -> Entry {
        Entry {
            chain: chain.into(),
            handle,
            comment: None,
        }
    }

    fn index() -> Index {
        Index {
            exists: true,
            chains: vec!["postrouting".into(), "forward".into(), "prerouting".into()],
            rules: vec![
                entry("postrouting", 4),
                entry("postrouting", 5),
                entry("forward", 9),
                entry("prerouting", 8),
            ],
        }
    }

    #[test]
    fn a_removal_takes_emptied_chains_and_then_the_table() {
        let nat_only = index().removal(|e| e.hook().unwrap().kind() == super::super::Kind::Nat);
        assert_eq!(
            nat_only.rules,
            [
                ("postrouting".into(), 4),
                ("postrouting".into(), 5),
                ("prerouting".into(), 8)
            ]
        );
        assert_eq!(nat_only.chains, ["postrouting", "prerouting"]);
        assert!(!nat_only.table, "forward still holds a rule");
        let one = index().removal(|e| e.handle == 4);
        assert!(one.chains.is_empty(), "postrouting keeps rule 5");
        assert!(index().removal(|_| true).table);
        let mut foreign = index();
        foreign.chains.push("mine".into());
        assert!(!foreign.removal(|_| true).table, "a chain nsbox did not make stays");
        assert_eq!(
            Index::default().removal(|_| true),
            Removal::default(),
            "no table, nothing to do"
        );
    }

    #[test]
    fn comments_are_read_from_libnftnl_user_data() {
        // `comment "hi"` as nft stores it, after another TLV.
        let udata = [7, 2, 0xaa, 0xbb, UDATA_RULE_COMMENT, 3, b'h', b'i', 0];
        assert_eq!(comment(&udata).as_deref(), Some("hi"));
        assert_eq!(comment(&[7, 9, 1]), None, "a truncated TLV is not read past its end");
    }

    #[test]
    fn attributes_are_found_past_others_and_their_flags() {
        let mut attrs = Vec::new();
        for (kind, value) in [(1u16 | 0x8000, &b"abc\0"[..]), (3, &[0, 0, 0, 0, 0, 0, 0, 7][..])] {
            attrs.extend_from_slice(&((4 + value.len()) as u16).to_ne_bytes());
            attrs.extend_from_slice(&kind.to_ne_bytes());
            attrs.extend_from_slice(value);
            attrs.resize(attrs.len().next_multiple_of(4), 0);
        }
        assert_eq!(string(&attrs, 1).as_deref(), Some("abc"));
        assert_eq!(attribute(&attrs, 3), Some(&[0, 0, 0, 0, 0, 0, 0, 7][..]));
        assert_eq!(attribute(&attrs, 2), None);
    }
}
