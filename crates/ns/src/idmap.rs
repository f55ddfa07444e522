//! uid and gid maps of user namespaces (`/proc/PID/uid_map`, `gid_map`).

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// One line of a uid or gid map: `count` ids starting at `inside` in the
/// namespace are the ids starting at `outside` in its parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdMap {
    pub inside: u32,
    pub outside: u32,
    pub count: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum IdMapError {
    #[error("malformed id map {0:?}: expected INSIDE:OUTSIDE:COUNT, three non-negative integers with COUNT > 0")]
    Malformed(String),
    #[error("writing {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}

impl FromStr for IdMap {
    type Err = IdMapError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || IdMapError::Malformed(s.to_string());
        let mut parts = s.split(':').map(|p| p.trim().parse::<u32>());
        let (Some(Ok(inside)), Some(Ok(outside)), Some(Ok(count)), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        if count == 0 || inside.checked_add(count - 1).is_none() || outside.checked_add(count - 1).is_none() {
            return Err(bad());
        }
        Ok(IdMap { inside, outside, count })
    }
}

impl fmt::Display for IdMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.inside, self.outside, self.count)
    }
}

/// Which of the two maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    Uid,
    Gid,
}

/// Writes the map of process `pid`'s user namespace. Must be done once, from
/// the parent namespace, before the child relies on its ids.
///
/// For the gid map, `setgroups` is first set to `deny` when the caller is not
/// root in the parent namespace: the kernel refuses an unprivileged gid map
/// otherwise (so that a process cannot drop supplementary groups used to deny it access).
pub fn write_map(pid: i32, kind: IdKind, maps: &[IdMap]) -> Result<(), IdMapError> {
    let write = |name: &str, text: &str| {
        let path = PathBuf::from(format!("/proc/{pid}/{name}"));
        std::fs::write(&path, text).map_err(|source| IdMapError::Write { path, source })
    };
    let file = match kind {
        IdKind::Uid => "uid_map",
        IdKind::Gid => {
            if !rustix::process::geteuid().is_root() {
                write("setgroups", "deny")?;
            }
            "gid_map"
        }
    };
    let text: String = maps.iter().map(|m| format!("{m}\n")).collect();
    write(file, &text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_map() {
        let m: IdMap = "0:100000:65536".parse().unwrap();
        assert_eq!(
            m,
            IdMap {
                inside: 0,
                outside: 100000,
                count: 65536
            }
        );
        assert_eq!(m.to_string(), "0 100000 65536");
    }

    #[test]
    fn rejects_malformed_maps() {
        for bad in ["", "0:1", "0:1:2:3", "a:1:1", "0:1:0", "-1:0:1", "4294967295:0:2"] {
            assert!(matches!(bad.parse::<IdMap>(), Err(IdMapError::Malformed(_))), "{bad}");
        }
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// A valid map parses to its three numbers, and the kernel's line
        /// format carries the same three numbers.
        #[test]
        fn maps_round_trip(inside in 0u32..1 << 31, outside in 0u32..1 << 31, count in 1u32..1 << 20) {
            let map: IdMap = format!("{inside}:{outside}:{count}").parse().unwrap();
            prop_assert_eq!(map, IdMap { inside, outside, count });
            prop_assert_eq!(map.to_string(), format!("{inside} {outside} {count}"));
        }

        /// Whatever the text, parsing never panics.
        #[test]
        fn parsing_never_panics(text in ".{0,40}") {
            let _ = text.parse::<IdMap>();
        }
    }
}
