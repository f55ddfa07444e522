//! Namespace ids: the numbers by which one network namespace refers to
//! another (what `ip netns list` shows as "(id: N)", and what a veth's
//! `link-netnsid` points at).

use crate::error::NetError;
use crate::socket::Netlink;
use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::nsid::{NsidAttribute, NsidMessage};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use std::os::fd::{AsRawFd, BorrowedFd};

fn message(ns: BorrowedFd<'_>) -> NsidMessage {
    let mut msg = NsidMessage::default();
    msg.header.family = AddressFamily::Unspec;
    msg.attributes.push(NsidAttribute::Fd(ns.as_raw_fd() as u32));
    msg
}

impl Netlink {
    /// The id that the socket's namespace gives namespace `ns`, if any.
    pub fn nsid_of(&mut self, ns: BorrowedFd<'_>) -> Result<Option<i32>, NetError> {
        let reply = self.query(RouteNetlinkMessage::GetNsId(message(ns)), || {
            "looking up a namespace id".into()
        })?;
        let RouteNetlinkMessage::NewNsId(reply) = reply else {
            return Err(NetError::Protocol(format!(
                "unexpected reply to a namespace id lookup: {reply:?}"
            )));
        };
        Ok(reply.attributes.iter().find_map(|a| match a {
            NsidAttribute::Id(id) if *id >= 0 => Some(*id),
            _ => None,
        }))
    }

    /// Gives namespace `ns` the id `id` in the socket's namespace (`ip netns set`).
    pub fn set_nsid(&mut self, ns: BorrowedFd<'_>, id: i32) -> Result<(), NetError> {
        let mut msg = message(ns);
        msg.attributes.push(NsidAttribute::Id(id));
        self.request(RouteNetlinkMessage::NewNsId(msg), NLM_F_CREATE | NLM_F_EXCL, || {
            format!("setting namespace id {id}")
        })
    }
}

/// A named network namespace with the id the caller's namespace gives it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ListedNetns {
    pub name: String,
    pub inode: u64,
    /// `None` where no id is assigned (ip then prints no "(id: N)").
    pub nsid: Option<i32>,
}

/// The named namespaces of `registry` with their ids, as `ip netns list`
/// shows them (newest first, like ip, which lists the directory as it is).
pub fn list_with_ids(registry: &nsbox_ns::netns::Registry) -> Result<Vec<ListedNetns>, NetError> {
    let mut nl = Netlink::open()?;
    let mut out = Vec::new();
    for named in registry.list()? {
        let fd = registry.open(&named.raw)?;
        let nsid = nl.nsid_of(std::os::fd::AsFd::as_fd(&fd))?;
        out.push(ListedNetns {
            name: named.name,
            inode: named.inode,
            nsid,
        });
    }
    Ok(out)
}

/// Gives the named namespace `name` the id `id` (`ip netns set NAME ID`).
pub fn set_named(registry: &nsbox_ns::netns::Registry, name: &str, id: i32) -> Result<(), NetError> {
    let fd = registry.open(name)?;
    Netlink::open()?.set_nsid(std::os::fd::AsFd::as_fd(&fd), id)
}
