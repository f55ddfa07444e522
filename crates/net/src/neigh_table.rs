//! The host's neighbour table, as a whole.
//!
//! The kernel keeps one ARP table (and one IPv6 neighbour table) for all
//! network namespaces together, the host's included, capped at
//! `net.ipv4.neigh.default.gc_thresh3` (and its IPv6 twin) entries. When it
//! is full, a new neighbour cannot be resolved: the packet is dropped, the
//! kernel logs "neighbor table overflow!", and a probe only sees "no
//! reply". The table's counters in /proc/net/stat tell that this happened.

use std::path::Path;

/// The table's counters that matter to a lab: its size now, and how many
/// times it was found full. Summed over the IPv4 and IPv6 tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TableStats {
    pub entries: u64,
    pub table_fulls: u64,
}

/// Reads one /proc/net/stat/*_cache file: a header line naming the
/// columns, then one line per CPU of hexadecimal counters. `entries` is the
/// same on every line (it is the table's); the other counters are per CPU.
pub fn parse_stat(text: &str) -> Option<TableStats> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next()?.split_whitespace().collect();
    let entries_at = header.iter().position(|c| *c == "entries")?;
    let fulls_at = header.iter().position(|c| *c == "table_fulls")?;
    let mut stats = TableStats::default();
    for line in lines {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let value = |i: usize| fields.get(i).and_then(|f| u64::from_str_radix(f, 16).ok());
        stats.entries = value(entries_at)?;
        stats.table_fulls += value(fulls_at)?;
    }
    Some(stats)
}

fn read_stat(path: &str) -> Option<TableStats> {
    parse_stat(&std::fs::read_to_string(path).ok()?)
}

/// The host's tables' counters, IPv4 and IPv6 together; `None` where the
/// kernel does not show them. It shows them only in the host's network
/// namespace: nsbox run from another one (a test's sandbox, a container
/// that shares the host's PIDs) reads them through PID 1's, which is the
/// host's wherever PIDs are shared.
pub fn stats() -> Option<TableStats> {
    let [v4, v6] = stats_by_table()?;
    Some(TableStats {
        entries: v4.entries + v6.entries,
        table_fulls: v4.table_fulls + v6.table_fulls,
    })
}

/// The counters of the IPv4 table and of the IPv6 one, each capped by a
/// `gc_thresh3` of its own (see [`stats`] for where they are read).
pub fn stats_by_table() -> Option<[TableStats; 2]> {
    ["/proc/net/stat", "/proc/1/net/stat"].iter().find_map(|dir| {
        let v4 = read_stat(&format!("{dir}/arp_cache"))?;
        let v6 = read_stat(&format!("{dir}/ndisc_cache")).unwrap_or_default();
        Some([v4, v6])
    })
}

/// The sysctl that caps the IPv4 table.
pub const LIMIT_SYSCTL: &str = "net.ipv4.neigh.default.gc_thresh3";

/// The most entries the IPv4 table may hold (`gc_thresh3`); `None` outside
/// the host's network namespace, where the sysctl is not shown (callers
/// then assume the kernel's default, 1024).
pub fn limit() -> Option<u64> {
    read_limit("ipv4")
}

/// The caps of the IPv4 and the IPv6 tables, where shown (see [`limit`]),
/// else the kernel's default of 1024 each.
pub fn limits_by_table() -> [u64; 2] {
    ["ipv4", "ipv6"].map(|family| read_limit(family).unwrap_or(1024))
}

fn read_limit(family: &str) -> Option<u64> {
    let path = format!("/proc/sys/net/{family}/neigh/default/gc_thresh3");
    std::fs::read_to_string(Path::new(&path)).ok()?.trim().parse().ok()
}

/// What to tell a user whose probe failed while the table overflowed.
pub fn overflow_note(limit: Option<u64>) -> String {
    let at = limit.map(|l| format!(" at {l} entries")).unwrap_or_default();
    format!(
        "the host's neighbour table overflowed during the probe (it is shared by every namespace and capped{at} by {LIMIT_SYSCTL}; `dmesg` says \"neighbor table overflow\")"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kernel_s_table_is_read_per_cpu() {
        let text = "entries  allocs   destroys hash_grows lookups  hits     res_failed rcv_probes_mcast rcv_probes_ucast periodic_gc_runs forced_gc_runs unresolved_discards table_fulls
00000406 000001bd 000001af 00000002   000009b0 00000164 0000000d   00000000         00000000         00000000         00000000       00000000            00000003
00000406 000001c2 000001ca 00000000   00000bad 00000196 00000014   00000000         00000000         0000004b         00000000       00000000            0000000a
";
        assert_eq!(
            parse_stat(text),
            Some(TableStats {
                entries: 0x406,
                table_fulls: 13
            })
        );
        assert_eq!(parse_stat("nonsense"), None);
        assert_eq!(parse_stat(""), None);
    }

    #[test]
    fn this_host_shows_its_table() {
        // The host's own namespace shows the counters; a test may run in
        // another (then there is nothing to read, and that is said).
        match stats() {
            Some(s) => assert!(s.entries < 1 << 32),
            None => eprintln!("SKIPPED: /proc/net/stat/arp_cache is not shown in this namespace"),
        }
    }
}
