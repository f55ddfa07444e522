//! Routing daemons in lab nodes: FRR (zebra, staticd and the protocol
//! daemons a node names) and BIRD, the Debian packages, run in a container
//! node of the host view — no image, the host's binaries.
//!
//! A router node gets what the daemons expect of a host, private to it:
//! its configuration directory (`/etc/frr` or `/etc/bird`, from the lab's
//! state, owned by the daemons' user), their run directory (a tmpfs:
//! sockets, pid files), their log directory (the lab's state, so the log
//! outlives a crash and can be read from the host) and `/var/tmp` (every
//! FRR daemon writes `/var/tmp/frr/<daemon>.<pid>/` and nothing removes it:
//! a tmpfs of the node's own goes with its mount namespace). Everything
//! the daemons fork lives in the container's pid namespace: deleting the
//! container at `down` ends them all.
//!
//! The container's command is a start script: each daemon started in turn
//! (FRR's `-d` returns once the daemon is up, or with its error), FRR's
//! integrated configuration applied with `vtysh -b`, a marker written, and
//! then it waits. `up` waits for the marker, or for the script's end, whose
//! output (the daemons' own words) is the error.

use crate::model::{Router, RoutingSuite};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// Where Debian's frr package puts its daemons.
pub const FRR_DAEMONS_DIR: &str = "/usr/lib/frr";

/// FRR's protocol daemons that a node may name (zebra and staticd always
/// run).
pub const FRR_DAEMONS: [&str; 17] = [
    "bgpd", "ospfd", "ospf6d", "ripd", "ripngd", "isisd", "pimd", "ldpd", "nhrpd", "eigrpd", "babeld", "sharpd",
    "pbrd", "bfdd", "fabricd", "vrrpd", "pathd",
];

/// The marker the start script writes once every daemon runs, in the
/// node's log directory.
const STARTED_MARKER: &str = "nsbox-started";

impl RoutingSuite {
    pub fn name(self) -> &'static str {
        match self {
            RoutingSuite::Frr => "FRR",
            RoutingSuite::Bird => "BIRD",
        }
    }

    /// The Debian package that has the daemons.
    pub fn package(self) -> &'static str {
        match self {
            RoutingSuite::Frr => "frr",
            RoutingSuite::Bird => "bird2",
        }
    }

    /// The programs a node of this suite needs, by path.
    fn programs(self, daemons: &[String]) -> Vec<PathBuf> {
        match self {
            RoutingSuite::Frr => ["zebra", "staticd"]
                .iter()
                .map(|d| d.to_string())
                .chain(daemons.iter().cloned())
                .map(|d| Path::new(FRR_DAEMONS_DIR).join(d))
                .chain([PathBuf::from("/usr/bin/vtysh")])
                .collect(),
            RoutingSuite::Bird => vec![PathBuf::from("/usr/sbin/bird"), PathBuf::from("/usr/sbin/birdc")],
        }
    }

    /// The configuration directory, as the daemons look for it.
    fn config_dir(self) -> &'static str {
        match self {
            RoutingSuite::Frr => "/etc/frr",
            RoutingSuite::Bird => "/etc/bird",
        }
    }

    /// The run directory (sockets, pid files), as the daemons are built.
    fn run_dir(self) -> &'static str {
        match self {
            RoutingSuite::Frr => "/var/run/frr",
            RoutingSuite::Bird => "/run/bird",
        }
    }

    fn log_dir(self) -> &'static str {
        match self {
            RoutingSuite::Frr => "/var/log/frr",
            RoutingSuite::Bird => "/var/log/bird",
        }
    }

    /// The daemons' user and group, where the package made them.
    fn user(self) -> Option<(u32, u32)> {
        let name = match self {
            RoutingSuite::Frr => "frr",
            RoutingSuite::Bird => "bird",
        };
        let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
        passwd.lines().find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            (fields.first() == Some(&name) && fields.len() > 3)
                .then(|| Some((fields[2].parse().ok()?, fields[3].parse().ok()?)))
                .flatten()
        })
    }
}

/// Why the suite cannot run here: the first program missing, and the
/// package to install.
pub fn missing(suite: RoutingSuite, daemons: &[String]) -> Option<String> {
    let absent = suite.programs(daemons).into_iter().find(|p| !p.exists())?;
    Some(format!(
        "{} is not installed here ({} is missing): apt-get install {}",
        suite.name(),
        absent.display(),
        suite.package()
    ))
}

/// One complaint of a daemon's configuration check: the configuration's
/// line (and column) when it names one.
#[derive(Debug, PartialEq, Eq)]
pub struct Complaint {
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

/// The daemon's own check of `config` (FRR: `vtysh -C`, BIRD: `bird -p`),
/// without starting anything. Err: what it said, by line where it says.
pub fn check_config(suite: RoutingSuite, config: &str) -> Result<(), Vec<Complaint>> {
    use std::io::Write;
    let mut command = match suite {
        RoutingSuite::Frr => {
            let mut c = std::process::Command::new("/usr/bin/vtysh");
            c.args(["-C", "-f", "/dev/stdin"]);
            c
        }
        RoutingSuite::Bird => {
            let mut c = std::process::Command::new("/usr/sbin/bird");
            c.args(["-p", "-c", "/dev/stdin"]);
            c
        }
    };
    let one = |message: String| {
        vec![Complaint {
            line: None,
            column: None,
            message,
        }]
    };
    let mut child = command
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| one(format!("cannot run {}'s check: {e}", suite.name())))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A checker that stops reading early has said why on its output.
        let _ = stdin.write_all(config.as_bytes());
    }
    let out = child
        .wait_with_output()
        .map_err(|e| one(format!("{}'s check: {e}", suite.name())))?;
    if out.status.success() {
        return Ok(());
    }
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let complaints: Vec<Complaint> = said.lines().filter_map(|l| complaint(suite, l)).collect();
    if complaints.is_empty() {
        return Err(one(format!(
            "{} refused the configuration ({}): {}",
            suite.name(),
            out.status,
            said.trim()
        )));
    }
    Err(complaints)
}

/// A line of the checker's output as a complaint: FRR's `line 3: % Unknown
/// command[41]: ...`, BIRD's `bird: /dev/stdin:2:26 syntax error, ...`.
fn complaint(suite: RoutingSuite, line: &str) -> Option<Complaint> {
    let line = line.trim();
    if line.is_empty() {
        return None;
    }
    match suite {
        RoutingSuite::Frr => {
            let rest = line.strip_prefix("line ")?;
            let (number, message) = rest.split_once(':')?;
            Some(Complaint {
                line: number.trim().parse().ok(),
                column: None,
                message: format!("FRR: {}", message.trim()),
            })
        }
        RoutingSuite::Bird => {
            let rest = line.strip_prefix("bird: /dev/stdin:")?;
            let (place, message) = rest.split_once(' ')?;
            let mut numbers = place.split(':').map(|n| n.parse().ok());
            Some(Complaint {
                line: numbers.next().flatten(),
                column: numbers.next().flatten(),
                message: format!("BIRD: {}", message.trim()),
            })
        }
    }
}

/// The daemons' words about their configuration, with the lab file's
/// place beside the configuration's where it was written inline: FRR's
/// `line 2: ...`, BIRD's `bird: /etc/bird/bird.conf:7:59 ...`.
pub fn place_in_lab_file(router: &Router, said: &str) -> String {
    let Some((line1, column1)) = router.config_at else {
        return said.to_string();
    };
    said.lines()
        .map(|l| match config_place(router.suite, l) {
            Some((line, column)) => {
                let line = line1 + line - 1;
                match column {
                    Some(c) => format!("{l} (lab file line {line}, column {})", column1 + c - 1),
                    None => format!("{l} (lab file line {line})"),
                }
            }
            None => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The configuration's line (and column) a line of a daemon's output names.
fn config_place(suite: RoutingSuite, line: &str) -> Option<(u64, Option<u64>)> {
    match suite {
        RoutingSuite::Frr => {
            let (number, _) = line.trim().strip_prefix("line ")?.split_once(':')?;
            Some((number.parse().ok().filter(|n| *n > 0)?, None))
        }
        RoutingSuite::Bird => {
            let (place, _) = line
                .trim()
                .strip_prefix("bird: /etc/bird/bird.conf:")?
                .split_once(' ')?;
            let (number, column) = place.split_once(':').unwrap_or((place, ""));
            Some((
                number.parse().ok().filter(|n| *n > 0)?,
                column.parse().ok().filter(|c| *c > 0),
            ))
        }
    }
}

/// The node's directory in the lab's state: `etc` (the configuration) and
/// `log` (the daemons' logs, and the start marker).
pub struct NodeDirs {
    pub etc: PathBuf,
    pub log: PathBuf,
}

impl NodeDirs {
    pub fn of(routers: &Path, node: &str) -> NodeDirs {
        NodeDirs {
            etc: routers.join(node).join("etc"),
            log: routers.join(node).join("log"),
        }
    }

    pub fn started_marker(&self) -> PathBuf {
        self.log.join(STARTED_MARKER)
    }
}

/// Writes the node's configuration directory afresh (owned by the
/// daemons' user: FRR wants /etc/frr 0750 and its files 0640) and an empty
/// log directory.
pub fn prepare(router: &Router, dirs: &NodeDirs) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for dir in [&dirs.etc, &dirs.log] {
        match std::fs::remove_dir_all(dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        std::fs::create_dir_all(dir)?;
    }
    let files: Vec<(&str, String)> = match router.suite {
        RoutingSuite::Frr => vec![
            ("frr.conf", router.config.clone()),
            ("vtysh.conf", "service integrated-vtysh-config\n".into()),
        ],
        RoutingSuite::Bird => vec![("bird.conf", router.config.clone())],
    };
    let owner = router.suite.user();
    for (name, text) in &files {
        let path = dirs.etc.join(name);
        std::fs::write(&path, text)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640))?;
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(&path, Some(uid), Some(gid))?;
        }
    }
    std::fs::set_permissions(&dirs.etc, std::fs::Permissions::from_mode(0o750))?;
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::chown(&dirs.etc, Some(uid), Some(gid))?;
        std::os::unix::fs::chown(&dirs.log, Some(uid), Some(gid))?;
    }
    Ok(())
}

/// The mounts the node's container gets beside the host view's.
pub fn mounts(router: &Router, dirs: &NodeDirs) -> Vec<Value> {
    let suite = router.suite;
    let mut run_options = vec![
        "nosuid".to_string(),
        "nodev".into(),
        "noexec".into(),
        "mode=0755".into(),
    ];
    if let Some((uid, gid)) = suite.user() {
        run_options.extend([format!("uid={uid}"), format!("gid={gid}")]);
    }
    vec![
        json!({"destination": suite.config_dir(), "type": "bind", "source": dirs.etc, "options": ["rbind", "nosuid", "nodev"]}),
        json!({"destination": suite.log_dir(), "type": "bind", "source": dirs.log, "options": ["rbind", "nosuid", "nodev"]}),
        json!({"destination": suite.run_dir(), "type": "tmpfs", "source": "tmpfs",
               "options": run_options}),
        json!({"destination": "/var/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "mode=1777"]}),
    ]
}

/// The container's command: start the daemons, apply the configuration,
/// mark the start, wait.
pub fn start_script(router: &Router) -> String {
    let mut lines = vec!["set -e".to_string()];
    match router.suite {
        RoutingSuite::Frr => {
            for daemon in ["zebra", "staticd"]
                .iter()
                .copied()
                .chain(router.daemons.iter().map(String::as_str))
            {
                // -d returns once the daemon runs (or with its error); no
                // vty on TCP; the configuration comes from vtysh -b.
                lines.push(format!("{FRR_DAEMONS_DIR}/{daemon} -d -F traditional -P 0"));
            }
            lines.push("vtysh -b".into());
            // An interface that was up before the configuration came began
            // its OSPF wait with the default dead interval (40 s) whatever
            // the configuration says: start it again with the configured.
            if router.daemons.iter().any(|d| d == "ospfd") {
                lines.push("vtysh -c 'clear ip ospf interface'".into());
            }
            if router.daemons.iter().any(|d| d == "ospf6d") {
                lines.push("vtysh -c 'clear ipv6 ospf6 interface'".into());
            }
        }
        RoutingSuite::Bird => {
            let user = if RoutingSuite::Bird.user().is_some() {
                " -u bird -g bird"
            } else {
                ""
            };
            lines.push(format!(
                "/usr/sbin/bird -c /etc/bird/bird.conf -s /run/bird/bird.ctl -P /run/bird/bird.pid{user}"
            ));
        }
    }
    lines.push(format!(": > {}/{STARTED_MARKER}", router.suite.log_dir()));
    lines.push("exec sleep infinity".into());
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complaints_are_read_from_each_checker() {
        assert_eq!(
            complaint(
                RoutingSuite::Frr,
                "line 3: % Unknown command[41]:  netwrk 10.0.0.0/8 area 0"
            ),
            Some(Complaint {
                line: Some(3),
                column: None,
                message: "FRR: % Unknown command[41]:  netwrk 10.0.0.0/8 area 0".into()
            })
        );
        assert_eq!(
            complaint(
                RoutingSuite::Bird,
                "bird: /dev/stdin:2:26 syntax error, unexpected CF_SYM_UNDEFINED"
            ),
            Some(Complaint {
                line: Some(2),
                column: Some(26),
                message: "BIRD: syntax error, unexpected CF_SYM_UNDEFINED".into()
            })
        );
        assert_eq!(
            complaint(RoutingSuite::Frr, "Configuration file processing failure: 2"),
            None
        );
    }

    #[test]
    fn the_daemons_words_get_the_lab_file_s_place() {
        let mut router = Router {
            suite: RoutingSuite::Bird,
            daemons: Vec::new(),
            config: String::new(),
            at: (1, 1),
            config_at: Some((10, 9)),
        };
        assert_eq!(
            place_in_lab_file(
                &router,
                "bird: /etc/bird/bird.conf:7:59 Retransmit int must be greater than one"
            ),
            "bird: /etc/bird/bird.conf:7:59 Retransmit int must be greater than one (lab file line 16, column 67)"
        );
        router.suite = RoutingSuite::Frr;
        assert_eq!(
            place_in_lab_file(&router, "line 2: % Unknown command[41]: x\nZEBRA: notice"),
            "line 2: % Unknown command[41]: x (lab file line 11)\nZEBRA: notice"
        );
    }

    #[test]
    fn the_start_script_starts_zebra_first_and_marks_the_start() {
        let router = Router {
            suite: RoutingSuite::Frr,
            daemons: vec!["ospfd".into()],
            config: String::new(),
            at: (1, 1),
            config_at: None,
        };
        let script = start_script(&router);
        let zebra = script.find("/zebra -d").unwrap();
        let ospfd = script.find("/ospfd -d").unwrap();
        assert!(zebra < ospfd && script.contains("vtysh -b"), "{script}");
        assert!(
            script.ends_with(": > /var/log/frr/nsbox-started\nexec sleep infinity"),
            "{script}"
        );
    }
}
