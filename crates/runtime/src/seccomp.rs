//! The container's seccomp filter, compiled by libseccomp in the runtime
//! (before the clone, so that a bad filter fails `create` with nothing
//! made) into the BPF program the container's process loads as its last
//! step before waiting for `start` (see `process::init`), as runc does.
//!
//! runc's rules, followed here: a syscall name this libseccomp does not
//! know is skipped (logged with `--debug`); a rule whose action is the
//! default one is skipped (libseccomp refuses it); several conditions on
//! one argument become one rule per condition (libseccomp takes one
//! comparison per argument in a rule, and runc reads them as alternatives).

use crate::config::seccomp::{Action, Flag, Op, Seccomp};
use libseccomp::{ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall};
use std::io::Read;
use std::str::FromStr;

#[derive(Debug, thiserror::Error)]
#[error("{field}: {message}")]
pub struct SeccompError {
    pub field: String,
    pub message: String,
}

fn err(field: impl Into<String>) -> impl FnOnce(libseccomp::error::SeccompError) -> SeccompError {
    let field = field.into();
    move |e| SeccompError {
        field,
        message: e.to_string(),
    }
}

/// A compiled filter: the BPF program (an array of `struct sock_filter`)
/// and the flags to load it with.
#[derive(Debug, Clone)]
pub struct Filter {
    pub bpf: Vec<u8>,
    /// SECCOMP_FILTER_FLAG_* bits (NEW_LISTENER for a notifying filter).
    pub flags: u32,
    pub notifies: bool,
}

const FLAG_TSYNC: u32 = 1;
const FLAG_LOG: u32 = 2;
const FLAG_SPEC_ALLOW: u32 = 4;
const FLAG_NEW_LISTENER: u32 = 8;

fn scmp_action(a: Action) -> ScmpAction {
    match a {
        Action::KillThread => ScmpAction::KillThread,
        Action::KillProcess => ScmpAction::KillProcess,
        Action::Trap => ScmpAction::Trap,
        Action::Errno(e) => ScmpAction::Errno(i32::from(e)),
        Action::Trace(m) => ScmpAction::Trace(m),
        Action::Allow => ScmpAction::Allow,
        Action::Log => ScmpAction::Log,
        Action::Notify => ScmpAction::Notify,
    }
}

/// Compiles `s`; the names of unknown syscalls are returned beside it.
pub fn compile(s: &Seccomp) -> Result<(Filter, Vec<String>), SeccompError> {
    let mut ctx = ScmpFilterContext::new(scmp_action(s.default_action)).map_err(err("linux.seccomp.defaultAction"))?;
    // no_new_privs is the runtime's to set (process.noNewPrivileges).
    ctx.set_ctl_nnp(false).map_err(err("linux.seccomp"))?;
    for (i, name) in s.architectures.iter().enumerate() {
        let field = format!("linux.seccomp.architectures[{i}]");
        let arch = ScmpArch::from_str(name).map_err(err(field.clone()))?;
        ctx.add_arch(arch).map_err(err(field))?;
    }
    let mut unknown = Vec::new();
    for rule in &s.rules {
        if rule.action == s.default_action {
            continue;
        }
        let action = scmp_action(rule.action);
        let conditions: Vec<ScmpArgCompare> = rule
            .args
            .iter()
            .map(|a| {
                let (op, datum) = match a.op {
                    Op::Ne => (ScmpCompareOp::NotEqual, a.value),
                    Op::Lt => (ScmpCompareOp::Less, a.value),
                    Op::Le => (ScmpCompareOp::LessOrEqual, a.value),
                    Op::Eq => (ScmpCompareOp::Equal, a.value),
                    Op::Ge => (ScmpCompareOp::GreaterEqual, a.value),
                    Op::Gt => (ScmpCompareOp::Greater, a.value),
                    Op::MaskedEq => (ScmpCompareOp::MaskedEqual(a.value), a.value_two),
                };
                ScmpArgCompare::new(a.index, op, datum)
            })
            .collect();
        let repeated = (0..6).any(|i| rule.args.iter().filter(|a| a.index == i).count() > 1);
        for (j, name) in rule.names.iter().enumerate() {
            let field = format!("linux.seccomp.syscalls[{}].names[{j}]", rule.index);
            let Ok(call) = ScmpSyscall::from_name(name) else {
                unknown.push(name.clone());
                continue;
            };
            if conditions.is_empty() {
                ctx.add_rule(action, call).map_err(err(field))?;
            } else if repeated {
                for c in &conditions {
                    ctx.add_rule_conditional(action, call, std::slice::from_ref(c))
                        .map_err(err(field.clone()))?;
                }
            } else {
                ctx.add_rule_conditional(action, call, &conditions)
                    .map_err(err(field))?;
            }
        }
    }
    let mut flags = 0;
    for f in &s.flags {
        flags |= match f {
            Flag::Log => FLAG_LOG,
            Flag::Tsync => FLAG_TSYNC,
            Flag::SpecAllow => FLAG_SPEC_ALLOW,
        };
    }
    let notifies = s.notifies();
    if notifies {
        flags |= FLAG_NEW_LISTENER;
    }
    Ok((
        Filter {
            bpf: export(&ctx)?,
            flags,
            notifies,
        },
        unknown,
    ))
}

/// [`compile`], with the result kept in `dir` (the runtime's `--root`):
/// libseccomp takes about 8 ms for podman's default profile, which
/// engines give every container, while the program it makes depends only
/// on the filter, libseccomp and this binary. An entry holds the whole
/// key — this binary (its size and time), libseccomp's version and the
/// filter in full — and is used only if the key is equal, never on a
/// mere hash match. A cache that cannot be read or written is skipped.
/// Writing an entry removes those of other binaries or libseccomps (see
/// [`remove_other_generations`]), so the cache does not grow with every
/// upgrade or rebuild.
pub fn compile_cached(s: &Seccomp, dir: &std::path::Path) -> Result<(Filter, Vec<String>), SeccompError> {
    let key = cache_key(s);
    let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let path = dir.join(format!("seccomp-{hash:016x}.bpf"));
    if let Some(hit) = std::fs::read(&path).ok().and_then(|bytes| decode(&bytes, &key)) {
        return Ok(hit);
    }
    let (filter, unknown) = compile(s)?;
    let bytes = encode(&key, &filter, &unknown);
    let temporary = dir.join(format!(".seccomp-{hash:016x}.{}", std::process::id()));
    if std::fs::write(&temporary, bytes).is_ok() {
        if std::fs::rename(&temporary, &path).is_ok() {
            remove_other_generations(dir, &key, &path);
        } else {
            let _ = std::fs::remove_file(&temporary);
        }
    }
    Ok((filter, unknown))
}

/// Removes the cache entries in `dir` that another nsbox binary or
/// libseccomp wrote: those whose key's first line (`nsbox EXE libseccomp
/// VERSION`) is not `key`'s, as no later run of this binary can use them.
/// Only files named as entries are read, and only those whose key begins
/// as an nsbox entry's does are removed; anything else is left alone.
fn remove_other_generations(dir: &std::path::Path, key: &str, written: &std::path::Path) {
    let ours = key.lines().next().unwrap_or_default();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let named_as_entry = entry
            .file_name()
            .to_str()
            .and_then(|n| n.strip_prefix("seccomp-")?.strip_suffix(".bpf"))
            .is_some_and(|hash| hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()));
        if !named_as_entry || path == written {
            continue;
        }
        if entry_generation(&path).is_some_and(|theirs| theirs.starts_with("nsbox ") && theirs != ours) {
            let _ = std::fs::remove_file(&path);
        }
    }
}

/// The first line of the key an entry file begins with (see [`encode`]).
fn entry_generation(path: &std::path::Path) -> Option<String> {
    use std::io::Read;
    let mut file = std::fs::File::open(path).ok()?;
    let mut length = [0u8; 4];
    file.read_exact(&mut length).ok()?;
    // The first line is short; the filter after it need not be read.
    let mut head = vec![0u8; (u32::from_le_bytes(length) as usize).min(4096)];
    file.read_exact(&mut head).ok()?;
    let head = String::from_utf8_lossy(&head);
    head.lines().next().map(str::to_string)
}

fn cache_key(s: &Seccomp) -> String {
    use std::os::unix::fs::MetadataExt;
    let exe = std::fs::metadata("/proc/self/exe")
        .map(|m| format!("{} {}.{}", m.size(), m.mtime(), m.mtime_nsec()))
        .unwrap_or_default();
    let library = libseccomp::ScmpVersion::current()
        .map(|v| v.to_string())
        .unwrap_or_default();
    format!("nsbox {exe} libseccomp {library}\n{s:?}")
}

/// An entry: the key, the flags, whether it notifies, the unknown names
/// (each a u32 length and the bytes), then the program.
fn encode(key: &str, f: &Filter, unknown: &[String]) -> Vec<u8> {
    let mut out = Vec::new();
    let text = |out: &mut Vec<u8>, t: &str| {
        out.extend_from_slice(&(t.len() as u32).to_le_bytes());
        out.extend_from_slice(t.as_bytes());
    };
    text(&mut out, key);
    out.extend_from_slice(&f.flags.to_le_bytes());
    out.push(u8::from(f.notifies));
    out.extend_from_slice(&(unknown.len() as u32).to_le_bytes());
    for name in unknown {
        text(&mut out, name);
    }
    out.extend_from_slice(&f.bpf);
    out
}

fn decode(bytes: &[u8], key: &str) -> Option<(Filter, Vec<String>)> {
    fn u32_at(b: &mut &[u8]) -> Option<u32> {
        let (n, rest) = b.split_first_chunk::<4>()?;
        *b = rest;
        Some(u32::from_le_bytes(*n))
    }
    fn text<'a>(b: &mut &'a [u8]) -> Option<&'a [u8]> {
        let len = u32_at(b)? as usize;
        let (t, rest) = (b.get(..len)?, b.get(len..)?);
        *b = rest;
        Some(t)
    }
    let mut b = bytes;
    if text(&mut b)? != key.as_bytes() {
        return None;
    }
    let flags = u32_at(&mut b)?;
    let (&notifies, rest) = b.split_first()?;
    b = rest;
    let count = u32_at(&mut b)?;
    let mut unknown = Vec::new();
    for _ in 0..count {
        unknown.push(String::from_utf8(text(&mut b)?.to_vec()).ok()?);
    }
    if b.is_empty() || !b.len().is_multiple_of(8) {
        return None;
    }
    Some((
        Filter {
            bpf: b.to_vec(),
            flags,
            notifies: notifies != 0,
        },
        unknown,
    ))
}

/// The BPF program, through a pipe (this libseccomp, 2.5, exports to a
/// descriptor only; a filter is far below a pipe's 64 KiB).
fn export(ctx: &ScmpFilterContext) -> Result<Vec<u8>, SeccompError> {
    let failed = |message: String| SeccompError {
        field: "linux.seccomp".into(),
        message,
    };
    let (read, write) =
        rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).map_err(|e| failed(format!("making a pipe: {e}")))?;
    // The pipe holds 64 KiB; a bigger program would block: grow it first.
    let _ = rustix::pipe::fcntl_setpipe_size(&write, 1 << 20);
    ctx.export_bpf(&write).map_err(err("linux.seccomp"))?;
    drop(write);
    let mut bpf = Vec::new();
    std::fs::File::from(read)
        .read_to_end(&mut bpf)
        .map_err(|e| failed(format!("reading the program: {e}")))?;
    Ok(bpf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::seccomp::{Arg, Rule};

    fn filter(default_action: Action, rules: Vec<Rule>) -> Seccomp {
        Seccomp {
            default_action,
            architectures: vec!["SCMP_ARCH_X86_64".into(), "SCMP_ARCH_X86".into()],
            flags: vec![Flag::Log],
            listener_path: None,
            listener_metadata: String::new(),
            rules,
        }
    }

    #[test]
    fn a_filter_compiles_to_bpf_and_unknown_names_are_skipped() {
        let s = filter(
            Action::Allow,
            vec![
                Rule {
                    index: 0,
                    names: vec!["mkdir".into(), "no_such_call".into()],
                    action: Action::Errno(1),
                    args: vec![],
                },
                Rule {
                    index: 1,
                    names: vec!["personality".into()],
                    action: Action::Errno(38),
                    args: vec![
                        Arg {
                            index: 0,
                            value: 0,
                            value_two: 0,
                            op: Op::Ne,
                        },
                        Arg {
                            index: 0,
                            value: 8,
                            value_two: 0,
                            op: Op::Ne,
                        },
                    ],
                },
                Rule {
                    index: 2,
                    names: vec!["getpid".into()],
                    action: Action::Allow,
                    args: vec![],
                },
            ],
        );
        let (f, unknown) = compile(&s).unwrap();
        assert_eq!(unknown, ["no_such_call"]);
        assert!(!f.bpf.is_empty() && f.bpf.len() % 8 == 0, "{} bytes", f.bpf.len());
        assert_eq!(f.flags, FLAG_LOG);
        assert!(!f.notifies);
    }

    #[test]
    fn a_notifying_filter_asks_for_a_listener() {
        let s = filter(
            Action::Allow,
            vec![Rule {
                index: 0,
                names: vec!["mkdir".into()],
                action: Action::Notify,
                args: vec![],
            }],
        );
        let (f, _) = compile(&s).unwrap();
        assert!(f.notifies && f.flags & FLAG_NEW_LISTENER != 0);
    }

    /// A cached program is the one compiled, under the same key only; an
    /// entry whose key differs (a hash collision, another binary) is not used.
    #[test]
    fn the_cache_gives_back_what_was_compiled_and_only_for_its_key() {
        let dir = tempfile::tempdir().unwrap();
        let s = filter(
            Action::Allow,
            vec![Rule {
                index: 0,
                names: vec!["mkdir".into(), "no_such_call".into()],
                action: Action::Errno(1),
                args: vec![],
            }],
        );
        let (first, unknown) = compile_cached(&s, dir.path()).unwrap();
        let entries: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().collect();
        assert_eq!(entries.len(), 1);
        let (again, unknown_again) = compile_cached(&s, dir.path()).unwrap();
        assert_eq!(
            (first.bpf.clone(), first.flags, unknown.clone()),
            (again.bpf, again.flags, unknown_again)
        );
        let bytes = std::fs::read(entries[0].path()).unwrap();
        assert!(decode(&bytes, &cache_key(&s)).is_some());
        let mut other = s.clone();
        other.rules[0].action = Action::Errno(2);
        assert!(decode(&bytes, &cache_key(&other)).is_none(), "another filter's key");
    }

    /// A new entry removes the entries of another nsbox binary (an upgrade,
    /// a rebuild), and nothing else: not this binary's other filters, not
    /// a file that merely has an entry's name, not other files.
    #[test]
    fn writing_an_entry_removes_other_binaries_entries_only() {
        let dir = tempfile::tempdir().unwrap();
        let mine = filter(Action::Allow, vec![]);
        let mut other_filter = mine.clone();
        other_filter.default_action = Action::Errno(1);
        compile_cached(&other_filter, dir.path()).unwrap();
        let (program, _) = compile(&mine).unwrap();
        let older_key = cache_key(&mine).replacen("nsbox ", "nsbox 1 1.0 ", 1);
        let stale = dir.path().join("seccomp-0123456789abcdef.bpf");
        std::fs::write(&stale, encode(&older_key, &program, &[])).unwrap();
        let look_alike = dir.path().join("seccomp-fedcba9876543210.bpf");
        std::fs::write(&look_alike, b"\x05\x00\x00\x00hello").unwrap();
        std::fs::write(dir.path().join("notes"), b"nsbox 1").unwrap();
        compile_cached(&mine, dir.path()).unwrap();
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left.len(), 4, "{left:?}");
        assert!(!stale.exists(), "{left:?}");
        assert!(look_alike.exists() && left.contains(&"notes".to_string()));
    }

    #[test]
    fn an_unknown_architecture_is_named() {
        let mut s = filter(Action::Allow, vec![]);
        s.architectures.push("SCMP_ARCH_PDP11".into());
        let e = compile(&s).unwrap_err();
        assert_eq!(e.field, "linux.seccomp.architectures[2]");
    }
}
