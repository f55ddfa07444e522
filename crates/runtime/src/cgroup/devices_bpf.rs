//! cgroup v2's device rules: an eBPF program of type
//! BPF_PROG_TYPE_CGROUP_DEVICE attached to the container's cgroup (v2 has
//! no devices.allow/deny files), built the way runc and crun build theirs:
//! the rules are first replayed as v1's device cgroup replays them — a
//! default (allow or deny) and exceptions, where an `a` rule resets both
//! and a rule of the default's kind takes access away from exceptions —
//! and the program then checks the exceptions and falls back to the
//! default. The kernel runs it on every open and mknod of a device node.

use crate::config::DeviceRule;

/// One exception of the replayed rules: the device type (1 block, 2 char,
/// as the kernel's BPF_DEVCG_DEV_*), numbers (None: any) and access bits
/// (BPF_DEVCG_ACC_*: 1 mknod, 2 read, 4 write).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Exception {
    kind: u32,
    major: Option<u32>,
    minor: Option<u32>,
    access: u32,
}

#[derive(Debug, PartialEq, Eq)]
struct Replayed {
    default_allow: bool,
    exceptions: Vec<Exception>,
}

fn access_bits(access: &str) -> u32 {
    access.chars().fold(0, |bits, c| {
        bits | match c {
            'm' => 1,
            'r' => 2,
            'w' => 4,
            _ => 0,
        }
    })
}

/// The rules in order, from a cgroup that allows everything (as v1's
/// root does), as v1's device cgroup would end up.
fn replay(rules: &[DeviceRule]) -> Replayed {
    let mut state = Replayed {
        default_allow: true,
        exceptions: Vec::new(),
    };
    for rule in rules {
        if rule.kind == 'a' {
            state.default_allow = rule.allow;
            state.exceptions.clear();
            continue;
        }
        let number = |n: Option<i64>| n.and_then(|n| u32::try_from(n).ok());
        let ex = Exception {
            kind: if rule.kind == 'b' { 1 } else { 2 },
            major: number(rule.major),
            minor: number(rule.minor),
            access: access_bits(&rule.access),
        };
        let same = |e: &Exception| (e.kind, e.major, e.minor) == (ex.kind, ex.major, ex.minor);
        if rule.allow == state.default_allow {
            // Of the default's kind: access comes off the exceptions.
            for e in state.exceptions.iter_mut().filter(|e| same(e)) {
                e.access &= !ex.access;
            }
            state.exceptions.retain(|e| e.access != 0);
        } else if let Some(e) = state.exceptions.iter_mut().find(|e| same(e)) {
            e.access |= ex.access;
        } else {
            state.exceptions.push(ex);
        }
    }
    state
}

/// A `struct bpf_insn` as a u64 in the machine's order: opcode, registers
/// (destination in the low nibble), offset, immediate.
fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> u64 {
    let bytes = {
        let mut b = [0u8; 8];
        b[0] = code;
        b[1] = (src << 4) | (dst & 0x0f);
        b[2..4].copy_from_slice(&off.to_ne_bytes());
        b[4..8].copy_from_slice(&imm.to_ne_bytes());
        b
    };
    u64::from_ne_bytes(bytes)
}

const LDX_W: u8 = 0x61; // r_dst = *(u32 *)(r_src + off)
const AND_K: u8 = 0x57;
const RSH_K: u8 = 0x77;
const MOV_K: u8 = 0xb7;
const MOV_X: u8 = 0xbf;
const JEQ_K: u8 = 0x15;
const JNE_K: u8 = 0x55;
const EXIT: u8 = 0x95;

/// The program for `rules` (in order): 1 allows the access, 0 denies it.
pub(crate) fn program(rules: &[DeviceRule]) -> Vec<u64> {
    let state = replay(rules);
    // r1 is the context: struct bpf_cgroup_dev_ctx { u32 access_type
    // (access << 16 | type); u32 major; u32 minor; }.
    let mut out = vec![
        insn(LDX_W, 2, 1, 0, 0),
        insn(AND_K, 2, 0, 0, 0xffff),
        insn(LDX_W, 3, 1, 0, 0),
        insn(RSH_K, 3, 0, 0, 16),
        insn(LDX_W, 4, 1, 4, 0),
        insn(LDX_W, 5, 1, 8, 0),
    ];
    // An exception decides against the default: with a deny default an
    // exception allows an access it wholly covers; with an allow default
    // it denies an access that touches it.
    let verdict = i32::from(!state.default_allow);
    for e in &state.exceptions {
        // Each jump skips to the end of this exception's block (offsets
        // are filled in once the block's length is known).
        let mut block: Vec<(u8, u8, u8, i32, bool)> = vec![(JNE_K, 2, 0, e.kind as i32, true), (MOV_X, 1, 3, 0, false)];
        if state.default_allow {
            block.push((AND_K, 1, 0, e.access as i32, false));
            block.push((JEQ_K, 1, 0, 0, true));
        } else {
            block.push((AND_K, 1, 0, (!e.access & 7) as i32, false));
            block.push((JNE_K, 1, 0, 0, true));
        }
        if let Some(major) = e.major {
            block.push((JNE_K, 4, 0, major as i32, true));
        }
        if let Some(minor) = e.minor {
            block.push((JNE_K, 5, 0, minor as i32, true));
        }
        block.push((MOV_K, 0, 0, verdict, false));
        block.push((EXIT, 0, 0, 0, false));
        let len = block.len();
        for (i, (code, dst, src, imm, jumps)) in block.into_iter().enumerate() {
            let off = if jumps { (len - i - 1) as i16 } else { 0 };
            out.push(insn(code, dst, src, off, imm));
        }
    }
    out.push(insn(MOV_K, 0, 0, 0, i32::from(state.default_allow)));
    out.push(insn(EXIT, 0, 0, 0, 0));
    out
}

#[cfg(test)]
pub(crate) fn tests_rule(allow: bool, kind: char, major: Option<i64>, minor: Option<i64>, access: &str) -> DeviceRule {
    DeviceRule {
        allow,
        kind,
        major,
        minor,
        access: access.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::tests_rule as rule;
    use super::*;

    #[test]
    fn rules_replay_as_v1_replays_them() {
        let rules = [
            rule(false, 'a', None, None, "rwm"),
            rule(true, 'c', Some(1), Some(3), "rwm"),
            rule(false, 'c', Some(1), Some(3), "w"),
            rule(true, 'c', Some(136), None, "rwm"),
        ];
        let r = replay(&rules);
        assert!(!r.default_allow);
        assert_eq!(
            r.exceptions,
            [
                Exception {
                    kind: 2,
                    major: Some(1),
                    minor: Some(3),
                    access: 3
                },
                Exception {
                    kind: 2,
                    major: Some(136),
                    minor: None,
                    access: 7
                },
            ]
        );
        let r = replay(&[rule(true, 'a', None, None, "rwm"), rule(false, 'b', Some(8), None, "w")]);
        assert!(r.default_allow && r.exceptions.len() == 1);
    }

    /// Each exception is a block that ends in `exit`, and every jump lands
    /// on the next block (or the default), never outside the program.
    #[test]
    fn jumps_stay_inside_the_program() {
        let rules = [
            rule(false, 'a', None, None, "rwm"),
            rule(true, 'c', Some(1), Some(3), "rw"),
            rule(true, 'b', Some(8), None, "r"),
        ];
        let p = program(&rules);
        for (i, insn) in p.iter().enumerate() {
            let b = insn.to_ne_bytes();
            if b[0] == JNE_K || b[0] == JEQ_K {
                let off = i16::from_ne_bytes([b[2], b[3]]);
                let target = i as i64 + 1 + i64::from(off);
                assert!(
                    target < p.len() as i64 && target > i as i64,
                    "insn {i} jumps to {target}"
                );
            }
        }
        assert_eq!(p.last().unwrap().to_ne_bytes()[0], EXIT);
    }
}

/// The program really loads and decides: attached to a cgroup of the
/// unified (v2) hierarchy — which a hybrid host like this one has too —
/// a process moved into it may open /dev/null (allowed) and not /dev/zero.
#[cfg(test)]
mod kernel_tests {
    use super::tests_rule as rule;

    #[test]
    fn the_kernel_enforces_the_program() {
        if !rustix::process::geteuid().is_root() {
            eprintln!("SKIPPED: needs root");
            return;
        }
        let Some(unified) = crate::cgroup::Layout::unified_mount() else {
            eprintln!("SKIPPED: no cgroup v2 hierarchy mounted");
            return;
        };
        let dir = unified.join(format!("nsbox-test-devices-{}", crate::cgroup::unique_name()));
        std::fs::create_dir(&dir).unwrap();
        struct Remove(std::path::PathBuf);
        impl Drop for Remove {
            fn drop(&mut self) {
                for _ in 0..100 {
                    if std::fs::remove_dir(&self.0).is_ok() {
                        return;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
            }
        }
        let _remove = Remove(dir.clone());
        let rules = [
            rule(false, 'a', None, None, "rwm"),
            rule(true, 'c', Some(1), Some(3), "rwm"),
        ];
        let scratch = tempfile::tempdir().unwrap();
        let flag = scratch.path().join("go");
        let script = format!(
            "while [ ! -e {0} ]; do sleep 0.01; done; rm -f {0}; \
             (echo x > /dev/null) 2>/dev/null && echo null-ok || echo null-denied; \
             (head -c1 /dev/zero > /dev/null) 2>/dev/null && echo zero-ok || echo zero-denied",
            flag.display()
        );
        let child = std::process::Command::new("sh")
            .args(["-c", &script])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Killed if anything below fails, so that the cgroup can go.
        struct Kill(u32);
        impl Drop for Kill {
            fn drop(&mut self) {
                let _ = nsbox_sys::kill(self.0 as i32, libc::SIGKILL);
            }
        }
        let _kill = Kill(child.id());
        let moved = std::fs::write(dir.join("cgroup.procs"), child.id().to_string());
        let attached = crate::cgroup::oci::attach_device_filter(&dir, &rules);
        std::fs::write(&flag, "").unwrap();
        moved.unwrap();
        attached.unwrap();
        let out = child.wait_with_output().unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "null-ok\nzero-denied\n");
    }
}
