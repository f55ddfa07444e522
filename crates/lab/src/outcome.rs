//! What an expectation asks for: its outcome (`reachable`, `open`,
//! `closed`, `unreachable [(REASON)]`), what else its echoes must have
//! seen, after commas (`reply ttl 62`, `errors 3`, `exit 1`), and how to
//! probe for it, in a parenthesised group of parameters at the end:
//! `reachable (count 5, ttl 3)`, `unreachable (time to live exceeded),
//! errors 1 (ttl 3)`.

use crate::model::{EchoFacts, Outcome, ProbeParams};
use std::time::Duration;

/// The words a parameter group may hold.
const PARAMETERS: [&str; 5] = ["count", "interval", "wait", "ttl", "time"];

/// Most echoes one probe sends.
const MOST_ECHOES: u32 = 100;

/// Longest interval or wait of a probe.
const LONGEST: Duration = Duration::from_secs(60);

/// `reachable|open|closed|unreachable [(REASON)]`, then optionally
/// `, reply ttl N`, `, errors N`, `, exit N`, then optionally `(count N,
/// interval T, wait T, ttl N)` (any of them, in any order).
pub fn parse_outcome(text: &str) -> Result<(Outcome, ProbeParams, EchoFacts), String> {
    let bad = || {
        format!(
            "{text:?} is not an outcome: reachable, open, closed, unreachable with an optional (reason), \
             or seen as ADDRESS, then optionally `, reply ttl N`, `, errors N`, `, exit N`, \
             then optionally (count N, interval T, wait T, ttl N)"
        )
    };
    let text = text.trim();
    let (text, params) = match split_parameters(text) {
        Some((rest, group)) => (rest, parse_parameters(group)?),
        None => (text, ProbeParams::default()),
    };
    let mut pieces = split_top_level(text).into_iter();
    let text = pieces.next().unwrap_or_default();
    let facts = parse_facts(pieces)?;
    if let Some(rest) = text.strip_prefix("throughput") {
        let rest = rest.trim();
        let (at_least, rate) = match (rest.strip_prefix(">="), rest.strip_prefix("<=")) {
            (Some(r), _) => (true, r),
            (_, Some(r)) => (false, r),
            _ => return Err(format!("{text:?}: throughput >= RATE or throughput <= RATE (80mbit)")),
        };
        let bits_per_second = parse_rate(rate.trim())?;
        return Ok((
            Outcome::Throughput {
                bits_per_second,
                at_least,
            },
            params,
            facts,
        ));
    }
    if let Some(address) = text.strip_prefix("seen as ") {
        let address = address
            .trim()
            .parse()
            .map_err(|_| format!("seen as {:?}: an address (seen as 10.0.2.1)", address.trim()))?;
        return Ok((Outcome::SeenAs(address), params, facts));
    }
    let outcome = match text {
        "reachable" => Outcome::Reachable,
        "open" => Outcome::Open,
        "closed" => Outcome::Closed,
        _ => {
            let rest = text.strip_prefix("unreachable").ok_or_else(bad)?.trim();
            if rest.is_empty() {
                Outcome::Unreachable(None)
            } else {
                let reason = rest
                    .strip_prefix('(')
                    .and_then(|r| r.strip_suffix(')'))
                    .ok_or_else(bad)?;
                Outcome::Unreachable(Some(reason.trim().to_string()))
            }
        }
    };
    Ok((outcome, params, facts))
}

/// `text` cut at its commas outside parentheses (a reason may hold one),
/// each piece trimmed.
fn split_top_level(text: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                pieces.push(text[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    pieces.push(text[start..].trim());
    pieces
}

/// `reply ttl N`, `errors N`, `exit N`, each at most once.
fn parse_facts<'a>(pieces: impl Iterator<Item = &'a str>) -> Result<EchoFacts, String> {
    let mut facts = EchoFacts::default();
    for piece in pieces {
        let words: Vec<&str> = piece.split_whitespace().collect();
        let given_twice = || format!("{:?} is given twice", words[..words.len() - 1].join(" "));
        match words.as_slice() {
            ["reply", "ttl", n] => {
                let n = n
                    .parse::<u8>()
                    .map_err(|_| format!("reply ttl {n:?}: a TTL of 0 to 255"))?;
                if facts.reply_ttl.replace(n).is_some() {
                    return Err(given_twice());
                }
            }
            ["errors", n] => {
                let n = n
                    .parse::<u32>()
                    .map_err(|_| format!("errors {n:?}: a number of ICMP errors"))?;
                if facts.errors.replace(n).is_some() {
                    return Err(given_twice());
                }
            }
            ["exit", n] => {
                let n = n
                    .parse::<i32>()
                    .ok()
                    .filter(|n| (0..=2).contains(n))
                    .ok_or_else(|| format!("exit {n:?}: iputils ping exits 0, 1 or 2"))?;
                if facts.exit.replace(n).is_some() {
                    return Err(given_twice());
                }
            }
            _ => {
                return Err(format!(
                    "{piece:?} is not something an echo sees: reply ttl N, errors N or exit N"
                ))
            }
        }
    }
    Ok(facts)
}

/// The text before a last parenthesised group whose every item starts
/// with a parameter's word and a number (or has no value: an error to
/// name), and that group's inside; None when there is no such group (a
/// reason is not one: `(time to live exceeded)`, `(ttl exceeded)`).
fn split_parameters(text: &str) -> Option<(&str, &str)> {
    let inner = text.strip_suffix(')')?;
    let open = inner.rfind('(')?;
    let group = &inner[open + 1..];
    // `ttl 3` is a parameter, `ttl exceeded` a reason's words.
    let all_parameters = group.split(',').all(|item| {
        let mut words = item.split_whitespace();
        words.next().is_some_and(|word| PARAMETERS.contains(&word))
            && words
                .next()
                .is_none_or(|value| value.starts_with(|c: char| c.is_ascii_digit()))
    });
    all_parameters.then(|| (text[..open].trim_end(), group))
}

fn parse_parameters(group: &str) -> Result<ProbeParams, String> {
    let mut params = ProbeParams::default();
    for item in group.split(',') {
        let words: Vec<&str> = item.split_whitespace().collect();
        let [word, value] = words.as_slice() else {
            return Err(format!(
                "{:?}: a probe parameter is a word and a value (count 5)",
                item.trim()
            ));
        };
        let given_twice = || format!("{word} is given twice");
        match *word {
            "count" => {
                let n = value
                    .parse::<u32>()
                    .ok()
                    .filter(|n| (1..=MOST_ECHOES).contains(n))
                    .ok_or_else(|| format!("count {value:?}: 1 to {MOST_ECHOES} echoes"))?;
                if params.count.replace(n).is_some() {
                    return Err(given_twice());
                }
            }
            "ttl" => {
                let n = value
                    .parse::<u8>()
                    .ok()
                    .filter(|n| *n >= 1)
                    .ok_or_else(|| format!("ttl {value:?}: 1 to 255"))?;
                if params.ttl.replace(n).is_some() {
                    return Err(given_twice());
                }
            }
            "interval" | "wait" | "time" => {
                let d = duration(value).ok_or_else(|| {
                    format!(
                        "{word} {value:?}: a number and ms or s (200ms, 2s), up to {} s",
                        LONGEST.as_secs()
                    )
                })?;
                let slot = match *word {
                    "wait" => &mut params.wait,
                    "time" => &mut params.time,
                    _ => &mut params.interval,
                };
                if slot.replace(d).is_some() {
                    return Err(given_twice());
                }
            }
            _ => unreachable!("split_parameters lets only parameters' words through"),
        }
    }
    Ok(params)
}

/// `80mbit`, `1.5gbit`, `512kbit`, `9600bit`: bits per second, as tc
/// writes rates (decimal units).
pub fn parse_rate(text: &str) -> Result<u64, String> {
    let bad = || format!("{text:?} is not a rate: a number and bit, kbit, mbit or gbit (80mbit)");
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).ok_or_else(bad)?;
    let (number, unit) = text.split_at(split);
    let scale = match unit.to_ascii_lowercase().as_str() {
        "bit" => 1.0,
        "kbit" => 1e3,
        "mbit" => 1e6,
        "gbit" => 1e9,
        _ => return Err(bad()),
    };
    let value = number.parse::<f64>().map_err(|_| bad())? * scale;
    (1.0..1e12).contains(&value).then_some(value as u64).ok_or_else(bad)
}

/// `200ms`, `2s`, `1.5s`: more than zero, at most [`LONGEST`].
fn duration(text: &str) -> Option<Duration> {
    let (number, scale) = match text.strip_suffix("ms") {
        Some(n) => (n, 0.001),
        None => (text.strip_suffix('s')?, 1.0),
    };
    let seconds = number.parse::<f64>().ok()? * scale;
    Duration::try_from_secs_f64(seconds)
        .ok()
        .filter(|d| !d.is_zero() && *d <= LONGEST)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throughput_is_a_bound_and_a_rate() {
        let (outcome, params, _) = parse_outcome("throughput >= 80mbit (time 3s)").unwrap();
        assert_eq!(
            outcome,
            Outcome::Throughput {
                bits_per_second: 80_000_000,
                at_least: true
            }
        );
        assert_eq!(params.time, Some(Duration::from_secs(3)));
        assert_eq!(outcome.to_string(), "throughput >= 80mbit");
        let (outcome, _, _) = parse_outcome("throughput <= 1.5gbit").unwrap();
        assert_eq!(outcome.to_string(), "throughput <= 1.5gbit");
        assert_eq!(parse_rate("512kbit"), Ok(512_000));
        assert!(parse_rate("80mbps").is_err());
        assert!(parse_rate("0bit").is_err());
        assert!(parse_outcome("throughput 80mbit").is_err());
    }

    #[test]
    fn parameters_follow_the_outcome_and_its_reason() {
        let (outcome, params, _) = parse_outcome("reachable (count 5, ttl 3)").unwrap();
        assert_eq!(outcome, Outcome::Reachable);
        assert_eq!((params.count, params.ttl), (Some(5), Some(3)));
        let (outcome, params, _) = parse_outcome("unreachable (time to live exceeded) (ttl 2, wait 500ms)").unwrap();
        assert_eq!(outcome, Outcome::Unreachable(Some("time to live exceeded".into())));
        assert_eq!(params.wait, Some(Duration::from_millis(500)));
        // A reason alone is a reason, even with a parameter's word inside.
        let (outcome, params, _) = parse_outcome("unreachable (ttl exceeded)").unwrap();
        assert_eq!(outcome, Outcome::Unreachable(Some("ttl exceeded".into())));
        assert_eq!(params, ProbeParams::default());
        assert_eq!(
            parse_outcome("open (wait 2s)").unwrap().1.wait,
            Some(Duration::from_secs(2))
        );
    }

    #[test]
    fn facts_follow_the_outcome_before_the_parameters() {
        let (outcome, params, facts) =
            parse_outcome("unreachable (host unreachable, it seems), errors 3, exit 1 (count 3)").unwrap();
        assert_eq!(outcome, Outcome::Unreachable(Some("host unreachable, it seems".into())));
        assert_eq!(params.count, Some(3));
        assert_eq!((facts.errors, facts.exit, facts.reply_ttl), (Some(3), Some(1), None));
        let (outcome, _, facts) = parse_outcome("reachable, reply ttl 62").unwrap();
        assert_eq!((outcome, facts.reply_ttl), (Outcome::Reachable, Some(62)));
        assert!(!parse_outcome("reachable").unwrap().2.any());
        for (text, said) in [
            ("reachable, exit 3", "exit \"3\": iputils ping exits 0, 1 or 2"),
            ("reachable, reply ttl 300", "reply ttl \"300\""),
            ("reachable, errors 1, errors 2", "\"errors\" is given twice"),
            ("reachable, fast", "\"fast\" is not something an echo sees"),
            ("reachable,", "\"\" is not something an echo sees"),
        ] {
            let e = parse_outcome(text).unwrap_err();
            assert!(e.contains(said), "{text}: {e}");
        }
    }

    #[test]
    fn bad_parameters_are_named() {
        assert!(parse_outcome("reachable (count 0)")
            .unwrap_err()
            .contains("count \"0\": 1 to 100"));
        assert!(parse_outcome("reachable (ttl 256)").unwrap_err().contains("1 to 255"));
        assert!(parse_outcome("reachable (count 2, count 3)")
            .unwrap_err()
            .contains("given twice"));
        assert!(parse_outcome("reachable (interval fast)")
            .unwrap_err()
            .contains("interval"));
        assert!(parse_outcome("reachable (wait 0s)").is_err());
        assert!(parse_outcome("reachable (count)")
            .unwrap_err()
            .contains("a word and a value"));
        assert!(parse_outcome("reachable (sometimes)").is_err());
    }
}
