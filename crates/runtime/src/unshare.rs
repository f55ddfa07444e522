//! `nsbox unshare`: a container from a [`Spec`], run to completion.
//!
//! The process tree:
//!
//! ```text
//! nsbox (host)            forwards signals, waits, removes the cgroups
//! └── child (new namespaces)   sets up hostname, mounts, time; then either
//!     ├── execs the command          (no new pid or time namespace), or
//!     └── is PID 1 (nsbox-init) and forks the command
//! ```

use crate::cgroup::{CgroupError, CgroupSet, Layout};
use crate::exec::{describe, Command, CommandError, Failure, EXIT_SETUP_FAILED};
use crate::init::run_init;
use crate::process::channel::{self, Channel, Message};
use crate::process::ChildGuard;
use crate::rootfs::enter_new_root;
use crate::spec::{Spec, SpecError};
use crate::supervise::{supervise, supervisor_signals};
use nsbox_ns::idmap::{write_map, IdKind, IdMapError};
use nsbox_ns::{JoinError, NsKind};
use nsbox_sys::CloneResult;
use std::io;
use std::os::fd::{AsFd, OwnedFd};

/// Why a container did not run (its command's own exit status is not an error).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error(transparent)]
    Command(#[from] CommandError),
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
    #[error(transparent)]
    IdMap(#[from] IdMapError),
    #[error(transparent)]
    Join(#[from] JoinError),
    #[error("{step}: {}", describe(source))]
    Io { step: &'static str, source: io::Error },
    /// The child failed before the command ran, or the command could not be executed.
    #[error("{}", .0.message)]
    Child(Failure),
}

impl RunError {
    /// The exit status nsbox reports for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            RunError::Child(f) => f.code,
            _ => EXIT_SETUP_FAILED,
        }
    }
}

pub(crate) fn io_err(step: &'static str) -> impl FnOnce(io::Error) -> RunError {
    move |source| RunError::Io { step, source }
}

/// Runs `spec`'s command in new namespaces and returns its exit status
/// (128+N if it died of signal N).
pub fn run(mut spec: Spec) -> Result<i32, RunError> {
    spec.validate()?;
    let command = Command::new(&spec.argv, &spec.env)?
        .with_workdir(spec.workdir.clone())
        .with_user(spec.user);
    let cgroups = if spec.limits.is_empty() {
        None
    } else {
        let name = crate::cgroup::unique_name();
        Some(CgroupSet::create(&Layout::detect()?, &name, &spec.limits)?)
    };
    let old_mask = supervisor_signals().block().map_err(io_err("blocking signals"))?;
    let result = spawn_and_wait(&spec, &command, cgroups.as_ref());
    let _ = old_mask.set_mask();
    // A SIGKILL under a memory limit: say whether the OOM killer sent it
    // (the memory cgroup counts its kills), or the status alone hides why.
    if let (Ok(code), Some(set), Some(limit)) = (&result, &cgroups, spec.limits.memory) {
        if *code == 128 + libc::SIGKILL && set.oom_kills() > 0 {
            eprintln!(
                "nsbox: the command was killed by the OOM killer (memory limit {}M)",
                limit >> 20
            );
        }
    }
    // The container is gone (or never started): its cgroups can go too.
    let removed = cgroups.map_or(Ok(()), CgroupSet::remove);
    let code = result?;
    removed?;
    Ok(code)
}

fn spawn_and_wait(spec: &Spec, command: &Command, cgroups: Option<&CgroupSet>) -> Result<i32, RunError> {
    // On cgroup v2 the child is born in its cgroup; on v1 the parent moves
    // it in, as it does where clone3 is refused (a container's seccomp
    // profile): then `clone` makes it, which cannot place it in a cgroup.
    let clone3 = nsbox_sys::clone3_available();
    let cgroup_target = cgroups.filter(|_| clone3).and_then(CgroupSet::clone_target);
    let moved_in_later = cgroups.filter(|_| cgroup_target.is_none());
    // The child waits only when the parent has work to do for it first.
    let needs_go = spec.has(NsKind::User) || moved_in_later.is_some();
    let (parent_end, child_end) = channel::pair().map_err(io_err("creating the channel to the container"))?;
    // Lets the child see whether nsbox died before its parent-death signal
    // was armed (a pidfd becomes readable when its process exits).
    let me = rustix::process::pidfd_open(rustix::process::getpid(), rustix::process::PidfdFlags::empty())
        .map_err(|e| io_err("opening a pidfd")(e.into()))?;
    // The cgroup namespace is made by the child once it is in its cgroups
    // (so that its root is the container's cgroup, not ours), and the time
    // namespace by the init (its offsets must be set before a process enters it).
    let late = NsKind::Cgroup.clone_flag() | NsKind::Time.clone_flag();
    let flags = spec.namespaces.clone_flags() & !late;
    // The child is a copy of this thread only, so nsbox must have no other
    // thread here (checked by clone3_checked).
    let target = cgroup_target.as_ref().map(|f| f.as_fd());
    let (step, cloned) = match target {
        // CLONE_INTO_CGROUP needs Linux 5.7.
        Some(_) => (
            "creating namespaces in the container's cgroup (clone3)",
            nsbox_sys::clone3_checked(flags, target),
        ),
        None if clone3 => ("creating namespaces (clone3)", nsbox_sys::clone3_checked(flags, None)),
        None => ("creating namespaces (clone)", nsbox_sys::clone_checked(flags)),
    };
    let pid = match cloned.map_err(io_err(step))? {
        CloneResult::Child => {
            drop(parent_end);
            child_main(spec, command, &me, needs_go, child_end)
        }
        CloneResult::Parent(pid) => pid,
    };
    drop((child_end, me, cgroup_target));
    let child = ChildGuard::new(pid);
    if spec.has(NsKind::User) {
        write_map(pid, IdKind::Uid, &spec.uid_maps)?;
        write_map(pid, IdKind::Gid, &spec.gid_maps)?;
    }
    if let Some(cgroups) = moved_in_later {
        cgroups.add(pid)?;
    }
    if needs_go {
        parent_end
            .send(&Message::Go)
            .map_err(io_err("starting the container"))?;
    }
    // End of file: the child's end closed on exec (or, with an init, once
    // the command was spawned).
    match parent_end.recv().map_err(io_err("reading the container's report"))? {
        None => {}
        Some(Message::CommandFailed(failure)) => {
            child.reap();
            return Err(RunError::Child(failure));
        }
        Some(other) => {
            child.reap();
            return Err(RunError::Io {
                step: "reading the container's report",
                source: io::Error::other(format!("unexpected {other:?}")),
            });
        }
    }
    let pid = child.disarm();
    supervise(pid, false).map_err(io_err("waiting for the container"))
}

/// The child: waits for the parent, builds the container, runs the command.
fn child_main(spec: &Spec, command: &Command, parent: &OwnedFd, wait_for_go: bool, channel: Channel) -> ! {
    // If nsbox dies, so does the container (and with a pid namespace, all of it).
    let _ = rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL));
    if crate::process::has_exited(parent) {
        nsbox_sys::exit_now(EXIT_SETUP_FAILED);
    }
    if wait_for_go && !matches!(channel.recv(), Ok(Some(Message::Go))) {
        nsbox_sys::exit_now(EXIT_SETUP_FAILED);
    }
    if let Err(failure) = prepare(spec) {
        channel.fail_command(failure);
    }
    if spec.needs_init() {
        run_init(command, channel)
    } else {
        channel.fail_command(command.exec())
    }
}

fn fail(step: &str) -> impl FnOnce(io::Error) -> Failure + '_ {
    move |e| Failure::setup(format!("{step}: {}", describe(&e)))
}

/// Everything the child sets up inside its namespaces, in order.
fn prepare(spec: &Spec) -> Result<(), Failure> {
    if spec.has(NsKind::User) {
        // Become root of the new user namespace where root is mapped (a
        // process starts as whatever its outside uid maps to).
        use rustix::process::{Gid, Uid};
        let _ = rustix::thread::set_thread_res_gid(Gid::ROOT, Gid::ROOT, Gid::ROOT);
        let _ = rustix::thread::set_thread_res_uid(Uid::ROOT, Uid::ROOT, Uid::ROOT);
    }
    if spec.has(NsKind::Cgroup) {
        nsbox_sys::unshare_namespaces(NsKind::Cgroup.clone_flag()).map_err(fail("creating the cgroup namespace"))?;
    }
    if let Some(name) = &spec.hostname {
        rustix::system::sethostname(name.as_bytes()).map_err(|e| fail("setting the hostname")(e.into()))?;
    }
    if let Some(name) = &spec.domainname {
        rustix::system::setdomainname(name.as_bytes()).map_err(|e| fail("setting the domain name")(e.into()))?;
    }
    if spec.loopback_up {
        nsbox_sys::net::set_link_up("lo").map_err(fail("bringing lo up"))?;
    }
    if spec.has(NsKind::Time) {
        nsbox_sys::unshare_namespaces(NsKind::Time.clone_flag()).map_err(fail("creating the time namespace"))?;
        let offsets = spec.time_offsets.unwrap_or_default();
        let text = format!("monotonic {} 0\nboottime {} 0\n", offsets.monotonic, offsets.boottime);
        std::fs::write("/proc/self/timens_offsets", text).map_err(fail("setting the time offsets"))?;
    }
    if spec.has(NsKind::Mnt) {
        enter_new_root(spec).map_err(Failure::setup)?;
    }
    Ok(())
}
