//! A container's statistics as runc's `events` shows them (runc's
//! `types.Stats`, field for field: cpu usage and throttling in
//! nanoseconds, memory entries with limit/usage/max/failcnt and the raw
//! memory.stat keys, pids, blkio per device and operation, hugetlb),
//! read from its v1 or v2 cgroup files. runc leaves zero values out
//! (`omitempty`) but for a few; so does this.

use super::oci::CgroupDir;
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};

/// The container's cgroup in the hierarchy that has `file` (v1), or its
/// one cgroup (v2).
fn dir_with<'a>(dirs: &'a [CgroupDir], file: &str) -> Option<&'a Path> {
    dirs.iter().map(|d| d.path.as_path()).find(|d| d.join(file).exists())
}

fn read(dir: Option<&Path>, file: &str) -> Option<String> {
    std::fs::read_to_string(dir?.join(file)).ok()
}

fn number(dir: Option<&Path>, file: &str) -> u64 {
    read(dir, file).and_then(|t| t.trim().parse().ok()).unwrap_or(0)
}

/// `key value` lines.
fn keyed(text: &str) -> Map<String, Value> {
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), json!(v.trim().parse::<u64>().ok()?)))
        })
        .collect()
}

/// Drops zero numbers, empty arrays and objects (Go's omitempty), except
/// the keys listed.
fn omit_empty(mut v: Value, keep: &[&str]) -> Value {
    if let Value::Object(map) = &mut v {
        map.retain(|k, v| {
            keep.contains(&k.as_str())
                || !matches!(v, Value::Number(n) if n.as_u64() == Some(0))
                    && !matches!(v, Value::Array(a) if a.is_empty())
                    && !matches!(v, Value::Object(o) if o.is_empty())
                    && !v.is_null()
        });
    }
    v
}

fn entry(limit: u64, usage: u64, max: u64, failcnt: u64) -> Value {
    omit_empty(
        json!({"limit": limit, "usage": usage, "max": max, "failcnt": failcnt}),
        &["limit", "failcnt"],
    )
}

/// The statistics of the container whose cgroups are `dirs`.
pub fn stats(dirs: &[CgroupDir]) -> Value {
    let v2 = dirs.len() == 1 && dirs[0].path.join("cgroup.controllers").exists();
    let (cpu, cpuset, memory, pids, blkio, hugetlb) = if v2 {
        let dir = Some(dirs[0].path.as_path());
        (
            cpu_v2(dir),
            cpuset_of(dir.filter(|d| d.join("cpuset.cpus.effective").exists())),
            memory_v2(dir),
            pids_of(dir),
            blkio_v2(dir),
            hugetlb_of(dir, true),
        )
    } else {
        (
            cpu_v1(dir_with(dirs, "cpuacct.usage"), dir_with(dirs, "cpu.stat")),
            cpuset_of(dir_with(dirs, "cpuset.cpus")),
            memory_v1(dir_with(dirs, "memory.usage_in_bytes")),
            pids_of(dir_with(dirs, "pids.current")),
            blkio_v1(dir_with(dirs, "blkio.throttle.io_service_bytes_recursive")),
            hugetlb_of(
                dirs.iter()
                    .map(|d| d.path.as_path())
                    .find(|d| hugetlb_sizes(d).next().is_some()),
                false,
            ),
        )
    };
    json!({
        "cpu": cpu,
        "cpuset": cpuset,
        "memory": memory,
        "pids": pids,
        "blkio": blkio,
        "hugetlb": hugetlb,
        "intel_rdt": {},
        "network_interfaces": null,
    })
}

fn cpu_v1(acct: Option<&Path>, cpu: Option<&Path>) -> Value {
    let list = |file: &str| -> Vec<u64> {
        read(acct, file)
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|n| n.parse().ok())
            .collect()
    };
    // cpuacct.stat counts USER_HZ ticks (100 a second on Linux).
    let ticks = keyed(&read(acct, "cpuacct.stat").unwrap_or_default());
    let ns = |k: &str| ticks.get(k).and_then(Value::as_u64).unwrap_or(0) * 10_000_000;
    let usage = omit_empty(
        json!({
            "total": number(acct, "cpuacct.usage"),
            "percpu": list("cpuacct.usage_percpu"),
            "percpu_kernel": list("cpuacct.usage_percpu_sys"),
            "percpu_user": list("cpuacct.usage_percpu_user"),
            "kernel": ns("system"),
            "user": ns("user"),
        }),
        &["kernel", "user"],
    );
    let stat = keyed(&read(cpu, "cpu.stat").unwrap_or_default());
    let get = |k: &str| stat.get(k).cloned().unwrap_or(json!(0));
    let throttling = omit_empty(
        json!({
            "periods": get("nr_periods"),
            "throttled_periods": get("nr_throttled"),
            "throttled_time": get("throttled_time"),
        }),
        &[],
    );
    // Go's omitempty never drops a struct: both are always there.
    json!({"usage": usage, "throttling": throttling})
}

fn cpu_v2(dir: Option<&Path>) -> Value {
    let stat = keyed(&read(dir, "cpu.stat").unwrap_or_default());
    let us = |k: &str| stat.get(k).and_then(Value::as_u64).unwrap_or(0);
    let usage = omit_empty(
        json!({"total": us("usage_usec") * 1000, "kernel": us("system_usec") * 1000, "user": us("user_usec") * 1000}),
        &["kernel", "user"],
    );
    let throttling = omit_empty(
        json!({
            "periods": us("nr_periods"),
            "throttled_periods": us("nr_throttled"),
            "throttled_time": us("throttled_usec") * 1000,
        }),
        &[],
    );
    json!({"usage": usage, "throttling": throttling})
}

/// A cpuset list (`0-2,5`) as its numbers.
fn cpu_list(text: &str) -> Vec<u64> {
    text.trim()
        .split(',')
        .filter(|p| !p.is_empty())
        .flat_map(|part| match part.split_once('-') {
            Some((a, b)) => match (a.parse::<u64>(), b.parse::<u64>()) {
                (Ok(a), Ok(b)) if a <= b && b - a < 4096 => (a..=b).collect(),
                _ => Vec::new(),
            },
            None => part.parse().into_iter().collect(),
        })
        .collect()
}

/// The cpuset files runc shows (v1 names; v2 has only the lists).
fn cpuset_of(dir: Option<&Path>) -> Value {
    let Some(dir) = dir else { return json!({}) };
    let d = Some(dir);
    let mut out = json!({
        "cpus": cpu_list(&read(d, "cpuset.cpus").or_else(|| read(d, "cpuset.cpus.effective")).unwrap_or_default()),
        "mems": cpu_list(&read(d, "cpuset.mems").or_else(|| read(d, "cpuset.mems.effective")).unwrap_or_default()),
    });
    for key in [
        "cpu_exclusive",
        "mem_hardwall",
        "mem_exclusive",
        "memory_migrate",
        "memory_spread_page",
        "memory_spread_slab",
        "memory_pressure",
        "sched_load_balance",
        "sched_relax_domain_level",
    ] {
        if let Some(v) = read(d, &format!("cpuset.{key}")).and_then(|t| t.trim().parse::<i64>().ok()) {
            out[key] = json!(v);
        }
    }
    out
}

/// A v1 limit file: the kernel's "no limit" is a huge number, shown as is.
fn memory_v1(dir: Option<&Path>) -> Value {
    let e = |prefix: &str| {
        entry(
            number(dir, &format!("{prefix}.limit_in_bytes")),
            number(dir, &format!("{prefix}.usage_in_bytes")),
            number(dir, &format!("{prefix}.max_usage_in_bytes")),
            number(dir, &format!("{prefix}.failcnt")),
        )
    };
    let raw = keyed(&read(dir, "memory.stat").unwrap_or_default());
    let cache = raw.get("total_cache").or_else(|| raw.get("cache")).cloned();
    omit_empty(
        json!({
            "cache": cache.unwrap_or(json!(0)),
            "usage": e("memory"),
            "swap": e("memory.memsw"),
            "kernel": e("memory.kmem"),
            "kernelTCP": e("memory.kmem.tcp"),
            "raw": raw,
        }),
        &["usage", "swap", "kernel", "kernelTCP"],
    )
}

fn memory_v2(dir: Option<&Path>) -> Value {
    let limit = |file: &str| {
        read(dir, file)
            .map(|t| t.trim().parse::<u64>().unwrap_or(u64::MAX))
            .unwrap_or(0)
    };
    let events = keyed(&read(dir, "memory.events").unwrap_or_default());
    let failcnt = events.get("max").and_then(Value::as_u64).unwrap_or(0);
    let raw = keyed(&read(dir, "memory.stat").unwrap_or_default());
    let cache = raw.get("file").cloned().unwrap_or(json!(0));
    omit_empty(
        json!({
            "cache": cache,
            "usage": entry(limit("memory.max"), number(dir, "memory.current"), number(dir, "memory.peak"), failcnt),
            "swap": entry(limit("memory.swap.max"), number(dir, "memory.swap.current"), 0, 0),
            "kernel": entry(0, 0, 0, 0),
            "kernelTCP": entry(0, 0, 0, 0),
            "raw": raw,
        }),
        &["usage", "swap", "kernel", "kernelTCP"],
    )
}

fn pids_of(dir: Option<&Path>) -> Value {
    let limit = read(dir, "pids.max")
        .and_then(|t| t.trim().parse::<u64>().ok())
        .unwrap_or(0);
    omit_empty(json!({"current": number(dir, "pids.current"), "limit": limit}), &[])
}

/// `8:0 Read 4096` lines into runc's entries.
fn blkio_entries(text: &str) -> Vec<Value> {
    text.lines()
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            let (dev, op, value) = (parts.next()?, parts.next()?, parts.next()?);
            let (major, minor) = dev.split_once(':')?;
            let (major, minor, value): (u64, u64, u64) =
                (major.parse().ok()?, minor.parse().ok()?, value.parse().ok()?);
            Some(omit_empty(
                json!({"major": major, "minor": minor, "op": op, "value": value}),
                &[],
            ))
        })
        .collect()
}

fn blkio_v1(dir: Option<&Path>) -> Value {
    let list = |file: &str| blkio_entries(&read(dir, file).unwrap_or_default());
    omit_empty(
        json!({
            "ioServiceBytesRecursive": list("blkio.throttle.io_service_bytes_recursive"),
            "ioServicedRecursive": list("blkio.throttle.io_serviced_recursive"),
        }),
        &[],
    )
}

/// v2's io.stat (`8:0 rbytes=1 wbytes=2 rios=3 wios=4 ...`), as runc maps it.
fn blkio_v2(dir: Option<&Path>) -> Value {
    let mut bytes = Vec::new();
    let mut ios = Vec::new();
    for line in read(dir, "io.stat").unwrap_or_default().lines() {
        let mut parts = line.split_whitespace();
        let Some((major, minor)) = parts.next().and_then(|d| d.split_once(':')) else {
            continue;
        };
        let (Ok(major), Ok(minor)) = (major.parse::<u64>(), minor.parse::<u64>()) else {
            continue;
        };
        for field in parts {
            let Some((key, value)) = field.split_once('=') else {
                continue;
            };
            let Ok(value) = value.parse::<u64>() else { continue };
            let (list, op) = match key {
                "rbytes" => (&mut bytes, "Read"),
                "wbytes" => (&mut bytes, "Write"),
                "rios" => (&mut ios, "Read"),
                "wios" => (&mut ios, "Write"),
                _ => continue,
            };
            list.push(omit_empty(
                json!({"major": major, "minor": minor, "op": op, "value": value}),
                &[],
            ));
        }
    }
    omit_empty(
        json!({"ioServiceBytesRecursive": bytes, "ioServicedRecursive": ios}),
        &[],
    )
}

/// The page sizes of the hugetlb files in `dir` (`hugetlb.2MB.*`).
fn hugetlb_sizes(dir: &Path) -> impl Iterator<Item = String> {
    let mut sizes: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let rest = name.strip_prefix("hugetlb.")?;
            let (size, _) = rest.split_once('.')?;
            Some(size.to_string())
        })
        .collect();
    sizes.sort();
    sizes.dedup();
    sizes.into_iter()
}

fn hugetlb_of(dir: Option<&Path>, v2: bool) -> Value {
    let Some(dir) = dir else { return json!({}) };
    let mut out = Map::new();
    for size in hugetlb_sizes(dir) {
        let f = |suffix: &str| PathBuf::from(format!("hugetlb.{size}.{suffix}"));
        let n = |p: PathBuf| number(Some(dir), &p.to_string_lossy());
        let value = if v2 {
            let events = keyed(&read(Some(dir), &format!("hugetlb.{size}.events")).unwrap_or_default());
            let failcnt = events.get("max").and_then(Value::as_u64).unwrap_or(0);
            json!({"usage": n(f("current")), "max": 0, "failcnt": failcnt})
        } else {
            json!({"usage": n(f("usage_in_bytes")), "max": n(f("max_usage_in_bytes")), "failcnt": n(f("failcnt"))})
        };
        out.insert(size, omit_empty(value, &["failcnt"]));
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A v2 cgroup faked in a temp dir: the fields runc shows, from the
    /// files it reads them from.
    #[test]
    fn v2_stats_read_as_runc_shows_them() {
        let dir = tempfile::tempdir().unwrap();
        let write = |f: &str, t: &str| std::fs::write(dir.path().join(f), t).unwrap();
        write("cgroup.controllers", "cpu memory pids io");
        write(
            "cpu.stat",
            "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 10\nnr_throttled 2\nthrottled_usec 7\n",
        );
        write("memory.current", "4096\n");
        write("memory.max", "max\n");
        write("memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n");
        write("memory.stat", "anon 100\nfile 200\n");
        write("pids.current", "2\n");
        write("pids.max", "max\n");
        write("io.stat", "8:0 rbytes=4096 wbytes=0 rios=1 wios=0 dbytes=0 dios=0\n");
        let dirs = [CgroupDir {
            path: dir.path().to_path_buf(),
            made: vec![],
        }];
        let s = stats(&dirs);
        assert_eq!(
            s["cpu"]["usage"],
            json!({"total": 1_500_000, "kernel": 500_000, "user": 1_000_000})
        );
        assert_eq!(
            s["cpu"]["throttling"],
            json!({"periods": 10, "throttled_periods": 2, "throttled_time": 7000})
        );
        assert_eq!(
            s["memory"]["usage"],
            json!({"limit": u64::MAX, "usage": 4096, "failcnt": 3})
        );
        assert_eq!(s["memory"]["cache"], 200);
        assert_eq!(s["memory"]["raw"]["anon"], 100);
        assert_eq!(s["pids"], json!({"current": 2}));
        assert_eq!(
            s["blkio"]["ioServiceBytesRecursive"],
            json!([{"major": 8, "op": "Read", "value": 4096}, {"major": 8, "op": "Write"}])
        );
    }
}
