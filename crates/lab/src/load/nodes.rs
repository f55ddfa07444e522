//! A node: its name, container, sysctls, rules and raw nftables block.

use super::*;

/// The switches `forwarding:` sets.
const FORWARDING_SYSCTLS: [&str; 2] = ["net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding"];

impl Checker<'_> {
    pub(super) fn node(&mut self, name: &Text, node: &Spanned<NodeFile>) -> Node {
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
            container_rootfs: None,
            container_binds: Vec::new(),
            router: None,
        };
        for command in n.run.iter().filter(|c| c.value.trim().is_empty()) {
            self.error_at(command.referenced, "an empty command: say what to run");
        }
        if let Some(container) = &n.container {
            self.container(&mut resolved, container);
        }
        self.router(&mut resolved, n);
        // A router forwards unless told not to; any other node does not
        // unless told to. Said either way, never left to the kernel: a new
        // namespace takes the host's IPv4 settings (with
        // `net.core.devconf_inherit_init_net` at its default, 0), so on a
        // host that forwards (any Docker or podman host) every node would
        // be born a router, and what `explain` reads off the file would
        // not be what the kernel does. A switch the node's own `sysctls:`
        // set is theirs; said in both places, the two must agree (the
        // kernel keeps the last written, `explain` and plans read one).
        let own = self.sysctls(&n.sysctls);
        let said = n.forwarding.as_ref().map(|f| f.value);
        let value = u8::from(said.unwrap_or(resolved.router.is_some())).to_string();
        for key in FORWARDING_SYSCTLS {
            match own.iter().find(|(k, _)| k == key) {
                None => resolved.sysctls.push((key.to_string(), value.clone())),
                Some((_, own_value)) if said.is_some() && own_value.trim() != value => {
                    let at = n
                        .sysctls
                        .0
                        .iter()
                        .find(|(k, _)| k.value == key)
                        .map(|(k, _)| k.referenced);
                    self.error_at(
                        at.unwrap_or(node.referenced),
                        format!(
                            "sysctl {key} = {own_value} contradicts `forwarding: {}`: say it in one place",
                            said.unwrap_or_default()
                        ),
                    );
                }
                Some(_) => {}
            }
        }
        resolved.sysctls.extend(own);
        resolved.rules = self.rules(&n.nat, &n.filter);
        resolved
    }

    /// A container node: its command becomes the node's first `run` command,
    /// run by nsbox's container runtime (see `services::start`).
    pub(super) fn container(&mut self, node: &mut Node, container: &Spanned<crate::file::ContainerFile>) {
        let c = &container.value;
        let hostname = c.hostname.as_ref().map_or(node.name.clone(), |h| h.value.clone());
        if hostname.is_empty() || hostname.len() > 64 || !is_plain_name(&hostname) {
            let at = c.hostname.as_ref().map_or(container.referenced, |h| h.referenced);
            self.error_at(
                at,
                format!("hostname {hostname:?}: use up to 64 letters, digits, '.', '_' or '-'"),
            );
        }
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
            node.container_rootfs = std::path::absolute(path).ok();
        }
        for bind in &c.binds {
            match parse_bind(&bind.value, &self.dir) {
                Ok(b) => node.container_binds.push(b),
                Err(e) => self.error_at(bind.referenced, e),
            }
        }
        node.run.insert(0, c.command.value.clone());
        node.container = Some(hostname);
    }

    pub(super) fn sysctls(&mut self, sysctls: &Ordered<Spanned<Scalar>>) -> Vec<(String, String)> {
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
    pub(super) fn probe_sysctls(&mut self) {
        if self.ask == AskKernel::No {
            return;
        }
        let mut seen = std::collections::HashSet::new();
        let tried: Vec<(String, String, Location)> = std::mem::take(&mut self.sysctls_at)
            .into_iter()
            .filter(|(k, v, _)| !(FORWARDING_SYSCTLS.contains(&k.as_str()) && (v == "0" || v == "1")))
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
    pub(super) fn nftables(&mut self, text: &Text) -> Option<crate::nft_block::NftBlock> {
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
    pub(super) fn check_rulesets(&mut self) {
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

    pub(super) fn rules(&mut self, nat: &[Text], filter: &[Text]) -> Vec<Rule> {
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
}

/// `SOURCE:DEST[:ro|:rw]`: SOURCE a host path that exists (relative to
/// `dir`, the lab file's), DEST an absolute path in the container.
pub(super) fn parse_bind(text: &str, dir: &std::path::Path) -> Result<crate::model::Bind, String> {
    let parts: Vec<&str> = text.split(':').collect();
    let (source, destination, readonly) = match parts[..] {
        [s, d] => (s, d, false),
        [s, d, "ro"] => (s, d, true),
        [s, d, "rw"] => (s, d, false),
        _ => return Err(format!("bind {text:?}: SOURCE:DEST, then :ro or :rw if you like")),
    };
    let source = dir.join(source);
    if !source.exists() {
        return Err(format!("bind {text:?}: {} does not exist", source.display()));
    }
    let destination = std::path::PathBuf::from(destination);
    if !destination.is_absolute() || destination.components().any(|c| c == std::path::Component::ParentDir) {
        return Err(format!(
            "bind {text:?}: the destination is an absolute path in the container, without '..'"
        ));
    }
    Ok(crate::model::Bind {
        source: std::path::absolute(&source).unwrap_or(source),
        destination,
        readonly,
    })
}
