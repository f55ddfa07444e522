//! `nsbox nat` and `nsbox filter`: nsbox's NAT and filter rules in a named
//! network namespace, with flags that read like iptables'.

use clap::{Args, Subcommand, ValueEnum};
use comfy_table::{presets::NOTHING, Table};
use nsbox_net::firewall::rule::net_text;
use nsbox_net::firewall::words::{filter_rule, nat_rule, Flags};
use nsbox_net::firewall::{Action, Added, Firewall, Hook, Kind, Listed, Proto, Rule};
use nsbox_ns::netns::Registry;

/// What a rule matches, as iptables spells it.
#[derive(Args, Debug, Default)]
pub struct MatchArgs {
    /// Source address or prefix (10.0.1.0/24).
    #[arg(long, short = 's', value_name = "PREFIX")]
    source: Option<String>,
    /// Destination address or prefix.
    #[arg(long, short = 'd', value_name = "PREFIX")]
    destination: Option<String>,
    /// Interface the packet came in on.
    #[arg(long = "in", short = 'i', value_name = "IFACE")]
    in_iface: Option<String>,
    /// Interface the packet goes out of.
    #[arg(long = "out", short = 'o', value_name = "IFACE")]
    out_iface: Option<String>,
    /// tcp, udp, sctp, icmp or icmpv6.
    #[arg(long, short = 'p', value_name = "PROTO")]
    proto: Option<String>,
    /// Source port or range (needs --proto tcp, udp or sctp).
    #[arg(long, value_name = "PORT[-PORT]")]
    sport: Option<String>,
    /// Destination port or range (needs --proto tcp, udp or sctp).
    #[arg(long, value_name = "PORT[-PORT]")]
    dport: Option<String>,
}

impl MatchArgs {
    fn to_flags(&self) -> Flags {
        Flags {
            source: self.source.clone(),
            destination: self.destination.clone(),
            in_iface: self.in_iface.clone(),
            out_iface: self.out_iface.clone(),
            proto: self.proto.clone(),
            sport: self.sport.clone(),
            dport: self.dport.clone(),
            ..Flags::default()
        }
    }
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum NatAction {
    /// Rewrite the source to --to-source (postrouting).
    Snat,
    /// Rewrite the source to the outgoing interface's address (postrouting).
    Masquerade,
    /// Rewrite the destination to --to-destination: a port forward (prerouting).
    Dnat,
}

#[derive(Args, Debug)]
pub struct NatRuleArgs {
    /// snat, masquerade or dnat.
    action: Option<NatAction>,
    #[command(flatten)]
    matches: MatchArgs,
    /// SNAT: ADDR[-ADDR][:PORT[-PORT]].
    #[arg(long, value_name = "ADDR")]
    to_source: Option<String>,
    /// DNAT: ADDR[:PORT] ([V6ADDR]:PORT for IPv6).
    #[arg(long, value_name = "ADDR")]
    to_destination: Option<String>,
    /// MASQUERADE: source ports to use.
    #[arg(long, value_name = "PORT[-PORT]")]
    to_ports: Option<String>,
}

impl NatRuleArgs {
    fn to_rule(&self) -> Result<Rule, String> {
        let action = self
            .action
            .ok_or("a NAT rule needs an action: snat, masquerade or dnat")?;
        let action = action.to_possible_value().expect("no skipped values");
        let flags = Flags {
            to_source: self.to_source.clone(),
            to_destination: self.to_destination.clone(),
            to_ports: self.to_ports.clone(),
            ..self.matches.to_flags()
        };
        nat_rule(action.get_name(), &flags)
    }

    fn is_empty(&self) -> bool {
        self.action.is_none()
    }
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum FilterChain {
    /// Packets for this namespace.
    Input,
    /// Packets routed through this namespace.
    Forward,
    /// Packets this namespace sends.
    Output,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum Verdict {
    Accept,
    Drop,
    /// Drop and tell the sender (a TCP reset for TCP, ICMP port unreachable otherwise).
    Reject,
}

#[derive(Args, Debug)]
pub struct FilterRuleArgs {
    /// input, forward or output.
    chain: Option<FilterChain>,
    /// accept, drop or reject.
    verdict: Option<Verdict>,
    #[command(flatten)]
    matches: MatchArgs,
}

impl FilterRuleArgs {
    fn to_rule(&self) -> Result<Rule, String> {
        let (Some(chain), Some(verdict)) = (self.chain, self.verdict) else {
            return Err("a filter rule needs a chain and a verdict: input|forward|output accept|drop|reject".into());
        };
        let name = |v: clap::builder::PossibleValue| v.get_name().to_string();
        filter_rule(
            &name(chain.to_possible_value().expect("no skipped values")),
            &name(verdict.to_possible_value().expect("no skipped values")),
            &self.matches.to_flags(),
        )
    }

    fn is_empty(&self) -> bool {
        self.chain.is_none()
    }
}

#[derive(Args, Debug)]
pub struct NatDeleteArgs {
    /// Handles of the rules to delete (see `list`); or give the rule itself.
    #[arg(long = "handle", value_name = "HANDLE", num_args = 1..)]
    handles: Vec<u64>,
    #[command(flatten)]
    rule: NatRuleArgs,
}

#[derive(Args, Debug)]
pub struct FilterDeleteArgs {
    /// Handles of the rules to delete (see `list`); or give the rule itself.
    #[arg(long = "handle", value_name = "HANDLE", num_args = 1..)]
    handles: Vec<u64>,
    #[command(flatten)]
    rule: FilterRuleArgs,
}

#[derive(Subcommand, Debug)]
pub enum NatOp {
    /// Add a rule (adding the same rule again changes nothing).
    // The action is optional in the shared rule arguments (a delete by
    // handle has none) but required here, and `--help` says so.
    #[command(mut_arg("action", |a| a.required(true)))]
    Add(NatRuleArgs),
    /// The rules with their packet and byte counters, in evaluation order.
    List(ListArgs),
    /// Delete rules by handle, or the rule matching the flags.
    Delete(NatDeleteArgs),
    /// Delete every NAT rule.
    Flush,
}

#[derive(Subcommand, Debug)]
pub enum FilterOp {
    /// Add a rule: CHAIN VERDICT [matches] (adding the same rule again changes nothing).
    #[command(mut_arg("chain", |a| a.required(true)), mut_arg("verdict", |a| a.required(true)))]
    Add(FilterRuleArgs),
    /// The rules with their packet and byte counters, in evaluation order.
    List(ListArgs),
    /// Delete rules by handle, or the rule matching the arguments.
    Delete(FilterDeleteArgs),
    /// Delete every filter rule.
    Flush,
}

#[derive(Args, Debug)]
pub struct ListArgs {
    /// Print JSON for programs instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
pub struct NatArgs {
    /// The named network namespace.
    #[arg(long, short = 'n', value_name = "NETNS")]
    netns: String,
    #[command(subcommand)]
    op: NatOp,
}

#[derive(Args, Debug)]
pub struct FilterArgs {
    /// The named network namespace.
    #[arg(long, short = 'n', value_name = "NETNS")]
    netns: String,
    #[command(subcommand)]
    op: FilterOp,
}

/// One request, whichever of the two commands it came from.
enum Op {
    Add(Result<Rule, String>),
    List { json: bool },
    DeleteHandles(Vec<u64>),
    DeleteRule(Result<Rule, String>),
    Flush,
}

pub fn nat(args: NatArgs) -> i32 {
    let op = match args.op {
        NatOp::Add(rule) => Op::Add(rule.to_rule()),
        NatOp::List(l) => Op::List { json: l.json },
        NatOp::Delete(d) => delete_op(d.handles, d.rule.is_empty(), || d.rule.to_rule()),
        NatOp::Flush => Op::Flush,
    };
    run(&args.netns, Kind::Nat, op)
}

pub fn filter(args: FilterArgs) -> i32 {
    let op = match args.op {
        FilterOp::Add(rule) => Op::Add(rule.to_rule()),
        FilterOp::List(l) => Op::List { json: l.json },
        FilterOp::Delete(d) => delete_op(d.handles, d.rule.is_empty(), || d.rule.to_rule()),
        FilterOp::Flush => Op::Flush,
    };
    run(&args.netns, Kind::Filter, op)
}

/// `delete --handle N...` or `delete RULE`, never both and never neither.
fn delete_op(handles: Vec<u64>, no_rule: bool, rule: impl FnOnce() -> Result<Rule, String>) -> Op {
    match (handles.is_empty(), no_rule) {
        (false, true) => Op::DeleteHandles(handles),
        (true, false) => Op::DeleteRule(rule()),
        (false, false) => Op::DeleteRule(Err("delete takes --handle or a rule, not both".into())),
        (true, true) => Op::DeleteRule(Err("delete needs --handle N or the rule to delete".into())),
    }
}

fn run(netns: &str, kind: Kind, op: Op) -> i32 {
    match execute(netns, kind, op) {
        Ok(()) => 0,
        // "Failed" in nsbox's one scheme (a rule refused, nft missing).
        Err(message) => {
            crate::report(message);
            1
        }
    }
}

fn execute(netns: &str, kind: Kind, op: Op) -> Result<(), String> {
    // Bad flags are reported before the namespace is even opened.
    let op = match op {
        Op::Add(rule) => Op::Add(Ok(rule?)),
        Op::DeleteRule(rule) => Op::DeleteRule(Ok(rule?)),
        other => other,
    };
    let fd = Registry::default().open(netns).map_err(|e| e.to_string())?;
    let firewall = Firewall::new(fd);
    let text = |e: nsbox_net::firewall::FirewallError| e.to_string();
    match op {
        Op::Add(rule) => {
            let rule = rule?;
            let added = firewall.add(std::slice::from_ref(&rule)).map_err(text)?;
            for Added { handle, created } in added {
                let note = if created { "" } else { " (already there)" };
                println!("{} rule {handle}: {rule}{note}", kind.name());
            }
        }
        Op::List { json } => {
            let rules = firewall.list(Some(kind)).map_err(text)?;
            if json {
                crate::output::print_json(&rules);
            } else {
                print_rules(&rules);
            }
        }
        Op::DeleteHandles(handles) => {
            for handle in firewall.delete(kind, &handles).map_err(text)? {
                println!("deleted {} rule {handle}", kind.name());
            }
        }
        Op::DeleteRule(rule) => {
            let handle = firewall.delete_rule(&rule?).map_err(text)?;
            println!("deleted {} rule {handle}", kind.name());
        }
        Op::Flush => {
            let gone = firewall.flush(Some(kind)).map_err(text)?;
            println!("deleted {} {} rules", gone.len(), kind.name());
        }
    }
    Ok(())
}

fn or_any(v: Option<ipnet::IpNet>) -> String {
    v.map_or_else(|| "any".to_string(), net_text)
}

/// Prints rules chain by chain like `iptables -nL -v`: counters, target,
/// protocol, interfaces, addresses, then ports and NAT targets.
pub fn print_rules(rules: &[Listed]) {
    if rules.is_empty() {
        println!("(no rules)");
        return;
    }
    let mut hooks: Vec<Hook> = rules.iter().map(|l| l.hook).collect();
    hooks.dedup();
    for (i, hook) in hooks.iter().enumerate() {
        if i > 0 {
            println!();
        }
        println!("Chain {hook} ({})", hook.kind().name());
        let mut table = Table::new();
        table.load_preset(NOTHING).set_header(vec![
            "HANDLE",
            "PKTS",
            "BYTES",
            "TARGET",
            "PROT",
            "IN",
            "OUT",
            "SOURCE",
            "DESTINATION",
            "",
        ]);
        for l in rules.iter().filter(|l| l.hook == *hook) {
            table.add_row(row(l));
        }
        println!("{table}");
    }
    if rules.iter().any(|l| l.kind() == Kind::Nat) {
        println!("\nNAT rules count the first packet of each connection; conntrack translates the rest.");
    }
}

fn row(l: &Listed) -> Vec<String> {
    let head = vec![l.handle.to_string(), l.packets.to_string(), l.bytes.to_string()];
    let Some(rule) = &l.rule else {
        let raw = l.nft.clone().unwrap_or_default();
        return [
            head,
            vec!["?".into(), "".into(), "".into(), "".into(), "".into(), "".into(), raw],
        ]
        .concat();
    };
    let m = &rule.matches;
    let mut extra = Vec::new();
    if let Some(p) = m.sport {
        extra.push(format!("spt:{p}"));
    }
    if let Some(p) = m.dport {
        extra.push(format!("dpt:{p}"));
    }
    match &rule.action {
        Action::Snat { to } | Action::Dnat { to } => extra.push(format!("to:{to}")),
        Action::Masquerade { ports: Some(p) } => extra.push(format!("ports:{p}")),
        _ => {}
    }
    [
        head,
        vec![
            rule.action.name().to_string(),
            m.proto.map_or("all", Proto::name).to_string(),
            m.in_iface.clone().unwrap_or_else(|| "*".into()),
            m.out_iface.clone().unwrap_or_else(|| "*".into()),
            or_any(m.source),
            or_any(m.destination),
            extra.join(" "),
        ],
    ]
    .concat()
}
