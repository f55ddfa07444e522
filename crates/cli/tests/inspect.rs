//! `nsbox ns` and `nsbox enter`, checked against /proc.

mod common;
use common::*;

#[test]
fn ns_shows_a_containers_namespaces_and_nspid() {
    require_root!();
    let mut c = Running::start(&["unshare", "--", "sh", "-c", "echo $$; read x; exit 0"]);
    let inner: i32 = c.line().parse().unwrap();
    let command = command_pid(c.pid(), true);
    let (code, out, err) = run(&["ns", "--json", &command.to_string()]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["nspid"], serde_json::json!([command, inner]));
    for m in v["namespaces"].as_array().unwrap() {
        let kind = m["kind"].as_str().unwrap();
        assert_eq!(m["inode"].as_u64().unwrap(), ns_inode(command, kind), "{kind}");
        let isolated = ["pid", "net", "ipc", "uts", "mnt", "cgroup"].contains(&kind);
        assert_eq!(m["shared_with_host"].as_bool().unwrap(), !isolated, "{kind}");
    }
    // The table for people says the same.
    let (_, table, _) = run(&["ns", &command.to_string()]);
    assert!(table.contains(&format!("{command} -> {inner}")), "{table}");

    let (code, out, _) = run(&["ns", "--all", "--json"]);
    assert_eq!(code, 0);
    let all: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    let net = ns_inode(command, "net");
    let entry = all
        .iter()
        .find(|n| n["kind"] == "net" && n["inode"].as_u64() == Some(net))
        .expect("container's netns listed");
    assert!(
        entry["processes"].as_u64().unwrap() >= 2,
        "init and the command: {entry}"
    );
    assert!(c.finish().0.success());
}

#[test]
fn enter_joins_namespaces_root_and_hostname() {
    require_root!();
    let mut c = Running::start(&[
        "unshare",
        "--hostname",
        "entered",
        "--",
        "sh",
        "-c",
        "cd /tmp; echo ready; read x; exit 0",
    ]);
    assert_eq!(c.line(), "ready");
    let command = command_pid(c.pid(), true);
    let (code, out, err) = run(&[
        "enter",
        &command.to_string(),
        "--",
        "sh",
        "-c",
        "hostname; pwd; echo $$; readlink /proc/self/ns/net; ls /",
    ]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "entered");
    assert_eq!(lines[1], "/tmp", "the working directory of the target");
    let pid: i32 = lines[2].parse().unwrap();
    assert!(pid < 20, "a PID of the container's pid namespace, got {pid}");
    assert_eq!(lines[3], format!("net:[{}]", ns_inode(command, "net")));
    assert!(!out.contains("home"), "the container's root, not the host's: {out}");
    // Only some kinds: the uts namespace but not the mount namespace.
    let (_, out, _) = run(&[
        "enter",
        &command.to_string(),
        "--ns",
        "uts",
        "--",
        "sh",
        "-c",
        "hostname; ls / | grep -c home",
    ]);
    assert_eq!(out, "entered\n1\n");
    assert_eq!(run(&["enter", &command.to_string(), "--", "sh", "-c", "exit 3"]).0, 3);
    assert!(c.finish().0.success());
}

/// Entering a container with a time namespace gives the command its clocks.
#[test]
fn enter_joins_a_time_namespace() {
    require_root!();
    require_time_namespaces!();
    let mut c = Running::start(&[
        "unshare",
        "--time-offset",
        "boottime=100000",
        "--",
        "sh",
        "-c",
        "echo ready; read x; exit 0",
    ]);
    assert_eq!(c.line(), "ready");
    let command = command_pid(c.pid(), true);
    let host_uptime: f64 = std::fs::read_to_string("/proc/uptime")
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let (code, out, err) = run(&["enter", &command.to_string(), "--", "cat", "/proc/uptime"]);
    assert_eq!(code, 0, "{err}");
    let inside: f64 = out.split(' ').next().unwrap().parse().unwrap();
    // Both read to 1/100 s: read in the same hundredth, the difference of
    // the two floats can fall a hair under the offset.
    assert!(
        (99999.99..100030.0).contains(&(inside - host_uptime)),
        "uptime inside {inside}, outside {host_uptime}"
    );
    assert!(c.finish().0.success());
}
