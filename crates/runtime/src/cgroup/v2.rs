//! cgroup v2 limit files, and enabling controllers for children.

use super::{write_file, CgroupError};
use std::path::Path;

/// Enables `controllers` in every cgroup from `root` down to `dir`'s parent,
/// so that `dir` has their files (v2 hands controllers down level by level).
pub(crate) fn enable_controllers_for_oci(root: &Path, dir: &Path, controllers: &[String]) -> Result<(), CgroupError> {
    let value: Vec<String> = controllers.iter().map(|c| format!("+{c}")).collect();
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

#[cfg(test)]
mod tests {
    use crate::cgroup::oci::{add, clone_target, create_in, remove, Place};
    use crate::cgroup::Layout;
    use crate::spec::{Limits, Spec};

    fn limited(limits: Limits) -> crate::config::Config {
        let mut spec = Spec::new(vec!["true".into()]);
        spec.limits = limits;
        crate::config::unshare::from_spec(&spec)
    }

    /// A v2 host, faked in a temp dir: the limit files must hold what the
    /// kernel expects, the parent must enable the controllers, and removal
    /// must leave nothing. (Whether the cgroup is entered at clone is the
    /// file system's to say: a fake tree is no cgroup2, see clone_target.)
    #[test]
    fn v2_limits_on_a_fake_tree() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("cgroup.controllers"), "cpu memory pids").unwrap();
        let layout = Layout::V2(root.path().to_path_buf());
        let config = limited(Limits {
            memory: Some(64 << 20),
            pids: Some(32),
            cpus: Some(0.5),
        });
        let dirs = create_in(&layout, &config, Place::FreshAtRoot("nsbox-test")).unwrap();
        let dir = root.path().join("nsbox-test");
        let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
        assert_eq!(read("memory.max"), "67108864");
        assert_eq!(read("pids.max"), "32");
        assert_eq!(read("cpu.max"), "50000 100000");
        let enabled = std::fs::read_to_string(root.path().join("cgroup.subtree_control")).unwrap();
        assert_eq!(enabled, "+memory +cpu +pids");
        assert!(clone_target(&dirs).is_none(), "a tmpfs is not cgroup2");
        add(&dirs, 4242).unwrap();
        assert_eq!(read("cgroup.procs"), "4242");
        remove(&dirs).unwrap();
        assert!(!dir.exists());
    }

    /// A cgroup of the same name is someone else's: it is neither taken
    /// over nor removed, and the names nsbox chooses never repeat.
    #[test]
    fn an_existing_cgroup_is_never_taken_over_or_removed() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("nsbox-7")).unwrap();
        let layout = Layout::V2(root.path().to_path_buf());
        let config = limited(Limits {
            pids: Some(5),
            ..Default::default()
        });
        let err = create_in(&layout, &config, Place::FreshAtRoot("nsbox-7")).unwrap_err();
        assert!(err.to_string().contains("File exists"), "{err}");
        assert!(root.path().join("nsbox-7").is_dir(), "left alone");
        assert!(!root.path().join("nsbox-7/pids.max").exists(), "untouched");
        let names: std::collections::BTreeSet<String> = (0..1000).map(|_| crate::cgroup::unique_name()).collect();
        assert_eq!(names.len(), 1000);
        assert!(names
            .iter()
            .all(|n| n.starts_with(&format!("nsbox-{}-", std::process::id()))));
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
        let config = limited(Limits {
            memory: Some(1 << 20),
            pids: Some(1),
            cpus: None,
        });
        let err = create_in(&layout, &config, Place::FreshAtRoot("nsbox-x")).unwrap_err();
        assert!(err.to_string().contains("pids-not-mounted/nsbox-x"), "{err}");
        assert!(!memory.join("nsbox-x").exists());
    }
}
