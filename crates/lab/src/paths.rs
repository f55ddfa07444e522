//! Following a lab's routes as the file writes them, without a kernel:
//! enough to find a path that could never arrive within an echo's 64 hops
//! (a routing loop) before anything is brought up.

use crate::model::{Lab, Route};
use std::net::IpAddr;

/// Hops an echo may take (Linux's default TTL).
pub const MAX_HOPS: usize = 64;

/// Where following the routes ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Path {
    /// At the node that has the address, after so many hops.
    Arrives(usize),
    /// Somewhere with no route, or towards an address no node has: the
    /// kernel says why when it runs.
    Stops,
    /// Still going after [`MAX_HOPS`]: the nodes it went through.
    TooLong(Vec<usize>),
}

fn owner(lab: &Lab, address: IpAddr) -> Option<usize> {
    (0..lab.nodes.len()).find(|&n| {
        lab.interfaces(n)
            .iter()
            .any(|(_, addrs)| addrs.iter().any(|a| a.addr() == address))
    })
}

/// The next node from `node` towards `to`: the longest matching prefix
/// among its connected subnets and its routes `routes[node]`.
fn next(lab: &Lab, routes: &[Vec<Route>], node: usize, to: IpAddr) -> Option<usize> {
    let connected = lab
        .interfaces(node)
        .into_iter()
        .flat_map(|(_, addrs)| addrs)
        .filter(|a| a.trunc().contains(&to))
        .map(|a| (a.prefix_len(), to));
    let routed = routes[node]
        .iter()
        .filter(|r| r.destination.contains(&to))
        .map(|r| (r.destination.prefix_len(), r.via.unwrap_or(to)));
    // Connected subnets first among equals, as the kernel's own routes.
    let (_, hop) = connected
        .chain(routed)
        .fold(None, |best: Option<(u8, IpAddr)>, c| match best {
            Some(b) if b.0 >= c.0 => Some(b),
            _ => Some(c),
        })?;
    owner(lab, hop).filter(|&n| n != node)
}

/// Follows the routes from `from` to `to`.
pub fn follow(lab: &Lab, routes: &[Vec<Route>], from: usize, to: IpAddr) -> Path {
    let Some(target) = owner(lab, to) else {
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
    while at != target {
        if visited.len() > MAX_HOPS {
            return Path::TooLong(visited);
        }
        // A host drops what is not for it: only routers pass packets on.
        if visited.len() > 1 && !forwards(at) {
            return Path::Stops;
        }
        match next(lab, routes, at, to) {
            Some(n) => {
                at = n;
                visited.push(n);
            }
            None => return Path::Stops,
        }
    }
    Path::Arrives(visited.len() - 1)
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
        assert_eq!(follow(&lab, &routes, 0, "2.2.2.2".parse().unwrap()), Path::Arrives(2));
        assert_eq!(
            follow(&lab, &routes, 2, "1.1.1.1".parse().unwrap()),
            Path::Stops,
            "no route back"
        );
        assert_eq!(follow(&lab, &routes, 0, "9.9.9.9".parse().unwrap()), Path::Stops);
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
        let Path::TooLong(visited) = follow(&looping, &routes, 0, "10.9.0.1".parse().unwrap()) else {
            panic!("a loop");
        };
        assert_eq!(&visited[..4], [0, 1, 0, 1]);
        let host = lab(&text.replace("  b: {forwarding: true,", "  b: {"));
        assert_eq!(follow(&host, &routes, 0, "10.9.0.1".parse().unwrap()), Path::Stops);
    }
}
