//! Numbers from the command line that become durations: bounded and
//! finite before anything uses them, so that no value a user can type
//! (`inf`, `nan`, `1e309`, 2^64-1) reaches an arithmetic that panics or a
//! wait that never ends. clap calls these as value parsers, so a bad value
//! is a usage error with clap's usage line.

use std::time::Duration;

/// The longest wait any flag may ask for: iputils' own limit for ping's
/// timings (a millisecond count in a C int), about 24.8 days.
pub const MAX_SECONDS: f64 = (i32::MAX / 1000) as f64;

/// A number of seconds, fractions allowed, from 0 to [`MAX_SECONDS`].
fn seconds(text: &str, what: &str) -> Result<Duration, String> {
    match text.trim().parse::<f64>() {
        Ok(s) if s.is_finite() && (0.0..=MAX_SECONDS).contains(&s) => Ok(Duration::from_secs_f64(s)),
        _ => Err(format!("bad {what}: {text} (seconds from 0 to {MAX_SECONDS})")),
    }
}

/// `ping -i`: the time between requests (iputils says "bad timing interval").
pub fn interval(text: &str) -> Result<Duration, String> {
    seconds(text, "timing interval")
}

/// `ping -W`: the time to wait for replies (iputils says "bad linger time").
pub fn linger(text: &str) -> Result<Duration, String> {
    seconds(text, "linger time")
}

/// A timeout in seconds, such as `netns delete --wait-timeout`.
pub fn timeout(text: &str) -> Result<Duration, String> {
    seconds(text, "timeout")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn values_that_cannot_be_waited_for_are_refused() {
        for bad in [
            "inf",
            "-inf",
            "nan",
            "NaN",
            "1e20",
            "1e309",
            "-1",
            "",
            "x",
            "18446744073709551615",
        ] {
            assert!(interval(bad).is_err(), "{bad}");
            assert!(linger(bad).is_err(), "{bad}");
            assert!(timeout(bad).is_err(), "{bad}");
        }
        assert_eq!(interval("0.2").unwrap(), Duration::from_millis(200));
        assert_eq!(linger("0").unwrap(), Duration::ZERO);
        assert_eq!(timeout("10").unwrap(), Duration::from_secs(10));
    }

    proptest! {
        /// Whatever the text, parsing neither panics nor gives a wait past
        /// the limit, and a deadline from it can always be computed.
        #[test]
        fn any_text_gives_a_bounded_duration_or_an_error(text in "\\PC{0,24}", number in any::<f64>()) {
            for t in [text, number.to_string(), format!("{number:e}")] {
                if let Ok(d) = interval(&t) {
                    prop_assert!(d.as_secs_f64() <= MAX_SECONDS);
                    prop_assert!(std::time::Instant::now().checked_add(d).is_some());
                }
            }
        }
    }
}
