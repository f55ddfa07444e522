//! OS errors as people read them: "No such file or directory", without
//! Rust's " (os error 2)" suffix. One place for every crate, so that no
//! message of nsbox's shows the suffix and none strips it its own way.

use std::io;

/// An io error's text, without " (os error N)".
pub fn describe(err: &io::Error) -> String {
    strip_os_error_codes(&err.to_string())
}

/// An errno's text ("File exists", not "os error 17").
pub fn describe_errno(errno: i32) -> String {
    describe(&io::Error::from_raw_os_error(errno))
}

/// `text` without any " (os error N)" in it (a message may quote several
/// io errors).
pub fn strip_os_error_codes(text: &str) -> String {
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
    use super::*;

    #[test]
    fn os_error_codes_are_stripped() {
        let text = "writing \"1\" to /x: Invalid argument (os error 22); then: Busy (os error 16)";
        assert_eq!(
            strip_os_error_codes(text),
            "writing \"1\" to /x: Invalid argument; then: Busy"
        );
        assert_eq!(describe_errno(libc::ENOENT), "No such file or directory");
        assert_eq!(strip_os_error_codes("no suffix (os error"), "no suffix (os error");
    }
}
