//! Reading a lab file: YAML to [`Lab`], with every mistake reported at its
//! file, line and column before anything is created. Warnings (legal but
//! almost certainly not meant) are returned beside the lab.

use crate::file::{ChangeFile, LabFile, NodeFile, Ordered, Scalar, SegmentFile, Text};
use crate::model::{
    Change, Counted, End, Expect, Lab, Link, LinkState, Node, Outcome, Port, Route, RouteKind, Step, StepCommand,
    Transport,
};
use ipnet::IpNet;
use nsbox_net::firewall::{words, Rule};
use serde_saphyr::{Location, Spanned};
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// One finding about a lab file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub line: u64,
    pub column: u64,
    pub message: String,
    pub warning: bool,
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
    parse_asking(path, &text, ask)
}

/// Checks a lab file's text; `path` only names it in diagnostics.
pub fn parse(path: &Path, text: &str) -> Result<(Lab, Diagnostics), Diagnostics> {
    parse_asking(path, text, AskKernel::No)
}

/// [`parse`], asking the kernel too (see [`AskKernel`]).
pub fn parse_asking(path: &Path, text: &str, ask: AskKernel) -> Result<(Lab, Diagnostics), Diagnostics> {
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
        interfaces: Vec::new(),
        no_netem: None,
        sysctls_at: Vec::new(),
        rulesets: Vec::new(),
        ask,
    };
    let file: LabFile = match serde_saphyr::from_str(text) {
        Ok(file) => file,
        Err(e) => {
            checker.diagnostics.list = crate::yaml_errors::all_structural(&e, text)
                .into_iter()
                .map(|(line, column, message)| Diagnostic {
                    line,
                    column,
                    message,
                    warning: false,
                })
                .collect();
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
    /// Why delay and loss cannot be had here (the kernel asked at most once).
    no_netem: Option<String>,
    /// Every sysctl the file sets, with where its value is written: tried
    /// in a throwaway namespace once the file is read.
    sysctls_at: Vec<(String, String, Location)>,
    /// Every node's ruleset: checked by nft in a throwaway namespace once
    /// the file is read.
    rulesets: Vec<crate::nft_block::NftBlock>,
    ask: AskKernel,
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
            sequential: file.sequential.as_ref().is_some_and(|s| s.value),
            steps: Vec::new(),
        };
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
        (lab.expect, lab.counted) = self.expects(&lab, &routes, &rules, &file.expect);
        let mut state: Vec<(Vec<Route>, Vec<Rule>)> =
            lab.nodes.iter().map(|n| (n.routes.clone(), n.rules.clone())).collect();
        for step in &file.steps {
            let resolved = self.step(&lab, &mut state, step);
            lab.steps.push(resolved);
        }
        self.probe_sysctls();
        self.check_rulesets();
        lab
    }

    fn node(&mut self, name: &Text, node: &Spanned<NodeFile>) -> Node {
        if !is_plain_name(&name.value) || name.value.len() > MAX_NODE_NAME {
            self.error_at(
                name.referenced,
                format!(
                    "node name {:?}: use 1 to {MAX_NODE_NAME} letters, digits, '.', '_' or '-', not starting with '.' or '-'",
                    crate::model::cut_for_display(&name.value)
                ),
            );
        }
        let n = &node.value;
        self.lo_at.push(n.lo.iter().map(|a| a.referenced).collect());
        let mut resolved = Node {
            name: name.value.clone(),
            lo: n.lo.iter().filter_map(|a| self.address(a)).collect(),
            sysctls: Vec::new(),
            routes: Vec::new(),
            rules: Vec::new(),
            nftables: n.nftables.as_ref().and_then(|text| self.nftables(text)),
            run: n.run.iter().map(|c| c.value.clone()).collect(),
            container: None,
        };
        for command in n.run.iter().filter(|c| c.value.trim().is_empty()) {
            self.error_at(command.referenced, "an empty command: say what to run");
        }
        if let Some(container) = &n.container {
            self.container(&mut resolved, container);
        }
        if let Some(forwarding) = &n.forwarding {
            let value = u8::from(forwarding.value).to_string();
            resolved.sysctls.push(("net.ipv4.ip_forward".into(), value.clone()));
            resolved.sysctls.push(("net.ipv6.conf.all.forwarding".into(), value));
        }
        resolved.sysctls.extend(self.sysctls(&n.sysctls));
        resolved.rules = self.rules(&n.nat, &n.filter);
        resolved
    }

    /// A container node: its command becomes the node's first `run` command,
    /// started through nsbox's own runtime (`nsbox unshare`, the binary
    /// named by `$NSBOX_BIN`, which the nsbox command line sets to itself).
    fn container(&mut self, node: &mut Node, container: &Spanned<crate::file::ContainerFile>) {
        let c = &container.value;
        let hostname = c.hostname.as_ref().map_or(node.name.clone(), |h| h.value.clone());
        if hostname.is_empty() || hostname.len() > 64 || !is_plain_name(&hostname) {
            let at = c.hostname.as_ref().map_or(container.referenced, |h| h.referenced);
            self.error_at(
                at,
                format!("hostname {hostname:?}: use up to 64 letters, digits, '.', '_' or '-'"),
            );
        }
        let mut command = format!("exec \"${{NSBOX_BIN:-nsbox}}\" unshare --ns pid,ipc,mnt,uts --hostname {hostname}");
        if c.command.value.trim().is_empty() {
            self.error_at(
                c.command.referenced,
                "the container's command is empty: say what it runs",
            );
        }
        if let Some(rootfs) = &c.rootfs {
            let path = std::path::Path::new(&rootfs.value);
            if !path.is_dir() {
                self.error_at(
                    rootfs.referenced,
                    format!("rootfs {:?} is not a directory", rootfs.value),
                );
            } else if path.canonicalize().is_ok_and(|p| p == std::path::Path::new("/")) {
                // pivot_root cannot make the host's own root a container's
                // root; leaving `rootfs` out gives a read-only view of it.
                self.error_at(
                    rootfs.referenced,
                    format!(
                        "rootfs {:?} is the host's own root: leave rootfs out for a read-only view of the host's",
                        rootfs.value
                    ),
                );
            }
            command.push_str(&format!(" --rootfs {}", shell_quote(&rootfs.value)));
        }
        command.push_str(&format!(" -- sh -c {}", shell_quote(&c.command.value)));
        node.run.insert(0, command);
        node.container = Some(hostname);
    }

    fn sysctls(&mut self, sysctls: &Ordered<Spanned<Scalar>>) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (key, value) in &sysctls.0 {
            let k = &key.value;
            if !k.starts_with("net.") || k.contains("..") || k.contains('/') {
                self.error_at(
                    key.referenced,
                    format!("sysctl {k:?}: only net.* keys belong to a network namespace"),
                );
                continue;
            }
            let text = value.value.to_sysctl();
            if text.contains('\n') {
                self.warn_at(
                    value.referenced,
                    format!("the value of {k} has a line break: the kernel reads it only up to there"),
                );
            }
            self.sysctls_at.push((k.clone(), text.clone(), value.referenced));
            out.push((k.clone(), text));
        }
        out
    }

    /// Tries the file's sysctls in a throwaway network namespace (as netem
    /// is probed), so that `validate` refuses what `up` would: keys that
    /// are not per-namespace, values the kernel rejects. The forwarding
    /// switches `forwarding:` sets are known good and cost no namespace;
    /// where no namespace can be made (not root), nothing is tried.
    fn probe_sysctls(&mut self) {
        const KNOWN: [&str; 2] = ["net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding"];
        if self.ask == AskKernel::No {
            return;
        }
        let mut seen = std::collections::HashSet::new();
        let tried: Vec<(String, String, Location)> = std::mem::take(&mut self.sysctls_at)
            .into_iter()
            .filter(|(k, v, _)| !(KNOWN.contains(&k.as_str()) && (v == "0" || v == "1")))
            .filter(|(k, v, _)| seen.insert((k.clone(), v.clone())))
            .collect();
        if tried.is_empty() {
            return;
        }
        let pairs: Vec<(String, String)> = tried.iter().map(|(k, v, _)| (k.clone(), v.clone())).collect();
        let Ok(found) = nsbox_net::sysctl::probe(&pairs) else {
            return;
        };
        for ((key, _, at), why) in tried.iter().zip(found) {
            if let Some(why) = why {
                self.error_at(*at, format!("sysctl {key}: {why}"));
            }
        }
    }

    /// A node's ruleset, refused where it would touch nsbox's own table.
    fn nftables(&mut self, text: &Text) -> Option<crate::nft_block::NftBlock> {
        let at = text.referenced;
        if text.value.trim().is_empty() {
            self.error_at(at, "an empty ruleset: write nft's rules, or leave nftables out");
            return None;
        }
        let block = crate::nft_block::NftBlock::new(text.value.clone(), self.source, at.line(), at.column());
        if let Some((line, why)) = nsbox_net::firewall::ruleset::forbidden(&block.text) {
            let (line, column) = block.place(Some(line), None);
            self.push_at(line, column, format!("nftables: {why}"), false);
            return None;
        }
        self.rulesets.push(block.clone());
        Some(block)
    }

    /// Asks nft about every ruleset (`nft -c` in a throwaway namespace),
    /// when asked to ask the kernel; nft's errors are placed in the file.
    fn check_rulesets(&mut self) {
        use nsbox_net::firewall::ruleset::{check, RulesetError};
        if self.ask == AskKernel::No {
            return;
        }
        for block in std::mem::take(&mut self.rulesets) {
            match check(&block.text) {
                Ok(()) => {}
                Err(RulesetError::Refused(errors)) => {
                    for e in errors {
                        let (line, column) = block.place(e.line, e.column);
                        self.push_at(line, column, format!("nftables: {}", e.message), false);
                    }
                }
                // No nft, or no namespace to try it in: `up` will say.
                Err(RulesetError::Run(_)) => {}
            }
        }
    }

    fn rules(&mut self, nat: &[Text], filter: &[Text]) -> Vec<Rule> {
        let mut out = Vec::new();
        for (texts, parse) in [
            (nat, words::parse_nat as fn(&str) -> Result<Rule, String>),
            (filter, words::parse_filter),
        ] {
            for text in texts {
                match parse(&text.value) {
                    Ok(rule) => out.push(rule),
                    Err(e) => self.error_at(text.referenced, e),
                }
            }
        }
        out
    }

    fn address(&mut self, text: &Text) -> Option<IpNet> {
        match text.value.parse::<IpNet>() {
            Ok(net) => {
                if let Some(why) = odd_host_address(&net) {
                    self.warn_at(text.referenced, why);
                }
                Some(net)
            }
            Err(_) => {
                self.error_at(
                    text.referenced,
                    format!(
                        "{:?} is not an address with its prefix length (10.0.1.2/24)",
                        text.value
                    ),
                );
                None
            }
        }
    }

    fn node_index(&mut self, lab: &Lab, name: &str, at: Location) -> Option<usize> {
        let found = lab.nodes.iter().position(|n| n.name == name);
        if found.is_none() {
            let known: Vec<&str> = lab.nodes.iter().map(|n| n.name.as_str()).collect();
            self.error_at(at, format!("unknown node {name:?} (nodes: {})", known.join(", ")));
        }
        found
    }

    /// `NODE[:IFACE] [ADDR/LEN ...]`; an empty interface name is filled in
    /// later by [`Checker::name_interfaces`].
    fn endpoint(&mut self, lab: &Lab, text: &Text) -> Option<End> {
        let at = text.referenced;
        let mut parts = text.value.split_whitespace();
        let Some(head) = parts.next() else {
            self.error_at(at, "an empty endpoint: expected NODE[:IFACE] [ADDR/LEN ...]");
            return None;
        };
        let (node, iface) = head.split_once(':').unwrap_or((head, ""));
        let node = self.node_index(lab, node, at)?;
        if !iface.is_empty() && nsbox_net::link::check_name(iface).is_err() {
            self.error_at(
                at,
                format!("interface name {iface:?} is invalid: it must be 1 to 15 bytes without '/', ':' or whitespace, and not all or default"),
            );
        }
        let mut addresses = Vec::new();
        for word in parts {
            match word.parse::<IpNet>() {
                Ok(net) => {
                    if let Some(why) = odd_host_address(&net) {
                        self.warn_at(at, why);
                    }
                    addresses.push(net)
                }
                Err(_) => self.error_at(
                    at,
                    format!("{word:?} is not an address with its prefix length (10.0.1.2/24)"),
                ),
            }
        }
        Some(End {
            node,
            iface: iface.to_string(),
            addresses,
        })
    }

    fn link(&mut self, lab: &Lab, link: &Spanned<SegmentFile>) -> Option<Link> {
        let l = &link.value;
        if l.endpoints.len() != 2 {
            self.error_at(
                link.referenced,
                format!("a link joins exactly two endpoints, not {}", l.endpoints.len()),
            );
            return None;
        }
        let a = self.endpoint(lab, &l.endpoints[0]);
        let b = self.endpoint(lab, &l.endpoints[1]);
        if let (Some(a), Some(b)) = (&a, &b) {
            if let Some(why) = apart(&a.addresses, &b.addresses) {
                self.warn_at(l.endpoints[1].referenced, why);
            }
        }
        let impairments = self.impairments(l);
        Some(Link {
            ends: [a?, b?],
            mtu: self.mtu(&l.mtu),
            impairments,
        })
    }

    fn bridge(&mut self, lab: &Lab, name: &Text, bridge: &Spanned<SegmentFile>) -> Option<crate::model::Bridge> {
        if nsbox_net::link::check_name(&name.value).is_err() || !is_plain_name(&name.value) {
            self.error_at(
                name.referenced,
                format!(
                    "bridge name {:?}: use 1 to 15 letters, digits, '.', '_' or '-'",
                    name.value
                ),
            );
        }
        let b = &bridge.value;
        if b.endpoints.len() < 2 {
            self.error_at(bridge.referenced, "a bridge joins two endpoints or more");
        }
        let ports: Vec<_> = b.endpoints.iter().map(|e| self.endpoint(lab, e)).collect();
        let impairments = self.impairments(b);
        Some(crate::model::Bridge {
            name: name.value.clone(),
            ports: ports.into_iter().collect::<Option<Vec<_>>>()?,
            mtu: self.mtu(&b.mtu),
            impairments,
        })
    }

    /// A link's or bridge's MTU, checked against what an interface takes.
    fn mtu(&mut self, mtu: &Option<Spanned<u32>>) -> Option<u32> {
        let mtu = mtu.as_ref()?;
        if !(68..=65535).contains(&mtu.value) {
            self.error_at(mtu.referenced, format!("MTU {} is outside 68 to 65535", mtu.value));
        }
        Some(mtu.value)
    }

    /// `rate: 10mbit`, `delay: 20ms`, `loss: 1%`, checked as written.
    fn impairments(&mut self, segment: &SegmentFile) -> crate::model::Impairments {
        let SegmentFile { rate, delay, loss, .. } = segment;
        let mut out = crate::model::Impairments::default();
        if let Some(rate) = rate {
            match nsbox_net::qdisc::parse_rate(&rate.value) {
                Ok(bits) => out.rate = Some(bits),
                Err(e) => self.error_at(rate.referenced, e),
            }
        }
        for given in [delay, loss].into_iter().flatten() {
            let why = self.no_netem.get_or_insert_with(crate::deploy::why_no_netem).clone();
            self.error_at(given.referenced, why);
        }
        if let Some(delay) = delay {
            let ok = ["ms", "us", "s"].iter().any(|u| {
                delay
                    .value
                    .strip_suffix(u)
                    .is_some_and(|n| n.parse::<f64>().is_ok_and(|v| v >= 0.0))
            });
            out.delay = self.valid_or_error(delay, ok, "delay", "20ms, 500us or 1s");
        }
        if let Some(loss) = loss {
            let ok = loss
                .value
                .strip_suffix('%')
                .is_some_and(|n| n.parse::<f64>().is_ok_and(|v| (0.0..=100.0).contains(&v)));
            out.loss = self.valid_or_error(loss, ok, "loss", "a percentage (1%)");
        }
        out
    }

    /// `given` as written if it is `valid`; otherwise an error at its place
    /// naming `what` and the `expected` form.
    fn valid_or_error(&mut self, given: &Text, valid: bool, what: &str, expected: &str) -> Option<String> {
        if !valid {
            self.error_at(
                given.referenced,
                format!("{what} {:?} is not valid: expected {expected}", given.value),
            );
        }
        valid.then(|| given.value.clone())
    }

    /// Gives every unnamed interface the first free `ethN` of its node, and
    /// reports names used twice in one node.
    fn name_interfaces(&mut self, lab: &mut Lab) {
        let names: Vec<String> = lab.nodes.iter().map(|n| n.name.clone()).collect();
        for (node, name) in names.iter().enumerate() {
            let mut used: Vec<String> = vec!["lo".into()];
            let mut next = 0;
            for (end, at) in lab.ends_mut().zip(&self.ends_at).filter(|(e, _)| e.node == node) {
                if end.iface.is_empty() {
                    while used.contains(&format!("eth{next}")) {
                        next += 1;
                    }
                    end.iface = format!("eth{next}");
                }
                if used.contains(&end.iface) {
                    self.diagnostics.list.push(Diagnostic {
                        line: at.line(),
                        column: at.column(),
                        message: format!("node {name:?} has two interfaces named {:?}", end.iface),
                        warning: false,
                    });
                }
                used.push(end.iface.clone());
            }
        }
    }

    /// The same address twice anywhere in the lab is an error: probes and
    /// routes could not tell the two apart.
    fn check_addresses(&mut self, lab: &Lab) {
        let mut places: Vec<(IpAddr, String, Location)> = Vec::new();
        for (node, at) in lab.nodes.iter().zip(&self.lo_at) {
            for (a, at) in node.lo.iter().zip(at) {
                places.push((a.addr(), format!("{}:lo", node.name), *at));
            }
        }
        for (end, at) in lab.ends().zip(&self.ends_at) {
            for a in &end.addresses {
                places.push((a.addr(), format!("{}:{}", lab.nodes[end.node].name, end.iface), *at));
            }
        }
        let mut first: std::collections::HashMap<IpAddr, &str> = std::collections::HashMap::new();
        for (addr, owner, at) in &places {
            match first.get(addr) {
                Some(earlier) => self.error_at(*at, format!("address {addr} is on both {earlier} and {owner}")),
                None => {
                    first.insert(*addr, owner);
                }
            }
        }
    }

    /// `default|PREFIX [via GW] [dev IFACE] [metric N]`, checked against the
    /// node's interfaces and subnets.
    fn route(&mut self, lab: &Lab, node: usize, text: &Text) -> Option<Route> {
        self.route_checked(lab, node, text, true)
    }

    /// A route, with its gateway checked only when it is being added (a
    /// removal names a route that was checked when it was added).
    fn route_checked(&mut self, lab: &Lab, node: usize, text: &Text, adding: bool) -> Option<Route> {
        let at = text.referenced;
        if let Some(word) = repeated_route_word(&text.value) {
            self.warn_at(
                at,
                format!("`{word}` is given twice in this route: the kernel takes the last"),
            );
        }
        match parse_route(&text.value) {
            Err(e) => {
                self.error_at(at, e);
                None
            }
            Ok(route) => {
                let name = &lab.nodes[node].name;
                let interfaces = self.interfaces[node].clone();
                if let Some(dev) = &route.dev {
                    if !interfaces.iter().any(|(i, _)| i == dev) {
                        self.error_at(at, format!("node {name:?} has no interface {dev:?}"));
                    }
                }
                if let Some(via) = route.via.filter(|_| adding) {
                    let own = interfaces.iter().flat_map(|(_, a)| a.iter()).any(|a| a.addr() == via);
                    let connected = interfaces
                        .iter()
                        .filter(|(i, _)| route.dev.as_deref().is_none_or(|d| d == *i))
                        .flat_map(|(_, a)| a.iter())
                        .any(|a| a.contains(&via));
                    if own {
                        self.warn_at(
                            at,
                            format!(
                                "the gateway {via} is {name}'s own address: the kernel accepts it but ignores it, \
                                 and the route acts as an on-link route that ARPs for every destination \
                                 (it works only while the far host answers ARP for it); \
                                 use the neighbour's address on the link"
                            ),
                        );
                    } else if !connected {
                        self.error_at(
                            at,
                            format!("the gateway {via} is not on a subnet connected to {name}: the kernel would refuse the route"),
                        );
                    }
                    if via.is_ipv4() != route.destination.addr().is_ipv4() {
                        self.error_at(
                            at,
                            format!("the gateway {via} and the destination are not of one family"),
                        );
                    }
                }
                Some(route)
            }
        }
    }

    fn check_route_list(&mut self, routes: &[Route], texts: &[Text]) {
        let mut seen = std::collections::HashSet::new();
        for (i, r) in routes.iter().enumerate() {
            if !seen.insert((r.destination, r.metric)) {
                if let Some(text) = texts.get(i) {
                    self.error_at(text.referenced, format!("a second route to {}", r.destination));
                }
            }
        }
    }

    /// The expectations of a section, checked against the routes each node
    /// has at that point (`routes`): a path that would loop past an echo's
    /// 64 hops is an error.
    fn expects(
        &mut self,
        lab: &Lab,
        routes: &[Vec<Route>],
        rules: &[Vec<Rule>],
        entries: &Ordered<Text>,
    ) -> (Vec<Expect>, Vec<Counted>) {
        let mut out = Vec::new();
        let mut counted = Vec::new();
        let topology = crate::paths::Topology::new(lab);
        for (path, outcome) in &entries.0 {
            // `NODE nat|filter RULE`: a rule's counter, not a path.
            let second = path.value.split_whitespace().nth(1);
            if !path.value.contains("->") && matches!(second, Some("nat" | "filter")) {
                counted.extend(self.counted(lab, rules, path, outcome));
                continue;
            }
            let Some(e) = self.expect(lab, path, outcome) else {
                continue;
            };
            // A loop is a mistake in the routes, whatever is expected of it
            // (an expectation of TTL expiry on a long chain is not).
            if let crate::paths::Path::Loops(visited) = topology.follow(lab, routes, e.from, e.to) {
                let names: Vec<&str> = visited.iter().map(|&n| lab.nodes[n].name.as_str()).collect();
                self.error_at(
                    path.referenced,
                    format!(
                        "the way to {} is a routing loop: {} -> ... (until the TTL runs out)",
                        e.to,
                        names.join(" -> ")
                    ),
                );
            }
            out.push(e);
        }
        (out, counted)
    }

    /// `NODE nat|filter RULE` (the rule quoted or not) with `packets N` or
    /// `packets >= N`: a rule the node has at that point.
    fn counted(&mut self, lab: &Lab, rules: &[Vec<Rule>], key: &Text, value: &Text) -> Option<Counted> {
        let at = key.referenced;
        let split = |text: &str| -> Option<(String, String)> {
            let (first, rest) = text.trim().split_once(char::is_whitespace)?;
            Some((first.to_string(), rest.trim().to_string()))
        };
        let Some(((node, kind), rule)) = split(&key.value).and_then(|(node, rest)| {
            let (kind, rule) = split(&rest)?;
            Some(((node, kind), rule))
        }) else {
            self.error_at(
                at,
                "an expectation is SRC -> DEST, or NODE nat|filter RULE for a rule's counter",
            );
            return None;
        };
        let node = self.node_index(lab, &node, at)?;
        let rule_text = rule.trim_matches('"');
        let parsed = match kind.as_str() {
            "nat" => words::parse_nat(rule_text),
            "filter" => words::parse_filter(rule_text),
            _ => Err(format!("{kind:?}: a counted rule is nat or filter")),
        };
        let rule = match parsed {
            Ok(rule) => rule,
            Err(e) => {
                self.error_at(at, e);
                return None;
            }
        };
        if !rules[node].contains(&rule) {
            self.error_at(
                at,
                format!(
                    "{} has no {kind} rule {rule_text:?} at this point",
                    lab.nodes[node].name
                ),
            );
            return None;
        }
        let wanted = value.value.trim();
        let count = wanted
            .strip_prefix("packets")
            .map(str::trim)
            .and_then(|c| match c.strip_prefix(">=") {
                Some(n) => n.trim().parse().ok().map(|n| (n, true)),
                None => c.parse().ok().map(|n| (n, false)),
            });
        let Some((count, at_least)) = count else {
            self.error_at(
                value.referenced,
                format!("{wanted:?}: a counter is expected as packets N or packets >= N"),
            );
            return None;
        };
        Some(Counted {
            text: key.value.clone(),
            node,
            rule,
            outcome: Outcome::Packets { count, at_least },
        })
    }

    /// `SRC [from ADDR] -> DEST` with its outcome,
    /// `reachable|unreachable [(REASON)]`.
    fn expect(&mut self, lab: &Lab, path: &Text, outcome: &Text) -> Option<Expect> {
        let outcome_at = outcome.referenced;
        let (outcome, params) = match parse_outcome(&outcome.value) {
            Ok(o) => o,
            Err(e) => {
                self.error_at(outcome.referenced, e);
                return None;
            }
        };
        let at = path.referenced;
        let (src, source, dest, port) = match parse_path(&path.value) {
            Ok(p) => p,
            Err(e) => {
                self.error_at(at, e);
                return None;
            }
        };
        match (port, &outcome) {
            (Some(_), Outcome::Reachable) => {
                self.error_at(at, "a port is open, closed or unreachable, not reachable");
                return None;
            }
            (Some(_), _) if params.count.is_some() || params.interval.is_some() || params.ttl.is_some() => {
                self.error_at(
                    outcome_at,
                    "count, interval and ttl are for echoes: a port's probe takes only wait",
                );
                return None;
            }
            (Some(_), Outcome::SeenAs(_)) => {
                self.error_at(
                    at,
                    "seen as is probed with a datagram of nsbox's own, to a port it picks: name no port",
                );
                return None;
            }
            (None, Outcome::Open | Outcome::Closed) => {
                self.error_at(
                    at,
                    format!("{outcome} needs a port: {0}:tcp/PORT or {0}:udp/PORT", path.value),
                );
                return None;
            }
            _ => {}
        }
        let from = self.node_index(lab, &src, at)?;
        if let Some(source) = source {
            let own = lab
                .interfaces(from)
                .iter()
                .flat_map(|(_, a)| a.clone())
                .any(|a| a.addr() == source);
            if !own {
                self.error_at(at, format!("{source} is not an address of {src}"));
            }
        }
        let to = match dest.parse::<IpAddr>() {
            Ok(addr) => addr,
            Err(_) => {
                let node = self.node_index(lab, &dest, at)?;
                match node_address(lab, node) {
                    Some(a) => a,
                    None => {
                        self.error_at(at, format!("node {dest:?} has no address to probe"));
                        return None;
                    }
                }
            }
        };
        let receiver = (0..lab.nodes.len()).find(|&n| {
            self.interfaces[n]
                .iter()
                .any(|(_, addresses)| addresses.iter().any(|a| a.addr() == to))
        });
        if let Outcome::SeenAs(seen) = outcome {
            if seen.is_ipv4() != to.is_ipv4() {
                let family = if to.is_ipv4() { "IPv4" } else { "IPv6" };
                self.error_at(
                    outcome_at,
                    format!("seen as {seen}: a datagram to {to} comes from an {family} address"),
                );
                return None;
            }
            if receiver.is_none() {
                self.error_at(
                    at,
                    format!(
                        "no node of the lab has {to}: nsbox listens for `seen as` in the node that has the address"
                    ),
                );
                return None;
            }
        }
        Some(Expect {
            text: path.value.clone(),
            from,
            source,
            to,
            port,
            outcome,
            params,
            receiver,
        })
    }

    /// `[a, b]`: two different nodes.
    fn pair(&mut self, lab: &Lab, pair: &Spanned<Vec<Text>>) -> Option<(usize, usize)> {
        let [a, b] = pair.value.as_slice() else {
            self.error_at(pair.referenced, "a pair is two nodes: [a, b]");
            return None;
        };
        let a = self.node_index(lab, &a.value, a.referenced)?;
        let b = self.node_index(lab, &b.value, b.referenced)?;
        if a == b {
            self.error_at(pair.referenced, "a node cannot be partitioned from itself");
            return None;
        }
        Some((a, b))
    }

    fn change(&mut self, lab: &Lab, node: usize, change: &Spanned<ChangeFile>, adding: bool) -> Change {
        let c = &change.value;
        Change {
            routes: c
                .routes
                .iter()
                .filter_map(|r| self.route_checked(lab, node, r, adding))
                .collect(),
            rules: self.rules(&c.nat, &c.filter),
        }
    }

    fn step(
        &mut self,
        lab: &Lab,
        state: &mut [(Vec<Route>, Vec<Rule>)],
        step: &Spanned<crate::file::StepFile>,
    ) -> Step {
        let s = &step.value;
        let mut out = Step {
            name: s.name.value.clone(),
            remove: Vec::new(),
            add: Vec::new(),
            sysctls: Vec::new(),
            flush_neighbours: Vec::new(),
            partition: Vec::new(),
            heal: Vec::new(),
            links: Vec::new(),
            exec: Vec::new(),
            wait: None,
            sequential: s.sequential.as_ref().is_some_and(|s| s.value),
            expect: Vec::new(),
            counted: Vec::new(),
        };
        if let Some(wait) = &s.wait {
            match parse_wait(&wait.value) {
                Ok(d) => out.wait = Some(d),
                Err(e) => self.error_at(wait.referenced, e),
            }
        }
        for (key, change) in &s.remove.0 {
            let name = &key.value;
            let Some(node) = self.node_index(lab, name, key.referenced) else {
                continue;
            };
            let c = self.change(lab, node, change, false);
            let (routes, rules) = &mut state[node];
            for r in &c.routes {
                match routes.iter().position(|o| o == r) {
                    Some(i) => {
                        routes.remove(i);
                    }
                    None => self.error_at(
                        change.referenced,
                        format!(
                            "{name} has no route to {} like this at step {:?}",
                            r.destination, out.name
                        ),
                    ),
                }
            }
            for r in &c.rules {
                match rules.iter().position(|o| o == r) {
                    Some(i) => {
                        rules.remove(i);
                    }
                    None => self.error_at(
                        change.referenced,
                        format!("{name} has no rule {r} at step {:?}", out.name),
                    ),
                }
            }
            out.remove.push((node, c));
        }
        for (key, change) in &s.add.0 {
            let name = &key.value;
            let Some(node) = self.node_index(lab, name, key.referenced) else {
                continue;
            };
            let c = self.change(lab, node, change, true);
            let (routes, rules) = &mut state[node];
            for r in &c.routes {
                if routes
                    .iter()
                    .any(|o| o.destination == r.destination && o.metric == r.metric)
                {
                    self.error_at(
                        change.referenced,
                        format!("{name} already has a route to {} at step {:?}", r.destination, out.name),
                    );
                }
                routes.push(r.clone());
            }
            rules.extend(c.rules.iter().cloned());
            out.add.push((node, c));
        }
        for (name, sysctls) in &s.sysctls.0 {
            if let Some(node) = self.node_index(lab, &name.value, name.referenced) {
                let values = self.sysctls(sysctls);
                out.sysctls.push((node, values));
            }
        }
        for name in &s.flush_neighbours {
            if let Some(node) = self.node_index(lab, &name.value, name.referenced) {
                out.flush_neighbours.push(node);
            }
        }
        for pair in &s.partition {
            if let Some((a, b)) = self.pair(lab, pair) {
                if !self.partitioned.insert((a.min(b), a.max(b))) {
                    self.error_at(pair.referenced, "these nodes are partitioned already at this step");
                }
                out.partition.push((a, b));
            }
        }
        for pair in &s.heal {
            if let Some((a, b)) = self.pair(lab, pair) {
                if !self.partitioned.remove(&(a.min(b), a.max(b))) {
                    self.error_at(pair.referenced, "these nodes are not partitioned at this step");
                }
                out.heal.push((a, b));
            }
        }
        for (texts, up) in [(&s.down, false), (&s.up, true)] {
            for text in texts {
                let Some((node, iface)) = self.node_interface(lab, text) else {
                    continue;
                };
                let key = (node, iface.clone());
                let changed = if up {
                    self.downed.remove(&key)
                } else {
                    self.downed.insert(key)
                };
                if !changed {
                    let state = if up { "up" } else { "down" };
                    self.error_at(
                        text.referenced,
                        format!("{} is {state} already at this step", text.value),
                    );
                    continue;
                }
                let routes = if up {
                    self.routes_through(node, &iface, &state[node].0)
                } else {
                    Vec::new()
                };
                out.links.push(LinkState {
                    node,
                    iface,
                    up,
                    routes,
                });
            }
        }
        for command in &s.exec {
            if let Some(c) = self.step_command(lab, command) {
                out.exec.push(c);
            }
        }
        let routes: Vec<Vec<Route>> = state.iter().map(|(r, _)| r.clone()).collect();
        let rules: Vec<Vec<Rule>> = state.iter().map(|(_, r)| r.clone()).collect();
        (out.expect, out.counted) = self.expects(lab, &routes, &rules, &s.expect);
        out
    }

    /// Those of `routes` that go out through `iface` of `node`: named as
    /// their device, or through a gateway on one of its subnets.
    fn routes_through(&self, node: usize, iface: &str, routes: &[Route]) -> Vec<Route> {
        let subnets: Vec<IpNet> = self.interfaces[node]
            .iter()
            .filter(|(i, _)| i == iface)
            .flat_map(|(_, addresses)| addresses.iter().map(|a| a.trunc()))
            .collect();
        routes
            .iter()
            .filter(|r| match (&r.dev, r.via) {
                (Some(dev), _) => dev == iface,
                (None, Some(gw)) => subnets.iter().any(|n| n.contains(&gw)),
                (None, None) => false,
            })
            .cloned()
            .collect()
    }

    /// `NODE:IFACE`, an interface the lab gives the node (`lo` too).
    fn node_interface(&mut self, lab: &Lab, text: &Text) -> Option<(usize, String)> {
        let Some((name, iface)) = text.value.split_once(':') else {
            self.error_at(text.referenced, "name an interface as NODE:IFACE (eth0 of a: a:eth0)");
            return None;
        };
        let node = self.node_index(lab, name, text.referenced)?;
        if !self.interfaces[node].iter().any(|(i, _)| i == iface) {
            let known: Vec<&str> = self.interfaces[node].iter().map(|(i, _)| i.as_str()).collect();
            self.error_at(
                text.referenced,
                format!("{name} has no interface {iface:?} (it has {})", known.join(", ")),
            );
            return None;
        }
        Some((node, iface.to_string()))
    }

    /// `[NODE, CMD]` or `[NODE, CMD, STATUS]`.
    fn step_command(&mut self, lab: &Lab, command: &Spanned<Vec<Text>>) -> Option<StepCommand> {
        let (node, text, status) = match command.value.as_slice() {
            [node, text] => (node, text, None),
            [node, text, status] => (node, text, Some(status)),
            _ => {
                self.error_at(
                    command.referenced,
                    "a command is [NODE, COMMAND] or [NODE, COMMAND, EXIT STATUS]",
                );
                return None;
            }
        };
        let node = self.node_index(lab, &node.value, node.referenced)?;
        if text.value.trim().is_empty() {
            self.error_at(text.referenced, "an empty command: say what to run");
            return None;
        }
        let status = match status {
            None => 0,
            Some(s) => match s.value.parse::<u8>() {
                Ok(n) => i32::from(n),
                Err(_) => {
                    self.error_at(s.referenced, format!("{:?} is not an exit status (0 to 255)", s.value));
                    return None;
                }
            },
        };
        Some(StepCommand {
            node,
            command: text.value.clone(),
            status,
        })
    }
}

/// `text` as one word for `sh`.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// `default|PREFIX [via GW] [dev IFACE] [metric N]`.
/// Why an address is an odd one to give an interface, if it is: a
/// subnet's network or broadcast address, or a prefix that covers
/// everything.
fn odd_host_address(net: &IpNet) -> Option<String> {
    let addr = net.addr();
    if net.prefix_len() == 0 {
        return Some(format!(
            "{net}: an interface address with prefix length 0 puts every destination on this link"
        ));
    }
    // /31 and /32 (/127, /128) have no network or broadcast address.
    if net.max_prefix_len() - net.prefix_len() < 2 {
        return None;
    }
    if addr == net.network() {
        return Some(format!(
            "{addr} is the network address of {}, not a host's",
            net.trunc()
        ));
    }
    if net.addr().is_ipv4() && addr == net.broadcast() {
        return Some(format!(
            "{addr} is the broadcast address of {}, not a host's",
            net.trunc()
        ));
    }
    None
}

/// Why the two ends of a link cannot reach each other directly, if so:
/// in some address family both have, no subnet of one holds an address of
/// the other.
fn apart(a: &[IpNet], b: &[IpNet]) -> Option<String> {
    for v4 in [true, false] {
        let of = |list: &[IpNet]| -> Vec<IpNet> { list.iter().filter(|n| n.addr().is_ipv4() == v4).copied().collect() };
        let (a, b) = (of(a), of(b));
        if a.is_empty() || b.is_empty() {
            continue;
        }
        let meets = a
            .iter()
            .any(|x| b.iter().any(|y| x.contains(&y.addr()) || y.contains(&x.addr())));
        if !meets {
            return Some(format!(
                "the ends of this link are on different subnets ({} and {}): they cannot reach each other directly",
                a[0], b[0]
            ));
        }
    }
    None
}

/// A keyword a route text gives twice (`metric 5 metric 6`).
fn repeated_route_word(text: &str) -> Option<&str> {
    let words: Vec<&str> = text.split_whitespace().skip(1).step_by(2).collect();
    words
        .iter()
        .enumerate()
        .find(|(i, w)| matches!(**w, "via" | "dev" | "metric") && words[..*i].contains(w))
        .map(|(_, w)| *w)
}

/// `[TYPE] DEST [via GW] [dev IFACE] [metric N]`, TYPE one of the route
/// types that refuse what they match (they take no gateway or interface).
pub fn parse_route(text: &str) -> Result<Route, String> {
    const SHAPE: &str =
        "expected [blackhole|prohibit|unreachable|throw] default|PREFIX [via GW] [dev IFACE] [metric N]";
    let mut words = text.split_whitespace().peekable();
    let kind = match words.peek().and_then(|w| RouteKind::from_name(w)) {
        Some(kind) => {
            words.next();
            kind
        }
        None => RouteKind::Unicast,
    };
    let destination = match words.next() {
        None if kind == RouteKind::Unicast => return Err(format!("an empty route: {SHAPE}")),
        None => return Err(format!("a {kind} route needs a destination: {kind} default|PREFIX")),
        Some("default") => None,
        Some(prefix) => Some(
            prefix
                .parse::<IpNet>()
                .or_else(|_| prefix.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("{prefix:?} is not a destination: default or a prefix (1.1.1.0/24); {SHAPE}"))?
                .trunc(),
        ),
    };
    let mut route = Route {
        kind,
        destination: destination.unwrap_or_else(|| IpNet::V4(Default::default())),
        via: None,
        dev: None,
        metric: None,
    };
    while let Some(word) = words.next() {
        let value = words.next().ok_or_else(|| format!("{word:?} needs a value"))?;
        match word {
            "via" | "dev" if kind != RouteKind::Unicast => {
                return Err(format!(
                    "a {kind} route takes no `{word}`: it refuses what it matches instead of sending it anywhere"
                ))
            }
            "via" => {
                route.via = Some(
                    value
                        .parse()
                        .map_err(|_| format!("{value:?} is not a gateway address"))?,
                )
            }
            "dev" => route.dev = Some(value.to_string()),
            "metric" => route.metric = Some(value.parse().map_err(|_| format!("{value:?} is not a metric"))?),
            other => {
                return Err(format!(
                    "unknown word {other:?} in a route: expected via, dev or metric"
                ))
            }
        }
    }
    if kind == RouteKind::Unicast && route.via.is_none() && route.dev.is_none() {
        return Err(format!(
            "a route needs a gateway (via GW) or an interface (dev IFACE), or a type ({}) first",
            RouteKind::REFUSING.map(|k| k.name()).join(", ")
        ));
    }
    // `default` takes the family of its gateway.
    if destination.is_none() && route.via.is_some_and(|v| v.is_ipv6()) {
        route.destination = IpNet::V6(Default::default());
    }
    Ok(route)
}

/// The longest pause a step may take.
const LONGEST_WAIT: std::time::Duration = std::time::Duration::from_secs(3600);

/// A step's pause: a number and its unit, `ms`, `s` or `m` (`2s`, `0.5s`,
/// `500ms`), at most an hour.
pub fn parse_wait(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    let bad = || format!("wait {text:?} is not a duration: a number and ms, s or m (2s, 500ms), up to 1 hour");
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).ok_or_else(bad)?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().map_err(|_| bad())?;
    let seconds = match unit {
        "ms" => number / 1000.0,
        "s" => number,
        "m" => number * 60.0,
        _ => return Err(bad()),
    };
    std::time::Duration::try_from_secs_f64(seconds)
        .ok()
        .filter(|d| *d <= LONGEST_WAIT)
        .ok_or_else(bad)
}

/// A node's address for probes: its first address on a link, else its
/// first on `lo`.
pub fn node_address(lab: &Lab, node: usize) -> Option<IpAddr> {
    let interfaces = lab.interfaces(node);
    let on_link = interfaces
        .iter()
        .filter(|(i, _)| *i != "lo")
        .find_map(|(_, a)| a.first());
    on_link.or_else(|| lab.nodes[node].lo.first()).map(|a| a.addr())
}

/// `SRC [from ADDR] -> DEST[:tcp/PORT|:udp/PORT]`, DEST a node or an
/// address (an IPv6 one in brackets when a port follows).
pub fn parse_path(text: &str) -> Result<(String, Option<IpAddr>, String, Option<Port>), String> {
    let shape = || format!("{text:?}: expected SRC [from ADDR] -> DEST[:tcp/PORT|:udp/PORT]");
    let (src, dest) = text.split_once("->").ok_or_else(shape)?;
    let mut src_words = src.split_whitespace();
    let node = src_words.next().ok_or_else(shape)?.to_string();
    let source = match (src_words.next(), src_words.next(), src_words.next()) {
        (None, ..) => None,
        (Some("from"), Some(addr), None) => Some(addr.parse().map_err(|_| format!("{addr:?} is not an address"))?),
        _ => return Err(shape()),
    };
    let dest = dest.trim();
    if dest.is_empty() || dest.contains(char::is_whitespace) {
        return Err(shape());
    }
    let mut port = None;
    let mut dest = dest;
    // `DEST:PROTO/PORT`; an IPv6 address alone has colons but no slash.
    if let Some((host, tail)) = dest.rsplit_once(':') {
        if let Some((proto, number)) = tail
            .split_once('/')
            .filter(|(p, _)| p.chars().all(|c| c.is_ascii_alphabetic()) && !p.is_empty())
        {
            let transport = match proto {
                "tcp" => Transport::Tcp,
                "udp" => Transport::Udp,
                _ => {
                    return Err(format!(
                        "{text:?}: nsbox probes tcp and udp ports, not {proto}: DEST:tcp/PORT or DEST:udp/PORT"
                    ))
                }
            };
            let number = number
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| format!("{number:?} is not a {} port", proto.to_uppercase()))?;
            port = Some(Port { transport, number });
            dest = host;
        }
    }
    let dest = dest.strip_prefix('[').and_then(|d| d.strip_suffix(']')).unwrap_or(dest);
    Ok((node, source, dest.to_string(), port))
}

pub use crate::outcome::parse_outcome;

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const BASE: &str = "name: t
nodes:
  a: {}
  b:
    forwarding: true
links:
  - endpoints: [a:ea 10.0.0.1/24, b:eb 10.0.0.2/24]
";

    fn check(text: &str) -> Result<(Lab, Diagnostics), Diagnostics> {
        parse(Path::new("lab.yaml"), text)
    }

    /// The one error of `text`, as `LINE:COL: message`.
    fn error(text: &str) -> String {
        let d = check(text).expect_err("the file should be refused");
        assert_eq!(d.errors(), 1, "{d}");
        let e = d.list.iter().find(|d| !d.warning).unwrap();
        format!("{}:{}: {}", e.line, e.column, e.message)
    }

    #[test]
    fn the_seed_lab_reads_whole() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/labs/seed.yaml");
        let (lab, warnings) = load(&path).unwrap();
        assert_eq!(lab.name, "seed");
        let names: Vec<&str> = lab.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["server", "router", "client"]);
        assert_eq!(lab.links.len(), 2);
        assert_eq!(lab.links[0].ends[1].iface, "veth-srv");
        assert_eq!(lab.expect.len(), 5);
        assert_eq!(
            lab.expect[3].outcome,
            Outcome::Unreachable(Some("network unreachable".into()))
        );
        assert_eq!(lab.steps.len(), 8);
        assert_eq!(lab.netns(1), "seed-router");
        assert_eq!(
            lab.nodes[1].sysctls[0],
            ("net.ipv4.ip_forward".to_string(), "1".to_string())
        );
        assert_eq!(lab.steps[5].add[0].1.rules.len(), 1, "the SNAT step");
        // S6's gateways are the router's own addresses: legal, and warned.
        assert_eq!(warnings.list.len(), 2, "{warnings}");
        assert!(warnings
            .list
            .iter()
            .all(|w| w.warning && w.message.contains("own address")));
        let text = warnings.to_string();
        assert!(
            text.contains("seed.yaml:42:25: warning"),
            "warnings point at the step's routes: {text}"
        );
    }

    #[test]
    fn interfaces_without_names_get_eth_n() {
        let text =
            BASE.replace("a:ea 10.0.0.1/24", "a 10.0.0.1/24") + "  - endpoints: [a 10.0.1.1/24, b:eth0 10.0.1.2/24]\n";
        let (lab, _) = check(&text).unwrap();
        assert_eq!(lab.links[0].ends[0].iface, "eth0");
        assert_eq!(lab.links[1].ends[0].iface, "eth1");
        assert_eq!(lab.interfaces(0).len(), 3, "lo, eth0, eth1");
    }

    /// What `up` would refuse without a position is refused by `validate`
    /// at its place; what is odd but works is a warning there.
    #[test]
    fn what_up_would_refuse_is_refused_here_and_odd_things_are_warned_of() {
        let text = "name: s
nodes:
  a:
    sysctls: {net.core.rmem_max: 1, net.ipv4.ip_forward: banana, net.ipv4.ip_default_ttl: \"64\\n65\"}
  b: {}
links:
  - endpoints: [a:eth0 10.0.0.0/24, b:default 10.0.1.255/24]
  - endpoints: [a 0.0.0.0/0, b 10.0.2.1/24]
  - endpoints: [a:ethx 10.0.3.1/24, b:ethy 10.0.3.2/24]
steps:
  - name: x
    add: {a: {routes: [10.9.0.0/16 via 10.0.3.2 metric 5 metric 6]}}
";
        let d = parse_asking(Path::new("lab.yaml"), text, AskKernel::Yes).unwrap_err();
        let said: Vec<String> = d
            .list
            .iter()
            .map(|d| {
                format!(
                    "{}:{} {} {}",
                    d.line,
                    d.column,
                    if d.warning { "warning" } else { "error" },
                    d.message
                )
            })
            .collect();
        let has = |start: &str| said.iter().any(|s| s.starts_with(start));
        if nsbox_net::sysctl::probe(&[]).is_ok() {
            assert!(
                has("4:34 error sysctl net.core.rmem_max: /proc/sys/net/core/rmem_max is the host's alone"),
                "{said:#?}"
            );
            assert!(
                has("4:58 error sysctl net.ipv4.ip_forward: the kernel refuses the value \"banana\""),
                "{said:#?}"
            );
        } else {
            eprintln!("SKIPPED: sysctls are not tried without a throwaway namespace");
        }
        assert!(
            has("4:91 warning the value of net.ipv4.ip_default_ttl has a line break"),
            "{said:#?}"
        );
        assert!(
            has("7:17 warning 10.0.0.0 is the network address of 10.0.0.0/24"),
            "{said:#?}"
        );
        assert!(has("7:37 error interface name \"default\" is invalid"), "{said:#?}");
        assert!(has("7:37 warning 10.0.1.255 is the broadcast address"), "{said:#?}");
        assert!(
            has("7:37 warning the ends of this link are on different subnets"),
            "{said:#?}"
        );
        assert!(
            has("8:17 warning 0.0.0.0/0: an interface address with prefix length 0"),
            "{said:#?}"
        );
        assert!(has("12:24 warning `metric` is given twice in this route"), "{said:#?}");
        let long = format!("name: t\nnodes:\n  {}: {{}}\n", "n".repeat(230));
        assert!(error(&long).starts_with("3:3: node name"), "{}", error(&long));
    }

    #[test]
    fn every_mistake_is_named_at_its_place() {
        let cases: Vec<(String, &str)> = vec![
            (BASE.replace("b:eb", "c:eb"), "7:35: unknown node \"c\" (nodes: a, b)"),
            (
                BASE.replace("b:eb", "b:a-name-of-16-byt"),
                "7:35: interface name \"a-name-of-16-byt\" is invalid",
            ),
            (
                BASE.replace("10.0.0.2/24", "10.0.0.1/24"),
                "7:35: address 10.0.0.1 is on both a:ea and b:eb",
            ),
            (
                BASE.replace("10.0.0.2/24", "10.0.0.300/24"),
                "7:35: \"10.0.0.300/24\" is not an address",
            ),
            (
                BASE.replace("b:eb", "b:lo"),
                "7:35: node \"b\" has two interfaces named \"lo\"",
            ),
            (
                BASE.replace("  a: {}", "  a: {routes: [default via 10.9.0.1]}"),
                "3:16: the gateway 10.9.0.1 is not on a subnet connected to a",
            ),
            (
                BASE.replace("  a: {}", "  a: {routes: [10.1.0.0/16 dev eth7]}"),
                "3:16: node \"a\" has no interface \"eth7\"",
            ),
            (
                BASE.replace("  a: {}", "  a: {routes: [default]}"),
                "3:16: a route needs a gateway (via GW) or an interface (dev IFACE)",
            ),
            (
                BASE.replace("  a: {}", "  a: {nat: [snat -s 10.0.0.0/24]}"),
                "3:13: snat needs --to-source",
            ),
            (
                BASE.replace("  a: {}", "  a: {filter: [forward drop -o a-name-of-16-byt]}"),
                "3:16: interface name \"a-name-of-16-byt\" is invalid",
            ),
            (
                BASE.replace("  a: {}", "  a: {sysctls: {kernel.hostname: x}}"),
                "3:17: sysctl \"kernel.hostname\": only net.* keys",
            ),
            (
                BASE.replace("  a: {}", "  a: {colour: red}"),
                "3:7: unknown key `colour`; the keys here are lo, forwarding",
            ),
            (
                BASE.replace("  a: {}", "  a: {lo: [1.1.1.1]}"),
                "3:12: \"1.1.1.1\" is not an address with its prefix length",
            ),
            (
                BASE.to_string() + "expect:\n  a -> 10.0.0.2: maybe\n",
                "9:18: \"maybe\" is not an outcome",
            ),
            (
                BASE.to_string() + "expect:\n  c -> 10.0.0.2: reachable\n",
                "9:3: unknown node \"c\"",
            ),
            (
                BASE.to_string() + "expect:\n  a from 10.0.0.2 -> b: reachable\n",
                "9:3: 10.0.0.2 is not an address of a",
            ),
            (
                BASE.to_string() + "expect:\n  a to b: reachable\n",
                "9:3: \"a to b\": expected SRC [from ADDR] -> DEST",
            ),
            (
                BASE.to_string() + "steps:\n  - name: s\n    heal: [[a, b]]\n",
                "10:12: these nodes are not partitioned at this step",
            ),
            (
                BASE.to_string() + "steps:\n  - name: s\n    partition: [[a, a]]\n",
                "10:17: a node cannot be partitioned from itself",
            ),
            (
                BASE.to_string() + "steps:\n  - name: s\n    partition: [[a, b, a]]\n",
                "10:17: a pair is two nodes: [a, b]",
            ),
            (
                BASE.to_string()
                    + "steps:\n  - name: s\n    partition: [[a, b]]\n  - name: t\n    partition: [[b, a]]\n",
                "12:17: these nodes are partitioned already at this step",
            ),
            (
                BASE.replace(
                    "forwarding: true",
                    "forwarding: true\n    routes: [10.9.0.0/16 via 10.0.0.1]",
                )
                .replace("  a: {}", "  a: {forwarding: true, routes: [10.9.0.0/16 via 10.0.0.2]}")
                .replace("links:", "  c: {lo: [10.9.0.1/32]}\nlinks:")
                    + "expect:\n  a -> c: reachable\n",
                "11:3: the way to 10.9.0.1 is a routing loop: a -> b -> a -> ...",
            ),
            (
                BASE.replace("  a: {}", "  a: {container: {command: sleep 1, rootfs: /nonexistent}}"),
                "3:45: rootfs \"/nonexistent\" is not a directory",
            ),
            (
                BASE.replace(
                    "  a: {}",
                    "  a: {container: {command: sleep 1, hostname: \"no space\"}}",
                ),
                "3:47: hostname \"no space\"",
            ),
            (
                BASE.to_string() + "    rate: fast\n",
                "8:11: rate \"fast\" is not valid",
            ),
            (BASE.to_string() + "    delay: 20ms\n", "8:12: delay and loss"),
            (
                BASE.to_string() + "expect:\n  a -> b:tcp/80: reachable\n",
                "9:3: a port is open, closed or unreachable",
            ),
            (
                BASE.to_string() + "expect:\n  a -> b: open\n",
                "9:3: open needs a port: a -> b:tcp/PORT or a -> b:udp/PORT",
            ),
            (
                BASE.to_string() + "expect:\n  a -> 10.0.0.2:sctp/53: closed\n",
                "9:3: \"a -> 10.0.0.2:sctp/53\": nsbox probes tcp and udp ports, not sctp: DEST:tcp/PORT or DEST:udp/PORT",
            ),
            (
                BASE.to_string() + "expect:\n  a -> fd00::9: unreachable (destination unreachable: no route)\n",
                "9:53: mapping values are not allowed in this context: the value of `a -> fd00::9` holds a `: `, \
                 which YAML reads as a mapping; quote the value: a -> fd00::9: \"unreachable (destination unreachable: no route)\"",
            ),
            (
                BASE.to_string() + "steps:\n  - name: s\n    remove: {a: {routes: [default via 10.0.0.2]}}\n",
                "10:17: a has no route to 0.0.0.0/0 like this at step \"s\"",
            ),
            (
                BASE.to_string() + "steps:\n  - name: s\n    add: {x: {routes: [default via 10.0.0.2]}}\n",
                "10:11: unknown node \"x\"",
            ),
            (
                BASE.replace("nodes:\n  a: {}", "nodes:\n  a: {}\n  a: {}"),
                "4:3: `a` is given twice",
            ),
            (
                BASE.replace("name: t", "name: \"no/slash\""),
                "1:7: invalid lab name \"no/slash\"",
            ),
            (BASE.replace("name: t", "name: a-b"), "1:7: invalid lab name \"a-b\""),
            (BASE.replace("links:", "links: ["), "7:3: "),
            (
                BASE.replace("  a: {}", "  a: {container: {command: sleep 1, rootfs: /}}"),
                "3:45: rootfs \"/\" is the host's own root",
            ),
            (
                BASE.replace("  a: {}", "  a: {container: {command: \"\"}}"),
                "3:28: the container's command is empty",
            ),
            (
                BASE.replace("  a: {}", "  a: {run: [\"  \"]}"),
                "3:13: an empty command",
            ),
        ];
        let mut wrong = Vec::new();
        for (text, expected) in cases {
            let got = error(&text);
            if !got.starts_with(expected) {
                wrong.push(format!("wanted {expected:?}\n   got {got:?}"));
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn a_gateway_that_is_the_nodes_own_address_is_a_warning_that_explains() {
        let text = BASE.replace("  a: {}", "  a: {routes: [1.1.1.0/24 via 10.0.0.1]}");
        let (_, warnings) = check(&text).unwrap();
        assert_eq!(warnings.list.len(), 1);
        let w = warnings.to_string();
        assert!(
            w.starts_with("lab.yaml:3:16: warning: the gateway 10.0.0.1 is a's own address"),
            "{w}"
        );
        assert!(w.contains("ARP"), "{w}");
    }

    #[test]
    fn routes_and_outcomes_parse() {
        let r = parse_route("10.1.2.3/16 via 10.0.0.2 dev eth0 metric 5").unwrap();
        assert_eq!(r.destination.to_string(), "10.1.0.0/16");
        assert_eq!((r.dev.as_deref(), r.metric), (Some("eth0"), Some(5)));
        assert_eq!(
            parse_route("default via fd00::1").unwrap().destination.to_string(),
            "::/0"
        );
        assert!(parse_route("default via").is_err());
        assert!(parse_route("default gw 1.2.3.4").is_err());
        for text in [
            "blackhole 10.9.0.0/16",
            "prohibit 2001:db8::/32 metric 7",
            "unreachable default",
            "throw ::/0",
        ] {
            let route = parse_route(text).unwrap();
            assert_ne!(route.kind, RouteKind::Unicast, "{text}");
            assert_eq!(route.to_string(), text, "shown as written");
        }
        assert_eq!(
            parse_route("blackhole 10.9.0.0/16 via 10.0.0.1").unwrap_err(),
            "a blackhole route takes no `via`: it refuses what it matches instead of sending it anywhere"
        );
        assert!(parse_route("prohibit").unwrap_err().contains("needs a destination"));
        assert_eq!(parse_wait("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_wait("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_wait("2m"), Ok(Duration::from_secs(120)));
        for bad in ["", "2", "s", "2h", "-1s", "61m", "1e9s", "2 s"] {
            assert!(parse_wait(bad).is_err(), "{bad:?}");
        }
        assert!(parse_route("10.9.0.0/16")
            .unwrap_err()
            .contains("or a type (blackhole, prohibit"));
        assert_eq!(
            parse_outcome("unreachable ( host unreachable )").unwrap().0,
            Outcome::Unreachable(Some("host unreachable".into()))
        );
        assert!(parse_outcome("unreachable host").is_err());
        let (node, source, dest, port) = parse_path("a from fd00::1 -> fd00::2").unwrap();
        assert_eq!(
            (node.as_str(), source, dest.as_str(), port),
            ("a", "fd00::1".parse().ok(), "fd00::2", None)
        );
        let port = |transport, number| Some(Port { transport, number });
        let (_, _, dest, found) = parse_path("a -> [fd00::2]:tcp/80").unwrap();
        assert_eq!((dest.as_str(), found), ("fd00::2", port(Transport::Tcp, 80)));
        let (_, _, dest, found) = parse_path("a -> b:tcp/8080").unwrap();
        assert_eq!((dest.as_str(), found), ("b", port(Transport::Tcp, 8080)));
        let (_, _, dest, found) = parse_path("a -> [fd00::2]:udp/53").unwrap();
        assert_eq!((dest.as_str(), found), ("fd00::2", port(Transport::Udp, 53)));
        let (_, _, dest, found) = parse_path("a -> fd00::2").unwrap();
        assert_eq!(
            (dest.as_str(), found),
            ("fd00::2", None),
            "an IPv6 address is not a port"
        );
        assert!(parse_path("a -> b:tcp/0").is_err());
        assert!(parse_path("a -> b:udp/70000").unwrap_err().contains("not a UDP port"));
        assert_eq!(parse_outcome("open").unwrap().0, Outcome::Open);
    }
}
