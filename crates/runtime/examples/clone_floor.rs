//! The kernel floor for a container start: clone3 with the five classic
//! namespaces (pid, mnt, uts, ipc, net), optionally a fresh /proc or a
//! pivot_root into a rootfs with a fresh /proc, exec /bin/true, wait.
//! Nothing else; `nsbox unshare` is measured against this in BENCHMARKS.md.
//!
//! With `--dev` (and a rootfs) the floor also builds the /dev that nsbox
//! builds, and with `--init` the first process stays as PID 1 and starts
//! /bin/true with posix_spawn, as nsbox's init does: the same kernel work
//! as `nsbox unshare --rootfs`, with none of nsbox's own.
//!
//! Usage: clone_floor [--proc | --rootfs DIR [--dev]] [--init]

use nsbox_sys::CloneResult;
use rustix::mount::{
    mount, mount_bind_recursive, mount_change, unmount, MountFlags, MountPropagationFlags, UnmountFlags,
};
use std::ffi::CString;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let fresh_proc = args.iter().any(|a| a == "--proc");
    let dev = args.iter().any(|a| a == "--dev");
    let init = args.iter().any(|a| a == "--init");
    let rootfs = args
        .iter()
        .position(|a| a == "--rootfs")
        .and_then(|i| args.get(i + 1))
        .cloned();
    let flags = (libc::CLONE_NEWPID | libc::CLONE_NEWNS | libc::CLONE_NEWUTS | libc::CLONE_NEWIPC | libc::CLONE_NEWNET)
        as u32 as u64;
    let prog = CString::new("/bin/true").unwrap();
    let argv = [prog.clone()];
    // SAFETY: this program is single-threaded.
    match unsafe { nsbox_sys::clone3(flags) }.expect("clone3") {
        CloneResult::Child => {
            if fresh_proc || rootfs.is_some() {
                mount_change("/", MountPropagationFlags::REC | MountPropagationFlags::PRIVATE).expect("private");
            }
            if let Some(root) = &rootfs {
                mount_bind_recursive(root.as_str(), root.as_str()).expect("bind rootfs");
                mount(
                    "proc",
                    format!("{root}/proc").as_str(),
                    "proc",
                    MountFlags::empty(),
                    None,
                )
                .expect("proc");
                if dev {
                    build_dev(&format!("{root}/dev"));
                }
                rustix::process::chdir(root.as_str()).expect("chdir");
                rustix::process::pivot_root(".", ".").expect("pivot_root");
                unmount(".", UnmountFlags::DETACH).expect("detach old root");
            } else if fresh_proc {
                mount("proc", "/proc", "proc", MountFlags::empty(), None).expect("proc");
            }
            if init {
                let none = nsbox_sys::SignalSet::empty();
                let pid = nsbox_sys::spawn::spawn(&prog, &argv, &[], &none, &none).expect("spawn");
                nsbox_sys::exit_now(wait_for(pid));
            }
            let err = nsbox_sys::execve(&prog, &argv, &[]);
            eprintln!("exec: {err}");
            nsbox_sys::exit_now(127);
        }
        CloneResult::Parent(pid) => std::process::exit(wait_for(pid)),
    }
}

fn wait_for(pid: i32) -> i32 {
    let (_, status) = rustix::process::waitpid(
        rustix::process::Pid::from_raw(pid),
        rustix::process::WaitOptions::empty(),
    )
    .expect("waitpid")
    .expect("a status");
    status.exit_status().unwrap_or(1)
}

/// nsbox's minimal /dev (the same tables): a tmpfs with its device nodes,
/// shm and pts directories, a devpts instance and its symlinks.
fn build_dev(dev: &str) {
    use nsbox_runtime::config::unshare::DEVPTS_OPTIONS;
    use nsbox_runtime::process::init::{DEV_LINKS, DEV_NODES};
    use rustix::fs::{makedev, mkdir, mknodat, symlink, FileType, Mode, CWD};
    mount(
        "tmpfs",
        dev,
        "tmpfs",
        MountFlags::NOSUID | MountFlags::NOEXEC,
        c"mode=0755",
    )
    .expect("dev");
    rustix::process::umask(Mode::empty());
    for (name, major, minor) in DEV_NODES {
        let path = format!("{dev}/{name}");
        let mode = Mode::from_bits_truncate(0o666);
        mknodat(
            CWD,
            path.as_str(),
            FileType::CharacterDevice,
            mode,
            makedev(major, minor),
        )
        .expect("mknod");
    }
    mkdir(format!("{dev}/shm").as_str(), Mode::from_bits_truncate(0o1777)).expect("shm");
    mkdir(format!("{dev}/pts").as_str(), Mode::from_bits_truncate(0o755)).expect("pts");
    let flags = MountFlags::NOSUID | MountFlags::NOEXEC;
    let options = std::ffi::CString::new(DEVPTS_OPTIONS).expect("no NUL");
    mount(
        "devpts",
        format!("{dev}/pts").as_str(),
        "devpts",
        flags,
        options.as_c_str(),
    )
    .expect("devpts");
    for (link, target) in DEV_LINKS {
        symlink(target, format!("{dev}/{link}").as_str()).expect("symlink");
    }
}
