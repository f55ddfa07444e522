//! Rules in words, as `nsbox nat add` / `nsbox filter add` take them and as
//! lab files write them: `snat -s 10.0.1.0/24 -o veth-cli --to-source
//! 10.0.2.1`, `forward drop -s 10.0.1.2`. The command line and the lab file
//! share this reading, so a rule means the same wherever it is written.

use super::rule::{parse_prefix, Action, Hook, Match, NatTarget, Ports, Proto, Rule};

/// The flags of a rule, unparsed.
#[derive(Debug, Default, Clone)]
pub struct Flags {
    pub source: Option<String>,
    pub destination: Option<String>,
    pub in_iface: Option<String>,
    pub out_iface: Option<String>,
    pub proto: Option<String>,
    pub sport: Option<String>,
    pub dport: Option<String>,
    pub to_source: Option<String>,
    pub to_destination: Option<String>,
    pub to_ports: Option<String>,
}

impl Flags {
    fn to_match(&self) -> Result<Match, String> {
        let err = |e: super::RuleError| e.to_string();
        Ok(Match {
            source: self.source.as_deref().map(parse_prefix).transpose().map_err(err)?,
            destination: self.destination.as_deref().map(parse_prefix).transpose().map_err(err)?,
            in_iface: self.in_iface.clone(),
            out_iface: self.out_iface.clone(),
            proto: self
                .proto
                .as_deref()
                .map(str::parse::<Proto>)
                .transpose()
                .map_err(err)?,
            sport: self
                .sport
                .as_deref()
                .map(str::parse::<Ports>)
                .transpose()
                .map_err(err)?,
            dport: self
                .dport
                .as_deref()
                .map(str::parse::<Ports>)
                .transpose()
                .map_err(err)?,
        })
    }
}

/// A NAT rule: `action` is snat, masquerade or dnat.
pub fn nat_rule(action: &str, flags: &Flags) -> Result<Rule, String> {
    let target = |flag: &str, value: &Option<String>| -> Result<NatTarget, String> {
        let value = value.as_deref().ok_or_else(|| format!("{action} needs {flag}"))?;
        value.parse::<NatTarget>().map_err(|e| e.to_string())
    };
    let given = [
        ("--to-source", flags.to_source.is_some(), "snat"),
        ("--to-destination", flags.to_destination.is_some(), "dnat"),
        ("--to-ports", flags.to_ports.is_some(), "masquerade"),
    ];
    if let Some((flag, ..)) = given.iter().find(|(_, given, fits)| *given && *fits != action) {
        return Err(format!("{flag} does not apply to {action}"));
    }
    let action = match action {
        "snat" => Action::Snat {
            to: target("--to-source", &flags.to_source)?,
        },
        "dnat" => Action::Dnat {
            to: target("--to-destination", &flags.to_destination)?,
        },
        "masquerade" => Action::Masquerade {
            ports: flags
                .to_ports
                .as_deref()
                .map(str::parse::<Ports>)
                .transpose()
                .map_err(|e| e.to_string())?,
        },
        other => return Err(format!("{other:?} is not a NAT action: snat, masquerade or dnat")),
    };
    Rule::nat(flags.to_match()?, action).map_err(|e| e.to_string())
}

/// A filter rule: `chain` is input, forward or output; `verdict` accept,
/// drop or reject.
pub fn filter_rule(chain: &str, verdict: &str, flags: &Flags) -> Result<Rule, String> {
    let hook = match chain {
        "input" => Hook::Input,
        "forward" => Hook::Forward,
        "output" => Hook::Output,
        other => return Err(format!("{other:?} is not a filter chain: input, forward or output")),
    };
    let action = match verdict {
        "accept" => Action::Accept,
        "drop" => Action::Drop,
        "reject" => Action::Reject,
        other => return Err(format!("{other:?} is not a verdict: accept, drop or reject")),
    };
    if flags.to_source.is_some() || flags.to_destination.is_some() || flags.to_ports.is_some() {
        return Err("NAT targets (--to-...) do not apply to filter rules".into());
    }
    Rule {
        hook,
        matches: flags.to_match()?,
        action,
    }
    .checked()
    .map_err(|e| e.to_string())
}

/// Reads the flags that follow the leading words of a rule.
fn read_flags<'a>(mut words: impl Iterator<Item = &'a str>) -> Result<Flags, String> {
    let mut flags = Flags::default();
    while let Some(flag) = words.next() {
        let slot = match flag {
            "-s" | "--source" => &mut flags.source,
            "-d" | "--destination" => &mut flags.destination,
            "-i" | "--in" => &mut flags.in_iface,
            "-o" | "--out" => &mut flags.out_iface,
            "-p" | "--proto" => &mut flags.proto,
            "--sport" => &mut flags.sport,
            "--dport" => &mut flags.dport,
            "--to-source" => &mut flags.to_source,
            "--to-destination" => &mut flags.to_destination,
            "--to-ports" => &mut flags.to_ports,
            other => return Err(format!("unknown flag {other:?}")),
        };
        let value = words.next().ok_or_else(|| format!("{flag} needs a value"))?;
        if slot.replace(value.to_string()).is_some() {
            return Err(format!("{flag} is given twice"));
        }
    }
    Ok(flags)
}

/// `snat -s 10.0.1.0/24 -o veth-cli --to-source 10.0.2.1`.
pub fn parse_nat(text: &str) -> Result<Rule, String> {
    let mut words = text.split_whitespace();
    let action = words.next().ok_or("an empty rule: expected snat, masquerade or dnat")?;
    nat_rule(action, &read_flags(words)?)
}

/// `forward drop -s 10.0.1.2`.
pub fn parse_filter(text: &str) -> Result<Rule, String> {
    let mut words = text.split_whitespace();
    let (Some(chain), Some(verdict)) = (words.next(), words.next()) else {
        return Err("a filter rule starts with its chain and verdict: forward drop ...".into());
    };
    filter_rule(chain, verdict, &read_flags(words)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_rule_reads_as_on_the_command_line() {
        let r = parse_nat("snat --source 10.0.1.0/24 --out veth-cli --to-source 10.0.2.1").unwrap();
        assert_eq!(
            r.to_string(),
            "postrouting: -s 10.0.1.0/24 -o veth-cli -> snat to:10.0.2.1"
        );
        assert_eq!(
            parse_nat("snat -s 10.0.1.0/24 -o veth-cli --to-source 10.0.2.1").unwrap(),
            r
        );
    }

    #[test]
    fn filter_rules_start_with_chain_and_verdict() {
        let r = parse_filter("forward reject -p tcp --dport 22").unwrap();
        assert_eq!(r.to_string(), "forward: -p tcp --dport 22 -> reject");
    }

    #[test]
    fn bad_words_say_what_is_wrong() {
        for (text, expected) in [
            ("", "an empty rule"),
            ("snat -s 10.0.1.0/24", "snat needs --to-source"),
            (
                "dnat --to-destination 1.2.3.4 --to-source 1.2.3.4",
                "--to-source does not apply to dnat",
            ),
            ("snat --bogus 1 --to-source 1.2.3.4", "unknown flag \"--bogus\""),
            ("snat -s", "-s needs a value"),
            ("snat -s 1.2.3.4 -s 1.2.3.5 --to-source 1.2.3.4", "-s is given twice"),
            ("nat -s 1.2.3.4", "\"nat\" is not a NAT action"),
        ] {
            let err = parse_nat(text).unwrap_err();
            assert!(err.contains(expected), "{text:?}: {err}");
        }
        for (text, expected) in [
            ("forward", "starts with its chain and verdict"),
            ("sideways drop", "\"sideways\" is not a filter chain"),
            ("forward maybe", "\"maybe\" is not a verdict"),
            ("forward drop --to-source 1.2.3.4", "do not apply to filter rules"),
        ] {
            let err = parse_filter(text).unwrap_err();
            assert!(err.contains(expected), "{text:?}: {err}");
        }
    }
}
