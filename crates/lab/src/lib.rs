//! Declarative network labs: a lab file describes nodes (network
//! namespaces), links, addresses, routes, forwarding, NAT and filter rules,
//! and what must and must not be reachable; this crate reads it, brings it
//! up all or nothing, checks it, runs its steps and tears it down.

pub mod apply;
pub mod clab;
pub mod deploy;
pub mod explain;
pub mod file;
pub mod graph;
pub mod load;
pub mod model;
pub mod nft_block;
pub mod observe;
pub mod outcome;
pub mod owner;
pub mod pacing;
pub mod paths;
pub mod plan;
pub mod probe;
pub mod routers;
pub mod scenario;
pub mod services;
pub mod start_order;
pub mod state;
pub mod step_capture;
pub mod throughput;
pub mod window;
mod yaml_errors;

pub use load::{load, Diagnostic, Diagnostics};
pub use model::Lab;
