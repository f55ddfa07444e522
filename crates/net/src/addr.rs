//! IPv4 and IPv6 addresses on interfaces, `lo` included.

use crate::error::NetError;
use crate::socket::{Netlink, Request};
use ipnet::IpNet;
use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::address::{AddressAttribute, AddressMessage, AddressScope};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use std::net::IpAddr;

/// An address as the kernel reports it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Address {
    /// The interface's index.
    pub index: u32,
    /// The address with its prefix length, such as 10.0.1.2/24.
    pub address: IpNet,
    /// `global`, `link` or `host`.
    pub scope: String,
}

pub(crate) fn family_of(ip: &IpAddr) -> AddressFamily {
    match ip {
        IpAddr::V4(_) => AddressFamily::Inet,
        IpAddr::V6(_) => AddressFamily::Inet6,
    }
}

pub(crate) fn scope_name(scope: AddressScope) -> String {
    match scope {
        AddressScope::Universe => "global".into(),
        AddressScope::Site => "site".into(),
        AddressScope::Link => "link".into(),
        AddressScope::Host => "host".into(),
        AddressScope::Nowhere => "nowhere".into(),
        other => format!("{other:?}").to_lowercase(),
    }
}

/// The message that adds or deletes `address` on interface `index`, as
/// `ip address add` builds it: the local and the peer address are both the
/// address itself.
pub(crate) fn address_message(index: u32, address: IpNet) -> AddressMessage {
    let mut msg = AddressMessage::default();
    msg.header.family = family_of(&address.addr());
    msg.header.prefix_len = address.prefix_len();
    msg.header.index = index;
    // Like ip, loopback addresses (127/8, ::1) get host scope; all else global.
    msg.header.scope = if address.addr().is_loopback() {
        AddressScope::Host
    } else {
        AddressScope::Universe
    };
    msg.attributes.push(AddressAttribute::Local(address.addr()));
    msg.attributes.push(AddressAttribute::Address(address.addr()));
    msg
}

/// The request that adds `address` to interface `dev` (index `index`),
/// for sending in a batch.
pub fn add_address_request(index: u32, dev: &str, address: IpNet) -> Request {
    let msg = address_message(index, address);
    let op = format!("adding address {address} to {dev:?}");
    (RouteNetlinkMessage::NewAddress(msg), NLM_F_CREATE | NLM_F_EXCL, op)
}

impl Netlink {
    /// Adds `address` (with its prefix) to interface `dev`.
    pub fn add_address(&mut self, dev: &str, address: IpNet) -> Result<(), NetError> {
        let index = self.link_index(dev)?;
        let (msg, flags, op) = add_address_request(index, dev, address);
        self.request(msg, flags, || op)
    }

    /// Removes `address` from interface `dev`.
    pub fn delete_address(&mut self, dev: &str, address: IpNet) -> Result<(), NetError> {
        let index = self.link_index(dev)?;
        let msg = address_message(index, address);
        self.request(RouteNetlinkMessage::DelAddress(msg), 0, || {
            format!("deleting address {address} from {dev:?}")
        })
    }

    /// Every address of every interface.
    pub fn addresses(&mut self) -> Result<Vec<Address>, NetError> {
        let replies = self.dump(RouteNetlinkMessage::GetAddress(AddressMessage::default()), || {
            "listing addresses".into()
        })?;
        Ok(replies
            .into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewAddress(msg) => address_from_message(msg),
                _ => None,
            })
            .collect())
    }
}

pub(crate) fn address_from_message(msg: AddressMessage) -> Option<Address> {
    // IFA_LOCAL is the interface's own address where both are present
    // (they differ only on point-to-point links).
    let mut local = None;
    let mut address = None;
    for attr in msg.attributes {
        match attr {
            AddressAttribute::Local(ip) => local = Some(ip),
            AddressAttribute::Address(ip) => address = Some(ip),
            _ => {}
        }
    }
    let ip = local.or(address)?;
    Some(Address {
        index: msg.header.index,
        address: IpNet::new(ip, msg.header.prefix_len).ok()?,
        scope: scope_name(msg.header.scope),
    })
}

#[cfg(test)]
pub(crate) mod tests_support {
    pub(crate) use super::address_from_message;
}
