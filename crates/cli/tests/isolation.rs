//! One test per namespace kind: what is made inside is invisible outside,
//! as the seed claims, checked with the kernel's own files.

mod common;
use common::*;

fn sysvipc_ids(file: &str) -> Vec<String> {
    std::fs::read_to_string(format!("/proc/sysvipc/{file}"))
        .unwrap()
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(1).map(String::from))
        .collect()
}

/// Removes a host SysV object made by a test, also when the test fails.
struct HostIpc(&'static str, String);
impl Drop for HostIpc {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ipcrm").args([self.0, &self.1]).status();
    }
}

fn ipcmk(args: &[&str]) -> String {
    let out = std::process::Command::new("ipcmk").args(args).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .last()
        .unwrap()
        .to_string()
}

/// A message queue, semaphore set and shared memory segment made inside are
/// not in the host's /proc/sysvipc, and the host's are not visible inside.
#[test]
fn ipc_objects_are_private_to_the_namespace() {
    require_root!();
    let _host_queue = HostIpc("-q", ipcmk(&["-Q"]));
    let host_queues = sysvipc_ids("msg");
    let script = "ipcmk -Q >/dev/null && ipcmk -S 1 >/dev/null && ipcmk -M 4096 >/dev/null && \
                  for f in msg sem shm; do echo \"$f $(($(wc -l < /proc/sysvipc/$f) - 1))\"; done; read x; exit 0";
    let mut c = Running::start(&["unshare", "--", "sh", "-c", script]);
    let inside: Vec<String> = (0..3).map(|_| c.line()).collect();
    assert_eq!(
        inside,
        ["msg 1", "sem 1", "shm 1"],
        "inside sees exactly its own objects, not the host's"
    );
    let command = command_pid(c.pid(), true);
    // A second process in the same ipc namespace sees them too ...
    let (_, seen, _) = run(&[
        "enter",
        &command.to_string(),
        "--ns",
        "ipc",
        "--",
        "cat",
        "/proc/sysvipc/shm",
    ]);
    assert_eq!(seen.lines().count(), 2, "{seen}");
    // ... while the host sees none of them.
    assert_eq!(sysvipc_ids("msg"), host_queues);
    let (status, _) = c.finish();
    assert!(status.success());
    assert_eq!(
        sysvipc_ids("msg"),
        host_queues,
        "nothing of the container's reached the host"
    );
}

fn host_shmem_kib() -> u64 {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
    let line = meminfo.lines().find(|l| l.starts_with("Shmem:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// A shared memory segment left inside (never removed) is destroyed by the
/// kernel when the ipc namespace dies: its 64 MiB show in the host's Shmem
/// while the container runs, and are gone once it has exited.
#[test]
fn ipc_objects_vanish_with_the_namespace() {
    require_root!();
    let make_segment = "import ctypes; libc = ctypes.CDLL(None); libc.shmat.restype = ctypes.c_void_p; \
        size = 64 << 20; shmid = libc.shmget(0, ctypes.c_size_t(size), 0o1600); \
        addr = libc.shmat(shmid, None, 0); ctypes.memset(addr, 1, size); libc.shmdt(ctypes.c_void_p(addr)); \
        print(shmid)";
    let script = format!("python3 -c '{make_segment}' && wc -l < /proc/sysvipc/shm; read x; exit 0");
    let before = host_shmem_kib();
    let mut c = Running::start(&["unshare", "--", "sh", "-c", &script]);
    let _shmid = c.line();
    assert_eq!(c.line().trim(), "2", "header and one segment inside");
    let during = host_shmem_kib();
    assert!(
        during >= before + 48 * 1024,
        "the segment's pages are in use: {before} -> {during} KiB"
    );
    assert!(c.finish().0.success());
    let after = wait_for(|| {
        let now = host_shmem_kib();
        (now + 48 * 1024 <= during).then_some(now)
    });
    assert!(
        after < before + 16 * 1024,
        "the segment outlived its namespace: {before} -> {after} KiB"
    );
}

/// A mount made inside is not in the host's mount table.
#[test]
fn mounts_inside_stay_inside() {
    require_root!();
    let script =
        "mkdir /m && mount -t tmpfs nsbox-test-mnt /m && grep -c nsbox-test-mnt /proc/self/mounts; read x; exit 0";
    let mut c = Running::start(&["unshare", "--", "sh", "-c", script]);
    assert_eq!(c.line(), "1");
    let host = std::fs::read_to_string("/proc/self/mounts").unwrap();
    assert!(
        !host.contains("nsbox-test-mnt"),
        "the container's mount leaked to the host"
    );
    assert!(c.finish().0.success());
}

/// After pivot_root into a rootfs, no path leads back to the host's files.
#[test]
fn pivot_root_leaves_no_path_to_the_host() {
    require_root!();
    let Some(rootfs) = busybox_rootfs() else { return };
    let marker_dir = tempfile::tempdir().unwrap();
    let marker = format!("nsbox-marker-{}", std::process::id());
    std::fs::write(marker_dir.path().join(&marker), "host").unwrap();
    let script =
        format!("find / -name {marker} 2>/dev/null | wc -l; ls /; cat /proc/self/mountinfo | wc -l; cd /..; pwd");
    let (code, out, err) = run(&[
        "unshare",
        "--rootfs",
        rootfs.path().to_str().unwrap(),
        "--",
        "/bin/sh",
        "-c",
        &script,
    ]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0].trim(), "0", "the host's marker file is reachable: {out}");
    assert!(out.contains("busybox") || out.contains("bin"), "{out}");
    assert!(!out.contains("usr"), "the host's /usr is visible: {out}");
    assert_eq!(lines.last().unwrap().trim(), "/");
}

/// A new network namespace has only `lo`, down unless asked for.
#[test]
fn network_namespace_has_only_loopback_down() {
    require_root!();
    let (code, out, err) = run(&["unshare", "--", "ip", "-o", "link", "show"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.starts_with("1: lo:") && out.contains("state DOWN"), "{out}");
    let (_, up, _) = run(&["unshare", "--lo-up", "--", "ip", "-o", "link", "show"]);
    assert!(up.contains("LOOPBACK,UP"), "{up}");
    // Traffic over the new lo: a TCP connection to ourselves.
    let talk = "import socket; s = socket.create_server(('127.0.0.1', 0)); \
                c = socket.create_connection(s.getsockname(), timeout=2); print('connected')";
    let (code, out, err) = run(&["unshare", "--lo-up", "--", "python3", "-c", talk]);
    assert_eq!((code, out.trim()), (0, "connected"), "{err}");
}

/// `hostname` inside changes nothing outside.
#[test]
fn hostname_inside_changes_nothing_outside() {
    require_root!();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let (code, out, err) = run(&[
        "unshare",
        "--hostname",
        "nsbox-box",
        "--domainname",
        "lab.test",
        "--",
        "sh",
        "-c",
        "hostname; cat /proc/sys/kernel/domainname; hostname changed; hostname",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "nsbox-box\nlab.test\nchanged\n");
    assert_eq!(std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap(), host);
}

/// uid 0 inside a user namespace is the mapped uid outside, and its
/// capabilities do not reach the host's objects.
#[test]
fn user_namespace_root_is_mapped_and_powerless_outside() {
    require_root!();
    let shared = tempfile::tempdir().unwrap();
    let secret = shared.path().join("secret");
    std::fs::write(&secret, "host").unwrap();
    std::fs::set_permissions(&secret, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let bind = format!("{}:/shared", shared.path().display());
    let script = "id -u; echo x > /shared/secret && echo wrote; read x; exit 0";
    let mut c = Running::start(&[
        "unshare",
        "--ns",
        "user,mnt,pid",
        "--uid-map",
        "0:100000:65536",
        "--gid-map",
        "0:100000:65536",
        "--bind",
        &bind,
        "--",
        "sh",
        "-c",
        script,
    ]);
    assert_eq!(c.line(), "0", "root inside");
    let command = command_pid(c.pid(), true);
    let uids = status_field(command, "Uid").unwrap();
    assert!(
        uids.split_whitespace().all(|u| u == "100000"),
        "outside the uid is the mapped one: {uids}"
    );
    let (status, rest) = c.finish();
    assert!(status.success());
    assert!(!rest.contains("wrote"), "root inside wrote a root-owned host file");
    assert_eq!(std::fs::read_to_string(&secret).unwrap(), "host");
    // Without its own uts namespace, root of a user namespace cannot rename the host.
    let (code, _, _) = run(&["unshare", "--ns", "user", "--", "hostname", "nsbox-must-not-happen"]);
    assert_ne!(code, 0);
    assert_ne!(
        std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap().trim(),
        "nsbox-must-not-happen"
    );
}

/// In a new cgroup namespace, the process's own cgroup is the root `/`.
#[test]
fn cgroup_namespace_shows_root() {
    require_root!();
    for extra in [&[][..], &["--pids", "64"][..]] {
        let mut args = vec!["unshare"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--", "cat", "/proc/self/cgroup"]);
        let (code, out, err) = run(&args);
        assert_eq!(code, 0, "{err}");
        for line in out.lines() {
            assert!(line.ends_with(":/"), "{line} (with {extra:?})");
        }
    }
}

/// A fork bomb stops at the pids limit, and the host is fine.
#[test]
fn pids_limit_stops_a_fork_bomb() {
    require_root!();
    // dash gives up on the first failed fork, so the bomb runs in a subshell;
    // the count uses only builtins, since the limit leaves no room for a fork.
    let script = "(i=0; while [ $i -lt 50 ]; do sleep 5 & i=$((i+1)); done) 2>/dev/null; \
                  set -- /proc/[0-9]*; echo $#; echo ready; read x; exit 0";
    let mut c = Running::start(&["unshare", "--pids", "10", "--", "sh", "-c", script]);
    let count: usize = c.line().trim().parse().unwrap();
    assert!(count <= 10, "{count} processes despite pids.max=10");
    assert_eq!(c.line(), "ready");
    let cgroups = cgroups_of(c.pid());
    let pids_dir = cgroups
        .iter()
        .find(|p| p.join("pids.max").exists())
        .expect("a pids cgroup");
    assert_eq!(std::fs::read_to_string(pids_dir.join("pids.max")).unwrap().trim(), "10");
    let nsbox_pid = c.pid();
    assert!(c.finish().0.success());
    assert!(cgroups_of(nsbox_pid).is_empty(), "cgroups left behind");
}

/// A process that touches more memory than the limit is killed (128+9).
#[test]
fn memory_limit_is_enforced() {
    require_root!();
    let (code, _, err) = run(&[
        "unshare",
        "--memory",
        "32M",
        "--",
        "dd",
        "if=/dev/zero",
        "of=/dev/null",
        "bs=96M",
        "count=1",
    ]);
    assert_eq!(
        code,
        128 + 9,
        "dd with a 96 MiB buffer must be OOM-killed under a 32 MiB limit"
    );
    assert_eq!(
        err.trim(),
        "nsbox: the command was killed by the OOM killer (memory limit 32M)",
        "the kill is explained"
    );
    let (code, _, err) = run(&[
        "unshare",
        "--memory",
        "64M",
        "--",
        "dd",
        "if=/dev/zero",
        "of=/dev/null",
        "bs=8M",
        "count=1",
    ]);
    assert_eq!(code, 0, "{err}");
}

/// CPU bandwidth is written as a CFS quota (v1) the kernel accepts.
#[test]
fn cpu_limit_is_applied() {
    require_root!();
    let mut c = Running::start(&[
        "unshare",
        "--cpus",
        "0.5",
        "--",
        "sh",
        "-c",
        "echo ready; read x; exit 0",
    ]);
    assert_eq!(c.line(), "ready");
    let cgroups = cgroups_of(c.pid());
    let quota = cgroups
        .iter()
        .find_map(|p| {
            std::fs::read_to_string(p.join("cpu.cfs_quota_us"))
                .ok()
                .or_else(|| std::fs::read_to_string(p.join("cpu.max")).ok())
        })
        .expect("a cpu cgroup");
    assert!(quota.trim() == "50000" || quota.trim() == "50000 100000", "{quota}");
    assert!(c.finish().0.success());
}

/// CLOCK_MONOTONIC inside a new time namespace is offset by what was asked.
#[test]
fn time_namespace_offsets_monotonic_clock() {
    require_root!();
    require_time_namespaces!();
    let clock = "python3 -c 'import time; print(time.clock_gettime(time.CLOCK_MONOTONIC))'";
    let before = std::process::Command::new("sh").args(["-c", clock]).output().unwrap();
    let before: f64 = String::from_utf8_lossy(&before.stdout).trim().parse().unwrap();
    let (code, out, err) = run(&[
        "unshare",
        "--time-offset",
        "monotonic=86400,boottime=3600",
        "--",
        "sh",
        "-c",
        clock,
    ]);
    assert_eq!(code, 0, "{err}");
    let inside: f64 = out.trim().parse().unwrap();
    let delta = inside - before;
    assert!(
        (86400.0..86400.0 + 30.0).contains(&delta),
        "monotonic inside is {inside}, outside was {before}"
    );
}

/// Binds (directories and files, from under /tmp too, read-write and
/// read-only), tmpfs, environment, working directory and user.
#[test]
fn binds_tmpfs_env_workdir_and_user() {
    require_root!();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config");
    std::fs::write(&file, "from host").unwrap();
    let rw = format!("{}:/data", dir.path().display());
    let ro = format!("{}:/opt/app/config:ro", file.display());
    let script = "cat /opt/app/config; echo; echo x > /opt/app/config || echo ro-refused; \
                  echo inside > /data/new; grep -c ' /scratch tmpfs' /proc/self/mounts; \
                  echo $GREETING; pwd; id -u; id -g";
    let (code, out, err) = run(&[
        "unshare",
        "--bind",
        &rw,
        "--bind",
        &ro,
        "--tmpfs",
        "/scratch",
        "--env",
        "GREETING=hello",
        "--workdir",
        "/data",
        "--",
        "sh",
        "-c",
        script,
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "from host\nro-refused\n1\nhello\n/data\n0\n0\n");
    assert_eq!(std::fs::read_to_string(dir.path().join("new")).unwrap(), "inside\n");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "from host");
    let (_, out, err) = run(&[
        "unshare",
        "--user",
        "1000:1001",
        "--",
        "sh",
        "-c",
        "id -u; id -g; id -G",
    ]);
    assert_eq!(out, "1000\n1001\n1001\n", "{err}");
}

/// With root left unmapped the command runs as the user it is mapped to:
/// nothing insists on becoming root first.
#[test]
fn a_user_namespace_without_root_mapped_runs_as_the_mapped_user() {
    require_root!();
    let (code, out, err) = run(&[
        "unshare",
        "--ns",
        "user,mnt,pid",
        "--uid-map",
        "1000:0:1",
        "--gid-map",
        "1000:0:1",
        "--",
        "sh",
        "-c",
        "id -u; id -g",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "1000\n1000\n");
}

/// The host view: read-only system directories, fresh /proc, /dev and /tmp.
#[test]
fn host_view_is_read_only_with_fresh_proc_dev_tmp() {
    require_root!();
    let script = "touch /usr/nsbox-x 2>/dev/null || echo usr-ro; touch /etc/nsbox-x 2>/dev/null || echo etc-ro; \
                  touch /tmp/x && echo tmp-rw; ls /dev | tr '\\n' ' '; echo; \
                  head -c 4 /dev/urandom | wc -c; echo > /dev/null && echo null-ok; ls /proc | grep -c '^[0-9]'; \
                  stat -c %a /dev/shm; echo x > /dev/shm/f && cat /dev/shm/f; stat -c %a /tmp";
    let (code, out, err) = run(&["unshare", "--", "sh", "-c", script]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(&lines[..3], ["usr-ro", "etc-ro", "tmp-rw"]);
    for node in ["null", "zero", "full", "random", "urandom", "tty", "ptmx", "pts", "shm"] {
        assert!(
            lines[3].split(' ').any(|n| n == node),
            "/dev lacks {node}: {}",
            lines[3]
        );
    }
    assert_eq!(lines[4].trim(), "4");
    assert_eq!(lines[5], "null-ok");
    let procs: usize = lines[6].parse().unwrap();
    assert!(
        procs <= 6,
        "fresh /proc shows only the container's processes, not {procs}"
    );
    // /dev/shm (POSIX shared memory) and /tmp are writable by all, and sticky.
    assert_eq!(&lines[7..], ["1777", "x", "1777"]);
}

/// Not as root: the default is a user namespace where the caller is root,
/// which is enough for every other namespace, but not for the host's files
/// or for cgroups the caller may not create.
#[test]
fn rootless_default_maps_the_caller_to_root() {
    require_root!(); // to become another user with setpriv
    if std::process::Command::new("setpriv").arg("--version").output().is_err() {
        eprintln!("SKIPPED: setpriv (util-linux) is not installed");
        return;
    }
    // The test binary's directory may not be reachable for nobody: copy it.
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let bin = dir.path().join("nsbox");
    std::fs::copy(env!("CARGO_BIN_EXE_nsbox"), &bin).unwrap();
    let as_nobody = |args: &[&str]| {
        let out = std::process::Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&bin)
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, out, err) = as_nobody(&[
        "unshare",
        "--hostname",
        "rootless",
        "--",
        "sh",
        "-c",
        "id -u; hostname; cat /proc/self/uid_map | tr -s ' '; echo x > /etc/nsbox-rootless || echo etc-refused",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "0\nrootless\n 0 65534 1\netc-refused\n");
    let before = nsbox_cgroups();
    let (code, _, err) = as_nobody(&["unshare", "--pids", "10", "--", "true"]);
    assert_eq!(code, 125);
    assert!(
        err.starts_with("nsbox: creating cgroup") && err.contains("Permission denied"),
        "{err}"
    );
    assert_eq!(nsbox_cgroups(), before);
}

/// Two nsbox processes that have the same PID (each is PID 1 of a pid
/// namespace of its own) get cgroups of their own: names carry more than
/// the PID, and neither takes over or removes the other's.
#[test]
fn cgroups_of_nsbox_processes_with_the_same_pid_do_not_collide() {
    require_root!();
    let nsbox = env!("CARGO_BIN_EXE_nsbox");
    let script = format!(
        "for i in 1 2 3; do unshare --pid --fork {nsbox} unshare --ns pid,mnt --pids 20 -- sh -c 'cat /proc/self/cgroup | grep pids; sleep 0.3' & done; wait"
    );
    let out = std::process::Command::new("sh").args(["-c", &script]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    let cgroups: std::collections::BTreeSet<&str> = text.lines().collect();
    assert_eq!(text.lines().count(), 3, "all three ran: {text}{err}");
    assert_eq!(cgroups.len(), 3, "three cgroups, one each: {text}");
    assert!(cgroups.iter().all(|c| c.contains("/nsbox-1-")), "{text}");
}

/// The cgroups of an nsbox killed by SIGKILL (which cannot remove its own)
/// are swept by a later nsbox once they are empty and stale; a directory
/// that only looks like nsbox's (another name shape) is left alone.
#[test]
fn cgroups_left_by_a_killed_nsbox_are_swept_later() {
    require_root!();
    let nsbox = env!("CARGO_BIN_EXE_nsbox");
    let memory = std::path::Path::new("/sys/fs/cgroup/memory");
    if !memory.join("cgroup.procs").exists() {
        eprintln!("skipped: no cgroup v1 memory hierarchy here");
        return;
    }
    // The container prints its cgroup, then sleeps; nsbox is then killed.
    let mut child = std::process::Command::new(nsbox)
        .args(["unshare", "--ns", "pid,mnt", "--memory", "16M", "--", "sh", "-c"])
        .arg("grep memory /proc/self/cgroup; exec sleep 30")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line).unwrap();
    let name = line.trim().rsplit('/').next().unwrap().to_string();
    assert!(name.starts_with("nsbox-"), "{line}");
    let left = memory.join(&name);
    let procs = std::fs::read_to_string(left.join("cgroup.procs")).unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    // The container's processes die with their pid namespace's init.
    for pid in procs.split_whitespace() {
        let _ = std::process::Command::new("kill")
            .args(["-9", pid])
            .stderr(std::process::Stdio::null())
            .status();
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !std::fs::read_to_string(left.join("cgroup.procs"))
        .unwrap()
        .trim()
        .is_empty()
    {
        assert!(std::time::Instant::now() < deadline, "{name} never emptied");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(left.exists(), "a killed nsbox cannot remove its cgroup");
    // Someone else's directory of nearly the same shape, as old.
    let decoy = memory.join(format!("{name}x"));
    std::fs::create_dir(&decoy).unwrap();
    let two_hours_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
    for dir in [&left, &decoy] {
        std::fs::File::open(dir).unwrap().set_modified(two_hours_ago).unwrap();
    }
    let ran = std::process::Command::new(nsbox)
        .args(["unshare", "--ns", "pid,mnt", "--memory", "16M", "--", "true"])
        .status()
        .unwrap();
    let swept = !left.exists();
    let decoy_kept = decoy.exists();
    let _ = std::fs::remove_dir(&decoy);
    let _ = std::fs::remove_dir(&left);
    assert!(ran.success());
    assert!(swept, "the stale {name} was swept");
    assert!(decoy_kept, "a directory nsbox did not name was left alone");
}

/// A seccomp filter that answers clone3 with ENOSYS, as docker's and
/// podman's default profiles do for callers without CAP_SYS_ADMIN, then
/// runs its arguments (Python's ctypes: no compiler needed). It says
/// `clone3: ENOSYS` on stderr once the filter holds.
const NO_CLONE3: &str = r#"
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
class Filter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte), ("k", ctypes.c_uint)]
class Prog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(Filter))]
ENOSYS, CLONE3 = 38, 435
program = (Filter * 4)(
    Filter(0x20, 0, 0, 0),                  # load the syscall number
    Filter(0x15, 0, 1, CLONE3),             # clone3?
    Filter(0x06, 0, 0, 0x00050000 | ENOSYS),  # then ERRNO(ENOSYS)
    Filter(0x06, 0, 0, 0x7fff0000),         # else allow
)
prog = Prog(4, program)
assert libc.prctl(38, 1, 0, 0, 0) == 0                        # PR_SET_NO_NEW_PRIVS
assert libc.prctl(22, 2, ctypes.byref(prog), 0, 0) == 0       # PR_SET_SECCOMP, FILTER
libc.syscall(CLONE3, None, 0)
if ctypes.get_errno() == ENOSYS:
    print("clone3: ENOSYS", file=sys.stderr, flush=True)
os.execvp(sys.argv[1], sys.argv[1:])
"#;

/// Where a sandbox refuses clone3 (ENOSYS), nsbox makes the container with
/// clone instead, and puts it in its cgroups through `cgroup.procs`: the
/// limit holds, the namespaces are new, and the container's cgroup
/// namespace has its own cgroup as root.
#[test]
fn containers_are_made_where_clone3_is_refused() {
    require_root!();
    if missing_tool(&["python3"]) {
        return;
    }
    let script = std::env::temp_dir().join(format!("nsbox-no-clone3-{}.py", std::process::id()));
    std::fs::write(&script, NO_CLONE3).unwrap();
    let host_pid_ns = std::fs::read_link("/proc/self/ns/pid").unwrap();
    let out = std::process::Command::new("python3")
        .arg(&script)
        .arg(env!("CARGO_BIN_EXE_nsbox"))
        .args(["unshare", "--pids", "10", "--", "sh", "-c"])
        .arg("readlink /proc/self/ns/pid; cat /proc/self/cgroup | grep pids; echo $$")
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&script);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(stderr.contains("clone3: ENOSYS"), "the filter holds: {stderr}");
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_ne!(lines[0], host_pid_ns.to_string_lossy(), "a new pid namespace: {stdout}");
    assert!(
        lines[1].ends_with(":pids:/"),
        "in its own pids cgroup, seen as root: {stdout}"
    );
    assert_eq!(
        lines[2], "2",
        "the command runs under nsbox-init, PID 1 of the new namespace: {stdout}"
    );
}

/// A new ipc namespace gets its own POSIX message queues at /dev/mqueue (a
/// queue made there is the namespace's: another container does not see it,
/// and it goes with the namespace).
#[test]
fn a_new_ipc_namespace_has_its_own_dev_mqueue() {
    require_root!();
    let script = "grep ' /dev/mqueue ' /proc/self/mountinfo | cut -d' ' -f9; \
                  touch /dev/mqueue/nsbox-test-queue && ls /dev/mqueue";
    let (code, out, err) = run(&["unshare", "--", "sh", "-c", script]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "mqueue\nnsbox-test-queue\n", "{err}");
    let (code, out, err) = run(&["unshare", "--", "ls", "/dev/mqueue"]);
    assert_eq!(
        (code, out.as_str()),
        (0, ""),
        "another container sees no queue of the first: {err}"
    );
}
