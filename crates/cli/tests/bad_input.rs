//! Bad input: one clear line, a non-zero status, and nothing left behind.

mod common;
use common::*;

/// Runs nsbox expecting failure; checks that no mount or cgroup appeared.
fn fails(args: &[&str]) -> (i32, String) {
    let mounts_before = host_mount_points();
    let (code, out, err) = run(args);
    assert_ne!(code, 0, "{args:?} succeeded: {out}");
    // One line of error; a usage error is followed by clap's hint and
    // usage line only.
    let mut lines = err.lines();
    let first = lines.next().unwrap_or_default();
    assert!(first.starts_with("nsbox: "), "{err}");
    for line in lines {
        assert!(
            line.starts_with("Usage: ") || line.starts_with("For more information") || line.starts_with("  tip: "),
            "one line of error, then clap's usage, not: {err}"
        );
    }
    let err = first.to_string() + "\n";
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(host_mount_points(), mounts_before, "{args:?} changed the host's mounts");
    (code, err)
}

#[test]
fn unknown_namespace_kind() {
    let (_, err) = fails(&["unshare", "--ns", "pid,bogus", "--", "true"]);
    assert!(err.contains("unknown namespace kind \"bogus\""), "{err}");
}

#[test]
fn rootfs_missing_or_not_a_directory() {
    require_root!();
    let (code, err) = fails(&["unshare", "--rootfs", "/nonexistent/nsbox-rootfs", "--", "true"]);
    assert!(
        err.contains("rootfs /nonexistent/nsbox-rootfs: No such file or directory"),
        "{err}"
    );
    assert_eq!(code, 125);
    let file = tempfile::NamedTempFile::new().unwrap();
    let (_, err) = fails(&["unshare", "--rootfs", file.path().to_str().unwrap(), "--", "true"]);
    assert!(err.contains("Not a directory"), "{err}");
}

#[test]
fn command_not_found_is_127() {
    require_root!();
    for ns in ["pid,mnt", "uts"] {
        let (code, err) = fails(&["unshare", "--ns", ns, "--", "nsbox-no-such-command", "arg"]);
        assert_eq!(code, 127);
        assert_eq!(err.trim(), "nsbox: nsbox-no-such-command: No such file or directory");
    }
    let (code, err) = fails(&["unshare", "--", "/etc/hostname"]);
    assert_eq!(code, 126, "a file that is not executable: {err}");
}

#[test]
fn malformed_maps_and_binds() {
    let (_, err) = fails(&["unshare", "--uid-map", "0:1000", "--", "true"]);
    assert!(err.contains("malformed id map \"0:1000\""), "{err}");
    let (_, err) = fails(&["unshare", "--bind", "/tmp", "--", "true"]);
    assert!(err.contains("malformed bind \"/tmp\""), "{err}");
    let (_, err) = fails(&["unshare", "--bind", "/tmp:relative", "--", "true"]);
    assert!(err.contains("malformed bind"), "{err}");
    let (_, err) = fails(&["unshare", "--memory", "12X", "--", "true"]);
    assert!(err.contains("malformed size \"12X\""), "{err}");
    let (_, err) = fails(&["unshare", "--cpus", "-1", "--", "true"]);
    assert!(err.contains("malformed cpus \"-1\""), "{err}");
    let long = "h".repeat(65);
    let (_, err) = fails(&["unshare", "--hostname", &long, "--", "true"]);
    assert!(err.contains("must be 1 to 64 bytes"), "{err}");
}

#[test]
fn bind_source_missing() {
    require_root!();
    let (_, err) = fails(&["unshare", "--bind", "/nonexistent/nsbox-src:/x", "--", "true"]);
    assert!(
        err.contains("bind source /nonexistent/nsbox-src: No such file or directory"),
        "{err}"
    );
}

/// A limit the kernel rejects is reported with the file and value, and the
/// cgroup made for it is removed again.
#[test]
fn limits_the_kernel_cannot_apply_are_refused_before_anything_is_made() {
    require_root!();
    let before = nsbox_cgroups();
    for (flag, value, words) in [
        ("--cpus", "0.001", "from 0.01 to 100000"),
        ("--cpus", "1e9", "from 0.01 to 100000"),
        ("--memory", "0", "below 6M"),
        ("--memory", "1", "below 6M"),
        ("--pids", "0", "1 or more"),
        ("--ns", "", "unknown namespace kind \"\""),
        ("--time-offset", "monotonic=1,monotonic=2", "a clock is given twice"),
    ] {
        let (code, err) = fails(&["unshare", flag, value, "--", "true"]);
        assert_eq!(code, 2, "{flag} {value}: a usage error");
        assert!(err.contains(words), "{flag} {value}: {err}");
    }
    assert_eq!(nsbox_cgroups(), before, "a cgroup was made");
}

#[test]
fn unshare_without_a_command_runs_a_shell() {
    require_root!();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_nsbox"))
        .arg("unshare")
        .env("SHELL", "/bin/sh")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(b"echo shell $$\n")?;
            child.wait_with_output()
        })
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "shell 2\n",
        "the shell is the command under nsbox's init"
    );
}

#[test]
fn options_without_their_namespace() {
    let (_, err) = fails(&["unshare", "--ns", "net", "--hostname", "x", "--", "true"]);
    assert!(err.contains("--hostname needs a new uts namespace"), "{err}");
}

#[test]
fn pid_that_does_not_exist() {
    let (_, err) = fails(&["enter", "2147483647", "--", "true"]);
    assert!(err.contains("no process with PID 2147483647"), "{err}");
    let (_, err) = fails(&["ns", "2147483647"]);
    assert!(err.contains("no process with PID 2147483647"), "{err}");
}

#[test]
fn setup_failure_inside_is_reported() {
    require_root!();
    let (code, err) = fails(&["unshare", "--workdir", "/nonexistent-dir", "--", "true"]);
    assert_eq!(code, 125);
    assert!(
        err.contains("workdir /nonexistent-dir: No such file or directory"),
        "{err}"
    );
}

/// A mount the host view cannot take (a mount point under its read-only
/// /usr) is named by what it is and where, as the flag said it.
#[test]
fn a_mount_that_fails_is_named_by_its_flag() {
    require_root!();
    let (code, err) = fails(&["unshare", "--bind", "/etc/hostname:/usr/nsbox-x", "--", "true"]);
    assert_eq!(code, 125);
    assert!(
        err.contains("bind at /usr/nsbox-x: creating the mount point: Read-only file system"),
        "{err}"
    );
    let (_, err) = fails(&["unshare", "--tmpfs", "/usr/lib/nsbox-x", "--", "true"]);
    assert!(
        err.contains("tmpfs at /usr/lib/nsbox-x: creating the mount point"),
        "{err}"
    );
}

#[test]
fn ping_bad_input_exits_2_like_iputils() {
    let (code, err) = fails(&["ping", "10.0.0.256"]);
    assert_eq!(code, 2);
    assert!(err.contains("10.0.0.256"), "{err}");
    let (code, err) = fails(&["ping", "-n", "nsbox-no-such-netns", "10.0.0.1"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("network namespace \"nsbox-no-such-netns\" does not exist"),
        "{err}"
    );
}

#[test]
fn timings_that_cannot_be_waited_for_are_refused_as_iputils_does() {
    for (flag, value, words) in [
        ("-i", "inf", "bad timing interval"),
        ("-i", "1e20", "bad timing interval"),
        ("-i", "1e309", "bad timing interval"),
        ("-i", "nan", "bad timing interval"),
        ("-W", "inf", "bad linger time"),
        ("-W", "1e20", "bad linger time"),
        ("-W", "nan", "bad linger time"),
        ("-c", "0", "-c <COUNT>"),
        ("-t", "0", "-t <TTL>"),
    ] {
        let (code, err) = fails(&["ping", flag, value, "127.0.0.1"]);
        assert_eq!(code, 2, "{flag} {value}: a usage error, as iputils: {err}");
        assert!(err.contains(words), "{flag} {value}: {err}");
    }
    let (code, err) = fails(&[
        "netns",
        "delete",
        "--wait",
        "--wait-timeout",
        "18446744073709551615",
        "x",
    ]);
    assert_eq!(code, 2, "a usage error");
    assert!(err.contains("bad timeout"), "{err}");
}

#[test]
fn minus_one_is_refused_as_a_user_or_group() {
    for user in ["4294967295", "1000:4294967295"] {
        let (_, err) = fails(&["unshare", "--user", user, "--", "id"]);
        assert!(err.contains("(uid_t)-1"), "{user}: {err}");
    }
}

#[test]
fn ping_resolves_names_and_says_when_a_broadcast_needs_b() {
    require_root!();
    let (code, out, err) = run(&["ping", "-c", "1", "-W", "1", "localhost"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("from 127.0.0.1") || out.contains("from ::1"), "{out}");
    assert!(
        out.starts_with("PING localhost ("),
        "the name as typed, as iputils: {out}"
    );
    let (code, err) = fails(&["ping", "-c", "1", "name.that.does.not.resolve.invalid"]);
    assert_eq!(code, 2);
    assert!(err.contains("Name or service not known"), "{err}");
    let script = format!(
        "ip link set lo up; ip addr add 10.5.0.1/24 dev lo; {} ping -c 1 -W 1 10.5.0.255; echo \"CODE $?\"",
        env!("CARGO_BIN_EXE_nsbox")
    );
    let out = std::process::Command::new("unshare")
        .args(["--net", "sh", "-c", &script])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(String::from_utf8_lossy(&out.stdout).contains("CODE 2"));
    assert_eq!(
        said.trim(),
        "nsbox: ping: Do you want to ping broadcast? Then -b. If not, check your local firewall rules"
    );
}

#[test]
fn enter_says_permission_denied_when_it_is_so() {
    require_root!();
    let out = std::process::Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            env!("CARGO_BIN_EXE_nsbox"),
            "enter",
            "1",
            "--",
            "true",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(125), "{err}");
    assert!(
        err.contains("Permission denied") && !err.contains("no process"),
        "{err}"
    );
}

#[test]
fn nat_and_filter_add_show_their_required_arguments() {
    let help = |args: &[&str]| {
        let out = nsbox().args(args).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(help(&["nat", "-n", "x", "add", "--help"]).contains("add [OPTIONS] <ACTION>"));
    assert!(help(&["filter", "-n", "x", "add", "--help"]).contains("add [OPTIONS] <CHAIN> <VERDICT>"));
    let (code, err) = fails(&["nat", "-n", "x", "add", "-s", "10.0.0.0/8"]);
    assert_eq!(code, 2);
    assert!(err.contains("required arguments were not provided: <ACTION>"), "{err}");
}

/// A name far longer than any real one is echoed cut, with its length,
/// whatever command it was given to.
#[test]
fn an_echoed_over_long_name_is_cut() {
    let name = "y".repeat(5000);
    for args in [
        vec!["netns", "delete", name.as_str()],
        vec!["lab", "down", name.as_str()],
        vec!["enter", name.as_str()],
        vec!["lab", "exec", name.as_str(), "--", "true"],
    ] {
        let (_, err) = fails(&args);
        assert!(err.len() < 500, "{args:?}: {} bytes: {err}", err.len());
        assert!(err.contains("...(5002 characters)..."), "{err}");
    }
}
