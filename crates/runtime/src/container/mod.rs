//! Containers as the OCI runtime's verbs (`create`, `start`, `state`,
//! `kill`, `delete`) will see them (issue 15; ../shared/RUNTIME.md's
//! `container/`). So far: the status and the identity of a container's
//! process (`state`).

pub mod state;

pub use state::{ProcessIdentity, Status};
