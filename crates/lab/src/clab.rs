//! containerlab topology files (`*.clab.yml`) run as they are, without
//! Docker: the kinds nsbox can honour become its own lab format, which the
//! usual loader then checks (`nsbox lab convert FILE` prints it, so that
//! expectations can be added).
//!
//! - `linux`: a node (the host's binaries); its `exec:` lines run in it,
//!   in order, once the lab is up (a `run:` command that must end well);
//!   with `binds:`, a container node of the host view with those paths
//!   bound in, whose command runs the exec lines and then stays up.
//! - `frr`: a router running Debian's FRR with the node's `startup-config`
//!   (relative to the file); `extras.frr.daemons` names the daemons, else
//!   those its configuration has sections for.
//! - `bridge`, `ovs-bridge`: a Linux bridge of the lab's own (containerlab
//!   expects one the host already has; Open vSwitch is not used).
//! - `defaults`, `kinds` and `groups` are inherited in containerlab's
//!   order (defaults, then the kind's, then the group's, then the node's).
//!
//! A node's `sysctls` (its network namespace's `net.*` ones) are set in
//! its namespace, merged down the same inheritance key by key.
//!
//! `image` is reported as not used (nsbox runs the host's binaries); every
//! other key nsbox cannot honour is refused at its place, never dropped.

use crate::file::{Ordered, Scalar};
use crate::load::{Diagnostic, Diagnostics};
use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_saphyr::{Location, Spanned};
use std::path::Path;

type Text = Spanned<String>;

/// Whether `path` names a containerlab file (`NAME.clab.yml`).
pub fn is_clab(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    name.ends_with(".clab.yml") || name.ends_with(".clab.yaml")
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClabFile {
    name: Text,
    #[serde(default)]
    prefix: Option<Text>,
    #[serde(default)]
    mgmt: Option<Spanned<IgnoredAny>>,
    topology: TopologyFile,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TopologyFile {
    #[serde(default)]
    defaults: Option<NodeDef>,
    #[serde(default)]
    kinds: Ordered<NodeDef>,
    #[serde(default)]
    groups: Ordered<NodeDef>,
    nodes: Ordered<Spanned<NodeDef>>,
    #[serde(default)]
    links: Vec<Spanned<LinkDef>>,
}

/// A node's settings, or a kind's, a group's, the defaults'.
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct NodeDef {
    #[serde(default)]
    kind: Option<Text>,
    #[serde(default)]
    group: Option<Text>,
    #[serde(default)]
    image: Option<Text>,
    #[serde(default)]
    startup_config: Option<Text>,
    #[serde(default)]
    exec: Option<Vec<Text>>,
    #[serde(default)]
    binds: Option<Vec<Text>>,
    #[serde(default)]
    sysctls: Option<Ordered<Spanned<Scalar>>>,
    /// Metadata only: nothing to honour.
    #[serde(default)]
    labels: Option<Spanned<IgnoredAny>>,
    #[serde(default)]
    extras: Option<ExtrasDef>,
}

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct ExtrasDef {
    #[serde(default)]
    frr: Option<FrrExtras>,
}

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct FrrExtras {
    #[serde(default)]
    daemons: Option<Vec<Text>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkDef {
    endpoints: Vec<Text>,
}

impl NodeDef {
    /// `self` over `base`: what `self` says wins, field by field.
    fn over(&self, base: &NodeDef) -> NodeDef {
        NodeDef {
            kind: self.kind.clone().or_else(|| base.kind.clone()),
            group: self.group.clone().or_else(|| base.group.clone()),
            image: self.image.clone().or_else(|| base.image.clone()),
            startup_config: self.startup_config.clone().or_else(|| base.startup_config.clone()),
            exec: self.exec.clone().or_else(|| base.exec.clone()),
            binds: self.binds.clone().or_else(|| base.binds.clone()),
            sysctls: merged(&base.sysctls, &self.sysctls),
            labels: self.labels.clone().or_else(|| base.labels.clone()),
            extras: match (&self.extras, &base.extras) {
                (Some(mine), Some(theirs)) => Some(ExtrasDef {
                    frr: mine.frr.clone().or_else(|| theirs.frr.clone()),
                }),
                (mine, theirs) => mine.clone().or_else(|| theirs.clone()),
            },
        }
    }
}

/// `base`'s sysctls with `mine` over them, key by key (as containerlab
/// merges them), in the order first said.
fn merged(
    base: &Option<Ordered<Spanned<Scalar>>>,
    mine: &Option<Ordered<Spanned<Scalar>>>,
) -> Option<Ordered<Spanned<Scalar>>> {
    let (Some(base), Some(mine)) = (base, mine) else {
        return mine.clone().or_else(|| base.clone());
    };
    let mut all = base.0.clone();
    for (key, value) in &mine.0 {
        match all.iter_mut().find(|(k, _)| k.value == key.value) {
            Some(said) => *said = (key.clone(), value.clone()),
            None => all.push((key.clone(), value.clone())),
        }
    }
    Some(Ordered(all))
}

/// The nodes' kinds nsbox runs.
const KINDS: [&str; 4] = ["linux", "frr", "bridge", "ovs-bridge"];

/// FRR's protocol daemons by the configuration section that needs them.
const SECTIONS: [(&str, &str); 11] = [
    ("router bgp", "bgpd"),
    ("router ospf6", "ospf6d"),
    ("router ospf", "ospfd"),
    ("router isis", "isisd"),
    ("router ripng", "ripngd"),
    ("router rip", "ripd"),
    ("router eigrp", "eigrpd"),
    ("router babel", "babeld"),
    ("mpls ldp", "ldpd"),
    ("bfd", "bfdd"),
    ("router pim", "pimd"),
];

/// containerlab's file `text` as an nsbox lab file, with warnings; or every
/// mistake at its place. `path` names the file and anchors relative paths.
pub fn convert(path: &Path, text: &str) -> Result<(String, Diagnostics), Diagnostics> {
    let mut diagnostics = Diagnostics {
        file: path.to_path_buf(),
        list: Vec::new(),
    };
    let file: ClabFile = match serde_saphyr::from_str(text) {
        Ok(file) => file,
        Err(e) => {
            diagnostics.list = crate::load::structural(&e, text);
            return Err(diagnostics);
        }
    };
    let mut say = |at: Location, message: String, warning: bool| {
        diagnostics.list.push(Diagnostic {
            line: at.line(),
            column: at.column(),
            message,
            warning,
        })
    };
    if let Some(mgmt) = &file.mgmt {
        say(
            mgmt.referenced,
            "mgmt: nsbox makes no management network (nodes are reached with `nsbox lab exec`); leave it out".into(),
            false,
        );
    }
    // containerlab's names: PREFIX-LAB-NODE, `clab` unless said;
    // `__lab-name` drops the prefix; an empty one (bare node names, which
    // anything else on the host may hold) is refused.
    let netns_prefix = match file.prefix.as_ref().map(|p| p.value.as_str()) {
        None => format!("clab-{}", file.name.value),
        Some("__lab-name") => file.name.value.clone(),
        Some("") => {
            let at = file.prefix.as_ref().map_or(file.name.referenced, |p| p.referenced);
            say(
                at,
                "prefix \"\": nsbox does not name namespaces by the bare node name (another's may hold it); leave it out for clab-LAB-NODE".into(),
                false,
            );
            String::new()
        }
        Some(p) => format!("{p}-{}", file.name.value),
    };
    // nsbox's lab names have no '-' (it parts the lab from the node).
    let name = file.name.value.replace('-', "_");
    if name != file.name.value {
        say(
            file.name.referenced,
            format!("the lab is named {name} in nsbox (its own names have no '-'; its namespaces keep containerlab's)"),
            true,
        );
    }
    let topology = &file.topology;
    let defaults = topology.defaults.clone().unwrap_or_default();
    let mut out = vec![
        format!("name: {name}"),
        format!("netns_prefix: {netns_prefix}"),
        "nodes:".to_string(),
    ];
    let mut bridges: Vec<String> = Vec::new();
    let mut nodes: Vec<String> = Vec::new();
    for (node_name, node) in &topology.nodes.0 {
        // The node's group, from the node or the defaults.
        let group_name = node.value.group.clone().or_else(|| defaults.group.clone());
        let group = match &group_name {
            Some(g) => match topology.groups.0.iter().find(|(n, _)| n.value == g.value) {
                Some((_, def)) => def.clone(),
                None => {
                    say(
                        g.referenced,
                        format!("group {:?} is not in topology.groups", g.value),
                        false,
                    );
                    continue;
                }
            },
            None => NodeDef::default(),
        };
        let kind_name = node
            .value
            .kind
            .clone()
            .or_else(|| group.kind.clone())
            .or_else(|| defaults.kind.clone());
        let Some(kind_name) = kind_name else {
            say(
                node_name.referenced,
                format!("node {}: no kind (linux, frr, bridge...)", node_name.value),
                false,
            );
            continue;
        };
        if !KINDS.contains(&kind_name.value.as_str()) {
            say(
                kind_name.referenced,
                format!(
                    "kind {:?}: nsbox runs {} nodes (the host's binaries, no images)",
                    kind_name.value,
                    KINDS.join(", ")
                ),
                false,
            );
            continue;
        }
        let kind = topology
            .kinds
            .0
            .iter()
            .find(|(n, _)| n.value == kind_name.value)
            .map(|(_, d)| d.clone())
            .unwrap_or_default();
        let def = node.value.over(&group.over(&kind.over(&defaults)));
        if let Some(image) = &def.image {
            say(
                image.referenced,
                format!(
                    "image {:?} is not used: nsbox runs the host's own binaries",
                    image.value
                ),
                true,
            );
        }
        let binds: Vec<String> = def.binds.iter().flatten().map(|b| b.value.clone()).collect();
        if !binds.is_empty() && kind_name.value != "linux" {
            say(
                def.binds
                    .as_ref()
                    .and_then(|b| b.first())
                    .map_or(kind_name.referenced, |b| b.referenced),
                format!(
                    "binds: nsbox binds paths into linux nodes only, not {}",
                    kind_name.value
                ),
                false,
            );
        }
        let quoted = |s: &str| serde_json::to_string(s).unwrap_or_default();
        let mut sysctls: Vec<String> = Vec::new();
        for (key, value) in def.sysctls.iter().flat_map(|s| s.0.iter()) {
            if kind_name.value == "bridge" || kind_name.value == "ovs-bridge" {
                say(
                    key.referenced,
                    format!(
                        "sysctls: {} is a bridge, which has no network namespace of its own in nsbox",
                        node_name.value
                    ),
                    false,
                );
            } else if !key.value.starts_with("net.") {
                say(
                    key.referenced,
                    format!(
                        "sysctl {:?}: only net.* keys belong to a node's network namespace (the others are the host's)",
                        key.value
                    ),
                    false,
                );
            } else {
                sysctls.push(format!("{}: {}", quoted(&key.value), quoted(&value.value.to_sysctl())));
            }
        }
        let sysctls_line = format!("    sysctls: {{{}}}", sysctls.join(", "));
        match kind_name.value.as_str() {
            "bridge" | "ovs-bridge" => {
                say(
                    kind_name.referenced,
                    format!(
                        "{}: a Linux bridge of the lab's own (not the host's{})",
                        node_name.value,
                        if kind_name.value == "ovs-bridge" {
                            ", and no Open vSwitch"
                        } else {
                            ""
                        }
                    ),
                    true,
                );
                bridges.push(node_name.value.clone());
                continue;
            }
            "frr" => {
                let (config, text) = match &def.startup_config {
                    Some(c) => {
                        let path = path.parent().unwrap_or(Path::new(".")).join(&c.value);
                        (quoted(&c.value), std::fs::read_to_string(path).unwrap_or_default())
                    }
                    None => (quoted("frr defaults traditional\n"), String::new()),
                };
                let daemons: Vec<String> = match def
                    .extras
                    .as_ref()
                    .and_then(|e| e.frr.as_ref())
                    .and_then(|f| f.daemons.clone())
                {
                    Some(list) => list.into_iter().map(|d| d.value).filter(|d| d != "zebra").collect(),
                    None => daemons_for(&text),
                };
                out.push(format!("  {}:", node_name.value));
                out.push("    frr:".into());
                out.push(format!("      daemons: [{}]", daemons.join(", ")));
                out.push(format!("      config: {config}"));
                if !sysctls.is_empty() {
                    out.push(sysctls_line);
                }
            }
            _ => {
                let script: Vec<&str> = def.exec.iter().flatten().map(|l| l.value.as_str()).collect();
                // A node with nothing to say is `{}` on its name's line.
                out.push(if binds.is_empty() && script.is_empty() && sysctls.is_empty() {
                    format!("  {}: {{}}", node_name.value)
                } else {
                    format!("  {}:", node_name.value)
                });
                if !sysctls.is_empty() {
                    out.push(sysctls_line);
                }
                if !binds.is_empty() {
                    // Bound paths are a container's: the exec lines run in
                    // it, then it stays up.
                    let mut lines = vec!["set -e".to_string()];
                    lines.extend(script.iter().map(|l| l.to_string()));
                    lines.push("exec sleep infinity".into());
                    let binds: Vec<String> = binds.iter().map(|b| quoted(b)).collect();
                    out.push(format!(
                        "    container: {{command: {}, binds: [{}]}}",
                        quoted(&lines.join("; ")),
                        binds.join(", ")
                    ));
                } else if !script.is_empty() {
                    // One command, each line in turn; the first that fails fails `up`.
                    out.push(format!(
                        "    run: [{}]",
                        quoted(&format!("set -e; {}", script.join("; ")))
                    ));
                }
            }
        }
        if kind_name.value == "frr" {
            if let Some(lines) = def.exec.as_ref().filter(|l| !l.is_empty()) {
                say(
                    lines[0].referenced,
                    "exec: on an frr node, configure it in its startup-config".into(),
                    false,
                );
            }
        }
        nodes.push(node_name.value.clone());
    }
    let mut on_bridges: Vec<(String, Vec<String>)> = bridges.iter().map(|b| (b.clone(), Vec::new())).collect();
    let mut links: Vec<String> = Vec::new();
    for link in &topology.links {
        let ends = &link.value.endpoints;
        if ends.len() != 2 {
            say(
                link.referenced,
                "a link has two endpoints, NODE:IFACE each".into(),
                false,
            );
            continue;
        }
        let parsed: Vec<Option<(String, String)>> = ends
            .iter()
            .map(|e| {
                let (n, i) = e.value.split_once(':')?;
                Some((n.to_string(), i.to_string()))
            })
            .collect();
        let mut good = true;
        for (end, p) in ends.iter().zip(&parsed) {
            match p {
                None => {
                    say(
                        end.referenced,
                        format!("{:?}: an endpoint is NODE:IFACE", end.value),
                        false,
                    );
                    good = false;
                }
                Some((n, _)) if !nodes.contains(n) && !bridges.contains(n) => {
                    say(end.referenced, format!("{n:?} is not a node of the topology"), false);
                    good = false;
                }
                _ => {}
            }
        }
        if !good {
            continue;
        }
        let (a, b) = (
            parsed[0].clone().unwrap_or_default(),
            parsed[1].clone().unwrap_or_default(),
        );
        // A link to a bridge makes the other end a port of it.
        let (bridge, port) = match (bridges.contains(&a.0), bridges.contains(&b.0)) {
            (true, true) => {
                say(
                    link.referenced,
                    "a link between two bridges: not supported".into(),
                    false,
                );
                continue;
            }
            (true, false) => (&a.0, &b),
            (false, true) => (&b.0, &a),
            (false, false) => {
                links.push(format!("  - endpoints: [{}:{}, {}:{}]", a.0, a.1, b.0, b.1));
                continue;
            }
        };
        if let Some((_, ports)) = on_bridges.iter_mut().find(|(n, _)| n == bridge) {
            ports.push(format!("{}:{}", port.0, port.1));
        }
    }
    if !links.is_empty() {
        out.push("links:".into());
        out.extend(links);
    }
    let bridged: Vec<&(String, Vec<String>)> = on_bridges.iter().filter(|(_, e)| !e.is_empty()).collect();
    if !bridged.is_empty() {
        out.push("bridges:".into());
        for (name, ends) in bridged {
            out.push(format!("  {name}: {{endpoints: [{}]}}", ends.join(", ")));
        }
    }
    // A group's or a kind's setting is said once, not once per node.
    diagnostics.list.sort_by_key(|d| (d.line, d.column));
    diagnostics.list.dedup();
    if diagnostics.errors() > 0 {
        return Err(diagnostics);
    }
    let mut text = out.join("\n");
    text.push('\n');
    Ok((text, diagnostics))
}

/// The FRR daemons a configuration has sections for.
fn daemons_for(config: &str) -> Vec<String> {
    let mut daemons: Vec<String> = Vec::new();
    for line in config.lines().map(str::trim_end) {
        if line.starts_with(' ') {
            continue;
        }
        if let Some((_, daemon)) = SECTIONS
            .iter()
            .find(|(section, _)| line == *section || line.starts_with(&format!("{section} ")))
        {
            if !daemons.iter().any(|d| d == daemon) {
                daemons.push(daemon.to_string());
            }
        }
    }
    daemons
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRIANGLE: &str = "name: frr-tri
topology:
  defaults:
    kind: linux
  groups:
    routers:
      kind: frr
      image: quay.io/frrouting/frr:10
      extras:
        frr:
          daemons: [ospfd]
  nodes:
    r1: {group: routers, startup-config: r1.conf}
    r2: {group: routers}
    pc1:
      exec:
        - ip addr add 192.168.1.2/24 dev eth1
        - ip route add default via 192.168.1.1
    sw: {kind: bridge}
  links:
    - endpoints: [\"r1:eth1\", \"r2:eth1\"]
    - endpoints: [\"pc1:eth1\", \"sw:p1\"]
    - endpoints: [\"r2:eth2\", \"sw:p2\"]
";

    #[test]
    fn kinds_groups_and_defaults_become_an_nsbox_lab() {
        let (text, notes) = convert(Path::new("/nonexistent/t.clab.yml"), TRIANGLE).unwrap();
        assert_eq!(
            text,
            "name: frr_tri\nnetns_prefix: clab-frr-tri\nnodes:\n  r1:\n    frr:\n      daemons: [ospfd]\n      config: \"r1.conf\"\n  r2:\n    frr:\n      daemons: [ospfd]\n      config: \"frr defaults traditional\\n\"\n  pc1:\n    run: [\"set -e; ip addr add 192.168.1.2/24 dev eth1; ip route add default via 192.168.1.1\"]\nlinks:\n  - endpoints: [r1:eth1, r2:eth1]\nbridges:\n  sw: {endpoints: [pc1:eth1, r2:eth2]}\n"
        );
        let said: Vec<String> = notes
            .list
            .iter()
            .map(|d| format!("{}:{} {}", d.line, d.column, d.message))
            .collect();
        assert!(
            said.iter().any(|s| s.starts_with("1:7 the lab is named frr_tri")),
            "{said:?}"
        );
        assert!(
            said.iter()
                .any(|s| s.starts_with("8:14 image \"quay.io/frrouting/frr:10\" is not used")),
            "{said:?}"
        );
        assert!(
            said.iter().any(|s| s.contains("sw: a Linux bridge of the lab's own")),
            "{said:?}"
        );
        assert!(notes.list.iter().all(|d| d.warning));
    }

    #[test]
    fn sysctls_merge_down_the_inheritance_key_by_key() {
        let text = "name: s
topology:
  defaults:
    sysctls: {net.ipv4.ip_forward: 1, net.ipv4.conf.all.rp_filter: 2}
  kinds:
    linux:
      sysctls: {net.ipv6.conf.all.forwarding: 1}
  nodes:
    host:
      kind: linux
      sysctls: {net.ipv4.ip_forward: 0}
    plain: {kind: linux}
    r1: {kind: frr}
";
        let (converted, _) = convert(Path::new("/nonexistent/s.clab.yml"), text).unwrap();
        let lines: Vec<&str> = converted.lines().collect();
        let after = |node: &str| lines[lines.iter().position(|l| *l == format!("  {node}:")).unwrap() + 1];
        // The node's own value wins; the defaults' order is kept.
        assert_eq!(
            after("host"),
            "    sysctls: {\"net.ipv4.ip_forward\": \"0\", \"net.ipv4.conf.all.rp_filter\": \"2\", \"net.ipv6.conf.all.forwarding\": \"1\"}"
        );
        assert_eq!(
            after("plain"),
            "    sysctls: {\"net.ipv4.ip_forward\": \"1\", \"net.ipv4.conf.all.rp_filter\": \"2\", \"net.ipv6.conf.all.forwarding\": \"1\"}"
        );
        // An frr node has the defaults' but not the linux kind's.
        assert!(
            converted
                .contains("    sysctls: {\"net.ipv4.ip_forward\": \"1\", \"net.ipv4.conf.all.rp_filter\": \"2\"}\n"),
            "{converted}"
        );
        // nsbox's own loader reads the result.
        let (lab, _) = crate::load::parse(Path::new("s.yaml"), &converted).unwrap();
        let host = lab.nodes.iter().find(|n| n.name == "host").unwrap();
        assert!(host.sysctls.contains(&("net.ipv4.ip_forward".into(), "0".into())));
        assert!(!host.sysctls.contains(&("net.ipv4.ip_forward".into(), "1".into())));
    }

    #[test]
    fn what_nsbox_cannot_honour_is_refused_at_its_place() {
        let refuse = |text: &str| -> Vec<String> {
            let d = convert(Path::new("t.clab.yml"), text).unwrap_err();
            d.list
                .iter()
                .filter(|d| !d.warning)
                .map(|d| format!("{}:{} {}", d.line, d.column, d.message))
                .collect()
        };
        let said = refuse("name: x\ntopology:\n  nodes:\n    a: {kind: nokia_srlinux}\n");
        assert!(
            said[0].starts_with("4:15 kind \"nokia_srlinux\": nsbox runs linux, frr"),
            "{said:?}"
        );
        let said = refuse("name: x\nmgmt: {network: m}\ntopology:\n  nodes:\n    a: {kind: linux}\n");
        assert!(
            said[0].starts_with("2:7 mgmt: nsbox makes no management network"),
            "{said:?}"
        );
        let said = refuse("name: x\ntopology:\n  nodes:\n    a: {kind: linux, sysctls: {kernel.shmmax: 1}}\n");
        assert!(
            said[0].starts_with("4:32 sysctl \"kernel.shmmax\": only net.* keys"),
            "{said:?}"
        );
        let said = refuse("name: x\ntopology:\n  nodes:\n    sw: {kind: bridge, sysctls: {net.ipv4.ip_forward: 1}}\n");
        assert!(said[0].starts_with("4:34 sysctls: sw is a bridge"), "{said:?}");
        let said = refuse("name: x\ntopology:\n  nodes:\n    a: {kind: linux, ports: [80:80]}\n");
        assert!(said[0].starts_with("4:22 unknown key `ports`"), "{said:?}");
        let said = refuse(
            "name: x\ntopology:\n  nodes:\n    a: {kind: linux}\n  links:\n    - endpoints: [\"a:eth1\", \"b:eth1\"]\n",
        );
        assert!(said[0].contains("\"b\" is not a node of the topology"), "{said:?}");
    }

    #[test]
    fn containerlab_s_names_carry_over() {
        let prefix_of = |prefix: &str| -> String {
            let text = format!("name: t-1\n{prefix}topology:\n  nodes:\n    a: {{kind: linux}}\n");
            let (converted, _) = convert(Path::new("t.clab.yml"), &text).unwrap();
            converted.lines().nth(1).unwrap().to_string()
        };
        assert_eq!(prefix_of(""), "netns_prefix: clab-t-1");
        assert_eq!(prefix_of("prefix: lab\n"), "netns_prefix: lab-t-1");
        assert_eq!(prefix_of("prefix: __lab-name\n"), "netns_prefix: t-1");
        let refused = convert(
            Path::new("t.clab.yml"),
            "name: t\nprefix: \"\"\ntopology:\n  nodes:\n    a: {kind: linux}\n",
        )
        .unwrap_err();
        assert!(refused.list[0]
            .message
            .starts_with("prefix \"\": nsbox does not name namespaces by the bare node name"));
    }

    #[test]
    fn daemons_come_from_the_configuration_s_sections() {
        assert_eq!(
            daemons_for(
                "hostname r\nrouter ospf\n network 10.0.0.0/8 area 0\nrouter bgp 65001\n neighbor x\nrouter ospf6\n"
            ),
            ["ospfd", "bgpd", "ospf6d"]
        );
    }
}
