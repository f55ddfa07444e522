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

/// A duration as Go writes them (runc's `events --interval 5s`): a number
/// with a unit (ns, us, ms, s, m, h), from 1 ms to [`MAX_SECONDS`].
pub fn go_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("bad duration: {text} (a number with a unit: 500ms, 5s, 1m)");
    let t = text.trim();
    let split = t.find(|c: char| c.is_ascii_alphabetic() || c == 'µ').ok_or_else(bad)?;
    let (number, unit) = t.split_at(split);
    let scale = match unit {
        "ns" => 1e-9,
        "us" | "µs" => 1e-6,
        "ms" => 1e-3,
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => return Err(bad()),
    };
    match number.parse::<f64>() {
        Ok(n) if n.is_finite() && (0.001..=MAX_SECONDS).contains(&(n * scale)) => {
            Ok(Duration::from_secs_f64(n * scale))
        }
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn go_durations_parse_and_bad_ones_are_refused() {
        assert_eq!(go_duration("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(go_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(go_duration("1.5m").unwrap(), Duration::from_secs(90));
        for bad in ["5", "s", "0s", "1e300h", "nanms", "-1s", "5x"] {
            assert!(go_duration(bad).is_err(), "{bad}");
        }
    }

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
