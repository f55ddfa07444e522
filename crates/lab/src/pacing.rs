//! Spacing the probes that expect an ICMP error, so that a router's rate
//! limits cannot turn a correct verdict into "no reply".
//!
//! A router's errors towards one address share one token bucket (the
//! kernel's inet_peer entry for that address, in the router's namespace),
//! which two limits draw on in turn when a forwarded packet has no route:
//! the route's own (`ip_error`: one second per error, `net.ipv4.route.
//! error_cost`, and a bucket of five, `error_burst`) and ICMP's
//! (`net.ipv4.icmp_ratelimit`, one second by default). Seen on this
//! kernel: of errors a moment apart, 2 come back; 1.1 s apart, half; 2.1 s
//! apart, all. So each error costs about two seconds of tokens, and the
//! first two are free.
//!
//! A packet that finds the bucket short draws no error, but still costs:
//! the route's limit takes its second before ICMP's finds too little left
//! (so a steady stream of packets more often than one a second gets no
//! error at all, ever). Hence each such probe sends one echo, not two.
//!
//! nsbox keeps a model of that bucket for each source (node and source
//! address) of the probes that expect an error, and runs those probes one
//! after another, each when the model has a token to spare; a verdict of
//! "no reply" where an error was expected empties the model (the bucket
//! was drained before nsbox looked: an earlier check) and is tried once
//! more when a silence long enough has refilled it. Probes that expect a reply, or explicitly no answer ("no
//! reply"), draw no error and run in parallel.

use crate::model::{Expect, Lab, Outcome, Transport};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// `net.ipv4.route.error_cost` (HZ jiffies: a second) and `error_burst`
/// (five of them) at their defaults: host-wide settings, kept as they are.
const ROUTE_ERROR_COST: Duration = Duration::from_secs(1);
const ROUTE_ERROR_BURST: Duration = Duration::from_secs(5);

/// The kernel's default interval between a router's ICMP errors to one
/// address (`net.ipv4.icmp_ratelimit`, `net.ipv6.icmp.ratelimit`).
const DEFAULT_ICMP_INTERVAL: Duration = Duration::from_millis(1000);

/// The sysctls that set that interval, in milliseconds.
const RATE_LIMIT_KEYS: [&str; 2] = ["net.ipv4.icmp_ratelimit", "net.ipv6.icmp.ratelimit"];

/// How a router's errors to one address are limited, as nsbox models it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pace {
    /// The tokens one error takes.
    pub cost: Duration,
    /// The most the bucket holds.
    pub capacity: Duration,
    /// What nsbox leaves in the bucket beyond an error's cost, for the
    /// kernel's clock ticks and a probe's own delays.
    pub spare: Duration,
}

impl Default for Pace {
    fn default() -> Self {
        Pace {
            cost: ROUTE_ERROR_COST + DEFAULT_ICMP_INTERVAL,
            capacity: ROUTE_ERROR_BURST,
            spare: Duration::from_secs(1),
        }
    }
}

impl Pace {
    /// The pace for `lab`: the longest ICMP interval that any of its nodes
    /// or steps sets (nsbox cannot know beforehand which router answers),
    /// else the kernel's default.
    pub fn of(lab: &Lab) -> Pace {
        let node_sysctls = lab.nodes.iter().flat_map(|n| n.sysctls.iter());
        let step_sysctls = lab
            .steps
            .iter()
            .flat_map(|s| s.sysctls.iter().flat_map(|(_, list)| list.iter()));
        let longest = node_sysctls
            .chain(step_sysctls)
            .filter(|(key, _)| RATE_LIMIT_KEYS.contains(&key.as_str()))
            .filter_map(|(_, value)| value.trim().parse::<u64>().ok())
            .map(Duration::from_millis)
            .max();
        Pace {
            cost: ROUTE_ERROR_COST + longest.map_or(DEFAULT_ICMP_INTERVAL, |l| l.max(DEFAULT_ICMP_INTERVAL)),
            ..Pace::default()
        }
    }
}

/// nsbox's model of one router bucket: its tokens when last looked at.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: Duration,
    at: Instant,
}

impl Bucket {
    fn full(pace: Pace, now: Instant) -> Bucket {
        Bucket {
            tokens: pace.capacity,
            at: now,
        }
    }

    /// How long until an error can be afforded with the spare left over.
    fn wait(&self, pace: Pace, now: Instant) -> Duration {
        let tokens = (self.tokens + now.saturating_duration_since(self.at)).min(pace.capacity);
        (pace.cost + pace.spare).saturating_sub(tokens)
    }

    /// After an error that should have come did not: the kernel's bucket
    /// was lower than nsbox thought (an earlier check drew on it), and the
    /// probe itself may have taken what was left. Nothing is left, as far
    /// as nsbox can tell.
    fn empty(&mut self, now: Instant) {
        self.tokens = Duration::ZERO;
        self.at = now;
    }

    fn spend(&mut self, pace: Pace, now: Instant) {
        let tokens = (self.tokens + now.saturating_duration_since(self.at)).min(pace.capacity);
        self.tokens = tokens.saturating_sub(pace.cost);
        self.at = now;
    }
}

/// Whose errors share one bucket in a router: a node's probes from one
/// source address (or from the one the kernel picks in that family).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Source {
    pub node: usize,
    pub address: Option<IpAddr>,
    pub v6: bool,
}

impl Source {
    fn of(expect: &Expect) -> Source {
        Source {
            node: expect.from,
            address: expect.source,
            v6: expect.to.is_ipv6(),
        }
    }
}

/// The models of the buckets nsbox's probes have drawn on, kept across the
/// checks of one run (a lab test's sections follow each other quickly).
pub struct Pacer {
    pace: Pace,
    buckets: Mutex<Vec<(Source, Bucket)>>,
}

impl Pacer {
    pub fn new(pace: Pace) -> Pacer {
        Pacer {
            pace,
            buckets: Mutex::new(Vec::new()),
        }
    }

    pub fn pace(&self) -> Pace {
        self.pace
    }

    /// Runs `f` on `source`'s bucket (a full one if nsbox has not drawn on
    /// it yet).
    fn with_bucket<T>(&self, source: Source, f: impl FnOnce(&mut Bucket) -> T) -> T {
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let at = match buckets.iter().position(|(s, _)| *s == source) {
            Some(at) => at,
            None => {
                buckets.push((source, Bucket::full(self.pace, Instant::now())));
                buckets.len() - 1
            }
        };
        f(&mut buckets[at].1)
    }

    /// Waits until `source`'s bucket can afford an error.
    fn wait_for_a_token(&self, source: Source) {
        loop {
            let wait = self.with_bucket(source, |b| b.wait(self.pace, Instant::now()));
            if wait.is_zero() {
                return;
            }
            std::thread::sleep(wait);
        }
    }

    /// Runs `probe` on each of `group` (expectations of one source) in
    /// turn, each when the source's bucket allows, and spends an error's
    /// tokens for each answer that `drew_error` says was one (a probe that
    /// the node's own route refused costs the routers nothing); one whose
    /// answer `retry` judges worth another try is probed once more.
    pub fn run<T>(
        &self,
        group: &[usize],
        source: Source,
        probe: impl Fn(usize) -> T,
        drew_error: impl Fn(&T) -> bool,
        retry: impl Fn(&T) -> bool,
    ) -> Vec<T> {
        let paced = |i: usize| {
            self.wait_for_a_token(source);
            let answer = probe(i);
            if drew_error(&answer) {
                self.with_bucket(source, |b| b.spend(self.pace, Instant::now()));
            } else if retry(&answer) {
                self.with_bucket(source, |b| b.empty(Instant::now()));
            }
            answer
        };
        group
            .iter()
            .map(|&i| {
                let first = paced(i);
                if retry(&first) {
                    paced(i)
                } else {
                    first
                }
            })
            .collect()
    }
}

/// Whether `expect` wants an ICMP error back (any unreachable verdict but
/// an explicit "no reply", and a closed UDP port: its host's port
/// unreachable): such probes spend a router's (or host's) error tokens.
pub fn draws_an_error(expect: &Expect) -> bool {
    let udp = expect.port.is_some_and(|p| p.transport == Transport::Udp);
    match &expect.outcome {
        Outcome::Closed => udp,
        Outcome::Unreachable(None) => true,
        Outcome::Unreachable(Some(reason)) => !reason.to_lowercase().contains("no reply"),
        _ => false,
    }
}

/// The expectations, by index: those that run at once, and the groups
/// (one per source node and address) that run one after another, paced.
pub fn plan(expects: &[Expect]) -> (Vec<usize>, Vec<(Source, Vec<usize>)>) {
    let mut at_once = Vec::new();
    let mut groups: Vec<(Source, Vec<usize>)> = Vec::new();
    for (i, expect) in expects.iter().enumerate() {
        if !draws_an_error(expect) {
            at_once.push(i);
            continue;
        }
        let key = Source::of(expect);
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, group)) => group.push(i),
            None => groups.push((key, vec![i])),
        }
    }
    (at_once, groups)
}

/// What a failed verdict of "no reply" adds when an error was expected: a
/// router's rate limit is one cause nsbox cannot rule out from outside.
pub fn rate_limit_note(pace: Pace) -> String {
    format!(
        "if an ICMP error was due, a router's rate limit may have held it back: nsbox spaced such probes about {} ms apart and tried twice",
        pace.cost.as_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expect(from: usize, outcome: Outcome) -> Expect {
        Expect {
            text: String::new(),
            from,
            source: None,
            to: "10.0.0.1".parse().unwrap(),
            port: None,
            outcome,
            params: Default::default(),
            facts: Default::default(),
            receiver: None,
            via: Vec::new(),
        }
    }

    #[test]
    fn only_probes_that_expect_an_error_are_paced_per_source() {
        let expects = [
            expect(0, Outcome::Reachable),
            expect(0, Outcome::Unreachable(None)),
            expect(1, Outcome::Unreachable(Some("net unreachable".into()))),
            expect(0, Outcome::Unreachable(Some("No reply".into()))),
            expect(0, Outcome::Unreachable(Some("time to live exceeded".into()))),
            expect(1, Outcome::Closed),
        ];
        let (at_once, groups) = plan(&expects);
        assert_eq!(at_once, [0, 3, 5]);
        let source = |node| Source {
            node,
            address: None,
            v6: false,
        };
        assert_eq!(groups, [(source(0), vec![1, 4]), (source(1), vec![2])]);
    }

    #[test]
    fn two_errors_go_at_once_then_one_per_cost() {
        // As seen on this kernel: 2 of quick errors, then one per ~2 s.
        let pace = Pace::default();
        let t0 = Instant::now();
        let mut bucket = Bucket::full(pace, t0);
        let mut sent = Vec::new();
        let mut now = t0;
        for _ in 0..5 {
            now += bucket.wait(pace, now);
            bucket.spend(pace, now);
            sent.push((now - t0).as_millis() as u64);
        }
        assert_eq!(sent, [0, 0, 2000, 4000, 6000]);
    }

    /// The kernel's two limits on one inet_peer bucket, as `ip_error` and
    /// `inet_peer_xrlim_allow` apply them, in milliseconds.
    struct KernelBucket {
        tokens: u128,
        at: Instant,
    }

    impl KernelBucket {
        fn error_sent(&mut self) -> bool {
            let now = Instant::now();
            self.tokens = (self.tokens + (now - self.at).as_millis()).min(50);
            self.at = now;
            // The route's limit takes its share first, whatever ICMP's
            // finds after it.
            if self.tokens < 10 {
                return false;
            }
            self.tokens -= 10;
            if self.tokens < 10 {
                return false;
            }
            self.tokens -= 10;
            true
        }
    }

    #[test]
    fn a_bucket_drained_before_nsbox_looked_costs_one_retry_not_every_verdict() {
        let pace = Pace {
            cost: Duration::from_millis(20),
            capacity: Duration::from_millis(50),
            spare: Duration::from_millis(10),
        };
        let kernel = Mutex::new(KernelBucket {
            tokens: 0,
            at: Instant::now(),
        });
        let source = Source {
            node: 0,
            address: None,
            v6: false,
        };
        let pacer = Pacer::new(pace);
        let answers = pacer.run(
            &(0..8).collect::<Vec<_>>(),
            source,
            |_| kernel.lock().unwrap().error_sent(),
            |sent| *sent,
            |sent| !*sent,
        );
        assert_eq!(answers, [true; 8]);
    }

    #[test]
    fn a_slower_icmp_limit_in_the_lab_slows_the_pace() {
        let (lab, _) = crate::load::parse(
            std::path::Path::new("t.yaml"),
            "name: t\nnodes:\n  r: {sysctls: {net.ipv4.icmp_ratelimit: 3000}}\n",
        )
        .unwrap();
        assert_eq!(Pace::of(&lab).cost, Duration::from_secs(4));
    }
}
