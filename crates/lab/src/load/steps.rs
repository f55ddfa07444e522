//! Steps: the changes each makes (addresses, routes, rules, links made and
//! taken away, links set down and up, partitions, sysctls), waits and
//! commands, each checked against the lab as the steps before it left it.

use super::*;

impl Checker<'_> {
    /// What a step adds to or removes from `node`. Addresses change the
    /// node's interfaces as the rest of the file sees them: an added one
    /// before the change's routes are checked (a gateway may be on its
    /// subnet), a removed one after.
    pub(super) fn change(&mut self, lab: &Lab, node: usize, change: &Spanned<ChangeFile>, adding: bool) -> Change {
        let c = &change.value;
        let mut addresses = Vec::new();
        if adding {
            addresses = self.step_addresses(lab, node, &c.addresses, true);
        }
        let routes = c
            .routes
            .iter()
            .filter_map(|r| self.route_checked(lab, node, r, adding))
            .collect();
        if !adding {
            addresses = self.step_addresses(lab, node, &c.addresses, false);
        }
        Change {
            addresses,
            routes,
            rules: self.rules(&c.nat, &c.filter),
        }
    }

    /// `IFACE ADDRESS/PREFIX` of a step's `addresses`, checked against the
    /// node's interfaces as they are at this step (an address added must
    /// not be there yet, one removed must be), which they then change.
    fn step_addresses(&mut self, lab: &Lab, node: usize, texts: &[Text], adding: bool) -> Vec<(String, IpNet)> {
        let name = lab.nodes[node].name.clone();
        let mut out = Vec::new();
        for text in texts {
            let Some((iface, address)) = text.value.split_once(char::is_whitespace) else {
                self.error_at(
                    text.referenced,
                    format!(
                        "{:?}: give the interface and the address (eth0 10.0.9.1/24)",
                        text.value
                    ),
                );
                continue;
            };
            let address = Text {
                value: address.trim().to_string(),
                referenced: text.referenced,
                defined: text.defined,
            };
            let Some(address) = self.address(&address) else {
                continue;
            };
            if adding && self.address_taken(lab, text, address.addr()) {
                continue;
            }
            let interfaces = std::rc::Rc::make_mut(&mut self.interfaces[node]);
            let Some((_, on)) = interfaces.iter_mut().find(|(i, _)| i == iface) else {
                let known: Vec<String> = interfaces.iter().map(|(i, _)| i.clone()).collect();
                self.error_at(
                    text.referenced,
                    format!("node {name:?} has no interface {iface:?} (it has {})", known.join(", ")),
                );
                continue;
            };
            let there = on.iter().position(|a| *a == address);
            match (adding, there) {
                (true, None) => on.push(address),
                (false, Some(i)) => {
                    on.remove(i);
                }
                (true, Some(_)) => {
                    self.error_at(
                        text.referenced,
                        format!("{name}:{iface} has {address} already at this step"),
                    );
                    continue;
                }
                (false, None) => {
                    self.error_at(
                        text.referenced,
                        format!("{name}:{iface} has no address {address} at this step"),
                    );
                    continue;
                }
            }
            out.push((iface.to_string(), address));
        }
        out
    }

    /// A link a step makes: its ends named as the lab's are (`ethN`, the
    /// first free at this step, where the file names none), and added to
    /// the nodes' interfaces as the rest of the file sees them.
    fn connect(&mut self, lab: &Lab, link: &Spanned<SegmentFile>) -> Option<Link> {
        let l = &link.value;
        if l.rate.is_some() || l.delay.is_some() || l.loss.is_some() {
            self.error_at(
                link.referenced,
                "a step's link has no rate, delay or loss: give them to a link of the lab",
            );
            return None;
        }
        let mut link = self.link(lab, link)?;
        if link.ends[0].node == link.ends[1].node {
            self.error_at(l.endpoints[1].referenced, "a link joins two different nodes");
            return None;
        }
        let mut named = Vec::new();
        for (end, at) in link.ends.iter_mut().zip(&l.endpoints) {
            if end.addresses.iter().any(|a| self.address_taken(lab, at, a.addr())) {
                continue;
            }
            let interfaces = std::rc::Rc::make_mut(&mut self.interfaces[end.node]);
            if end.iface.is_empty() {
                end.iface = (0..)
                    .map(|k| format!("eth{k}"))
                    .find(|n| !interfaces.iter().any(|(i, _)| i == n))
                    .expect("some name is free");
            } else if interfaces.iter().any(|(i, _)| *i == end.iface) {
                let message = format!(
                    "node {:?} has an interface named {:?} already at this step",
                    lab.nodes[end.node].name, end.iface
                );
                self.error_at(at.referenced, message);
                continue;
            }
            interfaces.push((end.iface.clone(), end.addresses.clone()));
            named.push((end.node, end.iface.clone()));
        }
        if let [a, b] = named.as_slice() {
            let peers = self.peers(lab);
            peers.insert(a.clone(), b.clone());
            peers.insert(b.clone(), a.clone());
        }
        Some(link)
    }

    /// A link a step takes away, by one of its ends (not `lo`): both ends
    /// leave the nodes' interfaces, and the routes through them the file's
    /// view of the nodes (the kernel deletes them with the link).
    fn disconnect(&mut self, lab: &Lab, state: &mut [(Vec<Route>, Vec<Rule>)], text: &Text) -> Option<(usize, String)> {
        let (node, iface) = self.node_interface(lab, text)?;
        if iface == "lo" {
            self.error_at(text.referenced, "lo is no link: it cannot be disconnected");
            return None;
        }
        let peer = self.peers(lab).remove(&(node, iface.clone()));
        let mut ends = vec![(node, iface.clone())];
        if let Some(peer) = peer {
            self.peers(lab).remove(&peer);
            ends.push(peer);
        }
        for (n, i) in ends {
            std::rc::Rc::make_mut(&mut self.interfaces[n]).retain(|(name, _)| *name != i);
            self.downed.remove(&(n, i.clone()));
            let routes = &mut state[n].0;
            routes.retain(|r| r.dev.as_deref() != Some(i.as_str()));
            self.drop_stranded_routes(n, routes);
        }
        Some((node, iface))
    }

    /// Whether `address` is an interface's at this step already (an error
    /// at `at`, naming whose): probes and routes could not tell them apart.
    fn address_taken(&mut self, lab: &Lab, at: &Text, address: IpAddr) -> bool {
        let owner = self.interfaces.iter().enumerate().find_map(|(node, interfaces)| {
            interfaces
                .iter()
                .find(|(_, on)| on.iter().any(|a| a.addr() == address))
                .map(|(iface, _)| format!("{}:{iface}", lab.nodes[node].name))
        });
        if let Some(owner) = &owner {
            self.error_at(at.referenced, format!("{address} is {owner}'s already at this step"));
        }
        owner.is_some()
    }

    /// The peers of the lab's links, made at the first step that needs
    /// them; steps' links are added and taken away as they are read.
    fn peers(&mut self, lab: &Lab) -> &mut std::collections::BTreeMap<(usize, String), (usize, String)> {
        self.peers.get_or_insert_with(|| {
            lab.links
                .iter()
                .flat_map(|l| {
                    let [a, b] = &l.ends;
                    let (a, b) = ((a.node, a.iface.clone()), (b.node, b.iface.clone()));
                    [(a.clone(), b.clone()), (b, a)]
                })
                .collect()
        })
    }

    /// Forgets the routes of `node` whose gateway is no longer on one of
    /// its subnets: the kernel deletes them with the last address of the
    /// gateway's subnet.
    fn drop_stranded_routes(&self, node: usize, routes: &mut Vec<Route>) {
        routes.retain(|r| r.via.is_none_or(|gw| self.connected(node, gw, r.dev.as_deref())));
    }

    pub(super) fn step(
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
            disconnect: Vec::new(),
            connect: Vec::new(),
            partition: Vec::new(),
            heal: Vec::new(),
            links: Vec::new(),
            exec: Vec::new(),
            wait: None,
            sequential: s.sequential.as_ref().is_some_and(|s| s.value),
            expect: Vec::new(),
            counted: Vec::new(),
            route_checks: Vec::new(),
            converge: None,
            capture: Vec::new(),
        };
        if let Some(wait) = &s.wait {
            match parse_wait(&wait.value) {
                Ok(d) => out.wait = Some(d),
                Err(e) => self.error_at(wait.referenced, e),
            }
        }
        if let Some(converge) = &s.converge {
            match parse_wait(&converge.value).map_err(|e| e.replacen("wait", "converge", 1)) {
                Ok(d) => out.converge = Some(d),
                Err(e) => self.error_at(converge.referenced, e),
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
            if !c.addresses.is_empty() {
                self.drop_stranded_routes(node, routes);
            }
            out.remove.push((node, c));
        }
        for text in &s.disconnect {
            if let Some(end) = self.disconnect(lab, &mut state[..], text) {
                out.disconnect.push(end);
            }
        }
        for link in &s.connect {
            if let Some(link) = self.connect(lab, link) {
                out.connect.push(link);
            }
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
        // A link by one end stands for both of its ends.
        let mut ends: Vec<(&Text, bool, (usize, String))> = Vec::new();
        for (texts, up) in [(&s.down, false), (&s.up, true)] {
            for text in texts {
                if let Some(end) = self.node_interface(lab, text) {
                    ends.push((text, up, end));
                }
            }
        }
        for (texts, up) in [(&s.link_down, false), (&s.link_up, true)] {
            for text in texts {
                let Some(end) = self.node_interface(lab, text) else {
                    continue;
                };
                match self.peers(lab).get(&end).cloned() {
                    Some(peer) => {
                        ends.push((text, up, end));
                        ends.push((text, up, peer));
                    }
                    None => self.error_at(
                        text.referenced,
                        format!("{} is not an end of a link (a bridge's port: use down/up)", text.value),
                    ),
                }
            }
        }
        for (text, up, (node, iface)) in ends {
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
        for text in &s.capture {
            if let Some(end) = self.node_interface(lab, text) {
                if out.capture.contains(&end) {
                    self.error_at(
                        text.referenced,
                        format!("{} is captured already at this step", text.value),
                    );
                } else {
                    out.capture.push(end);
                }
            }
        }
        for command in &s.exec {
            if let Some(c) = self.step_command(lab, command) {
                out.exec.push(c);
            }
        }
        let routes: Vec<Vec<Route>> = state.iter().map(|(r, _)| r.clone()).collect();
        let rules: Vec<Vec<Rule>> = state.iter().map(|(_, r)| r.clone()).collect();
        (out.expect, out.counted, out.route_checks) = self.expects(lab, &routes, &rules, &s.expect);
        out
    }

    /// Those of `routes` that go out through `iface` of `node`: named as
    /// their device, or through a gateway on one of its subnets.
    pub(super) fn routes_through(&self, node: usize, iface: &str, routes: &[Route]) -> Vec<Route> {
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
    pub(super) fn node_interface(&mut self, lab: &Lab, text: &Text) -> Option<(usize, String)> {
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
    pub(super) fn step_command(&mut self, lab: &Lab, command: &Spanned<Vec<Text>>) -> Option<StepCommand> {
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
