//! Declarative network labs: a lab file describes nodes (network
//! namespaces), links, addresses, routes, forwarding, NAT and filter rules,
//! and what must and must not be reachable; this crate reads it, brings it
//! up all or nothing, checks it, runs its steps and tears it down.

pub mod file;
pub mod load;
pub mod model;

pub use load::{load, Diagnostic, Diagnostics};
pub use model::Lab;
