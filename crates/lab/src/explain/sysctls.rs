//! What a node's sysctls decide: whether it forwards, and the TTL (hop
//! limit) it gives what it sends.

use super::*;
impl Walk<'_> {
    pub(super) fn forwarding(&mut self, node: usize, v6: bool) -> Result<bool, LabError> {
        let key = if v6 {
            "net.ipv6.conf.all.forwarding"
        } else {
            "net.ipv4.ip_forward"
        };
        Ok(self.sysctl(node, key, "reading its forwarding switch")?.trim() == "1")
    }

    /// The TTL (hop limit) that `node` gives the packets it sends to
    /// `destination`: its `ip_default_ttl`; for IPv6 the `hop_limit` of
    /// the interface the kernel sends them out of (the kernel reads the
    /// device's own; `conf.all.hop_limit` changes none that exists), 64
    /// unless changed.
    pub(super) fn initial_ttl(&mut self, node: usize, destination: IpAddr) -> Result<u32, LabError> {
        let key = if destination.is_ipv6() {
            let dev = self.nodes[node]
                .nl
                .route_get(destination)
                .ok()
                .and_then(|r| r.oif)
                .and_then(|oif| {
                    let links = self.nodes[node].nl.links().ok()?;
                    links.into_iter().find(|l| l.index == oif).map(|l| l.name)
                });
            match dev {
                Some(dev) => format!("net.ipv6.conf.{dev}.hop_limit"),
                None => "net.ipv6.conf.default.hop_limit".to_string(),
            }
        } else {
            "net.ipv4.ip_default_ttl".to_string()
        };
        let value = self.sysctl_named(node, key, "reading its default TTL")?;
        Ok(value.trim().parse().unwrap_or(DEFAULT_TTL))
    }

    pub(super) fn sysctl(&mut self, node: usize, key: &'static str, op: &'static str) -> Result<String, LabError> {
        self.sysctl_named(node, key.to_string(), op)
    }

    pub(super) fn sysctl_named(&mut self, node: usize, key: String, op: &'static str) -> Result<String, LabError> {
        let value = nsbox_ns::netns::run_in_fd(&self.nodes[node].fd, move || nsbox_net::sysctl::read(&key))?;
        let name = self.lab.nodes[node].name.clone();
        value.map_err(|source| LabError::Net { node: name, op, source })
    }
}
