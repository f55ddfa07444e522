//! `nsbox lab`: declarative network labs.

use clap::{Args, Subcommand, ValueEnum};
use nsbox_lab::deploy::{self, LabError};
use nsbox_lab::model::Lab;
use nsbox_lab::probe::Check;
use nsbox_lab::scenario::{self, Section};
use nsbox_lab::state::Store;
use nsbox_lab::Diagnostics;
use nsbox_ns::netns::Registry;
use nsbox_runtime::exec::Command;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// What every lab verb exits with when it fails (or, for `check` and
/// `test`, when an expectation does not hold).
pub const EXIT_FAILED: i32 = 1;

#[derive(Args)]
pub struct LabArgs {
    #[command(subcommand)]
    command: LabCmd,
}

#[derive(Subcommand)]
enum LabCmd {
    /// Bring a lab up, all or nothing.
    Up {
        /// The lab file (YAML).
        file: PathBuf,
    },
    /// Tear a lab down (also after a crash or a killed `up`). Only the
    /// namespaces that carry the lab's mark are deleted; others by the same
    /// names are left alone, with a warning.
    Down {
        /// The lab's name, or its file.
        #[arg(value_name = "NAME|FILE")]
        lab: String,
        /// A lab that is not up is not an error (for scripts).
        #[arg(long)]
        ignore_missing: bool,
    },
    /// The labs that are up.
    Status {
        /// Print JSON for programs.
        #[arg(long)]
        json: bool,
        /// Print JSON as `containerlab inspect --format json` does, for
        /// scripts written against containerlab (a node's `name` is its
        /// namespace: `ip netns exec NAME`).
        #[arg(long, conflicts_with = "json")]
        clab: bool,
    },
    /// Run a command in a node's network namespace (also `ip netns exec
    /// LAB-NODE`); in a container node, in all of its container's namespaces.
    #[command(trailing_var_arg = true)]
    Exec {
        /// The lab, when more than one is up.
        #[arg(long)]
        lab: Option<String>,
        /// The node to run it in.
        node: String,
        /// The command and its arguments.
        #[arg(required = true, value_name = "CMD")]
        command: Vec<String>,
    },
    /// Check a running lab against its file's expectations.
    Check {
        /// The lab file (YAML).
        file: PathBuf,
        /// Instead, probe who reaches whom among all nodes.
        #[arg(long)]
        matrix: bool,
        /// Print JSON for programs.
        #[arg(long)]
        json: bool,
        /// How long each probe of --matrix waits for its answer, in seconds.
        #[arg(long, value_name = "SECS", default_value = "1", value_parser = crate::numbers::timeout, requires = "matrix")]
        timeout: std::time::Duration,
    },
    /// Up, every expectation and step, down: a report and an exit status
    /// (0 when everything holds).
    Test {
        /// The lab file (YAML).
        file: PathBuf,
        /// Print JSON for programs.
        #[arg(long)]
        json: bool,
        /// Where steps' captures (`capture: [NODE:IFACE]`) write their pcap
        /// files.
        #[arg(long, value_name = "DIR", default_value = ".")]
        captures: PathBuf,
    },
    /// Change a running lab to what its file now says: shows the plan, then
    /// applies only that (untouched nodes are left alone).
    Apply {
        /// The lab file (YAML).
        file: PathBuf,
        /// Show the plan and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print the plan as JSON.
        #[arg(long)]
        json: bool,
    },
    /// The way an echo takes from NODE to DEST (an address or a node) and
    /// back, hop by hop as each node's kernel routes it, with nsbox's rules
    /// and forwarding switches on the way; where it fails, why.
    Explain {
        /// The lab, when more than one is up.
        #[arg(long)]
        lab: Option<String>,
        /// The node the echo starts from.
        node: String,
        /// Where it goes: an address, or a node (its first address), and
        /// for a TCP or UDP probe its port: `10.0.2.1:tcp/8080`,
        /// `[2001:db8::2]:udp/53`, `web:tcp/80`.
        dest: String,
        /// The source address to send from.
        #[arg(long)]
        from: Option<std::net::IpAddr>,
        /// The request's TTL (hop limit) [default: the node's own].
        #[arg(long, value_parser = clap::value_parser!(u8).range(1..))]
        ttl: Option<u8>,
        /// Model the way only: send no real echo to compare with.
        #[arg(long)]
        no_probe: bool,
        /// Print JSON for programs.
        #[arg(long)]
        json: bool,
    },
    /// Print a containerlab topology file (`*.clab.yml`) as an nsbox lab
    /// file, to add expectations to (`up`, `test` and `validate` read such
    /// files as they are).
    Convert {
        /// The containerlab file.
        file: PathBuf,
    },
    /// Capture packets on a node's interface as pcap (`tcpdump -r FILE`,
    /// Wireshark); to a terminal, one line per packet. Stops at -c N
    /// packets or on Ctrl-C.
    #[command(trailing_var_arg = true)]
    Capture {
        /// The lab, when more than one is up.
        #[arg(long)]
        lab: Option<String>,
        /// The interface: NODE:IFACE (a link by either of its ends).
        #[arg(value_name = "NODE:IFACE")]
        target: String,
        /// Write pcap to FILE (`-` for stdout: `| wireshark -k -i -`).
        #[arg(short = 'w', value_name = "FILE")]
        write: Option<PathBuf>,
        /// Stop after N packets.
        #[arg(short = 'c', value_name = "N")]
        count: Option<u64>,
        /// A filter in tcpdump's syntax (`icmp`, `tcp port 80`); needs tcpdump.
        #[arg(value_name = "FILTER")]
        filter: Vec<String>,
    },
    /// Cut two nodes of a running lab apart (filter rules on both).
    Partition {
        /// The lab, when more than one is up.
        #[arg(long)]
        lab: Option<String>,
        /// One node.
        a: String,
        /// The other.
        b: String,
    },
    /// Join two partitioned nodes again.
    Heal {
        /// The lab, when more than one is up.
        #[arg(long)]
        lab: Option<String>,
        /// One node.
        a: String,
        /// The other.
        b: String,
    },
    /// Check a lab file without bringing it up.
    Validate {
        /// The lab file (YAML).
        file: PathBuf,
    },
    /// Draw a lab: nodes, links, interfaces and addresses.
    Graph {
        /// The lab file (YAML).
        file: PathBuf,
        /// Graphviz dot, or a Mermaid flowchart.
        #[arg(long, value_enum, default_value_t = Format::Dot)]
        format: Format,
        /// Write to FILE instead of stdout; a name ending in .svg, .png or
        /// .pdf is drawn by Graphviz's `dot` (apt-get install graphviz).
        #[arg(long, short = 'o', value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

#[derive(ValueEnum, Clone, Copy)]
enum Format {
    Dot,
    Mermaid,
}

pub fn lab(args: LabArgs) -> i32 {
    // Lab nodes that are containers run through this very binary's
    // `unshare`; say where it is (still one thread: setting is safe).
    if std::env::var_os("NSBOX_BIN").is_none() {
        if let Ok(me) = std::env::current_exe() {
            std::env::set_var("NSBOX_BIN", me);
        }
    }
    let registry = Registry::default();
    let store = Store::default();
    let result = match args.command {
        LabCmd::Up { file } => load_to_run(&file).and_then(|lab| {
            warn_of_neighbour_table(&lab);
            let started = std::time::Instant::now();
            // A progress line on a terminal, for labs that take a while.
            let bar = std::io::stderr().is_terminal() && lab.nodes.len() >= 50;
            let progress = |p: deploy::Progress| {
                if bar && p.done.is_multiple_of(10) {
                    eprint!("\r\x1b[K{} {}/{}", p.stage, p.done, p.total);
                }
            };
            let made = deploy::up_with_progress(&lab, Some(&file), &registry, &store, &progress);
            if bar {
                eprint!("\r\x1b[K");
            }
            made.map_err(|e| match e {
                // The daemons' words at the file's place of the router.
                LabError::Router { at, .. } => {
                    let message = e.to_string();
                    let rest = message.split_once(": ").map_or(message.as_str(), |(_, r)| r);
                    format!("{}:{}:{}: {rest}", file.display(), at.0, at.1)
                }
                e => failed(e),
            })?;
            println!(
                "lab {} is up: {} ({:.0} ms)",
                lab.name,
                shape(&lab),
                started.elapsed().as_secs_f64() * 1000.0
            );
            Ok(0)
        }),
        LabCmd::Down { lab, ignore_missing } => down(&lab, ignore_missing, &registry, &store),
        LabCmd::Status { json, clab: false } => status(&store, &registry, json),
        LabCmd::Status { clab: true, .. } => status_as_containerlab(&store, &registry),
        LabCmd::Exec { lab, node, command } => exec(lab.as_deref(), &node, &command, &store, &registry),
        LabCmd::Check {
            file,
            matrix,
            json,
            timeout,
        } => load(&file).and_then(|lab| {
            let mut nodes = deploy::open(&lab, &registry).map_err(failed)?;
            if matrix {
                // Progress on a terminal: a big matrix takes a while.
                let terminal = std::io::stderr().is_terminal();
                let progress = |done: usize, total: usize| {
                    if terminal {
                        eprint!("\r\x1b[Kprobes {done}/{total}");
                    }
                };
                let cells = nsbox_lab::probe::matrix_with(&lab, &mut nodes, timeout, &progress);
                if terminal {
                    eprint!("\r\x1b[K");
                }
                if json {
                    crate::output::print_json(&cells);
                } else {
                    print_matrix(&lab, &cells);
                }
                return Ok(0);
            }
            let (checks, _) = nsbox_lab::scenario::checks_of(
                &mut nodes,
                &nsbox_lab::scenario::Expectations::of_lab(&lab),
                &nsbox_lab::pacing::Pacer::new(nsbox_lab::pacing::Pace::of(&lab)),
            );
            if json {
                crate::output::print_json(&checks);
            } else {
                print_checks(&checks);
            }
            Ok(i32::from(checks.iter().any(|c| !c.holds)))
        }),
        LabCmd::Apply { file, dry_run, json } => apply(&file, dry_run, json, &registry, &store),
        LabCmd::Explain {
            lab,
            node,
            dest,
            from,
            ttl,
            no_probe,
            json,
        } => explain(
            lab.as_deref(),
            Asked {
                node: &node,
                dest: &dest,
                from,
                ttl,
                probe: !no_probe,
            },
            json,
            &store,
            &registry,
        ),
        LabCmd::Convert { file } => convert(&file),
        LabCmd::Capture {
            lab,
            target,
            write,
            count,
            filter,
        } => capture(
            lab.as_deref(),
            &target,
            write.as_deref(),
            count,
            &filter.join(" "),
            &store,
            &registry,
        ),
        LabCmd::Partition { lab, a, b } => cut(lab.as_deref(), &a, &b, true, &store, &registry),
        LabCmd::Heal { lab, a, b } => cut(lab.as_deref(), &a, &b, false, &store, &registry),
        LabCmd::Test { file, json, captures } => {
            load_to_run(&file).map(|lab| test(&lab, &file, json, &captures, &registry, &store))
        }
        LabCmd::Validate { file } => load_asking(&file, nsbox_lab::load::AskKernel::Yes).map(|lab| {
            println!(
                "{}: lab {} is valid: {}, {}, {}",
                file.display(),
                lab.name,
                shape(&lab),
                count(
                    lab.expect.len()
                        + lab.counted.len()
                        + lab.route_checks.len()
                        + lab
                            .steps
                            .iter()
                            .map(|s| s.expect.len() + s.counted.len() + s.route_checks.len())
                            .sum::<usize>(),
                    "expectation"
                ),
                count(lab.steps.len(), "step")
            );
            0
        }),
        LabCmd::Graph { file, format, output } => load(&file).and_then(|lab| {
            let text = match format {
                Format::Dot => nsbox_lab::graph::dot(&lab),
                Format::Mermaid => nsbox_lab::graph::mermaid(&lab),
            };
            match output {
                None => print!("{text}"),
                Some(path) => write_graph(&lab, &text, &path)?,
            }
            Ok(0)
        }),
    };
    result.unwrap_or_else(|message| {
        if !message.is_empty() {
            crate::report(message);
        }
        EXIT_FAILED
    })
}

/// Warns when the lab can need more neighbour entries than the host's
/// shared table has room for: its probes would then fail as "no reply".
/// nsbox never changes the host's settings itself; it says which one to.
fn warn_of_neighbour_table(lab: &Lab) {
    use nsbox_net::neigh_table;
    let (Some(limit), Some(now)) = (neigh_table::limit(), neigh_table::stats()) else {
        return;
    };
    let (v4, v6) = lab.neighbour_demand();
    let demand = v4.max(v6);
    if demand + now.entries > limit {
        crate::report(format!(
            "warning: lab {} can need up to {demand} neighbour entries, and the host's table, shared by every namespace, holds {} of at most {limit}: probes may fail with \"no reply\". Raise the cap with `sysctl -w {}={}` (nsbox does not change host settings)",
            lab.name,
            now.entries,
            neigh_table::LIMIT_SYSCTL,
            (demand + now.entries).next_power_of_two().max(2 * limit)
        ));
    }
}

/// Writes a drawing to `path`: an image (svg, png, pdf) through Graphviz's
/// `dot`, anything else as the text itself.
fn write_graph(lab: &Lab, text: &str, path: &Path) -> Result<(), String> {
    let image = path
        .extension()
        .and_then(|e| e.to_str())
        .filter(|e| matches!(*e, "svg" | "png" | "pdf"));
    let Some(kind) = image else {
        return std::fs::write(path, text).map_err(|e| format!("writing {}: {e}", path.display()));
    };
    use std::io::Write;
    let dot = nsbox_lab::graph::dot(lab);
    let mut child = std::process::Command::new("dot")
        .arg(format!("-T{kind}"))
        .arg("-o")
        .arg(path)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| {
            format!(
                "drawing {} needs Graphviz's dot (apt-get install graphviz): {e}",
                path.display()
            )
        })?;
    let written = child.stdin.take().expect("piped").write_all(dot.as_bytes());
    let status = child.wait().map_err(|e| format!("dot: {e}"))?;
    if written.is_err() || !status.success() {
        return Err(format!("dot could not draw {}", path.display()));
    }
    Ok(())
}

/// "3 nodes, 2 links, 1 bridge".
/// `1 node`, `3 nodes`.
fn count(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

fn shape(lab: &Lab) -> String {
    let mut parts = vec![count(lab.nodes.len(), "node"), count(lab.links.len(), "link")];
    if !lab.bridges.is_empty() {
        parts.push(count(lab.bridges.len(), "bridge"));
    }
    parts.join(", ")
}

fn failed(e: LabError) -> String {
    e.to_string()
}

/// Reads a lab file; its warnings go to stderr, its errors make the one
/// message (already printed, so the returned message is empty).
fn load(file: &Path) -> Result<Lab, String> {
    load_asking(file, nsbox_lab::load::AskKernel::No)
}

/// [`load`], asking the kernel what only it can tell (for `validate`).
fn load_asking(file: &Path, ask: nsbox_lab::load::AskKernel) -> Result<Lab, String> {
    loaded(nsbox_lab::load::load_asking(file, ask))
}

/// [`load`] of a file about to run: routers' configurations checked too.
fn load_to_run(file: &Path) -> Result<Lab, String> {
    loaded(nsbox_lab::load::load_to_run(file))
}

/// The lab, its warnings printed; or its diagnostics printed.
fn loaded(read: Result<(Lab, Diagnostics), Diagnostics>) -> Result<Lab, String> {
    match read {
        Ok((lab, warnings)) => {
            if !warnings.list.is_empty() {
                eprintln!("{warnings}");
            }
            Ok(lab)
        }
        Err(diagnostics) => {
            print_diagnostics(&diagnostics);
            Err(String::new())
        }
    }
}

fn print_diagnostics(d: &Diagnostics) {
    eprintln!("{d}");
    let errors = d.errors();
    eprintln!(
        "nsbox: {}: {errors} error{}; nothing was created",
        d.file.display(),
        if errors == 1 { "" } else { "s" }
    );
}

fn down(lab: &str, ignore_missing: bool, registry: &Registry, store: &Store) -> Result<i32, String> {
    let path = Path::new(lab);
    let (name, also) = if path.is_file() {
        let lab = load(path)?;
        let names = lab.namespaces();
        (lab.name, names)
    } else if let Err(why) = nsbox_lab::model::check_lab_name(lab) {
        // Never read a path as a name: it would reach outside the state
        // directory.
        return Err(format!("{lab:?} is not a lab file, and {why}"));
    } else {
        (lab.to_string(), Vec::new())
    };
    let down = deploy::down(&name, &also, registry, store).map_err(failed)?;
    if let Some(e) = &down.unreadable_state {
        crate::report(format!(
            "warning: lab {name}'s state could not be read ({e}); its namespaces were found by name and mark"
        ));
    }
    for (netns, why) in &down.teardown.left_alone {
        crate::report(format!(
            "warning: network namespace {netns:?} was left alone: it is not lab {name}'s ({why})"
        ));
    }
    if !down.found {
        if ignore_missing {
            println!("lab {name} is not up");
            return Ok(0);
        }
        return Err(format!("lab {name} is not up"));
    }
    println!(
        "lab {name} is down ({} namespaces deleted)",
        down.teardown.deleted.len()
    );
    Ok(0)
}

/// Every lab that is up; a state file that cannot be read is reported and
/// skipped, so that it hides no other lab.
fn labs_up(store: &Store) -> Result<Vec<nsbox_lab::state::State>, String> {
    let (labs, unreadable) = store.list().map_err(|e| e.to_string())?;
    for e in unreadable {
        crate::report(format!("warning: skipping a lab whose state cannot be read: {e}"));
    }
    Ok(labs)
}

/// One node of a lab that is up, as `status` shows it.
#[derive(serde::Serialize)]
struct NodeStatus {
    node: String,
    /// `netns` or `container`.
    kind: &'static str,
    /// `up`, or `missing` (its namespace is gone).
    state: &'static str,
    namespace: String,
    addresses: Vec<String>,
    /// How many processes run in the node's network namespace.
    processes: usize,
    /// The node's commands (its container first, then its `run` services).
    services: Vec<ServiceStatus>,
}

/// One of a node's commands, as `status` shows it.
#[derive(serde::Serialize)]
struct ServiceStatus {
    command: String,
    /// `running`, or `exited` (with `status`: 128+N for signal N).
    state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<i32>,
}

impl ServiceStatus {
    fn summary(services: &[ServiceStatus]) -> String {
        let running = services.iter().filter(|s| s.status.is_none()).count();
        let mut parts = Vec::new();
        if running > 0 {
            parts.push(format!("{running} running"));
        }
        parts.extend(services.iter().filter_map(|s| Some(format!("exited {}", s.status?))));
        parts.join(", ")
    }
}

/// Each node of the lab `state` records: its namespace, addresses (from the
/// lab's recorded file) and processes.
fn node_statuses(state: &nsbox_lab::state::State, registry: &Registry, store: &Store) -> Vec<NodeStatus> {
    let lab = state
        .source
        .as_deref()
        // At the file's own path: a router's configuration file is beside it.
        .and_then(|text| {
            let path = state.file.as_deref().unwrap_or(Path::new("(recorded)"));
            nsbox_lab::load::parse(path, text).ok()
        })
        .map(|(lab, _)| lab);
    state
        .nodes
        .iter()
        .enumerate()
        .map(|(i, node)| {
            let namespace = state.namespaces.get(i).cloned().unwrap_or_default();
            let up = registry.open(&namespace).is_ok();
            let recorded = lab.as_ref().filter(|l| l.nodes.get(i).is_some_and(|n| &n.name == node));
            let commands = recorded.map_or(&[][..], |l| l.nodes[i].run.as_slice());
            let services = commands
                .iter()
                .zip(nsbox_lab::services::exits(store, &state.name, node, commands.len()))
                .map(|(command, status)| ServiceStatus {
                    command: command.clone(),
                    state: if status.is_some() { "exited" } else { "running" },
                    status,
                })
                .collect();
            let addresses = recorded
                .map(|l| {
                    l.interfaces(i)
                        .into_iter()
                        .flat_map(|(iface, addrs)| addrs.into_iter().map(move |a| format!("{iface} {a}")))
                        .collect()
                })
                .unwrap_or_default();
            NodeStatus {
                node: node.clone(),
                kind: match recorded.and_then(|l| l.nodes[i].router.as_ref()) {
                    Some(router) if router.suite == nsbox_lab::model::RoutingSuite::Frr => "frr",
                    Some(_) => "bird",
                    None if state.containers.contains(node) => "container",
                    None => "netns",
                },
                state: if up { "up" } else { "missing" },
                processes: if up {
                    registry.pids(&namespace).map_or(0, |p| p.len())
                } else {
                    0
                },
                namespace,
                addresses,
                services,
            }
        })
        .collect()
}

/// `status --clab`: the nodes of the labs that are up as containerlab's
/// `inspect --format json` lists its containers.
fn status_as_containerlab(store: &Store, registry: &Registry) -> Result<i32, String> {
    let labs = labs_up(store)?;
    let mut containers = Vec::new();
    for lab in &labs {
        for node in node_statuses(lab, registry, store) {
            let first = |v4: bool| {
                node.addresses
                    .iter()
                    .filter_map(|a| a.split_once(' ').map(|(_, address)| address))
                    .find(|address| address.contains('.') == v4)
                    .unwrap_or("N/A")
                    .to_string()
            };
            containers.push(serde_json::json!({
                "lab_name": lab.name,
                "labPath": lab.file,
                "name": node.namespace,
                "container_id": "",
                "image": "",
                "kind": if node.kind == "netns" || node.kind == "container" { "linux" } else { node.kind },
                "state": if node.state == "up" { "running" } else { "exited" },
                "ipv4_address": first(true),
                "ipv6_address": first(false),
                "owner": "root",
            }));
        }
    }
    crate::output::print_json(&serde_json::json!({ "containers": containers }));
    Ok(0)
}

/// The labs that are up, a table of their nodes (as containerlab's
/// `inspect`): lab, node, kind, state, addresses, processes. A lab some of
/// whose namespaces are missing (a killed `up`, or a namespace deleted by
/// hand) is marked incomplete: `nsbox lab down` cleans it up.
fn status(store: &Store, registry: &Registry, json: bool) -> Result<i32, String> {
    let labs = labs_up(store)?;
    let rows: Vec<(&nsbox_lab::state::State, Vec<NodeStatus>)> =
        labs.iter().map(|s| (s, node_statuses(s, registry, store))).collect();
    if json {
        let out: Vec<serde_json::Value> = rows
            .iter()
            .map(|(s, nodes)| {
                let alive = nodes.iter().filter(|n| n.state == "up").count();
                serde_json::json!({
                    "name": s.name,
                    "file": s.file,
                    "complete": alive == nodes.len(),
                    "alive": alive,
                    "nodes": nodes,
                })
            })
            .collect();
        crate::output::print_json(&out);
        return Ok(0);
    }
    if rows.is_empty() {
        println!("no lab is up");
        return Ok(0);
    }
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::NOTHING).set_header(vec![
        "LAB",
        "NODE",
        "KIND",
        "STATE",
        "ADDRESSES",
        "PROCESSES",
        "SERVICES",
    ]);
    for (s, nodes) in &rows {
        let complete = nodes.iter().all(|n| n.state == "up");
        let lab = if complete {
            s.name.clone()
        } else {
            format!("{} (incomplete)", s.name)
        };
        for n in nodes {
            table.add_row(vec![
                lab.clone(),
                n.node.clone(),
                n.kind.to_string(),
                n.state.to_string(),
                n.addresses.join(", "),
                n.processes.to_string(),
                ServiceStatus::summary(&n.services),
            ]);
        }
    }
    println!("{table}");
    Ok(0)
}

fn exec(lab: Option<&str>, node: &str, command: &[String], store: &Store, registry: &Registry) -> Result<i32, String> {
    let found = find_node(lab, node, store)?;
    let (netns, container, lab_name) = (found.netns, found.container, found.lab);
    // A container node: into all of its container's namespaces, through
    // its init (the container's PID 1, as the runtime records it); never
    // into the bare network namespace instead.
    if container {
        let pid = nsbox_lab::services::container_pid(store, &lab_name, node)
            .ok_or_else(|| format!("node {node}'s container is not running"))?;
        let all = nsbox_ns::NsSet::all();
        return Ok(crate::unshare_cmd::exit_with(nsbox_runtime::enter::enter(
            pid,
            all,
            command,
            &[],
        )));
    }
    let command = Command::new(command, &[]).map_err(|e| e.to_string())?;
    // In the node's kill group, so that `down` kills all it forks at once.
    if let Some(group) = nsbox_lab::services::exec_group(registry, &netns) {
        if let Err(e) = group.join() {
            crate::report(format!(
                "warning: {e}: what this command starts is killed one by one at down"
            ));
        }
    }
    let failure = nsbox_runtime::netns_exec::netns_exec(registry, &netns, &command);
    crate::report(&failure.message);
    Ok(failure.code)
}

/// `lab convert`: the containerlab file as nsbox's lab, its notes on
/// stderr; refused unless the lab it makes reads.
fn convert(file: &Path) -> Result<i32, String> {
    if !nsbox_lab::clab::is_clab(file) {
        return Err(format!(
            "{}: a containerlab file is named NAME.clab.yml (this is read as nsbox's own already)",
            file.display()
        ));
    }
    let (text, _) = nsbox_lab::load::lab_text(file).map_err(|d| {
        print_diagnostics(&d);
        String::new()
    })?;
    load(file)?;
    print!("{text}");
    Ok(0)
}

/// A node of a lab that is up, as its state records it.
#[derive(Clone)]
struct FoundNode {
    netns: String,
    /// Whether the node is a container (`exec` enters all its namespaces).
    container: bool,
    lab: String,
}

/// `node` in the one lab that is up and has it (or in `lab`).
fn find_node(lab: Option<&str>, node: &str, store: &Store) -> Result<FoundNode, String> {
    let labs = labs_up(store)?;
    let holding: Vec<FoundNode> = labs
        .iter()
        .filter(|s| lab.is_none_or(|l| l == s.name))
        .filter_map(|s| {
            let i = s.nodes.iter().position(|n| n == node)?;
            Some(FoundNode {
                netns: s.namespaces.get(i)?.clone(),
                container: s.containers.iter().any(|c| c == node),
                lab: s.name.clone(),
            })
        })
        .collect();
    match holding.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(format!("no lab that is up has a node {node:?}")),
        _ => Err(format!("several labs have a node {node:?}: name one with --lab")),
    }
}

/// `lab capture`: packets of one interface of a node, as pcap or as lines,
/// until `count` of them or a stop signal.
fn capture(
    lab: Option<&str>,
    target: &str,
    write: Option<&Path>,
    count: Option<u64>,
    filter: &str,
    store: &Store,
    registry: &Registry,
) -> Result<i32, String> {
    use nsbox_net::capture::{summary, Capture, Filter, PcapWriter};
    use std::io::Write;
    use std::sync::atomic::{AtomicBool, Ordering};
    let (node, iface) = target
        .split_once(':')
        .filter(|(n, i)| !n.is_empty() && !i.is_empty())
        .ok_or_else(|| format!("{target:?}: say NODE:IFACE"))?;
    let netns = find_node(lab, node, store)?.netns;
    let filter = if filter.trim().is_empty() {
        None
    } else {
        Some(Filter::compile(filter).map_err(|e| e.to_string())?)
    };
    let ns = registry.open(&netns).map_err(|e| e.to_string())?;
    let mut capture =
        Capture::open(std::os::fd::AsFd::as_fd(&ns), iface, filter.as_ref()).map_err(|e| format!("{node}: {e}"))?;
    // Stop signals end the capture cleanly (the file stays whole).
    static STOP: AtomicBool = AtomicBool::new(false);
    let signals = nsbox_sys::signal::stop_signals();
    if signals.block().is_ok() {
        std::thread::spawn(move || {
            if signals.wait().is_ok() {
                STOP.store(true, Ordering::Relaxed);
            }
        });
    }
    // pcap to the file or stdout (-w), else a line per packet on stdout.
    let out: Option<Box<dyn std::io::Write>> = match write {
        Some(path) if path == Path::new("-") => Some(Box::new(std::io::stdout().lock())),
        Some(path) => Some(Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?,
        ))),
        None => None,
    };
    let mut pcap = match out {
        Some(out) => Some(PcapWriter::new(out).map_err(|e| e.to_string())?),
        None => None,
    };
    let mut lines = if pcap.is_none() { Some(std::io::stdout()) } else { None };
    let live = write == Some(Path::new("-"));
    let mut seen = 0u64;
    eprintln!(
        "capturing on {node}:{iface}{}",
        if live { "" } else { " (Ctrl-C to stop)" }
    );
    while !STOP.load(Ordering::Relaxed) && count.is_none_or(|c| seen < c) {
        let Some(packet) = capture.next_packet().map_err(|e| e.to_string())? else {
            continue;
        };
        seen += 1;
        let written = match (&mut pcap, &mut lines) {
            (Some(w), _) => w.write(&packet).and_then(|()| if live { w.flush() } else { Ok(()) }),
            (None, Some(out)) => writeln!(out, "{}", summary(&packet)),
            (None, None) => Ok(()),
        };
        // A reader that went away (`| head`) ends the capture.
        if let Err(e) = written {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                break;
            }
            return Err(e.to_string());
        }
    }
    if let Some(w) = &mut pcap {
        w.flush().map_err(|e| e.to_string())?;
    }
    eprintln!("{seen} packet{} captured", if seen == 1 { "" } else { "s" });
    Ok(0)
}

fn apply(file: &Path, dry_run: bool, json: bool, registry: &Registry, store: &Store) -> Result<i32, String> {
    let new = load_to_run(file)?;
    let source = nsbox_lab::load::source_of(file).ok_or_else(|| format!("{}: cannot be read", file.display()))?;
    let state = store
        .read(&new.name)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("lab {} is not up (nsbox lab up {})", new.name, file.display()))?;
    let old_source = state
        .source
        .ok_or_else(|| format!("lab {} was brought up without a file to plan from", new.name))?;
    let old_path = state.file.unwrap_or_else(|| PathBuf::from("(running lab)"));
    let old = nsbox_lab::load::parse(&old_path, &old_source)
        .map(|(lab, _)| lab)
        .map_err(|d| format!("the running lab's file no longer reads: {d}"))?;
    // What runs: the lab as recorded, less what has gone from the kernel.
    let old = nsbox_lab::observe::observe(&old, registry).map_err(failed)?;
    let ops = nsbox_lab::plan::plan(&old, &new)?;
    if json {
        crate::output::print_json(&ops);
    } else if ops.is_empty() {
        println!("lab {}: nothing to change", new.name);
    } else {
        for op in &ops {
            println!("{op}");
        }
    }
    if ops.is_empty() || dry_run {
        return Ok(0);
    }
    let started = std::time::Instant::now();
    nsbox_lab::apply::apply(&new, &source, file, &ops, registry, store).map_err(|e| e.to_string())?;
    let done = format!(
        "lab {}: {} change{} applied ({:.0} ms)",
        new.name,
        ops.len(),
        if ops.len() == 1 { "" } else { "s" },
        started.elapsed().as_secs_f64() * 1000.0
    );
    // With --json, stdout holds the plan alone.
    if json {
        eprintln!("{done}");
    } else {
        println!("{done}");
    }
    Ok(0)
}

/// The running lab (by `--lab`, or the only one) that has every node of
/// `nodes`, read back from its file.
fn running_lab(lab: Option<&str>, nodes: &[&str], store: &Store) -> Result<Lab, String> {
    let labs = labs_up(store)?;
    let candidates: Vec<_> = labs
        .iter()
        .filter(|s| lab.is_none_or(|l| l == s.name))
        .filter(|s| nodes.iter().all(|n| s.nodes.iter().any(|m| m == n)))
        .collect();
    let state = match candidates.as_slice() {
        [one] => *one,
        [] => return Err(format!("no lab that is up has the nodes {}", nodes.join(" and "))),
        _ => return Err("several labs have these nodes: name one with --lab".into()),
    };
    let file = state
        .file
        .as_ref()
        .ok_or_else(|| format!("lab {} was brought up without a file", state.name))?;
    load(file)
}

/// What `explain` is asked: from which node, to what (an address or a
/// node), from which source address, and whether to send a real echo too.
struct Asked<'a> {
    node: &'a str,
    dest: &'a str,
    from: Option<std::net::IpAddr>,
    ttl: Option<u8>,
    probe: bool,
}

fn explain(lab: Option<&str>, asked: Asked, json: bool, store: &Store, registry: &Registry) -> Result<i32, String> {
    let Asked {
        node,
        dest,
        from,
        ttl,
        probe,
    } = asked;
    // DEST as an expectation writes it: an address or a node, and a port.
    let (_, _, dest, port) = nsbox_lab::load::parse_path(&format!("{node} -> {dest}"))?;
    let target_node = dest.parse::<std::net::IpAddr>().is_err().then_some(dest.as_str());
    let named: Vec<&str> = [Some(node), target_node].into_iter().flatten().collect();
    let lab = running_lab(lab, &named, store)?;
    let index = |n: &str| lab.nodes.iter().position(|m| m.name == n).expect("the state names it");
    let to = match dest.parse() {
        Ok(address) => address,
        Err(_) => {
            nsbox_lab::load::node_address(&lab, index(&dest)).ok_or_else(|| format!("node {dest} has no address"))?
        }
    };
    let mut nodes = deploy::open(&lab, registry).map_err(failed)?;
    let question = nsbox_lab::explain::Question {
        from: index(node),
        to,
        port,
        source: from,
        ttl,
        probe,
    };
    let explanation = nsbox_lab::explain::explain(&lab, &mut nodes, &question).map_err(failed)?;
    if json {
        crate::output::print_json(&explanation);
    } else {
        for step in &explanation.steps {
            println!("{step}");
        }
        let verdict = match (explanation.arrived, explanation.answered, explanation.listening) {
            (true, true, None) => "reachable: the request arrives and the reply comes back",
            (true, true, Some(true)) => "open: the request arrives and the answer comes back",
            (true, true, Some(false)) => "closed: the request arrives and the host's refusal comes back",
            (true, false, _) => "unreachable: the request arrives, the reply does not come back",
            _ => "unreachable: the request does not arrive",
        };
        if explanation.unmodeled.is_empty() {
            println!("{verdict}");
        } else {
            println!("{verdict}, as far as this model goes (see the notes)");
        }
        if let Some(probe) = &explanation.probe {
            println!("{}", probe_verdict(&explanation, probe));
        }
        for decision in &explanation.trace {
            println!("nft trace: {decision}");
        }
    }
    // The kernel's answer when there is one, else the model's.
    let reached = explanation
        .probe
        .as_ref()
        .map_or(explanation.reachable(), |p| p.reachable);
    Ok(i32::from(!reached))
}

/// The real echo's answer beside the model's, and what to make of a
/// difference.
fn probe_verdict(explanation: &nsbox_lab::explain::Explanation, probe: &nsbox_lab::probe::Observed) -> String {
    if explanation.agrees() {
        return format!("probe: {} (the kernel agrees)", probe.detail);
    }
    let beyond = if !explanation.trace.is_empty() {
        "nft's trace below says what the tables the model does not follow did".to_string()
    } else if explanation.unmodeled.is_empty() {
        "something this model does not follow is on the way (reverse-path filtering, conntrack state, \
         a firewall that is not nsbox's, a rate limit...)"
            .to_string()
    } else {
        "the notes above name what the model does not follow on the way".to_string()
    };
    format!("probe: {}: the kernel disagrees with the model; {beyond}", probe.detail)
}

fn cut(
    lab: Option<&str>,
    a: &str,
    b: &str,
    partition: bool,
    store: &Store,
    registry: &Registry,
) -> Result<i32, String> {
    let lab = running_lab(lab, &[a, b], store)?;
    let index = |n: &str| lab.nodes.iter().position(|m| m.name == n).expect("the state names it");
    let (ia, ib) = (index(a), index(b));
    if ia == ib {
        return Err("a node cannot be partitioned from itself".into());
    }
    let nodes = deploy::open(&lab, registry).map_err(failed)?;
    if partition {
        scenario::partition(&lab, &nodes, ia, ib).map_err(failed)?;
        println!("{a} and {b} are cut apart");
    } else {
        scenario::heal(&lab, &nodes, ia, ib).map_err(failed)?;
        println!("{a} and {b} are joined again");
    }
    Ok(0)
}

/// What a check asked for, as the file writes it: its outcome, then its
/// probe parameters if any.
fn wanted_text(check: &Check) -> String {
    let via = if check.via.is_empty() {
        String::new()
    } else {
        format!(" (via {})", check.via.join(", "))
    };
    format!("{}{via}{}{}", check.wanted, check.facts, check.params)
}

/// Rows are sources, columns destinations: `+` reached, `.` not.
fn print_matrix(lab: &Lab, cells: &[nsbox_lab::probe::Cell]) {
    let names: Vec<&str> = lab.nodes.iter().map(|n| n.name.as_str()).collect();
    let width = names.iter().map(|n| n.len()).max().unwrap_or(1).max(4);
    print!("{:width$}", "");
    for to in &names {
        print!(" {to:>width$}");
    }
    println!();
    for from in &names {
        print!("{from:width$}");
        for to in &names {
            let mark = cells.iter().find(|c| c.from == *from && c.to == *to).map_or("", |c| {
                if c.observed.reachable {
                    "+"
                } else {
                    "."
                }
            });
            print!(" {mark:>width$}");
        }
        println!();
    }
    let reached = cells.iter().filter(|c| c.observed.reachable).count();
    println!("{reached} of {} pairs reach each other (+ reached, . not)", cells.len());
}

fn print_checks(checks: &[Check]) {
    let width = checks
        .iter()
        .map(|c| c.expect.len() + wanted_text(c).len())
        .max()
        .unwrap_or(0);
    for c in checks {
        let mark = if c.holds { "ok  " } else { "FAIL" };
        let wanted = format!("{}: {}", c.expect, wanted_text(c));
        println!("  {mark}  {wanted:<w$}  {}", c.observed.detail, w = width + 2);
    }
}

fn print_section(section: &Section) {
    match section.converged_ms {
        Some(ms) => println!("{} (converged in {:.1} s)", section.title, ms / 1000.0),
        None => println!("{}", section.title),
    }
    if let Some(e) = &section.error {
        println!("  FAIL  the step could not be applied: {e}");
    }
    print_checks(&section.checks);
    for capture in &section.captures {
        println!("  pcap  {capture}");
    }
}

/// Tears the lab down if nsbox is told to stop (Ctrl-C, SIGTERM, SIGHUP)
/// while `lab test` runs, then exits as killed by that signal: a test that
/// is interrupted leaves nothing behind, and the next one can start. The
/// signals are blocked in every thread and taken by one thread of its own
/// (commands that nsbox starts get an empty mask again at spawn).
fn tear_down_on_signal(lab: &Lab, registry: &Registry, store: &Store) {
    let signals = nsbox_sys::signal::stop_signals();
    if signals.block().is_err() {
        return;
    }
    let (name, names) = (lab.name.clone(), lab.namespaces());
    let (registry, store) = (registry.clone(), store.clone());
    std::thread::spawn(move || {
        let Ok(signal) = signals.wait() else { return };
        crate::report(format!("interrupted: taking lab {name} down"));
        loop {
            // Waits for the lab's lock, so an `up` under way finishes first.
            // The probes of the main thread hold sockets in the namespaces:
            // they are released when this process exits, right after.
            if let Err(e) = deploy::down_with(&name, &names, &registry, &store, deploy::Wait::UnpinOnly) {
                crate::report(e);
                std::process::exit(128 + signal);
            }
            // The main thread may have begun its `up` once `down` let the
            // lock go: exit holding the lock, so that no `up` runs while
            // this process ends, and only if none ran in between.
            let lock = store.lock(&name);
            if !matches!(store.read(&name), Ok(Some(_))) {
                // The lock file this lock made again, as `down` leaves none.
                let _ = store.remove(&name);
                std::process::exit(128 + signal);
            }
            drop(lock);
        }
    });
}

fn test(lab: &Lab, file: &Path, json: bool, captures: &Path, registry: &Registry, store: &Store) -> i32 {
    tear_down_on_signal(lab, registry, store);
    warn_of_neighbour_table(lab);
    if !json {
        println!("lab {}: {}, {}", lab.name, shape(lab), count(lab.steps.len(), "step"));
    }
    let report = scenario::test(lab, Some(file), registry, store, captures, |section| {
        if !json {
            print_section(section);
        }
    });
    if json {
        crate::output::print_json(&report);
    } else {
        if let Some(e) = &report.error {
            println!("FAIL  {e}");
        }
        println!(
            "up {:.0} ms, down {:.0} ms; {} of {} expectations hold",
            report.up_ms,
            report.down_ms,
            report.passed,
            report.passed + report.failed
        );
    }
    if report.ok() {
        0
    } else {
        EXIT_FAILED
    }
}
