//! Sweeping the cgroups that nsbox processes killed before they could
//! remove theirs (SIGKILL, a crash): an `nsbox-PID-TOKEN` directory (the
//! shape of [`super::unique_name`], which only nsbox makes) that holds no
//! process and no child cgroup and is older than [`STALE_AFTER`].
//!
//! The age keeps the sweep off a cgroup another nsbox has just made and not
//! filled yet (on v1 the container's process is moved in only after the
//! directory and its limits are written, milliseconds later). Any other
//! directory, and any cgroup in use, is left as it is: rmdir would refuse a
//! cgroup with processes or children anyway. The sweep runs when a
//! container's cgroups are removed, off the start path.

use std::path::Path;
use std::time::{Duration, SystemTime};

/// How old an empty nsbox cgroup must be to count as left behind.
pub const STALE_AFTER: Duration = Duration::from_secs(60);

/// Whether `name` has the shape of the names nsbox gives its cgroups.
fn is_nsbox_name(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("nsbox-") else {
        return false;
    };
    let Some((pid, token)) = rest.split_once('-') else {
        return false;
    };
    !pid.is_empty()
        && pid.bytes().all(|b| b.is_ascii_digit())
        && token.len() == 16
        && token.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Whether the cgroup `dir` is empty: no process, no child cgroup.
fn is_empty(dir: &Path) -> bool {
    let no_process = std::fs::read_to_string(dir.join("cgroup.procs")).is_ok_and(|p| p.trim().is_empty());
    let no_child = std::fs::read_dir(dir)
        .is_ok_and(|mut entries| !entries.any(|e| e.is_ok_and(|e| e.file_type().is_ok_and(|t| t.is_dir()))));
    no_process && no_child
}

/// Removes the stale nsbox cgroups directly under `root` (a hierarchy's
/// root); returns how many. Best effort: what cannot be removed stays.
pub fn sweep(root: &Path, now: SystemTime) -> usize {
    let Ok(entries) = std::fs::read_dir(root) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !name.to_str().is_some_and(is_nsbox_name) {
            continue;
        }
        let dir = entry.path();
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|made| now.duration_since(made).is_ok_and(|age| age >= STALE_AFTER));
        if old && is_empty(&dir) && super::remove_dir_patiently(&dir).is_ok() {
            removed += 1;
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cgroup(root: &Path, name: &str, procs: &str, age: Duration) -> std::path::PathBuf {
        let dir = root.join(name);
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("cgroup.procs"), procs).unwrap();
        let made = SystemTime::now() - age;
        std::fs::File::open(&dir).unwrap().set_modified(made).unwrap();
        dir
    }

    #[test]
    fn only_old_empty_cgroups_named_by_nsbox_are_swept() {
        let root = tempfile::tempdir().unwrap();
        let old = Duration::from_secs(3600);
        let stale = cgroup(root.path(), "nsbox-6-0123456789abcdef", "", old);
        let young = cgroup(root.path(), "nsbox-7-0123456789abcdef", "", Duration::ZERO);
        let busy = cgroup(root.path(), "nsbox-8-0123456789abcdef", "4242\n", old);
        let parent = cgroup(root.path(), "nsbox-9-0123456789abcdef", "", old);
        std::fs::create_dir(parent.join("child")).unwrap();
        std::fs::File::open(&parent)
            .unwrap()
            .set_modified(SystemTime::now() - old)
            .unwrap();
        let old_style = cgroup(root.path(), "nsbox-6", "", old);
        let someone_elses = cgroup(root.path(), "docker", "", old);
        assert_eq!(sweep(root.path(), SystemTime::now()), 1);
        assert!(!stale.exists());
        for kept in [young, busy, parent, old_style, someone_elses] {
            assert!(kept.exists(), "{}", kept.display());
        }
    }
}
