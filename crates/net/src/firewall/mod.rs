//! NAT and packet filtering with counters, in nsbox's own nftables table
//! (`table inet nsbox`) of any network namespace.
//!
//! nsbox never touches another table, so its rules do not fight with
//! iptables-nft, firewalld or podman, and deleting its table removes all of
//! them. Rules go through `nft -j` (JSON), started inside the namespace;
//! a batch is applied whole or not at all. The table exists exactly while
//! it holds rules: removing the last rule of a chain removes the chain, and
//! the last chain takes the table with it.

mod json;
mod nft;
pub mod rule;

pub use json::{Listed, Listing, TABLE};
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

    /// nsbox's table as the kernel holds it; empty when there is none.
    pub fn listing(&self) -> Result<Listing, FirewallError> {
        let step = "listing rules";
        match nft::run(&self.ns, &["-j", "list", "table", "inet", TABLE], None)? {
            Ok(json) => json::parse_listing(&json).map_err(|source| FirewallError::Answer { step, source }),
            Err(refusal) if refusal.is_missing_table() => Ok(Listing::default()),
            Err(refusal) => Err(FirewallError::Refused {
                step,
                message: refusal.message(),
            }),
        }
    }

    /// The rules of one kind (or all), in evaluation order, with counters.
    pub fn list(&self, kind: Option<Kind>) -> Result<Vec<Listed>, FirewallError> {
        let mut rules = self.listing()?.rules;
        rules.retain(|l| kind.is_none_or(|k| l.kind() == k));
        Ok(rules)
    }

    /// Adds the rules that are not already there, in order, in one batch.
    /// Each is checked first: one bad rule and nothing is added.
    pub fn add(&self, rules: &[Rule]) -> Result<Vec<Added>, FirewallError> {
        let rules: Vec<Rule> = rules.iter().cloned().map(Rule::checked).collect::<Result<_, _>>()?;
        let _lock = Locked::take(&self.ns)?;
        let existing = self.listing()?.rules;
        // For each rule: the handle it already has, or its place in the
        // batch of new ones (a rule given twice is added once).
        let mut places: Vec<Result<u64, usize>> = Vec::with_capacity(rules.len());
        let mut fresh: Vec<&Rule> = Vec::new();
        for rule in &rules {
            if let Some(l) = existing.iter().find(|l| l.rule.as_ref() == Some(rule)) {
                places.push(Ok(l.handle));
            } else if let Some(i) = fresh.iter().position(|r| *r == rule) {
                places.push(Err(i));
            } else {
                fresh.push(rule);
                places.push(Err(fresh.len() - 1));
            }
        }
        let mut handles = Vec::new();
        if !fresh.is_empty() {
            let step = "adding rules";
            let batch = serde_json::to_string(&json::add_batch(&fresh)).expect("nftables JSON serializes");
            let echo = self.nft(step, &["-j", "--echo", "-f", "-"], Some(batch))?;
            handles = json::echoed_handles(&echo).map_err(|source| FirewallError::Answer { step, source })?;
        }
        let mut seen = vec![false; fresh.len()];
        Ok(places
            .into_iter()
            .map(|place| match place {
                Ok(handle) => Added { handle, created: false },
                Err(i) => Added {
                    handle: handles.get(i).copied().unwrap_or(0),
                    created: !std::mem::replace(&mut seen[i], true),
                },
            })
            .collect())
    }

    /// Deletes rules of `kind` by handle; if any handle is not one of them,
    /// nothing is deleted.
    pub fn delete(&self, kind: Kind, handles: &[u64]) -> Result<Vec<Listed>, FirewallError> {
        let _lock = Locked::take(&self.ns)?;
        let listing = self.listing()?;
        for &handle in handles {
            if !listing.rules.iter().any(|l| l.handle == handle && l.kind() == kind) {
                return Err(FirewallError::NoSuchHandle {
                    kind: kind.name(),
                    handle,
                });
            }
        }
        self.remove(&listing, |l| handles.contains(&l.handle))
    }

    /// Deletes the rule equal to `rule` (as `iptables -D` does).
    pub fn delete_rule(&self, rule: &Rule) -> Result<Listed, FirewallError> {
        let rule = rule.clone().checked()?;
        let _lock = Locked::take(&self.ns)?;
        let listing = self.listing()?;
        let found = listing
            .rules
            .iter()
            .find(|l| l.rule.as_ref() == Some(&rule))
            .ok_or_else(|| FirewallError::NoSuchRule {
                kind: rule.hook.kind().name(),
                rule: rule.to_string(),
            })?;
        let handle = found.handle;
        let mut gone = self.remove(&listing, |l| l.handle == handle)?;
        Ok(gone.remove(0))
    }

    /// Deletes every rule of `kind` (or every rule nsbox has here): the
    /// chains go, and the table when nothing else is left in it.
    pub fn flush(&self, kind: Option<Kind>) -> Result<Vec<Listed>, FirewallError> {
        let _lock = Locked::take(&self.ns)?;
        let listing = self.listing()?;
        self.remove(&listing, |l| kind.is_none_or(|k| l.kind() == k))
    }

    fn remove(&self, listing: &Listing, doomed: impl Fn(&Listed) -> bool) -> Result<Vec<Listed>, FirewallError> {
        let removal = listing.removal(&doomed);
        if removal.rules.is_empty() && !removal.table {
            return Ok(Vec::new());
        }
        self.apply_removal(&removal)?;
        Ok(listing.rules.iter().filter(|l| doomed(l)).cloned().collect())
    }

    fn apply_removal(&self, removal: &json::Removal) -> Result<(), FirewallError> {
        let batch = serde_json::to_string(&json::remove_batch(removal)).expect("nftables JSON serializes");
        self.nft("deleting rules", &["-j", "-f", "-"], Some(batch))?;
        Ok(())
    }
}
