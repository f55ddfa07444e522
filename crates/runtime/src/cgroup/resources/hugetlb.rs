//! hugetlb: one file per page size, `hugetlb.2MB.limit_in_bytes` on v1 and
//! `hugetlb.2MB.max` on v2.

use crate::cgroup::{write_file, CgroupError};
use std::collections::BTreeMap;
use std::path::Path;

pub(super) fn apply(dir: &Path, limits: &BTreeMap<String, u64>, suffix: &str) -> Result<(), CgroupError> {
    for (size, limit) in limits {
        write_file(dir, &format!("hugetlb.{size}.{suffix}"), &limit.to_string())?;
    }
    Ok(())
}
