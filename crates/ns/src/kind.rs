//! The namespace kinds and sets of them.

use std::fmt;
use std::str::FromStr;

/// One kind of namespace. The order is the order in which nsbox joins them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NsKind {
    User,
    Cgroup,
    Ipc,
    Uts,
    Net,
    Pid,
    Mnt,
    Time,
}

/// A namespace kind name that nsbox does not know.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown namespace kind {0:?} (expected one of: cgroup, ipc, mnt, net, pid, time, user, uts)")]
pub struct NsKindError(pub String);

impl NsKind {
    /// Every kind, in joining order (user first: it grants the rights to join the rest).
    pub const ALL: [NsKind; 8] = [
        NsKind::User,
        NsKind::Cgroup,
        NsKind::Ipc,
        NsKind::Uts,
        NsKind::Net,
        NsKind::Pid,
        NsKind::Mnt,
        NsKind::Time,
    ];

    /// The name of the file under `/proc/PID/ns/`.
    pub fn proc_name(self) -> &'static str {
        match self {
            NsKind::User => "user",
            NsKind::Cgroup => "cgroup",
            NsKind::Ipc => "ipc",
            NsKind::Uts => "uts",
            NsKind::Net => "net",
            NsKind::Pid => "pid",
            NsKind::Mnt => "mnt",
            NsKind::Time => "time",
        }
    }

    /// The `CLONE_NEW*` flag that creates this kind.
    pub fn clone_flag(self) -> u64 {
        (match self {
            NsKind::User => libc::CLONE_NEWUSER,
            NsKind::Cgroup => libc::CLONE_NEWCGROUP,
            NsKind::Ipc => libc::CLONE_NEWIPC,
            NsKind::Uts => libc::CLONE_NEWUTS,
            NsKind::Net => libc::CLONE_NEWNET,
            NsKind::Pid => libc::CLONE_NEWPID,
            NsKind::Mnt => libc::CLONE_NEWNS,
            NsKind::Time => libc::CLONE_NEWTIME,
        }) as u32 as u64
    }

    /// Whether joining (setns) or creating this kind affects only the
    /// children of the caller, not the caller itself.
    pub fn applies_to_children_only(self) -> bool {
        matches!(self, NsKind::Pid | NsKind::Time)
    }
}

impl fmt::Display for NsKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.proc_name())
    }
}

impl FromStr for NsKind {
    type Err = NsKindError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // `mount` and `network` are the long spellings util-linux accepts.
        match s {
            "user" => Ok(NsKind::User),
            "cgroup" => Ok(NsKind::Cgroup),
            "ipc" => Ok(NsKind::Ipc),
            "uts" => Ok(NsKind::Uts),
            "net" | "network" => Ok(NsKind::Net),
            "pid" => Ok(NsKind::Pid),
            "mnt" | "mount" => Ok(NsKind::Mnt),
            "time" => Ok(NsKind::Time),
            other => Err(NsKindError(other.to_string())),
        }
    }
}

/// A set of namespace kinds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NsSet(u8);

impl NsSet {
    pub fn empty() -> Self {
        NsSet(0)
    }

    pub fn all() -> Self {
        NsKind::ALL.into_iter().collect()
    }

    fn bit(kind: NsKind) -> u8 {
        1 << (kind as u8)
    }

    pub fn insert(&mut self, kind: NsKind) {
        self.0 |= Self::bit(kind);
    }

    pub fn remove(&mut self, kind: NsKind) {
        self.0 &= !Self::bit(kind);
    }

    pub fn contains(self, kind: NsKind) -> bool {
        self.0 & Self::bit(kind) != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The kinds in the set, in joining order.
    pub fn iter(self) -> impl Iterator<Item = NsKind> {
        NsKind::ALL.into_iter().filter(move |k| self.contains(*k))
    }

    /// The `CLONE_NEW*` flags of every kind in the set.
    pub fn clone_flags(self) -> u64 {
        self.iter().map(NsKind::clone_flag).fold(0, |a, f| a | f)
    }

    /// Parses a comma-separated list such as `pid,net,uts`.
    /// An empty list names no namespace at all, and is refused like an
    /// unknown kind.
    pub fn parse_list(list: &str) -> Result<Self, NsKindError> {
        let set: NsSet = list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(NsKind::from_str)
            .collect::<Result<_, _>>()?;
        if set.iter().next().is_none() {
            return Err(NsKindError(list.to_string()));
        }
        Ok(set)
    }
}

impl FromIterator<NsKind> for NsSet {
    fn from_iter<I: IntoIterator<Item = NsKind>>(iter: I) -> Self {
        let mut set = NsSet::empty();
        for kind in iter {
            set.insert(kind);
        }
        set
    }
}

impl fmt::Display for NsSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.iter().map(NsKind::proc_name).collect();
        f.write_str(&names.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lists_and_long_names() {
        let set = NsSet::parse_list("pid, mount,network").unwrap();
        assert!(set.contains(NsKind::Pid) && set.contains(NsKind::Mnt) && set.contains(NsKind::Net));
        assert!(!set.contains(NsKind::User));
        assert_eq!(set.to_string(), "net,pid,mnt");
    }

    #[test]
    fn unknown_kind_is_named_in_the_error() {
        let err = NsSet::parse_list("pid,bogus").unwrap_err();
        assert_eq!(err, NsKindError("bogus".into()));
        assert!(err.to_string().contains("\"bogus\""));
    }

    #[test]
    fn clone_flags_match_the_kernel_constants() {
        let set = NsSet::parse_list("pid,net").unwrap();
        assert_eq!(set.clone_flags(), (libc::CLONE_NEWPID | libc::CLONE_NEWNET) as u64);
        assert_eq!(NsKind::Time.clone_flag(), 0x80);
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Any set of kinds survives being printed and parsed back; the
        /// empty one, which names nothing, is refused.
        #[test]
        fn sets_round_trip(bits in 0u8..=255) {
            let set: NsSet = NsKind::ALL.into_iter().enumerate().filter(|(i, _)| bits & (1 << i) != 0).map(|(_, k)| k).collect();
            if bits == 0 {
                prop_assert!(NsSet::parse_list(&set.to_string()).is_err());
            } else {
                prop_assert_eq!(NsSet::parse_list(&set.to_string()).unwrap(), set);
            }
        }
    }
}
