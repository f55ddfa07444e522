//! Namespaces, the members of the kernel's `struct nsproxy` (plus the user,
//! cgroup and time namespaces that sit beside it): their kinds, how to inspect
//! which ones a process is in, how to join another process's, and the uid/gid
//! maps of user namespaces.
//!
//! This crate knows nothing of containers or labs.

pub mod idmap;
pub mod inspect;
pub mod join;
pub mod kind;
pub mod netns;

pub use idmap::{IdMap, IdMapError};
pub use inspect::{InspectError, NsId, ProcessNamespaces};
pub use join::{JoinError, Joiner};
pub use kind::{NsKind, NsKindError, NsSet};
