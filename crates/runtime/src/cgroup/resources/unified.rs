//! `linux.resources.unified`: cgroup v2 files written as given.

use crate::cgroup::{write_file, CgroupError};
use std::collections::BTreeMap;
use std::path::Path;

pub(super) fn check_v1(unified: &BTreeMap<String, String>) -> Result<(), CgroupError> {
    if !unified.is_empty() {
        return Err(CgroupError::Unsupported(
            "linux.resources.unified needs cgroup v2 (this host's controllers are on v1)",
        ));
    }
    Ok(())
}

pub(super) fn apply(dir: &Path, unified: &BTreeMap<String, String>) -> Result<(), CgroupError> {
    for (file, value) in unified {
        write_file(dir, file, value)?;
    }
    Ok(())
}
