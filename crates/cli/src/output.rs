//! What nsbox prints, the same way for every command: errors and warnings
//! on stderr as one line each ("nsbox: ..."), and for programs one JSON
//! document on stdout (`--json`).

/// An error or warning, as one line on stderr. Rust's io errors end in
/// " (os error N)"; people read the text alone.
pub(crate) fn report(err: impl std::fmt::Display) {
    eprintln!("nsbox: {}", nsbox_sys::errno::strip_os_error_codes(&err.to_string()));
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
