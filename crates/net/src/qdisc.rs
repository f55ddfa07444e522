//! Queueing disciplines: a rate limit on an interface's way out (tbf, the
//! token bucket filter), and finding out whether the kernel has netem
//! (delay and loss), which it cannot be asked about otherwise.

use crate::error::NetError;
use crate::socket::Netlink;
use netlink_packet_core::{DefaultNla, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE};
use netlink_packet_route::tc::{TcAttribute, TcHandle, TcMessage, TcOption};
use netlink_packet_route::RouteNetlinkMessage;

const TCA_OPTIONS: u16 = 2;
const TCA_TBF_PARMS: u16 = 1;
const TCA_TBF_RATE64: u16 = 4;
const TCA_TBF_BURST: u16 = 6;
/// `tc_ratespec.linklayer`: Ethernet framing, so the kernel needs no rate
/// table.
const TC_LINKLAYER_ETHERNET: u8 = 1;
/// How long a full queue may take to drain: packets beyond it are dropped
/// (tc's `latency`).
const QUEUE_SECONDS: f64 = 0.05;

/// Parses a rate as tc writes it: `10mbit`, `512kbit`, `1gbit`, `64000bit`
/// (bits per second; k, m, g are powers of 1000).
pub fn parse_rate(text: &str) -> Result<u64, String> {
    let bad = || format!("rate {text:?} is not valid: expected a number with bit, kbit, mbit or gbit (10mbit)");
    let lower = text.trim().to_ascii_lowercase();
    let (number, scale) = [("gbit", 1e9), ("mbit", 1e6), ("kbit", 1e3), ("bit", 1.0)]
        .into_iter()
        .find_map(|(unit, scale)| lower.strip_suffix(unit).map(|n| (n.to_string(), scale)))
        .ok_or_else(bad)?;
    let value: f64 = number.trim().parse().map_err(|_| bad())?;
    let bits = value * scale;
    if !(8.0..=1e12).contains(&bits) {
        return Err(bad());
    }
    Ok(bits as u64)
}

/// The tbf qdisc for `bits_per_second` as the root qdisc of interface
/// `index`: a burst of 20 ms of traffic (at least 4 KiB, more than a full
/// frame), a queue of 50 ms beyond it.
fn tbf_message(index: u32, bits_per_second: u64) -> TcMessage {
    let bytes_per_second = (bits_per_second / 8).max(1);
    let burst = (bytes_per_second / 50).clamp(4096, u64::from(u32::MAX)) as u32;
    let limit = ((bytes_per_second as f64 * QUEUE_SECONDS) as u64 + u64::from(burst)).min(u64::from(u32::MAX)) as u32;
    // The bucket's depth in the kernel's scheduler ticks (64 ns each).
    let buffer_ns = u64::from(burst) * 1_000_000_000 / bytes_per_second;
    let buffer = (buffer_ns >> 6).min(u64::from(u32::MAX)) as u32;
    let mut parms = Vec::with_capacity(36);
    // struct tc_ratespec rate: cell_log, linklayer, overhead, cell_align,
    // mpu, rate (bytes per second, or all ones with TCA_TBF_RATE64).
    parms.extend_from_slice(&[0, TC_LINKLAYER_ETHERNET]);
    parms.extend_from_slice(&0u16.to_ne_bytes());
    parms.extend_from_slice(&0i16.to_ne_bytes());
    parms.extend_from_slice(&0u16.to_ne_bytes());
    parms.extend_from_slice(&(bytes_per_second.min(u64::from(u32::MAX)) as u32).to_ne_bytes());
    // struct tc_ratespec peakrate: none.
    parms.extend_from_slice(&[0u8; 12]);
    for field in [limit, buffer, 0 /* mtu: no peak rate */] {
        parms.extend_from_slice(&field.to_ne_bytes());
    }
    let mut options = vec![
        TcOption::Other(DefaultNla::new(TCA_TBF_PARMS, parms)),
        TcOption::Other(DefaultNla::new(TCA_TBF_BURST, burst.to_ne_bytes().to_vec())),
    ];
    if bytes_per_second > u64::from(u32::MAX) {
        options.push(TcOption::Other(DefaultNla::new(
            TCA_TBF_RATE64,
            bytes_per_second.to_ne_bytes().to_vec(),
        )));
    }
    let mut msg = TcMessage::default();
    msg.header.index = index as i32;
    msg.header.handle = TcHandle { major: 1, minor: 0 };
    msg.header.parent = TcHandle::ROOT;
    msg.attributes.push(TcAttribute::Kind("tbf".into()));
    msg.attributes.push(TcAttribute::Options(options));
    msg
}

impl Netlink {
    /// Limits what interface `dev` sends to `bits_per_second` (a tbf root
    /// qdisc, as `tc qdisc add dev DEV root tbf rate ...`).
    pub fn set_rate_limit(&mut self, dev: &str, bits_per_second: u64) -> Result<(), NetError> {
        self.rate_limit(dev, bits_per_second, NLM_F_CREATE | NLM_F_EXCL)
    }

    /// Sets or changes the rate limit of `dev` (`tc qdisc replace`).
    pub fn replace_rate_limit(&mut self, dev: &str, bits_per_second: u64) -> Result<(), NetError> {
        self.rate_limit(dev, bits_per_second, NLM_F_CREATE | NLM_F_REPLACE)
    }

    fn rate_limit(&mut self, dev: &str, bits_per_second: u64, flags: u16) -> Result<(), NetError> {
        let index = self.link_index(dev)?;
        let msg = tbf_message(index, bits_per_second);
        self.request(RouteNetlinkMessage::NewQueueDiscipline(msg), flags, || {
            format!("limiting {dev:?} to {bits_per_second} bit/s")
        })
    }

    /// Removes the rate limit (the root qdisc) of `dev`; none is fine.
    pub fn clear_rate_limit(&mut self, dev: &str) -> Result<(), NetError> {
        let index = self.link_index(dev)?;
        let mut msg = TcMessage::default();
        msg.header.index = index as i32;
        msg.header.parent = TcHandle::ROOT;
        match self.request(RouteNetlinkMessage::DelQueueDiscipline(msg), 0, || {
            format!("removing the rate limit of {dev:?}")
        }) {
            Err(e) if e.errno() == Some(libc::ENOENT) => Ok(()),
            other => other,
        }
    }
}

/// Whether the kernel has the netem qdisc (delay, loss): asked the only
/// way it can be, by adding one to `lo` of a throwaway namespace. `Err`
/// holds the kernel's answer when it has none.
pub fn probe_netem() -> Result<(), String> {
    let ns = nsbox_ns::netns::new_anonymous().map_err(|e| e.to_string())?;
    let mut nl = Netlink::open_in(std::os::fd::AsFd::as_fd(&ns)).map_err(|e| e.to_string())?;
    // struct tc_netem_qopt: latency, limit, loss, gap, duplicate, jitter.
    let mut qopt = vec![0u8; 24];
    qopt[4..8].copy_from_slice(&1000u32.to_ne_bytes());
    let mut msg = TcMessage::default();
    msg.header.index = 1;
    msg.header.handle = TcHandle { major: 1, minor: 0 };
    msg.header.parent = TcHandle::ROOT;
    msg.attributes.push(TcAttribute::Kind("netem".into()));
    // netem's options are its struct itself, not nested attributes.
    msg.attributes
        .push(TcAttribute::Other(DefaultNla::new(TCA_OPTIONS, qopt)));
    nl.request(
        RouteNetlinkMessage::NewQueueDiscipline(msg),
        NLM_F_CREATE | NLM_F_EXCL,
        || "adding a netem qdisc".into(),
    )
    .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_read_as_tc_writes_them() {
        assert_eq!(parse_rate("10mbit"), Ok(10_000_000));
        assert_eq!(parse_rate("512kbit"), Ok(512_000));
        assert_eq!(parse_rate("1.5Gbit"), Ok(1_500_000_000));
        assert_eq!(parse_rate("64000bit"), Ok(64_000));
        for bad in ["10", "fast", "mbit", "-1mbit", "0bit"] {
            assert!(parse_rate(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_token_bucket_holds_20_ms_and_queues_50_ms() {
        let msg = tbf_message(3, 10_000_000);
        assert_eq!(msg.header.index, 3);
        let TcAttribute::Options(options) = &msg.attributes[1] else {
            panic!("options second")
        };
        let TcOption::Other(parms) = &options[0] else { panic!() };
        let mut value = vec![0u8; 36];
        netlink_packet_core::Nla::emit_value(parms, &mut value);
        let word = |i: usize| u32::from_ne_bytes(value[i..i + 4].try_into().unwrap());
        assert_eq!(value[1], TC_LINKLAYER_ETHERNET);
        assert_eq!(word(8), 1_250_000, "bytes per second");
        assert_eq!(word(24), 62_500 + 25_000, "queue: 50 ms of traffic and the burst");
        assert_eq!(word(28), (20_000_000u64 >> 6) as u32, "20 ms in 64 ns ticks");
        assert_eq!(options.len(), 2, "no 64-bit rate needed");
    }
}
