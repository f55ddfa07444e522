//! The rules nsbox keeps in its nftables table: what a rule matches, what it
//! does, and where it sits, checked before anything reaches the kernel.
//!
//! A [`Rule`] is always in canonical form (prefixes without host bits, a
//! one-port range as a single port), so that a rule read back from the
//! kernel compares equal to the rule that was added: that is how adding the
//! same rule twice is recognised.

use ipnet::IpNet;
use serde::Serialize;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// Where a rule is evaluated: the netfilter hook of its chain. The order of
/// the variants is the order in which a forwarded packet meets them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Hook {
    Prerouting,
    Input,
    Forward,
    Output,
    Postrouting,
}

/// The two kinds of rule, each with its own chains in nsbox's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Nat,
    Filter,
}

impl Hook {
    pub const ALL: [Hook; 5] = [
        Hook::Prerouting,
        Hook::Input,
        Hook::Forward,
        Hook::Output,
        Hook::Postrouting,
    ];

    /// The name of nsbox's chain for this hook (also the hook's nft name).
    pub fn chain(self) -> &'static str {
        match self {
            Hook::Prerouting => "prerouting",
            Hook::Input => "input",
            Hook::Forward => "forward",
            Hook::Output => "output",
            Hook::Postrouting => "postrouting",
        }
    }

    pub fn from_chain(name: &str) -> Option<Hook> {
        Hook::ALL.into_iter().find(|h| h.chain() == name)
    }

    /// NAT rules live in prerouting (DNAT) and postrouting (SNAT); filter
    /// rules in input, forward and output.
    pub fn kind(self) -> Kind {
        match self {
            Hook::Prerouting | Hook::Postrouting => Kind::Nat,
            Hook::Input | Hook::Forward | Hook::Output => Kind::Filter,
        }
    }

    /// Whether packets at this hook have an input / output interface.
    fn has_in_iface(self) -> bool {
        matches!(self, Hook::Prerouting | Hook::Input | Hook::Forward)
    }

    fn has_out_iface(self) -> bool {
        matches!(self, Hook::Forward | Hook::Output | Hook::Postrouting)
    }
}

impl fmt::Display for Hook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.chain())
    }
}

impl FromStr for Hook {
    type Err = RuleError;
    fn from_str(s: &str) -> Result<Self, RuleError> {
        Hook::from_chain(&s.to_ascii_lowercase()).ok_or_else(|| RuleError::Value {
            what: "chain",
            value: s.into(),
            expected: "prerouting, input, forward, output or postrouting",
        })
    }
}

/// The transport (or ICMP) protocol a rule matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Udp,
    Sctp,
    Icmp,
    Icmpv6,
}

impl Proto {
    pub fn name(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Sctp => "sctp",
            Proto::Icmp => "icmp",
            Proto::Icmpv6 => "icmpv6",
        }
    }

    /// The protocols whose header has ports.
    pub fn has_ports(self) -> bool {
        matches!(self, Proto::Tcp | Proto::Udp | Proto::Sctp)
    }

    /// Reads nft's names too: it lists ICMPv6 as `ipv6-icmp`.
    pub fn from_nft(name: &str) -> Option<Proto> {
        match name {
            "tcp" => Some(Proto::Tcp),
            "udp" => Some(Proto::Udp),
            "sctp" => Some(Proto::Sctp),
            "icmp" => Some(Proto::Icmp),
            "icmpv6" | "ipv6-icmp" => Some(Proto::Icmpv6),
            _ => None,
        }
    }
}

impl FromStr for Proto {
    type Err = RuleError;
    fn from_str(s: &str) -> Result<Self, RuleError> {
        Proto::from_nft(&s.to_ascii_lowercase()).ok_or_else(|| RuleError::Value {
            what: "protocol",
            value: s.into(),
            expected: "tcp, udp, sctp, icmp or icmpv6",
        })
    }
}

/// One port or an inclusive range of ports; in JSON as it is written
/// (`"80"`, `"1000-2000"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ports {
    pub first: u16,
    pub last: u16,
}

impl Ports {
    pub fn single(port: u16) -> Ports {
        Ports {
            first: port,
            last: port,
        }
    }
}

impl Serialize for Ports {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl fmt::Display for Ports {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.first == self.last {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{}-{}", self.first, self.last)
        }
    }
}

impl FromStr for Ports {
    type Err = RuleError;
    /// `80` or `1000-2000`.
    fn from_str(s: &str) -> Result<Self, RuleError> {
        let bad = || RuleError::Value {
            what: "port",
            value: s.into(),
            expected: "a port 1-65535 or a range FIRST-LAST",
        };
        let port = |p: &str| p.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(bad);
        let ports = match s.split_once('-') {
            Some((a, b)) => Ports {
                first: port(a)?,
                last: port(b)?,
            },
            None => Ports::single(port(s)?),
        };
        if ports.first > ports.last {
            return Err(bad());
        }
        Ok(ports)
    }
}

/// The address (or range of addresses) and optional ports a NAT rule
/// translates to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct NatTarget {
    pub addr: IpAddr,
    /// The last address of a range (`10.0.2.1-10.0.2.5`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub addr_last: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ports: Option<Ports>,
}

impl fmt::Display for NatTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bracket = self.ports.is_some() && self.addr.is_ipv6();
        let open = if bracket { "[" } else { "" };
        let close = if bracket { "]" } else { "" };
        write!(f, "{open}{}", self.addr)?;
        if let Some(last) = self.addr_last {
            write!(f, "-{last}")?;
        }
        f.write_str(close)?;
        if let Some(p) = self.ports {
            write!(f, ":{p}")?;
        }
        Ok(())
    }
}

impl FromStr for NatTarget {
    type Err = RuleError;
    /// `ADDR`, `ADDR-ADDR`, `ADDR:PORT[-PORT]`, `[V6ADDR]:PORT`, `V6ADDR`.
    fn from_str(s: &str) -> Result<Self, RuleError> {
        let bad = || RuleError::Value {
            what: "NAT target",
            value: s.into(),
            expected: "ADDR[-ADDR][:PORT[-PORT]] (IPv6 with ports as [ADDR]:PORT)",
        };
        let (addrs, ports) = if let Some(rest) = s.strip_prefix('[') {
            let (addrs, after) = rest.split_once(']').ok_or_else(bad)?;
            let ports = match after {
                "" => None,
                p => Some(p.strip_prefix(':').ok_or_else(bad)?),
            };
            (addrs, ports)
        } else if s.matches(':').count() == 1 {
            let (a, p) = s.split_once(':').expect("one colon");
            (a, Some(p))
        } else {
            (s, None)
        };
        let addr = |a: &str| a.parse::<IpAddr>().map_err(|_| bad());
        let (first, last) = match addrs.split_once('-') {
            Some((a, b)) => (addr(a)?, Some(addr(b)?)),
            None => (addr(addrs)?, None),
        };
        if let Some(last) = last {
            if last.is_ipv4() != first.is_ipv4() || last < first {
                return Err(bad());
            }
        }
        let ports = ports.map(str::parse::<Ports>).transpose()?;
        Ok(NatTarget {
            addr: first,
            addr_last: last.filter(|l| *l != first),
            ports,
        })
    }
}

/// What a rule does with a packet it matches.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase", tag = "action")]
pub enum Action {
    /// Rewrite the source (postrouting).
    Snat {
        to: NatTarget,
    },
    /// Rewrite the source to the outgoing interface's address (postrouting).
    Masquerade {
        #[serde(skip_serializing_if = "Option::is_none")]
        ports: Option<Ports>,
    },
    /// Rewrite the destination: a port forward (prerouting).
    Dnat {
        to: NatTarget,
    },
    Accept,
    Drop,
    /// Drop and tell the sender: a TCP reset for TCP, ICMP port unreachable
    /// otherwise.
    Reject,
}

impl Action {
    pub fn name(&self) -> &'static str {
        match self {
            Action::Snat { .. } => "snat",
            Action::Masquerade { .. } => "masquerade",
            Action::Dnat { .. } => "dnat",
            Action::Accept => "accept",
            Action::Drop => "drop",
            Action::Reject => "reject",
        }
    }

    fn kind(&self) -> Kind {
        match self {
            Action::Snat { .. } | Action::Masquerade { .. } | Action::Dnat { .. } => Kind::Nat,
            Action::Accept | Action::Drop | Action::Reject => Kind::Filter,
        }
    }

    /// The chain a NAT action belongs in; filter actions go where asked.
    pub fn nat_hook(&self) -> Option<Hook> {
        match self {
            Action::Snat { .. } | Action::Masquerade { .. } => Some(Hook::Postrouting),
            Action::Dnat { .. } => Some(Hook::Prerouting),
            _ => None,
        }
    }

    fn target(&self) -> Option<&NatTarget> {
        match self {
            Action::Snat { to } | Action::Dnat { to } => Some(to),
            _ => None,
        }
    }

    fn ports(&self) -> Option<Ports> {
        match self {
            Action::Masquerade { ports } => *ports,
            _ => self.target().and_then(|t| t.ports),
        }
    }
}

impl fmt::Display for Action {
    /// Like the target column of `iptables -nL`: `SNAT to:10.0.2.1`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Snat { to } => write!(f, "snat to:{to}"),
            Action::Dnat { to } => write!(f, "dnat to:{to}"),
            Action::Masquerade { ports: Some(p) } => write!(f, "masquerade ports:{p}"),
            other => f.write_str(other.name()),
        }
    }
}

/// What a rule matches. Every field is optional; an empty match takes every
/// packet.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize)]
pub struct Match {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<IpNet>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination: Option<IpNet>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_iface: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub out_iface: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proto: Option<Proto>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sport: Option<Ports>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dport: Option<Ports>,
}

impl fmt::Display for Match {
    /// The match in iptables' words: `-s 10.0.1.0/24 -o veth-cli`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(p) = self.proto {
            parts.push(format!("-p {}", p.name()));
        }
        if let Some(s) = self.source {
            parts.push(format!("-s {}", net_text(s)));
        }
        if let Some(d) = self.destination {
            parts.push(format!("-d {}", net_text(d)));
        }
        if let Some(i) = &self.in_iface {
            parts.push(format!("-i {i}"));
        }
        if let Some(o) = &self.out_iface {
            parts.push(format!("-o {o}"));
        }
        if let Some(p) = self.sport {
            parts.push(format!("--sport {p}"));
        }
        if let Some(p) = self.dport {
            parts.push(format!("--dport {p}"));
        }
        if parts.is_empty() {
            f.write_str("(all)")
        } else {
            f.write_str(&parts.join(" "))
        }
    }
}

/// A rule in one of nsbox's chains.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Rule {
    pub hook: Hook,
    #[serde(flatten)]
    pub matches: Match,
    #[serde(flatten)]
    pub action: Action,
}

/// A rule that cannot be made, or a value that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("{what} {value:?} is not valid: expected {expected}")]
    Value {
        what: &'static str,
        value: String,
        expected: &'static str,
    },
    #[error("interface name {0:?} is invalid: it must be 1 to 15 bytes without '/', ':' or whitespace")]
    Interface(String),
    #[error("{action} belongs in the {expected} chain, not {hook}")]
    WrongChain {
        action: &'static str,
        hook: Hook,
        expected: &'static str,
    },
    #[error("packets at {hook} have no {which} interface")]
    NoInterface { hook: Hook, which: &'static str },
    #[error("ports need --proto tcp, udp or sctp{}", .0.map(|p| format!(" (not {})", p.name())).unwrap_or_default())]
    PortsWithoutProto(Option<Proto>),
    #[error("the rule mixes IPv4 and IPv6: {0}")]
    MixedFamilies(String),
}

/// IPv4 or IPv6.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    pub fn of(addr: IpAddr) -> Family {
        if addr.is_ipv4() {
            Family::V4
        } else {
            Family::V6
        }
    }
}

/// Parses an address or prefix the way iptables does: `10.0.1.2` is a
/// host, `10.0.1.5/24` means the network `10.0.1.0/24`.
pub fn parse_prefix(s: &str) -> Result<IpNet, RuleError> {
    let net = s
        .parse::<IpNet>()
        .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| RuleError::Value {
            what: "address",
            value: s.into(),
            expected: "an IPv4 or IPv6 address or prefix (10.0.1.0/24)",
        })?;
    Ok(net.trunc())
}

/// A prefix as people write it: a host without its `/32` or `/128`.
pub fn net_text(net: IpNet) -> String {
    if net.prefix_len() == net.max_prefix_len() {
        net.addr().to_string()
    } else {
        net.to_string()
    }
}

/// Checks an interface name the way the kernel will.
pub fn check_iface(name: &str) -> Result<(), RuleError> {
    crate::link::check_name(name).map_err(|_| RuleError::Interface(name.into()))
}

impl Rule {
    /// A NAT rule: its chain follows from the action.
    pub fn nat(matches: Match, action: Action) -> Result<Rule, RuleError> {
        let hook = action.nat_hook().ok_or(RuleError::WrongChain {
            action: action.name(),
            hook: Hook::Postrouting,
            expected: "input, forward or output",
        })?;
        Rule { hook, matches, action }.checked()
    }

    /// Checks everything the kernel (or nft) would refuse, and puts the
    /// rule in canonical form.
    pub fn checked(mut self) -> Result<Rule, RuleError> {
        let m = &mut self.matches;
        let hook = self.hook;
        match (self.action.kind(), self.action.nat_hook()) {
            (Kind::Nat, Some(expected)) if expected != hook => {
                return Err(RuleError::WrongChain {
                    action: self.action.name(),
                    hook,
                    expected: expected.chain(),
                })
            }
            (Kind::Filter, _) if hook.kind() != Kind::Filter => {
                return Err(RuleError::WrongChain {
                    action: self.action.name(),
                    hook,
                    expected: "input, forward or output",
                })
            }
            _ => {}
        }
        for (iface, which, present) in [
            (&m.in_iface, "input", hook.has_in_iface()),
            (&m.out_iface, "output", hook.has_out_iface()),
        ] {
            if let Some(name) = iface {
                check_iface(name)?;
                if !present {
                    return Err(RuleError::NoInterface { hook, which });
                }
            }
        }
        let needs_ports = m.sport.is_some() || m.dport.is_some() || self.action.ports().is_some();
        if needs_ports && !m.proto.is_some_and(Proto::has_ports) {
            return Err(RuleError::PortsWithoutProto(m.proto));
        }
        m.source = m.source.map(|n| n.trunc());
        m.destination = m.destination.map(|n| n.trunc());
        self.check_family()?;
        Ok(self)
    }

    /// The address family every address of the rule agrees on, if any.
    pub fn family(&self) -> Option<Family> {
        self.families().first().map(|(_, f)| *f)
    }

    fn families(&self) -> Vec<(String, Family)> {
        let m = &self.matches;
        let mut seen = Vec::new();
        if let Some(s) = m.source {
            seen.push((format!("source {s}"), Family::of(s.addr())));
        }
        if let Some(d) = m.destination {
            seen.push((format!("destination {d}"), Family::of(d.addr())));
        }
        match m.proto {
            Some(Proto::Icmp) => seen.push(("protocol icmp".into(), Family::V4)),
            Some(Proto::Icmpv6) => seen.push(("protocol icmpv6".into(), Family::V6)),
            _ => {}
        }
        if let Some(t) = self.action.target() {
            seen.push((format!("target {t}"), Family::of(t.addr)));
        }
        seen
    }

    fn check_family(&self) -> Result<(), RuleError> {
        let seen = self.families();
        if let Some((first, family)) = seen.first() {
            if let Some((other, _)) = seen.iter().find(|(_, f)| f != family) {
                return Err(RuleError::MixedFamilies(format!("{first} and {other}")));
            }
        }
        Ok(())
    }
}

impl Rule {
    /// The rule's canonical text without its chain, kept as the comment of
    /// the rule in the kernel: two rules of a chain are the same rule
    /// exactly when their keys are equal. nft keeps at most 128 bytes of
    /// comment (with its NUL); a longer text is cut and ends in a hash of
    /// the whole, so that it stays readable and unique.
    pub fn key(&self) -> String {
        const MAX: usize = 127;
        let text = format!("{} -> {}", self.matches, self.action);
        if text.len() <= MAX {
            return text;
        }
        let hash = format!(" ...#{:016x}", fnv1a(text.as_bytes()));
        // The text is ASCII (addresses, names, numbers), so any cut is on a
        // character boundary.
        format!("{}{hash}", &text[..MAX - hash.len()])
    }
}

/// FNV-1a, 64 bits: a hash that is the same in every build and version,
/// as a key stored in the kernel must be.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} -> {}", self.hook, self.matches, self.action)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The seed's SNAT rule (also for the JSON tests).
    pub(crate) fn seed_snat() -> Rule {
        Rule::nat(
            Match {
                source: Some(parse_prefix("10.0.1.0/24").unwrap()),
                out_iface: Some("veth-cli".into()),
                ..Match::default()
            },
            Action::Snat {
                to: "10.0.2.1".parse().unwrap(),
            },
        )
        .unwrap()
    }

    #[test]
    fn the_seed_rule_goes_to_postrouting() {
        let r = seed_snat();
        assert_eq!(r.hook, Hook::Postrouting);
        assert_eq!(
            r.to_string(),
            "postrouting: -s 10.0.1.0/24 -o veth-cli -> snat to:10.0.2.1"
        );
        assert_eq!(r.family(), Some(Family::V4));
    }

    #[test]
    fn the_longest_key_fits_in_an_nft_comment() {
        let v6 = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fff0/124";
        let r = Rule::nat(
            Match {
                source: Some(parse_prefix(v6).unwrap()),
                destination: Some(parse_prefix(v6).unwrap()),
                in_iface: Some("a-name-of-15-by".into()),
                proto: Some(Proto::Sctp),
                sport: Some(Ports {
                    first: 65534,
                    last: 65535,
                }),
                dport: Some(Ports {
                    first: 65534,
                    last: 65535,
                }),
                ..Match::default()
            },
            Action::Dnat {
                to: "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:fff0-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65534-65535"
                    .parse()
                    .unwrap(),
            },
        )
        .unwrap();
        let key = r.key();
        assert!(key.len() <= 127, "{} bytes: {key}", key.len());
        assert!(key.starts_with("-p sctp -s ffff:"), "{key}");
        let mut other = r.clone();
        other.matches.dport = Some(Ports {
            first: 65533,
            last: 65535,
        });
        assert_ne!(
            other.key(),
            key,
            "rules that differ only past the cut have different keys"
        );
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c, "FNV-1a's published value for \"a\"");
    }

    #[test]
    fn prefixes_lose_their_host_bits_like_iptables() {
        assert_eq!(parse_prefix("10.0.1.5/24").unwrap().to_string(), "10.0.1.0/24");
        assert_eq!(parse_prefix("10.0.1.5").unwrap().to_string(), "10.0.1.5/32");
        assert_eq!(parse_prefix("fd00::1/64").unwrap().to_string(), "fd00::/64");
        assert!(parse_prefix("10.0.1.300").is_err());
        assert!(parse_prefix("10.0.1.0/33").is_err());
        assert!(parse_prefix("").is_err());
    }

    #[test]
    fn nat_targets_parse_in_every_form() {
        let t: NatTarget = "10.0.2.1-10.0.2.5".parse().unwrap();
        assert_eq!(t.addr_last, Some("10.0.2.5".parse().unwrap()));
        let t: NatTarget = "10.0.1.2:80".parse().unwrap();
        assert_eq!(t.ports, Some(Ports::single(80)));
        let t: NatTarget = "[fd00::2]:1000-2000".parse().unwrap();
        assert_eq!(t.addr, "fd00::2".parse::<IpAddr>().unwrap());
        assert_eq!(
            t.ports,
            Some(Ports {
                first: 1000,
                last: 2000
            })
        );
        assert_eq!(t.to_string(), "[fd00::2]:1000-2000");
        let t: NatTarget = "fd00::2".parse().unwrap();
        assert_eq!(t.ports, None);
        for bad in [
            "",
            "10.0.2.5-10.0.2.1",
            "10.0.2.1-fd00::1",
            "10.0.2.1:0",
            "10.0.2.1:70000",
            "[fd00::2",
            "x",
        ] {
            assert!(bad.parse::<NatTarget>().is_err(), "{bad}");
        }
    }

    #[test]
    fn ports_parse_and_refuse_nonsense() {
        assert_eq!("80".parse::<Ports>().unwrap(), Ports::single(80));
        assert_eq!("1-2".parse::<Ports>().unwrap(), Ports { first: 1, last: 2 });
        for bad in ["0", "2-1", "65536", "a", "1-", ""] {
            assert!(bad.parse::<Ports>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_port_needs_a_protocol_with_ports() {
        let m = Match {
            dport: Some(Ports::single(80)),
            ..Match::default()
        };
        let err = Rule {
            hook: Hook::Forward,
            matches: m.clone(),
            action: Action::Drop,
        }
        .checked()
        .unwrap_err();
        assert_eq!(err, RuleError::PortsWithoutProto(None));
        let err = Rule {
            hook: Hook::Forward,
            matches: Match {
                proto: Some(Proto::Icmp),
                ..m
            },
            action: Action::Drop,
        }
        .checked()
        .unwrap_err();
        assert_eq!(err.to_string(), "ports need --proto tcp, udp or sctp (not icmp)");
        let dnat_port = Rule::nat(
            Match::default(),
            Action::Dnat {
                to: "10.0.1.2:80".parse().unwrap(),
            },
        );
        assert_eq!(dnat_port.unwrap_err(), RuleError::PortsWithoutProto(None));
    }

    #[test]
    fn actions_stay_in_their_chains() {
        let drop_in_nat = Rule {
            hook: Hook::Postrouting,
            matches: Match::default(),
            action: Action::Drop,
        };
        assert!(matches!(drop_in_nat.checked(), Err(RuleError::WrongChain { .. })));
        let snat_in_forward = Rule {
            hook: Hook::Forward,
            matches: Match::default(),
            action: Action::Masquerade { ports: None },
        };
        let err = snat_in_forward.checked().unwrap_err();
        assert_eq!(
            err.to_string(),
            "masquerade belongs in the postrouting chain, not forward"
        );
    }

    #[test]
    fn interfaces_exist_only_where_the_hook_has_them() {
        let r = Rule {
            hook: Hook::Input,
            matches: Match {
                out_iface: Some("eth0".into()),
                ..Match::default()
            },
            action: Action::Accept,
        };
        assert_eq!(
            r.checked().unwrap_err().to_string(),
            "packets at input have no output interface"
        );
        let long = Rule::nat(
            Match {
                out_iface: Some("a-name-of-16-byt".into()),
                ..Match::default()
            },
            Action::Masquerade { ports: None },
        );
        assert!(matches!(long, Err(RuleError::Interface(_))));
    }

    #[test]
    fn families_must_agree() {
        let r = Rule::nat(
            Match {
                source: Some(parse_prefix("fd00::/64").unwrap()),
                ..Match::default()
            },
            Action::Snat {
                to: "10.0.2.1".parse().unwrap(),
            },
        );
        assert_eq!(
            r.unwrap_err().to_string(),
            "the rule mixes IPv4 and IPv6: source fd00::/64 and target 10.0.2.1"
        );
        let icmp6_v4 = Rule {
            hook: Hook::Forward,
            matches: Match {
                destination: Some(parse_prefix("10.0.0.0/8").unwrap()),
                proto: Some(Proto::Icmpv6),
                ..Match::default()
            },
            action: Action::Drop,
        };
        assert!(matches!(icmp6_v4.checked(), Err(RuleError::MixedFamilies(_))));
    }
}
