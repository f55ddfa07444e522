//! rdma: `rdma.max`, one line per device, the same on v1 and v2.

use crate::cgroup::{write_file, CgroupError};
use crate::config::resources::Rdma;
use std::collections::BTreeMap;
use std::path::Path;

pub(super) fn apply(dir: &Path, limits: &BTreeMap<String, Rdma>) -> Result<(), CgroupError> {
    for (device, limit) in limits {
        let mut line = device.clone();
        if let Some(n) = limit.hca_handles {
            line.push_str(&format!(" hca_handle={n}"));
        }
        if let Some(n) = limit.hca_objects {
            line.push_str(&format!(" hca_object={n}"));
        }
        write_file(dir, "rdma.max", &line)?;
    }
    Ok(())
}
