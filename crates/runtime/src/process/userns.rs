//! A user namespace with given id maps, held by a file descriptor: what an
//! id-mapped mount (spec 1.2's `idmap`/`ridmap`) is mapped through. The
//! kernel makes a user namespace only for a process, so a short-lived
//! child is cloned into a new one, its maps written, its namespace opened,
//! and the child killed; the descriptor keeps the namespace.

use nsbox_ns::idmap::{write_map, IdKind, IdMap};
use nsbox_sys::CloneResult;
use std::os::fd::OwnedFd;

#[derive(Debug, thiserror::Error)]
#[error("making a user namespace for an id-mapped mount: {0}")]
pub struct UsernsError(String);

/// A user namespace whose uid and gid maps are `uids` and `gids`. The
/// caller must be single-threaded (the child is a clone of it).
pub fn with_maps(uids: &[IdMap], gids: &[IdMap]) -> Result<OwnedFd, UsernsError> {
    let cloned = nsbox_sys::clone_checked(libc::CLONE_NEWUSER as u64).map_err(|e| UsernsError(e.to_string()))?;
    let pid = match cloned {
        CloneResult::Child => loop {
            // Killed by the parent once its namespace is open.
            std::thread::sleep(std::time::Duration::from_secs(3600));
        },
        CloneResult::Parent(pid) => pid,
    };
    // Killed and reaped once its namespace is open (or could not be).
    let _child = super::ChildGuard::new(pid);
    let opened = (|| {
        write_map(pid, IdKind::Uid, uids).map_err(|e| UsernsError(e.to_string()))?;
        write_map(pid, IdKind::Gid, gids).map_err(|e| UsernsError(e.to_string()))?;
        std::fs::File::open(format!("/proc/{pid}/ns/user"))
            .map(OwnedFd::from)
            .map_err(|e| UsernsError(e.to_string()))
    })();
    let _ = nsbox_sys::kill(pid, libc::SIGKILL);
    let _ = rustix::process::waitpid(
        rustix::process::Pid::from_raw(pid),
        rustix::process::WaitOptions::empty(),
    );
    opened
}
