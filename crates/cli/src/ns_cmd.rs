//! `nsbox ns`: which namespaces a process is in, or every namespace there is.

use clap::Args;
use comfy_table::{presets::NOTHING, Table};
use nsbox_ns::inspect::{all_namespaces, ProcessNamespaces};

#[derive(Args)]
pub struct NsArgs {
    /// The process to show [default: nsbox itself].
    pid: Option<i32>,
    /// List every namespace on the system, like lsns.
    #[arg(long, conflicts_with = "pid")]
    all: bool,
    /// Print JSON for programs instead of a table.
    #[arg(long)]
    json: bool,
}

fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(NOTHING).set_header(header.to_vec());
    t
}

pub fn ns(args: NsArgs) -> i32 {
    let result = if args.all {
        show_all(args.json)
    } else {
        show_one(args.pid, args.json)
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            crate::report(e);
            1
        }
    }
}

fn show_one(pid: Option<i32>, json: bool) -> Result<(), nsbox_ns::InspectError> {
    let pid = pid.unwrap_or(std::process::id() as i32);
    let info = ProcessNamespaces::of(pid)?;
    if json {
        crate::output::print_json(&info);
        return Ok(());
    }
    println!("PID {} ({})", info.pid, info.command);
    let nspid: Vec<String> = info.nspid.iter().map(i32::to_string).collect();
    println!(
        "PID in each pid namespace, from the host's down: {}",
        nspid.join(" -> ")
    );
    let mut t = table(&["KIND", "INODE", "SHARED WITH HOST"]);
    for m in &info.namespaces {
        let shared = match m.shared_with_host {
            Some(true) => "yes",
            Some(false) => "no",
            None => "unknown",
        };
        t.add_row(vec![m.kind.to_string(), m.inode.to_string(), shared.to_string()]);
    }
    println!("{t}");
    Ok(())
}

fn show_all(json: bool) -> Result<(), nsbox_ns::InspectError> {
    let all = all_namespaces()?;
    if json {
        crate::output::print_json(&all);
        return Ok(());
    }
    let mut t = table(&["NS", "TYPE", "NPROCS", "PID", "COMMAND"]);
    for n in &all {
        let mut command = n.command.clone();
        if command.len() > 60 {
            command.truncate(command.floor_char_boundary(57));
            command.push_str("...");
        }
        t.add_row(vec![
            n.inode.to_string(),
            n.kind.to_string(),
            n.processes.to_string(),
            n.pid.to_string(),
            command,
        ]);
    }
    println!("{t}");
    Ok(())
}
