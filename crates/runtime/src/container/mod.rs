//! Containers as the OCI runtime's verbs (`create`, `start`, `state`,
//! `kill`, `delete`) will see them (issue 15; ../shared/RUNTIME.md's
//! `container/`). So far: the status and the identity of a container's
//! process (`state`), and the root directory of their records (`store`).

pub mod state;
pub mod store;

pub use state::{ProcessIdentity, Status};
pub use store::{check_id, Entry, Record, Root, StoreError};
