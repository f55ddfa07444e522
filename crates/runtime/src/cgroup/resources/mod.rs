//! Writing `linux.resources` into a container's cgroup: one file per
//! controller, each with its v1 files and its v2 files (values converted
//! as runc converts them: shares → cpu.weight, blkio weight → io.weight,
//! memory+swap → memory.swap.max). A field a hierarchy cannot take is
//! refused by name, never skipped.

mod blkio;
mod cpu;
mod hugetlb;
mod memory;
mod network;
mod pids;
mod rdma;
mod unified;

use super::CgroupError;
use crate::config::Resources;
use std::path::Path;

pub(crate) use memory::check_before_update;

/// Writes what `r` asks of v1 `controller` into `dir` (a cgroup of that
/// controller's hierarchy). `devices` is written by the caller (it needs
/// the container's device nodes too).
pub(crate) fn apply_v1(controller: &str, dir: &Path, r: &Resources) -> Result<(), CgroupError> {
    match controller {
        "memory" => memory::v1(dir, &r.memory),
        "cpu" => cpu::v1(dir, &r.cpu),
        "cpuset" => cpu::v1_cpuset(dir, &r.cpu),
        "pids" => pids::apply(dir, r.pids_limit),
        "blkio" => blkio::v1(dir, &r.block_io),
        "hugetlb" => hugetlb::apply(dir, &r.hugepage_limits, "limit_in_bytes"),
        "net_cls" | "net_prio" => network::v1(controller, dir, &r.network),
        "rdma" => rdma::apply(dir, &r.rdma),
        _ => Ok(()),
    }
}

/// Refuses what v1 cannot take at all, before anything is made.
pub(crate) fn check_v1(r: &Resources) -> Result<(), CgroupError> {
    unified::check_v1(&r.unified)
}

/// Refuses what v2 cannot take at all, before anything is made.
pub(crate) fn check_v2(r: &Resources) -> Result<(), CgroupError> {
    memory::check_v2(&r.memory)?;
    cpu::check_v2(&r.cpu)?;
    blkio::check_v2(&r.block_io)?;
    network::check_v2(&r.network)
}

/// The v2 controllers `r` needs enabled in the parents' subtree_control.
pub(crate) fn v2_controllers(r: &Resources) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut want = |name: &str| {
        if !out.iter().any(|c| c == name) {
            out.push(name.to_string());
        }
    };
    for controller in r.v1_controllers() {
        match controller {
            "blkio" => want("io"),
            "devices" | "net_cls" | "net_prio" => {}
            other => want(other),
        }
    }
    for key in r.unified.keys() {
        if let Some((controller, _)) = key.split_once('.') {
            if controller != "cgroup" {
                want(controller);
            }
        }
    }
    out
}

/// Writes `r` into the v2 cgroup `dir`; `unified` last, so that it has the
/// final word, as in runc.
pub(crate) fn apply_v2(dir: &Path, r: &Resources) -> Result<(), CgroupError> {
    memory::v2(dir, &r.memory)?;
    cpu::v2(dir, &r.cpu)?;
    pids::apply(dir, r.pids_limit)?;
    blkio::v2(dir, &r.block_io)?;
    hugetlb::apply(dir, &r.hugepage_limits, "max")?;
    rdma::apply(dir, &r.rdma)?;
    unified::apply(dir, &r.unified)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::resources::*;

    fn every_field() -> Resources {
        Resources {
            memory: Memory {
                limit: Some(64 << 20),
                reservation: Some(32 << 20),
                swap: Some(96 << 20),
                ..Default::default()
            },
            cpu: Cpu {
                shares: Some(1024),
                quota: Some(50_000),
                period: Some(100_000),
                burst: Some(1000),
                cpus: Some("0-1".into()),
                mems: Some("0".into()),
                idle: Some(0),
                ..Default::default()
            },
            pids_limit: Some(42),
            block_io: BlockIo {
                weight: Some(500),
                weight_device: vec![WeightDevice {
                    major: 8,
                    minor: 0,
                    weight: Some(100),
                    leaf_weight: None,
                }],
                throttle_read_bps: vec![ThrottleDevice {
                    major: 8,
                    minor: 0,
                    rate: 1_048_576,
                }],
                throttle_write_iops: vec![ThrottleDevice {
                    major: 8,
                    minor: 0,
                    rate: 300,
                }],
                ..Default::default()
            },
            hugepage_limits: [("2MB".to_string(), 4 << 20)].into(),
            rdma: [(
                "mlx5_0".to_string(),
                Rdma {
                    hca_handles: Some(3),
                    hca_objects: Some(1000),
                },
            )]
            .into(),
            unified: [("memory.high".to_string(), "50000000".to_string())].into(),
            ..Default::default()
        }
    }

    /// A v2 cgroup faked in a temp dir: each file holds what runc's
    /// conversions give for the same spec (runc 1.1's fs2 package: shares
    /// → weight `1 + (shares-2)*9999/262142`, blkio weight → io.weight
    /// `1 + (w-10)*9999/990`, memory.swap.max = swap - limit, cpu.max
    /// "quota period", io.max one line per device); a file written twice
    /// (io.weight: default, then the device) keeps the last line here,
    /// where the kernel would keep both.
    #[test]
    fn v2_files_hold_what_runc_writes() {
        let dir = tempfile::tempdir().unwrap();
        let r = every_field();
        check_v2(&r).unwrap();
        apply_v2(dir.path(), &r).unwrap();
        let read = |f: &str| std::fs::read_to_string(dir.path().join(f)).unwrap();
        for (file, want) in [
            ("memory.max", "67108864"),
            ("memory.low", "33554432"),
            ("memory.swap.max", "33554432"),
            ("cpu.weight", "39"),
            ("cpu.max", "50000 100000"),
            ("cpu.max.burst", "1000"),
            ("cpu.idle", "0"),
            ("cpuset.cpus", "0-1"),
            ("cpuset.mems", "0"),
            ("pids.max", "42"),
            ("io.weight", "8:0 910"),
            ("io.max", "8:0 rbps=1048576 wiops=300"),
            ("hugetlb.2MB.max", "4194304"),
            ("rdma.max", "mlx5_0 hca_handle=3 hca_object=1000"),
            ("memory.high", "50000000"),
        ] {
            assert_eq!(read(file), want, "{file}");
        }
        let mut wanted = v2_controllers(&r);
        wanted.sort();
        assert_eq!(wanted, ["cpu", "cpuset", "hugetlb", "io", "memory", "pids", "rdma"]);
    }

    /// What v2 has no file for is refused by name, and v1 refuses unified.
    #[test]
    fn what_a_version_cannot_take_is_refused() {
        let mut r = Resources::default();
        r.memory.swappiness = Some(10);
        assert!(check_v2(&r).unwrap_err().to_string().contains("swappiness"));
        let mut r = Resources::default();
        r.cpu.realtime_runtime = Some(1000);
        assert!(check_v2(&r).unwrap_err().to_string().contains("realtime"));
        let mut r = Resources::default();
        r.network.class_id = Some(1);
        assert!(check_v2(&r).unwrap_err().to_string().contains("network"));
        let mut r = Resources::default();
        r.memory.swap = Some(10);
        r.memory.limit = Some(20);
        assert!(check_v2(&r).unwrap_err().to_string().contains("swap"));
        assert!(check_v1(&every_field()).unwrap_err().to_string().contains("unified"));
    }

    /// v1's memory and memory+swap are written in the order the kernel
    /// accepts: the one that grows first.
    #[test]
    fn v1_memory_and_swap_grow_in_an_order_the_kernel_takes() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("memory.limit_in_bytes"), "1000").unwrap();
        let m = Memory {
            limit: Some(2000),
            swap: Some(4000),
            ..Default::default()
        };
        apply_v1(
            "memory",
            dir.path(),
            &Resources {
                memory: m,
                ..Default::default()
            },
        )
        .unwrap();
        let read = |f: &str| std::fs::read_to_string(dir.path().join(f)).unwrap();
        assert_eq!(
            (read("memory.limit_in_bytes"), read("memory.memsw.limit_in_bytes")),
            ("2000".into(), "4000".into())
        );
    }
}
