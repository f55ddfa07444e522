//! cgroup v2 limit files, and enabling controllers for children.

use super::v1::{cpu_quota_us, CPU_PERIOD_US};
use super::{write_file, CgroupError, Controller};
use crate::spec::Limits;
use std::path::Path;

/// Enables `controllers` in `parent`'s `cgroup.subtree_control`, so that its
/// children get the limit files. Writing `+name` for an enabled controller is a no-op.
pub(crate) fn enable_controllers(parent: &Path, controllers: &[Controller]) -> Result<(), CgroupError> {
    let value: Vec<String> = controllers.iter().map(|c| format!("+{}", c.name())).collect();
    write_file(parent, "cgroup.subtree_control", &value.join(" "))
}

/// Enables `controllers` in every cgroup from `root` down to `dir`'s parent,
/// so that `dir` has their files (v2 hands controllers down level by level).
pub(crate) fn enable_controllers_for_oci(root: &Path, dir: &Path, controllers: &[&str]) -> Result<(), CgroupError> {
    let value: Vec<String> = controllers
        .iter()
        .filter(|c| **c != "devices")
        .map(|c| format!("+{c}"))
        .collect();
    if value.is_empty() {
        return Ok(());
    }
    let mut levels: Vec<&Path> = dir.ancestors().skip(1).take_while(|p| p.starts_with(root)).collect();
    levels.reverse();
    for level in levels {
        write_file(level, "cgroup.subtree_control", &value.join(" "))?;
    }
    Ok(())
}

pub(crate) fn apply(dir: &Path, controller: Controller, limits: &Limits) -> Result<(), CgroupError> {
    match controller {
        Controller::Memory => {
            if let Some(bytes) = limits.memory {
                write_file(dir, "memory.max", &bytes.to_string())?;
            }
        }
        Controller::Pids => {
            if let Some(max) = limits.pids {
                write_file(dir, "pids.max", &max.to_string())?;
            }
        }
        Controller::Cpu => {
            if let Some(cpus) = limits.cpus {
                write_file(dir, "cpu.max", &format!("{} {CPU_PERIOD_US}", cpu_quota_us(cpus)))?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::cgroup::{CgroupSet, Layout};
    use crate::spec::Limits;

    /// A v2 host, faked in a temp dir: the limit files must hold what the
    /// kernel expects, the parent must enable the controllers, and removal
    /// must leave nothing.
    #[test]
    fn v2_limits_on_a_fake_tree() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("cgroup.controllers"), "cpu memory pids").unwrap();
        let layout = Layout::V2(root.path().to_path_buf());
        let limits = Limits {
            memory: Some(64 << 20),
            pids: Some(32),
            cpus: Some(0.5),
        };
        let set = CgroupSet::create(&layout, "nsbox-test", &limits).unwrap();
        let dir = root.path().join("nsbox-test");
        let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
        assert_eq!(read("memory.max"), "67108864");
        assert_eq!(read("pids.max"), "32");
        assert_eq!(read("cpu.max"), "50000 100000");
        let enabled = std::fs::read_to_string(root.path().join("cgroup.subtree_control")).unwrap();
        assert_eq!(enabled, "+memory +pids +cpu");
        // A v2 cgroup is entered at clone: the container's one directory.
        use std::os::unix::fs::MetadataExt;
        let target = set.clone_target().expect("a v2 cgroup to clone into");
        assert_eq!(target.metadata().unwrap().ino(), dir.metadata().unwrap().ino());
        set.add(4242).unwrap();
        assert_eq!(read("cgroup.procs"), "4242");
        set.remove().unwrap();
        assert!(!dir.exists());
    }

    /// A cgroup of the same name is someone else's: it is neither taken
    /// over nor removed, and the names nsbox chooses never repeat.
    #[test]
    fn an_existing_cgroup_is_never_taken_over_or_removed() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("nsbox-7")).unwrap();
        let layout = Layout::V2(root.path().to_path_buf());
        let limits = Limits {
            pids: Some(5),
            ..Default::default()
        };
        let err = CgroupSet::create(&layout, "nsbox-7", &limits).unwrap_err();
        assert!(err.to_string().contains("File exists"), "{err}");
        assert!(root.path().join("nsbox-7").is_dir(), "left alone");
        assert!(!root.path().join("nsbox-7/pids.max").exists(), "untouched");
        let names: std::collections::BTreeSet<String> = (0..1000).map(|_| crate::cgroup::unique_name()).collect();
        assert_eq!(names.len(), 1000);
        assert!(names
            .iter()
            .all(|n| n.starts_with(&format!("nsbox-{}-", std::process::id()))));
    }

    /// v1 cgroups cannot be entered at clone (the kernel takes only a v2
    /// one): the parent moves the child in instead.
    #[test]
    fn v1_cgroups_are_not_entered_at_clone() {
        let root = tempfile::tempdir().unwrap();
        let layout = Layout::V1(vec![(root.path().to_path_buf(), vec!["pids".into()])]);
        let limits = Limits {
            pids: Some(8),
            ..Default::default()
        };
        let set = CgroupSet::create(&layout, "nsbox-v1", &limits).unwrap();
        assert!(set.clone_target().is_none());
        set.remove().unwrap();
    }

    /// The second hierarchy is missing, so creation fails after the first
    /// cgroup was made: that one must be gone again.
    #[test]
    fn failed_create_removes_what_it_made() {
        let root = tempfile::tempdir().unwrap();
        let memory = root.path().join("memory");
        std::fs::create_dir(&memory).unwrap();
        let layout = Layout::V1(vec![
            (memory.clone(), vec!["memory".into()]),
            (root.path().join("pids-not-mounted"), vec!["pids".into()]),
        ]);
        let limits = Limits {
            memory: Some(1 << 20),
            pids: Some(1),
            cpus: None,
        };
        let err = CgroupSet::create(&layout, "nsbox-x", &limits).unwrap_err();
        assert!(err.to_string().contains("pids-not-mounted/nsbox-x"), "{err}");
        assert!(!memory.join("nsbox-x").exists());
    }
}
