//! `nsbox ping`: ICMP echo from inside a network namespace, printed and
//! exiting as iputils `ping` does (0 replies, 1 none, 2 local error).

use clap::Args;
use nsbox_net::ping::{Event, PingError, PingOptions, Pinger, Summary};
use nsbox_ns::netns::Registry;
use std::net::IpAddr;
use std::time::Duration;

#[derive(Args)]
pub struct PingArgs {
    /// The named network namespace to ping from [default: nsbox's own].
    #[arg(long, short = 'n', value_name = "NETNS")]
    netns: Option<String>,
    /// The address to ping, or a name (`localhost`, one of /etc/hosts).
    #[arg(value_parser = resolve)]
    destination: Destination,
    /// Number of echo requests (1 or more).
    #[arg(short = 'c', default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    count: u32,
    /// Seconds to wait for answers after the last request.
    #[arg(short = 'W', default_value = "10", value_name = "SECS", value_parser = crate::numbers::linger)]
    wait: Duration,
    /// Seconds between requests.
    #[arg(short = 'i', default_value = "1", value_name = "SECS", value_parser = crate::numbers::interval)]
    interval: Duration,
    /// Source address.
    #[arg(short = 'I', value_name = "SRC")]
    source: Option<IpAddr>,
    /// TTL (hop limit) of the requests, 1 to 255.
    #[arg(short = 't', value_name = "TTL", value_parser = clap::value_parser!(u8).range(1..))]
    ttl: Option<u8>,
    /// Bytes of payload.
    #[arg(short = 's', default_value_t = 56, value_name = "SIZE")]
    size: usize,
    /// Print JSON (every probe's outcome) instead of ping's lines.
    #[arg(long)]
    json: bool,
}

/// A round-trip time the way iputils prints it: three significant
/// decimals under 1 ms, fewer above.
fn format_rtt(ms: f64) -> String {
    if ms >= 100.0 {
        format!("{ms:.0}")
    } else if ms >= 10.0 {
        format!("{ms:.1}")
    } else if ms >= 1.0 {
        format!("{ms:.2}")
    } else {
        format!("{ms:.3}")
    }
}

fn print_event(event: &Event) {
    match event {
        Event::Reply {
            seq,
            from,
            bytes,
            ttl,
            rtt_ms,
        } => {
            let ttl = ttl.map(|t| format!(" ttl={t}")).unwrap_or_default();
            println!(
                "{bytes} bytes from {from}: icmp_seq={seq}{ttl} time={} ms",
                format_rtt(*rtt_ms)
            );
        }
        // iputils writes a colon after the sender for redirects only.
        Event::Error {
            seq,
            from,
            error,
            redirect: true,
        } => println!("From {from}: icmp_seq={seq} {error}"),
        Event::Error {
            seq,
            from,
            error,
            redirect: false,
        } => println!("From {from} icmp_seq={seq} {error}"),
    }
}

fn print_statistics(s: &Summary) {
    println!("\n--- {} ping statistics ---", s.destination);
    let errors = if s.errors > 0 {
        format!(", +{} errors", s.errors)
    } else {
        String::new()
    };
    let loss = if s.transmitted == 0 {
        0.0
    } else {
        (s.transmitted - s.received) as f64 * 100.0 / s.transmitted as f64
    };
    let loss = if loss.fract() == 0.0 {
        format!("{loss:.0}")
    } else {
        format!("{loss:.4}")
    };
    println!(
        "{} packets transmitted, {} received{errors}, {loss}% packet loss, time {}ms",
        s.transmitted, s.received, s.time_ms
    );
    let rtts = s.rtts();
    if !rtts.is_empty() {
        let n = rtts.len() as f64;
        let min = rtts.iter().cloned().fold(f64::INFINITY, f64::min);
        let max = rtts.iter().cloned().fold(0.0, f64::max);
        let avg = rtts.iter().sum::<f64>() / n;
        let mdev = (rtts.iter().map(|r| r * r).sum::<f64>() / n - avg * avg)
            .max(0.0)
            .sqrt();
        println!("rtt min/avg/max/mdev = {min:.3}/{avg:.3}/{max:.3}/{mdev:.3} ms");
    }
}

/// What to ping: as typed, and the address it is.
#[derive(Debug, Clone)]
struct Destination {
    typed: String,
    address: IpAddr,
}

/// An address, or the first address a name resolves to (through the C
/// library, as iputils ping: /etc/hosts, then DNS); iputils' words when
/// it does not.
fn resolve(text: &str) -> Result<Destination, String> {
    let destination = |address| Destination {
        typed: text.to_string(),
        address,
    };
    if let Ok(address) = text.parse() {
        return Ok(destination(address));
    }
    use std::net::ToSocketAddrs;
    (text, 0)
        .to_socket_addrs()
        .ok()
        .and_then(|mut found| found.next())
        .map(|a| destination(a.ip()))
        .ok_or_else(|| format!("{text}: Name or service not known"))
}

pub fn ping_cmd(args: PingArgs) -> i32 {
    let options = PingOptions {
        count: args.count,
        interval: args.interval,
        wait: args.wait,
        source: args.source,
        ttl: args.ttl,
        size: args.size,
        until_answered: false,
    };
    let ns = match args.netns.as_deref().map(|n| Registry::default().open(n)).transpose() {
        Ok(ns) => ns,
        Err(e) => {
            crate::report(e);
            return 2;
        }
    };
    let result = Pinger::open(ns.as_ref(), args.destination.address, &options).and_then(|pinger| {
        // The header comes only once the way out is known, as with iputils:
        // the destination as typed, then its address.
        if !args.json {
            let (typed, d) = (&args.destination.typed, args.destination.address);
            if d.is_ipv4() {
                println!("PING {typed} ({d}) {}({}) bytes of data.", args.size, args.size + 28);
            } else {
                println!("PING {typed}({d}) {} data bytes", args.size);
            }
        }
        pinger.run(|event| {
            if !args.json {
                print_event(event);
            }
        })
    });
    match result {
        Ok(summary) => {
            if args.json {
                crate::output::print_json(&summary);
            } else {
                print_statistics(&summary);
            }
            if summary.received > 0 {
                0
            } else {
                1
            }
        }
        // A broadcast address needs SO_BROADCAST, which only -b sets in
        // iputils; the kernel refuses to connect to it (EACCES). iputils'
        // own words.
        Err(e) if e.is_broadcast_refusal() && args.destination.address.is_ipv4() => {
            eprintln!("nsbox: ping: Do you want to ping broadcast? Then -b. If not, check your local firewall rules");
            2
        }
        Err(PingError::Local { step, source }) => {
            // iputils' own words, so that scripts matching them keep working.
            eprintln!("nsbox: ping: {step}: {}", nsbox_runtime::exec::describe(&source));
            2
        }
        Err(e) => {
            crate::report(e);
            2
        }
    }
}
