//! The processes of an OCI container and how they talk: the typed channel
//! between the runtime and the container's process, and the ordered steps
//! that process takes before it becomes the container's program.

pub mod channel;
pub mod init;
pub mod userns;
