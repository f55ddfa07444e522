//! What nsbox prints for programs: one JSON document on stdout, pretty
//! printed, the same way for every command's `--json`.

/// Prints `value` as JSON on stdout.
pub(crate) fn print_json(value: &impl serde::Serialize) {
    // nsbox's own plain data (no maps with non-string keys, no floats that
    // are not numbers) always serializes.
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("plain data serializes")
    );
}
