//! Deleting named network namespaces and waiting until the kernel has
//! really released them.
//!
//! Unpinning a namespace (what `ip netns delete` does) returns at once; the
//! kernel tears the namespace down later, in a worker that takes all dead
//! namespaces together (one RCU grace period for all their devices, where
//! deleting links one by one costs one each, ~19 ms here). To know when
//! that has happened, nsbox first puts a sentinel in each namespace: a veth
//! whose other end lives in an observer namespace of its own. The kernel
//! unregisters the sentinel with the namespace's other devices, and its
//! observer end goes with it; when the observer holds no sentinel any
//! more, every namespace has been torn down.

use crate::error::NetError;
use crate::link::{veth_request, VethEnd, VethPeer};
use crate::socket::Netlink;
use nsbox_ns::netns::{new_anonymous, Registry};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

/// The sentinel's name inside each namespace being deleted.
pub const SENTINEL: &str = "nsbox-watch";

/// Unpins the named namespaces `names` and returns once the kernel has torn
/// every one of them down (their devices unregistered), or fails after
/// `timeout` naming those that are still alive (a process still inside one
/// keeps it alive).
pub fn delete_and_wait<N: AsRef<std::ffi::OsStr>>(
    registry: &Registry,
    names: &[N],
    timeout: Duration,
) -> Result<(), NetError> {
    let observer = new_anonymous()?;
    let mut watch = Netlink::open_in(observer.as_fd())?;
    // A pin file with no namespace behind it (left by a crash) has nothing
    // to wait for: it is just removed.
    let mut live = Vec::new();
    for name in names {
        let name = name.as_ref();
        match registry.open(name) {
            Ok(fd) => live.push((name.to_os_string(), fd)),
            Err(nsbox_ns::netns::NetnsError::NotFound(_)) if registry.path(name)?.exists() => registry.delete(name)?,
            Err(e) => return Err(e.into()),
        }
    }
    let (names, fds): (Vec<std::ffi::OsString>, Vec<_>) = live.into_iter().unzip();
    // Each namespace's identity, to name what still holds it if it lingers.
    let inodes: Vec<u64> = fds
        .iter()
        .map(|fd| rustix::fs::fstat(fd).map_or(0, |st| st.st_ino))
        .collect();
    let ends: Vec<String> = (0..names.len()).map(|i| format!("w{i}")).collect();
    let requests = fds
        .iter()
        .zip(&ends)
        .map(|(fd, end)| {
            veth_request(
                VethEnd {
                    name: end,
                    netns: None,
                    up: false,
                    index: None,
                },
                VethPeer {
                    name: SENTINEL,
                    netns: Some(fd.as_fd()),
                    index: None,
                },
                None,
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    watch.request_many(requests)?;
    // Connections whose processes are gone but whose close is unfinished
    // would keep their namespace alive for minutes when the peer is gone
    // too. Best effort: the wait below names a namespace that still lingers.
    let _ = crate::orphans::abort_in(fds);
    for name in &names {
        registry.delete(name)?;
    }
    // A timeout too long for the clock means no deadline at all.
    let deadline = Instant::now().checked_add(timeout);
    // Each look is a dump of the observer's links; looking less and less
    // often leaves the CPU to the kernel's teardown worker.
    let mut pause = Duration::from_millis(1);
    loop {
        let left: Vec<String> = watch
            .links()?
            .into_iter()
            .map(|l| l.name)
            .filter(|n| n != "lo")
            .collect();
        if left.is_empty() {
            return Ok(());
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            let names = left
                .iter()
                .filter_map(|end| end.strip_prefix('w')?.parse::<usize>().ok())
                .filter_map(|i| Some(held_by(&nsbox_ns::netns::display_name(names.get(i)?), inodes[i])))
                .collect();
            return Err(NetError::StillAlive {
                names,
                seconds: timeout.as_secs(),
            });
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(16));
    }
}

/// `NAME`, with the processes that are still in it: what keeps it alive.
fn held_by(name: &str, inode: u64) -> String {
    let pids = nsbox_ns::netns::processes_in(&[inode]).unwrap_or_default();
    if pids.is_empty() {
        return format!("{name} (no process is in it: something holds a socket or descriptor of it)");
    }
    let holders: Vec<String> = pids
        .iter()
        .map(|pid| {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            format!("pid {pid} {}", comm.trim())
        })
        .collect();
    format!("{name} (held by {})", holders.join(", "))
}
