//! Network interfaces: veth pairs (each end made directly in its namespace
//! with its final name), bridges, changes of state, and listing.

use crate::error::NetError;
use crate::socket::{Netlink, Request};
use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoMacVlan, InfoVeth, InfoVxlan, LinkAttribute, LinkFlags, LinkInfo, LinkMessage, MacVlanMode,
    State,
};
use netlink_packet_route::RouteNetlinkMessage;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, BorrowedFd};

/// Checks an interface name the way the kernel will (`dev_valid_name`), so
/// that a bad name is reported before anything is made.
pub fn check_name(name: &str) -> Result<(), NetError> {
    let ok = !name.is_empty()
        && name.len() < libc::IFNAMSIZ
        && name != "."
        && name != ".."
        // /proc/sys/net/*/conf/all and default: the kernel refuses them.
        && name != "all"
        && name != "default"
        && !name.bytes().any(|b| b == b'/' || b == b':' || b.is_ascii_whitespace());
    if ok {
        Ok(())
    } else {
        Err(NetError::BadName(name.to_string()))
    }
}

/// The first end of a veth pair to create.
#[derive(Debug, Clone, Copy)]
pub struct VethEnd<'a> {
    pub name: &'a str,
    /// The namespace the end is created in; `None` for the socket's own.
    pub netns: Option<BorrowedFd<'a>>,
    /// Created up (administratively).
    pub up: bool,
    /// Ask for this interface index (free in its namespace); the kernel
    /// picks one when `None`. Knowing it saves a lookup before configuring.
    pub index: Option<u32>,
}

/// The peer end of a veth pair to create. It is always created down: the
/// kernel configures the peer before the pair is joined, and opening a veth
/// without its peer fails (ENOTCONN). Bring it up from its own namespace.
#[derive(Debug, Clone, Copy)]
pub struct VethPeer<'a> {
    pub name: &'a str,
    /// The namespace the peer is created in; `None` for the socket's own.
    pub netns: Option<BorrowedFd<'a>>,
    /// Ask for this interface index, as for [`VethEnd::index`].
    pub index: Option<u32>,
}

/// An interface as the kernel reports it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Link {
    pub index: u32,
    pub name: String,
    /// `veth`, `bridge`, ...; `None` for devices without a kind (`lo`).
    pub kind: Option<String>,
    /// Administratively up (IFF_UP).
    pub up: bool,
    /// The operational state (`UP`, `DOWN`, `UNKNOWN`, `LOWERLAYERDOWN`...).
    pub state: String,
    pub mtu: u32,
    pub mac: Option<String>,
    /// The index of the bridge this interface is a port of.
    pub master: Option<u32>,
    /// The index of a veth's peer (in the peer's namespace).
    pub peer_index: Option<u32>,
    /// The interface's alias (`ip link set IFACE alias TEXT`).
    pub alias: Option<String>,
}

fn name_attr(name: &str) -> LinkAttribute {
    LinkAttribute::IfName(name.to_string())
}

fn up_flags(message: &mut LinkMessage, up: bool) {
    if up {
        message.header.flags = LinkFlags::Up;
        message.header.change_mask = LinkFlags::Up;
    }
}

fn netns_attr(fd: BorrowedFd<'_>) -> LinkAttribute {
    LinkAttribute::NetNsFd(fd.as_raw_fd())
}

/// The request that creates a veth pair (see [`Netlink::create_veth`]),
/// for sending in a batch.
pub fn veth_request(end: VethEnd<'_>, peer: VethPeer<'_>, master: Option<u32>) -> Result<Request, NetError> {
    check_name(end.name)?;
    check_name(peer.name)?;
    let mut peer_msg = LinkMessage::default();
    peer_msg.header.index = peer.index.unwrap_or(0);
    peer_msg.attributes.push(name_attr(peer.name));
    if let Some(fd) = peer.netns {
        peer_msg.attributes.push(netns_attr(fd));
    }
    let mut msg = LinkMessage::default();
    msg.header.index = end.index.unwrap_or(0);
    up_flags(&mut msg, end.up);
    msg.attributes.push(name_attr(end.name));
    if let Some(fd) = end.netns {
        msg.attributes.push(netns_attr(fd));
    }
    if let Some(index) = master {
        msg.attributes.push(LinkAttribute::Controller(index));
    }
    msg.attributes.push(LinkAttribute::LinkInfo(vec![
        LinkInfo::Kind(InfoKind::Veth),
        LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer_msg))),
    ]));
    let op = format!("creating veth pair {:?} / {:?}", end.name, peer.name);
    Ok((RouteNetlinkMessage::NewLink(msg), NLM_F_CREATE | NLM_F_EXCL, op))
}

/// The request that creates bridge `name` (up if asked, with interface
/// index `index` if given), for sending in a batch.
pub fn bridge_request(name: &str, up: bool, index: Option<u32>) -> Result<Request, NetError> {
    check_name(name)?;
    let mut msg = LinkMessage::default();
    msg.header.index = index.unwrap_or(0);
    up_flags(&mut msg, up);
    msg.attributes.push(name_attr(name));
    msg.attributes
        .push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(InfoKind::Bridge)]));
    Ok((
        RouteNetlinkMessage::NewLink(msg),
        NLM_F_CREATE | NLM_F_EXCL,
        format!("creating bridge {name:?}"),
    ))
}

/// The request that sets interface `name` up or down, for sending in a batch.
pub fn set_up_request(name: &str, up: bool) -> Result<Request, NetError> {
    check_name(name)?;
    let mut msg = LinkMessage::default();
    msg.attributes.push(name_attr(name));
    msg.header.change_mask = LinkFlags::Up;
    msg.header.flags = if up { LinkFlags::Up } else { LinkFlags::empty() };
    let op = format!("setting interface {name:?} {}", if up { "up" } else { "down" });
    Ok((RouteNetlinkMessage::SetLink(msg), 0, op))
}

/// A VXLAN interface to create.
#[derive(Debug, Clone, Copy)]
pub struct Vxlan<'a> {
    pub name: &'a str,
    pub vni: u32,
    pub remote: Option<IpAddr>,
    pub local: Option<IpAddr>,
    /// The underlay interface.
    pub dev: Option<&'a str>,
    /// UDP destination port (4789 is the IANA one).
    pub port: u16,
    pub up: bool,
}

/// Changes to make to an existing interface; `None` leaves a property as it is.
#[derive(Debug, Default, Clone)]
pub struct LinkChange<'a> {
    pub up: Option<bool>,
    pub mtu: Option<u32>,
    /// A MAC address, six bytes.
    pub mac: Option<[u8; 6]>,
    /// `Some(Some(bridge index))` to make it a port, `Some(None)` to release it.
    pub master: Option<Option<u32>>,
    pub rename: Option<&'a str>,
    /// Move it into this namespace.
    pub netns: Option<BorrowedFd<'a>>,
    /// Set its alias (`ip link set IFACE alias TEXT`).
    pub alias: Option<&'a str>,
}

impl Netlink {
    /// Creates a veth pair in one message: each end in its namespace, with
    /// its final name, the first end up if asked; `master` makes the first
    /// end a port of that bridge (an index in the first end's namespace).
    pub fn create_veth(&mut self, end: VethEnd<'_>, peer: VethPeer<'_>, master: Option<u32>) -> Result<(), NetError> {
        let (msg, flags, op) = veth_request(end, peer, master)?;
        self.request(msg, flags, || op)
    }

    /// Creates a bridge.
    pub fn create_bridge(&mut self, name: &str, up: bool) -> Result<(), NetError> {
        let (msg, flags, op) = bridge_request(name, up, None)?;
        self.request(msg, flags, || op)
    }

    /// Creates a VXLAN interface with id `vni`, sending to `remote` (a
    /// unicast peer) from `local` over `dev`, on UDP port `port`.
    pub fn create_vxlan(&mut self, vxlan: &Vxlan<'_>) -> Result<(), NetError> {
        check_name(vxlan.name)?;
        let mut data = vec![InfoVxlan::Id(vxlan.vni), InfoVxlan::Port(vxlan.port)];
        match vxlan.remote {
            Some(IpAddr::V4(ip)) => data.push(InfoVxlan::Group(ip)),
            Some(IpAddr::V6(ip)) => data.push(InfoVxlan::Group6(ip)),
            None => {}
        }
        match vxlan.local {
            Some(IpAddr::V4(ip)) => data.push(InfoVxlan::Local(ip)),
            Some(IpAddr::V6(ip)) => data.push(InfoVxlan::Local6(ip)),
            None => {}
        }
        if let Some(dev) = vxlan.dev {
            data.push(InfoVxlan::Link(self.link_index(dev)?));
        }
        let mut msg = LinkMessage::default();
        up_flags(&mut msg, vxlan.up);
        msg.attributes.push(name_attr(vxlan.name));
        msg.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Vxlan),
            LinkInfo::Data(InfoData::Vxlan(data)),
        ]));
        self.request(RouteNetlinkMessage::NewLink(msg), NLM_F_CREATE | NLM_F_EXCL, || {
            format!("creating vxlan {:?} (id {})", vxlan.name, vxlan.vni)
        })
    }

    /// Creates a macvlan interface in bridge mode on `parent`, placed in
    /// `netns` (the socket's own namespace when `None`).
    pub fn create_macvlan(&mut self, name: &str, parent: &str, netns: Option<BorrowedFd<'_>>) -> Result<(), NetError> {
        check_name(name)?;
        let parent_index = self.link_index(parent)?;
        let mut msg = LinkMessage::default();
        msg.attributes.push(name_attr(name));
        msg.attributes.push(LinkAttribute::Link(parent_index));
        if let Some(fd) = netns {
            msg.attributes.push(netns_attr(fd));
        }
        msg.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::MacVlan),
            LinkInfo::Data(InfoData::MacVlan(vec![InfoMacVlan::Mode(MacVlanMode::Bridge)])),
        ]));
        self.request(RouteNetlinkMessage::NewLink(msg), NLM_F_CREATE | NLM_F_EXCL, || {
            format!("creating macvlan {name:?} on {parent:?}")
        })
    }

    /// Applies `change` to interface `name` in one message.
    pub fn change_link(&mut self, name: &str, change: &LinkChange<'_>) -> Result<(), NetError> {
        check_name(name)?;
        let mut msg = LinkMessage::default();
        msg.attributes.push(name_attr(name));
        if let Some(up) = change.up {
            msg.header.change_mask = LinkFlags::Up;
            msg.header.flags = if up { LinkFlags::Up } else { LinkFlags::empty() };
        }
        if let Some(mtu) = change.mtu {
            msg.attributes.push(LinkAttribute::Mtu(mtu));
        }
        if let Some(mac) = change.mac {
            msg.attributes.push(LinkAttribute::Address(mac.to_vec()));
        }
        if let Some(master) = change.master {
            msg.attributes.push(LinkAttribute::Controller(master.unwrap_or(0)));
        }
        if let Some(new_name) = change.rename {
            check_name(new_name)?;
            // With a new name the old one cannot identify the link: use its index.
            msg.header.index = self.link_index(name)?;
            msg.attributes[0] = name_attr(new_name);
        }
        if let Some(fd) = change.netns {
            msg.attributes.push(netns_attr(fd));
        }
        if let Some(alias) = change.alias {
            msg.attributes.push(LinkAttribute::IfAlias(alias.to_string()));
        }
        self.request(RouteNetlinkMessage::SetLink(msg), 0, || {
            format!("changing interface {name:?}")
        })
    }

    /// Sets interface `name` up or down.
    pub fn set_up(&mut self, name: &str, up: bool) -> Result<(), NetError> {
        self.change_link(
            name,
            &LinkChange {
                up: Some(up),
                ..Default::default()
            },
        )
    }

    /// Deletes interface `name` (a veth's peer goes with it).
    pub fn delete_link(&mut self, name: &str) -> Result<(), NetError> {
        check_name(name)?;
        let mut msg = LinkMessage::default();
        msg.attributes.push(name_attr(name));
        self.request(RouteNetlinkMessage::DelLink(msg), 0, || {
            format!("deleting interface {name:?}")
        })
    }

    /// The index of interface `name`.
    pub fn link_index(&mut self, name: &str) -> Result<u32, NetError> {
        self.link(name).map(|l| l.index)
    }

    /// Interface `name` as the kernel reports it.
    pub fn link(&mut self, name: &str) -> Result<Link, NetError> {
        check_name(name)?;
        let mut msg = LinkMessage::default();
        msg.attributes.push(name_attr(name));
        match self.query(RouteNetlinkMessage::GetLink(msg), || {
            format!("looking up interface {name:?}")
        }) {
            Ok(RouteNetlinkMessage::NewLink(link)) => Ok(link_from_message(link)),
            Ok(other) => Err(NetError::Protocol(format!(
                "unexpected reply to a link lookup: {other:?}"
            ))),
            Err(e) if e.errno() == Some(libc::ENODEV) => Err(NetError::NoSuchLink(name.to_string())),
            Err(e) => Err(e),
        }
    }

    /// Every interface, in index order.
    pub fn links(&mut self) -> Result<Vec<Link>, NetError> {
        let replies = self.dump(RouteNetlinkMessage::GetLink(LinkMessage::default()), || {
            "listing interfaces".into()
        })?;
        let mut links: Vec<Link> = replies
            .into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewLink(link) => Some(link_from_message(link)),
                _ => None,
            })
            .collect();
        links.sort_by_key(|l| l.index);
        Ok(links)
    }
}

fn link_from_message(message: LinkMessage) -> Link {
    let mut link = Link {
        index: message.header.index,
        name: String::new(),
        kind: None,
        up: message.header.flags.contains(LinkFlags::Up),
        state: "UNKNOWN".into(),
        mtu: 0,
        mac: None,
        master: None,
        peer_index: None,
        alias: None,
    };
    for attr in message.attributes {
        match attr {
            LinkAttribute::IfName(name) => link.name = name,
            LinkAttribute::Mtu(mtu) => link.mtu = mtu,
            LinkAttribute::Controller(index) => link.master = Some(index),
            LinkAttribute::Link(index) => link.peer_index = Some(index),
            LinkAttribute::Address(mac) => link.mac = Some(format_mac(&mac)),
            LinkAttribute::OperState(state) => link.state = state_name(state),
            LinkAttribute::IfAlias(alias) => link.alias = Some(alias),
            LinkAttribute::LinkInfo(infos) => {
                for info in infos {
                    if let LinkInfo::Kind(kind) = info {
                        link.kind = Some(kind.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    link
}

fn format_mac(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

/// The operational state as `ip` prints it.
fn state_name(state: State) -> String {
    match state {
        State::Up => "UP",
        State::Down => "DOWN",
        State::LowerLayerDown => "LOWERLAYERDOWN",
        State::Testing => "TESTING",
        State::Dormant => "DORMANT",
        State::NotPresent => "NOTPRESENT",
        _ => "UNKNOWN",
    }
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_like_the_kernel() {
        for good in ["vethS", "veth-srv", "a", "exactly15bytes_"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in ["", ".", "..", "a/b", "a:b", "a b", "sixteen_bytes_xx", "all", "default"] {
            assert!(matches!(check_name(bad), Err(NetError::BadName(_))), "{bad}");
        }
    }
}
