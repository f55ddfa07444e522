//! The neighbour (ARP / NDP) table: listing it explains why a host is or is
//! not reachable (an INCOMPLETE entry is an unanswered ARP request), and
//! flushing it lets a check start from scratch.

use crate::error::NetError;
use crate::socket::Netlink;
use netlink_packet_route::neighbour::{NeighbourAddress, NeighbourAttribute, NeighbourMessage, NeighbourState};
use netlink_packet_route::RouteNetlinkMessage;
use std::net::IpAddr;

/// A neighbour table entry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Neighbour {
    /// The interface's index.
    pub index: u32,
    pub address: IpAddr,
    /// The link-layer address, once resolved.
    pub mac: Option<String>,
    /// `REACHABLE`, `STALE`, `INCOMPLETE`, `FAILED`, `PERMANENT`...
    pub state: String,
}

fn state_name(state: NeighbourState) -> String {
    match state {
        NeighbourState::Incomplete => "INCOMPLETE".into(),
        NeighbourState::Reachable => "REACHABLE".into(),
        NeighbourState::Stale => "STALE".into(),
        NeighbourState::Delay => "DELAY".into(),
        NeighbourState::Probe => "PROBE".into(),
        NeighbourState::Failed => "FAILED".into(),
        NeighbourState::Noarp => "NOARP".into(),
        NeighbourState::Permanent => "PERMANENT".into(),
        NeighbourState::None => "NONE".into(),
        NeighbourState::Other(n) => format!("0x{n:x}"),
        _ => "UNKNOWN".into(),
    }
}

impl Netlink {
    /// Every entry of the neighbour tables (IPv4 and IPv6).
    pub fn neighbours(&mut self) -> Result<Vec<Neighbour>, NetError> {
        Ok(self
            .neighbour_messages()?
            .into_iter()
            .filter_map(neighbour_from_message)
            .collect())
    }

    fn neighbour_messages(&mut self) -> Result<Vec<NeighbourMessage>, NetError> {
        let replies = self.dump(RouteNetlinkMessage::GetNeighbour(NeighbourMessage::default()), || {
            "listing neighbours".into()
        })?;
        Ok(replies
            .into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewNeighbour(n) => Some(n),
                _ => None,
            })
            .collect())
    }

    /// Deletes the learned entries (not PERMANENT or NOARP ones, as `ip
    /// neigh flush all`), of every interface or only of `dev`. Returns how
    /// many were deleted.
    pub fn flush_neighbours(&mut self, dev: Option<&str>) -> Result<usize, NetError> {
        let only = dev.map(|d| self.link_index(d)).transpose()?;
        let mut deleted = 0;
        for message in self.neighbour_messages()? {
            let keep = matches!(message.header.state, NeighbourState::Permanent | NeighbourState::Noarp);
            if keep || only.is_some_and(|i| i != message.header.ifindex) {
                continue;
            }
            let mut del = NeighbourMessage::default();
            del.header.family = message.header.family;
            del.header.ifindex = message.header.ifindex;
            del.attributes = message
                .attributes
                .into_iter()
                .filter(|a| matches!(a, NeighbourAttribute::Destination(_)))
                .collect();
            match self.request(RouteNetlinkMessage::DelNeighbour(del), 0, || {
                "flushing a neighbour".into()
            }) {
                Ok(()) => deleted += 1,
                // Gone meanwhile (expired or flushed by the kernel): that is what we wanted.
                Err(e) if e.errno() == Some(libc::ENOENT) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(deleted)
    }
}

fn neighbour_from_message(message: NeighbourMessage) -> Option<Neighbour> {
    let mut address = None;
    let mut mac = None;
    for attr in message.attributes {
        match attr {
            NeighbourAttribute::Destination(NeighbourAddress::Inet(ip)) => address = Some(IpAddr::V4(ip)),
            NeighbourAttribute::Destination(NeighbourAddress::Inet6(ip)) => address = Some(IpAddr::V6(ip)),
            NeighbourAttribute::LinkLayerAddress(bytes) => {
                mac = Some(bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":"))
            }
            _ => {}
        }
    }
    Some(Neighbour {
        index: message.header.ifindex,
        address: address?,
        mac,
        state: state_name(message.header.state),
    })
}
