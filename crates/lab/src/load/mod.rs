//! Reading a lab file: YAML to [`Lab`], with every mistake reported at its
//! file, line and column before anything is created. Warnings (legal but
//! almost certainly not meant) are returned beside the lab.
//!
//! One `Checker` walks the file; what it checks lives by subject:
//! `nodes` (names, containers, sysctls, rules, nftables blocks),
//! `segments` (links, bridges, ends, addresses, interface names),
//! `routes`, `expects` (paths, outcomes, probe parameters, counters)
//! and `steps`. Here: the diagnostics, the entry points, and the order
//! in which a lab's parts are read.

use crate::file::{ChangeFile, LabFile, NodeFile, Ordered, Scalar, SegmentFile, Text};
use crate::model::{
    Change, Counted, End, Expect, Lab, Link, LinkState, Node, Outcome, Port, Route, RouteCheck, RouteKind, Step,
    StepCommand, Transport,
};
use ipnet::IpNet;
use nsbox_net::firewall::{words, Rule};
use serde_saphyr::{Location, Spanned};
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

mod expects;
mod nodes;
mod routers;
mod routes;
mod segments;
mod steps;
#[cfg(test)]
mod tests;

pub use crate::outcome::parse_outcome;
pub use expects::{node_address, parse_path};
pub use routes::parse_route;
pub use steps::parse_wait;

/// One finding about a lab file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub line: u64,
    pub column: u64,
    pub message: String,
    pub warning: bool,
}

/// The errors of a file whose YAML does not have the shape asked for
/// (a lab file's, a containerlab file's), each at its place.
pub(crate) fn structural(error: &serde_saphyr::Error, text: &str) -> Vec<Diagnostic> {
    crate::yaml_errors::all_structural(error, text)
        .into_iter()
        .map(|(line, column, message)| Diagnostic {
            line,
            column,
            message,
            warning: false,
        })
        .collect()
}

/// Every finding, with the file they are about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostics {
    pub file: PathBuf,
    pub list: Vec<Diagnostic>,
}

impl fmt::Display for Diagnostics {
    /// `seed.yaml:12:7: error: ...`, one line each, like a compiler.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.list.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            let kind = if d.warning { "warning" } else { "error" };
            // Line 0: about the file as a whole (it cannot be read).
            if d.line == 0 {
                write!(f, "{}: {kind}: {}", self.file.display(), d.message)?;
            } else {
                write!(
                    f,
                    "{}:{}:{}: {kind}: {}",
                    self.file.display(),
                    d.line,
                    d.column,
                    d.message
                )?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

impl Diagnostics {
    pub fn errors(&self) -> usize {
        self.list.iter().filter(|d| !d.warning).count()
    }
}

/// Whether reading a lab file also asks the kernel what only it can tell:
/// which sysctls a network namespace takes (tried in a throwaway one).
/// `validate` asks; `up` does not, since a namespace made and torn down
/// costs a few milliseconds, and `up` reports a refused sysctl by node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AskKernel {
    Yes,
    No,
}

/// Reads and checks the lab file at `path`.
pub fn load(path: &Path) -> Result<(Lab, Diagnostics), Diagnostics> {
    load_asking(path, AskKernel::No)
}

/// [`load`], asking the kernel too (see [`AskKernel`]).
pub fn load_asking(path: &Path, ask: AskKernel) -> Result<(Lab, Diagnostics), Diagnostics> {
    let (text, notes) = lab_text(path)?;
    with_notes(parse_asking(path, &text, ask), notes)
}

/// The text of the lab at `path` in nsbox's format: the file's own, or a
/// containerlab file converted (see `crate::clab`), with what converting
/// it noted.
pub fn lab_text(path: &Path) -> Result<(String, Option<Diagnostics>), Diagnostics> {
    let text = read_text(path)?;
    if !crate::clab::is_clab(path) {
        return Ok((text, None));
    }
    let (converted, notes) = crate::clab::convert(path, &text)?;
    Ok((converted, Some(notes)))
}

/// The nsbox text of the lab at `path`, as `up` records it (None if it
/// cannot be read).
pub fn source_of(path: &Path) -> Option<String> {
    lab_text(path).ok().map(|(text, _)| text)
}

/// A converted file's result with the conversion's notes first (at their
/// places in the containerlab file), then the loader's findings, which are
/// about the converted text and say so (`nsbox lab convert` prints it).
fn with_notes(
    result: Result<(Lab, Diagnostics), Diagnostics>,
    notes: Option<Diagnostics>,
) -> Result<(Lab, Diagnostics), Diagnostics> {
    let Some(mut all) = notes else {
        return result;
    };
    let mut add = |found: Diagnostics| {
        all.list.extend(found.list.into_iter().map(|mut d| {
            d.message = format!(
                "in the converted lab (nsbox lab convert), at {}:{}: {}",
                d.line, d.column, d.message
            );
            (d.line, d.column) = (0, 0);
            d
        }));
    };
    match result {
        Ok((lab, warnings)) => {
            add(warnings);
            Ok((lab, all))
        }
        Err(errors) => {
            add(errors);
            Err(all)
        }
    }
}

/// The lab file's text, or why it cannot be read (at its place, for bytes
/// that are not UTF-8).
fn read_text(path: &Path) -> Result<String, Diagnostics> {
    let one = |line: u64, column: u64, message: String| Diagnostics {
        file: path.to_path_buf(),
        list: vec![Diagnostic {
            line,
            column,
            message,
            warning: false,
        }],
    };
    let bytes = std::fs::read(path).map_err(|e| {
        one(
            0,
            0,
            format!("cannot read the file: {}", nsbox_sys::errno::describe(&e)),
        )
    })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = valid.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
        let start = valid.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let column = String::from_utf8_lossy(&valid[start..]).chars().count() as u64 + 1;
        let byte = e.as_bytes()[valid.len()];
        one(
            line,
            column,
            format!("the file is not UTF-8 text (byte 0x{byte:02x} here)"),
        )
    })?;
    Ok(text)
}

/// Checks a lab file's text; `path` only names it in diagnostics.
pub fn parse(path: &Path, text: &str) -> Result<(Lab, Diagnostics), Diagnostics> {
    parse_asking(path, text, AskKernel::No)
}

/// [`parse`], asking the kernel too (see [`AskKernel`]).
pub fn parse_asking(path: &Path, text: &str, ask: AskKernel) -> Result<(Lab, Diagnostics), Diagnostics> {
    parse_with(path, text, ask, ask == AskKernel::Yes)
}

/// Reads a lab file that is about to run (`up`, `test`, `apply`): as
/// [`load`], and every router's configuration given to its daemon's check.
pub fn load_to_run(path: &Path) -> Result<(Lab, Diagnostics), Diagnostics> {
    let (text, notes) = lab_text(path)?;
    with_notes(parse_with(path, &text, AskKernel::No, true), notes)
}

fn parse_with(path: &Path, text: &str, ask: AskKernel, check_routers: bool) -> Result<(Lab, Diagnostics), Diagnostics> {
    let mut checker = Checker {
        source: text,
        diagnostics: Diagnostics {
            file: path.to_path_buf(),
            list: Vec::new(),
        },
        ends_at: Vec::new(),
        lo_at: Vec::new(),
        partitioned: Default::default(),
        downed: Default::default(),
        peers: None,
        interfaces: Vec::new(),
        no_netem: None,
        sysctls_at: Vec::new(),
        rulesets: Vec::new(),
        router_configs: Vec::new(),
        dir: path.parent().map(Path::to_path_buf).unwrap_or_default(),
        ask,
        check_routers,
    };
    let file: LabFile = match serde_saphyr::from_str(text) {
        Ok(file) => file,
        Err(e) => {
            checker.diagnostics.list = structural(&e, text);
            return Err(checker.diagnostics);
        }
    };
    let lab = checker.lab(&file);
    // In the file's order, as a reader goes through it (stable: findings
    // at one place keep the order they were made in).
    checker.diagnostics.list.sort_by_key(|d| (d.line, d.column));
    if checker.diagnostics.errors() > 0 {
        Err(checker.diagnostics)
    } else {
        Ok((lab, checker.diagnostics))
    }
}

/// A node's interfaces: (name, addresses).
type NodeInterfaces = Vec<(String, Vec<IpNet>)>;

struct Checker<'a> {
    /// The file's text: where a node's ruleset starts is read from it.
    source: &'a str,
    diagnostics: Diagnostics,
    /// Where each end is written, in the order of [`Lab::ends`].
    ends_at: Vec<Location>,
    /// Where each node's `lo` addresses are written, by node.
    lo_at: Vec<Vec<Location>>,
    /// The pairs of nodes cut apart at the step being read.
    partitioned: std::collections::BTreeSet<(usize, usize)>,
    /// The interfaces set down at the step being read.
    downed: std::collections::BTreeSet<(usize, String)>,
    /// The other end of each veth link as the step being read has it:
    /// (node, interface) both ways. Made from the lab's links at the
    /// first step.
    peers: Option<std::collections::BTreeMap<(usize, String), (usize, String)>>,
    /// Why delay and loss cannot be had here (the kernel asked at most once).
    no_netem: Option<String>,
    /// Every sysctl the file sets, with where its value is written: tried
    /// in a throwaway namespace once the file is read.
    sysctls_at: Vec<(String, String, Location)>,
    /// Every node's ruleset: checked by nft in a throwaway namespace once
    /// the file is read.
    rulesets: Vec<crate::nft_block::NftBlock>,
    /// Every router's configuration, with where it is written: given to
    /// its daemon's own check once the file is read.
    router_configs: Vec<routers::WrittenConfig>,
    /// The lab file's directory: routers' configuration files are relative
    /// to it.
    dir: PathBuf,
    ask: AskKernel,
    /// Whether routers' configurations go to their daemons' checks (a file
    /// about to run, or `validate`; not a running lab's file read again).
    check_routers: bool,
    /// Each node's interfaces with their addresses, once they are all
    /// named (a lab of 100 routers checks ten thousand routes against them).
    interfaces: Vec<std::rc::Rc<NodeInterfaces>>,
}

/// Longest node name: `LAB-NODE` must fit a file name (255 bytes).
const MAX_NODE_NAME: usize = 255 - 1 - crate::model::MAX_LAB_NAME;

/// Characters allowed in lab and node names: they become file names under
/// /run/netns and parts of interface names.
fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-')
        && !name.starts_with(['.', '-'])
}

impl Checker<'_> {
    fn push(&mut self, at: Location, message: String, warning: bool) {
        self.push_at(at.line(), at.column(), message, warning);
    }

    fn push_at(&mut self, line: u64, column: u64, message: String, warning: bool) {
        self.diagnostics.list.push(Diagnostic {
            line,
            column,
            message,
            warning,
        });
    }

    fn error_at(&mut self, at: Location, message: impl Into<String>) {
        self.push(at, message.into(), false);
    }

    fn warn_at(&mut self, at: Location, message: impl Into<String>) {
        self.push(at, message.into(), true);
    }

    fn lab(&mut self, file: &LabFile) -> Lab {
        let name = file.name.value.clone();
        if let Err(why) = crate::model::check_lab_name(&name) {
            self.error_at(file.name.referenced, why);
        }
        let mut lab = Lab {
            name,
            nodes: Vec::new(),
            links: Vec::new(),
            bridges: Vec::new(),
            expect: Vec::new(),
            counted: Vec::new(),
            route_checks: Vec::new(),
            converge: None,
            sequential: file.sequential.as_ref().is_some_and(|s| s.value),
            steps: Vec::new(),
            netns_prefix: None,
        };
        if let Some(prefix) = &file.netns_prefix {
            // Any '-' is fine here: the namespaces are recorded, and each
            // carries the lab's mark.
            let plain = prefix
                .value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
            if prefix.value.is_empty() || prefix.value.len() > 64 || !plain || prefix.value.starts_with(['.', '-']) {
                self.error_at(
                    prefix.referenced,
                    "netns_prefix: 1 to 64 letters, digits, '-', '_' or '.', not starting with '.' or '-'",
                );
            } else {
                lab.netns_prefix = Some(prefix.value.clone());
            }
        }
        if let Some(converge) = &file.converge {
            match parse_wait(&converge.value).map_err(|e| e.replacen("wait", "converge", 1)) {
                Ok(d) => lab.converge = Some(d),
                Err(e) => self.error_at(converge.referenced, e),
            }
        }
        for (name, node) in &file.nodes.0 {
            let resolved = self.node(name, node);
            lab.nodes.push(resolved);
        }
        if lab.nodes.is_empty() {
            self.error_at(file.name.referenced, "the lab has no nodes");
        }
        for link in &file.links {
            if let Some(l) = self.link(&lab, link) {
                lab.links.push(l);
                self.ends_at.extend(link.value.endpoints.iter().map(|e| e.referenced));
            }
        }
        for (name, bridge) in &file.bridges.0 {
            if let Some(b) = self.bridge(&lab, name, bridge) {
                self.ends_at.extend(bridge.value.endpoints.iter().map(|e| e.referenced));
                lab.bridges.push(b);
            }
        }
        self.name_interfaces(&mut lab);
        self.check_addresses(&lab);
        self.interfaces = (0..lab.nodes.len())
            .map(|n| {
                let named = lab.interfaces(n).into_iter().map(|(i, a)| (i.to_string(), a)).collect();
                std::rc::Rc::new(named)
            })
            .collect();
        for (index, (_, node)) in file.nodes.0.iter().enumerate() {
            let routes: Vec<Route> = node
                .value
                .routes
                .iter()
                .filter_map(|r| self.route(&lab, index, r))
                .collect();
            self.check_route_list(&routes, &node.value.routes);
            lab.nodes[index].routes = routes;
        }
        let routes: Vec<Vec<Route>> = lab.nodes.iter().map(|n| n.routes.clone()).collect();
        let rules: Vec<Vec<Rule>> = lab.nodes.iter().map(|n| n.rules.clone()).collect();
        (lab.expect, lab.counted, lab.route_checks) = self.expects(&lab, &routes, &rules, &file.expect);
        let mut state: Vec<(Vec<Route>, Vec<Rule>)> =
            lab.nodes.iter().map(|n| (n.routes.clone(), n.rules.clone())).collect();
        for step in &file.steps {
            let resolved = self.step(&lab, &mut state, step);
            lab.steps.push(resolved);
        }
        self.probe_sysctls();
        self.check_rulesets();
        self.check_router_configs();
        lab
    }
}
