//! The YAML reader's errors in the words of the lab file: where the
//! mistake is (the key itself, not the mapping around it) and what is
//! wrong, never the names of the parser's types ("untagged enum Scalar",
//! "expected mapping start", "invalid u32").

use std::fmt::Write;

/// The line, column and message of a YAML error in `text`.
pub fn explain(error: &serde_saphyr::Error, text: &str) -> (u64, u64, String) {
    let raw = error.to_string();
    let mut message = strip_positions(raw.lines().next().unwrap_or_default());
    let (mut line, mut column) = error
        .location()
        .map(|l| (l.line(), l.column()))
        .filter(|&(line, _)| line > 0)
        .unwrap_or((1, 1));
    if holds_no_lab(text) {
        return (
            1,
            1,
            "the file holds no lab: it needs at least `name` and `nodes`".into(),
        );
    }
    if let Some(key) = unknown_key(&message) {
        if let Some((l, c)) = find_key(text, line, column, &key) {
            (line, column) = (l, c);
        }
    }
    message = in_lab_words(&message);
    if message.starts_with("mapping values are not allowed") {
        if let Some(hint) = quoting_hint(text, line) {
            message = format!("{message}: {hint}");
        }
    }
    (line, column, message)
}

/// YAML reads a second `: ` in a plain value as a nested mapping (an
/// IPv6 reason such as `(destination unreachable: no route ...)`): the
/// fix is quotes around the value, shown on the line itself.
fn quoting_hint(text: &str, line: u64) -> Option<String> {
    let source = text.lines().nth(usize::try_from(line).ok()?.checked_sub(1)?)?.trim();
    let (key, value) = source.split_once(": ")?;
    let quote = if value.contains('"') { '\'' } else { '"' };
    Some(format!(
        "the value of `{key}` holds a `: `, which YAML reads as a mapping; quote the value: {key}: {quote}{value}{quote}"
    ))
}

/// The first error and, where the reader can go on past it, the ones
/// after it: the block-mapping entry an error is about (an unknown key, or
/// a key whose value is of the wrong kind) is set aside (it and the lines
/// indented under it) and the file read again, up to a few times. Setting
/// aside a key the file must have makes it "missing": that is not a new
/// mistake, and the reading stops there. Sorted by position.
pub fn all_structural(first: &serde_saphyr::Error, text: &str) -> Vec<(u64, u64, String)> {
    const MORE: usize = 20;
    let mut found = vec![explain(first, text)];
    let mut masked: Vec<String> = text.lines().map(str::to_string).collect();
    for _ in 0..MORE {
        let (line, column, message) = found.last().expect("one at least").clone();
        let Some(key) = entry_to_set_aside(&mut masked, line, column, &message) else {
            break;
        };
        let again = masked.join("\n");
        match serde_saphyr::from_str::<crate::file::LabFile>(&again) {
            Ok(_) => break,
            Err(e) => {
                let next = explain(&e, &again);
                if found.contains(&next) || next.2 == format!("missing key `{key}`") {
                    break;
                }
                found.push(next);
            }
        }
    }
    found.sort_by_key(|(line, column, _)| (*line, *column));
    found
}

/// Blanks the entry that the error at (`line`, `column`) is about, and
/// returns its key: the key itself for an unknown key, or the key before
/// the value for a value of the wrong kind (`KEY: VALUE` on one line).
/// None where it is not a block-mapping entry of its own line.
fn entry_to_set_aside(lines: &mut [String], line: u64, column: u64, message: &str) -> Option<String> {
    let text = lines.get((line as usize).checked_sub(1)?)?.clone();
    if let Some(rest) = message.strip_prefix("unknown key `") {
        let key = rest.split('`').next().unwrap_or_default().to_string();
        return mask_block_key(lines, line, column).then_some(key);
    }
    if !message.starts_with("expected ") {
        return None;
    }
    // The value starts at `column`; before it, only "KEY:" and blanks.
    let before = text.get(..(column as usize).checked_sub(1)?)?;
    let key = before.trim_end().strip_suffix(':')?.trim_start();
    if key.is_empty() || key.contains([' ', '{', '[', ',', '-', ':']) {
        return None;
    }
    let key_column = (before.len() - before.trim_start().len() + 1) as u64;
    mask_block_key(lines, line, key_column).then(|| key.to_string())
}

/// Blanks the block-mapping entry whose key starts at (`line`, `column`)
/// and the lines indented under it; false if the key does not start its
/// line (a flow mapping, which cannot be cut so simply).
fn mask_block_key(lines: &mut [String], line: u64, column: u64) -> bool {
    let Some(at) = (line as usize).checked_sub(1).filter(|&i| i < lines.len()) else {
        return false;
    };
    let indent = |l: &str| l.chars().take_while(|c| *c == ' ').count();
    let own = indent(&lines[at]);
    if own + 1 != column as usize {
        return false;
    }
    lines[at] = String::new();
    for l in lines.iter_mut().skip(at + 1) {
        let blank = l.trim().is_empty() || l.trim_start().starts_with('#');
        if !blank && indent(l) <= own {
            break;
        }
        *l = String::new();
    }
    true
}

/// Whether the text is empty, or only comments, or a null document.
fn holds_no_lab(text: &str) -> bool {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && *l != "---" && *l != "...")
        .all(|l| matches!(l, "null" | "~" | "Null" | "NULL"))
}

/// The message without the positions the library puts before it ("line 3
/// column 6: ") and after it (" at line 3, column 6", sometimes twice):
/// ours goes in front already.
fn strip_positions(text: &str) -> String {
    let mut text = text.strip_prefix("error: ").unwrap_or(text).to_string();
    if let Some((position, rest)) = text.split_once(": ") {
        if position.starts_with("line ") && position.contains(" column ") {
            text = rest.to_string();
        }
    }
    while let Some(at) = text.rfind(" at line ") {
        let tail = &text[at + " at line ".len()..];
        let is_position = tail
            .split_once(", column ")
            .is_some_and(|(l, c)| l.bytes().all(|b| b.is_ascii_digit()) && c.bytes().all(|b| b.is_ascii_digit()));
        if !is_position {
            break;
        }
        text.truncate(at);
    }
    text
}

fn unknown_key(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    Some(rest.split_once('`')?.0.to_string())
}

/// The position of `key` used as a key, at or after (`line`, `column`)
/// (where the mapping that holds it starts).
fn find_key(text: &str, line: u64, column: u64, key: &str) -> Option<(u64, u64)> {
    for (i, content) in text.lines().enumerate().skip(line.saturating_sub(1) as usize) {
        let chars: Vec<char> = content.chars().collect();
        let from = if i + 1 == line as usize {
            column.saturating_sub(1) as usize
        } else {
            0
        };
        let key: Vec<char> = key.chars().collect();
        for start in from..chars.len() {
            let before_ok = start == 0 || matches!(chars[start - 1], ' ' | '{' | ',' | '\t' | '-' | '"' | '\'');
            let quoted = start > 0 && matches!(chars[start - 1], '"' | '\'');
            if !before_ok || !chars[start..].starts_with(&key) {
                continue;
            }
            let mut after = start + key.len();
            if quoted && chars.get(after).is_some_and(|&c| c == '"' || c == '\'') {
                after += 1;
            }
            while chars.get(after) == Some(&' ') {
                after += 1;
            }
            if chars.get(after) == Some(&':') {
                let at = if quoted { start - 1 } else { start };
                return Some((i as u64 + 1, at as u64 + 1));
            }
        }
    }
    None
}

/// The library's message, said in the words of a lab file.
fn in_lab_words(message: &str) -> String {
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let (key, rest) = rest.split_once('`').unwrap_or((rest, ""));
        let expected = rest
            .trim_start_matches(',')
            .trim()
            .trim_start_matches("expected ")
            .trim_start_matches("one of ")
            .replace('`', "");
        let known: Vec<&str> = expected
            .split([',', ' '])
            .filter(|k| !k.is_empty() && *k != "or")
            .collect();
        let mut out = format!("unknown key `{key}`");
        if let Some(close) = known.iter().find(|k| edit_distance(k, key) <= 2) {
            let _ = write!(out, " (did you mean `{close}`?)");
        }
        if !known.is_empty() {
            let _ = write!(out, "; the keys here are {}", known.join(", "));
        }
        return out;
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        let key = rest.split_once('`').map_or(rest, |(k, _)| k);
        return format!("missing key `{key}`");
    }
    if let Some(rest) = message.strip_prefix("invalid type: ") {
        if let Some((found, expected)) = rest.split_once(", expected ") {
            return format!("expected {}, not {}", words_for(expected), found_words(found));
        }
    }
    if let Some(rest) = message.strip_prefix("cannot deserialize null into ") {
        let kind = rest.split(';').next().unwrap_or(rest);
        return format!("expected {}, not nothing (null)", words_for(kind));
    }
    if let Some(rest) = message.strip_prefix("unexpected event: expected ") {
        return format!("expected {}", words_for(rest));
    }
    if let Some(rest) = message.strip_prefix("invalid YAML 1.1 bool: ") {
        return format!("expected true or false, not {rest}");
    }
    if let Some(kind) = message.strip_prefix("invalid ") {
        if let Some(range) = integer_range(kind.trim()) {
            return format!("expected a whole number from {range}");
        }
    }
    if message.starts_with("YAML budget breached") {
        return "the file is too large for a lab file (the YAML reader stops at its size limits)".into();
    }
    if let Some(key) = message.strip_prefix("duplicate mapping key: ") {
        return format!("`{key}` is given twice");
    }
    if message.starts_with("unexpected end of input") {
        return "the file ends in the middle of something (an unclosed bracket or quote?)".into();
    }
    if message.contains("untagged enum") {
        return "a value of the wrong kind here".into();
    }
    message.to_string()
}

/// What the parser expected, in a lab file's words.
fn words_for(expected: &str) -> String {
    match expected {
        "sequence start" | "a sequence" | "sequence" => "a list ([a, b] or lines starting with '- ')".into(),
        "mapping start" | "a map" | "map" | "a mapping" => "a mapping (KEY: VALUE)".into(),
        "string scalar" | "a string" | "string" => "a text".into(),
        "a boolean" => "true or false".into(),
        other => match integer_range(other.trim_start_matches("a ").trim_start_matches("an ")) {
            Some(range) => format!("a whole number from {range}"),
            None => other.to_string(),
        },
    }
}

/// What the file had, as "invalid type" says it: "sequence", "map",
/// "string \"x\"", "integer `5`", "boolean `true`", "unit value".
fn found_words(found: &str) -> String {
    match found {
        "sequence" => "a list".into(),
        "map" => "a mapping".into(),
        "unit value" | "null" => "nothing (null)".into(),
        other => other
            .strip_prefix("string ")
            .or_else(|| other.strip_prefix("integer "))
            .or_else(|| other.strip_prefix("floating point "))
            .or_else(|| other.strip_prefix("boolean "))
            .unwrap_or(other)
            .to_string(),
    }
}

/// "0 to 65535" for the integer type names serde uses.
fn integer_range(kind: &str) -> Option<String> {
    Some(match kind {
        "u8" => format!("0 to {}", u8::MAX),
        "u16" => format!("0 to {}", u16::MAX),
        "u32" | "u32 integer" => format!("0 to {}", u32::MAX),
        "u64" => format!("0 to {}", u64::MAX),
        "i32" => format!("{} to {}", i32::MIN, i32::MAX),
        "i64" => format!("{} to {}", i64::MIN, i64::MAX),
        _ => return None,
    })
}

/// Levenshtein distance, for "did you mean" (keys are short).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(previous + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_taken_off_both_ends() {
        assert_eq!(
            strip_positions("error: line 3 column 6: invalid u32 at line 6, column 10 at line 6, column 10"),
            "invalid u32"
        );
        assert_eq!(strip_positions("keeps at line breaks"), "keeps at line breaks");
    }

    #[test]
    fn keys_are_found_where_they_are_written() {
        let text = "name: t\nnodes:\n  a: {lo: [1.1.1.1/32], bogus: 1}\n  b:\n    lo: []\n    \"quoted\": 2\n";
        assert_eq!(find_key(text, 3, 6, "bogus"), Some((3, 25)));
        assert_eq!(find_key(text, 4, 3, "quoted"), Some((6, 5)));
        assert_eq!(find_key(text, 1, 1, "missing"), None);
    }

    #[test]
    fn messages_use_the_lab_file_s_words() {
        let cases = [
            (
                "unknown field `nodez`, expected one of name, nodes, links",
                "unknown key `nodez` (did you mean `nodes`?); the keys here are name, nodes, links",
            ),
            ("missing field `command`", "missing key `command`"),
            (
                "unexpected event: expected mapping start",
                "expected a mapping (KEY: VALUE)",
            ),
            (
                "unexpected event: expected sequence start",
                "expected a list ([a, b] or lines starting with '- ')",
            ),
            ("invalid YAML 1.1 bool: `maybe`", "expected true or false, not `maybe`"),
            ("invalid u32", "expected a whole number from 0 to 4294967295"),
            (
                "YAML budget breached: Nodes { nodes: 250001 }",
                "the file is too large for a lab file (the YAML reader stops at its size limits)",
            ),
            ("duplicate mapping key: a", "`a` is given twice"),
            (
                "invalid type: sequence, expected a string",
                "expected a text, not a list",
            ),
        ];
        for (raw, said) in cases {
            assert_eq!(in_lab_words(raw), said, "{raw}");
        }
    }

    #[test]
    fn every_unknown_key_of_a_block_mapping_is_reported() {
        let text = "name: t\nnodez:\n  a: {}\nlinkz:\n  - x\nnodes:\n  a:\n    colour: red\n";
        let first = serde_saphyr::from_str::<crate::file::LabFile>(text).unwrap_err();
        let found: Vec<(u64, u64)> = all_structural(&first, text).iter().map(|(l, c, _)| (*l, *c)).collect();
        assert_eq!(found, [(2, 1), (4, 1), (8, 5)]);
    }

    #[test]
    fn values_of_the_wrong_kind_do_not_hide_the_mistakes_after_them() {
        let text = "name: t\nnodes:\n  a:\n    forwarding: maybe\n  c:\n    bogus: 1\nlinks:\n  - endpoints: [a 10.0.0.1/24]\n    mtu: big\n    mtux: 5\n";
        let first = serde_saphyr::from_str::<crate::file::LabFile>(text).unwrap_err();
        let found: Vec<(u64, u64)> = all_structural(&first, text).iter().map(|(l, c, _)| (*l, *c)).collect();
        assert_eq!(found, [(4, 17), (6, 5), (9, 10), (10, 5)]);
    }

    #[test]
    fn setting_aside_a_key_the_file_must_have_is_not_a_new_mistake() {
        // `endpoints` is required: setting its bad value aside must not
        // add "missing key `endpoints`".
        let text = "name: t\nnodes: {a: {}}\nlinks:\n  - mtu: 3\n    endpoints: 7\n";
        let first = serde_saphyr::from_str::<crate::file::LabFile>(text).unwrap_err();
        let found = all_structural(&first, text);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].0, found[0].1), (5, 16));
    }

    #[test]
    fn a_file_without_a_lab_says_so() {
        for text in ["", "---\n", "null\n", "# only a comment\n", "~"] {
            assert!(holds_no_lab(text), "{text:?}");
        }
        assert!(!holds_no_lab("name: t\n"));
    }
}
