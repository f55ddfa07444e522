//! Checking expectations: an ICMP echo from the node's namespace, and what
//! came back read as reachable or as the reason it is not.

use crate::deploy::NodeHandle;
use crate::model::{Expect, Outcome};
use nsbox_net::ping::{ping, Event, PingError, PingOptions, Summary};
use serde::Serialize;
use std::time::Duration;

/// What a probe found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Observed {
    pub reachable: bool,
    /// "reply from 2.2.2.2, ttl 63", "network unreachable",
    /// "destination net unreachable from 10.0.1.1", "no reply"...
    pub detail: String,
}

/// One expectation and what was found.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub expect: String,
    pub wanted: Outcome,
    pub observed: Observed,
    pub holds: bool,
}

/// Two echoes 0.2 s apart, a second to answer: enough for a reply to come
/// from anywhere in a lab, and for a router's ICMP error to come back.
fn options(expect: &Expect) -> PingOptions {
    PingOptions {
        count: 2,
        interval: Duration::from_millis(200),
        wait: Duration::from_secs(1),
        source: expect.source,
        ..PingOptions::default()
    }
}

fn read(summary: &Summary) -> Observed {
    if let Some(Event::Reply { from, ttl, .. }) = summary.events.iter().find(|e| matches!(e, Event::Reply { .. })) {
        let ttl = ttl.map(|t| format!(", ttl {t}")).unwrap_or_default();
        return Observed {
            reachable: true,
            detail: format!("reply from {from}{ttl}"),
        };
    }
    let errors = summary.events.iter().filter_map(|e| match e {
        Event::Error {
            from, error, redirect, ..
        } => Some((format!("{} from {from}", error.to_lowercase()), *redirect)),
        _ => None,
    });
    let (redirects, errors): (Vec<_>, Vec<_>) = errors.partition(|(_, redirect)| *redirect);
    let detail = match (errors.first(), redirects.first()) {
        (Some((error, _)), _) => error.clone(),
        // A redirect is advice, not a failure: the echo went on its way
        // (and nothing came back).
        (None, Some((redirect, _))) => format!("no reply ({redirect})"),
        (None, None) => "no reply".to_string(),
    };
    Observed {
        reachable: false,
        detail,
    }
}

/// Probes `expect` from its node.
pub fn probe(node: &NodeHandle, expect: &Expect) -> Observed {
    match ping(Some(&node.fd), expect.to, &options(expect), |_| {}) {
        Ok(summary) => read(&summary),
        Err(PingError::Local { source, .. }) if source.raw_os_error() == Some(libc_enetunreach()) => Observed {
            reachable: false,
            detail: "network unreachable".into(),
        },
        Err(e) => Observed {
            reachable: false,
            detail: format!("local error: {e}"),
        },
    }
}

/// ENETUNREACH, without a libc dependency for one number.
fn libc_enetunreach() -> i32 {
    rustix::io::Errno::NETUNREACH.raw_os_error()
}

/// Whether `observed` is what `wanted` asks for: the reason, when given,
/// must appear in what was observed (case aside).
pub fn holds(wanted: &Outcome, observed: &Observed) -> bool {
    match wanted {
        Outcome::Reachable => observed.reachable,
        Outcome::Unreachable(None) => !observed.reachable,
        Outcome::Unreachable(Some(reason)) => {
            !observed.reachable && observed.detail.to_lowercase().contains(&reason.to_lowercase())
        }
    }
}

/// Checks every expectation at once, each from a thread of its own (a
/// failing probe waits a second; they wait together).
pub fn check_all(nodes: &[NodeHandle], expects: &[Expect]) -> Vec<Check> {
    std::thread::scope(|scope| {
        let running: Vec<_> = expects
            .iter()
            .map(|expect| scope.spawn(move || probe(&nodes[expect.from], expect)))
            .collect();
        running
            .into_iter()
            .zip(expects)
            .map(|(handle, expect)| {
                let observed = handle.join().unwrap_or_else(|_| Observed {
                    reachable: false,
                    detail: "the probe panicked".into(),
                });
                Check {
                    expect: expect.text.clone(),
                    wanted: expect.outcome.clone(),
                    holds: holds(&expect.outcome, &observed),
                    observed,
                }
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(events: Vec<Event>) -> Summary {
        Summary {
            destination: "2.2.2.2".parse().unwrap(),
            transmitted: 2,
            received: 0,
            errors: 0,
            time_ms: 0,
            events,
        }
    }

    fn error(text: &str, from: &str, redirect: bool) -> Event {
        Event::Error {
            seq: 1,
            from: from.parse().unwrap(),
            error: text.into(),
            redirect,
        }
    }

    #[test]
    fn what_came_back_is_read_as_people_say_it() {
        let reply = Event::Reply {
            seq: 1,
            from: "2.2.2.2".parse().unwrap(),
            bytes: 64,
            ttl: Some(63),
            rtt_ms: 0.1,
        };
        assert_eq!(read(&summary(vec![reply])).detail, "reply from 2.2.2.2, ttl 63");
        let net = read(&summary(vec![error("Destination Net Unreachable", "10.0.1.1", false)]));
        assert_eq!(net.detail, "destination net unreachable from 10.0.1.1");
        let redirect = read(&summary(vec![error(
            "Redirect Host(New nexthop: 10.0.2.2)",
            "10.0.2.1",
            true,
        )]));
        assert_eq!(
            redirect.detail,
            "no reply (redirect host(new nexthop: 10.0.2.2) from 10.0.2.1)"
        );
        assert_eq!(read(&summary(vec![])).detail, "no reply");
    }

    #[test]
    fn reasons_match_by_their_words() {
        let observed = Observed {
            reachable: false,
            detail: "destination net unreachable from 10.0.1.1".into(),
        };
        assert!(holds(&Outcome::Unreachable(None), &observed));
        assert!(holds(
            &Outcome::Unreachable(Some("Net Unreachable from 10.0.1.1".into())),
            &observed
        ));
        assert!(!holds(
            &Outcome::Unreachable(Some("host unreachable".into())),
            &observed
        ));
        assert!(!holds(&Outcome::Reachable, &observed));
    }
}
