//! Which network namespaces a lab owns: the one rule every verb that
//! deletes asks before it unpins a namespace or kills what runs in it.
//!
//! A name proves nothing (anyone can `ip netns add seed-server`), and a
//! state file can be lost or corrupt. So nsbox marks each namespace it makes
//! for a lab on the namespace itself, *before* pinning it under its name:
//! the alias of its `lo` says `nsbox lab LAB`. No moment exists in which
//! the namespace is visible by name and not yet marked, so a crash at any
//! point leaves either nothing or a marked namespace. `down` deletes a
//! namespace only when the mark is there and names this lab; anything
//! else that merely has a matching name is left alone, with a warning.

use crate::deploy::{net_err, LabError};
use nsbox_net::link::LinkChange;
use nsbox_net::Netlink;
use nsbox_ns::netns::{NetnsError, Registry};
use std::os::fd::OwnedFd;

/// The text on a lab namespace's `lo` that marks it as the lab's.
pub fn mark(lab: &str) -> String {
    format!("nsbox lab {lab}")
}

/// What a name under /run/netns is, to a lab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// A namespace that carries this lab's mark.
    Ours,
    /// Nothing by that name.
    Absent,
    /// An empty pin file with no namespace on it (a crash between making
    /// the file and mounting on it). Whose it is cannot be told; the caller
    /// decides from its own records.
    Unpinned,
    /// A namespace without this lab's mark: someone else's. Says why.
    Foreign(String),
}

/// Makes a new network namespace for the calling thread, marks it as
/// `lab`'s (and brings its `lo` up) with the lab's default sysctls
/// ([`crate::deploy::LAB_DEFAULTS`]), then pins it as `netns`. The thread
/// stays in the namespace; the returned socket and descriptor belong to it.
pub fn make_here(registry: &Registry, lab: &str, node: &str, netns: &str) -> Result<(OwnedFd, Netlink), LabError> {
    registry.new_here(netns)?;
    crate::deploy::LAB_DEFAULTS
        .iter()
        .try_for_each(|(key, value)| nsbox_net::sysctl::write(key, value))
        .map_err(net_err(node, "setting the lab's default sysctls"))?;
    let mut nl = Netlink::open().map_err(net_err(node, "opening its netlink socket"))?;
    let mark = mark(lab);
    let change = LinkChange {
        up: Some(true),
        alias: Some(&mark),
        ..LinkChange::default()
    };
    nl.change_link("lo", &change)
        .map_err(net_err(node, "marking its namespace as the lab's"))?;
    let fd = registry.pin_here(netns)?;
    Ok((fd, nl))
}

/// Whose each of `names` is, as seen by `lab` (in order).
pub fn owners(registry: &Registry, lab: &str, names: &[String]) -> Result<Vec<Owner>, LabError> {
    let mut owners = vec![Owner::Absent; names.len()];
    let mut open = Vec::new();
    let mut open_at = Vec::new();
    for (i, name) in names.iter().enumerate() {
        match registry.open(name) {
            Ok(fd) => {
                open.push(fd);
                open_at.push(i);
            }
            Err(NetnsError::NotFound(_)) if registry.is_unpinned_file(name) => owners[i] = Owner::Unpinned,
            Err(NetnsError::NotFound(_)) => {}
            Err(NetnsError::InvalidName(_)) => owners[i] = Owner::Foreign("not a plain name".into()),
            Err(e) => return Err(e.into()),
        }
    }
    if open.is_empty() {
        return Ok(owners);
    }
    let lab = lab.to_string();
    let found = nsbox_ns::netns::run_in_each(open, move |_| match Netlink::open() {
        Ok(mut nl) => owner_of(&mut nl, &lab),
        Err(e) => Owner::Foreign(format!("its mark could not be read: {e}")),
    })?;
    for (i, owner) in open_at.into_iter().zip(found) {
        owners[i] = owner;
    }
    Ok(owners)
}

/// Whose the namespace that `nl` is a socket of is, as seen by `lab`: the
/// mark on its `lo`. For a namespace already opened, with no second socket.
pub fn owner_of(nl: &mut Netlink, lab: &str) -> Owner {
    match nl.link("lo").map(|lo| lo.alias.unwrap_or_default()) {
        Ok(alias) if alias == mark(lab) => Owner::Ours,
        Ok(alias) if alias.is_empty() => Owner::Foreign("it carries no nsbox mark".into()),
        Ok(alias) => Owner::Foreign(format!("its mark is {alias:?}")),
        Err(e) => Owner::Foreign(format!("its mark could not be read: {e}")),
    }
}
