//! The kernel's own account of what nftables did to a probe, where the
//! model does not follow the rules (another table than nsbox's): nft's
//! tracing, in each node the walk went through, while the probe runs.

use super::*;
use nsbox_net::firewall::trace::Tracer;

/// How long `nft monitor trace` is given to subscribe before the probe is
/// sent, and the last packets to be reported after it.
const SETTLE: std::time::Duration = std::time::Duration::from_millis(200);

/// Runs `send` while nft traces, in the nodes `unmodeled_at` (those on the
/// way with tables nsbox does not model), the packets between the lab's
/// addresses; returns what `send` observed and each decision nft
/// reported, in words.
pub(super) fn watching(
    lab: &Lab,
    nodes: &mut [NodeHandle],
    unmodeled_at: &[usize],
    send: impl FnOnce(&mut [NodeHandle]) -> crate::probe::Observed,
) -> (crate::probe::Observed, Vec<String>) {
    let addresses: Vec<IpAddr> = (0..lab.nodes.len())
        .flat_map(|n| lab.interfaces(n))
        .flat_map(|(_, addresses)| addresses.into_iter().map(|a| a.addr()))
        .collect();
    let mut said = Vec::new();
    let mut tracers = Vec::new();
    for &node in unmodeled_at {
        let name = &lab.nodes[node].name;
        match Tracer::start(&nodes[node].fd, &addresses) {
            Ok(Some(tracer)) => tracers.push((name.clone(), tracer)),
            Ok(None) => said.push(format!(
                "{name}: not traced: it has a table inet nsbox-trace that this explain did not make"
            )),
            Err(e) => said.push(format!("{name}: not traced: {e}")),
        }
    }
    if !tracers.is_empty() {
        std::thread::sleep(SETTLE);
    }
    let observed = send(nodes);
    if !tracers.is_empty() {
        std::thread::sleep(SETTLE);
    }
    for (name, tracer) in tracers {
        said.extend(
            tracer
                .finish()
                .into_iter()
                .map(|d| format!("{name}: {} {}: {} ({})", d.table, d.chain, d.decided, d.packet)),
        );
    }
    (observed, said)
}
