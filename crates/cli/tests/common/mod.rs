//! Helpers shared by nsbox's end-to-end tests. Every test that needs root
//! says "SKIPPED" and why when it cannot run; the kernel's own files under
//! /proc and /sys are the oracle, not nsbox's output alone.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub fn nsbox() -> Command {
    Command::new(env!("CARGO_BIN_EXE_nsbox"))
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Returns from the test with a visible skip notice when not root.
#[macro_export]
macro_rules! require_root {
    () => {
        if !common::is_root() {
            eprintln!("SKIPPED: this test needs root");
            return;
        }
    };
}

/// Returns from the test with a visible skip notice when the kernel lacks
/// time namespaces.
#[macro_export]
macro_rules! require_time_namespaces {
    () => {
        if !std::path::Path::new("/proc/self/ns/time").exists() {
            eprintln!("SKIPPED: this kernel has no time namespaces");
            return;
        }
    };
}

/// Runs nsbox to completion and returns (exit code, stdout, stderr).
pub fn run(args: &[&str]) -> (i32, String, String) {
    let out = nsbox().args(args).stdin(Stdio::null()).output().expect("nsbox runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A running nsbox whose command talks to the test line by line. Killed
/// (and with it, through the parent-death signal, the container) on drop.
///
/// The test process is made a child subreaper, so that what a killed nsbox
/// leaves as orphans comes to the test, which reaps it: a test never leaves
/// zombies for the host's PID 1 to collect.
pub struct Running {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl Running {
    pub fn start(args: &[&str]) -> Running {
        // SAFETY: prctl with integer arguments touches no memory of ours.
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
        let mut child = nsbox()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("nsbox starts");
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Running { child, stdin, stdout }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// The next line the command printed (panics at end of output).
    pub fn line(&mut self) -> String {
        let mut line = String::new();
        let n = self.stdout.read_line(&mut line).expect("read from nsbox");
        assert!(n > 0, "nsbox's output ended early");
        line.trim_end().to_string()
    }

    pub fn send(&mut self, text: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(text.as_bytes()).unwrap();
        stdin.flush().unwrap();
    }

    /// Closes stdin and waits for nsbox to exit; returns the rest of its output.
    pub fn finish(mut self) -> (ExitStatus, String) {
        self.stdin.take();
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut self.stdout, &mut rest).unwrap();
        (self.child.wait().unwrap(), rest)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        let family = descendants(self.pid());
        let _ = self.child.kill();
        let _ = self.child.wait();
        for pid in family {
            reap_orphan(pid);
        }
    }
}

/// Every process below `pid`, children first.
pub fn descendants(pid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    for child in children_of(pid) {
        out.push(child);
        out.extend(descendants(child));
    }
    out
}

/// Waits (up to 5 s) for `pid`, once it has been reparented to this
/// subreaper; returns at once if it is someone else's child.
fn reap_orphan(pid: i32) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        let mut status = 0;
        // SAFETY: waitpid writes only to `status`, a valid local.
        let rc = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if rc == pid {
            return;
        }
        if rc < 0 && status_field(pid, "PPid").and_then(|p| p.parse().ok()) != Some(std::process::id() as i32) {
            // Not (yet) ours: gone already, or still with its own parent,
            // which is being killed and will hand it over shortly.
            if !pid_exists(pid) {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Every process on the host whose parent is `pid`.
pub fn children_of(pid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(p) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if status_field(p, "PPid").and_then(|v| v.parse().ok()) == Some(pid) {
            out.push(p);
        }
    }
    out
}

/// A field of /proc/PID/status, e.g. "Uid" or "NSpid".
pub fn status_field(pid: i32, field: &str) -> Option<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .map(|v| v.trim().to_string())
}

/// The host PID of the command that nsbox `parent` runs: nsbox's child is
/// the init (or the command itself when there is no init).
pub fn command_pid(parent: i32, with_init: bool) -> i32 {
    let first = wait_for(|| children_of(parent).first().copied());
    if with_init {
        wait_for(|| children_of(first).first().copied())
    } else {
        first
    }
}

pub fn wait_for<T>(mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting");
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub fn pid_exists(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// The nsfs inode of a namespace of `pid` ("net", "pid", ...).
pub fn ns_inode(pid: i32, kind: &str) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(format!("/proc/{pid}/ns/{kind}")).unwrap().ino()
}

/// cgroup directories of nsbox's that exist now.
pub fn nsbox_cgroups() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(top) = std::fs::read_dir("/sys/fs/cgroup") else {
        return out;
    };
    for hierarchy in top.flatten() {
        let path = hierarchy.path();
        if path.file_name().unwrap().to_string_lossy().starts_with("nsbox-") {
            out.push(path.clone());
        }
        if let Ok(inner) = std::fs::read_dir(&path) {
            out.extend(
                inner
                    .flatten()
                    .map(|e| e.path())
                    .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("nsbox-")),
            );
        }
    }
    out
}

/// The cgroups this test's nsbox process (`pid`) would make.
pub fn cgroups_of(pid: i32) -> Vec<PathBuf> {
    // nsbox-PID-RANDOM: the PID, then a token that makes the name unique.
    let prefix = format!("nsbox-{pid}-");
    nsbox_cgroups()
        .into_iter()
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(&prefix))
        .collect()
}

/// A busybox root filesystem in a temp dir, or None (with a skip notice)
/// when busybox-static is not installed.
pub fn busybox_rootfs() -> Option<tempfile::TempDir> {
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .find(|p| Path::new(p).exists());
    let Some(busybox) = busybox else {
        eprintln!("SKIPPED: busybox-static is not installed (scripts/test.sh installs it)");
        return None;
    };
    let dir = tempfile::Builder::new().prefix("nsbox-test-rootfs").tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy(busybox, bin.join("busybox")).unwrap();
    for applet in [
        "sh", "ls", "cat", "echo", "find", "mount", "grep", "hostname", "sleep", "wc", "id", "stat",
    ] {
        std::os::unix::fs::symlink("busybox", bin.join(applet)).unwrap();
    }
    for d in ["proc", "dev", "tmp", "etc", "sys"] {
        std::fs::create_dir_all(dir.path().join(d)).unwrap();
    }
    Some(dir)
}

/// The host's mount table as mount points.
pub fn host_mount_points() -> Vec<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(String::from))
        .collect()
}

/// Runs a shell script (`sh -eu`) in a private mount namespace with its own
/// tmpfs on /run, so that the named network namespaces it makes are private
/// too: they vanish with the script, whatever happens to the test. `$NSBOX`
/// is the binary under test. Returns the status, stdout and stderr.
pub fn in_private_run(script: &str) -> (i32, String, String) {
    // The guard: however the script ends (a failed step stops it half-way),
    // every namespace it pinned goes, with the processes in it. Otherwise a
    // lab's services would outlive the test's private /run.
    let setup = "mount -t tmpfs nsbox-test-run /run && mkdir /run/netns\n\
        cleanup() { for n in $(ls /run/netns 2>/dev/null); do \
        for p in $(ip netns pids \"$n\" 2>/dev/null); do kill -9 $p 2>/dev/null; done; \
        g=/sys/fs/cgroup/unified/nsbox-netns-$(stat -L -c %i \"/run/netns/$n\"); \
        [ -d $g ] && echo 1 > $g/cgroup.kill && sleep 0.1 && rmdir $g; \
        ip netns delete \"$n\" 2>/dev/null; done; true; }\n\
        trap cleanup EXIT\n";
    let out = std::process::Command::new("unshare")
        .args(["--mount", "--propagation", "private", "--", "sh", "-eu", "-c"])
        .arg(format!("{setup}{script}"))
        .env("NSBOX", env!("CARGO_BIN_EXE_nsbox"))
        .output()
        .expect("unshare runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Whether one of `tools` is missing (then says "SKIPPED" and why): a test
/// that needs it cannot run here, and must not pass silently.
pub fn missing_tool(tools: &[&str]) -> bool {
    for tool in tools {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool} || test -x /usr/sbin/{tool}")])
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            eprintln!("SKIPPED: {tool} is not installed (scripts/install-deps.sh installs it)");
            return true;
        }
    }
    false
}

/// The value after `KEY ` on its line of a script's output.
pub fn field<'a>(out: &'a str, key: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix(' ')))
        .map(str::trim_end)
        .unwrap_or_else(|| panic!("no {key} in:\n{out}"))
}

/// The test's own pty: (master, slave), the slave of `rows` x `columns`.
pub fn test_pty(rows: u16, columns: u16) -> (std::os::fd::OwnedFd, std::fs::File) {
    use rustix::pty::{openpt, ptsname, unlockpt, OpenptFlags};
    use std::os::unix::ffi::OsStrExt;
    let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC).unwrap();
    unlockpt(&master).unwrap();
    let name = ptsname(&master, Vec::new()).unwrap();
    let size = rustix::termios::Winsize {
        ws_row: rows,
        ws_col: columns,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    rustix::termios::tcsetwinsize(&master, size).unwrap();
    let slave = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(std::ffi::OsStr::from_bytes(name.to_bytes()))
        .unwrap();
    (master, slave)
}

/// Reads `master` until `needle` appears or ten seconds pass.
pub fn read_until(master: &std::os::fd::OwnedFd, needle: &str) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut out = Vec::new();
    let mut chunk = [0u8; 1024];
    while !String::from_utf8_lossy(&out).contains(needle) && std::time::Instant::now() < deadline {
        let mut fds = [rustix::event::PollFd::new(master, rustix::event::PollFlags::IN)];
        let wait = rustix::event::Timespec {
            tv_sec: 0,
            tv_nsec: 100_000_000,
        };
        if !matches!(rustix::event::poll(&mut fds, Some(&wait)), Ok(n) if n > 0) {
            continue;
        }
        match rustix::io::read(master, &mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&chunk[..n]),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
