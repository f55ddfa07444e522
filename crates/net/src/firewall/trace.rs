//! Watching packets go through a namespace's nftables, with nft's own
//! tracing: a table of nsbox's sets `meta nftrace` on the packets between
//! given addresses before any other chain sees them (priority -350, in
//! prerouting and output), and `nft monitor trace` reports every chain
//! they then meet in every table, with the rule or policy that decided.
//! That is the kernel's own account of what a ruleset nsbox does not model
//! (a node's `nftables:` block, a table made by hand) did to a packet.

use super::{nft, FirewallError};
use std::io::{Read, Seek};
use std::net::IpAddr;
use std::os::fd::OwnedFd;
use std::process::{Child, Command, Stdio};

/// The table nsbox traces from. A table of that name that nsbox did not
/// just make is never touched: tracing is then refused.
const TABLE: &str = "nsbox-trace";

/// One decision nft reports: in `table` (`inet guard`), chain `chain`,
/// what decided (`policy drop`, `rule ip saddr 10.0.2.0/24 accept (verdict
/// accept)`), about `packet` (`10.0.1.2 -> 10.0.2.2 icmp echo-request`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Decision {
    pub table: String,
    pub chain: String,
    pub decided: String,
    pub packet: String,
}

/// Tracing running in one namespace: the table that marks the packets,
/// and the monitor that reports them. Dropped, it stops the monitor and
/// deletes the table.
pub struct Tracer {
    ns: OwnedFd,
    monitor: Option<Child>,
    output: std::fs::File,
}

impl Tracer {
    /// Starts tracing, in the namespace `ns`, the packets whose source and
    /// destination are both among `addresses`. `Ok(None)` when a table
    /// named `inet nsbox-trace` is there already (left by a crash, or
    /// someone else's): it is left alone, and nothing is traced.
    pub fn start(ns: &OwnedFd, addresses: &[IpAddr]) -> Result<Option<Tracer>, FirewallError> {
        let ns = ns.try_clone().map_err(FirewallError::Spawn)?;
        if nft::run(&ns, &["list", "table", "inet", TABLE], None)?.is_ok() {
            return Ok(None);
        }
        let program = nft::locate()?;
        let output = unlinked_file().map_err(FirewallError::Spawn)?;
        let out = output.try_clone().map_err(FirewallError::Spawn)?;
        let monitor = nsbox_ns::netns::run_in_fd(&ns, move || {
            Command::new(program)
                .args(["monitor", "trace"])
                .stdin(Stdio::null())
                .stdout(out)
                .stderr(Stdio::null())
                .spawn()
        })?
        .map_err(FirewallError::Spawn)?;
        let tracer = Tracer {
            ns,
            monitor: Some(monitor),
            output,
        };
        nft::run(&tracer.ns, &["-f", "-"], Some(marking_table(addresses)))?.map_err(|refusal| {
            FirewallError::Refused {
                step: "adding the trace table",
                message: refusal.message(),
            }
        })?;
        Ok(Some(tracer))
    }

    /// Stops tracing and returns what nft reported, in order, the trace
    /// table's own chains left out.
    pub fn finish(mut self) -> Vec<Decision> {
        self.stop();
        let mut text = String::new();
        let _ = self.output.seek(std::io::SeekFrom::Start(0));
        let _ = self.output.read_to_string(&mut text);
        decisions(&text)
    }

    fn stop(&mut self) {
        if let Some(mut monitor) = self.monitor.take() {
            let _ = monitor.kill();
            let _ = monitor.wait();
        }
        // Best effort: the table lives in the lab's namespace, which `down`
        // deletes with everything in it.
        let _ = nft::run(&self.ns, &["delete", "table", "inet", TABLE], None);
    }
}

impl Drop for Tracer {
    fn drop(&mut self) {
        if self.monitor.is_some() {
            self.stop();
        }
    }
}

/// An anonymous file for the monitor's output: read once it has stopped.
fn unlinked_file() -> std::io::Result<std::fs::File> {
    let fd = rustix::fs::memfd_create("nsbox-nft-trace", rustix::fs::MemfdFlags::CLOEXEC)?;
    Ok(std::fs::File::from(fd))
}

/// The table that marks the packets to trace, IPv4 and IPv6, before any
/// other chain (the lowest priority a filter chain has is -300: raw).
fn marking_table(addresses: &[IpAddr]) -> String {
    let set = |v6: bool| -> Option<String> {
        let of_family: Vec<String> = addresses
            .iter()
            .filter(|a| a.is_ipv6() == v6)
            .map(|a| a.to_string())
            .collect();
        (!of_family.is_empty()).then(|| of_family.join(", "))
    };
    let mut rules = String::new();
    for (family, v6) in [("ip", false), ("ip6", true)] {
        if let Some(set) = set(v6) {
            rules.push_str(&format!(
                "    {family} saddr {{ {set} }} {family} daddr {{ {set} }} meta nftrace set 1\n"
            ));
        }
    }
    let chain = |name: &str, hook: &str| {
        format!("  chain {name} {{\n    type filter hook {hook} priority -350;\n{rules}  }}\n")
    };
    format!(
        "table inet {TABLE} {{\n{}{}}}\n",
        chain("pre", "prerouting"),
        chain("out", "output")
    )
}

/// The decisions in `nft monitor trace`'s output: lines `trace id ID
/// FAMILY TABLE CHAIN WHAT`, where WHAT is `packet: ...` (what the packet
/// is, kept for the decisions that follow), `rule ... (verdict V)`,
/// `policy P` or `verdict V`.
fn decisions(text: &str) -> Vec<Decision> {
    let mut packets: std::collections::HashMap<String, String> = Default::default();
    let mut out = Vec::new();
    for line in text.lines() {
        let mut words = line.splitn(7, ' ');
        let (Some("trace"), Some("id"), Some(id), Some(family), Some(table), Some(chain), Some(what)) = (
            words.next(),
            words.next(),
            words.next(),
            words.next(),
            words.next(),
            words.next(),
            words.next(),
        ) else {
            continue;
        };
        if let Some(packet) = what.strip_prefix("packet: ") {
            packets.insert(id.to_string(), packet_words(packet));
            continue;
        }
        let decided = what.trim();
        let decides =
            decided.starts_with("policy ") || decided.starts_with("verdict ") || decided.contains("(verdict ");
        if table == TABLE || !decides {
            continue;
        }
        out.push(Decision {
            table: format!("{family} {table}"),
            chain: chain.to_string(),
            decided: decided.to_string(),
            packet: packets.get(id).cloned().unwrap_or_default(),
        });
    }
    out
}

/// `10.0.1.2 -> 10.0.2.2 icmp echo-request` from the `packet:` words of a
/// trace (`iif "eth0" ether saddr ... ip saddr 10.0.1.2 ip daddr 10.0.2.2
/// ... icmp type echo-request ...`).
fn packet_words(packet: &str) -> String {
    let words: Vec<&str> = packet.split_whitespace().collect();
    let after = |family: &str, key: &str| {
        words
            .windows(3)
            .find(|w| w[0] == family && w[1] == key)
            .map(|w| w[2].to_string())
    };
    let (source, destination) = match (after("ip", "saddr"), after("ip", "daddr")) {
        (Some(s), Some(d)) => (s, d),
        _ => (
            after("ip6", "saddr").unwrap_or_default(),
            after("ip6", "daddr").unwrap_or_default(),
        ),
    };
    let what = after("icmp", "type")
        .map(|t| format!("icmp {t}"))
        .or_else(|| after("icmpv6", "type").map(|t| format!("icmpv6 {t}")))
        .or_else(|| after("tcp", "dport").map(|p| format!("tcp port {p}")))
        .or_else(|| after("udp", "dport").map(|p| format!("udp port {p}")))
        .unwrap_or_default();
    format!("{source} -> {destination} {what}").trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions_are_read_from_the_monitor_s_lines_without_the_trace_table() {
        let text = r#"trace id b39f03cc inet nsbox-trace pre packet: iif "eth0" ether saddr be:3c:b8:00:6d:d3 ether daddr be:03:45:6b:35:a1 ip saddr 10.0.1.2 ip daddr 10.0.2.2 ip ttl 64 ip protocol icmp icmp type echo-request icmp id 30862
trace id b39f03cc inet nsbox-trace pre rule ip saddr 10.0.1.2 ip daddr 10.0.2.2 meta nftrace set 1 (verdict continue)
trace id b39f03cc inet nsbox-trace pre policy accept 
trace id b39f03cc inet guard forward packet: iif "eth0" oif "eth1" ip saddr 10.0.1.2 ip daddr 10.0.2.2 ip ttl 63 icmp type echo-request
trace id b39f03cc inet guard forward policy drop 
trace id 8ae05cc5 inet guard forward packet: iif "eth0" oif "eth1" ip6 saddr 2001:db8::1 ip6 daddr 2001:db8::2 tcp sport 4242 tcp dport 80
trace id 8ae05cc5 inet guard forward rule ct state established,related accept (verdict accept)
something else
"#;
        let found = decisions(text);
        assert_eq!(
            found,
            vec![
                Decision {
                    table: "inet guard".into(),
                    chain: "forward".into(),
                    decided: "policy drop".into(),
                    packet: "10.0.1.2 -> 10.0.2.2 icmp echo-request".into(),
                },
                Decision {
                    table: "inet guard".into(),
                    chain: "forward".into(),
                    decided: "rule ct state established,related accept (verdict accept)".into(),
                    packet: "2001:db8::1 -> 2001:db8::2 tcp port 80".into(),
                },
            ]
        );
    }

    #[test]
    fn the_marking_table_names_both_families_before_every_other_chain() {
        let text = marking_table(&["10.0.1.2".parse().unwrap(), "2001:db8::2".parse().unwrap()]);
        assert!(text.contains("ip saddr { 10.0.1.2 } ip daddr { 10.0.1.2 } meta nftrace set 1"));
        assert!(text.contains("ip6 saddr { 2001:db8::2 } ip6 daddr { 2001:db8::2 } meta nftrace set 1"));
        assert!(text.contains("hook prerouting priority -350"));
        assert!(text.contains("hook output priority -350"));
    }
}
