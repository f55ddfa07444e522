//! Steps and whole test runs: change the lab as a step says, check what
//! must hold, and report every expectation with what was found.

use crate::deploy::route_spec;
use crate::deploy::{self, LabError, NodeHandle};
use crate::model::{Lab, Step, StepCommand};
use crate::probe::{check, Check};
use crate::state::Store;
use nsbox_ns::netns::Registry;
use serde::Serialize;
use std::path::Path;
use std::time::{Duration, Instant};

/// Applies one step's changes: removals (routes, rules, then addresses),
/// links taken away, links made, additions (addresses, then routes and
/// rules), sysctls, partitions,
/// the neighbour caches it asks to flush, links down and up, commands,
/// and its wait.
pub fn apply(lab: &Lab, nodes: &mut [NodeHandle], step: &Step) -> Result<(), LabError> {
    let net = |node: &NodeHandle, op: &'static str| {
        let name = node.name.clone();
        move |source| LabError::Net { node: name, op, source }
    };
    let fw = |node: &NodeHandle| {
        let name = node.name.clone();
        move |source| LabError::Firewall { node: name, source }
    };
    for (i, change) in &step.remove {
        let node = &mut nodes[*i];
        for route in &change.routes {
            let spec = route_spec(route);
            node.nl.delete_route(&spec).map_err(net(node, "deleting a route"))?;
        }
        let firewall = deploy::firewall(node)?;
        for rule in &change.rules {
            firewall.delete_rule(rule).map_err(fw(node))?;
        }
        for (iface, address) in &change.addresses {
            node.nl
                .delete_address(iface, *address)
                .map_err(net(node, "deleting an address"))?;
        }
    }
    for (i, iface) in &step.disconnect {
        let node = &mut nodes[*i];
        node.nl.delete_link(iface).map_err(net(node, "deleting a link"))?;
    }
    for link in &step.connect {
        connect(nodes, link)?;
    }
    for (i, change) in &step.add {
        let node = &mut nodes[*i];
        for (iface, address) in &change.addresses {
            node.nl
                .add_address(iface, *address)
                .map_err(net(node, "adding an address"))?;
        }
        for route in &change.routes {
            let spec = route_spec(route);
            node.nl.add_route(&spec).map_err(net(node, "adding a route"))?;
        }
        if !change.rules.is_empty() {
            deploy::firewall(node)?.add(&change.rules).map_err(fw(node))?;
        }
    }
    for (i, sysctls) in &step.sysctls {
        deploy::set_sysctls(&nodes[*i], sysctls)?;
    }
    for &(a, b) in &step.partition {
        partition(lab, nodes, a, b)?;
    }
    for &(a, b) in &step.heal {
        heal(lab, nodes, a, b)?;
    }
    for i in &step.flush_neighbours {
        let node = &mut nodes[*i];
        node.nl
            .flush_neighbours(None)
            .map_err(net(node, "flushing neighbours"))?;
    }
    for link in &step.links {
        let node = &mut nodes[link.node];
        let op = if link.up {
            "setting a link up"
        } else {
            "setting a link down"
        };
        node.nl.set_up(&link.iface, link.up).map_err(net(node, op))?;
        for route in &link.routes {
            match node.nl.add_route(&route_spec(route)) {
                // The route is there (the kernel kept or made it).
                Err(e) if e.already_exists() => {}
                other => other.map_err(net(node, "adding a route back"))?,
            }
        }
    }
    for command in &step.exec {
        run_step_command(&nodes[command.node], command)?;
    }
    if let Some(wait) = step.wait {
        std::thread::sleep(wait);
    }
    Ok(())
}

/// Makes a link a step asks for: a veth pair from one node's namespace
/// to the other's, both ends up, with their MTU and addresses.
fn connect(nodes: &mut [NodeHandle], link: &crate::model::Link) -> Result<(), LabError> {
    use nsbox_net::link::{LinkChange, VethEnd, VethPeer};
    use std::os::fd::AsFd;
    let [a, b] = &link.ends;
    let net = |node: &NodeHandle, op: &'static str| {
        let name = node.name.clone();
        move |source| LabError::Net { node: name, op, source }
    };
    let peer_fd = nodes[b.node]
        .fd
        .try_clone()
        .map_err(crate::apply::dup(&nodes[b.node].name))?;
    let end = &mut nodes[a.node];
    end.nl
        .create_veth(
            VethEnd {
                name: &a.iface,
                netns: None,
                up: true,
                index: None,
            },
            VethPeer {
                name: &b.iface,
                netns: Some(peer_fd.as_fd()),
                index: None,
            },
            None,
        )
        .map_err(net(end, "creating a link"))?;
    nodes[b.node]
        .nl
        .set_up(&b.iface, true)
        .map_err(net(&nodes[b.node], "bringing a link up"))?;
    for e in [a, b] {
        let node = &mut nodes[e.node];
        if let Some(mtu) = link.mtu {
            let change = LinkChange {
                mtu: Some(mtu),
                ..Default::default()
            };
            node.nl
                .change_link(&e.iface, &change)
                .map_err(net(node, "setting the MTU"))?;
        }
        for address in &e.addresses {
            node.nl
                .add_address(&e.iface, *address)
                .map_err(net(node, "adding an address"))?;
        }
    }
    Ok(())
}

/// How long a step's command may run.
const COMMAND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Runs a step's command (`sh -c`) in its node's network namespace to its
/// end (at most [`COMMAND_TIMEOUT`]): an exit status other than the one
/// asked for fails the step, with the end of what the command printed.
fn run_step_command(node: &NodeHandle, step: &StepCommand) -> Result<(), LabError> {
    use std::process::{Command, Stdio};
    let failed = |how: String, output: &str| LabError::StepCommand {
        node: node.name.clone(),
        command: step.command.clone(),
        how,
        output: crate::services::last_lines(output, 5),
    };
    // Its output goes to a file, not a pipe: a process the command leaves
    // running in the background (`server &`) would hold a pipe open, and
    // reading it to its end would wait for that process.
    let mut output = output_file().map_err(|e| failed(format!("could not start: {e}"), ""))?;
    let command = step.command.clone();
    let (stdout, stderr) = (output.try_clone(), output.try_clone());
    let spawned = nsbox_ns::netns::run_in_fd(&node.fd, move || {
        Command::new("sh")
            .args(["-c", &command])
            .stdin(Stdio::null())
            .stdout(stdout?)
            .stderr(stderr?)
            .spawn()
    })?;
    let mut child = spawned.map_err(|e| failed(format!("could not start: {e}"), ""))?;
    let deadline = std::time::Instant::now() + COMMAND_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if std::time::Instant::now() < deadline => std::thread::sleep(std::time::Duration::from_millis(5)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    let printed = read_from_start(&mut output);
    let Some(status) = status else {
        return Err(failed(
            format!("did not end within {} s: killed", COMMAND_TIMEOUT.as_secs()),
            &printed,
        ));
    };
    // As a shell reports it: 128+N for signal N.
    let signal = std::os::unix::process::ExitStatusExt::signal(&status);
    let code = status.code().or(signal.map(|s| 128 + s)).unwrap_or(-1);
    if code == step.status {
        return Ok(());
    }
    Err(failed(
        format!("exited with status {code} ({} was expected)", step.status),
        &printed,
    ))
}

/// A file for a command's output that is gone from the file system as
/// soon as it is open (nothing is left behind, whatever happens next).
fn output_file() -> std::io::Result<std::fs::File> {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("nsbox-step-{}-{n}", std::process::id()));
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)?;
    std::fs::remove_file(&path)?;
    Ok(file)
}

/// What was written to `file` so far (lossy: a command may print bytes
/// that are not UTF-8).
fn read_from_start(file: &mut std::fs::File) -> String {
    use std::io::{Read, Seek};
    let mut bytes = Vec::new();
    let _ = file
        .seek(std::io::SeekFrom::Start(0))
        .and_then(|_| file.read_to_end(&mut bytes));
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Cuts nodes `a` and `b` apart (see [`Lab::partition_rules`]).
pub fn partition(lab: &Lab, nodes: &[NodeHandle], a: usize, b: usize) -> Result<(), LabError> {
    for node in [a, b] {
        deploy::firewall(&nodes[node])?
            .add(&rules_of(lab, a, b, node))
            .map_err(|source| LabError::Firewall {
                node: nodes[node].name.clone(),
                source,
            })?;
    }
    Ok(())
}

/// Joins nodes `a` and `b` again: deletes the rules [`partition`] added.
pub fn heal(lab: &Lab, nodes: &[NodeHandle], a: usize, b: usize) -> Result<(), LabError> {
    for node in [a, b] {
        deploy::firewall(&nodes[node])?
            .delete_rules(&rules_of(lab, a, b, node))
            .map_err(|source| match source {
                // None of the cut's rules on the first node: there is no cut.
                nsbox_net::firewall::FirewallError::NoSuchRule { .. } if node == a => {
                    LabError::NotPartitioned(lab.nodes[a].name.clone(), lab.nodes[b].name.clone())
                }
                source => LabError::Firewall {
                    node: nodes[node].name.clone(),
                    source,
                },
            })?;
    }
    Ok(())
}

fn rules_of(lab: &Lab, a: usize, b: usize, node: usize) -> Vec<nsbox_net::firewall::Rule> {
    lab.partition_rules(a, b)
        .into_iter()
        .filter(|(n, _)| *n == node)
        .map(|(_, r)| r)
        .collect()
}

/// The expectations after `up` or after one step.
#[derive(Debug, Clone, Serialize)]
pub struct Section {
    /// "up", or the step's name.
    pub title: String,
    /// Why the section's changes could not be made, if they could not.
    pub error: Option<String>,
    pub checks: Vec<Check>,
    /// With `converge`: how long the expectations took to all hold (None:
    /// they did not within it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub converged_ms: Option<f64>,
    /// The pcap files the step's captures wrote, and what went wrong with
    /// any.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub captures: Vec<String>,
}

/// A whole `lab test`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub lab: String,
    pub up_ms: f64,
    pub down_ms: f64,
    pub sections: Vec<Section>,
    pub passed: usize,
    pub failed: usize,
    /// Why the lab could not come up or go down, if so.
    pub error: Option<String>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.failed == 0 && self.error.is_none() && self.sections.iter().all(|s| s.error.is_none())
    }
}

/// What a section expects: probes, rule counters, routes, and how long
/// they may take to hold.
pub struct Expectations<'a> {
    /// The lab (the way a `via` expectation takes is modelled on it).
    pub lab: &'a Lab,
    pub expects: &'a [crate::model::Expect],
    pub counted: &'a [crate::model::Counted],
    pub routes: &'a [crate::model::RouteCheck],
    pub sequential: bool,
    pub converge: Option<Duration>,
}

impl<'a> Expectations<'a> {
    /// The lab's, after `up`.
    pub fn of_lab(lab: &'a Lab) -> Self {
        Expectations {
            lab,
            expects: &lab.expect,
            counted: &lab.counted,
            routes: &lab.route_checks,
            sequential: lab.sequential,
            converge: lab.converge,
        }
    }

    /// A step's (its converge, else the lab's).
    pub fn of_step(lab: &'a Lab, step: &'a Step) -> Self {
        Expectations {
            lab,
            expects: &step.expect,
            counted: &step.counted,
            routes: &step.route_checks,
            sequential: lab.sequential || step.sequential,
            converge: step.converge.or(lab.converge),
        }
    }
}

/// A `via` expectation: the request's way, as each node's kernel routes
/// it now (`explain`'s model), must pass the nodes named; the way is told
/// beside what the probe saw.
fn check_via(lab: &Lab, nodes: &mut [NodeHandle], expect: &crate::model::Expect, check: &mut Check) {
    let question = crate::explain::Question {
        from: expect.from,
        to: expect.to,
        port: expect.port,
        source: expect.source,
        ttl: None,
        probe: false,
    };
    let way = match crate::explain::explain(lab, nodes, &question) {
        Ok(explanation) => explanation.request_path,
        Err(e) => {
            check.holds = false;
            check.observed.detail = format!("{}; the way: {e}", check.observed.detail);
            return;
        }
    };
    check.via = expect.via.iter().map(|&v| lab.nodes[v].name.clone()).collect();
    let names: Vec<&str> = way.iter().map(|&n| lab.nodes[n].name.as_str()).collect();
    let missed: Vec<&str> = expect
        .via
        .iter()
        .filter(|v| !way.contains(v))
        .map(|&v| lab.nodes[v].name.as_str())
        .collect();
    check.holds &= missed.is_empty();
    check.observed.detail = format!("{}, by {}", check.observed.detail, names.join(" -> "));
    if !missed.is_empty() {
        check
            .observed
            .detail
            .push_str(&format!(", not via {}", missed.join(", ")));
    }
}

/// How long to wait before checking again expectations that do not hold
/// yet (on top of the probes' own time).
const RECHECK: Duration = Duration::from_millis(200);

/// A section's checks: its probes, the routes, then the rule counters it
/// reads. With `converge`, all again until they hold or the time is up;
/// then also how long they took to hold (None: they did not).
pub fn checks_of(
    nodes: &mut [NodeHandle],
    e: &Expectations,
    pacer: &crate::pacing::Pacer,
) -> (Vec<Check>, Option<f64>) {
    let since = Instant::now();
    // Throughput is measured apart, one at a time, after the probes.
    let (rates, probes): (Vec<&crate::model::Expect>, Vec<&crate::model::Expect>) = e
        .expects
        .iter()
        .partition(|x| matches!(x.outcome, crate::model::Outcome::Throughput { .. }));
    let probes: Vec<crate::model::Expect> = probes.into_iter().cloned().collect();
    loop {
        let mut checks = check(nodes, &probes, pacer, e.sequential);
        for (probe, check) in probes.iter().zip(checks.iter_mut()) {
            if !probe.via.is_empty() {
                check_via(e.lab, nodes, probe, check);
            }
        }
        checks.extend(crate::throughput::check(nodes, &rates));
        checks.extend(crate::probe::check_routes(nodes, e.routes));
        checks.extend(crate::probe::check_counted(nodes, e.counted));
        let Some(converge) = e.converge else {
            return (checks, None);
        };
        if checks.iter().all(|c| c.holds) {
            return (checks, Some(ms(since)));
        }
        if since.elapsed() + RECHECK >= converge {
            return (checks, None);
        }
        std::thread::sleep(RECHECK);
    }
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

/// Up, every expectation after up, every step with its expectations, down.
/// `on_section` sees each section as soon as it is checked (for a report
/// that scrolls while the test runs). A step that cannot be applied ends
/// the scenario (what follows would test something else); `down` always
/// runs.
pub fn test(
    lab: &Lab,
    file: Option<&Path>,
    registry: &Registry,
    store: &Store,
    captures: &Path,
    mut on_section: impl FnMut(&Section),
) -> Report {
    let mut report = Report {
        lab: lab.name.clone(),
        up_ms: 0.0,
        down_ms: 0.0,
        sections: Vec::new(),
        passed: 0,
        failed: 0,
        error: None,
    };
    let started = Instant::now();
    let mut nodes = match deploy::up(lab, file, registry, store) {
        Ok(nodes) => nodes,
        Err(e) => {
            report.error = Some(format!("up: {e}"));
            return report;
        }
    };
    report.up_ms = ms(started);
    let pacer = crate::pacing::Pacer::new(crate::pacing::Pace::of(lab));
    let mut record = |section: Section, report: &mut Report| {
        report.passed += section.checks.iter().filter(|c| c.holds).count();
        report.failed += section.checks.iter().filter(|c| !c.holds).count();
        on_section(&section);
        report.sections.push(section);
    };
    let (checks, converged_ms) = checks_of(&mut nodes, &Expectations::of_lab(lab), &pacer);
    let first = Section {
        title: "up".into(),
        error: None,
        checks,
        converged_ms,
        captures: Vec::new(),
    };
    record(first, &mut report);
    for (index, step) in lab.steps.iter().enumerate() {
        let capturing = crate::step_capture::start(lab, &nodes, step, index, captures);
        let mut section = match apply(lab, &mut nodes, step) {
            Ok(()) => {
                let (checks, converged_ms) = checks_of(&mut nodes, &Expectations::of_step(lab, step), &pacer);
                Section {
                    title: step.name.clone(),
                    error: None,
                    checks,
                    converged_ms,
                    captures: Vec::new(),
                }
            }
            Err(e) => Section {
                title: step.name.clone(),
                error: Some(e.to_string()),
                checks: Vec::new(),
                converged_ms: None,
                captures: Vec::new(),
            },
        };
        section.captures = capturing.finish();
        let failed = section.error.is_some();
        record(section, &mut report);
        if failed {
            break;
        }
    }
    drop(nodes);
    let started = Instant::now();
    if let Err(e) = deploy::down(&lab.name, &[], registry, store) {
        report.error = Some(format!("down: {e}"));
    }
    report.down_ms = ms(started);
    report
}
