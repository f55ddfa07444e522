//! `nsbox show`: a network namespace at a glance.

use clap::Args;
use comfy_table::{presets::NOTHING, Table};
use nsbox_net::firewall::{Firewall, Listed};
use nsbox_net::snapshot::Snapshot;
use nsbox_ns::netns::Registry;
use std::os::fd::OwnedFd;

#[derive(Args)]
pub struct ShowArgs {
    /// The named network namespace [default: nsbox's own].
    #[arg(long, short = 'n', value_name = "NETNS")]
    netns: Option<String>,
    /// Print JSON for programs instead of tables.
    #[arg(long)]
    json: bool,
}

fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(NOTHING).set_header(header.to_vec());
    t
}

fn or_dash<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_string(), |v| v.to_string())
}

/// nsbox's NAT and filter rules in the namespace, or why they cannot be
/// read (nft missing): a missing nft does not hide the rest of the view.
fn rules(fd: Option<&OwnedFd>) -> Result<Vec<Listed>, String> {
    let fd = match fd {
        Some(fd) => fd.try_clone(),
        None => std::fs::File::open("/proc/self/ns/net").map(OwnedFd::from),
    }
    .map_err(|e| format!("opening the namespace: {e}"))?;
    Firewall::new(fd).list(None).map_err(|e| e.to_string())
}

pub fn show(args: ShowArgs) -> i32 {
    let fd = args
        .netns
        .as_deref()
        .map(|name| Registry::default().open(name))
        .transpose()
        .map_err(nsbox_net::NetError::from);
    let snapshot = fd.and_then(|fd| Ok((Snapshot::read(fd.as_ref())?, rules(fd.as_ref()))));
    let (snapshot, rules) = match snapshot {
        Ok(s) => s,
        Err(e) => {
            crate::report(e);
            return 1;
        }
    };
    if args.json {
        let mut value = serde_json::to_value(&snapshot).expect("plain data serializes");
        let (rules, error) = match &rules {
            Ok(r) => (serde_json::to_value(r).expect("plain data serializes"), None),
            Err(e) => (serde_json::Value::Null, Some(e.clone())),
        };
        value["rules"] = rules;
        if let Some(e) = error {
            value["rules_error"] = e.into();
        }
        crate::output::print_json(&value);
        return 0;
    }
    let mut links = table(&["INDEX", "LINK", "KIND", "ADMIN", "STATE", "MTU", "MAC", "MASTER"]);
    for l in &snapshot.links {
        links.add_row(vec![
            l.index.to_string(),
            l.name.clone(),
            l.kind.clone().unwrap_or_else(|| "-".into()),
            if l.up { "up" } else { "down" }.to_string(),
            l.state.clone(),
            l.mtu.to_string(),
            or_dash(l.mac.as_ref()),
            or_dash(l.master.and_then(|m| snapshot.link_name(m))),
        ]);
    }
    println!("{links}\n");
    let mut addrs = table(&["LINK", "ADDRESS", "SCOPE"]);
    for a in &snapshot.addresses {
        addrs.add_row(vec![
            or_dash(snapshot.link_name(a.index)),
            a.address.to_string(),
            a.scope.clone(),
        ]);
    }
    println!("{addrs}\n");
    let mut routes = table(&["DESTINATION", "GATEWAY", "LINK", "SCOPE", "PROTO", "METRIC"]);
    for r in &snapshot.routes {
        let destination = if r.destination.prefix_len() == 0 {
            "default".to_string()
        } else {
            r.destination.to_string()
        };
        routes.add_row(vec![
            destination,
            or_dash(r.gateway),
            or_dash(r.oif.and_then(|i| snapshot.link_name(i))),
            r.scope.clone(),
            r.protocol.clone(),
            or_dash(r.metric),
        ]);
    }
    println!("{routes}\n");
    // As `ip neigh`, the table for people leaves out NOARP entries (such as
    // the one of lo); --json has them all.
    let shown: Vec<_> = snapshot.neighbours.iter().filter(|n| n.state != "NOARP").collect();
    if !shown.is_empty() {
        let mut neighbours = table(&["NEIGHBOUR", "LINK", "MAC", "STATE"]);
        for n in shown {
            neighbours.add_row(vec![
                n.address.to_string(),
                or_dash(snapshot.link_name(n.index)),
                or_dash(n.mac.as_ref()),
                n.state.clone(),
            ]);
        }
        println!("{neighbours}\n");
    }
    let mut sysctls = table(&["SYSCTL", "VALUE"]);
    for (k, v) in &snapshot.sysctls {
        sysctls.add_row(vec![k.clone(), v.clone()]);
    }
    println!("{sysctls}");
    match rules {
        Ok(rules) if rules.is_empty() => {}
        Ok(rules) => {
            println!();
            crate::firewall_cmd::print_rules(&rules);
        }
        Err(e) => println!("\n(nsbox's rules not shown: {e})"),
    }
    0
}
