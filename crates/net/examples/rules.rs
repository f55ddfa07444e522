//! Applies filter rules the way a lab does, for BENCHMARKS.md
//! (scripts/bench-nat.sh):
//!
//!   rules one NETNS COUNT     COUNT rules in one named namespace, one batch
//!   rules each PREFIX COUNT   one rule in each of PREFIX0..PREFIX{COUNT-1}
//!
//! Rule i drops forwarded traffic from 10.(i/256).(i%256).0/24, so every
//! rule is different. With `each`, the namespaces are served by as many
//! threads as there are CPUs, since each `nft` run is a process of its own.

use nsbox_net::firewall::rule::parse_prefix;
use nsbox_net::firewall::{Action, Firewall, Hook, Match, Rule};
use nsbox_ns::netns::Registry;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

fn rule(i: usize) -> Result<Rule> {
    let source = parse_prefix(&format!("10.{}.{}.0/24", i / 256, i % 256))?;
    Ok(Rule {
        hook: Hook::Forward,
        matches: Match {
            source: Some(source),
            ..Match::default()
        },
        action: Action::Drop,
    }
    .checked()?)
}

fn add(netns: &str, rules: &[Rule]) -> Result<()> {
    let fd = Registry::default().open(netns)?;
    let added = Firewall::new(fd).add(rules)?;
    if added.iter().filter(|a| a.created).count() != rules.len() {
        return Err(format!("{netns}: some rules were already there").into());
    }
    Ok(())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let count = |s: &str| s.parse::<usize>().map_err(|e| format!("COUNT {s:?}: {e}"));
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["one", netns, n] => {
            let rules = (0..count(n)?).map(rule).collect::<Result<Vec<_>>>()?;
            add(netns, &rules)
        }
        ["each", prefix, n] => {
            let n = count(n)?;
            let threads = std::thread::available_parallelism().map_or(2, |p| p.get());
            let next = std::sync::atomic::AtomicUsize::new(0);
            std::thread::scope(|scope| {
                let workers: Vec<_> = (0..threads)
                    .map(|_| {
                        scope.spawn(|| -> Result<()> {
                            loop {
                                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                                if i >= n {
                                    return Ok(());
                                }
                                add(&format!("{prefix}{i}"), &[rule(i)?])?;
                            }
                        })
                    })
                    .collect();
                workers
                    .into_iter()
                    .try_for_each(|w| w.join().map_err(|_| "a worker panicked".to_string())?)
            })
        }
        _ => Err("usage: rules one NETNS COUNT | rules each PREFIX COUNT".into()),
    }
}
