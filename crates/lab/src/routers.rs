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
//! (FRR's `-d` returns once the daemon is up, or with its error; each reads
//! FRR's integrated configuration), a marker written, and then it waits.
//! `up` waits for the marker, or for the script's end, whose output (the
//! daemons' own words) is the error. FRR's daemons pass over what is not
//! theirs in that file, mistakes included: every configuration is given to
//! `vtysh -C` first (all of a lab's at once), before anything is made.

use crate::model::{Router, RoutingSuite};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The FRR daemons a router runs, in the order they start: mgmtd where
/// FRR has it (9.0 on), zebra, staticd where the configuration has static
/// routes (a daemon less per router otherwise), then the node's.
fn frr_daemons(router: &Router) -> Vec<&str> {
    let mut daemons = Vec::new();
    if Path::new(FRR_DAEMONS_DIR).join("mgmtd").exists() {
        daemons.push("mgmtd");
    }
    daemons.push("zebra");
    let static_routes = router.config.lines().any(|l| {
        let l = l.trim_start();
        l.starts_with("ip route ") || l.starts_with("ipv6 route ")
    });
    if static_routes && !router.daemons.iter().any(|d| d == "staticd") {
        daemons.push("staticd");
    }
    daemons.extend(router.daemons.iter().map(String::as_str));
    daemons
}

/// Where Debian's frr package puts its daemons.
pub const FRR_DAEMONS_DIR: &str = "/usr/lib/frr";

/// FRR's protocol daemons that a node may name (zebra always runs, and
/// staticd where there are static routes).
pub const FRR_DAEMONS: [&str; 18] = [
    "staticd", "bgpd", "ospfd", "ospf6d", "ripd", "ripngd", "isisd", "pimd", "ldpd", "nhrpd", "eigrpd", "babeld",
    "sharpd", "pbrd", "bfdd", "fabricd", "vrrpd", "pathd",
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

    /// The daemons' user and group, where the package made them (read
    /// once: every router of a lab asks several times).
    fn user(self) -> Option<(u32, u32)> {
        static FRR: OnceLock<Option<(u32, u32)>> = OnceLock::new();
        static BIRD: OnceLock<Option<(u32, u32)>> = OnceLock::new();
        let (cell, name) = match self {
            RoutingSuite::Frr => (&FRR, "frr"),
            RoutingSuite::Bird => (&BIRD, "bird"),
        };
        *cell.get_or_init(|| {
            let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
            passwd.lines().find_map(|line| {
                let fields: Vec<&str> = line.split(':').collect();
                (fields.first() == Some(&name) && fields.len() > 3)
                    .then(|| Some((fields[2].parse().ok()?, fields[3].parse().ok()?)))
                    .flatten()
            })
        })
    }
}

/// Why the suite cannot run here: the first program missing, and the
/// package to install.
pub fn missing(suite: RoutingSuite, daemons: &[String]) -> Option<String> {
    missing_under(Path::new("/"), suite, daemons)
}

/// [`missing`] on a host whose root is `root` (tests).
fn missing_under(root: &Path, suite: RoutingSuite, daemons: &[String]) -> Option<String> {
    let absent = suite
        .programs(daemons)
        .into_iter()
        .find(|p| !root.join(p.strip_prefix("/").unwrap_or(p)).exists())?;
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

/// The daemon's own check of each configuration (FRR: `vtysh -C`, BIRD:
/// `bird -p`), without starting anything. Err: what the daemon said, by
/// line where it says. FRR's are checked by one vtysh together (see
/// [`check_frr_together`]); the others side by side, a process each.
pub fn check_configs(configs: &[(RoutingSuite, &str)]) -> Vec<Result<(), Vec<Complaint>>> {
    // The configurations go to the checkers through pipes they may close.
    let _sigpipe = nsbox_sys::signal::SigpipeIgnored::new();
    let frr: Vec<usize> = (0..configs.len())
        .filter(|&i| configs[i].0 == RoutingSuite::Frr)
        .collect();
    let texts: Vec<&str> = frr.iter().map(|&i| configs[i].1).collect();
    let mut results = match check_frr_together(&texts) {
        Some(together) => {
            let mut results = check_apart(
                &configs
                    .iter()
                    .map(|&(suite, text)| (suite, if suite == RoutingSuite::Frr { "" } else { text }))
                    .collect::<Vec<_>>(),
            );
            for (&i, result) in frr.iter().zip(together) {
                results[i] = result;
            }
            results
        }
        None => check_apart(configs),
    };
    results.truncate(configs.len());
    results
}

/// Checks FRR configurations with one `vtysh -C` (a hundred routers' in
/// 30 ms, against 28 ms of CPU for each alone): the configurations one
/// after another, each followed by a line that brings the parser back to
/// the top (`interface` from any node, then `exit`) and a canary line that
/// vtysh must refuse. Each complaint is given back to its configuration at
/// its own line. A configuration that leaves the parser where nothing is
/// checked any more (enough `exit`s) silences the canaries after it: then
/// None, and each is checked alone.
fn check_frr_together(configs: &[&str]) -> Option<Vec<Result<(), Vec<Complaint>>>> {
    if configs.len() < 2 {
        return None;
    }
    let mut batch = String::new();
    // Per configuration: its first line in the batch, its line count, and
    // its canary's line.
    let mut spans = Vec::new();
    let mut line = 1usize;
    for config in configs {
        let count = config.lines().count();
        batch.push_str(config);
        if !config.ends_with('\n') && !config.is_empty() {
            batch.push('\n');
        }
        batch.push_str("interface nsbox-config-check\nexit\nnsbox-canary\n");
        spans.push((line, count, line + count + 2));
        line += count + 3;
    }
    let child = start_check(RoutingSuite::Frr, &batch).ok()?;
    let said = match finish_check(RoutingSuite::Frr, child) {
        Ok(()) => return None, // the canaries were not refused: not vtysh as known
        Err(complaints) => complaints,
    };
    let mut results: Vec<Vec<Complaint>> = (0..configs.len()).map(|_| Vec::new()).collect();
    let mut canaries = 0;
    for c in said {
        let at = c.line?;
        let i = spans
            .iter()
            .position(|&(first, _, canary)| (first..=canary).contains(&at))?;
        let (first, count, canary) = spans[i];
        if at == canary {
            canaries += 1;
        } else if at < first + count {
            results[i].push(Complaint {
                line: Some(at - first + 1),
                ..c
            });
        } else {
            return None; // the reset lines were refused: not as known
        }
    }
    (canaries == configs.len()).then(|| {
        results
            .into_iter()
            .map(|r| if r.is_empty() { Ok(()) } else { Err(r) })
            .collect()
    })
}

/// Each configuration checked by a process of its own, side by side (an
/// empty text is not checked).
fn check_apart(configs: &[(RoutingSuite, &str)]) -> Vec<Result<(), Vec<Complaint>>> {
    let parallel = std::thread::available_parallelism().map_or(2, |n| n.get()) * 2;
    let mut results: Vec<Option<Result<(), Vec<Complaint>>>> = (0..configs.len()).map(|_| None).collect();
    let mut running: std::collections::VecDeque<(usize, Checking)> = Default::default();
    for (i, (suite, config)) in configs.iter().enumerate() {
        if config.is_empty() {
            results[i] = Some(Ok(()));
            continue;
        }
        if running.len() >= parallel {
            if let Some((j, child)) = running.pop_front() {
                results[j] = Some(finish_check(configs[j].0, child));
            }
        }
        match start_check(*suite, config) {
            Ok(child) => running.push_back((i, child)),
            Err(e) => results[i] = Some(Err(e)),
        }
    }
    for (j, child) in running {
        results[j] = Some(finish_check(configs[j].0, child));
    }
    results.into_iter().map(|r| r.unwrap_or(Ok(()))).collect()
}

fn one(message: String) -> Vec<Complaint> {
    vec![Complaint {
        line: None,
        column: None,
        message,
    }]
}

/// A checker running: the process, and the thread writing its stdin.
struct Checking {
    child: std::process::Child,
    writing: Option<std::thread::JoinHandle<()>>,
}

/// The checker, started with `config` on its stdin.
fn start_check(suite: RoutingSuite, config: &str) -> Result<Checking, Vec<Complaint>> {
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
    let mut child = command
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| one(format!("cannot run {}'s check: {e}", suite.name())))?;
    let writing = child.stdin.take().map(|mut stdin| {
        // From a thread of its own: a configuration larger than a pipe
        // must not wait for a checker whose own output fills its pipe
        // before anyone reads it. A checker that stops reading early has
        // said why on its output, and the write fails with EPIPE: nsbox
        // dies of SIGPIPE otherwise (see `check_configs`).
        let config = config.as_bytes().to_vec();
        std::thread::spawn(move || {
            let _ = stdin.write_all(&config);
        })
    });
    Ok(Checking { child, writing })
}

/// What the checker said, once it has ended.
fn finish_check(suite: RoutingSuite, checking: Checking) -> Result<(), Vec<Complaint>> {
    let out = checking.child.wait_with_output();
    // Done writing before SIGPIPE may be back at its default.
    if let Some(writing) = checking.writing {
        let _ = writing.join();
    }
    let out = out.map_err(|e| one(format!("{}'s check: {e}", suite.name())))?;
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
            for daemon in frr_daemons(router) {
                // -d returns once the daemon runs (or with its error); no
                // vty on TCP. Each daemon reads the integrated file and
                // keeps what is its own, as at a router's boot: its timers
                // hold from the first packet (`vtysh -b` afterwards would
                // start OSPF's wait with the default dead interval). What
                // no daemon knows was refused before: see `check_configs`.
                lines.push(format!(
                    "{FRR_DAEMONS_DIR}/{daemon} -d -F traditional -P 0 -f /etc/frr/frr.conf"
                ));
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
    fn frr_configurations_checked_together_keep_their_own_lines() {
        if !Path::new("/usr/bin/vtysh").exists() {
            eprintln!("SKIPPED: FRR is not installed (scripts/install-deps.sh installs it)");
            return;
        }
        let good = "router ospf\n network 10.0.0.0/8 area 0\n";
        let bad = "hostname b\nrouter ospf\n netwrk 10.0.0.0/8 area 0\n";
        // Ends inside a sub-node: the next one must still start at the top.
        let open = "router bgp 1\n address-family ipv4 unicast\n";
        let starts_inside = " network 10.9.0.0/16 area 0\n";
        let configs = [good, bad, open, starts_inside, good];
        let together = check_frr_together(&configs).expect("checked together");
        let apart = check_apart(&configs.iter().map(|c| (RoutingSuite::Frr, *c)).collect::<Vec<_>>());
        assert_eq!(together, apart);
        assert!(
            together[0].is_ok() && together[2].is_ok() && together[4].is_ok(),
            "{together:?}"
        );
        assert_eq!(together[1].as_ref().unwrap_err()[0].line, Some(3));
        assert_eq!(together[3].as_ref().unwrap_err()[0].line, Some(1));
        // Enough exits leave vtysh checking nothing: each is checked alone.
        let gone = "router ospf\nexit\nexit\nexit\nexit\n";
        assert_eq!(check_frr_together(&[gone, bad]), None);
        let results = check_configs(&[(RoutingSuite::Frr, gone), (RoutingSuite::Frr, bad)]);
        assert!(results[0].is_ok() && results[1].is_err(), "{results:?}");
    }

    #[test]
    fn a_missing_package_is_named() {
        let empty = tempfile::tempdir().unwrap();
        assert_eq!(
            missing_under(empty.path(), RoutingSuite::Frr, &["ospfd".into()]).as_deref(),
            Some("FRR is not installed here (/usr/lib/frr/zebra is missing): apt-get install frr")
        );
        assert_eq!(
            missing_under(empty.path(), RoutingSuite::Bird, &[]).as_deref(),
            Some("BIRD is not installed here (/usr/sbin/bird is missing): apt-get install bird2")
        );
        // Present, but not the daemon named.
        for p in ["usr/lib/frr/zebra", "usr/lib/frr/staticd", "usr/bin/vtysh"] {
            let path = empty.path().join(p);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "").unwrap();
        }
        assert_eq!(missing_under(empty.path(), RoutingSuite::Frr, &[]), None);
        assert!(missing_under(empty.path(), RoutingSuite::Frr, &["bgpd".into()])
            .is_some_and(|m| m.contains("/usr/lib/frr/bgpd is missing")));
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
        assert!(zebra < ospfd && !script.contains("vtysh"), "{script}");
        assert!(
            script.contains("/ospfd -d -F traditional -P 0 -f /etc/frr/frr.conf"),
            "{script}"
        );
        // No static route, no staticd.
        assert!(!script.contains("staticd"), "{script}");
        assert!(
            script.ends_with(": > /var/log/frr/nsbox-started\nexec sleep infinity"),
            "{script}"
        );
    }
}
