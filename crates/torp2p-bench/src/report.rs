//! The report: the table on stdout and `target/bench/latest.json`.

use std::fmt::Write as _;

use torp2p_socks::Isolation;

use crate::stats::{RoundTrips, Stats, ratio};

/// The setups of one variant: seconds (to the first answer, to the tor stream, to the libp2p
/// connection) and counted round trips.
#[derive(Debug, Clone, Default)]
pub(crate) struct Setups {
    pub(crate) seconds: Vec<f64>,
    pub(crate) stream: Vec<f64>,
    pub(crate) connected: Vec<f64>,
    pub(crate) round_trips: RoundTrips,
    pub(crate) failed: usize,
}

impl Setups {
    /// Per setup, the time from the tor stream (the SOCKS reply) to the first answer over
    /// what its counted round trips cost at `rtt_ms` a round trip: the median of
    /// `after the reply / (round trips × RTT)`. 1.0 when a setup costs exactly its round
    /// trips; the stall of tor's Nagle (see `docs/src/benchmarks.md`) shows as more.
    pub(crate) fn over_round_trips(&self, rtt_ms: f64) -> Stats {
        let ratios: Vec<f64> = self
            .seconds
            .iter()
            .zip(&self.stream)
            .zip(&self.round_trips.0)
            .filter(|(_, n)| **n > 0)
            .map(|((s, t), n)| (s - t) * 1000.0 / (f64::from(*n) * rtt_ms))
            .filter(|r| r.is_finite())
            .collect();
        Stats::of(&ratios)
    }
}

/// RSS in KiB of this process and of both client tors.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Rss {
    pub(crate) process: u64,
    pub(crate) tor_dialer: u64,
    pub(crate) tor_listener: u64,
}

/// Every figure of a run.
#[derive(Debug, Default)]
pub(crate) struct Report {
    pub(crate) nodes: usize,
    /// `--delay-ms`: netem's delay per packet on loopback (0: none).
    pub(crate) delay_ms: u32,
    /// What delays loopback: `"netem"`, `"nfqueue"` (the user-space stand-in), or empty.
    pub(crate) delay_via: &'static str,
    pub(crate) rtt_raw: Stats,
    pub(crate) rtt_p2p: Stats,
    /// The round trips themselves, ms, for the plot: raw Tor's, torp2p's.
    pub(crate) rtt_samples: (Vec<f64>, Vec<f64>),
    pub(crate) rtt_pair_ratio: Stats,
    pub(crate) cold: [Setups; 3],
    pub(crate) warm: [Setups; 3],
    /// First connection to a fresh onion service, ms.
    pub(crate) first_raw: Stats,
    pub(crate) first_p2p: Stats,
    pub(crate) tput_raw: Stats,
    pub(crate) tput_p2p: Stats,
    /// Over 4 substreams at once.
    pub(crate) tput_p2p_4: Stats,
    /// Listener to dialer.
    pub(crate) tput_down_raw: Stats,
    pub(crate) tput_down_p2p: Stats,
    pub(crate) mib: usize,
    pub(crate) listen_raw: Stats,
    pub(crate) listen_p2p: Stats,
    pub(crate) publication: String,
    pub(crate) dials_tried: usize,
    pub(crate) dials_ok: usize,
    pub(crate) dials_seconds: f64,
    pub(crate) dial_isolation: Isolation,
    pub(crate) rss_before: Rss,
    pub(crate) rss_after: Rss,
    pub(crate) codecs: Vec<(String, f64)>,
}

/// The variants of connection setup, in the order of [`Report::cold`] and [`Report::warm`].
/// Stock is what libp2p 0.57's `SwarmBuilder` sets up: `V1Lazy` for the connection upgrade,
/// the swarm's default `V1` for substreams.
const VARIANTS: [&str; 3] = [
    "raw SOCKS + echo",
    "torp2p (V1Lazy)",
    "stock (V1Lazy, V1 substreams)",
];

/// The stock variant, as the JSON says it.
const STOCK: &str = "libp2p 0.57 SwarmBuilder: multistream-select V1Lazy for the connection upgrade, V1 (the swarm's default) for substreams";

impl Report {
    fn per_connection(&self) -> (f64, f64, f64) {
        let n = self.dials_ok.max(1) as f64;
        let d = |a: u64, b: u64| (a as f64 - b as f64) / n;
        (
            d(self.rss_after.process, self.rss_before.process),
            d(self.rss_after.tor_dialer, self.rss_before.tor_dialer),
            d(self.rss_after.tor_listener, self.rss_before.tor_listener),
        )
    }

    /// The round trips counted for a variant, on new and warm circuits.
    fn round_trips(&self, variant: usize) -> RoundTrips {
        RoundTrips(
            self.cold[variant]
                .round_trips
                .0
                .iter()
                .chain(&self.warm[variant].round_trips.0)
                .copied()
                .collect(),
        )
    }

    fn setup_stats(s: &Setups) -> Stats {
        Stats::of(&s.seconds).scaled(1000.0)
    }

    pub(crate) fn table(&self, command: &str) -> String {
        let mut t = String::new();
        let _ = writeln!(
            t,
            "\n{command}: torp2p against raw Tor on a private network ({} tors + 2 clients, 127.0.0.1)",
            self.nodes
        );
        if self.delay_ms > 0 {
            let _ = writeln!(
                t,
                "in a network namespace whose loopback delays every packet by {} ms ({}): each tor-to-tor hop, and the\n\
                 SOCKS and control links of raw Tor and torp2p alike, cost {} ms each way",
                self.delay_ms, self.delay_via, self.delay_ms
            );
        }
        let _ = writeln!(
            t,
            "medians with [p25–p75]; ratio = torp2p median / raw median, both taken interleaved in this run\n"
        );
        let _ = writeln!(
            t,
            "{:<36} {:>24} {:>24} {:>7}  target",
            "what", "raw Tor", "torp2p", "ratio"
        );
        let row = |t: &mut String, what: &str, raw: String, p2p: String, r: f64, target: &str| {
            let _ = writeln!(t, "{what:<36} {raw:>24} {p2p:>24} {r:>7.2}  {target}");
        };
        let verdict = |ok: bool| if ok { "met" } else { "NOT met" };
        let rtt = ratio(&self.rtt_p2p, &self.rtt_raw);
        row(
            &mut t,
            &format!("round trip, warm ({} pairs)", self.rtt_raw.n),
            self.rtt_raw.show("ms", 1),
            self.rtt_p2p.show("ms", 1),
            rtt,
            &format!("≤ 1.05 {}", verdict(rtt <= 1.05)),
        );
        let _ = writeln!(
            t,
            "{:<36} {:>24} {:>24} {:>7.2}  (median of per-pair ratios)",
            "", "", "", self.rtt_pair_ratio.median
        );
        for (label, setups) in [("new circuit", &self.cold), ("warm circuit", &self.warm)] {
            let raw = Self::setup_stats(&setups[0]);
            for (i, s) in setups.iter().enumerate().skip(1) {
                let st = Self::setup_stats(s);
                row(
                    &mut t,
                    &format!("setup, {label}: {} ({})", short(VARIANTS[i]), st.n),
                    if i == 1 {
                        raw.show("ms", 0)
                    } else {
                        String::new()
                    },
                    st.show("ms", 0),
                    ratio(&st, &raw),
                    "",
                );
            }
        }
        row(
            &mut t,
            &format!("first connection, fresh service ({})", self.first_raw.n),
            self.first_raw.show("ms", 0),
            self.first_p2p.show("ms", 0),
            ratio(&self.first_p2p, &self.first_raw),
            "(descriptor, introduction, rendezvous)",
        );
        let tput = ratio(&self.tput_p2p, &self.tput_raw);
        row(
            &mut t,
            &format!("throughput up, {} MiB ({} each)", self.mib, self.tput_raw.n),
            self.tput_raw.show("MiB/s", 2),
            self.tput_p2p.show("MiB/s", 2),
            tput,
            &format!("≥ 0.9 {}", verdict(tput >= 0.9)),
        );
        row(
            &mut t,
            "  torp2p over 4 substreams at once",
            String::new(),
            self.tput_p2p_4.show("MiB/s", 2),
            ratio(&self.tput_p2p_4, &self.tput_raw),
            "(how far one yamux stream's window holds it back)",
        );
        let down = ratio(&self.tput_down_p2p, &self.tput_down_raw);
        row(
            &mut t,
            &format!("throughput down ({} each)", self.tput_down_raw.n),
            self.tput_down_raw.show("MiB/s", 2),
            self.tput_down_p2p.show("MiB/s", 2),
            down,
            &format!("≥ 0.9 {}", verdict(down >= 0.9)),
        );
        let listen = ratio(&self.listen_p2p, &self.listen_raw);
        row(
            &mut t,
            &format!("listener ready ({} each)", self.listen_raw.n),
            self.listen_raw.scaled(1000.0).show("ms", 0),
            self.listen_p2p.scaled(1000.0).show("ms", 0),
            listen,
            &format!("≤ 1.2 {}", verdict(listen <= 1.2)),
        );
        let _ = writeln!(t, "  (publication policy for both: {})", self.publication);

        let _ = writeln!(
            t,
            "\nconnection setup, round trips the dialer waits for after tor's SOCKS reply (counted on the stream):"
        );
        let rtt_raw_ms = self.rtt_raw.median;
        for (i, name) in VARIANTS.iter().enumerate() {
            let warm = Self::setup_stats(&self.warm[i]).median;
            let _ = writeln!(
                t,
                "  {name:<30} {:>12}   warm setup / warm RTT = {:.1}{}",
                self.round_trips(i).show(),
                warm / rtt_raw_ms,
                if self.cold[i].failed + self.warm[i].failed > 0 {
                    format!(
                        "   ({} setups failed)",
                        self.cold[i].failed + self.warm[i].failed
                    )
                } else {
                    String::new()
                }
            );
        }
        let over: Vec<Stats> = self
            .warm
            .iter()
            .map(|s| s.over_round_trips(rtt_raw_ms))
            .collect();
        let _ = writeln!(
            t,
            "  warm, after the SOCKS reply / (counted round trips × warm RTT): raw {:.2}, torp2p {:.2}, stock {:.2}",
            over[0].median, over[1].median, over[2].median
        );
        let _ = writeln!(
            t,
            "  target: torp2p's warm setup within 10 % of its counted round trips: {}",
            verdict(over[1].n > 0 && over[1].median <= 1.1)
        );
        let lazy = self.round_trips(1).typical();
        let stock = self.round_trips(2).typical();
        let _ = writeln!(
            t,
            "  exchanges: raw: echo | torp2p: [/noise proposal + noise XX msg 1 → confirmation + msg 2]\n   \
             [msg 3 + /yamux proposal + yamux SYN + /ipfs/ping proposal + ping → confirmations + pong]\n   \
             (multistream-select V1Lazy sends each proposal with the data that follows it) | stock (SwarmBuilder:\n   \
             V1Lazy for the connection, V1 for substreams): the same, except that the ping waits for the\n   \
             /ipfs/ping confirmation: [... + /ipfs/ping proposal → confirmations] [ping → pong]"
        );
        let _ = writeln!(
            t,
            "  target: fewer round trips than the stock setup: {}",
            verdict(matches!((lazy, stock), (Some(l), Some(s)) if l < s))
        );
        let _ = writeln!(
            t,
            "  (before these, both wait for the same SOCKS exchange with the local tor and for tor to open the stream:\n   \
             one round trip to the service on a warm circuit, the rendezvous on a new one; \"warm setup / warm RTT\"\n   \
             counts those too)"
        );

        let (p, td, tl) = self.per_connection();
        let _ = writeln!(
            t,
            "\nscale: {} concurrent dials to one listener ({} circuits): {} succeeded, all connected and pinged in {:.1} s",
            self.dials_tried,
            isolation_name(self.dial_isolation),
            self.dials_ok,
            self.dials_seconds
        );
        let _ = writeln!(
            t,
            "  RSS KiB before → after: this process (both torp2p ends) {} → {}, dialer tor {} → {}, listener tor {} → {}",
            self.rss_before.process,
            self.rss_after.process,
            self.rss_before.tor_dialer,
            self.rss_after.tor_dialer,
            self.rss_before.tor_listener,
            self.rss_after.tor_listener
        );
        let _ = writeln!(
            t,
            "  RSS per connection: process {p:.0} KiB, dialer tor {td:.0} KiB, listener tor {tl:.0} KiB, total {:.0} KiB",
            p + td + tl
        );
        if !self.codecs.is_empty() {
            let _ = writeln!(
                t,
                "\naddress codecs (criterion, median per call, quick settings; full: cargo bench -p torp2p-addr):"
            );
            for (name, ns) in &self.codecs {
                let _ = writeln!(t, "  {name:<46} {ns:>9.0} ns");
            }
        }
        t
    }

    pub(crate) fn json(&self, command: &str) -> String {
        let rt = |_: &[Setups; 3], i: usize| self.round_trips(i).json();
        let setups = |s: &[Setups; 3]| {
            format!(
                "{{\"raw\": {}, \"torp2p\": {}, \"stock\": {}}}",
                Self::setup_stats(&s[0]).json(),
                Self::setup_stats(&s[1]).json(),
                Self::setup_stats(&s[2]).json()
            )
        };
        let (p, td, tl) = self.per_connection();
        let unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let codecs = self
            .codecs
            .iter()
            .map(|(n, ns)| format!("    {}: {}", json_str(n), num(*ns)))
            .collect::<Vec<_>>()
            .join(",\n");
        let mut j = String::from("{\n");
        let mut field = |k: &str, v: String| {
            let _ = writeln!(j, "  \"{k}\": {v},");
        };
        field("command", json_str(command));
        field("unix_time", unix.to_string());
        field("network_tors", self.nodes.to_string());
        field("delay_ms", self.delay_ms.to_string());
        field("delay_via", json_str(self.delay_via));
        field("rtt_ratio", num(ratio(&self.rtt_p2p, &self.rtt_raw)));
        field(
            "rtt_ms",
            format!(
                "{{\"raw\": {}, \"torp2p\": {}, \"pair_ratio\": {}}}",
                self.rtt_raw.json(),
                self.rtt_p2p.json(),
                self.rtt_pair_ratio.json()
            ),
        );
        let cold = |i| Self::setup_stats(&self.cold[i]);
        let warm = |i| Self::setup_stats(&self.warm[i]);
        field("setup_ratio", num(ratio(&cold(1), &cold(0))));
        field("setup_ratio_stock", num(ratio(&cold(2), &cold(0))));
        field("setup_ratio_warm", num(ratio(&warm(1), &warm(0))));
        field("setup_ratio_warm_stock", num(ratio(&warm(2), &warm(0))));
        field("stock_setup", json_str(STOCK));
        field("setup_ms_new_circuit", setups(&self.cold));
        field("setup_ms_warm_circuit", setups(&self.warm));
        let over = |i: usize| {
            let r = self.warm[i].over_round_trips(self.rtt_raw.median);
            if r.n > 0 && r.median.is_finite() {
                format!("{:.3}", r.median)
            } else {
                "null".into()
            }
        };
        field(
            "setup_over_round_trips_warm",
            format!(
                "{{\"raw\": {}, \"torp2p\": {}, \"stock\": {}, \"what\": \"median per warm setup of (first answer - SOCKS reply) / (counted round trips x warm raw RTT)\"}}",
                over(0),
                over(1),
                over(2)
            ),
        );
        field(
            "setup_round_trips",
            format!(
                "{{\"raw\": {}, \"torp2p\": {}, \"stock\": {}, \"counted\": \"round trips the dialer waits for after the SOCKS reply\"}}",
                rt(&self.warm, 0),
                rt(&self.warm, 1),
                rt(&self.warm, 2)
            ),
        );
        field(
            "first_connection_ratio",
            num(ratio(&self.first_p2p, &self.first_raw)),
        );
        field(
            "first_connection_ms",
            format!(
                "{{\"raw\": {}, \"torp2p\": {}}}",
                self.first_raw.json(),
                self.first_p2p.json()
            ),
        );
        field(
            "throughput_ratio",
            num(ratio(&self.tput_p2p, &self.tput_raw)),
        );
        field(
            "download_throughput_ratio",
            num(ratio(&self.tput_down_p2p, &self.tput_down_raw)),
        );
        field(
            "download_throughput_mib_s",
            format!(
                "{{\"raw\": {}, \"torp2p\": {}, \"mib_per_transfer\": {}}}",
                self.tput_down_raw.json(),
                self.tput_down_p2p.json(),
                self.mib
            ),
        );
        field(
            "throughput_mib_s",
            format!(
                "{{\"raw\": {}, \"torp2p\": {}, \"torp2p_4_substreams\": {}, \"mib_per_transfer\": {}}}",
                self.tput_raw.json(),
                self.tput_p2p.json(),
                self.tput_p2p_4.json(),
                self.mib
            ),
        );
        field(
            "listen_ratio",
            num(ratio(&self.listen_p2p, &self.listen_raw)),
        );
        field(
            "listen_s",
            format!(
                "{{\"raw\": {}, \"torp2p\": {}, \"publication\": {}}}",
                self.listen_raw.json(),
                self.listen_p2p.json(),
                json_str(&self.publication)
            ),
        );
        field(
            "concurrent_dials",
            format!(
                "{{\"tried\": {}, \"succeeded\": {}, \"seconds\": {}, \"isolation\": \"{}\"}}",
                self.dials_tried,
                self.dials_ok,
                num(self.dials_seconds),
                isolation_name(self.dial_isolation)
            ),
        );
        let rss = |r: &Rss| {
            format!(
                "{{\"process\": {}, \"tor_dialer\": {}, \"tor_listener\": {}}}",
                r.process, r.tor_dialer, r.tor_listener
            )
        };
        field(
            "rss_kib",
            format!(
                "{{\"before\": {}, \"after\": {}}}",
                rss(&self.rss_before),
                rss(&self.rss_after)
            ),
        );
        field(
            "rss_per_connection_kib",
            format!(
                "{{\"process\": {}, \"tor_dialer\": {}, \"tor_listener\": {}, \"total\": {}}}",
                num(p),
                num(td),
                num(tl),
                num(p + td + tl)
            ),
        );
        let _ = writeln!(j, "  \"codecs_ns\": {{\n{codecs}\n  }}\n}}");
        j
    }
}

fn short(variant: &str) -> &str {
    variant.split(" (").next().unwrap_or(variant)
}

pub(crate) fn isolation_name(i: Isolation) -> &'static str {
    match i {
        Isolation::Shared => "shared",
        Isolation::PerPeer => "per-peer",
        _ => "per-connection",
    }
}
/// A string for JSON.
pub(crate) fn json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A number for JSON (no NaN or infinity there).
pub(crate) fn num(x: f64) -> String {
    if x.is_finite() {
        format!("{:.4}", x)
    } else {
        "null".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(json_str(r#"a "b" \c"#), r#""a \"b\" \\c""#);
        assert_eq!(json_str("x\ny"), r#""x\u000ay""#);
    }

    #[test]
    fn the_report_has_the_keys_the_issue_asks_for() {
        let json = Report::default().json("cargo xtask bench --quick");
        for key in [
            "rtt_ratio",
            "throughput_ratio",
            "setup_ratio",
            "setup_ratio_warm",
            "listen_ratio",
            "setup_round_trips",
            "concurrent_dials",
            "rss_per_connection_kib",
            "delay_ms",
            "first_connection_ratio",
            "first_connection_ms",
            "download_throughput_ratio",
            "download_throughput_mib_s",
            "stock_setup",
        ] {
            assert!(json.contains(&format!("\"{key}\": ")), "{key} missing");
        }
        // No NaN in JSON: an empty figure is null.
        assert!(json.contains("\"rtt_ratio\": null"));
        assert!(!json.contains("NaN"));
        assert!(json.contains("\"tried\": 0, \"succeeded\": 0"));
        assert!(json.contains("\"delay_ms\": 0,"));
        assert!(json.contains("\"first_connection_ratio\": null"));
        assert!(json.contains("\"download_throughput_ratio\": null"));
        let parsed: Result<serde_json::Value, _> = serde_json::from_str(&json);
        assert!(parsed.is_ok(), "not JSON: {parsed:?}\n{json}");
    }

    #[test]
    fn a_setup_is_measured_against_its_counted_round_trips() {
        // Two setups on a 100 ms circuit: one costs its two round trips after the SOCKS
        // reply (50 ms), the other stalls 90 ms more, as tor's Nagle made it.
        let warm = Setups {
            seconds: vec![0.250, 0.340, 0.300],
            stream: vec![0.050, 0.050, 0.050],
            connected: Vec::new(),
            round_trips: RoundTrips(vec![2, 2, 0]),
            failed: 0,
        };
        let over = warm.over_round_trips(100.0);
        assert_eq!(over.n, 2, "a setup with no counted round trip is left out");
        assert!((over.median - 1.225).abs() < 1e-9, "{}", over.median);
        let report = Report {
            rtt_raw: Stats::of(&[100.0]),
            warm: [Setups::default(), warm.clone(), Setups::default()],
            ..Report::default()
        };
        let table = report.table("x");
        assert!(
            table.contains("within 10 % of its counted round trips: NOT met"),
            "{table}"
        );
        let v: serde_json::Value = serde_json::from_str(&report.json("x")).unwrap_or_default();
        assert_eq!(v["setup_over_round_trips_warm"]["torp2p"], 1.225);
        assert!(v["setup_over_round_trips_warm"]["raw"].is_null());
        let fast = Setups {
            seconds: vec![0.250, 0.255],
            stream: vec![0.050, 0.050],
            round_trips: RoundTrips(vec![2, 2]),
            ..Setups::default()
        };
        let report = Report {
            warm: [Setups::default(), fast, Setups::default()],
            ..report
        };
        assert!(report.table("x").contains("counted round trips: met"));
    }

    #[test]
    fn the_new_figures_are_ratios_to_raw_tor() {
        let stats = |v: &[f64]| Stats::of(v);
        let report = Report {
            delay_ms: 25,
            delay_via: "netem",
            first_raw: stats(&[2000.0, 2200.0, 2400.0]),
            first_p2p: stats(&[2100.0, 2310.0, 2500.0]),
            tput_down_raw: stats(&[0.5, 0.4]),
            tput_down_p2p: stats(&[0.45, 0.36]),
            ..Report::default()
        };
        let json = report.json("cargo xtask bench --delay-ms 25");
        let v: serde_json::Value = serde_json::from_str(&json).unwrap_or_default();
        assert_eq!(v["delay_ms"], 25);
        let close = |key: &str, want: f64| {
            let got = v[key].as_f64().unwrap_or(f64::NAN);
            assert!((got - want).abs() < 1e-3, "{key}: {got}, not {want}");
        };
        close("first_connection_ratio", 1.05);
        close("download_throughput_ratio", 0.9);
        assert_eq!(v["first_connection_ms"]["raw"]["median"], 2200.0);
        let table = report.table("cargo xtask bench --delay-ms 25");
        assert!(table.contains("delays every packet by 25 ms (netem)"));
        assert_eq!(v["delay_via"], "netem");
        assert!(table.contains("first connection, fresh service (3)"));
        assert!(table.contains("throughput down (2 each)"));
        assert!(table.contains("stock (V1Lazy, V1 substreams)"));
        // No delay, no namespace line.
        assert!(!Report::default().table("x").contains("delays every packet"));
    }
}
