//! Named network namespaces, pinned by bind mounts under `/run/netns`
//! exactly as `ip netns` pins them, so that `ip netns` and nsbox see (and
//! can use) each other's namespaces; and running a closure inside one on a
//! throwaway thread.

use std::ffi::{OsStr, OsString};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Where `ip netns` (and nsbox) pin named network namespaces.
pub const RUN_DIR: &str = "/run/netns";

#[derive(Debug, thiserror::Error)]
pub enum NetnsError {
    #[error("invalid network namespace name {0:?}: it must be a file name (no '/', not '.' or '..')")]
    InvalidName(String),
    #[error("network namespace {0:?} already exists")]
    Exists(String),
    #[error("network namespace {0:?} does not exist")]
    NotFound(String),
    #[error("no process with PID {0}")]
    NoSuchProcess(i32),
    #[error("{step} {path}: {source}")]
    Io {
        step: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the thread that works inside network namespace {0:?} panicked")]
    ThreadPanicked(String),
}

fn io<T>(step: &'static str, path: &Path, r: impl Into<Result<T, std::io::Error>>) -> Result<T, NetnsError> {
    r.into().map_err(|source| NetnsError::Io {
        step,
        path: path.to_path_buf(),
        source,
    })
}

fn rx<T>(r: rustix::io::Result<T>) -> Result<T, std::io::Error> {
    r.map_err(Into::into)
}

/// Creates a network namespace that has no name: it lives as long as the
/// returned file descriptor (or anything else that holds it). Made on a
/// throwaway thread, so the caller's namespace does not change.
pub fn new_anonymous() -> Result<OwnedFd, NetnsError> {
    let path = PathBuf::from("/proc/thread-self/ns/net");
    let made = std::thread::spawn(|| -> Result<OwnedFd, std::io::Error> {
        nsbox_sys::unshare_namespaces(libc::CLONE_NEWNET as u64)?;
        let flags = rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC;
        rx(rustix::fs::open(
            "/proc/thread-self/ns/net",
            flags,
            rustix::fs::Mode::empty(),
        ))
    })
    .join()
    .map_err(|_| NetnsError::ThreadPanicked("(anonymous)".into()))?;
    io("creating a network namespace at", &path, made)
}

/// Moves the calling thread into the network namespace `ns` refers to
/// (setns): for throwaway threads only, which never move back.
fn join_here(ns: &OwnedFd) -> Result<(), std::io::Error> {
    rx(rustix::thread::move_into_link_name_space(
        std::os::fd::AsFd::as_fd(ns),
        Some(rustix::thread::LinkNameSpaceType::Network),
    ))
}

/// Runs `f` on a throwaway thread inside the network namespace `ns` refers to.
pub fn run_in_fd<T: Send + 'static>(ns: &OwnedFd, f: impl FnOnce() -> T + Send + 'static) -> Result<T, NetnsError> {
    let fd = ns.try_clone().map_err(|source| NetnsError::Io {
        step: "duplicating",
        path: "namespace fd".into(),
        source,
    })?;
    let joined = std::thread::spawn(move || -> Result<T, std::io::Error> {
        join_here(&fd)?;
        Ok(f())
    })
    .join()
    .map_err(|_| NetnsError::ThreadPanicked("(by fd)".into()))?;
    io("joining", Path::new("namespace fd"), joined)
}

/// Runs `f(i)` inside each namespace `namespaces[i]` in turn, on one
/// throwaway thread that joins them one after the other (one thread for
/// many namespaces, where [`run_in_fd`] takes one each).
pub fn run_in_each<T: Send + 'static>(
    namespaces: Vec<OwnedFd>,
    f: impl Fn(usize) -> T + Send + 'static,
) -> Result<Vec<T>, NetnsError> {
    let joined = std::thread::spawn(move || -> Result<Vec<T>, std::io::Error> {
        let mut out = Vec::with_capacity(namespaces.len());
        for (i, fd) in namespaces.iter().enumerate() {
            join_here(fd)?;
            out.push(f(i));
        }
        Ok(out)
    })
    .join()
    .map_err(|_| NetnsError::ThreadPanicked("(each in turn)".into()))?;
    io("joining", Path::new("namespace fd"), joined)
}

/// The named network namespaces of a run directory (normally [`RUN_DIR`]).
#[derive(Debug, Clone)]
pub struct Registry {
    dir: PathBuf,
}

impl Default for Registry {
    fn default() -> Self {
        Registry {
            dir: PathBuf::from(RUN_DIR),
        }
    }
}

/// A name as people can read it: UTF-8 as it is, any other byte as
/// `\xNN` (names under /run/netns are bytes, and `ip netns add` takes any).
pub fn display_name(name: &OsStr) -> String {
    let mut out = String::new();
    for chunk in name.as_bytes().utf8_chunks() {
        out.push_str(chunk.valid());
        for byte in chunk.invalid() {
            out.push_str(&format!("\\x{byte:02x}"));
        }
    }
    out
}

/// A named network namespace and the namespace it pins.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NamedNetns {
    /// The name as people read it (see [`display_name`]).
    pub name: String,
    /// The name as the file system has it, for deleting or opening it.
    #[serde(skip)]
    pub raw: OsString,
    /// The namespace's nsfs inode, as `/proc/PID/ns/net` links show it.
    pub inode: u64,
}

impl Registry {
    pub fn at(dir: impl Into<PathBuf>) -> Self {
        Registry { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The pin file of `name`, after checking that the name is a plain file name.
    pub fn path(&self, name: impl AsRef<OsStr>) -> Result<PathBuf, NetnsError> {
        let name = name.as_ref();
        let bytes = name.as_bytes();
        if bytes.is_empty() || bytes == b"." || bytes == b".." || bytes.contains(&b'/') || bytes.contains(&0) {
            return Err(NetnsError::InvalidName(display_name(name)));
        }
        Ok(self.dir.join(name))
    }

    /// Creates a new network namespace pinned as `name` (`ip netns add`).
    /// On failure nothing is left: no pin file, no mount.
    pub fn add(&self, name: &str) -> Result<NamedNetns, NetnsError> {
        self.pin_with(name, |target| {
            // A throwaway thread gets the new namespace, so the caller's
            // own stays as it was; the pin keeps the namespace alive after
            // the thread exits.
            let target = target.to_path_buf();
            std::thread::spawn(move || -> Result<(), std::io::Error> {
                nsbox_sys::unshare_namespaces(libc::CLONE_NEWNET as u64)?;
                rx(rustix::mount::mount_bind("/proc/thread-self/ns/net", &target))
            })
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("thread panicked")))
        })
    }

    /// Pins the calling thread's own network namespace as `name`: for a
    /// thread that has just made a namespace of its own (with unshare).
    pub fn pin_current_thread(&self, name: &str) -> Result<NamedNetns, NetnsError> {
        self.pin_with(name, |target| {
            rx(rustix::mount::mount_bind("/proc/thread-self/ns/net", target))
        })
    }

    /// Makes a new network namespace for the calling thread and pins it as
    /// `name`. The thread stays in it, so that what it opens next (netlink
    /// sockets, /proc/sys/net) belongs to the new namespace: for threads
    /// made to set namespaces up, several at once. Returns an open
    /// descriptor of the namespace.
    pub fn add_here(&self, name: &str) -> Result<OwnedFd, NetnsError> {
        self.new_here(name)?;
        self.pin_here(name)
    }

    /// The first half of [`Registry::add_here`]: a new network namespace
    /// for the calling thread, not pinned yet, so that the caller can mark
    /// it (or set it up) before any other process can see it by name.
    pub fn new_here(&self, name: &str) -> Result<(), NetnsError> {
        let path = self.path(name)?;
        io(
            "creating a network namespace for",
            &path,
            nsbox_sys::unshare_namespaces(libc::CLONE_NEWNET as u64),
        )
    }

    /// The second half of [`Registry::add_here`]: pins the calling thread's
    /// network namespace as `name` and returns an open descriptor of it.
    pub fn pin_here(&self, name: &str) -> Result<OwnedFd, NetnsError> {
        let path = self.path(name)?;
        self.pin_current_thread(name)?;
        let flags = rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC;
        io(
            "opening",
            &path,
            rx(rustix::fs::open(
                "/proc/thread-self/ns/net",
                flags,
                rustix::fs::Mode::empty(),
            )),
        )
    }

    /// Pins the network namespace of process `pid` as `name` (`ip netns attach`).
    pub fn attach(&self, name: &str, pid: i32) -> Result<NamedNetns, NetnsError> {
        let source = PathBuf::from(format!("/proc/{pid}/ns/net"));
        if !Path::new(&format!("/proc/{pid}")).exists() {
            return Err(NetnsError::NoSuchProcess(pid));
        }
        self.pin_with(name, |target| rx(rustix::mount::mount_bind(&source, target)))
    }

    /// Makes the pin file and runs `bind` to mount a namespace on it;
    /// removes the file again if that fails.
    fn pin_with(&self, name: &str, bind: impl FnOnce(&Path) -> std::io::Result<()>) -> Result<NamedNetns, NetnsError> {
        let path = self.path(name)?;
        self.prepare_dir()?;
        match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Err(NetnsError::Exists(name.into())),
            Err(e) => return io("creating", &path, Err(e)),
        }
        if let Err(e) = bind(&path) {
            let _ = std::fs::remove_file(&path);
            return io("pinning the namespace at", &path, Err(e));
        }
        Ok(NamedNetns {
            name: name.to_string(),
            raw: name.into(),
            inode: io("reading", &path, std::fs::metadata(&path))?.ino(),
        })
    }

    /// Makes the run directory a shared mount point, as `ip netns add` does,
    /// so that a pin made from one mount namespace shows in the others.
    ///
    /// Under an exclusive lock on the directory: two pins made at once (a
    /// lab's nodes are made by several threads, and two nsbox may run)
    /// would otherwise both find it no mount point and both bind it onto
    /// itself. Two stacked binds of one shared directory hold every pin
    /// twice at the same place, and deleting one then fails with EBUSY.
    fn prepare_dir(&self) -> Result<(), NetnsError> {
        use rustix::fs::{flock, FlockOperation};
        use rustix::mount::{mount_bind, mount_change, MountPropagationFlags};
        let dir = &self.dir;
        io("creating", dir, std::fs::create_dir_all(dir))?;
        let handle = io("opening", dir, std::fs::File::open(dir))?;
        // Released when `handle` closes, at the end of this function.
        io("locking", dir, rx(flock(&handle, FlockOperation::LockExclusive)))?;
        let shared = MountPropagationFlags::SHARED | MountPropagationFlags::REC;
        match mount_change(dir, shared) {
            Ok(()) => Ok(()),
            // Not a mount point yet: bind it onto itself first (once).
            Err(rustix::io::Errno::INVAL) => {
                io("binding onto itself", dir, rx(mount_bind(dir, dir)))?;
                io("making shared", dir, rx(mount_change(dir, shared)))
            }
            Err(e) => io("making shared", dir, rx(Err(e))),
        }
    }

    /// Unpins `name` (`ip netns delete`): the namespace goes away with its
    /// last user, and with it its interfaces (a veth's peer too).
    pub fn delete(&self, name: impl AsRef<OsStr>) -> Result<(), NetnsError> {
        let name = name.as_ref();
        let path = self.path(name)?;
        if !path.exists() {
            return Err(NetnsError::NotFound(display_name(name)));
        }
        // A pin that is not mounted (left by a crash half-way) is removed
        // all the same. One mounted more than once at its place (the run
        // directory bound onto itself twice by a race of other tools, see
        // `prepare_dir`) is unmounted until it is no mount point.
        const MOST_MOUNTS: usize = 8;
        for _ in 0..MOST_MOUNTS {
            match rustix::mount::unmount(&path, rustix::mount::UnmountFlags::DETACH) {
                Ok(()) => {}
                Err(rustix::io::Errno::INVAL) => break,
                Err(e) => return io("unmounting", &path, rx(Err(e))),
            }
            match std::fs::remove_file(&path) {
                Err(e) if e.raw_os_error() == Some(rustix::io::Errno::BUSY.raw_os_error()) => continue,
                other => return io("removing", &path, other),
            }
        }
        io("removing", &path, std::fs::remove_file(&path))
    }

    /// Every named namespace, sorted by name. Pin files that no longer pin
    /// a namespace (a crash between creating and mounting) are left out.
    pub fn list(&self) -> Result<Vec<NamedNetns>, NetnsError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return io("reading", &self.dir, Err(e)),
        };
        let mut out: Vec<NamedNetns> = entries
            .flatten()
            .filter_map(|entry| {
                let raw = entry.file_name();
                let inode = pinned_inode(&entry.path())?;
                Some(NamedNetns {
                    name: display_name(&raw),
                    raw,
                    inode,
                })
            })
            .collect();
        out.sort_by(|a, b| a.raw.cmp(&b.raw));
        Ok(out)
    }

    /// The names under which process `pid`'s network namespace is pinned
    /// (`ip netns identify`).
    pub fn identify(&self, pid: i32) -> Result<Vec<String>, NetnsError> {
        let link = PathBuf::from(format!("/proc/{pid}/ns/net"));
        let inode = match std::fs::metadata(&link) {
            Ok(m) => m.ino(),
            Err(_) => return Err(NetnsError::NoSuchProcess(pid)),
        };
        Ok(self
            .list()?
            .into_iter()
            .filter(|n| n.inode == inode)
            .map(|n| n.name)
            .collect())
    }

    /// The processes in namespace `name` (`ip netns pids`).
    pub fn pids(&self, name: impl AsRef<OsStr>) -> Result<Vec<i32>, NetnsError> {
        let name = name.as_ref();
        let path = self.path(name)?;
        let inode = pinned_inode(&path).ok_or_else(|| NetnsError::NotFound(display_name(name)))?;
        processes_in(&[inode])
    }

    /// Kills every process in the namespaces `names` (those pinned; others
    /// are skipped), again until none is left, since a process may fork
    /// between a look at /proc and the kill (a server handing a connection
    /// to a child). Those that are the caller's children are reaped, not
    /// left as zombies. Gives up after five seconds.
    pub fn kill_all_in(&self, names: &[String]) -> Result<(), NetnsError> {
        let inodes: Vec<u64> = names.iter().filter_map(|n| pinned_inode(&self.path(n).ok()?)).collect();
        if inodes.is_empty() {
            return Ok(());
        }
        let mut killed: Vec<rustix::process::Pid> = Vec::new();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let found: Vec<rustix::process::Pid> = processes_in(&inodes)?
                .into_iter()
                .filter_map(rustix::process::Pid::from_raw)
                .collect();
            if found.is_empty() || std::time::Instant::now() > deadline {
                break;
            }
            for pid in found {
                let signalled = rustix::process::kill_process(pid, rustix::process::Signal::KILL).is_ok();
                if signalled && !killed.contains(&pid) {
                    killed.push(pid);
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let me = std::process::id().to_string();
        for pid in killed {
            let stat = std::fs::read_to_string(format!("/proc/{}/stat", pid.as_raw_nonzero())).unwrap_or_default();
            // The parent's PID is the second field after the command's ")".
            let parent = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1));
            if parent == Some(me.as_str()) {
                let _ = rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::empty());
            }
        }
        Ok(())
    }

    /// Whether `name` is a pin file that pins nothing: a plain file left
    /// by a crash between creating the pin and mounting the namespace on it.
    pub fn is_unpinned_file(&self, name: &str) -> bool {
        self.path(name).is_ok_and(|p| {
            pinned_inode(&p).is_none() && std::fs::symlink_metadata(&p).is_ok_and(|m| m.is_file() && m.len() == 0)
        })
    }

    /// Opens namespace `name` for joining.
    pub fn open(&self, name: impl AsRef<OsStr>) -> Result<OwnedFd, NetnsError> {
        let name = name.as_ref();
        let path = self.path(name)?;
        if pinned_inode(&path).is_none() {
            return Err(NetnsError::NotFound(display_name(name)));
        }
        let fd = rustix::fs::open(
            &path,
            rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        );
        io("opening", &path, rx(fd))
    }
}

/// The processes whose network namespace is one of `inodes`, sorted, in
/// one pass over /proc.
pub fn processes_in(inodes: &[u64]) -> Result<Vec<i32>, NetnsError> {
    crate::inspect::processes_in(crate::NsKind::Net, inodes).map_err(|source| NetnsError::Io {
        step: "reading",
        path: "/proc".into(),
        source,
    })
}

/// The nsfs inode that `path` pins, or `None` if it is not a pin (a plain
/// file left by a crash, or nothing at all).
fn pinned_inode(path: &Path) -> Option<u64> {
    const NSFS_MAGIC: i64 = 0x6e73_6673;
    let stat = rustix::fs::statfs(path).ok()?;
    #[allow(clippy::unnecessary_cast)] // f_type's integer type differs between architectures
    let is_nsfs = stat.f_type as i64 == NSFS_MAGIC;
    is_nsfs.then(|| std::fs::metadata(path).ok().map(|m| m.ino())).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_must_be_plain_file_names() {
        let reg = Registry::at("/nonexistent");
        for bad in ["", ".", "..", "a/b", "/x"] {
            assert!(matches!(reg.path(bad), Err(NetnsError::InvalidName(_))), "{bad:?}");
        }
        assert_eq!(reg.path("server").unwrap(), PathBuf::from("/nonexistent/server"));
    }

    #[test]
    fn names_that_are_not_utf8_are_shown_escaped_and_used_as_bytes() {
        let raw = OsStr::from_bytes(b"a\xff\xfeb");
        assert_eq!(display_name(raw), "a\\xff\\xfeb");
        assert_eq!(display_name(OsStr::new("plain")), "plain");
        let reg = Registry::at("/x");
        assert_eq!(reg.path(raw).unwrap().as_os_str().as_bytes(), b"/x/a\xff\xfeb");
    }

    #[test]
    fn missing_run_dir_lists_nothing() {
        assert!(Registry::at("/nonexistent/nsbox-netns").list().unwrap().is_empty());
    }
}
