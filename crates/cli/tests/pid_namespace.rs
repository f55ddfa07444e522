//! The seed's claims about pid namespaces, checked against /proc.

mod common;
use common::*;

/// The first process in a new pid namespace is PID 1: nsbox's init, not the command.
#[test]
fn init_is_pid_1_and_the_command_is_not() {
    require_root!();
    let (code, out, err) = run(&["unshare", "--", "sh", "-c", "echo $$; cat /proc/1/comm"]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_ne!(lines[0], "1", "the command must not be PID 1");
    assert_eq!(lines[1], "nsbox-init");
}

/// A process has a PID in its own namespace and in every ancestor: NSpid on
/// the host shows both, the inner one small. When the command exits, what
/// it left running in the background is killed with the namespace.
#[test]
fn nspid_inside_and_outside_and_background_dies_with_init() {
    require_root!();
    let mut c = Running::start(&["unshare", "--", "sh", "-c", "sleep 1000 & echo $!; read x; exit 0"]);
    let inner: i32 = c.line().parse().unwrap();
    let command = command_pid(c.pid(), true);
    let sleeper = wait_for(|| children_of(command).first().copied());
    let nspid: Vec<i32> = status_field(sleeper, "NSpid")
        .unwrap()
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    assert_eq!(
        nspid,
        vec![sleeper, inner],
        "NSpid lists the host PID, then the inner one"
    );
    assert!(
        inner < 10 && inner != sleeper,
        "inner PID {inner} is small and differs from {sleeper}"
    );
    assert_ne!(ns_inode(sleeper, "pid"), ns_inode(std::process::id() as i32, "pid"));
    let (status, _) = c.finish();
    assert!(status.success());
    assert!(
        !pid_exists(sleeper),
        "background process {sleeper} outlived its pid namespace"
    );
}

/// An orphan is reparented to the namespace's init, which reaps it: it never
/// stays a zombie.
#[test]
fn orphans_are_reparented_to_init_and_reaped() {
    require_root!();
    let script = r#"
        sh -c 'sleep 0.3 & echo $! > /tmp/orphan'
        o=$(cat /tmp/orphan)
        echo "ppid=$(grep PPid /proc/$o/status | tr -dc 0-9)"
        sleep 1
        if [ -e /proc/$o ]; then echo "orphan-still-there"; fi
        for s in /proc/[0-9]*/stat; do cut -d' ' -f3 "$s" 2>/dev/null; done | grep -c Z || true
    "#;
    let (code, out, err) = run(&["unshare", "--", "sh", "-c", script]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "ppid=1", "the orphan's parent is the namespace's init");
    assert_eq!(lines[1], "0", "no zombie left: {out}");
}

/// Without a new pid namespace there is no init: the command is nsbox's child.
#[test]
fn without_pid_namespace_the_command_runs_directly() {
    require_root!();
    let (code, out, _) = run(&["unshare", "--ns", "uts,ipc", "--", "sh", "-c", "cat /proc/$PPID/comm"]);
    assert_eq!(code, 0);
    assert_eq!(out.trim(), "nsbox");
}
