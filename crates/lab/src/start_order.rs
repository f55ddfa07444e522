//! The order in which `up` starts the nodes' commands: all at once, except
//! in a lab whose OSPF routers (FRR's ospfd or ospf6d, or BIRD's OSPF,
//! with OSPF's MinLSArrival in force) are linked in a cycle. There the cycle is closed
//! last, a moment after the rest of the routers run.
//!
//! Why (read off FRR 8.4's ospfd and its debug logs on a 100-router ring,
//! BENCHMARKS.md "Default timers"). An adjacency forms one hello interval
//! (10 s) after the earlier of its two routers started, so the start order
//! is the order in which the links come up. When a database exchange falls
//! among floods of LSAs that are changing, it can stall: a requested
//! instance arrives less than MinLSArrival (1 s) after the copy the
//! router holds and is discarded, or the neighbour's next request waits
//! for one that was overtaken; the router stays in Loading until the
//! retransmit interval (5 s) repeats the request, and its own new LSA then
//! meets the same discards (another 10 s). Started all at once, about half
//! of the rings converged 4-5 s late. Two things make those exchanges
//! rare:
//!
//! - The links that close cycles come up last, when the rest of the
//!   routers have run for a while: their exchange is the one that meets
//!   every LSA by two paths.
//! - Routers near each other start far apart in time (see [`spread`]):
//!   started one after another along the ring, neighbouring links would
//!   go Full within the same few milliseconds, each exchange meeting the
//!   neighbour's floods.
//!
//! The waves: first a set of routers that touches every link of a
//! spanning tree (a vertex cover), with the lab's other nodes; then the
//! rest of the tree's routers; then, once `since_first` has passed, the
//! routers at the ends of the links that close cycles ("closers"). Two
//! closers that share a link never start together: their adjacency would
//! form at once (the later's first hello lists the earlier) instead of
//! one hello later, so they are coloured apart and started
//! `since_previous` apart.

use crate::model::{Lab, Node, RoutingSuite};
use std::time::Duration;

/// FRR's MinLSArrival when the configuration does not set it.
const FRR_MIN_LS_ARRIVAL: Duration = Duration::from_millis(1000);

/// BIRD's MinLSArrival (a constant of its OSPF, not configurable).
const BIRD_MIN_LS_ARRIVAL: Duration = Duration::from_secs(1);

/// A link between two nodes, as their indices (the smaller first).
type Edge = (usize, usize);

/// A set of nodes whose commands `up` starts together, once the previous
/// wave's are running.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wave {
    /// Indices into the lab's nodes, in the order to start them.
    pub nodes: Vec<usize>,
    /// Not before this long after the first wave is running.
    pub since_first: Duration,
    /// Not before this long after the previous wave is running.
    pub since_previous: Duration,
}

/// The waves in which `up` starts `lab`'s nodes: one wave of every node,
/// unless OSPF routers form a cycle (see the module's comment).
pub fn waves(lab: &Lab) -> Vec<Wave> {
    let all_at_once = || {
        vec![Wave {
            nodes: (0..lab.nodes.len()).collect(),
            since_first: Duration::ZERO,
            since_previous: Duration::ZERO,
        }]
    };
    let arrival: Vec<Option<Duration>> = lab.nodes.iter().map(min_ls_arrival).collect();
    let Some(longest) = arrival.iter().flatten().max().copied() else {
        return all_at_once();
    };
    if longest.is_zero() {
        // Nothing is ever discarded: the order does not matter.
        return all_at_once();
    }
    let edges = ospf_edges(lab, &arrival);
    let (tree, closing) = spanning_forest(lab.nodes.len(), &edges);
    if closing.is_empty() {
        return all_at_once();
    }
    let mut closer = vec![false; lab.nodes.len()];
    for &(a, b) in &closing {
        closer[a] = true;
        closer[b] = true;
    }
    let first = first_wave(lab.nodes.len(), &tree, &closer);
    let along = tree_order(lab.nodes.len(), &tree);
    let mut waves = vec![
        Wave {
            nodes: spread(
                (0..lab.nodes.len())
                    .filter(|&n| first[n] || (!closer[n] && arrival[n].is_none()))
                    .collect(),
                &along,
            ),
            since_first: Duration::ZERO,
            since_previous: Duration::ZERO,
        },
        Wave {
            nodes: spread(
                (0..lab.nodes.len())
                    .filter(|&n| !first[n] && !closer[n] && arrival[n].is_some())
                    .collect(),
                &along,
            ),
            since_first: Duration::ZERO,
            since_previous: Duration::ZERO,
        },
    ];
    // Half as long again as MinLSArrival: the first wave's LSAs are older
    // than it everywhere by the time the cycles close.
    let quiet = longest * 3 / 2;
    let apart = longest * 3 / 10;
    for (i, colour) in colour_apart(lab.nodes.len(), &edges, &closer).into_iter().enumerate() {
        waves.push(Wave {
            nodes: colour,
            since_first: quiet,
            since_previous: if i == 0 { Duration::ZERO } else { apart },
        });
    }
    waves.retain(|w| !w.nodes.is_empty());
    waves
}

/// Each node's place in a depth-first walk of the spanning forest (nodes
/// near each other in the walk are near each other in the lab); nodes off
/// the forest come after it.
fn tree_order(nodes: usize, tree: &[Edge]) -> Vec<usize> {
    let mut place = vec![usize::MAX; nodes];
    let mut next = 0;
    for root in 0..nodes {
        if place[root] != usize::MAX || !tree.iter().any(|&(a, b)| a == root || b == root) {
            continue;
        }
        let mut stack = vec![root];
        while let Some(n) = stack.pop() {
            if place[n] != usize::MAX {
                continue;
            }
            place[n] = next;
            next += 1;
            for &(a, b) in tree.iter().rev() {
                match (a == n, b == n) {
                    (true, _) if place[b] == usize::MAX => stack.push(b),
                    (_, true) if place[a] == usize::MAX => stack.push(a),
                    _ => {}
                }
            }
        }
    }
    for p in place.iter_mut().filter(|p| **p == usize::MAX) {
        *p = next;
        next += 1;
    }
    place
}

/// `nodes` in an order of start that puts nodes near each other in the
/// lab (by `along`) far apart in time: the walk's order, taken by
/// bit-reversed index (0, 4, 2, 6, 1, 5, 3, 7 for eight). Started one
/// after another, neighbours would go Full in the same few milliseconds
/// ten seconds later, one's database exchange meeting the other's floods.
fn spread(mut nodes: Vec<usize>, along: &[usize]) -> Vec<usize> {
    nodes.sort_by_key(|&n| along[n]);
    let bits = usize::BITS - nodes.len().saturating_sub(1).leading_zeros();
    (0..1usize << bits)
        .map(|i| {
            if bits == 0 {
                i
            } else {
                i.reverse_bits() >> (usize::BITS - bits)
            }
        })
        .filter(|&i| i < nodes.len())
        .map(|i| nodes[i])
        .collect()
}

/// A node's MinLSArrival: None unless it runs OSPF (FRR's ospfd or
/// ospf6d, or a BIRD configuration with a `protocol ospf`); for FRR the
/// longest `timers lsa min-arrival MS` its configuration sets, or FRR's
/// default; BIRD's is fixed.
fn min_ls_arrival(node: &Node) -> Option<Duration> {
    let router = node.router.as_ref()?;
    if router.suite == RoutingSuite::Bird {
        let runs_ospf = router
            .config
            .lines()
            .any(|line| line.split_whitespace().take(2).eq(["protocol", "ospf"]));
        return runs_ospf.then_some(BIRD_MIN_LS_ARRIVAL);
    }
    if !router.daemons.iter().any(|d| d == "ospfd" || d == "ospf6d") {
        return None;
    }
    let set = router
        .config
        .lines()
        .filter_map(|line| match line.split_whitespace().collect::<Vec<_>>()[..] {
            ["timers", "lsa", "min-arrival", ms] => ms.parse::<u64>().ok(),
            _ => None,
        })
        .max();
    Some(set.map_or(FRR_MIN_LS_ARRIVAL, Duration::from_millis))
}

/// The links between two OSPF routers, as pairs of node indices (each
/// pair once, in the lab's order of links).
fn ospf_edges(lab: &Lab, arrival: &[Option<Duration>]) -> Vec<Edge> {
    let mut edges: Vec<Edge> = Vec::new();
    for link in &lab.links {
        let (a, b) = (link.ends[0].node, link.ends[1].node);
        let pair = (a.min(b), a.max(b));
        if a != b && arrival[a].is_some() && arrival[b].is_some() && !edges.contains(&pair) {
            edges.push(pair);
        }
    }
    edges
}

/// Splits `edges` into a spanning forest (taken in order) and the edges
/// that close a cycle with it.
fn spanning_forest(nodes: usize, edges: &[Edge]) -> (Vec<Edge>, Vec<Edge>) {
    let mut parent: Vec<usize> = (0..nodes).collect();
    fn root(parent: &mut [usize], mut n: usize) -> usize {
        while parent[n] != n {
            parent[n] = parent[parent[n]];
            n = parent[n];
        }
        n
    }
    let (mut tree, mut closing) = (Vec::new(), Vec::new());
    for &(a, b) in edges {
        let (ra, rb) = (root(&mut parent, a), root(&mut parent, b));
        if ra == rb {
            closing.push((a, b));
        } else {
            parent[ra] = rb;
            tree.push((a, b));
        }
    }
    (tree, closing)
}

/// The first wave's routers: every non-closer next to a closer (so that a
/// closer's tree neighbours run before it starts), and a greedy vertex
/// cover of the tree's links among the others (an end of every such link
/// starts first; the end with more links still uncovered is taken, the
/// later one on a tie).
fn first_wave(nodes: usize, tree: &[Edge], closer: &[bool]) -> Vec<bool> {
    let mut first = vec![false; nodes];
    for &(a, b) in tree {
        if closer[a] && !closer[b] {
            first[b] = true;
        }
        if closer[b] && !closer[a] {
            first[a] = true;
        }
    }
    let uncovered = |first: &[bool], n: usize| {
        tree.iter()
            .filter(|&&(a, b)| (a == n || b == n) && !closer[a] && !closer[b] && !first[a] && !first[b])
            .count()
    };
    for &(a, b) in tree {
        if closer[a] || closer[b] || first[a] || first[b] {
            continue;
        }
        let take = if uncovered(&first, a) > uncovered(&first, b) {
            a
        } else {
            b
        };
        first[take] = true;
    }
    first
}

/// The closers in groups of which no two share a link (greedy colouring
/// in the lab's order), the groups in order of their first node.
fn colour_apart(nodes: usize, edges: &[Edge], closer: &[bool]) -> Vec<Vec<usize>> {
    let mut colour: Vec<Option<usize>> = vec![None; nodes];
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for n in (0..nodes).filter(|&n| closer[n]) {
        let taken: Vec<usize> = edges
            .iter()
            .filter_map(|&(a, b)| match (a == n, b == n) {
                (true, _) => colour[b],
                (_, true) => colour[a],
                _ => None,
            })
            .collect();
        let c = (0..).find(|c| !taken.contains(c)).unwrap_or_default();
        if c == groups.len() {
            groups.push(Vec::new());
        }
        groups[c].push(n);
        colour[n] = Some(c);
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A lab of `routers` FRR routers r0.. (ospfd, `config` each) and
    /// hosts h0.., with veth links between the named pairs.
    fn lab(routers: usize, hosts: usize, config: &str, links: &[(&str, &str)]) -> Lab {
        let mut text = String::from("name: order\nnodes:\n");
        for name in (0..routers)
            .map(|r| format!("r{r}"))
            .chain((0..hosts).map(|h| format!("h{h}")))
        {
            text.push_str(&format!("  {name}: {{}}\n"));
        }
        text.push_str("links:\n");
        for (i, (a, b)) in links.iter().enumerate() {
            text.push_str(&format!("  - endpoints: [{a}:e{i}, {b}:e{i}]\n"));
        }
        let (mut lab, _) = crate::load::parse(std::path::Path::new("t.yaml"), &text).unwrap();
        for node in lab.nodes.iter_mut().filter(|n| n.name.starts_with('r')) {
            node.router = Some(crate::model::Router {
                suite: RoutingSuite::Frr,
                daemons: vec!["ospfd".into()],
                config: config.into(),
                at: (1, 1),
                config_at: None,
            });
        }
        lab
    }

    /// `waves`, each as its nodes' names.
    fn named(lab: &Lab, waves: &[Wave]) -> Vec<Vec<String>> {
        let names = |w: &Wave| w.nodes.iter().map(|&n| lab.nodes[n].name.clone()).collect();
        waves.iter().map(names).collect()
    }

    const DEFAULT: &str = "router ospf\n network 10.0.0.0/8 area 0\n";

    #[test]
    fn a_ring_closes_last_with_its_two_closers_apart() {
        let links = [
            ("r0", "r1"),
            ("r1", "r2"),
            ("r2", "r3"),
            ("r3", "r4"),
            ("r4", "r5"),
            ("r5", "r0"),
        ];
        let lab = lab(6, 1, DEFAULT, &links);
        let waves = waves(&lab);
        // r5-r0 closes the ring; r1 and r4 are next to the closers, r3
        // covers r2-r3 (a tie: the later end), and r2 starts after them.
        // The first wave in an order that starts neighbours apart.
        assert_eq!(
            named(&lab, &waves),
            [vec!["r1", "r4", "r3", "h0"], vec!["r2"], vec!["r0"], vec!["r5"]]
        );
        assert_eq!(waves[2].since_first, Duration::from_millis(1500));
        assert_eq!(waves[2].since_previous, Duration::ZERO);
        assert_eq!(waves[3].since_first, Duration::from_millis(1500));
        assert_eq!(waves[3].since_previous, Duration::from_millis(300));
    }

    #[test]
    fn every_link_of_the_tree_has_an_end_in_the_first_wave() {
        let links: Vec<(String, String)> = (0..40)
            .map(|i| (format!("r{i}"), format!("r{}", (i + 1) % 40)))
            .collect();
        let links: Vec<(&str, &str)> = links.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        let lab = lab(40, 0, DEFAULT, &links);
        let waves = waves(&lab);
        assert_eq!(waves.len(), 4);
        let first: Vec<usize> = waves[0].nodes.clone();
        let closers: Vec<usize> = waves[2..].iter().flat_map(|w| w.nodes.clone()).collect();
        assert_eq!(closers, [0, 39]);
        for i in 0..39 {
            let (a, b) = (i, i + 1);
            if closers.contains(&a) || closers.contains(&b) {
                continue;
            }
            assert!(first.contains(&a) || first.contains(&b), "r{a}-r{b} uncovered");
        }
        // No router waits for nothing: every one is in exactly one wave.
        let mut all: Vec<usize> = waves.iter().flat_map(|w| w.nodes.clone()).collect();
        all.sort_unstable();
        assert_eq!(all, (0..40).collect::<Vec<_>>());
        // The cover is about half the ring, not all of it.
        assert!(first.len() <= 21, "{first:?}");
    }

    #[test]
    fn neighbours_start_far_apart() {
        // A path 0-1-...-9 walked from 0: the bit-reversed order of ten.
        let tree: Vec<Edge> = (0..9).map(|i| (i, i + 1)).collect();
        let along = tree_order(10, &tree);
        assert_eq!(spread((0..10).collect(), &along), [0, 8, 4, 2, 6, 1, 9, 5, 3, 7]);
        // Each node once, whatever the count.
        for n in 0..40 {
            let mut order = spread((0..n).collect(), &tree_order(n, &[]));
            order.sort_unstable();
            assert_eq!(order, (0..n).collect::<Vec<_>>());
        }
    }

    #[test]
    fn a_tree_starts_at_once() {
        let lab = lab(4, 0, DEFAULT, &[("r0", "r1"), ("r1", "r2"), ("r1", "r3")]);
        assert_eq!(
            waves(&lab),
            [Wave {
                nodes: vec![0, 1, 2, 3],
                since_first: Duration::ZERO,
                since_previous: Duration::ZERO
            }]
        );
    }

    #[test]
    fn parallel_links_are_not_a_cycle() {
        let lab = lab(2, 0, DEFAULT, &[("r0", "r1"), ("r1", "r0")]);
        assert_eq!(waves(&lab).len(), 1);
    }

    #[test]
    fn no_min_ls_arrival_means_no_waiting() {
        let fast = "router ospf\n timers lsa min-arrival 0\n network 10.0.0.0/8 area 0\n";
        let lab = lab(3, 0, fast, &[("r0", "r1"), ("r1", "r2"), ("r2", "r0")]);
        assert_eq!(waves(&lab).len(), 1);
    }

    #[test]
    fn a_longer_min_ls_arrival_waits_longer() {
        let slow = "router ospf\n timers lsa min-arrival 2000\n";
        let lab = lab(3, 0, slow, &[("r0", "r1"), ("r1", "r2"), ("r2", "r0")]);
        let waves = waves(&lab);
        // r2-r0 closes the triangle; r1 is next to both closers.
        assert_eq!(named(&lab, &waves), [vec!["r1"], vec!["r0"], vec!["r2"]]);
        assert_eq!(waves[1].since_first, Duration::from_secs(3));
        assert_eq!(waves[2].since_previous, Duration::from_millis(600));
    }

    #[test]
    fn closers_that_share_no_link_start_together() {
        // Two triangles joined by r2-r3: closers r2, r0 and r5, r3.
        let links = [
            ("r0", "r1"),
            ("r1", "r2"),
            ("r2", "r0"),
            ("r2", "r3"),
            ("r3", "r4"),
            ("r4", "r5"),
            ("r5", "r3"),
        ];
        let lab = lab(6, 0, DEFAULT, &links);
        assert_eq!(
            named(&lab, &waves(&lab)),
            [vec!["r1", "r4"], vec!["r0", "r3"], vec!["r2", "r5"]]
        );
    }

    #[test]
    fn bird_counts_where_it_runs_ospf() {
        let triangle = [("r0", "r1"), ("r1", "r2"), ("r2", "r0")];
        let mut birds = lab(3, 0, DEFAULT, &triangle);
        for node in &mut birds.nodes {
            let router = node.router.as_mut().unwrap();
            router.suite = RoutingSuite::Bird;
            router.daemons.clear();
            router.config = "router id 10.0.0.1;\nprotocol ospf v2 {\n  area 0 { interface \"*\"; };\n}\n".into();
        }
        assert_eq!(waves(&birds).len(), 3);
        assert_eq!(waves(&birds)[1].since_first, Duration::from_millis(1500));
        // BGP only: nothing to order.
        for node in &mut birds.nodes {
            node.router.as_mut().unwrap().config = "protocol bgp { local as 1; neighbor 10.0.0.2 as 2; }\n".into();
        }
        assert_eq!(waves(&birds).len(), 1);
        // A host in the triangle breaks the routers' cycle.
        let mut broken = lab(3, 0, DEFAULT, &triangle);
        broken.nodes[2].router = None;
        assert_eq!(waves(&broken).len(), 1);
    }
}
