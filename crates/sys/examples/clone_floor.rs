//! The kernel floor for a container start: clone3 with the five classic
//! namespaces (pid, mnt, uts, ipc, net), optionally a fresh /proc or a
//! pivot_root into a rootfs with a fresh /proc, exec /bin/true, wait.
//! Nothing else; `nsbox unshare` is measured against this in BENCHMARKS.md.
//!
//! Usage: clone_floor [--proc | --rootfs DIR]

use nsbox_sys::CloneResult;
use rustix::mount::{
    mount, mount_bind_recursive, mount_change, unmount, MountFlags, MountPropagationFlags, UnmountFlags,
};
use std::ffi::CString;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let fresh_proc = args.iter().any(|a| a == "--proc");
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
                rustix::process::chdir(root.as_str()).expect("chdir");
                rustix::process::pivot_root(".", ".").expect("pivot_root");
                unmount(".", UnmountFlags::DETACH).expect("detach old root");
            } else if fresh_proc {
                mount("proc", "/proc", "proc", MountFlags::empty(), None).expect("proc");
            }
            let err = nsbox_sys::execve(&prog, &argv, &[]);
            eprintln!("exec: {err}");
            nsbox_sys::exit_now(127);
        }
        CloneResult::Parent(pid) => {
            let (_, status) = rustix::process::waitpid(
                rustix::process::Pid::from_raw(pid),
                rustix::process::WaitOptions::empty(),
            )
            .expect("waitpid")
            .expect("a status");
            std::process::exit(status.exit_status().unwrap_or(1));
        }
    }
}
