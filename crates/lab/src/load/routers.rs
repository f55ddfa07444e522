//! A router node (`frr:` or `bird:`): the daemons named, the configuration
//! read (inline, or a file beside the lab file), the packages present; in
//! `validate`, the configuration given to the daemon's own check, its
//! complaints placed in the lab file.

use super::*;
use crate::file::NodeFile;
use crate::model::{Router, RoutingSuite};
use crate::nft_block::NftBlock;
use crate::routers::{check_configs, missing, FRR_DAEMONS};

/// A router's configuration and where it is written, for the daemon's
/// check.
pub(super) struct WrittenConfig {
    suite: RoutingSuite,
    text: String,
    /// The inline text's place (its lines are the file's), or the file
    /// it was read from and where the lab file names it.
    place: ConfigPlace,
}

enum ConfigPlace {
    Inline(NftBlock),
    File(String, Location),
}

impl Checker<'_> {
    /// Makes `node` a router when its file says `frr:` or `bird:`: a
    /// container node of the host view whose command starts the daemons.
    pub(super) fn router(&mut self, node: &mut Node, file: &NodeFile) {
        let (suite, at, daemons, config) = match (&file.frr, &file.bird) {
            (None, None) => return,
            (Some(_), Some(bird)) => {
                self.error_at(bird.referenced, "a node runs FRR or BIRD, not both");
                return;
            }
            (Some(frr), None) => (
                RoutingSuite::Frr,
                frr.referenced,
                &frr.value.daemons[..],
                &frr.value.config,
            ),
            (None, Some(bird)) => (RoutingSuite::Bird, bird.referenced, &[][..], &bird.value.config),
        };
        if let Some(container) = &file.container {
            self.error_at(
                container.referenced,
                format!(
                    "a router node is a container of its own ({} runs in it): leave container out",
                    suite.name()
                ),
            );
            return;
        }
        let mut names: Vec<String> = Vec::new();
        for daemon in daemons {
            let name = &daemon.value;
            if name == "zebra" {
                self.warn_at(daemon.referenced, format!("{name} always runs: leave it out"));
            } else if !FRR_DAEMONS.contains(&name.as_str()) {
                self.error_at(
                    daemon.referenced,
                    format!(
                        "unknown FRR daemon {:?}: FRR's are {}",
                        crate::model::cut_for_display(name),
                        FRR_DAEMONS.join(", ")
                    ),
                );
            } else if names.contains(name) {
                self.error_at(daemon.referenced, format!("{name} is named twice"));
            } else {
                names.push(name.clone());
            }
        }
        if let Some(why) = missing(suite, &names) {
            self.error_at(at, format!("node {}: {why}", node.name));
        }
        let Some((text, config_at)) = self.router_config(suite, config) else {
            return;
        };
        node.run.insert(0, String::new());
        let router = Router {
            suite,
            daemons: names,
            config: text,
            at: (at.line(), at.column()),
            config_at,
        };
        node.run[0] = crate::routers::start_script(&router);
        node.container = Some(node.name.clone());
        node.router = Some(router);
    }

    /// The configuration's text: inline (more than one line), or the file
    /// it names, relative to the lab file.
    /// With the place of an inline text's first line in the lab file.
    fn router_config(&mut self, suite: RoutingSuite, config: &Text) -> Option<(String, Option<(u64, u64)>)> {
        let value = &config.value;
        if value.contains('\n') {
            let block = NftBlock::new(
                value.clone(),
                self.source,
                config.referenced.line(),
                config.referenced.column(),
            );
            let first = block.place(Some(1), Some(1));
            self.router_configs.push(WrittenConfig {
                suite,
                text: value.clone(),
                place: ConfigPlace::Inline(block),
            });
            return Some((value.clone(), Some(first)));
        }
        let path = self.dir.join(value.trim());
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                self.router_configs.push(WrittenConfig {
                    suite,
                    text: text.clone(),
                    place: ConfigPlace::File(value.trim().to_string(), config.referenced),
                });
                Some((text, None))
            }
            Err(e) => {
                self.error_at(
                    config.referenced,
                    format!(
                        "cannot read {} (the configuration, relative to the lab file; write it inline with `config: |` instead): {}",
                        path.display(),
                        nsbox_sys::errno::describe(&e)
                    ),
                );
                None
            }
        }
    }

    /// Gives each router's configuration to its daemon's own check, all of
    /// them side by side: FRR's always (its daemons pass over a line that
    /// is no daemon's, so only `vtysh -C` tells), BIRD's when asked to
    /// (`validate`: at `up`, bird refuses its configuration itself). What
    /// the daemon refuses is placed at its line of the lab file (or of the
    /// file named).
    pub(super) fn check_router_configs(&mut self) {
        let written: Vec<WrittenConfig> = std::mem::take(&mut self.router_configs)
            .into_iter()
            .filter(|w| self.check_routers && (w.suite == RoutingSuite::Frr || self.ask == AskKernel::Yes))
            .filter(|w| missing(w.suite, &[]).is_none())
            .collect();
        let configs: Vec<(RoutingSuite, &str)> = written.iter().map(|w| (w.suite, w.text.as_str())).collect();
        let results = check_configs(&configs);
        for (written, result) in written.iter().zip(results) {
            let Err(complaints) = result else {
                continue;
            };
            for c in complaints {
                match &written.place {
                    ConfigPlace::Inline(block) => {
                        let (line, column) = block.place(c.line, c.column);
                        self.push_at(line, column, c.message, false);
                    }
                    ConfigPlace::File(name, at) => {
                        let place = match (c.line, c.column) {
                            (Some(l), Some(col)) => format!("{name}:{l}:{col}: "),
                            (Some(l), None) => format!("{name}:{l}: "),
                            _ => format!("{name}: "),
                        };
                        self.error_at(*at, format!("{place}{}", c.message));
                    }
                }
            }
        }
    }
}
