//! A fast path for `nsbox unshare`'s arguments.
//!
//! A container start is nsbox's most frequent and most timed job, and clap
//! took about a twentieth of it (measured in BENCHMARKS.md): its parser,
//! validator and matches are a lot of code for a process that runs once, and
//! touching that code costs page faults. This parser reads the usual forms
//! of the same arguments directly. It is not a second definition of the
//! command line: clap's [`UnshareArgs`] stays that, with its help and its
//! messages. Anything this parser does not fully understand (help, a mistake,
//! a repeated option, a value that looks like a flag, a form such as `-rw`)
//! makes it answer `None`, and clap parses the arguments instead. Tests
//! check that whatever it accepts, clap parses to the same thing.

use crate::unshare_cmd::UnshareArgs;
use nsbox_ns::NsSet;
use nsbox_runtime::spec::{parse_cpus, parse_env, parse_memory, parse_pids, parse_time_offsets, parse_user};
use std::ffi::OsString;
use std::path::PathBuf;

/// Parses the arguments after `nsbox unshare`, or `None` for clap to do it.
pub fn parse(args: &[OsString]) -> Option<UnshareArgs> {
    let mut out = UnshareArgs::default();
    let mut rest = args.iter();
    let mut command = Vec::new();
    while let Some(arg) = rest.next() {
        let arg = arg.to_str()?;
        if arg == "--" {
            break;
        }
        if !arg.starts_with('-') {
            // The command: it and everything after it are its own.
            command.push(arg.to_string());
            break;
        }
        let (name, inline) = match arg.strip_prefix("--") {
            Some(long) => match long.split_once('=') {
                Some((name, value)) => (name, Some(value)),
                None => (long, None),
            },
            None => (long_name_of(arg)?, None),
        };
        if let "map-root-user" | "lo-up" = name {
            let flag = if name == "lo-up" {
                &mut out.lo_up
            } else {
                &mut out.map_root_user
            };
            if inline.is_some() || *flag {
                return None;
            }
            *flag = true;
            continue;
        }
        let value = match inline {
            Some(value) => value,
            None => rest.next()?.to_str()?,
        };
        // Empty values and values that start like a flag are clap's to judge.
        if value.is_empty() || value.starts_with('-') {
            return None;
        }
        set(&mut out, name, value)?;
    }
    for arg in rest {
        command.push(arg.to_str()?.to_string());
    }
    if command.is_empty() {
        return None;
    }
    out.command = command;
    Some(out)
}

/// The long name of a short flag given alone (`-e`, not `-eK=V` or `-rw`).
fn long_name_of(short: &str) -> Option<&'static str> {
    Some(match short {
        "-e" => "env",
        "-w" => "workdir",
        "-u" => "user",
        "-r" => "map-root-user",
        _ => return None,
    })
}

/// Stores one option's value; `None` if the option is unknown, given twice
/// where once is allowed, or its value is not valid.
fn set(out: &mut UnshareArgs, name: &str, value: &str) -> Option<()> {
    match name {
        "ns" => once(&mut out.ns, NsSet::parse_list(value).ok()?),
        "hostname" => once(&mut out.hostname, value.to_string()),
        "domainname" => once(&mut out.domainname, value.to_string()),
        "rootfs" => once(&mut out.rootfs, PathBuf::from(value)),
        "workdir" => once(&mut out.workdir, PathBuf::from(value)),
        "user" => once(&mut out.user, parse_user(value).ok()?),
        "memory" => once(&mut out.memory, parse_memory(value).ok()?),
        "pids" => once(&mut out.pids, parse_pids(value).ok()?),
        "cpus" => once(&mut out.cpus, parse_cpus(value).ok()?),
        "time-offset" => once(&mut out.time_offset, parse_time_offsets(value).ok()?),
        "bind" => push(&mut out.bind, value.parse().ok()?),
        "tmpfs" => push(&mut out.tmpfs, PathBuf::from(value)),
        "env" => push(&mut out.env, parse_env(value).ok()?),
        "uid-map" => push(&mut out.uid_map, value.parse().ok()?),
        "gid-map" => push(&mut out.gid_map, value.parse().ok()?),
        _ => None,
    }
}

/// Adds a value of an option that may be given many times.
fn push<T>(list: &mut Vec<T>, value: T) -> Option<()> {
    list.push(value);
    Some(())
}

/// Sets an option that may be given once (clap refuses a second).
fn once<T>(slot: &mut Option<T>, value: T) -> Option<()> {
    if slot.is_some() {
        return None;
    }
    *slot = Some(value);
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unshare_cmd::parse_with_clap;

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    /// Whatever the fast path accepts, clap parses to the same arguments.
    fn agrees_with_clap(args: &[&str]) -> bool {
        let fast = parse(&os(args));
        if let Some(fast) = &fast {
            let mut full = vec!["unshare"];
            full.extend_from_slice(args);
            let clap = parse_with_clap(os(&full)).unwrap_or_else(|e| panic!("{args:?}: fast path accepted, clap: {e}"));
            assert_eq!(fast, &clap, "{args:?}");
        }
        fast.is_some()
    }

    #[test]
    fn usual_command_lines_take_the_fast_path() {
        let usual: &[&[&str]] = &[
            &["--", "/bin/true"],
            &["true"],
            &["sh", "-c", "echo --ns x"],
            &["--ns", "pid,mnt,uts,ipc,net", "--rootfs", "/tmp/r", "--", "/bin/true"],
            &["--ns=uts", "--hostname", "box", "--domainname=lan", "--", "hostname"],
            &["-e", "A=1", "--env", "B=2", "-w", "/tmp", "-u", "1000:1001", "--", "id"],
            &["-r", "--uid-map", "0:1000:1", "--gid-map=0:1000:1", "--", "id"],
            &[
                "--bind",
                "/a:/b:ro",
                "--bind=/c:/d",
                "--tmpfs",
                "/x",
                "--tmpfs=/y",
                "--",
                "ls",
            ],
            &["--memory", "64m", "--pids", "64", "--cpus", "0.5", "--", "true"],
            &[
                "--time-offset",
                "monotonic=10,boottime=5",
                "--lo-up",
                "--map-root-user",
                "true",
                "--lo-up",
            ],
            &["--", "--not-a-flag", "-x"],
        ];
        for args in usual {
            assert!(agrees_with_clap(args), "{args:?} should take the fast path");
        }
    }

    #[test]
    fn anything_unusual_is_left_to_clap() {
        let unusual: &[&[&str]] = &[
            &[],
            &["--"],
            &["--help"],
            &["-h"],
            &["--version"],
            &["--ns", "pid,bogus", "--", "true"],
            &["--ns", "uts", "--ns", "net", "--", "true"],
            &["--lo-up", "--lo-up", "--", "true"],
            &["--lo-up=yes", "--", "true"],
            &["-rw", "/tmp", "--", "true"],
            &["-eA=1", "--", "true"],
            &["--hostname", "--", "true"],
            &["--hostname", "-x", "--", "true"],
            &["--hostname="],
            &["--hostname", "", "--", "true"],
            &["--pids", "+5", "--", "true"],
            &["--pids", "-1", "--", "true"],
            &["--cpus", "-1", "--", "true"],
            &["--memory", "lots", "--", "true"],
            &["--bind", "nocolon", "--", "true"],
            &["--nosuch", "--", "true"],
            &["-", "true"],
            &["--rootfs"],
        ];
        for args in unusual {
            assert!(!agrees_with_clap(args), "{args:?} should be left to clap");
        }
    }

    /// Random command lines built from every option's usual and unusual
    /// forms: the fast path never disagrees with clap.
    #[test]
    fn random_command_lines_agree_with_clap() {
        let words = [
            "--ns",
            "--ns=pid,net",
            "uts,ipc",
            "--hostname",
            "h",
            "--domainname=d",
            "--rootfs",
            "/r",
            "--bind",
            "/a:/b",
            "/a:/b:ro",
            "--tmpfs",
            "/t",
            "-e",
            "K=V",
            "--env=X=",
            "-w",
            "/w",
            "--workdir",
            "-u",
            "0",
            "5:6",
            "-r",
            "--map-root-user",
            "--uid-map",
            "0:1000:1",
            "--gid-map=0:1:2",
            "--memory",
            "1g",
            "--pids",
            "12",
            "--cpus",
            "1.5",
            "--time-offset",
            "monotonic=1",
            "--lo-up",
            "--",
            "-",
            "true",
            "",
            "-x",
            "--help",
            "=",
            "--pids=3",
        ];
        // A small deterministic generator: the same cases on every run.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        let mut fast = 0;
        for _ in 0..20_000 {
            let len = next(9);
            let args: Vec<&str> = (0..len).map(|_| words[next(words.len())]).collect();
            fast += usize::from(agrees_with_clap(&args));
        }
        // The generator must reach the fast path often enough to mean something.
        assert!(fast > 1_000, "only {fast} of 20000 took the fast path");
    }

    /// Every option clap knows is one the fast path knows too (or it would
    /// silently always fall back for it).
    #[test]
    fn every_clap_option_is_known() {
        use clap::Args;
        let mut command = UnshareArgs::augment_args(clap::Command::new("unshare"));
        // Building fills in what each argument takes.
        command.build();
        for arg in command.get_arguments() {
            let Some(long) = arg.get_long().filter(|l| *l != "help") else {
                continue;
            };
            let args = if arg.get_action().takes_values() {
                let sample = match long {
                    "ns" => "uts",
                    "bind" => "/a:/b",
                    "env" => "K=V",
                    "user" | "pids" | "cpus" => "1",
                    "uid-map" | "gid-map" => "0:1000:1",
                    "memory" => "16m",
                    "time-offset" => "monotonic=1",
                    _ => "/x",
                };
                vec![format!("--{long}"), sample.to_string(), "true".to_string()]
            } else {
                vec![format!("--{long}"), "true".to_string()]
            };
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            assert!(agrees_with_clap(&args), "--{long} is not known to the fast path");
        }
    }
}
