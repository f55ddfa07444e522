//! Running `nft` inside a network namespace: the process is started by a
//! thread that has joined the namespace (a child starts in its parent
//! thread's namespaces), so nsbox's own threads and mount namespace never
//! change.

use super::FirewallError;
use std::io::{Seek, Write};
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// Where `nft` is: `$NSBOX_NFT` if set, else on `PATH` or in the sbin
/// directories a non-login shell may leave out of it.
pub(crate) fn locate() -> Result<PathBuf, FirewallError> {
    if let Some(chosen) = std::env::var_os("NSBOX_NFT") {
        let chosen = PathBuf::from(chosen);
        return if chosen.is_file() {
            Ok(chosen)
        } else {
            Err(FirewallError::NftMissing)
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|dir| dir.join("nft"))
        .find(|candidate| candidate.is_file())
        .ok_or(FirewallError::NftMissing)
}

/// `text` in an anonymous in-memory file, read from its start: nft's
/// stdin. A file, not a pipe: an nft that stops reading early cannot make
/// nsbox die of SIGPIPE (which nsbox leaves at its default, as command-line
/// tools do), and nothing has to keep writing while nft runs.
fn input_file(text: &str) -> std::io::Result<OwnedFd> {
    let fd = rustix::fs::memfd_create("nsbox-nft-input", rustix::fs::MemfdFlags::CLOEXEC)?;
    let mut file = std::fs::File::from(fd);
    file.write_all(text.as_bytes())?;
    file.seek(std::io::SeekFrom::Start(0))?;
    Ok(OwnedFd::from(file))
}

/// A failed `nft`: its status and what it printed on stderr.
#[derive(Debug)]
pub(crate) struct Refusal {
    pub stderr: String,
}

impl Refusal {
    /// nft's own words: the `Error:` lines, without the echo of the input.
    pub fn message(&self) -> String {
        let errors: Vec<&str> = self
            .stderr
            .lines()
            .filter_map(|l| l.split_once("Error: ").map(|(_, message)| message))
            .collect();
        if errors.is_empty() {
            self.stderr.trim().to_string()
        } else {
            errors.join("; ")
        }
    }

    /// nft reports a table or chain that is not there as ENOENT.
    pub fn is_missing_table(&self) -> bool {
        self.stderr.contains("No such file or directory")
    }
}

/// Runs `nft ARGS` in the namespace `ns`, with `input` on its stdin. The
/// outer error is one of running it at all; the inner one is nft refusing.
pub(crate) fn run(
    ns: &OwnedFd,
    args: &[&str],
    input: Option<String>,
) -> Result<Result<String, Refusal>, FirewallError> {
    let program = locate()?;
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let spawned = nsbox_ns::netns::run_in_fd(ns, move || -> std::io::Result<std::process::Output> {
        let stdin = match input {
            Some(text) => Stdio::from(input_file(&text)?),
            None => Stdio::null(),
        };
        Command::new(&program)
            .args(&args)
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
    })?;
    let output = spawned.map_err(FirewallError::Spawn)?;
    let text = |bytes: Vec<u8>| String::from_utf8_lossy(&bytes).into_owned();
    if output.status.success() {
        Ok(Ok(text(output.stdout)))
    } else {
        Ok(Err(Refusal {
            stderr: text(output.stderr),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::Refusal;

    #[test]
    fn nft_errors_are_read_without_their_position_and_input_echo() {
        let refusal = Refusal {
            stderr: "internal:0:0-0: Error: Could not process rule: No such file or directory\n\n".into(),
        };
        assert_eq!(refusal.message(), "Could not process rule: No such file or directory");
        assert!(refusal.is_missing_table());
        let plain = Refusal {
            stderr: "Error: syntax error\nlist table x\n^^^^\n".into(),
        };
        assert_eq!(plain.message(), "syntax error");
        let other = Refusal {
            stderr: "something else\n".into(),
        };
        assert_eq!(other.message(), "something else");
    }
}
