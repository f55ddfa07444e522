//! blkio (v1) and io (v2): weights (BFQ's files where the scheduler has
//! them, as runc prefers) and per-device throttles.

use crate::cgroup::{write_file, CgroupError};
use crate::config::resources::{BlockIo, ThrottleDevice};
use std::path::Path;

/// The weight file: CFQ's `blkio.weight` or BFQ's `blkio.bfq.weight`.
fn v1_weight_file(dir: &Path, cfq: &'static str, bfq: &'static str) -> &'static str {
    if dir.join(cfq).exists() {
        cfq
    } else {
        bfq
    }
}

pub(super) fn v1(dir: &Path, b: &BlockIo) -> Result<(), CgroupError> {
    if let Some(w) = b.weight {
        write_file(
            dir,
            v1_weight_file(dir, "blkio.weight", "blkio.bfq.weight"),
            &w.to_string(),
        )?;
    }
    if let Some(w) = b.leaf_weight {
        write_file(dir, "blkio.leaf_weight", &w.to_string())?;
    }
    for d in &b.weight_device {
        if let Some(w) = d.weight {
            let file = v1_weight_file(dir, "blkio.weight_device", "blkio.bfq.weight_device");
            write_file(dir, file, &format!("{}:{} {w}", d.major, d.minor))?;
        }
        if let Some(w) = d.leaf_weight {
            write_file(dir, "blkio.leaf_weight_device", &format!("{}:{} {w}", d.major, d.minor))?;
        }
    }
    for (file, list) in [
        ("blkio.throttle.read_bps_device", &b.throttle_read_bps),
        ("blkio.throttle.write_bps_device", &b.throttle_write_bps),
        ("blkio.throttle.read_iops_device", &b.throttle_read_iops),
        ("blkio.throttle.write_iops_device", &b.throttle_write_iops),
    ] {
        for t in list {
            write_file(dir, file, &format!("{}:{} {}", t.major, t.minor, t.rate))?;
        }
    }
    Ok(())
}

pub(super) fn check_v2(b: &BlockIo) -> Result<(), CgroupError> {
    if b.leaf_weight.is_some() || b.weight_device.iter().any(|d| d.leaf_weight.is_some()) {
        return Err(CgroupError::Unsupported(
            "linux.resources.blockIO leaf weights on cgroup v2 (it has none)",
        ));
    }
    Ok(())
}

/// runc's conversion of a blkio weight (10..1000) to io.weight (1..10000).
pub(crate) fn weight_to_io_weight(w: u16) -> u64 {
    if w == 0 {
        return 0;
    }
    1 + (u64::from(w).clamp(10, 1000) - 10) * 9999 / 990
}

pub(super) fn v2(dir: &Path, b: &BlockIo) -> Result<(), CgroupError> {
    // BFQ takes blkio's own scale; io.weight takes the converted one.
    let bfq = dir.join("io.bfq.weight").exists();
    let (file, scale): (&str, fn(u16) -> u64) = if bfq {
        ("io.bfq.weight", u64::from)
    } else {
        ("io.weight", weight_to_io_weight)
    };
    if let Some(w) = b.weight {
        write_file(dir, file, &format!("default {}", scale(w)))?;
    }
    for d in &b.weight_device {
        if let Some(w) = d.weight {
            write_file(dir, file, &format!("{}:{} {}", d.major, d.minor, scale(w)))?;
        }
    }
    let mut lines: Vec<((i64, i64), String)> = Vec::new();
    for (key, list) in [
        ("rbps", &b.throttle_read_bps),
        ("wbps", &b.throttle_write_bps),
        ("riops", &b.throttle_read_iops),
        ("wiops", &b.throttle_write_iops),
    ] {
        for ThrottleDevice { major, minor, rate } in list {
            let entry = format!(" {key}={rate}");
            match lines.iter_mut().find(|(dev, _)| *dev == (*major, *minor)) {
                Some((_, line)) => line.push_str(&entry),
                None => lines.push(((*major, *minor), format!("{major}:{minor}{entry}"))),
            }
        }
    }
    for (_, line) in lines {
        write_file(dir, "io.max", &line)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn weights_convert_as_runc_does() {
        assert_eq!(super::weight_to_io_weight(10), 1);
        assert_eq!(super::weight_to_io_weight(500), 4950);
        assert_eq!(super::weight_to_io_weight(1000), 10_000);
    }
}
