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
        let rootfs = image_rootfs("podman")?;
        let dir = tempfile::Builder::new().prefix("nsbox-test-podman").tempdir().unwrap();
        std::fs::write(
            dir.path().join("containers.conf"),
            "[containers]\n# CAP_SYS_RESOURCE is not in this host's bounding set: no rlimits raised.\ndefault_ulimits = []\n[engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n",
        )
        .unwrap();
        errno_of_add_key(&rootfs.path().join("bin/errno-of-add-key"));
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
        output_of(self.command(args))
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = self.output(&["rm", "--all", "--force", "--time", "0"]);
        remove_cgroup_parent(&self.parent);
    }
}

/// A busybox rootfs with root in /etc/passwd and /etc/group, for an
/// engine's image; None (said as a skip) when `engine` is not installed.
fn image_rootfs(engine: &str) -> Option<tempfile::TempDir> {
    if Command::new(engine).arg("--version").output().is_err() {
        eprintln!("SKIPPED: {engine} is not installed (scripts/install-deps.sh installs it)");
        return None;
    }
    let rootfs = busybox_rootfs()?;
    std::fs::write(rootfs.path().join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
    std::fs::write(rootfs.path().join("etc/group"), "root:x:0:\n").unwrap();
    Some(rootfs)
}

/// A test's cgroup parent, in every hierarchy, deepest first.
fn remove_cgroup_parent(parent: &str) {
    for hierarchy in std::fs::read_dir("/sys/fs/cgroup").into_iter().flatten().flatten() {
        remove_tree(&hierarchy.path().join(parent.trim_start_matches('/')));
    }
}

/// Builds a static program that calls add_key(NULL, ...) and prints the
/// errno it gets: which of seccomp and the kernel refused it.
fn errno_of_add_key(out: &Path) {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("add_key.c");
    std::fs::write(
        &source,
        "#include <errno.h>\n#include <stdio.h>\n#include <unistd.h>\n#include <sys/syscall.h>\n\
         int main(void) { long r = syscall(SYS_add_key, 0, 0, 0, 0, 0); printf(\"%d\\n\", r == 0 ? 0 : errno); return 0; }\n",
    )
    .unwrap();
    let built = Command::new("cc")
        .args(["-static", "-O1", "-o"])
        .arg(out)
        .arg(&source)
        .output()
        .unwrap();
    assert!(built.status.success(), "{}", String::from_utf8_lossy(&built.stderr));
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
/// filter in force (a syscall it refuses fails inside), --init.
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
    // add_key(2), which podman's profile does not name, so its default
    // answers (ENOSYS); the kernel alone answers EFAULT (a null key type):
    // the profile is what answers inside.
    let (code, out, err) = podman.run(&[IMAGE, "/bin/errno-of-add-key"]);
    assert_eq!((code, out.as_str()), (0, "38\n"), "ENOSYS from the profile: {err}");
    let (code, out, err) = podman.run(&["--security-opt", "seccomp=unconfined", IMAGE, "/bin/errno-of-add-key"]);
    assert_eq!((code, out.as_str()), (0, "14\n"), "EFAULT from the kernel: {err}");
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

/// containerd 1.6, started by the test with a root, state and socket of its
/// own in a temp dir, and `ctr`, whose runc shim (`io.containerd.runc.v2`,
/// the shim Kubernetes' CRI uses) runs nsbox: `ctr` names the runtime's
/// binary with `--runc-binary` (the config's `BinaryName` is the CRI
/// plugin's alone) and its root with `--runc-root`, also in the temp dir.
/// The image is an OCI archive built from a busybox rootfs; containers go
/// to a cgroup parent of the test's.
struct Containerd {
    dir: tempfile::TempDir,
    daemon: std::process::Child,
    namespace: String,
    parent: String,
}

impl Containerd {
    fn new() -> Option<Containerd> {
        let rootfs = image_rootfs("containerd")?;
        let dir = tempfile::Builder::new()
            .prefix("nsbox-test-containerd")
            .tempdir()
            .unwrap();
        let d = dir.path().display();
        std::fs::write(
            dir.path().join("config.toml"),
            format!(
                "version = 2\nroot = \"{d}/root\"\nstate = \"{d}/state\"\n\
                 # Only what ctr needs: no CRI (it would write /etc/cni, /opt/cni), no /opt/containerd.\n\
                 disabled_plugins = [\"io.containerd.grpc.v1.cri\", \"io.containerd.internal.v1.opt\", \
                 \"io.containerd.snapshotter.v1.aufs\", \"io.containerd.snapshotter.v1.btrfs\", \
                 \"io.containerd.snapshotter.v1.devmapper\", \"io.containerd.snapshotter.v1.zfs\", \
                 \"io.containerd.tracing.processor.v1.otlp\"]\n\
                 [grpc]\n  address = \"{d}/containerd.sock\"\n"
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.path().join("containerd.log")).unwrap();
        let daemon = Command::new("containerd")
            .arg("--config")
            .arg(dir.path().join("config.toml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let containerd = Containerd {
            dir,
            daemon,
            namespace: format!("nsbox-test-{}", std::process::id()),
            parent: format!("/nsbox-test-containerd-{}", std::process::id()),
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !containerd.ctr(&["version"]).output().unwrap().status.success() {
            assert!(
                std::time::Instant::now() < deadline,
                "containerd did not start: {}",
                containerd.log()
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let archive = containerd.dir.path().join("image.tar");
        oci_image_archive(rootfs.path(), &archive, IMAGE);
        let (code, _, err) = containerd.output(&["image", "import", archive.to_str().unwrap()]);
        assert_eq!(code, 0, "{err}");
        Some(containerd)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("containerd.log")).unwrap_or_default()
    }

    fn ctr(&self, args: &[&str]) -> Command {
        let mut c = Command::new("ctr");
        c.arg("--address")
            .arg(self.dir.path().join("containerd.sock"))
            .args(["--namespace", &self.namespace])
            .args(args);
        c
    }

    /// `ctr run` of container `id` on nsbox, with the test's isolation,
    /// then `args` (options, and after them the image and command).
    fn run(&self, id: &str, options: &[&str], command: &[&str]) -> Command {
        let cgroup = format!("{}/{id}", self.parent);
        let mut c = self.ctr(&["run", "--runc-binary", env!("CARGO_BIN_EXE_nsbox"), "--runc-root"]);
        c.arg(self.dir.path().join("runc"))
            .args(["--cgroup", &cgroup])
            .args(options)
            .args([IMAGE, id])
            .args(command);
        c
    }

    fn output(&self, args: &[&str]) -> (i32, String, String) {
        output_of(self.ctr(args))
    }
}

fn output_of(mut command: Command) -> (i32, String, String) {
    let out = command.stdin(Stdio::null()).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

impl Drop for Containerd {
    fn drop(&mut self) {
        // What a failed test left: its tasks, then containerd; the shims
        // are ours by the address in their arguments (this test's dir).
        let (_, tasks, _) = self.output(&["task", "ls", "--quiet"]);
        for task in tasks.lines() {
            let _ = self.output(&["task", "kill", "--signal", "SIGKILL", task]);
            let _ = self.output(&["task", "delete", "--force", task]);
        }
        let (_, containers, _) = self.output(&["container", "ls", "--quiet"]);
        for container in containers.lines() {
            let _ = self.output(&["container", "delete", container]);
        }
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
        let ours = self.dir.path().to_string_lossy().into_owned();
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmdline).contains(&ours) {
                if let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() {
                    // SAFETY: kill(2) takes no pointers.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            }
        }
        for mount in host_mount_points().iter().rev().filter(|m| m.starts_with(&ours)) {
            let _ = Command::new("umount").args(["-l", mount]).status();
        }
        remove_cgroup_parent(&self.parent);
    }
}

/// Writes an OCI image archive (`ctr image import` reads it) of one
/// uncompressed layer: `rootfs`, named `name`.
fn oci_image_archive(rootfs: &Path, archive: &Path, name: &str) {
    let layout = tempfile::tempdir().unwrap();
    let blobs = layout.path().join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    // Stores a blob under its digest; returns the descriptor's digest and size.
    let store = |file: &Path| -> (String, u64) {
        let out = Command::new("sha256sum").arg(file).output().unwrap();
        let digest = String::from_utf8_lossy(&out.stdout)
            .split(' ')
            .next()
            .unwrap()
            .to_string();
        let size = std::fs::metadata(file).unwrap().len();
        std::fs::rename(file, blobs.join(&digest)).unwrap();
        (format!("sha256:{digest}"), size)
    };
    let layer = layout.path().join("layer.tar");
    let tar = Command::new("tar")
        .arg("-C")
        .arg(rootfs)
        .arg("-cf")
        .arg(&layer)
        .arg(".")
        .status();
    assert!(tar.unwrap().success());
    let (layer_digest, layer_size) = store(&layer);
    let write = |file: &str, value: serde_json::Value| -> (String, u64) {
        let path = layout.path().join(file);
        std::fs::write(&path, value.to_string()).unwrap();
        store(&path)
    };
    let (config_digest, config_size) = write(
        "config.json",
        serde_json::json!({
            "architecture": "amd64", "os": "linux",
            "config": {"Env": ["PATH=/bin"], "Cmd": ["sh"]},
            "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
        }),
    );
    let (manifest_digest, manifest_size) = write(
        "manifest.json",
        serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_size},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest, "size": layer_size}],
        }),
    );
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest, "size": manifest_size,
            "annotations": {"io.containerd.image.name": name},
            "platform": {"architecture": "amd64", "os": "linux"},
        }],
    });
    std::fs::write(layout.path().join("index.json"), index.to_string()).unwrap();
    std::fs::write(layout.path().join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let tar = Command::new("tar")
        .arg("-C")
        .arg(layout.path())
        .arg("-cf")
        .arg(archive)
        .args(["index.json", "oci-layout", "blobs"])
        .status();
    assert!(tar.unwrap().success());
}

/// ctr's everyday flows through the runc shim on nsbox: output, exit codes,
/// a missing command (nsbox's words reach ctr's user, from the log the
/// shim reads), run -d + task exec + ps + pause + resume + metrics + kill
/// + delete, a memory limit seen in the metrics; nothing left afterwards.
#[test]
fn containerd_runs_its_containers_on_nsbox() {
    require_root!();
    let Some(ctr) = Containerd::new() else { return };
    let (code, out, err) = output_of(ctr.run("hello", &["--rm"], &["echo", "hi"]));
    assert_eq!((code, out.as_str()), (0, "hi\n"), "{err}");
    let (code, _, err) = output_of(ctr.run("exits", &["--rm"], &["sh", "-c", "exit 42"]));
    assert_eq!(code, 42, "{err}");
    let (code, _, err) = output_of(ctr.run("missing", &["--rm"], &["/nonexistent"]));
    assert_ne!(code, 0);
    assert!(err.contains("process.args[0]") && err.contains("/nonexistent"), "{err}");
    let _ = ctr.output(&["container", "delete", "missing"]);

    let (code, _, err) = output_of(ctr.run(
        "sleeper",
        &["--detach", "--memory-limit", "67108864"],
        &["sh", "-c", "echo started; sleep 1000"],
    ));
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = ctr.output(&[
        "task",
        "exec",
        "--exec-id",
        "e1",
        "sleeper",
        "sh",
        "-c",
        "echo exec-ok; exit 3",
    ]);
    assert_eq!((code, out.as_str()), (3, "exec-ok\n"), "{err}");
    let (code, out, err) = ctr.output(&["task", "ps", "sleeper"]);
    assert_eq!(code, 0, "{err}");
    let (_, tasks, _) = ctr.output(&["task", "ls"]);
    let pid = tasks
        .lines()
        .find(|l| l.starts_with("sleeper"))
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string();
    assert!(
        out.lines().any(|l| l.split_whitespace().next() == Some(pid.as_str())),
        "{out}"
    );
    // nsbox is the runtime: the container is in its state, in the runc root.
    let root = ctr.dir.path().join("runc").join(&ctr.namespace);
    let state = Command::new(env!("CARGO_BIN_EXE_nsbox"))
        .arg("--root")
        .arg(&root)
        .args(["state", "sleeper"])
        .output()
        .unwrap();
    let state: serde_json::Value = serde_json::from_slice(&state.stdout).unwrap();
    assert_eq!(
        (state["status"].as_str(), state["pid"].to_string()),
        (Some("running"), pid.clone())
    );
    let (code, _, err) = ctr.output(&["task", "pause", "sleeper"]);
    assert_eq!(code, 0, "{err}");
    let (_, tasks, _) = ctr.output(&["task", "ls"]);
    assert!(
        tasks.lines().any(|l| l.starts_with("sleeper") && l.ends_with("PAUSED")),
        "{tasks}"
    );
    let (code, _, err) = ctr.output(&["task", "resume", "sleeper"]);
    assert_eq!(code, 0, "{err}");
    let (code, metrics, err) = ctr.output(&["task", "metrics", "sleeper"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        metrics
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["memory.limit_in_bytes", "67108864"]),
        "{metrics}"
    );
    let (code, _, err) = ctr.output(&["task", "kill", "--signal", "SIGKILL", "sleeper"]);
    assert_eq!(code, 0, "{err}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (_, tasks, _) = ctr.output(&["task", "ls"]);
        if tasks
            .lines()
            .any(|l| l.starts_with("sleeper") && l.ends_with("STOPPED"))
        {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{tasks}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let (code, _, err) = ctr.output(&["task", "delete", "sleeper"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = ctr.output(&["container", "delete", "sleeper"]);
    assert_eq!(code, 0, "{err}");

    // Nothing left: no state in the runc root, no cgroup under the parent.
    let states: Vec<_> = std::fs::read_dir(&root)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(states.is_empty(), "{states:?}");
    for hierarchy in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        let parent = hierarchy.path().join(ctr.parent.trim_start_matches('/'));
        assert!(!parent.exists(), "{} left behind", parent.display());
    }
}

/// `ctr run -t`: the shim asks nsbox for a terminal over its console socket;
/// the container sees a tty, and the exit status comes back.
#[test]
fn containerd_run_t_gets_a_terminal() {
    require_root!();
    let Some(ctr) = Containerd::new() else { return };
    let (master, slave) = test_pty(24, 80);
    let mut run = ctr
        .run("tty", &["--rm", "--tty"], &["sh", "-c", "tty; exit 5"])
        .stdin(slave.try_clone().unwrap())
        .stdout(slave.try_clone().unwrap())
        .stderr(slave)
        .spawn()
        .unwrap();
    let seen = read_until(&master, "/dev/pts/0");
    assert!(seen.contains("/dev/pts/0"), "{seen:?}");
    assert_eq!(run.wait().unwrap().code(), Some(5));
}
