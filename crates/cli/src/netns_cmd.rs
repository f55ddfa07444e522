//! `nsbox netns`: `ip netns` on the same /run/netns files.

use clap::{Args, Subcommand};
use nsbox_ns::netns::Registry;
use nsbox_runtime::exec::{Command, EXIT_SETUP_FAILED};
use nsbox_runtime::spec::parse_env;

#[derive(Args)]
pub struct NetnsArgs {
    #[command(subcommand)]
    command: NetnsCmd,
}

#[derive(Subcommand)]
enum NetnsCmd {
    /// Create a named network namespace.
    Add {
        /// The new namespace's name (a file name under /run/netns).
        name: String,
    },
    /// List the named network namespaces.
    #[command(alias = "ls", alias = "show")]
    List {
        /// Print JSON for programs instead of names.
        #[arg(long)]
        json: bool,
    },
    /// Delete named network namespaces (their interfaces go with them).
    #[command(alias = "del")]
    Delete {
        /// The namespaces to delete (any bytes but '/').
        #[arg(required_unless_present = "all", value_name = "NAME")]
        names: Vec<std::ffi::OsString>,
        /// Delete every named network namespace.
        #[arg(long, short = 'a', conflicts_with = "names")]
        all: bool,
        /// Return only once the kernel has torn the namespaces down (their
        /// interfaces gone).
        #[arg(long)]
        wait: bool,
        /// How long --wait waits, in seconds.
        #[arg(long, value_name = "SECS", default_value = "10", requires = "wait", value_parser = crate::numbers::timeout)]
        wait_timeout: std::time::Duration,
    },
    /// Run a command in a named network namespace, as `ip netns exec`.
    #[command(trailing_var_arg = true)]
    Exec {
        /// The namespace to run the command in.
        name: String,
        /// Set an environment variable for the command.
        #[arg(long, short = 'e', value_name = "K=V", value_parser = parse_env)]
        env: Vec<(String, String)>,
        /// The command and its arguments.
        #[arg(required = true, value_name = "CMD")]
        command: Vec<String>,
    },
    /// Name the network namespace(s) a process is in [default: nsbox itself].
    Identify {
        /// The process [default: nsbox itself].
        pid: Option<i32>,
    },
    /// List the processes in a named network namespace.
    Pids {
        /// The namespace whose processes to list.
        name: String,
    },
    /// Give the network namespace of a process a name.
    Attach {
        /// The name to give it.
        name: String,
        /// The process whose network namespace it names.
        pid: i32,
    },
    /// Give a named network namespace an id in nsbox's own namespace.
    Set {
        /// The named namespace.
        name: String,
        /// The id it gets in nsbox's own namespace.
        nsid: i32,
    },
}

pub fn netns(args: NetnsArgs) -> i32 {
    let registry = Registry::default();
    let result = match args.command {
        NetnsCmd::Add { name } => registry.add(&name).map(drop),
        NetnsCmd::Attach { name, pid } => registry.attach(&name, pid).map(drop),
        NetnsCmd::List { json } => return list(&registry, json),
        NetnsCmd::Set { name, nsid } => {
            return match nsbox_net::nsid::set_named(&registry, &name, nsid) {
                Ok(()) => 0,
                Err(e) => {
                    crate::report(e);
                    1
                }
            }
        }
        NetnsCmd::Delete {
            names,
            all,
            wait,
            wait_timeout,
        } => return delete(&registry, names, all, wait.then_some(wait_timeout)),
        NetnsCmd::Exec { name, env, command } => {
            let command = match Command::new(&command, &env) {
                Ok(c) => c,
                Err(e) => {
                    crate::report(e);
                    return EXIT_SETUP_FAILED;
                }
            };
            let failure = nsbox_runtime::netns_exec::netns_exec(&registry, &name, &command);
            crate::report(&failure.message);
            return failure.code;
        }
        NetnsCmd::Identify { pid } => registry
            .identify(pid.unwrap_or(std::process::id() as i32))
            .map(|names| names.iter().for_each(|n| println!("{n}"))),
        NetnsCmd::Pids { name } => registry
            .pids(&name)
            .map(|pids| pids.iter().for_each(|p| println!("{p}"))),
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            crate::report(e);
            1
        }
    }
}

/// Lists the namespaces as `ip netns list` does: "NAME (id: N)".
fn list(registry: &Registry, json: bool) -> i32 {
    match nsbox_net::nsid::list_with_ids(registry) {
        Ok(all) if json => {
            crate::output::print_json(&all);
            0
        }
        Ok(all) => {
            for n in all {
                match n.nsid {
                    Some(id) => println!("{} (id: {id})", n.name),
                    None => println!("{}", n.name),
                }
            }
            0
        }
        Err(e) => {
            crate::report(e);
            1
        }
    }
}

/// Deletes every namespace asked for, going on past failures (each is
/// reported); fails if any failed. With `wait`, returns once the kernel has
/// torn them all down.
fn delete(registry: &Registry, names: Vec<std::ffi::OsString>, all: bool, wait: Option<std::time::Duration>) -> i32 {
    let names: Vec<std::ffi::OsString> = if all {
        match registry.list() {
            Ok(list) => list.into_iter().map(|n| n.raw).collect(),
            Err(e) => {
                crate::report(e);
                return 1;
            }
        }
    } else {
        names
    };
    if let Some(timeout) = wait {
        return match nsbox_net::teardown::delete_and_wait(registry, &names, timeout) {
            Ok(()) => 0,
            Err(e) => {
                crate::report(e);
                1
            }
        };
    }
    let mut code = 0;
    for name in names {
        if let Err(e) = registry.delete(&name) {
            crate::report(e);
            code = 1;
        }
    }
    code
}
