//! Drawing a lab: Graphviz dot and Mermaid, nodes with their loopback
//! addresses, routes, NAT and filter rules and services, links labelled
//! with interfaces and addresses.

use crate::model::{End, Lab};
use std::fmt::Write;

fn addresses(end: &End) -> String {
    end.addresses
        .iter()
        .map(|a| a.to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

fn node_label(lab: &Lab, node: usize) -> String {
    let n = &lab.nodes[node];
    let mut label = n.name.clone();
    for a in &n.lo {
        label.push_str(&format!("\\nlo {a}"));
    }
    if let Some(router) = &n.router {
        // The start script is nsbox's: the daemons say what the node is.
        let daemons = match router.suite {
            crate::model::RoutingSuite::Frr => std::iter::once("zebra")
                .chain(router.daemons.iter().map(String::as_str))
                .collect::<Vec<_>>()
                .join(" "),
            crate::model::RoutingSuite::Bird => "bird".into(),
        };
        label.push_str(&format!("\\n({}: {daemons})", router.suite.name()));
    } else if let Some(hostname) = &n.container {
        label.push_str(&format!("\\n(container {hostname})"));
    }
    if n.sysctls.iter().any(|(k, v)| k == "net.ipv4.ip_forward" && v == "1") {
        label.push_str("\\n(forwarding)");
    }
    for route in &n.routes {
        label.push_str(&format!("\\nroute {route}"));
    }
    for rule in &n.rules {
        label.push_str(&format!("\\n{}", escape(&rule.to_string())));
    }
    if let Some(block) = &n.nftables {
        label.push_str(&format!(
            "\\nnftables: table {}",
            escape(&block.tables().join(", table "))
        ));
    }
    // A container node's first command is its container, shown above.
    let services = n.run.iter().skip(usize::from(n.container.is_some()));
    for command in services {
        label.push_str(&format!("\\nruns: {}", escape(command)));
    }
    label
}

/// Text safe inside a double-quoted dot or Mermaid label.
fn escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "'")
}

/// Graphviz: `nsbox lab graph seed.yaml | dot -Tsvg > seed.svg`.
pub fn dot(lab: &Lab) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "graph \"{}\" {{", lab.name);
    let _ = writeln!(out, "  node [shape=box];");
    for i in 0..lab.nodes.len() {
        let _ = writeln!(out, "  \"{}\" [label=\"{}\"];", lab.nodes[i].name, node_label(lab, i));
    }
    for link in &lab.links {
        let [a, b] = &link.ends;
        let _ = writeln!(
            out,
            "  \"{}\" -- \"{}\" [taillabel=\"{} {}\", headlabel=\"{} {}\"];",
            lab.nodes[a.node].name,
            lab.nodes[b.node].name,
            a.iface,
            addresses(a),
            b.iface,
            addresses(b)
        );
    }
    for bridge in &lab.bridges {
        let _ = writeln!(
            out,
            "  \"{}\" [shape=ellipse, label=\"{} (bridge)\"];",
            bridge.name, bridge.name
        );
        for port in &bridge.ports {
            // The label at the middle of the edge: tail labels of many
            // ports crowd together at the bridge and overlap.
            let _ = writeln!(
                out,
                "  \"{}\" -- \"{}\" [label=\"{} {}\"];",
                lab.nodes[port.node].name,
                bridge.name,
                port.iface,
                addresses(port)
            );
        }
    }
    out.push_str("}\n");
    out
}

/// Mermaid: paste into Markdown inside a ```mermaid block.
pub fn mermaid(lab: &Lab) -> String {
    let mut out = String::from("graph LR\n");
    for i in 0..lab.nodes.len() {
        let label = node_label(lab, i).replace("\\n", "<br>");
        let _ = writeln!(out, "  {}[\"{label}\"]", lab.nodes[i].name);
    }
    for link in &lab.links {
        let [a, b] = &link.ends;
        let _ = writeln!(
            out,
            "  {} ---|\"{} {} — {} {}\"| {}",
            lab.nodes[a.node].name,
            a.iface,
            addresses(a),
            b.iface,
            addresses(b),
            lab.nodes[b.node].name
        );
    }
    for bridge in &lab.bridges {
        let _ = writeln!(out, "  {}((\"{} (bridge)\"))", bridge.name, bridge.name);
        for port in &bridge.ports {
            let _ = writeln!(
                out,
                "  {} ---|\"{} {}\"| {}",
                lab.nodes[port.node].name,
                port.iface,
                addresses(port),
                bridge.name
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed() -> Lab {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/labs/seed.yaml");
        crate::load(&path).unwrap().0
    }

    #[test]
    fn the_seed_lab_draws_as_dot() {
        let dot = dot(&seed());
        assert!(dot.starts_with("graph \"seed\" {\n"), "{dot}");
        assert!(dot.contains("\"router\" [label=\"router\\n(forwarding)\"];"), "{dot}");
        let dnat = crate::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/labs/dnat.yaml"))
            .unwrap()
            .0;
        let drawn = super::dot(&dnat);
        assert!(drawn.contains("route default via"), "{drawn}");
        assert!(drawn.contains("dnat"), "{drawn}");
        assert!(drawn.contains("runs: busybox nc -ll -p 80 -e /bin/true"), "{drawn}");
        assert!(dot.contains("\"server\" [label=\"server\\nlo 1.1.1.1/24\"];"), "{dot}");
        assert!(
            dot.contains(
                "\"server\" -- \"router\" [taillabel=\"vethS 10.0.1.2/24\", headlabel=\"veth-srv 10.0.1.1/24\"];"
            ),
            "{dot}"
        );
    }

    #[test]
    fn the_seed_lab_draws_as_mermaid() {
        let m = mermaid(&seed());
        assert!(m.starts_with("graph LR\n"), "{m}");
        assert!(m.contains("  client[\"client<br>lo 2.2.2.2/24\"]"), "{m}");
        assert!(
            m.contains("  client ---|\"vethC 10.0.2.2/24 — veth-cli 10.0.2.1/24\"| router"),
            "{m}"
        );
    }
}
