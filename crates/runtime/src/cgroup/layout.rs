//! Where the cgroup hierarchies are mounted and which controllers each holds.

use super::CgroupError;
use std::path::PathBuf;

/// Each mount of a mountinfo text: (mount point, file system type, super
/// block options).
fn mounts(text: &str) -> impl Iterator<Item = (&str, &str, &str)> {
    mountinfo(text).map(|(_, mount_point, fstype, options)| (mount_point, fstype, options))
}

/// Each mount of a mountinfo text: (the path in its file system that the
/// mount shows, mount point, file system type, super block options).
pub(crate) fn mountinfo(text: &str) -> impl Iterator<Item = (&str, &str, &str, &str)> {
    text.lines().filter_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        let mut left = left.split(' ');
        let (root, mount_point) = (left.nth(3)?, left.next()?);
        let mut right = right.split(' ');
        let (fstype, _source, options) = (right.next()?, right.next(), right.next().unwrap_or_default());
        Some((root, mount_point, fstype, options))
    })
}

/// The cgroup hierarchies of the system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// One mount per controller set: (mount point, controllers it holds).
    V1(Vec<(PathBuf, Vec<String>)>),
    /// The unified hierarchy at this mount point.
    V2(PathBuf),
}

impl Layout {
    /// Reads the layout from `/proc/self/mountinfo`. A v1 hierarchy for a
    /// controller wins over the v2 one (on a hybrid host like this one, v2
    /// is mounted but holds no controllers).
    pub fn detect() -> Result<Self, CgroupError> {
        let path = PathBuf::from("/proc/self/mountinfo");
        let text = std::fs::read_to_string(&path).map_err(|source| CgroupError::Read { path, source })?;
        Ok(Self::from_mountinfo(&text))
    }

    /// Where the unified (v2) hierarchy is mounted, if it is: on a hybrid
    /// host too, where [`Layout::detect`] says V1 (its controllers are
    /// there) but processes can still be grouped in v2 cgroups.
    pub fn unified_mount() -> Option<PathBuf> {
        let text = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
        Self::unified_mount_in(&text)
    }

    pub(crate) fn unified_mount_in(text: &str) -> Option<PathBuf> {
        mounts(text)
            .find(|(_, fstype, _)| *fstype == "cgroup2")
            .map(|(mount_point, _, _)| PathBuf::from(mount_point))
    }

    pub(crate) fn from_mountinfo(text: &str) -> Self {
        let mut v1 = Vec::new();
        let mut v2 = None;
        for (mount_point, fstype, options) in mounts(text) {
            match fstype {
                "cgroup" => {
                    let controllers: Vec<String> = options
                        .split(',')
                        .filter(|o| {
                            matches!(
                                *o,
                                "memory"
                                    | "pids"
                                    | "cpu"
                                    | "cpuacct"
                                    | "cpuset"
                                    | "blkio"
                                    | "devices"
                                    | "freezer"
                                    | "hugetlb"
                                    | "net_cls"
                                    | "net_prio"
                                    | "rdma"
                            )
                        })
                        .map(String::from)
                        .collect();
                    if !controllers.is_empty() {
                        v1.push((PathBuf::from(mount_point), controllers));
                    }
                }
                "cgroup2" if v2.is_none() => v2 = Some(PathBuf::from(mount_point)),
                _ => {}
            }
        }
        match (v1.is_empty(), v2) {
            (true, Some(root)) => Layout::V2(root),
            _ => Layout::V1(v1),
        }
    }

    pub fn is_v2(&self) -> bool {
        matches!(self, Layout::V2(_))
    }

    /// The hierarchy that holds `controller` (v2: the one hierarchy).
    pub(crate) fn hierarchy_of(&self, controller: &'static str) -> Result<&PathBuf, CgroupError> {
        match self {
            Layout::V2(root) => Ok(root),
            Layout::V1(mounts) => mounts
                .iter()
                .find(|(_, names)| names.iter().any(|n| n == controller))
                .map(|(p, _)| p)
                .ok_or(CgroupError::NoController(controller)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const HYBRID: &str = "\
30 24 0:26 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
31 30 0:27 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
32 30 0:28 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
33 30 0:29 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
34 30 0:30 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
35 30 0:31 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    #[test]
    fn hybrid_host_uses_v1_per_controller() {
        let layout = Layout::from_mountinfo(HYBRID);
        assert_eq!(
            layout.hierarchy_of("memory").unwrap(),
            Path::new("/sys/fs/cgroup/memory")
        );
        assert_eq!(layout.hierarchy_of("cpu").unwrap(), Path::new("/sys/fs/cgroup/cpu"));
    }

    #[test]
    fn pure_v2_host() {
        let text = "29 24 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n";
        let layout = Layout::from_mountinfo(text);
        assert_eq!(layout, Layout::V2("/sys/fs/cgroup".into()));
        assert_eq!(
            layout.hierarchy_of("memory").unwrap(),
            layout.hierarchy_of("pids").unwrap()
        );
    }

    /// The unified hierarchy is found beside v1 ones (kill groups use it
    /// there), and is absent on a v1-only host.
    #[test]
    fn unified_mount_is_found_on_hybrid_and_v2_hosts() {
        assert_eq!(Layout::unified_mount_in(HYBRID), Some("/sys/fs/cgroup/unified".into()));
        let v2 = "29 24 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n";
        assert_eq!(Layout::unified_mount_in(v2), Some("/sys/fs/cgroup".into()));
        let v1_only: String = HYBRID.lines().filter(|l| !l.contains("cgroup2")).collect();
        assert_eq!(Layout::unified_mount_in(&v1_only), None);
    }

    #[test]
    fn missing_controller_is_named() {
        let layout = Layout::from_mountinfo("31 30 0:27 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n");
        let err = layout.hierarchy_of("pids").unwrap_err();
        assert!(err.to_string().contains("pids"));
    }
}
