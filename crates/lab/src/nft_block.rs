//! A node's own nftables ruleset (`nftables: |` in the lab file): nft's
//! language, loaded whole in the node beside nsbox's table, for what the
//! `nat:` and `filter:` words do not say (chain policies, `ct state`,
//! sets, DNAT of the node's own traffic).
//!
//! It keeps where its text starts in the lab file, so that nft's errors
//! (a line and column of the ruleset) are reported at the file's line and
//! column.

use serde::Serialize;

/// The ruleset and where its first line is in the lab file.
#[derive(Debug, Clone, Serialize)]
pub struct NftBlock {
    pub text: String,
    #[serde(skip)]
    origin: Origin,
}

/// Two blocks are the same ruleset when their text is: where they were
/// written does not matter to the kernel (or to `apply`'s plan).
impl PartialEq for NftBlock {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

/// Where the ruleset's line 1, column 1 is in the lab file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Origin {
    line: u64,
    column: u64,
}

impl NftBlock {
    /// The ruleset `text`, written in `source` as the YAML value that begins
    /// at `line`:`column` (1-based): a block scalar (`|`, `>`) starts on the
    /// next line, at its first content line's indentation; a scalar on one
    /// line starts where it is (after its quote, if quoted).
    pub fn new(text: String, source: &str, line: u64, column: u64) -> Self {
        let lines: Vec<&str> = source.lines().collect();
        let at = |l: u64| lines.get(l.saturating_sub(1) as usize).copied().unwrap_or_default();
        let value = at(line)
            .chars()
            .skip(column.saturating_sub(1) as usize)
            .collect::<String>();
        let origin = if value.starts_with(['|', '>']) {
            // The first line with content after the indicator's.
            let first = (line + 1..=lines.len() as u64)
                .find(|&l| !at(l).trim().is_empty())
                .unwrap_or(line + 1);
            let indent = at(first).chars().take_while(|c| *c == ' ').count() as u64;
            Origin {
                line: first,
                column: indent + 1,
            }
        } else if value.starts_with(['"', '\'']) {
            Origin {
                line,
                column: column + 1,
            }
        } else {
            Origin { line, column }
        };
        NftBlock { text, origin }
    }

    /// The lab file's line and column of the ruleset's `line`:`column`.
    pub fn place(&self, line: Option<usize>, column: Option<usize>) -> (u64, u64) {
        match line {
            Some(l) if l >= 1 => (
                self.origin.line + l as u64 - 1,
                self.origin.column + column.unwrap_or(1).saturating_sub(1) as u64,
            ),
            _ => (self.origin.line, self.origin.column),
        }
    }

    /// The tables the ruleset declares, as `FAMILY NAME`: what `graph`
    /// names and `apply` deletes when the ruleset is replaced.
    pub fn tables(&self) -> Vec<String> {
        nsbox_net::firewall::ruleset::declared_tables(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "name: x\nnodes:\n  r:\n    nftables: |\n\n      table inet fw {\n        chain c {\n";

    #[test]
    fn a_block_scalar_starts_at_its_first_content_line() {
        let block = NftBlock::new("table inet fw {\n  chain c {\n".into(), FILE, 4, 15);
        assert_eq!(block.place(Some(1), Some(1)), (6, 7));
        assert_eq!(block.place(Some(2), Some(3)), (7, 9));
        assert_eq!(block.place(None, None), (6, 7));
    }

    #[test]
    fn a_quoted_scalar_starts_after_its_quote() {
        let file = "    nftables: \"table ip t {}\"\n";
        let block = NftBlock::new("table ip t {}".into(), file, 1, 15);
        assert_eq!(block.place(Some(1), Some(7)), (1, 22));
    }
}
