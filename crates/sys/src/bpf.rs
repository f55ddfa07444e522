//! The bpf(2) calls a cgroup v2 device filter needs: load a
//! BPF_PROG_TYPE_CGROUP_DEVICE program and attach it to a cgroup.
//!
//! Raw bpf(2) rather than a crate such as aya: a device filter is two
//! calls and a program of a few dozen instructions that nsbox writes
//! itself (as runc and crun do), with no maps, BTF or ELF objects — aya's
//! loader, its dependencies and their start-up cost would buy nothing.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

const BPF_PROG_LOAD: libc::c_int = 5;
const BPF_PROG_ATTACH: libc::c_int = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
/// Other programs (the engine's, a parent cgroup's) stay attached beside it.
const BPF_F_ALLOW_MULTI: u32 = 2;

fn bpf(cmd: libc::c_int, attr: &mut [u8]) -> io::Result<i64> {
    // SAFETY: `attr` is a zero-filled bpf_attr of `attr.len()` bytes whose
    // pointers (if any) point at memory the caller keeps alive for the call.
    let rc = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr.as_mut_ptr(), attr.len()) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(rc)
}

/// Loads a device filter: `insns` are `struct bpf_insn`s (8 bytes each,
/// as u64 in native order). A program the verifier refuses is an error
/// with the verifier's own words.
pub fn load_device_program(insns: &[u64]) -> io::Result<OwnedFd> {
    let license = c"Apache";
    let mut log = vec![0u8; 1 << 16];
    for with_log in [false, true] {
        // bpf_attr for BPF_PROG_LOAD: prog_type, insn_cnt, insns,
        // license, log_level, log_size, log_buf (the fields up to here).
        let mut attr = [0u8; 48];
        attr[0..4].copy_from_slice(&BPF_PROG_TYPE_CGROUP_DEVICE.to_ne_bytes());
        attr[4..8].copy_from_slice(&(insns.len() as u32).to_ne_bytes());
        attr[8..16].copy_from_slice(&(insns.as_ptr() as u64).to_ne_bytes());
        attr[16..24].copy_from_slice(&(license.as_ptr() as u64).to_ne_bytes());
        if with_log {
            attr[24..28].copy_from_slice(&1u32.to_ne_bytes());
            attr[28..32].copy_from_slice(&(log.len() as u32).to_ne_bytes());
            attr[32..40].copy_from_slice(&(log.as_mut_ptr() as u64).to_ne_bytes());
        }
        match bpf(BPF_PROG_LOAD, &mut attr) {
            // SAFETY: BPF_PROG_LOAD returns a new descriptor, owned by nobody else.
            Ok(fd) => return Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) }),
            Err(e) if !with_log => {
                // Again with the verifier's log, for its reason; a kernel
                // that refuses for want of permission says so the same way.
                if e.raw_os_error() != Some(libc::EINVAL) && e.raw_os_error() != Some(libc::EACCES) {
                    return Err(e);
                }
            }
            Err(e) => {
                let end = log.iter().position(|b| *b == 0).unwrap_or(log.len());
                let said = String::from_utf8_lossy(&log[..end]);
                let said = said.trim();
                return Err(if said.is_empty() {
                    e
                } else {
                    io::Error::new(e.kind(), format!("{e}: {said}"))
                });
            }
        }
    }
    unreachable!("the second attempt returns")
}

/// Attaches a device program to the cgroup open at `cgroup`.
pub fn attach_device_program(cgroup: BorrowedFd, program: BorrowedFd) -> io::Result<()> {
    // bpf_attr for BPF_PROG_ATTACH: target_fd, attach_bpf_fd, attach_type, attach_flags.
    let mut attr = [0u8; 16];
    attr[0..4].copy_from_slice(&(cgroup.as_raw_fd() as u32).to_ne_bytes());
    attr[4..8].copy_from_slice(&(program.as_raw_fd() as u32).to_ne_bytes());
    attr[8..12].copy_from_slice(&BPF_CGROUP_DEVICE.to_ne_bytes());
    attr[12..16].copy_from_slice(&BPF_F_ALLOW_MULTI.to_ne_bytes());
    bpf(BPF_PROG_ATTACH, &mut attr).map(drop)
}
