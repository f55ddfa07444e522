//! A mount's `options` as runc reads them: flags that are set (`ro`,
//! `nosuid`), flags that are cleared (`rw`, `suid`), propagation
//! (`rprivate`), `bind`/`rbind`, and what is left over, which is the file
//! system's own data (`mode=755`). A bare word that is none of these is a
//! typo, refused here rather than left for the kernel's EINVAL.

use nsbox_sys::mount::attr;
use rustix::mount::{MountFlags, MountPropagationFlags as P};

/// What one option means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Meaning {
    Set(MountFlags),
    Clear(MountFlags),
    Propagation(P),
    Bind {
        recursive: bool,
    },
    /// runc's recursive attributes (`rro`, `rnosuid`, ...): `mount_setattr`
    /// bits set and cleared on the mount and every mount under it.
    Recursive {
        set: u64,
        clear: u64,
    },
    /// Spec 1.2's id-mapped bind mount (`ridmap`: with its submounts).
    IdMap {
        recursive: bool,
    },
    /// Passed to the file system as data.
    Data,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OptionError {
    #[error("unknown mount option {0:?}")]
    Unknown(String),
    #[error("mount option {0:?} is not supported yet")]
    Unsupported(String),
}

/// The options this runtime applies (`features` lists them).
pub const SUPPORTED: [&str; 37] = [
    "ro",
    "rw",
    "nosuid",
    "suid",
    "nodev",
    "dev",
    "noexec",
    "exec",
    "sync",
    "async",
    "dirsync",
    "mand",
    "nomand",
    "noatime",
    "atime",
    "nodiratime",
    "diratime",
    "relatime",
    "norelatime",
    "strictatime",
    "nostrictatime",
    "lazytime",
    "nolazytime",
    "silent",
    "loud",
    "defaults",
    "bind",
    "rbind",
    "private",
    "rprivate",
    "shared",
    "rshared",
    "slave",
    "rslave",
    "unbindable",
    "runbindable",
    "newinstance",
];

/// Bare words (no `=`) that some file system reads as data.
const BARE_DATA: [&str; 14] = [
    "newinstance",
    "nsdelegate",
    "memory_recursiveprot",
    "userxattr",
    "volatile",
    "noswap",
    "cpu",
    "cpuacct",
    "cpuset",
    "memory",
    "pids",
    "blkio",
    "devices",
    "freezer",
];

/// The meaning of `option`.
pub fn meaning(option: &str) -> Result<Meaning, OptionError> {
    use Meaning::*;
    let f = MountFlags::empty();
    Ok(match option {
        "ro" => Set(MountFlags::RDONLY),
        "rw" => Clear(MountFlags::RDONLY),
        "nosuid" => Set(MountFlags::NOSUID),
        "suid" => Clear(MountFlags::NOSUID),
        "nodev" => Set(MountFlags::NODEV),
        "dev" => Clear(MountFlags::NODEV),
        "noexec" => Set(MountFlags::NOEXEC),
        "exec" => Clear(MountFlags::NOEXEC),
        "sync" => Set(MountFlags::SYNCHRONOUS),
        "async" => Clear(MountFlags::SYNCHRONOUS),
        "dirsync" => Set(MountFlags::DIRSYNC),
        "mand" => Set(MountFlags::from_bits_retain(libc::MS_MANDLOCK as _)),
        "nomand" => Clear(MountFlags::from_bits_retain(libc::MS_MANDLOCK as _)),
        "noatime" => Set(MountFlags::NOATIME),
        "atime" => Clear(MountFlags::NOATIME),
        "nodiratime" => Set(MountFlags::NODIRATIME),
        "diratime" => Clear(MountFlags::NODIRATIME),
        "relatime" => Set(MountFlags::RELATIME),
        "norelatime" => Clear(MountFlags::RELATIME),
        "strictatime" => Set(MountFlags::STRICTATIME),
        "nostrictatime" => Clear(MountFlags::STRICTATIME),
        "lazytime" => Set(MountFlags::LAZYTIME),
        "nolazytime" => Clear(MountFlags::LAZYTIME),
        "silent" => Set(MountFlags::SILENT),
        "loud" => Clear(MountFlags::SILENT),
        "defaults" => Set(f),
        "remount" => return Err(OptionError::Unsupported(option.into())),
        "bind" => Bind { recursive: false },
        "rbind" => Bind { recursive: true },
        "private" => Propagation(P::PRIVATE),
        "rprivate" => Propagation(P::PRIVATE | P::REC),
        "shared" => Propagation(P::SHARED),
        "rshared" => Propagation(P::SHARED | P::REC),
        "slave" => Propagation(P::DOWNSTREAM),
        "rslave" => Propagation(P::DOWNSTREAM | P::REC),
        "unbindable" => Propagation(P::UNBINDABLE),
        "runbindable" => Propagation(P::UNBINDABLE | P::REC),
        "rro" => Recursive {
            set: attr::RDONLY,
            clear: 0,
        },
        "rrw" => Recursive {
            set: 0,
            clear: attr::RDONLY,
        },
        "rnosuid" => Recursive {
            set: attr::NOSUID,
            clear: 0,
        },
        "rsuid" => Recursive {
            set: 0,
            clear: attr::NOSUID,
        },
        "rnodev" => Recursive {
            set: attr::NODEV,
            clear: 0,
        },
        "rdev" => Recursive {
            set: 0,
            clear: attr::NODEV,
        },
        "rnoexec" => Recursive {
            set: attr::NOEXEC,
            clear: 0,
        },
        "rexec" => Recursive {
            set: 0,
            clear: attr::NOEXEC,
        },
        "rnodiratime" => Recursive {
            set: attr::NODIRATIME,
            clear: 0,
        },
        "rdiratime" => Recursive {
            set: 0,
            clear: attr::NODIRATIME,
        },
        "rnoatime" => Recursive {
            set: attr::NOATIME,
            clear: attr::ATIME_MASK,
        },
        "rrelatime" => Recursive {
            set: attr::RELATIME,
            clear: attr::ATIME_MASK,
        },
        "rstrictatime" => Recursive {
            set: attr::STRICTATIME,
            clear: attr::ATIME_MASK,
        },
        "idmap" => IdMap { recursive: false },
        "ridmap" => IdMap { recursive: true },
        // crun's: a known name, not built.
        "tmpcopyup" => return Err(OptionError::Unsupported(option.into())),
        o if o.contains('=') || BARE_DATA.contains(&o) => Data,
        _ => return Err(OptionError::Unknown(option.into())),
    })
}

/// The propagation named by `rootfsPropagation` (the same words as a mount's options).
pub fn propagation(name: &str) -> Option<P> {
    match meaning(name) {
        Ok(Meaning::Propagation(p)) => Some(p),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_set_and_cleared() {
        assert_eq!(meaning("ro"), Ok(Meaning::Set(MountFlags::RDONLY)));
        assert_eq!(meaning("rw"), Ok(Meaning::Clear(MountFlags::RDONLY)));
        assert_eq!(meaning("rbind"), Ok(Meaning::Bind { recursive: true }));
        assert_eq!(meaning("rslave"), Ok(Meaning::Propagation(P::DOWNSTREAM | P::REC)));
    }

    #[test]
    fn data_and_typos() {
        assert_eq!(meaning("mode=755"), Ok(Meaning::Data));
        assert_eq!(meaning("newinstance"), Ok(Meaning::Data));
        assert_eq!(meaning("nodevv"), Err(OptionError::Unknown("nodevv".into())));
        assert_eq!(meaning("ridmap"), Ok(Meaning::IdMap { recursive: true }));
        assert_eq!(meaning("tmpcopyup"), Err(OptionError::Unsupported("tmpcopyup".into())));
        assert_eq!(
            meaning("rro"),
            Ok(Meaning::Recursive {
                set: attr::RDONLY,
                clear: 0
            })
        );
    }

    #[test]
    fn every_supported_option_means_something() {
        for o in SUPPORTED {
            assert!(meaning(o).is_ok(), "{o}");
        }
    }

    #[test]
    fn rootfs_propagation_names() {
        assert_eq!(propagation("rslave"), Some(P::DOWNSTREAM | P::REC));
        assert_eq!(propagation("ro"), None);
    }
}
