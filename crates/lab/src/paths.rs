//! Following a lab's routes as the file writes them, without a kernel:
//! enough to find a routing loop (a packet that comes back to a node it
//! has passed, towards the same destination, and so would circle until its
//! TTL runs out) before anything is brought up.
//!
//! A long path is not a loop: a chain of more than 64 routers is
//! legitimate (with a larger TTL on its hosts), and an expectation of "time
//! to live exceeded" there is exactly what a user tests; the kernel's TTL
//! judges length when the lab runs.

use crate::model::{Lab, Route, RouteKind};
use ipnet::IpNet;
use std::collections::HashMap;
use std::net::IpAddr;

/// Where following the routes ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Path {
    /// At the node that has the address, after so many hops.
    Arrives(usize),
    /// Somewhere with no route, or towards an address no node has: the
    /// kernel says why when it runs.
    Stops,
    /// Back at a node it passed: the nodes it went through, the repeated
    /// one last.
    Loops(Vec<usize>),
}

/// What following routes needs to know of a lab, looked up once: which
/// node has each address, and each node's connected subnets. (Asking the
/// lab each time made checking 90 000 expectations of a 300-node lab take
/// seconds.)
pub struct Topology {
    owners: HashMap<IpAddr, usize>,
    connected: Vec<Vec<IpNet>>,
}

impl Topology {
    pub fn new(lab: &Lab) -> Self {
        let mut owners = HashMap::new();
        let mut connected = Vec::with_capacity(lab.nodes.len());
        for n in 0..lab.nodes.len() {
            let addresses: Vec<IpNet> = lab.interfaces(n).into_iter().flat_map(|(_, a)| a).collect();
            for a in &addresses {
                owners.entry(a.addr()).or_insert(n);
            }
            connected.push(addresses);
        }
        Topology { owners, connected }
    }

    fn owner(&self, address: IpAddr) -> Option<usize> {
        self.owners.get(&address).copied()
    }

    /// The next node from `node` towards `to`: the longest matching prefix
    /// among its connected subnets and its routes `routes[node]`.
    fn next(&self, routes: &[Vec<Route>], node: usize, to: IpAddr) -> Option<usize> {
        let connected = self.connected[node]
            .iter()
            .filter(|a| a.trunc().contains(&to))
            .map(|a| (a.prefix_len(), Some(to)));
        // A route of a refusing type (blackhole...) ends the way: no hop.
        let routed = routes[node].iter().filter(|r| r.destination.contains(&to)).map(|r| {
            (
                r.destination.prefix_len(),
                (r.kind == RouteKind::Unicast).then(|| r.via.unwrap_or(to)),
            )
        });
        // Connected subnets first among equals, as the kernel's own routes.
        let (_, hop) = connected
            .chain(routed)
            .fold(None, |best: Option<(u8, Option<IpAddr>)>, c| match best {
                Some(b) if b.0 >= c.0 => Some(b),
                _ => Some(c),
            })?;
        self.owner(hop?).filter(|&n| n != node)
    }

    /// Follows the routes from `from` to `to`.
    pub fn follow(&self, lab: &Lab, routes: &[Vec<Route>], from: usize, to: IpAddr) -> Path {
        let Some(target) = self.owner(to) else {
            return Path::Stops;
        };
        let key = if to.is_ipv4() {
            "net.ipv4.ip_forward"
        } else {
            "net.ipv6.conf.all.forwarding"
        };
        let forwards = |n: usize| lab.nodes[n].sysctls.iter().any(|(k, v)| k == key && v == "1");
        let mut at = from;
        let mut visited = vec![from];
        let mut seen = vec![false; lab.nodes.len()];
        seen[from] = true;
        while at != target {
            // A host drops what is not for it: only routers pass packets on.
            if visited.len() > 1 && !forwards(at) {
                return Path::Stops;
            }
            // Routing depends on the destination alone here, so a router
            // passed twice is passed forever.
            if visited.len() > 1 && std::mem::replace(&mut seen[at], true) {
                return Path::Loops(visited);
            }
            match self.next(routes, at, to) {
                Some(n) => {
                    at = n;
                    visited.push(n);
                }
                None => return Path::Stops,
            }
        }
        Path::Arrives(visited.len() - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lab(text: &str) -> Lab {
        crate::load::parse(std::path::Path::new("t.yaml"), text).unwrap().0
    }

    #[test]
    fn the_seed_lab_after_s8_takes_two_hops() {
        let lab = lab("name: t
nodes:
  server: {lo: [1.1.1.1/24], routes: [default via 10.0.1.1]}
  router: {forwarding: true, routes: [2.2.2.0/24 via 10.0.2.2]}
  client: {lo: [2.2.2.2/24]}
links:
  - endpoints: [server 10.0.1.2/24, router 10.0.1.1/24]
  - endpoints: [client 10.0.2.2/24, router 10.0.2.1/24]
");
        let routes: Vec<Vec<Route>> = lab.nodes.iter().map(|n| n.routes.clone()).collect();
        let topology = Topology::new(&lab);
        let follow = |from, to: &str| topology.follow(&lab, &routes, from, to.parse().unwrap());
        assert_eq!(follow(0, "2.2.2.2"), Path::Arrives(2));
        assert_eq!(follow(2, "1.1.1.1"), Path::Stops, "no route back");
        assert_eq!(follow(0, "9.9.9.9"), Path::Stops);
    }

    #[test]
    fn two_routers_pointing_at_each_other_loop_and_a_host_stops_it() {
        let text = "name: t
nodes:
  a: {forwarding: true, routes: [10.9.0.0/16 via 10.0.0.2]}
  b: {forwarding: true, routes: [10.9.0.0/16 via 10.0.0.1]}
  c: {lo: [10.9.0.1/32]}
links:
  - endpoints: [a 10.0.0.1/24, b 10.0.0.2/24]
";
        let looping = lab(text);
        let routes: Vec<Vec<Route>> = looping.nodes.iter().map(|n| n.routes.clone()).collect();
        let to = "10.9.0.1".parse().unwrap();
        let Path::Loops(visited) = Topology::new(&looping).follow(&looping, &routes, 0, to) else {
            panic!("a loop");
        };
        assert_eq!(visited, [0, 1, 0]);
        let host = lab(&text.replace("  b: {forwarding: true,", "  b: {"));
        assert_eq!(Topology::new(&host).follow(&host, &routes, 0, to), Path::Stops);
    }

    #[test]
    fn a_refusing_route_ends_the_way_where_it_matches() {
        // b would send 10.9.0.1 back to a (a loop) but for its more
        // specific blackhole.
        let text = "name: t
nodes:
  a: {forwarding: true, routes: [10.9.0.0/16 via 10.0.0.2]}
  b: {forwarding: true, routes: [10.9.0.0/16 via 10.0.0.1, blackhole 10.9.0.0/24]}
  c: {lo: [10.9.0.1/32, 10.9.1.1/32]}
links:
  - endpoints: [a 10.0.0.1/24, b 10.0.0.2/24]
";
        let lab = lab(text);
        let routes: Vec<Vec<Route>> = lab.nodes.iter().map(|n| n.routes.clone()).collect();
        let follow = |to: &str| Topology::new(&lab).follow(&lab, &routes, 0, to.parse().unwrap());
        assert_eq!(follow("10.9.0.1"), Path::Stops);
        assert!(matches!(follow("10.9.1.1"), Path::Loops(_)), "outside the blackhole");
    }

    #[test]
    fn a_chain_longer_than_64_hops_is_not_a_loop() {
        let mut text = String::from("name: t\nnodes:\n");
        let n = 80;
        for i in 0..n {
            // Each router's way on is its right-hand neighbour; the last
            // one's is the far host.
            let next = if i + 1 < n {
                format!("10.{i}.0.2")
            } else {
                "10.250.0.2".into()
            };
            text.push_str(&format!(
                "  r{i}: {{forwarding: true, routes: [10.255.0.0/16 via {next}]}}\n"
            ));
        }
        text.push_str("  far: {lo: [10.255.0.1/32]}\nlinks:\n");
        for i in 0..n - 1 {
            text.push_str(&format!(
                "  - endpoints: [r{i} 10.{i}.0.1/30, r{} 10.{i}.0.2/30]\n",
                i + 1
            ));
        }
        text.push_str(&format!(
            "  - endpoints: [r{} 10.250.0.1/30, far 10.250.0.2/30]\n",
            n - 1
        ));
        let chain = lab(&text);
        let routes: Vec<Vec<Route>> = chain.nodes.iter().map(|n| n.routes.clone()).collect();
        let path = Topology::new(&chain).follow(&chain, &routes, 0, "10.255.0.1".parse().unwrap());
        assert_eq!(path, Path::Arrives(n));
    }
}
