//! Exit status and signal forwarding: nsbox behaves like the command it runs.

mod common;
use common::*;

#[test]
fn exit_status_is_the_commands() {
    require_root!();
    for ns in ["pid,mnt,uts,ipc,net,cgroup", "uts"] {
        assert_eq!(
            run(&["unshare", "--ns", ns, "--", "sh", "-c", "exit 7"]).0,
            7,
            "with --ns {ns}"
        );
        assert_eq!(run(&["unshare", "--ns", ns, "--", "true"]).0, 0, "with --ns {ns}");
        // Death by signal N is reported as 128+N, as a shell does.
        let (code, _, _) = run(&["unshare", "--ns", ns, "--", "sh", "-c", "kill -KILL $$"]);
        assert_eq!(code, 128 + 9, "with --ns {ns}");
    }
}

/// Every forwarded signal sent to nsbox reaches the command, with and
/// without an init in between.
#[test]
fn signals_sent_to_nsbox_reach_the_command() {
    require_root!();
    // TERM comes last and ends the command, so that the test ends cleanly.
    let names = ["INT", "HUP", "QUIT", "USR1", "USR2", "WINCH", "TERM"];
    let traps: String = names.iter().map(|n| format!("trap 'echo got {n}' {n}; ")).collect();
    let traps = traps.replace("'echo got TERM'", "'echo got TERM; exit 0'");
    let script = format!("{traps} echo ready; while :; do sleep 0.05; done");
    for ns in ["pid,mnt,uts,ipc,net", "uts"] {
        let mut c = Running::start(&["unshare", "--ns", ns, "--", "sh", "-c", &script]);
        assert_eq!(c.line(), "ready");
        for name in names {
            let sig = match name {
                "INT" => libc::SIGINT,
                "TERM" => libc::SIGTERM,
                "HUP" => libc::SIGHUP,
                "QUIT" => libc::SIGQUIT,
                "USR1" => libc::SIGUSR1,
                "USR2" => libc::SIGUSR2,
                _ => libc::SIGWINCH,
            };
            // SAFETY: kill takes plain integers; the pid is our own child.
            assert_eq!(unsafe { libc::kill(c.pid(), sig) }, 0);
            assert_eq!(c.line(), format!("got {name}"), "with --ns {ns}");
        }
        assert!(c.finish().0.success());
    }
}

/// SIGTERM to nsbox ends a command that does not handle it, and nsbox
/// reports the signal as the command's (128+15).
#[test]
fn sigterm_ends_the_container() {
    require_root!();
    let mut c = Running::start(&["unshare", "--", "sh", "-c", "echo ready; exec sleep 1000"]);
    assert_eq!(c.line(), "ready");
    let command = command_pid(c.pid(), true);
    wait_for(|| (std::fs::read_to_string(format!("/proc/{command}/comm")).ok()?.trim() == "sleep").then_some(()));
    // SAFETY: kill takes plain integers; the pid is our own child.
    unsafe { libc::kill(c.pid(), libc::SIGTERM) };
    let (status, _) = c.finish();
    assert_eq!(status.code(), Some(128 + 15));
}

/// When nsbox is killed outright, the container does not outlive it.
#[test]
fn killing_nsbox_kills_the_container() {
    require_root!();
    let mut c = Running::start(&["unshare", "--", "sh", "-c", "echo ready; exec sleep 1000"]);
    assert_eq!(c.line(), "ready");
    let init = command_pid(c.pid(), false);
    let command = command_pid(c.pid(), true);
    // Dropping SIGKILLs nsbox; the init and the command must die with it
    // (the test, a subreaper, reaps what the kernel hands over).
    drop(c);
    wait_for(|| (!pid_exists(init) && !pid_exists(command)).then_some(()));
}

/// A command that moves into a process group of its own (as an interactive
/// shell does) is still waited for, and its status is nsbox's.
#[test]
fn command_in_its_own_process_group_is_reaped() {
    require_root!();
    let script = "import os; os.setpgid(0, 0); os._exit(3)";
    let (code, _, err) = run(&["unshare", "--", "python3", "-c", script]);
    assert_eq!(code, 3, "{err}");
    assert!(err.is_empty(), "{err}");
}

/// `nsbox unshare` is parsed apart from the other subcommands (for speed):
/// its help is the same as through `nsbox help unshare`, and nothing of
/// nsbox's own leaks into the command's environment.
#[test]
fn unshare_parses_as_the_full_command_line_does() {
    let help = |args: &[&str]| {
        let out = nsbox().args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let direct = help(&["unshare", "--help"]);
    assert!(direct.contains("Usage: nsbox unshare [OPTIONS] [CMD]..."), "{direct}");
    assert_eq!(direct, help(&["help", "unshare"]));
    require_root!();
    let (code, out, err) = run(&["unshare", "--ns", "uts", "--", "env"]);
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("NSBOX_BIN="), "{out}");
}

/// nsbox started with stdout closed opens /dev/null there before anything
/// else, so that none of its own files (the pipe to its child) takes fd 1,
/// and the command finds an open stdout, as it would under Rust's own start.
#[test]
fn closed_stdout_is_dev_null_for_the_command() {
    require_root!();
    let out = std::process::Command::new("sh")
        .args([
            "-c",
            r#"exec "$0" unshare --ns uts -- sh -c 'echo $(readlink /proc/$$/fd/1) >&2' >&-"#,
        ])
        .arg(env!("CARGO_BIN_EXE_nsbox"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert_eq!(err, "/dev/null\n");
}

/// Like other command-line tools, nsbox dies quietly of a broken pipe (as
/// in `nsbox ns --all | head -1`), even when its caller ignores SIGPIPE:
/// no panic about failed printing, no message.
#[test]
fn broken_pipe_ends_nsbox_quietly() {
    use std::os::unix::process::ExitStatusExt;
    let (reader, writer) = std::io::pipe().unwrap();
    // Nobody will ever read: every write nsbox makes finds the pipe broken.
    drop(reader);
    let out = std::process::Command::new("sh")
        .args(["-c", r#"trap '' PIPE; exec "$0" --version"#])
        .arg(env!("CARGO_BIN_EXE_nsbox"))
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(out.status.signal(), Some(libc::SIGPIPE), "{:?}", out.status);
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}

/// `--version` names the commit nsbox was built from, in runc's format
/// (a version line, then the runtime-spec release).
#[test]
fn version_names_the_commit() {
    let out = nsbox().arg("--version").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(text.starts_with("nsbox version 0."), "{text}");
    assert!(text.contains("commit"), "{text}");
    assert!(text.lines().nth(1).is_some_and(|l| l.starts_with("spec: 1.")), "{text}");
}

/// Completions and the man page come from the binary itself.
#[test]
fn completions_and_the_man_page_are_generated() {
    for shell in ["bash", "zsh", "fish"] {
        let out = nsbox().args(["completions", shell]).output().unwrap();
        assert!(out.status.success(), "{shell}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("unshare") && text.contains("netns"), "{shell}: {text}");
    }
    let bash = nsbox().args(["completions", "bash"]).output().unwrap().stdout;
    let checked = std::process::Command::new("bash")
        .args(["-n", "/dev/stdin"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(&bash)?;
            child.wait()
        })
        .unwrap();
    assert!(checked.success(), "bash reads the script");
    let man = nsbox().arg("man").output().unwrap();
    let page = String::from_utf8_lossy(&man.stdout);
    assert!(
        page.contains(".TH nsbox 1") && page.contains(".TH nsbox-lab 1"),
        "{page}"
    );
}
