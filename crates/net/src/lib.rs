//! Networking inside any network namespace, over netlink, never by spawning
//! `ip`: a small synchronous netlink transport and, on it, links, addresses,
//! routes and sysctls.
//!
//! One [`Netlink`] socket serves one namespace: it is opened by a thread
//! that has joined that namespace, and a netlink socket stays bound to the
//! namespace it was created in, so the caller's own threads never switch.

pub mod addr;
pub mod capture;
mod error;
pub mod firewall;
pub mod icmp;
pub mod link;
pub mod neigh;
pub mod neigh_table;
pub mod nsid;
pub mod orphans;
pub mod ping;
pub mod qdisc;
pub mod route;
pub mod seen;
pub mod snapshot;
pub mod socket;
pub mod sysctl;
pub mod tcp;
pub mod teardown;
pub mod udp;

#[cfg(test)]
mod golden;
#[cfg(test)]
mod properties;

pub use error::NetError;
pub use socket::Netlink;
