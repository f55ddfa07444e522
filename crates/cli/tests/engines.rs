//! The engines people use, with nsbox as their OCI runtime: podman 4.3
//! (with conmon) runs its containers through nsbox. The test gives podman
//! a root, run root and containers.conf of its own in a temp dir (vfs
//! storage, cgroupfs manager, file events), an image imported from a
//! busybox rootfs (there is no registry), `--network none` (podman's
//! bridge would change the host's firewall) and a cgroup parent of its
//! own, which it removes with everything else at the end. (podman 4.3
//! still makes /run/containers/networks, netavark's empty run directory,
//! whatever the network: its own, and no kernel object.)

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const IMAGE: &str = "localhost/nsbox-test-busybox:latest";

struct Podman {
    dir: tempfile::TempDir,
    /// The cgroup parent of the test's containers (podman makes it in
    /// every hierarchy).
    parent: String,
}

impl Podman {
    fn new() -> Option<Podman> {
        if Command::new("podman").arg("--version").output().is_err() {
            eprintln!("SKIPPED: podman is not installed (scripts/install-deps.sh installs it)");
            return None;
        }
        let rootfs = busybox_rootfs()?;
        let dir = tempfile::Builder::new().prefix("nsbox-test-podman").tempdir().unwrap();
        std::fs::write(
            dir.path().join("containers.conf"),
            "[containers]\n# CAP_SYS_RESOURCE is not in this host's bounding set: no rlimits raised.\ndefault_ulimits = []\n[engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n",
        )
        .unwrap();
        for d in ["etc", "proc", "sys", "dev", "tmp"] {
            std::fs::create_dir_all(rootfs.path().join(d)).unwrap();
        }
        std::fs::write(rootfs.path().join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
        std::fs::write(rootfs.path().join("etc/group"), "root:x:0:\n").unwrap();
        let podman = Podman {
            dir,
            parent: format!("/nsbox-test-podman-{}", std::process::id()),
        };
        let mut tar = Command::new("tar")
            .args(["-C"])
            .arg(rootfs.path())
            .args(["-c", "."])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let imported = podman
            .command(&["import", "-", IMAGE])
            .stdin(tar.stdout.take().unwrap())
            .output()
            .unwrap();
        assert!(tar.wait().unwrap().success());
        assert!(
            imported.status.success(),
            "{}",
            String::from_utf8_lossy(&imported.stderr)
        );
        Some(podman)
    }

    fn command(&self, args: &[&str]) -> Command {
        let d = self.dir.path();
        let mut c = Command::new("podman");
        c.env("CONTAINERS_CONF", d.join("containers.conf"))
            .arg("--root")
            .arg(d.join("root"))
            .arg("--runroot")
            .arg(d.join("runroot"))
            .arg("--tmpdir")
            .arg(d.join("tmp"))
            .args([
                "--storage-driver",
                "vfs",
                "--cgroup-manager",
                "cgroupfs",
                "--events-backend",
                "file",
            ])
            .arg("--runtime")
            .arg(env!("CARGO_BIN_EXE_nsbox"))
            .args(args);
        c
    }

    /// `podman run --rm` with the test's isolation, then `args`.
    fn run(&self, args: &[&str]) -> (i32, String, String) {
        let mut all = vec!["run", "--rm", "--network", "none", "--cgroup-parent", &self.parent];
        all.extend(args);
        self.output(&all)
    }

    fn output(&self, args: &[&str]) -> (i32, String, String) {
        let out = self.command(args).stdin(Stdio::null()).output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = self.output(&["rm", "--all", "--force", "--time", "0"]);
        // The cgroup parent, in every hierarchy, deepest first.
        for hierarchy in std::fs::read_dir("/sys/fs/cgroup").into_iter().flatten().flatten() {
            let top = hierarchy.path().join(self.parent.trim_start_matches('/'));
            remove_tree(&top);
        }
    }
}

fn remove_tree(dir: &Path) {
    let children: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect();
    for child in children {
        remove_tree(&child);
    }
    for _ in 0..100 {
        if std::fs::remove_dir(dir).is_ok() || !dir.exists() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// podman's everyday flows on nsbox: output, exit codes, a missing command
/// (127, and nsbox's words reach podman's user), run -d + exec + logs +
/// pause + unpause + stop + rm, limits visible inside, podman's seccomp
/// filter in force, --init.
#[test]
fn podman_runs_its_containers_on_nsbox() {
    require_root!();
    let Some(podman) = Podman::new() else { return };
    let (code, out, err) = podman.run(&[IMAGE, "echo", "hi"]);
    assert_eq!((code, out.as_str()), (0, "hi\n"), "{err}");
    let (code, _, err) = podman.run(&[IMAGE, "sh", "-c", "exit 42"]);
    assert_eq!(code, 42, "{err}");
    let (code, _, err) = podman.run(&[IMAGE, "/nonexistent"]);
    assert_eq!(code, 127, "{err}");
    assert!(err.contains("process.args[0]") && err.contains("/nonexistent"), "{err}");

    let name = format!("nsbox-test-{}", std::process::id());
    let (code, _, err) = podman.output(&[
        "run",
        "-d",
        "--network",
        "none",
        "--cgroup-parent",
        &podman.parent,
        "--name",
        &name,
        IMAGE,
        "sh",
        "-c",
        "echo started; sleep 1000",
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = podman.output(&["exec", &name, "sh", "-c", "echo exec-ok"]);
    assert_eq!((code, out.as_str()), (0, "exec-ok\n"), "{err}");
    let (_, out, _) = podman.output(&["logs", &name]);
    assert_eq!(out, "started\n");
    let (code, _, err) = podman.output(&["pause", &name]);
    assert_eq!(code, 0, "{err}");
    let (_, out, _) = podman.output(&["inspect", "--format", "{{.State.Status}}", &name]);
    assert_eq!(out.trim(), "paused");
    let (code, _, err) = podman.output(&["unpause", &name]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = podman.output(&["stop", "--time", "1", &name]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = podman.output(&["rm", &name]);
    assert_eq!(code, 0, "{err}");

    let (code, out, err) = podman.run(&[
        "--memory",
        "64m",
        "--pids-limit",
        "33",
        IMAGE,
        "sh",
        "-c",
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max; grep -E '^Seccomp:' /proc/self/status",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        format!("{}\n33\nSeccomp:\t2\n", 64 << 20),
        "limits and podman's seccomp filter"
    );
    let (code, out, err) = podman.run(&["--init", IMAGE, "cat", "/proc/1/comm"]);
    assert_eq!(code, 0, "{err}");
    assert_ne!(out.trim(), "cat", "an init is PID 1: {out}");
}

/// `podman run -t`: conmon asks nsbox for a terminal over its console
/// socket; the container sees a tty, and the exit status comes back.
#[test]
fn podman_run_t_gets_a_terminal() {
    require_root!();
    let Some(podman) = Podman::new() else { return };
    let (master, slave) = test_pty(24, 80);
    let mut run = podman
        .command(&[
            "run",
            "--rm",
            "-t",
            "--network",
            "none",
            "--cgroup-parent",
            &podman.parent,
            IMAGE,
            "sh",
            "-c",
            "tty; exit 5",
        ])
        .stdin(slave.try_clone().unwrap())
        .stdout(slave.try_clone().unwrap())
        .stderr(slave)
        .spawn()
        .unwrap();
    let seen = read_until(&master, "/dev/pts/0");
    assert!(seen.contains("/dev/pts/0"), "{seen:?}");
    assert_eq!(run.wait().unwrap().code(), Some(5));
}
