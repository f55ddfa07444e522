//! A fast path for the verbs engines call most (`create`, `start`, `run`,
//! `state`, `kill`, `delete`), as `unshare_fast` is for `unshare`: building
//! clap's tree of every nsbox command is most of a verb's memory (runc's
//! verbs are timed and their peak RSS compared, see BENCHMARKS.md) and a
//! tenth of its time. This reads the usual forms of the same arguments
//! directly; anything it does not fully understand (help, a mistake, a
//! repeated flag, a short flag cluster) makes it answer `None`, and clap
//! parses the arguments instead, with its messages. Tests check that what
//! it accepts, clap parses to the same thing.

use super::{CreateArgs, DeleteArgs, GlobalOpts, IdArg, KillArgs, LogFormat, RunArgs, DEFAULT_ROOT};
use std::ffi::OsString;
use std::path::PathBuf;

#[derive(Debug, PartialEq)]
pub enum Verb {
    Create(CreateArgs),
    Run(RunArgs),
    Start(IdArg),
    State(IdArg),
    Kill(KillArgs),
    Delete(DeleteArgs),
}

/// One `--name value`, `--name=value` or `--flag` at a time.
struct Args<'a> {
    rest: std::slice::Iter<'a, OsString>,
}

enum Item<'a> {
    Flag(&'a str, Option<&'a str>),
    Word(&'a str),
}

impl<'a> Args<'a> {
    fn next(&mut self) -> Option<Option<Item<'a>>> {
        let arg = self.rest.next()?;
        let Some(arg) = arg.to_str() else { return Some(None) };
        Some(Some(match arg.strip_prefix("--") {
            Some(long) => match long.split_once('=') {
                Some((name, value)) => Item::Flag(name, Some(value)),
                None => Item::Flag(long, None),
            },
            None => match arg {
                "-b" => Item::Flag("bundle", None),
                "-d" => Item::Flag("detach", None),
                "-a" => Item::Flag("all", None),
                "-f" => Item::Flag("force", None),
                a if a.starts_with('-') => return Some(None),
                a => Item::Word(a),
            },
        }))
    }

    /// The value of a flag: inline, or the next argument (not flag-like).
    fn value(&mut self, inline: Option<&'a str>) -> Option<&'a str> {
        let value = match inline {
            Some(v) => v,
            None => self.rest.next()?.to_str()?,
        };
        (!value.is_empty() && !value.starts_with('-')).then_some(value)
    }
}

/// Parses everything after `nsbox`, or `None` for clap to do it.
pub fn parse(argv: &[OsString]) -> Option<(GlobalOpts, Verb)> {
    let mut args = Args { rest: argv.iter() };
    let mut global = GlobalOpts {
        root: PathBuf::from(DEFAULT_ROOT),
        log: None,
        log_format: LogFormat::Text,
        debug: false,
        systemd_cgroup: false,
        rootless: None,
        criu: None,
    };
    let verb = loop {
        match args.next()?? {
            Item::Word(verb) => break verb,
            Item::Flag(name, inline) => match name {
                "root" => global.root = PathBuf::from(args.value(inline)?),
                "log" => global.log = Some(PathBuf::from(args.value(inline)?)),
                "log-format" => {
                    global.log_format = match args.value(inline)? {
                        "text" => LogFormat::Text,
                        "json" => LogFormat::Json,
                        _ => return None,
                    }
                }
                "rootless" => global.rootless = Some(args.value(inline)?.to_string()),
                "criu" => global.criu = Some(PathBuf::from(args.value(inline)?)),
                "debug" if inline.is_none() => global.debug = true,
                "systemd-cgroup" if inline.is_none() => global.systemd_cgroup = true,
                _ => return None,
            },
        }
    };
    let verb = match verb {
        "create" => Verb::Create(create_args::<()>(&mut args, &mut |_, _| None)?.0),
        "run" => {
            let (mut detach, mut keep) = (false, false);
            let (create, ()) = create_args(&mut args, &mut |name, inline| match (name, inline) {
                ("detach", None) if !detach => {
                    detach = true;
                    Some(())
                }
                ("keep", None) if !keep => {
                    keep = true;
                    Some(())
                }
                _ => None,
            })?;
            Verb::Run(RunArgs { create, detach, keep })
        }
        "start" | "state" => {
            let id = only_id(&mut args)?;
            if verb == "start" {
                Verb::Start(IdArg { id })
            } else {
                Verb::State(IdArg { id })
            }
        }
        "kill" => {
            let mut all = false;
            let words = words(&mut args, &mut |name, inline| match (name, inline) {
                ("all", None) if !all => {
                    all = true;
                    Some(())
                }
                _ => None,
            })?;
            match words.as_slice() {
                [id] => Verb::Kill(KillArgs {
                    all,
                    id: id.clone(),
                    signal: "SIGTERM".into(),
                }),
                [id, signal] => Verb::Kill(KillArgs {
                    all,
                    id: id.clone(),
                    signal: signal.clone(),
                }),
                _ => return None,
            }
        }
        "delete" => {
            let mut force = false;
            let words = words(&mut args, &mut |name, inline| match (name, inline) {
                ("force", None) if !force => {
                    force = true;
                    Some(())
                }
                _ => None,
            })?;
            match words.as_slice() {
                [id] => Verb::Delete(DeleteArgs { force, id: id.clone() }),
                _ => return None,
            }
        }
        _ => return None,
    };
    Some((global, verb))
}

/// The positional words, with `flag` taking the verb's own flags.
fn words(args: &mut Args, flag: &mut dyn FnMut(&str, Option<&str>) -> Option<()>) -> Option<Vec<String>> {
    let mut out = Vec::new();
    while let Some(item) = args.next() {
        match item? {
            Item::Word(w) => out.push(w.to_string()),
            Item::Flag(name, inline) => flag(name, inline)?,
        }
    }
    Some(out)
}

fn only_id(args: &mut Args) -> Option<String> {
    match words(args, &mut |_, _| None)?.as_slice() {
        [id] => Some(id.clone()),
        _ => None,
    }
}

fn create_args<T: Default>(
    args: &mut Args,
    extra: &mut dyn FnMut(&str, Option<&str>) -> Option<T>,
) -> Option<(CreateArgs, T)> {
    let mut out = CreateArgs {
        bundle: PathBuf::from("."),
        pid_file: None,
        console_socket: None,
        no_pivot: false,
        no_new_keyring: false,
        preserve_fds: 0,
        id: String::new(),
    };
    let mut seen: Vec<String> = Vec::new();
    let mut ids = Vec::new();
    let mut extra_value = T::default();
    while let Some(item) = args.next() {
        let (name, inline) = match item? {
            Item::Word(w) => {
                ids.push(w.to_string());
                continue;
            }
            Item::Flag(name, inline) => (name, inline),
        };
        if seen.iter().any(|s| s == name) {
            return None;
        }
        seen.push(name.to_string());
        match name {
            "bundle" => out.bundle = PathBuf::from(args.value(inline)?),
            "pid-file" => out.pid_file = Some(PathBuf::from(args.value(inline)?)),
            "console-socket" => out.console_socket = Some(PathBuf::from(args.value(inline)?)),
            "preserve-fds" => out.preserve_fds = args.value(inline)?.parse().ok()?,
            "no-pivot" if inline.is_none() => out.no_pivot = true,
            "no-new-keyring" if inline.is_none() => out.no_new_keyring = true,
            _ => extra_value = extra(name, inline)?,
        }
    }
    match ids.as_slice() {
        [id] => out.id = id.clone(),
        _ => return None,
    }
    Some((out, extra_value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    /// What clap makes of the same arguments, for comparison.
    fn clap_parse(args: &[&str]) -> (GlobalOpts, Verb) {
        let cli = crate::Cli::try_parse_from(std::iter::once("nsbox").chain(args.iter().copied())).unwrap();
        let verb = match cli.command.unwrap() {
            crate::Cmd::Create(a) => Verb::Create(a),
            crate::Cmd::Run(a) => Verb::Run(a),
            crate::Cmd::Start(a) => Verb::Start(a),
            crate::Cmd::State(a) => Verb::State(a),
            crate::Cmd::Kill(a) => Verb::Kill(a),
            crate::Cmd::Delete(a) => Verb::Delete(a),
            _ => panic!("not a verb of the fast path"),
        };
        (cli.global, verb)
    }

    #[test]
    fn what_the_fast_path_accepts_clap_parses_the_same() {
        let lines: [&[&str]; 10] = [
            &["create", "--bundle", "/b", "--pid-file", "/p", "c1"],
            &[
                "--root",
                "/r",
                "--log",
                "/l",
                "--log-format",
                "json",
                "create",
                "-b",
                "/b",
                "--no-pivot",
                "c1",
            ],
            &[
                "--root=/r",
                "create",
                "--bundle=/b",
                "--preserve-fds",
                "2",
                "--no-new-keyring",
                "c1",
            ],
            &["run", "-d", "--bundle", "/b", "c"],
            &["run", "--keep", "c"],
            &["start", "c"],
            &["--root", "/run/containerd/runc/k8s.io", "state", "c"],
            &["kill", "--all", "c", "9"],
            &["kill", "c"],
            &["delete", "-f", "c"],
        ];
        for line in lines {
            let fast = parse(&os(line)).unwrap_or_else(|| panic!("{line:?} is for the fast path"));
            let slow = clap_parse(line);
            assert_eq!(format!("{fast:?}"), format!("{slow:?}"), "{line:?}");
        }
    }

    #[test]
    fn anything_unusual_goes_to_clap() {
        for line in [
            &["create", "--help"][..],
            &["create", "c1", "c2"],
            &["create", "--bundle"],
            &["create", "--bundle", "/a", "--bundle", "/b", "c"],
            &["--nope", "state", "c"],
            &["state"],
            &["kill", "a", "b", "c"],
            &["list"],
            &["run", "-dk", "c"],
            &["--log-format", "xml", "state", "c"],
        ] {
            assert!(parse(&os(line)).is_none(), "{line:?}");
        }
    }
}
