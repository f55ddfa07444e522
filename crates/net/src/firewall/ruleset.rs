//! A ruleset written in nft's own language, loaded whole into a namespace
//! beside nsbox's table: what a lab node's `nftables:` block holds (chain
//! policies, `ct state` matches, sets, DNAT in the output hook: everything
//! engineers write that nsbox's rule words do not say).
//!
//! nsbox loads such a ruleset with `nft -f -` in the namespace, checks one
//! with `nft -c -f -` in a throwaway namespace (so that `validate` refuses
//! what `up` would), and lists the tables of a namespace other than its
//! own (what `explain` does not model). nft's own errors are kept with
//! their line and column in the ruleset, for the caller to place in its
//! file.

use super::nft::{self, Refusal};
use super::{FirewallError, TABLE};
use std::os::fd::OwnedFd;

/// One of nft's errors about a ruleset: where (1-based line and column in
/// the ruleset's text, when nft says) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NftError {
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

/// Why a ruleset was not loaded (or would not be).
#[derive(Debug, thiserror::Error)]
pub enum RulesetError {
    #[error(transparent)]
    Run(#[from] FirewallError),
    #[error("nft refused the ruleset: {}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
    Refused(Vec<NftError>),
}

impl std::fmt::Display for NftError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.line, self.column) {
            (Some(line), Some(column)) => write!(f, "line {line}, column {column}: {}", self.message),
            (Some(line), None) => write!(f, "line {line}: {}", self.message),
            _ => f.write_str(&self.message),
        }
    }
}

/// The words of each line of nft text, comments left out, with its
/// 1-based number: `table inet fw {` is `table`, `inet`, `fw`.
fn lines_of_words(text: &str) -> impl Iterator<Item = (usize, Vec<&str>)> {
    text.lines().enumerate().map(|(i, line)| {
        let words = line
            .split('#')
            .next()
            .unwrap_or_default()
            .split(|c: char| c.is_whitespace() || c == '{' || c == ';')
            .filter(|w| !w.is_empty())
            .collect();
        (i + 1, words)
    })
}

/// Why `text` cannot be a node's ruleset before nft is even asked: it may
/// not name nsbox's own table (`inet nsbox`, to make, change or delete it),
/// nor flush the whole ruleset (which holds that table too). The line
/// (1-based) and what is wrong.
pub fn forbidden(text: &str) -> Option<(usize, String)> {
    for (line, words) in lines_of_words(text) {
        if words.windows(2).any(|w| w == ["flush", "ruleset"]) {
            return Some((
                line,
                format!(
                    "`flush ruleset` would remove nsbox's own table too (inet {TABLE}): a lab node's \
                     namespace starts with no ruleset, so nothing needs flushing"
                ),
            ));
        }
        if words.windows(2).any(|w| w == ["inet", TABLE]) {
            return Some((
                line,
                format!("table inet {TABLE} is nsbox's own (the node's nat: and filter: rules): name yours otherwise"),
            ));
        }
    }
    None
}

/// The tables `text` declares (`table inet fw {`, `add table inet fw`;
/// `table NAME` is of the ip family), as `FAMILY NAME`, each once.
pub fn declared_tables(text: &str) -> Vec<String> {
    const FAMILIES: [&str; 6] = ["ip", "ip6", "inet", "arp", "bridge", "netdev"];
    let mut out: Vec<String> = Vec::new();
    for (_, words) in lines_of_words(text) {
        let words = match words.first() {
            Some(&"add") | Some(&"create") => &words[1..],
            _ => &words[..],
        };
        let table = match words {
            ["table", family, name, ..] if FAMILIES.contains(family) => format!("{family} {name}"),
            ["table", name, ..] => format!("ip {name}"),
            _ => continue,
        };
        if !out.contains(&table) {
            out.push(table);
        }
    }
    out
}

/// Loads `text` with `nft -f -` in namespace `ns`: all of it, or (nft
/// applies a file as one transaction) none of it.
pub fn load(ns: &OwnedFd, text: &str) -> Result<(), RulesetError> {
    match nft::run(ns, &["-f", "-"], Some(text.to_string()))? {
        Ok(_) => Ok(()),
        Err(refusal) => Err(RulesetError::Refused(errors(&refusal))),
    }
}

/// Checks `text` as [`load`] would load it, in a throwaway namespace
/// (`nft -c`: nothing is applied, but the kernel is asked, so a chain that
/// jumps nowhere is caught as well as a syntax error).
pub fn check(text: &str) -> Result<(), RulesetError> {
    let namespace = nsbox_ns::netns::new_anonymous().map_err(FirewallError::from)?;
    match nft::run(&namespace, &["-c", "-f", "-"], Some(text.to_string()))? {
        Ok(_) => Ok(()),
        Err(refusal) => Err(RulesetError::Refused(errors(&refusal))),
    }
}

/// Deletes those of `tables` (`FAMILY NAME`) that namespace `ns` has, in
/// one transaction: a ruleset's own tables, before another is loaded.
/// Never nsbox's own, and never a table not named (one made by hand).
pub fn remove_tables(ns: &OwnedFd, tables: &[String]) -> Result<(), RulesetError> {
    let present = foreign_tables(ns)?;
    let batch: String = tables
        .iter()
        .filter(|t| present.contains(t))
        .map(|t| format!("delete table {t}\n"))
        .collect();
    if batch.is_empty() {
        return Ok(());
    }
    load(ns, &batch)
}

/// The tables of namespace `ns` other than nsbox's, as `FAMILY NAME`.
pub fn foreign_tables(ns: &OwnedFd) -> Result<Vec<String>, FirewallError> {
    let listed = match nft::run(ns, &["list", "tables"], None)? {
        Ok(text) => text,
        Err(refusal) => {
            return Err(FirewallError::Refused {
                step: "listing tables",
                message: refusal.message(),
            })
        }
    };
    Ok(tables_in(&listed))
}

/// `table inet fw` lines of `nft list tables` as `inet fw`, nsbox's left out.
fn tables_in(listed: &str) -> Vec<String> {
    listed
        .lines()
        .filter_map(|l| l.trim().strip_prefix("table "))
        .map(|t| t.trim().to_string())
        .filter(|t| *t != format!("inet {TABLE}"))
        .collect()
}

/// nft's errors (`/dev/stdin:3:9-14: Error: syntax error, ...`), each with
/// its line and first column; text without that shape is one error.
fn errors(refusal: &Refusal) -> Vec<NftError> {
    let found: Vec<NftError> = refusal
        .stderr
        .lines()
        .filter_map(|line| {
            let (place, message) = line.split_once(": Error: ")?;
            let mut parts = place.rsplitn(3, ':');
            let columns = parts.next()?;
            let line_no = parts.next()?.parse().ok();
            let column = columns.split('-').next().and_then(|c| c.parse().ok());
            let mut message = message.trim().to_string();
            if message.ends_with("No such file or directory") {
                message.push_str(" (a table, chain or set it names does not exist)");
            }
            Some(NftError {
                line: line_no,
                column,
                message,
            })
        })
        .collect();
    if found.is_empty() {
        vec![NftError {
            line: None,
            column: None,
            message: refusal.message(),
        }]
    } else {
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nft_errors_keep_their_line_and_column() {
        let refusal = Refusal {
            stderr: "/dev/stdin:4:8-12: Error: syntax error, unexpected state\n    ct state x\n       ^^^^^\n\
                     /dev/stdin:2:52-55: Error: Could not process rule: No such file or directory\n"
                .into(),
        };
        let found = errors(&refusal);
        assert_eq!(found.len(), 2);
        assert_eq!((found[0].line, found[0].column), (Some(4), Some(8)));
        assert_eq!(found[0].message, "syntax error, unexpected state");
        assert_eq!(
            found[1].to_string(),
            "line 2, column 52: Could not process rule: No such file or directory \
             (a table, chain or set it names does not exist)"
        );
        let plain = Refusal {
            stderr: "something odd\n".into(),
        };
        assert_eq!(errors(&plain)[0].to_string(), "something odd");
    }

    #[test]
    fn nsbox_s_table_and_a_full_flush_are_refused() {
        assert_eq!(forbidden("table inet fw {\n}\n"), None);
        assert_eq!(forbidden("# flush ruleset\ntable ip nsbox {}\n"), None);
        assert_eq!(forbidden("table ip fw {}\n  flush ruleset\n").unwrap().0, 2);
        assert!(forbidden("table inet nsbox {\n}").unwrap().1.contains("nsbox's own"));
        assert!(forbidden("add table inet nsbox").is_some());
    }

    #[test]
    fn tables_are_named_with_their_family() {
        let text = "table inet fw {\n}\nadd table ip nat\ntable t {\n}\n# table ip6 no\ntable inet fw{\n}";
        assert_eq!(declared_tables(text), ["inet fw", "ip nat", "ip t"]);
    }

    #[test]
    fn tables_are_listed_without_nsbox_s() {
        let listed = "table inet nsbox\ntable inet fw\ntable ip nat\n";
        assert_eq!(tables_in(listed), ["inet fw", "ip nat"]);
    }
}
