//! The `nsbox` command line: argument parsing, output and exit codes only.
//!
//! nsbox starts at a C `main` of its own rather than through Rust's runtime
//! start (`lang_start`): that start sets up a stack-overflow handler whose
//! glibc call reads and parses /proc/self/maps with stdio and scanf, then maps
//! an alternate signal stack, about 0.1 ms of a 2 ms container start. Without
//! it a stack overflow is a plain SIGSEGV rather than a message, and the main
//! thread has no name in panic messages. What else it did that matters,
//! nsbox does itself (see `main`).
// (Unit tests keep the test harness's own main.)
#![cfg_attr(not(test), no_main)]

mod firewall_cmd;
mod lab_cmd;
mod netns_cmd;
mod ns_cmd;
mod numbers;
mod oci;
mod output;

pub(crate) use output::report;
mod ping_cmd;
mod show_cmd;
mod unshare_cmd;
mod unshare_fast;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "nsbox",
    disable_version_flag = true,
    about = "Linux containers and network labs from the kernel's namespaces",
    after_help = "Exit status: 0 done; 1 failed (for `lab check` and `lab test`: an expectation does not hold; \
for `ping`: no reply); 2 a usage error (also `ping`'s local errors, as iputils). `unshare` and `enter` \
exit with the command's status, 128+N if it died of signal N, 125 if nsbox itself failed, 126 if the \
command could not be run, 127 if it was not found. The OCI runtime's verbs (create, start, run, state, \
kill, delete, list, spec, features) take runc's global flags before the verb and exit as runc: 0 done, 1 failed."
)]
struct Cli {
    #[command(flatten)]
    global: oci::GlobalOpts,
    /// Print the version (and the runtime-spec release it reads), as runc does.
    #[arg(short = 'v', long = "version")]
    version: bool,
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    #[command(about = unshare_cmd::ABOUT)]
    Unshare(Box<unshare_cmd::UnshareArgs>),
    /// Run a command in the namespaces of a running process.
    Enter(unshare_cmd::EnterArgs),
    /// Show the namespaces of a process, or every namespace on the system.
    Ns(ns_cmd::NsArgs),
    /// Named network namespaces, as `ip netns` (the same /run/netns files).
    Netns(netns_cmd::NetnsArgs),
    /// Show a network namespace: links, addresses, routes, neighbours, forwarding sysctls.
    Show(show_cmd::ShowArgs),
    /// Send ICMP echo requests from a network namespace, like iputils ping.
    Ping(ping_cmd::PingArgs),
    /// NAT rules (SNAT, MASQUERADE, DNAT) with counters, in nsbox's own nftables table of a namespace.
    Nat(firewall_cmd::NatArgs),
    /// Filter rules (accept, drop, reject) with counters, in nsbox's own nftables table of a namespace.
    Filter(firewall_cmd::FilterArgs),
    /// Declarative network labs: up, down, status, exec, check, test, validate, graph.
    Lab(lab_cmd::LabArgs),
    /// Print a shell completion script (bash: `nsbox completions bash >
    /// /etc/bash_completion.d/nsbox`).
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
    /// Print nsbox's man page (roff: `nsbox man | man -l -`).
    Man,
    /// OCI runtime: create a container from a bundle, waiting for `start`.
    Create(oci::CreateArgs),
    /// OCI runtime: start a created container.
    Start(oci::IdArg),
    /// OCI runtime: create and start a container; in the foreground, wait for it and exit with its status.
    Run(oci::RunArgs),
    /// OCI runtime: print a container's state as the OCI state JSON.
    State(oci::IdArg),
    /// OCI runtime: send a signal to a container (SIGTERM unless named).
    Kill(oci::KillArgs),
    /// OCI runtime: delete a stopped container (--force: any).
    Delete(oci::DeleteArgs),
    /// OCI runtime: list the containers under --root.
    List(oci::ListArgs),
    /// OCI runtime: freeze every process of a running container.
    Pause(oci::IdArg),
    /// OCI runtime: thaw a paused container.
    Resume(oci::IdArg),
    /// OCI runtime: list a container's processes (ps's table, or their PIDs as JSON).
    Ps(oci::PsArgs),
    /// OCI runtime: change a container's resources (a JSON file, or runc's flags).
    Update(oci::UpdateArgs),
    /// OCI runtime: a container's statistics and OOM events, as JSON lines.
    Events(oci::EventsArgs),
    /// OCI runtime: run a new process in a running container.
    Exec(oci::ExecArgs),
    /// OCI runtime: write a starting config.json.
    Spec(oci::SpecArgs),
    /// OCI runtime: print what this runtime supports (JSON, as runc's `features`).
    Features,
}

/// Writes the completion script for `shell` to stdout.
fn completions(shell: clap_complete::Shell) -> i32 {
    use clap::CommandFactory;
    clap_complete::generate(shell, &mut Cli::command(), "nsbox", &mut std::io::stdout());
    0
}

/// Writes the man page (with every subcommand's page after it) to stdout.
fn man_page() -> i32 {
    use clap::CommandFactory;
    let command = Cli::command();
    let mut out = Vec::new();
    let rendered = clap_mangen::Man::new(command.clone()).render(&mut out).and_then(|()| {
        command.get_subcommands().try_for_each(|sub| {
            // clap takes a static name (its "string" feature is off); the
            // process prints the pages and exits.
            let name: &'static str = Box::leak(format!("nsbox-{}", sub.get_name()).into_boxed_str());
            clap_mangen::Man::new(sub.clone().name(name)).render(&mut out)
        })
    });
    use std::io::Write;
    match rendered.and_then(|()| std::io::stdout().write_all(&out)) {
        Ok(()) => 0,
        Err(e) => {
            report(e);
            1
        }
    }
}

// SAFETY: no other symbol of the program is named `main`: the crate is
// `#![no_main]`, so Rust emits no `main` of its own, and glibc's start code
// calls this one as C's main.
#[cfg(not(test))]
#[unsafe(no_mangle)]
extern "C" fn main(_argc: std::ffi::c_int, _argv: *const *const std::ffi::c_char) -> std::ffi::c_int {
    // std reads the arguments itself (glibc hands them to its init_array
    // hook); Rust's start would also have done these two things.
    // A closed stdin, stdout or stderr is opened on /dev/null, so that no
    // file nsbox opens (a pipe to its child, say) takes its number.
    nsbox_sys::open_closed_std_fds();
    // Like other command-line tools, die quietly of a broken pipe (`nsbox
    // ns --all | head`) rather than fail the next write.
    nsbox_sys::signal::restore_sigpipe();
    run()
}

// Unit tests have only the harness's main, which does not call this.
#[cfg_attr(test, allow(dead_code))]
fn run() -> ! {
    // A container start is nsbox's most frequent and most timed job:
    // `unshare` is parsed apart, without building clap's tree of every
    // subcommand (about 0.4 ms), and by a fast path (see unshare_fast).
    if std::env::args_os().nth(1).is_some_and(|a| a == "unshare") {
        std::process::exit(unshare_cmd::unshare(parse_unshare()));
    }
    // The OCI verbs engines call: parsed apart too (see oci::fast).
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    if let Some((global, verb)) = oci::fast::parse(&args) {
        std::process::exit(oci::dispatch(&global, verb));
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => exit_on_usage_error(err),
    };
    let Some(command) = cli.command else {
        if cli.version {
            std::process::exit(oci::print_version());
        }
        use clap::CommandFactory;
        let _ = Cli::command().print_help();
        std::process::exit(EXIT_USAGE);
    };
    let global = &cli.global;
    let code = match command {
        // Parsed apart above; here only for `nsbox help unshare` and the like.
        Cmd::Unshare(args) => unshare_cmd::unshare(*args),
        Cmd::Enter(args) => unshare_cmd::enter(args),
        Cmd::Ns(args) => ns_cmd::ns(args),
        Cmd::Netns(args) => netns_cmd::netns(args),
        Cmd::Show(args) => show_cmd::show(args),
        Cmd::Ping(args) => ping_cmd::ping_cmd(args),
        Cmd::Nat(args) => firewall_cmd::nat(args),
        Cmd::Filter(args) => firewall_cmd::filter(args),
        Cmd::Lab(args) => lab_cmd::lab(args),
        Cmd::Completions { shell } => completions(shell),
        Cmd::Man => man_page(),
        Cmd::Create(args) => oci::create(global, args),
        Cmd::Start(args) => oci::start(global, args),
        Cmd::Run(args) => oci::run(global, args),
        Cmd::State(args) => oci::state(global, args),
        Cmd::Kill(args) => oci::kill(global, args),
        Cmd::Delete(args) => oci::delete(global, args),
        Cmd::List(args) => oci::list(global, args),
        Cmd::Pause(args) => oci::pause(global, args),
        Cmd::Resume(args) => oci::resume(global, args),
        Cmd::Ps(args) => oci::ps(global, args),
        Cmd::Update(args) => oci::update(global, args),
        Cmd::Events(args) => oci::events(global, args),
        Cmd::Exec(args) => oci::exec(global, args),
        Cmd::Spec(args) => oci::spec(args),
        Cmd::Features => oci::features(),
    };
    std::process::exit(code);
}

/// `nsbox unshare ...`'s arguments: the fast path's reading of them, or
/// clap's (with its help and messages) when that has none.
fn parse_unshare() -> unshare_cmd::UnshareArgs {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    unshare_fast::parse(&args[1..])
        .unwrap_or_else(|| unshare_cmd::parse_with_clap(args).unwrap_or_else(|err| exit_on_usage_error(err)))
}

/// Prints `nsbox: message` on stderr, the one line every error gets.
/// The exit status of a command line nsbox does not understand.
pub(crate) const EXIT_USAGE: i32 = 2;

/// Help and version go to stdout as clap prints them. A usage error is
/// nsbox's one line ("nsbox: ..."), then clap's hint and usage line, so
/// that the user sees what to type; exit status 2 for every command, as
/// clap, `ip` and iputils ping say it (the container's own statuses,
/// 125/126/127 and 128+N, are for what happens once the command line is
/// understood).
fn exit_on_usage_error(err: clap::Error) -> ! {
    use clap::error::ErrorKind;
    if matches!(
        err.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        err.exit();
    }
    let text = err.render().to_string();
    // The message is the first paragraph; clap wraps some over two lines.
    let mut paragraphs = text.split("\n\n");
    let message: Vec<&str> = paragraphs.next().unwrap_or_default().lines().map(str::trim).collect();
    let message = message.join(" ");
    report(message.strip_prefix("error: ").unwrap_or(&message));
    // The rest as clap says it: "  tip: ...", "Usage: ...", "For more
    // information, try '--help'."
    for line in paragraphs.flat_map(str::lines).filter(|l| !l.trim().is_empty()) {
        eprintln!("{line}");
    }
    std::process::exit(EXIT_USAGE);
}

#[cfg(test)]
mod help {
    use clap::CommandFactory;

    /// Every argument of every command says what it is in `--help`.
    #[test]
    fn every_argument_has_a_description() {
        fn walk(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in command.get_arguments() {
                let id = arg.get_id().as_str();
                if id == "help" || id == "version" {
                    continue;
                }
                if arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{path} {id}"));
                }
            }
            for sub in command.get_subcommands() {
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut command = super::Cli::command();
        command.build();
        let mut missing = Vec::new();
        walk(&command, "nsbox", &mut missing);
        assert!(
            missing.is_empty(),
            "arguments without a description:\n{}",
            missing.join("\n")
        );
    }
}
