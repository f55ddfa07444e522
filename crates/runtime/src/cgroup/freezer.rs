//! Freezing a container's cgroup: v1's `freezer.state` (FROZEN, THAWED;
//! FREEZING while the kernel stops the tasks) and v2's `cgroup.freeze`
//! (its `cgroup.events` says `frozen 1` once done). `pause` waits until the
//! kernel says frozen, as runc does.

use super::oci::CgroupDir;
use super::{write_file, CgroupError};
use std::path::Path;
use std::time::{Duration, Instant};

/// How the container's cgroups freeze: the directory and its kind.
enum Freezer<'a> {
    V1(&'a Path),
    V2(&'a Path),
}

fn freezer(dirs: &[CgroupDir]) -> Option<Freezer<'_>> {
    dirs.iter().find_map(|d| {
        if d.path.join("freezer.state").exists() {
            Some(Freezer::V1(&d.path))
        } else if d.path.join("cgroup.freeze").exists() {
            Some(Freezer::V2(&d.path))
        } else {
            None
        }
    })
}

/// Whether the container's cgroup is frozen now; None without a freezer.
pub fn is_frozen(dirs: &[CgroupDir]) -> Option<bool> {
    let read = |dir: &Path, file: &str| std::fs::read_to_string(dir.join(file)).unwrap_or_default();
    match freezer(dirs)? {
        // FREEZING counts as frozen: some tasks are stopped already.
        Freezer::V1(dir) => Some(read(dir, "freezer.state").trim() != "THAWED"),
        Freezer::V2(dir) => Some(read(dir, "cgroup.freeze").trim() == "1"),
    }
}

/// Freezes (or thaws) the container's cgroup and waits until the kernel
/// has done it (a second at most).
pub fn set_frozen(dirs: &[CgroupDir], frozen: bool) -> Result<(), CgroupError> {
    let Some(f) = freezer(dirs) else {
        return Err(CgroupError::Unsupported(
            "pausing a container without a freezer cgroup (no freezer hierarchy is mounted)",
        ));
    };
    let deadline = Instant::now() + Duration::from_secs(1);
    let (dir, file, value, done): (&Path, &str, &str, fn(&str) -> bool) = match (f, frozen) {
        (Freezer::V1(dir), true) => (dir, "freezer.state", "FROZEN", |s| s.trim() == "FROZEN"),
        (Freezer::V1(dir), false) => (dir, "freezer.state", "THAWED", |s| s.trim() == "THAWED"),
        (Freezer::V2(dir), true) => (dir, "cgroup.freeze", "1", |s| s.contains("frozen 1")),
        (Freezer::V2(dir), false) => (dir, "cgroup.freeze", "0", |s| s.contains("frozen 0")),
    };
    let state_file = if file == "cgroup.freeze" { "cgroup.events" } else { file };
    loop {
        write_file(dir, file, value)?;
        let state = std::fs::read_to_string(dir.join(state_file)).unwrap_or_default();
        if done(&state) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(CgroupError::Write {
                path: dir.join(file),
                value: value.to_string(),
                source: std::io::Error::other(format!("still {} after a second", state.trim())),
            });
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}
