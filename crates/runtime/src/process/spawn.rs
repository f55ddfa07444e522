//! The container's process is made: the one clone every front end goes
//! through (`create` for OCI bundles and lab nodes, `nsbox unshare` in the
//! foreground). The runtime opens what the child needs from its own
//! namespaces (namespaces to join, id-mapped mounts' user namespaces),
//! clones the child into its new namespaces — born in its cgroup where v2
//! allows it —, writes its id maps and puts it in its cgroups. The child
//! runs `init::run`; the caller talks to it over the returned channel.

use super::channel::{self, Channel};
use super::init::{self, InitContext, Launch};
use super::ChildGuard;
use crate::cgroup::oci::CgroupDir;
use crate::cgroup::CgroupError;
use crate::config::Config;
use nsbox_ns::idmap::{write_map, IdKind, IdMapError};
use nsbox_ns::NsKind;
use nsbox_sys::CloneResult;
use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, OwnedFd};

#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    #[error("{step}: {}", nsbox_sys::errno::describe(source))]
    Io { step: &'static str, source: io::Error },
    #[error(transparent)]
    IdMap(#[from] IdMapError),
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
}

fn io_err(step: &'static str) -> impl FnOnce(io::Error) -> SpawnError {
    move |source| SpawnError::Io { step, source }
}

/// How the container's process is to be made, beside its config.
pub(crate) struct SpawnOptions<'a> {
    pub launch: Launch<'a>,
    /// Descriptors 3 .. 3+N reach the program (`--preserve-fds`); None:
    /// every descriptor the caller gave (`nsbox unshare` passes them on).
    pub preserve_fds: Option<u32>,
    pub no_pivot: bool,
    /// The session keyring to join, named after the container.
    pub keyring: Option<CString>,
    /// The cgroups made for it (see `cgroup::oci`).
    pub cgroups: &'a [CgroupDir],
    pub seccomp: Option<&'a crate::seccomp::Filter>,
    /// The engine's console socket, connected (`--console-socket`).
    pub console: Option<OwnedFd>,
}

/// The child, killed and reaped on drop until disarmed, and the runtime's
/// end of the channel to it.
pub(crate) struct Spawned {
    pub child: ChildGuard,
    pub channel: Channel,
    /// The child waits for `Go` (always with a launch at `start`).
    pub waits_for_go: bool,
}

/// Makes the container's process. The calling process must have no other
/// thread (the child is a copy of this one only).
pub(crate) fn spawn(config: &Config, opts: SpawnOptions) -> Result<Spawned, SpawnError> {
    // The user namespaces of id-mapped mounts, made here in the runtime's
    // own namespaces; the child inherits the descriptors.
    let mut idmap_userns = Vec::new();
    for (i, m) in config.mounts.iter().enumerate() {
        if let Some(maps) = &m.idmap {
            let fd = super::userns::with_maps(&maps.uids, &maps.gids).map_err(|e| SpawnError::Io {
                step: "making an id-mapped mount's user namespace",
                source: io::Error::other(e.to_string()),
            })?;
            idmap_userns.push((i, fd));
        }
    }
    let joins = open_joins(config)?;
    let (parent_end, child_end) = channel::pair().map_err(io_err("making the channel"))?;
    // Lets the child see whether the runtime died before its parent-death
    // signal was armed (a pidfd becomes readable when its process exits).
    let me = rustix::process::pidfd_open(rustix::process::getpid(), rustix::process::PidfdFlags::empty())
        .map_err(|e| io_err("opening a pidfd")(e.into()))?;
    // The cgroup namespace is made by the child once it is in its cgroups
    // (its root is then the container's cgroup, not ours), and the time
    // namespace once the child runs (see init).
    let early = [
        NsKind::User,
        NsKind::Ipc,
        NsKind::Uts,
        NsKind::Net,
        NsKind::Pid,
        NsKind::Mnt,
    ];
    let flags = early
        .iter()
        .filter(|k| config.creates(**k))
        .fold(0, |f, k| f | k.clone_flag());
    // On cgroup v2 the child is born in its cgroup (CLONE_INTO_CGROUP: no
    // write to cgroup.procs, whose first one after an idle moment waits for
    // an RCU grace period); on v1, or where clone3 is refused (a
    // container's seccomp profile answers ENOSYS), it is moved in after.
    let clone3 = nsbox_sys::clone3_available();
    let target = if clone3 {
        crate::cgroup::oci::clone_target(opts.cgroups)
    } else {
        None
    };
    let (step, cloned) = match &target {
        Some(dir) => (
            "creating the container's process in its cgroup (clone3)",
            nsbox_sys::clone3_checked(flags, Some(dir.as_fd())),
        ),
        None if clone3 => (
            "creating the container's process (clone3)",
            nsbox_sys::clone3_checked(flags, None),
        ),
        None => (
            "creating the container's process (clone)",
            nsbox_sys::clone_checked(flags),
        ),
    };
    let waits_for_go = matches!(opts.launch, Launch::AtStart(_))
        || config.creates(NsKind::User)
        || (target.is_none() && !opts.cgroups.is_empty());
    match cloned.map_err(io_err(step))? {
        CloneResult::Child => {
            drop(parent_end);
            init::run(InitContext {
                config,
                channel: child_end,
                launch: opts.launch,
                wait_for_go: waits_for_go,
                parent: me,
                seccomp: opts.seccomp,
                console: opts.console,
                preserve_fds: opts.preserve_fds,
                no_pivot: opts.no_pivot,
                keyring: opts.keyring,
                idmap_userns,
                joins,
            })
        }
        CloneResult::Parent(pid) => {
            let child = ChildGuard::new(pid);
            drop((child_end, opts.launch, me, idmap_userns, joins, opts.console));
            if config.creates(NsKind::User) {
                write_map(pid, IdKind::Uid, &config.uid_maps)?;
                write_map(pid, IdKind::Gid, &config.gid_maps)?;
            }
            if target.is_none() {
                crate::cgroup::oci::add(opts.cgroups, pid)?;
            }
            Ok(Spawned {
                child,
                channel: parent_end,
                waits_for_go,
            })
        }
    }
}

/// Every namespace to join, opened here in the runtime's own mount
/// namespace. A pid or time namespace applies to children: joined now,
/// right before the clone (after the id-mapped mounts' helpers; the
/// runtime makes no other child after this one). The child joins the
/// others by these descriptors, in this order.
fn open_joins(config: &Config) -> Result<Vec<(NsKind, OwnedFd)>, SpawnError> {
    let mut joins = Vec::new();
    for (kind, path) in config.joins() {
        let file = std::fs::File::open(path).map_err(|e| SpawnError::Io {
            step: "opening a namespace to join",
            source: io::Error::new(e.kind(), format!("{}: {e}", path.display())),
        })?;
        if kind.applies_to_children_only() {
            use rustix::thread::LinkNameSpaceType as T;
            let ty = if kind == NsKind::Pid { T::ProcessID } else { T::Time };
            rustix::thread::move_into_link_name_space(file.as_fd(), Some(ty))
                .map_err(|e| io_err("joining a pid or time namespace")(e.into()))?;
        } else {
            joins.push((kind, OwnedFd::from(file)));
        }
    }
    Ok(joins)
}
