//! pids: the same file on v1 and v2.

use crate::cgroup::{write_file, CgroupError};
use std::path::Path;

/// `pids.max`; 0 or less is no limit (`max`), as runc writes it.
pub(super) fn apply(dir: &Path, limit: Option<i64>) -> Result<(), CgroupError> {
    match limit {
        Some(v) if v <= 0 => write_file(dir, "pids.max", "max"),
        Some(v) => write_file(dir, "pids.max", &v.to_string()),
        None => Ok(()),
    }
}
