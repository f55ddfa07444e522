//! What nsbox prints, the same way for every command: errors and warnings
//! on stderr as one line each ("nsbox: ..."), and for programs one JSON
//! document on stdout (`--json`).

/// An error or warning, as one line on stderr. Rust's io errors end in
/// " (os error N)"; people read the text alone. A name or path the user
/// gave that is far too long is cut (see [`cut_long_words`]).
pub(crate) fn report(err: impl std::fmt::Display) {
    let text = nsbox_sys::errno::strip_os_error_codes(&err.to_string());
    eprintln!("nsbox: {}", cut_long_words(&text));
}

/// `text` with each word (a run of non-blanks) longer than any real name
/// or path cut to its start and end and its length: a 3,000-character
/// name echoed back in full buries the message.
fn cut_long_words(text: &str) -> String {
    const LONGEST: usize = 300;
    const KEPT: usize = 60;
    if text.len() <= LONGEST {
        return text.to_string();
    }
    let mut out = String::with_capacity(LONGEST * 2);
    let mut rest = text;
    while let Some(start) = rest.find(|c: char| !c.is_whitespace()) {
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let word = &rest[..end];
        let chars = word.chars().count();
        if chars > LONGEST {
            let head: String = word.chars().take(KEPT).collect();
            let tail: String = word.chars().skip(chars - KEPT).collect();
            out.push_str(&format!("{head}...({chars} characters)...{tail}"));
        } else {
            out.push_str(word);
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// Prints `value` as JSON on stdout.
pub(crate) fn print_json(value: &impl serde::Serialize) {
    // nsbox's own plain data (no maps with non-string keys, no floats that
    // are not numbers) always serializes.
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("plain data serializes")
    );
}

#[cfg(test)]
mod tests {
    use super::cut_long_words;

    #[test]
    fn only_words_too_long_for_any_name_are_cut() {
        let name = "x".repeat(3000);
        let cut = cut_long_words(&format!("network namespace \"{name}\": not found"));
        assert_eq!(
            cut,
            format!(
                "network namespace \"{}...(3003 characters)...{}\": not found",
                "x".repeat(59),
                "x".repeat(58)
            )
        );
        let usual = format!("lab.yaml:3:4: node {}: unknown", "n".repeat(200));
        assert_eq!(cut_long_words(&usual), usual, "a long but possible name is whole");
        let wide = format!("{} é{}", "a ".repeat(400), "é".repeat(400));
        assert!(cut_long_words(&wide).ends_with(&format!("...(401 characters)...{}", "é".repeat(60))));
    }
}
