//! NAT and packet filtering with counters, in nsbox's own nftables table
//! (`table inet nsbox`) of any network namespace.
//!
//! nsbox never touches another table, so its rules do not fight with
//! iptables-nft, firewalld or podman, and deleting its table removes all of
//! them. Rules go through `nft -j` (JSON), started inside the namespace;
//! a batch is applied whole or not at all. The table exists exactly while
//! it holds rules: removing the last rule of a chain removes the chain, and
//! the last chain takes the table with it.

mod index;
mod json;
mod nft;
pub mod rule;
pub mod ruleset;
pub mod trace;
pub mod words;

use index::{Entry, Index};
pub use json::{Listed, TABLE};
pub use rule::{Action, Hook, Kind, Match, NatTarget, Ports, Proto, Rule, RuleError};

use std::os::fd::{AsFd, OwnedFd};

#[derive(Debug, thiserror::Error)]
pub enum FirewallError {
    #[error("nft not found: NAT and filter rules need nftables (install it with: apt-get install nftables)")]
    NftMissing,
    #[error("starting nft: {0}")]
    Spawn(std::io::Error),
    #[error("nft refused {step}: {message}")]
    Refused { step: &'static str, message: String },
    #[error("reading nft's answer while {step}: {source}")]
    Answer {
        step: &'static str,
        source: serde_json::Error,
    },
    #[error(transparent)]
    Netns(#[from] nsbox_ns::netns::NetnsError),
    #[error(transparent)]
    Rule(#[from] RuleError),
    #[error("no {kind} rule with handle {handle} (see the handles with `list`)")]
    NoSuchHandle { kind: &'static str, handle: u64 },
    #[error("no {kind} rule matches {rule}")]
    NoSuchRule { kind: &'static str, rule: String },
    #[error("locking the namespace's rules: {0}")]
    Lock(std::io::Error),
    #[error("{step}: {source}")]
    Netlink { step: &'static str, source: std::io::Error },
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Nat => "nat",
            Kind::Filter => "filter",
        }
    }
}

/// The outcome of adding one rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Added {
    pub handle: u64,
    /// False when the same rule was already there (it is not added twice).
    pub created: bool,
}

/// nsbox's rules in one network namespace.
pub struct Firewall {
    ns: OwnedFd,
}

/// Holds the namespace's lock: one nsbox changes a namespace's rules at a
/// time, so that "is this rule already there?" stays true until it adds.
/// The lock is on the namespace itself (an nsfs inode), so every nsbox
/// that opens the namespace by any path meets the same lock.
struct Locked<'a>(&'a OwnedFd);

impl<'a> Locked<'a> {
    fn take(ns: &'a OwnedFd) -> Result<Self, FirewallError> {
        rustix::fs::flock(ns, rustix::fs::FlockOperation::LockExclusive).map_err(|e| FirewallError::Lock(e.into()))?;
        Ok(Locked(ns))
    }
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        // Closing the descriptor would release it as well; unlock now so
        // that a long-lived Firewall does not hold others up.
        let _ = rustix::fs::flock(self.0.as_fd(), rustix::fs::FlockOperation::Unlock);
    }
}

impl Firewall {
    /// The rules of the namespace `ns` refers to (an open `/run/netns/NAME`
    /// or `/proc/PID/ns/net`). Takes its own descriptor, so that its lock is
    /// its own.
    pub fn new(ns: OwnedFd) -> Firewall {
        Firewall { ns }
    }

    fn nft(&self, step: &'static str, args: &[&str], input: Option<String>) -> Result<String, FirewallError> {
        nft::run(&self.ns, args, input)?.map_err(|refusal| FirewallError::Refused {
            step,
            message: refusal.message(),
        })
    }

    /// The rules of one kind (or all), in evaluation order, with counters.
    pub fn list(&self, kind: Option<Kind>) -> Result<Vec<Listed>, FirewallError> {
        let step = "listing rules";
        let mut rules = match nft::run(&self.ns, &["-j", "list", "table", "inet", TABLE], None)? {
            Ok(json) => json::parse_listing(&json).map_err(|source| FirewallError::Answer { step, source })?,
            Err(refusal) if refusal.is_missing_table() => Vec::new(),
            Err(refusal) => {
                return Err(FirewallError::Refused {
                    step,
                    message: refusal.message(),
                })
            }
        };
        rules.retain(|l| kind.is_none_or(|k| l.kind() == k));
        Ok(rules)
    }

    fn index(&self) -> Result<Index, FirewallError> {
        index::read(&self.ns, TABLE)
    }

    /// Which of `rules` are in the kernel, read over netlink (no `nft`
    /// run): each rule is known by the key in its comment.
    pub fn present(&self, rules: &[Rule]) -> Result<Vec<bool>, FirewallError> {
        let index = self.index()?;
        Ok(rules
            .iter()
            .map(|rule| {
                let rule = rule.clone().checked();
                rule.is_ok_and(|r| index.rules.iter().any(|e| is_entry_of(e, &r)))
            })
            .collect())
    }

    /// Adds the rules that are not already there, in order, in one batch.
    /// Each is checked first: one bad rule and nothing is added.
    pub fn add(&self, rules: &[Rule]) -> Result<Vec<Added>, FirewallError> {
        let rules: Vec<Rule> = rules.iter().cloned().map(Rule::checked).collect::<Result<_, _>>()?;
        let _lock = Locked::take(&self.ns)?;
        let index = self.index()?;
        let existing = &index.rules;
        // For each rule: the handle it already has, or its place in the
        // batch of new ones (a rule given twice is added once).
        let mut places: Vec<Result<u64, usize>> = Vec::with_capacity(rules.len());
        let mut fresh: Vec<&Rule> = Vec::new();
        for rule in &rules {
            if let Some(e) = existing.iter().find(|e| is_entry_of(e, rule)) {
                places.push(Ok(e.handle));
            } else if let Some(i) = fresh.iter().position(|r| *r == rule) {
                places.push(Err(i));
            } else {
                fresh.push(rule);
                places.push(Err(fresh.len() - 1));
            }
        }
        let mut handles = vec![0; fresh.len()];
        if !fresh.is_empty() {
            let batch = serde_json::to_string(&json::add_batch(&fresh, &index)).expect("nftables JSON serializes");
            self.nft("adding rules", &["-j", "-f", "-"], Some(batch))?;
            // The new handles, found by key: cheaper than asking nft to
            // echo the batch back, which makes it read the whole table.
            let after = self.index()?;
            for (rule, handle) in fresh.iter().zip(handles.iter_mut()) {
                *handle = after
                    .rules
                    .iter()
                    .find(|e| is_entry_of(e, rule))
                    .map_or(0, |e| e.handle);
            }
        }
        let mut seen = vec![false; fresh.len()];
        Ok(places
            .into_iter()
            .map(|place| match place {
                Ok(handle) => Added { handle, created: false },
                Err(i) => Added {
                    handle: handles[i],
                    created: !std::mem::replace(&mut seen[i], true),
                },
            })
            .collect())
    }

    /// Deletes rules of `kind` by handle; if any handle is not one of them,
    /// nothing is deleted. Returns the handles deleted.
    pub fn delete(&self, kind: Kind, handles: &[u64]) -> Result<Vec<u64>, FirewallError> {
        let _lock = Locked::take(&self.ns)?;
        let index = self.index()?;
        for &handle in handles {
            if !index
                .rules
                .iter()
                .any(|e| e.handle == handle && kind_of(e) == Some(kind))
            {
                return Err(FirewallError::NoSuchHandle {
                    kind: kind.name(),
                    handle,
                });
            }
        }
        self.remove(&index, |e| handles.contains(&e.handle))
    }

    /// Deletes the rule equal to `rule` (as `iptables -D` does) and returns
    /// its handle.
    pub fn delete_rule(&self, rule: &Rule) -> Result<u64, FirewallError> {
        Ok(self.delete_rules(std::slice::from_ref(rule))?[0])
    }

    /// Deletes the rules equal to `rules`, in one batch; if any is not
    /// there, nothing is deleted. Returns their handles.
    pub fn delete_rules(&self, rules: &[Rule]) -> Result<Vec<u64>, FirewallError> {
        let rules: Vec<Rule> = rules.iter().cloned().map(Rule::checked).collect::<Result<_, _>>()?;
        let _lock = Locked::take(&self.ns)?;
        let index = self.index()?;
        let handles = rules
            .iter()
            .map(|rule| {
                index
                    .rules
                    .iter()
                    .find(|e| is_entry_of(e, rule))
                    .map(|e| e.handle)
                    .ok_or_else(|| FirewallError::NoSuchRule {
                        kind: rule.hook.kind().name(),
                        rule: rule.to_string(),
                    })
            })
            .collect::<Result<Vec<u64>, _>>()?;
        self.remove(&index, |e| handles.contains(&e.handle))?;
        Ok(handles)
    }

    /// Deletes every rule of `kind` (or every rule nsbox has here): the
    /// chains go, and the table when nothing else is left in it. Returns
    /// the handles deleted.
    pub fn flush(&self, kind: Option<Kind>) -> Result<Vec<u64>, FirewallError> {
        let _lock = Locked::take(&self.ns)?;
        let index = self.index()?;
        self.remove(&index, |e| {
            kind_of(e).is_some_and(|k| kind.is_none_or(|wanted| wanted == k))
        })
    }

    fn remove(&self, index: &Index, doomed: impl Fn(&Entry) -> bool) -> Result<Vec<u64>, FirewallError> {
        let removal = index.removal(&doomed);
        if removal.rules.is_empty() && !removal.table {
            return Ok(Vec::new());
        }
        let batch = serde_json::to_string(&json::remove_batch(&removal)).expect("nftables JSON serializes");
        self.nft("deleting rules", &["-j", "-f", "-"], Some(batch))?;
        Ok(removal.rules.into_iter().map(|(_, handle)| handle).collect())
    }
}

/// The kind of an nsbox rule; `None` for a rule in a chain nsbox did not make.
fn kind_of(entry: &Entry) -> Option<Kind> {
    entry.hook().map(Hook::kind)
}

/// Whether the kernel's rule `entry` is `rule`: same chain, same key.
fn is_entry_of(entry: &Entry, rule: &Rule) -> bool {
    entry.chain == rule.hook.chain() && entry.comment.as_deref() == Some(rule.key().as_str())
}
