//! Throughput between two nodes, measured with iperf3 (Debian's package):
//! its server, for one test, in the node that has the destination address;
//! its client in the source node; the rate the receiver saw, from the
//! client's JSON report. Measurements run one at a time: side by side they
//! would share the links they measure.

use crate::deploy::NodeHandle;
use crate::model::{format_rate, Expect, Outcome};
use crate::probe::{Check, Observed};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a measurement runs unless the file says (`(time 5s)`).
pub const DEFAULT_TIME: Duration = Duration::from_secs(2);

/// The port iperf3's server listens on: not its default (5201), which a
/// node's own iperf3 server may hold.
const PORT: u16 = 25201;

/// How long the client keeps trying while the server starts.
const SERVER_START: Duration = Duration::from_secs(3);

/// Measures each throughput expectation in turn.
pub fn check(nodes: &[NodeHandle], expects: &[&Expect]) -> Vec<Check> {
    expects
        .iter()
        .map(|e| {
            let observed = match measure(nodes, e) {
                Ok(bits) => {
                    let holds = match e.outcome {
                        Outcome::Throughput {
                            bits_per_second,
                            at_least: true,
                        } => bits >= bits_per_second,
                        Outcome::Throughput { bits_per_second, .. } => bits <= bits_per_second,
                        _ => false,
                    };
                    Observed {
                        reachable: holds,
                        detail: format!("{}/s measured", format_rate(bits)),
                        echo: None,
                    }
                }
                Err(why) => Observed {
                    reachable: false,
                    detail: why,
                    echo: None,
                },
            };
            Check {
                via: Vec::new(),
                expect: e.text.clone(),
                wanted: e.outcome.clone(),
                facts: e.facts,
                params: e.params.clone(),
                holds: observed.reachable,
                observed,
            }
        })
        .collect()
}

/// Bits per second the receiver saw, or why there is no figure.
fn measure(nodes: &[NodeHandle], e: &Expect) -> Result<u64, String> {
    let receiver = e.receiver.ok_or("no node has the destination address")?;
    let to = e.to.to_string();
    let port = PORT.to_string();
    let mut server = spawn_in(&nodes[receiver], &["-s", "-1", "-B", &to, "-p", &port], Stdio::null())?;
    let time = e.params.time.unwrap_or(DEFAULT_TIME);
    let seconds = format!("{:.1}", time.as_secs_f64());
    let mut client_args = vec!["-c", &to, "-p", &port, "-t", &seconds, "-J"];
    let source = e.source.map(|s| s.to_string());
    if let Some(source) = &source {
        client_args.extend(["-B", source.as_str()]);
    }
    let since = Instant::now();
    let result = (|| loop {
        let client = spawn_in(&nodes[e.from], &client_args, Stdio::piped())?;
        let out = client
            .wait_with_output()
            .map_err(|e| format!("waiting for iperf3: {e}"))?;
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        if let Some(bits) = report["end"]["sum_received"]["bits_per_second"].as_f64() {
            return Ok(bits as u64);
        }
        let error = report["error"].as_str().unwrap_or("no report").to_string();
        // The server may not listen yet: try again for a moment.
        if error.contains("Connection refused") && since.elapsed() < SERVER_START {
            std::thread::sleep(Duration::from_millis(50));
            continue;
        }
        return Err(format!("iperf3: {error}"));
    })();
    // The server goes whatever became of the client.
    let _ = server.kill();
    let _ = server.wait();
    result
}

/// iperf3 with `args`, started in `node`'s network namespace, its output
/// to `stdout`.
fn spawn_in(node: &NodeHandle, args: &[&str], stdout: Stdio) -> Result<Child, String> {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let spawned = nsbox_ns::netns::run_in_fd(&node.fd, move || {
        Command::new("iperf3")
            .args(&args)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(Stdio::null())
            .spawn()
    })
    .map_err(|e| format!("node {}: {e}", node.name))?;
    spawned.map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            "iperf3 is not installed (apt-get install iperf3)".to_string()
        } else {
            format!("starting iperf3 in {}: {e}", node.name)
        }
    })
}
