//! A container described in a few words rather than a hand-written
//! config.json: `sh -c COMMAND` under nsbox's init, in new pid, ipc, mount
//! and uts namespaces and an existing network namespace joined by path, on
//! a rootfs or a read-only view of the host's. This is what a lab's
//! container node is: its bundle is this config.json, run by the same
//! engine as any OCI bundle (nsbox's extensions as annotations, see
//! `oci::Extensions`).

use serde_json::{json, Value};
use std::path::{Path, PathBuf};

pub struct ShellContainer<'a> {
    pub hostname: &'a str,
    /// None: the host view.
    pub rootfs: Option<&'a Path>,
    /// The network namespace to join (a pinned path such as /run/netns/NAME).
    pub netns: &'a Path,
    pub command: &'a str,
    /// Where nsbox's init writes the command's exit status when it ends.
    pub exit_file: PathBuf,
    /// OCI mounts after the standard ones (a router node's directories).
    pub mounts: Vec<Value>,
}

/// The config.json of `c`: a fresh /proc and a minimal /dev (the devices, a
/// private devpts, /dev/shm, /dev/mqueue), the caller's environment, root
/// with root's capabilities, as `nsbox unshare` gives its command.
pub fn shell_container(c: &ShellContainer) -> Value {
    // The caller's environment, but for what nsbox sets for itself.
    let env: Vec<String> = std::env::vars()
        .filter(|(k, _)| k != "NSBOX_BIN")
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let mut annotations = json!({
        "io.github.nsbox.init": "true",
        "io.github.nsbox.exit-file": c.exit_file,
    });
    if c.rootfs.is_none() {
        annotations["io.github.nsbox.host-view"] = json!("true");
    }
    let mut mounts = vec![
        json!({"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "nodev", "noexec"]}),
        json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "noexec", "mode=755"]}),
        json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts",
            "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]}),
        json!({"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "nodev", "noexec", "mode=1777"]}),
        json!({"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "nodev", "noexec"]}),
    ];
    mounts.extend(c.mounts.iter().cloned());
    json!({
        "ociVersion": "1.3.0",
        "root": {"path": c.rootfs.unwrap_or(Path::new("/nonexistent-host-view")), "readonly": false},
        "hostname": c.hostname,
        "process": {
            "user": {"uid": 0, "gid": 0},
            "args": ["sh", "-c", c.command],
            "env": env,
            "cwd": "/",
        },
        "mounts": mounts,
        "linux": {
            "namespaces": [
                {"type": "pid"}, {"type": "ipc"}, {"type": "mount"}, {"type": "uts"},
                {"type": "network", "path": c.netns},
            ],
        },
        "annotations": annotations,
    })
}
