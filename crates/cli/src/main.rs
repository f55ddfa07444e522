//! The `nsbox` command line: argument parsing, output and exit codes only.

mod ns_cmd;
mod unshare_cmd;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "nsbox",
    version,
    about = "Linux containers and network labs from the kernel's namespaces"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run a command in new namespaces: a container from flags.
    Unshare(Box<unshare_cmd::UnshareArgs>),
    /// Run a command in the namespaces of a running process.
    Enter(unshare_cmd::EnterArgs),
    /// Show the namespaces of a process, or every namespace on the system.
    Ns(ns_cmd::NsArgs),
}

fn main() {
    let cli = Cli::parse();
    let code = match cli.command {
        Cmd::Unshare(args) => unshare_cmd::unshare(*args),
        Cmd::Enter(args) => unshare_cmd::enter(args),
        Cmd::Ns(args) => ns_cmd::ns(args),
    };
    std::process::exit(code);
}

/// Prints `nsbox: message` on stderr, the one line every error gets.
/// Rust's io errors end in " (os error N)"; people read the text alone.
pub(crate) fn report(err: impl std::fmt::Display) {
    eprintln!("nsbox: {}", strip_os_error_codes(&err.to_string()));
}

fn strip_os_error_codes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(" (os error ") {
        out.push_str(&rest[..start]);
        match rest[start..].find(')') {
            Some(end) => rest = &rest[start + end + 1..],
            None => {
                rest = &rest[start..];
                break;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn os_error_codes_are_stripped() {
        let text = "writing \"1\" to /x: Invalid argument (os error 22); then: Busy (os error 16)";
        assert_eq!(
            super::strip_os_error_codes(text),
            "writing \"1\" to /x: Invalid argument; then: Busy"
        );
    }
}
