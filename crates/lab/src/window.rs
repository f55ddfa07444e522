//! Many probes at once, within what the host allows.
//!
//! A probe that gets no answer waits its whole timeout, so a matrix or a
//! check with many failing probes is as slow as its slowest batch times the
//! number of batches. Instead, a fixed number of workers each take the next
//! probe as soon as their last one ends (a sliding window): failing probes
//! wait side by side, never in rounds.
//!
//! Two things cap the window:
//! - the neighbour table, one for the whole host (see
//!   [`nsbox_net::neigh_table`]): before a probe starts, its worker looks
//!   at the table every few probes, and once it is past half its cap, it
//!   closes the gate (no new probe starts), waits for the probes in flight
//!   to end (a neighbour deleted under a probe in flight would drop its
//!   packet and turn a true answer into "no reply"), flushes the lab's own
//!   nodes' neighbours, and opens the gate again;
//! - open files: each probe in flight holds a raw socket and, for a moment,
//!   a duplicate of its namespace's fd.

use nsbox_net::neigh_table;
use nsbox_net::Netlink;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, RwLock};

/// The most probes in flight at once, where open files allow it.
pub const MAX_WIDTH: usize = 256;

/// A worker looks at the neighbour table before every this many probes: a
/// probe makes its entries within its first milliseconds, so the table seen
/// then holds nearly all the entries of the probes in flight, and only the
/// few started since can add more.
const LOOK_EVERY: usize = 8;

/// Entries a probe may add at most on a shared segment (the source learns
/// the destination and the destination the source).
const ENTRIES_PER_PROBE: u64 = 2;

/// Files a probe in flight holds open: its raw socket, the duplicate of
/// its namespace's fd its thread joins by, and the datagram socket that
/// checks the way out.
const FILES_PER_PROBE: u64 = 3;

/// How many probes may be in flight given the open-file limit: the soft
/// limit, less what is open now (the lab's namespaces and sockets) and a
/// margin for what opens meanwhile (nft's pipes, a listing), between 1 and
/// [`MAX_WIDTH`].
pub fn width() -> usize {
    const MARGIN: u64 = 16;
    let soft = rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .current
        .unwrap_or(u64::MAX);
    let open = std::fs::read_dir("/proc/self/fd").map_or(64, |d| d.count() as u64);
    (soft.saturating_sub(open + MARGIN) / FILES_PER_PROBE).clamp(1, MAX_WIDTH as u64) as usize
}

/// Runs `probe(i)` for every `i` in `0..count`, at most `width` at a time,
/// making room in the neighbour table with `sockets` (the lab's nodes') as
/// described above, and calling `done(finished)` after each probe. Returns
/// the answers in the order of `i`; `None` for a probe that panicked (its
/// worker's other answers are lost with it).
pub fn run<T: Send>(
    count: usize,
    width: usize,
    sockets: Vec<&mut Netlink>,
    probe: &(dyn Fn(usize) -> T + Sync),
    done: &(dyn Fn(usize) + Sync),
) -> Vec<Option<T>> {
    run_in(&Room::new(sockets), count, width, probe, done)
}

/// [`run`], in a `room` that probes running beside the window pass too
/// (see [`Room::pass`]), so that no flush happens under any of them.
pub fn run_in<T: Send>(
    room: &Room<'_>,
    count: usize,
    width: usize,
    probe: &(dyn Fn(usize) -> T + Sync),
    done: &(dyn Fn(usize) + Sync),
) -> Vec<Option<T>> {
    let next = AtomicUsize::new(0);
    let finished = AtomicUsize::new(0);
    let workers = width.clamp(1, count.max(1));
    let answers: Vec<(usize, T)> = std::thread::scope(|scope| {
        let running: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= count {
                            return mine;
                        }
                        if i.is_multiple_of(LOOK_EVERY) {
                            room.make();
                        }
                        let answer = room.pass(|| probe(i));
                        mine.push((i, answer));
                        done(finished.fetch_add(1, Ordering::Relaxed) + 1);
                    }
                })
            })
            .collect();
        running
            .into_iter()
            // A worker that panicked loses its answers: they stay `None`.
            .flat_map(|worker| worker.join().unwrap_or_default())
            .collect()
    });
    let mut in_order: Vec<Option<T>> = std::iter::repeat_with(|| None).take(count).collect();
    for (i, answer) in answers {
        in_order[i] = Some(answer);
    }
    in_order
}

/// The gate probes pass while in flight, and what opens room in the
/// neighbour tables (the lab's nodes' netlink sockets, to flush them).
pub struct Room<'a> {
    gate: RwLock<()>,
    sockets: Mutex<Vec<&'a mut Netlink>>,
    /// Entries of the IPv4 and of the IPv6 table past which the lab's
    /// neighbours are flushed: half of each table's own cap.
    full_at: [u64; 2],
    /// Entries of each table left just after the last flush: those a
    /// flush cannot free (the host's, other labs', the IPv6 multicast
    /// entries every interface has: a chain of 100 nodes keeps ~350).
    /// Flushing again before the lab's own entries grew past them by
    /// [`WORTH_A_FLUSH`] would free nothing and only stall the probes.
    floor: [AtomicU64; 2],
}

/// Entries the probes started before the next look may add to a table.
const MARGIN: u64 = ENTRIES_PER_PROBE * (LOOK_EVERY as u64 + 1) * 2;

/// Entries the lab must have added to a table since the last flush for
/// another one to be worth stalling the probes in flight.
const WORTH_A_FLUSH: u64 = 64;

impl<'a> Room<'a> {
    pub fn new(sockets: Vec<&'a mut Netlink>) -> Room<'a> {
        Room {
            gate: RwLock::new(()),
            sockets: Mutex::new(sockets),
            full_at: neigh_table::limits_by_table().map(|limit| limit / 2),
            floor: [AtomicU64::new(0), AtomicU64::new(0)],
        }
    }

    /// Runs the probe `f` as one in flight: no flush starts until it ends.
    pub fn pass<T>(&self, f: impl FnOnce() -> T) -> T {
        // A poisoned gate only means a probe panicked elsewhere; the gate
        // itself holds no data.
        let _in_flight = self.gate.read().unwrap_or_else(|e| e.into_inner());
        f()
    }

    /// Whether either table is past half its cap (or will be by the next
    /// look) with entries a flush would free.
    fn crowded(&self) -> bool {
        let Some(tables) = neigh_table::stats_by_table() else {
            return false;
        };
        (0..2).any(|t| {
            tables[t].entries + MARGIN > self.full_at[t]
                && tables[t].entries > self.floor[t].load(Ordering::Relaxed) + WORTH_A_FLUSH
        })
    }

    /// Flushes the lab's neighbours, with no probe in flight, when
    /// [`Room::crowded`]. Never anyone else's: the host's and other labs'
    /// entries stay.
    fn make(&self) {
        if !self.crowded() {
            return;
        }
        // Waits for the probes in flight to end; new ones wait at the gate.
        let _closed = self.gate.write().unwrap_or_else(|e| e.into_inner());
        // Another worker may have made room while this one waited.
        if !self.crowded() {
            return;
        }
        let mut sockets = self.sockets.lock().unwrap_or_else(|e| e.into_inner());
        for nl in sockets.iter_mut() {
            // Best effort: a node that cannot flush only takes more room.
            let _ = nl.flush_neighbours(None);
        }
        if let Some(left) = neigh_table::stats_by_table() {
            for (floor, table) in self.floor.iter().zip(left) {
                floor.store(table.entries, Ordering::Relaxed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn answers_come_back_in_order_and_slow_probes_wait_side_by_side() {
        let seen = AtomicUsize::new(0);
        let started = Instant::now();
        // 64 probes of 50 ms each, 32 at a time: two rounds' worth, where
        // one at a time would take 3.2 s.
        let answers = run(
            64,
            32,
            Vec::new(),
            &|i| {
                std::thread::sleep(Duration::from_millis(50));
                i * 2
            },
            &|_| {
                seen.fetch_add(1, Ordering::Relaxed);
            },
        );
        assert_eq!(answers, (0..64).map(|i| Some(i * 2)).collect::<Vec<_>>());
        assert_eq!(seen.load(Ordering::Relaxed), 64);
        assert!(
            started.elapsed() < Duration::from_millis(1500),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn nothing_to_probe_is_no_answers() {
        let answers: Vec<Option<u8>> = run(0, 8, Vec::new(), &|_| 1, &|_| {});
        assert!(answers.is_empty());
    }

    #[test]
    fn the_width_follows_the_open_file_limit() {
        let w = width();
        assert!((1..=MAX_WIDTH).contains(&w));
    }
}
