//! A step's captures (`capture: [r1:eth1]`): each interface captured from
//! just before the step's changes until its expectations have been
//! probed, by a thread of its own, to a pcap file beside the report
//! (`LAB-step2-r1-eth1.pcap` in the directory `lab test` is given).

use crate::deploy::NodeHandle;
use crate::model::{Lab, Step};
use nsbox_net::capture::{Capture, PcapWriter};
use std::os::fd::AsFd;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// A capture's file and its thread, which returns how many packets it
/// wrote (or why it stopped).
type Running = (String, JoinHandle<Result<u64, String>>);

/// The captures of one step, running.
pub struct Capturing {
    stop: Arc<AtomicBool>,
    /// Each capture, or why it could not start.
    running: Vec<Result<Running, String>>,
}

/// Starts the captures of `step` (the `index`th) into files in `dir`.
pub fn start(lab: &Lab, nodes: &[NodeHandle], step: &Step, index: usize, dir: &Path) -> Capturing {
    let stop = Arc::new(AtomicBool::new(false));
    let running = step
        .capture
        .iter()
        .map(|(node, iface)| {
            let name = &lab.nodes[*node].name;
            let path = dir.join(format!("{}-step{}-{name}-{iface}.pcap", lab.name, index + 1));
            let shown = path.display().to_string();
            let mut capture =
                Capture::open(nodes[*node].fd.as_fd(), iface, None).map_err(|e| format!("{name}:{iface}: {e}"))?;
            let file = std::fs::File::create(&path).map_err(|e| format!("{shown}: {e}"))?;
            let stop = stop.clone();
            let writing = std::thread::spawn(move || -> Result<u64, String> {
                let mut out = PcapWriter::new(std::io::BufWriter::new(file)).map_err(|e| e.to_string())?;
                let mut packets = 0;
                while !stop.load(Ordering::Relaxed) {
                    if let Some(packet) = capture.next_packet().map_err(|e| e.to_string())? {
                        out.write(&packet).map_err(|e| e.to_string())?;
                        packets += 1;
                    }
                }
                out.flush().map_err(|e| e.to_string())?;
                Ok(packets)
            });
            Ok((shown, writing))
        })
        .collect();
    Capturing { stop, running }
}

impl Capturing {
    /// Stops the captures; each file with its packet count, or what failed.
    pub fn finish(self) -> Vec<String> {
        self.stop.store(true, Ordering::Relaxed);
        self.running
            .into_iter()
            .map(|r| match r {
                Ok((path, thread)) => match thread.join() {
                    Ok(Ok(n)) => format!("{path} ({n} packet{})", if n == 1 { "" } else { "s" }),
                    Ok(Err(e)) => format!("{path}: {e}"),
                    Err(_) => format!("{path}: the capture's thread panicked"),
                },
                Err(e) => format!("capture failed: {e}"),
            })
            .collect()
    }
}
