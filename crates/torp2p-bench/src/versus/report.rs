//! The report of `--backend arti`: the table on stdout and `target/bench/latest-arti.json`.
//!
//! Figures taken on kept circuits (round trips, setups on warm circuits, throughput) are
//! [`Spread`]s: the mean of the circuits' medians. One circuit can be 4× slower than another
//! (and arti's circuits are not C tor's), so a median of all samples together would land on
//! whichever circuit has more than half of them; the mean of circuit medians counts each circuit
//! once and moves smoothly with them. Setups on new circuits and listener readiness are plain
//! medians.

use std::fmt::Write as _;

use torp2p_socks::Isolation;

use super::{ARTI, C_TOR, RAW};
use crate::report::{Rss, Setups, isolation_name, json_str, num};
use crate::scale::Scale;
use crate::stats::{RoundTrips, Stats, ratio};

/// Every figure of a `--backend arti` run; `[_; 3]` are raw Tor, torp2p over C tor, torp2p
/// over arti, and `Vec`s have one entry per circuit (listener).
#[derive(Debug, Default)]
pub(crate) struct Report {
    pub(crate) nodes: usize,
    pub(crate) circuits: usize,
    /// Milliseconds.
    pub(crate) rtt: Vec<[Stats; 3]>,
    pub(crate) cold: Vec<[Setups; 3]>,
    pub(crate) warm: Vec<[Setups; 3]>,
    /// MiB/s.
    pub(crate) tput: Vec<[Stats; 3]>,
    pub(crate) mib: usize,
    /// Seconds.
    pub(crate) listen: [Stats; 3],
    pub(crate) publication: String,
    pub(crate) dials_tried: usize,
    pub(crate) dial_isolation: Isolation,
    /// The concurrent dials over arti, then over C tor.
    pub(crate) scale: [Option<Scale>; 2],
    /// Seconds each arti client took to bootstrap (both at once).
    pub(crate) bootstrap_s: Vec<f64>,
    /// The size of this (optimized, with the feature `arti`) binary.
    pub(crate) binary_bytes: u64,
}

/// A figure over circuits: the mean of the circuits' medians, and the lowest and highest of
/// them.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Spread {
    /// Samples in all.
    n: usize,
    circuits: usize,
    mean: f64,
    lowest: f64,
    highest: f64,
}

impl Spread {
    /// Over the circuits that have samples.
    fn of<'a>(per_circuit: impl IntoIterator<Item = &'a Stats>) -> Self {
        let medians: Vec<(usize, f64)> = per_circuit
            .into_iter()
            .filter(|s| s.n > 0)
            .map(|s| (s.n, s.median))
            .collect();
        if medians.is_empty() {
            return Spread::default();
        }
        let values = medians.iter().map(|m| m.1);
        Spread {
            n: medians.iter().map(|m| m.0).sum(),
            circuits: medians.len(),
            mean: values.clone().sum::<f64>() / medians.len() as f64,
            lowest: values.clone().fold(f64::INFINITY, f64::min),
            highest: values.fold(f64::NEG_INFINITY, f64::max),
        }
    }

    fn show(&self, unit: &str, d: usize) -> String {
        if self.circuits == 0 {
            return "-".into();
        }
        format!(
            "{:.d$} {unit} [{:.d$}–{:.d$}]",
            self.mean, self.lowest, self.highest
        )
    }

    fn json(&self) -> String {
        format!(
            "{{\"n\": {}, \"circuits\": {}, \"mean_of_circuit_medians\": {}, \"lowest_circuit\": {}, \"highest_circuit\": {}}}",
            self.n,
            self.circuits,
            num(self.mean),
            num(self.lowest),
            num(self.highest)
        )
    }

    /// `self`'s mean over `other`'s (NaN when either has none).
    fn ratio(&self, other: &Spread) -> f64 {
        if self.circuits > 0 && other.circuits > 0 && other.mean > 0.0 {
            self.mean / other.mean
        } else {
            f64::NAN
        }
    }
}

/// A table cell and the value its ratios are taken of.
#[derive(Debug, Clone, Copy)]
enum Figure {
    Median(Stats),
    Spread(Spread),
}

impl Figure {
    fn show(&self, unit: &str, d: usize) -> String {
        match self {
            Figure::Median(s) if s.n == 0 => "-".into(),
            Figure::Median(s) => s.show(unit, d),
            Figure::Spread(s) => s.show(unit, d),
        }
    }

    fn ratio(&self, other: &Figure) -> f64 {
        match (self, other) {
            (Figure::Median(a), Figure::Median(b)) => ratio(a, b),
            (Figure::Spread(a), Figure::Spread(b)) => a.ratio(b),
            _ => f64::NAN,
        }
    }

    fn json(&self) -> String {
        match self {
            Figure::Median(s) => s.json(),
            Figure::Spread(s) => s.json(),
        }
    }
}

/// RSS growth per connection in KiB: this process, the dialer's and the listener's C tor.
#[derive(Debug, Clone, Copy, Default)]
struct PerConnection {
    process: f64,
    tor_dialer: f64,
    tor_listener: f64,
}

impl PerConnection {
    fn of(s: &Scale) -> Self {
        let n = s.ok.max(1) as f64;
        let d = |a: u64, b: u64| (a as f64 - b as f64) / n;
        Self {
            process: d(s.after.process, s.before.process),
            tor_dialer: d(s.after.tor_dialer, s.before.tor_dialer),
            tor_listener: d(s.after.tor_listener, s.before.tor_listener),
        }
    }

    fn all(&self) -> f64 {
        self.process + self.tor_dialer + self.tor_listener
    }
}

/// The setup figures of one side, milliseconds: to the tor stream, to the libp2p connection
/// (`ConnectionEstablished`), to the first answer (echo or ping).
#[derive(Debug, Clone, Copy)]
struct SetupFigures {
    stream: Figure,
    connected: Figure,
    first: Figure,
}

impl SetupFigures {
    /// Setups on new circuits: medians of all of them.
    fn pooled(per_circuit: &[[Setups; 3]], side: usize) -> Self {
        let all = |f: fn(&Setups) -> &Vec<f64>| {
            let v: Vec<f64> = per_circuit
                .iter()
                .flat_map(|c| f(&c[side]).iter().copied())
                .collect();
            Figure::Median(Stats::of(&v).scaled(1000.0))
        };
        Self {
            stream: all(|s| &s.stream),
            connected: all(|s| &s.connected),
            first: all(|s| &s.seconds),
        }
    }

    /// Setups on kept circuits: over the circuits.
    fn spread(per_circuit: &[[Setups; 3]], side: usize) -> Self {
        let each = |f: fn(&Setups) -> &Vec<f64>| {
            let stats: Vec<Stats> = per_circuit
                .iter()
                .map(|c| Stats::of(f(&c[side])).scaled(1000.0))
                .collect();
            Figure::Spread(Spread::of(&stats))
        };
        Self {
            stream: each(|s| &s.stream),
            connected: each(|s| &s.connected),
            first: each(|s| &s.seconds),
        }
    }

    fn json(&self, libp2p: bool) -> String {
        let connected = if libp2p {
            format!(", \"connected\": {}", self.connected.json())
        } else {
            String::new()
        };
        format!(
            "{{\"stream\": {}{connected}, \"first_answer\": {}}}",
            self.stream.json(),
            self.first.json()
        )
    }
}

const SIDES: [&str; 3] = ["raw", "c_tor", "arti"];

impl Report {
    fn rtt(&self) -> [Figure; 3] {
        [RAW, C_TOR, ARTI].map(|i| Figure::Spread(Spread::of(self.rtt.iter().map(|c| &c[i]))))
    }

    fn tput(&self) -> [Figure; 3] {
        [RAW, C_TOR, ARTI].map(|i| Figure::Spread(Spread::of(self.tput.iter().map(|c| &c[i]))))
    }

    fn listen(&self) -> [Figure; 3] {
        self.listen.map(Figure::Median)
    }

    fn cold(&self) -> [SetupFigures; 3] {
        [RAW, C_TOR, ARTI].map(|i| SetupFigures::pooled(&self.cold, i))
    }

    fn warm(&self) -> [SetupFigures; 3] {
        [RAW, C_TOR, ARTI].map(|i| SetupFigures::spread(&self.warm, i))
    }

    /// Setups that failed, per side.
    fn failed(&self, side: usize) -> usize {
        self.cold
            .iter()
            .chain(&self.warm)
            .map(|c| c[side].failed)
            .sum()
    }

    /// The round trips counted for a side, on new and warm circuits.
    fn round_trips(&self, side: usize) -> RoundTrips {
        RoundTrips(
            self.cold
                .iter()
                .chain(&self.warm)
                .flat_map(|c| c[side].round_trips.0.iter().copied())
                .collect(),
        )
    }

    /// RSS growth per connection: over arti (this process: both arti clients and both torp2p
    /// ends) and over C tor (both tors and this process).
    fn memory(&self) -> [Option<PerConnection>; 2] {
        self.scale
            .each_ref()
            .map(|s| s.as_ref().map(PerConnection::of))
    }

    /// arti's memory per connection over C tor's: this process's growth against the growth
    /// of this process and both tors.
    fn memory_ratio(&self) -> f64 {
        match self.memory() {
            [Some(a), Some(c)] if c.all() > 0.0 => a.process / c.all(),
            _ => f64::NAN,
        }
    }

    pub(crate) fn table(&self, command: &str) -> String {
        let mut t = String::new();
        let _ = writeln!(
            t,
            "\n{command}: torp2p over arti against raw Tor and torp2p over C tor, on a private network\n\
             ({} tors + 2 C tor clients + 2 arti clients in this process, 127.0.0.1)",
            self.nodes
        );
        let _ = writeln!(
            t,
            "all three sides taken in turn in this run, spread over {} circuits each (raw Tor and C tor share theirs,\n\
             arti builds its own); on kept circuits (*): mean of the circuits' medians [lowest–highest circuit],\n\
             otherwise median [p25–p75]; ratios: C/raw = torp2p over C tor / raw Tor, a/raw = arti / raw, a/C = arti / C tor\n",
            self.circuits
        );
        let _ = writeln!(
            t,
            "{:<34} {:>22} {:>22} {:>22} {:>6} {:>6} {:>6}",
            "what", "raw Tor", "torp2p/C tor", "torp2p/arti", "C/raw", "a/raw", "a/C"
        );
        let row = |t: &mut String, what: &str, f: [Option<Figure>; 3], unit: &str, d: usize| {
            let show = |x: &Option<Figure>| x.map(|x| x.show(unit, d)).unwrap_or_default();
            let r = |a: &Option<Figure>, b: &Option<Figure>| match (a, b) {
                (Some(a), Some(b)) => format!("{:.2}", a.ratio(b)),
                _ => String::new(),
            };
            let _ = writeln!(
                t,
                "{what:<34} {:>22} {:>22} {:>22} {:>6} {:>6} {:>6}",
                show(&f[RAW]),
                show(&f[C_TOR]),
                show(&f[ARTI]),
                r(&f[C_TOR], &f[RAW]),
                r(&f[ARTI], &f[RAW]),
                r(&f[ARTI], &f[C_TOR]),
            );
        };
        let samples = |f: &Figure| match f {
            Figure::Median(s) => s.n,
            Figure::Spread(s) => s.n,
        };
        let rtt = self.rtt();
        row(
            &mut t,
            &format!("round trip* ({} each)", samples(&rtt[ARTI])),
            rtt.map(Some),
            "ms",
            1,
        );
        for (label, f) in [
            ("new circuits", self.cold()),
            ("warm circuit*", self.warm()),
        ] {
            row(
                &mut t,
                &format!("setup, {label} ({}): tor stream", samples(&f[ARTI].first)),
                f.map(|m| Some(m.stream)),
                "ms",
                0,
            );
            row(
                &mut t,
                "  connected (noise, yamux)",
                [None, Some(f[C_TOR].connected), Some(f[ARTI].connected)],
                "ms",
                0,
            );
            row(
                &mut t,
                "  first echo / first ping",
                f.map(|m| Some(m.first)),
                "ms",
                0,
            );
        }
        let tput = self.tput();
        row(
            &mut t,
            &format!(
                "throughput*, {} MiB ({} each)",
                self.mib,
                samples(&tput[ARTI])
            ),
            tput.map(Some),
            "MiB/s",
            2,
        );
        row(
            &mut t,
            &format!("listener ready ({} each)", self.listen[ARTI].n),
            self.listen.map(|s| Some(Figure::Median(s.scaled(1000.0)))),
            "ms",
            0,
        );
        let _ = writeln!(
            t,
            "  (publication policy: {}; arti's listeners are ready when arti reports the service running)",
            self.publication
        );

        let _ = writeln!(t, "\nper circuit (medians: raw / C tor / arti):");
        for (i, (r, p)) in self.rtt.iter().zip(&self.tput).enumerate() {
            let _ = writeln!(
                t,
                "  circuit {}: round trip {:.1} / {:.1} / {:.1} ms, throughput {:.2} / {:.2} / {:.2} MiB/s",
                i + 1,
                r[RAW].median,
                r[C_TOR].median,
                r[ARTI].median,
                p[RAW].median,
                p[C_TOR].median,
                p[ARTI].median
            );
        }

        let failed: Vec<String> = (0..3)
            .filter(|&i| self.failed(i) > 0)
            .map(|i| format!("{}: {}", SIDES[i], self.failed(i)))
            .collect();
        let _ = writeln!(
            t,
            "\nconnection setup, round trips after the tor stream opened: raw {}, C tor {}, arti {}{}",
            self.round_trips(RAW).show(),
            self.round_trips(C_TOR).show(),
            self.round_trips(ARTI).show(),
            if failed.is_empty() {
                String::new()
            } else {
                format!(" (setups failed: {})", failed.join(", "))
            }
        );

        let _ = writeln!(
            t,
            "\nscale: {} concurrent dials to one listener ({} circuits), each connected and pinged once:",
            self.dials_tried,
            isolation_name(self.dial_isolation)
        );
        let memory = self.memory();
        for (i, name) in ["arti", "C tor"].iter().enumerate() {
            let (Some(s), Some(m)) = (&self.scale[i], memory[i]) else {
                continue;
            };
            let _ = writeln!(
                t,
                "  {name:<6} {} succeeded in {:.1} s; RSS KiB before → after: this process {} → {}, dialer tor {} → {}, listener tor {} → {}",
                s.ok,
                s.seconds,
                s.before.process,
                s.after.process,
                s.before.tor_dialer,
                s.after.tor_dialer,
                s.before.tor_listener,
                s.after.tor_listener
            );
            let _ = writeln!(
                t,
                "         per connection: this process {:.0} KiB, dialer tor {:.0} KiB, listener tor {:.0} KiB",
                m.process, m.tor_dialer, m.tor_listener
            );
        }
        if let [Some(a), Some(c)] = memory {
            let _ = writeln!(
                t,
                "  memory per connection: arti {:.0} KiB (this process) against C tor {:.0} KiB (both tors and this process): {:.2}",
                a.process,
                c.all(),
                self.memory_ratio()
            );
        }
        let _ = writeln!(
            t,
            "\narti bootstrap (both clients at once): {} s; this binary: {:.1} MiB",
            self.bootstrap_s
                .iter()
                .map(|s| format!("{s:.1}"))
                .collect::<Vec<_>>()
                .join(" and "),
            self.binary_bytes as f64 / (1 << 20) as f64
        );
        t
    }

    pub(crate) fn json(&self, command: &str) -> String {
        let unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let (rtt, tput, listen) = (self.rtt(), self.tput(), self.listen());
        let (cold, warm) = (self.cold(), self.warm());
        let three = |f: &[Figure; 3]| {
            format!(
                "{{\"raw\": {}, \"c_tor\": {}, \"arti\": {}}}",
                f[RAW].json(),
                f[C_TOR].json(),
                f[ARTI].json()
            )
        };
        let per_circuit = |v: &[[Stats; 3]]| {
            let each = v
                .iter()
                .map(|s| {
                    format!(
                        "{{\"raw\": {}, \"c_tor\": {}, \"arti\": {}}}",
                        s[RAW].json(),
                        s[C_TOR].json(),
                        s[ARTI].json()
                    )
                })
                .collect::<Vec<_>>()
                .join(", ");
            format!("[{each}]")
        };
        let setups = |m: &[SetupFigures; 3]| {
            format!(
                "{{\"raw\": {}, \"c_tor\": {}, \"arti\": {}}}",
                m[RAW].json(false),
                m[C_TOR].json(true),
                m[ARTI].json(true)
            )
        };
        let dials = |s: &Option<Scale>| {
            let (ok, secs) = s.as_ref().map_or((0, f64::NAN), |s| (s.ok, s.seconds));
            format!(
                "{{\"tried\": {}, \"succeeded\": {ok}, \"seconds\": {}, \"isolation\": \"{}\"}}",
                self.dials_tried,
                num(secs),
                isolation_name(self.dial_isolation)
            )
        };
        let rss = |r: &Rss| {
            format!(
                "{{\"process\": {}, \"tor_dialer\": {}, \"tor_listener\": {}}}",
                r.process, r.tor_dialer, r.tor_listener
            )
        };
        let before_after = |s: &Option<Scale>| match s {
            Some(s) => format!(
                "{{\"before\": {}, \"after\": {}}}",
                rss(&s.before),
                rss(&s.after)
            ),
            None => "null".into(),
        };
        let memory = self.memory();
        let per_connection = |m: &Option<PerConnection>, counted: fn(&PerConnection) -> f64| match m
        {
            Some(m) => format!(
                "{{\"process\": {}, \"tor_dialer\": {}, \"tor_listener\": {}, \"counted\": {}}}",
                num(m.process),
                num(m.tor_dialer),
                num(m.tor_listener),
                num(counted(m))
            ),
            None => "null".into(),
        };
        let r = |a: &Figure, b: &Figure| num(a.ratio(b));

        let mut j = String::from("{\n");
        let mut field = |k: &str, v: String| {
            let _ = writeln!(j, "  \"{k}\": {v},");
        };
        field("command", json_str(command));
        field("unix_time", unix.to_string());
        field("backend", json_str("arti"));
        field("network_tors", self.nodes.to_string());
        field("circuits", self.circuits.to_string());
        // The keys of latest.json, for torp2p over arti against raw Tor.
        field("rtt_ratio", r(&rtt[ARTI], &rtt[RAW]));
        field("throughput_ratio", r(&tput[ARTI], &tput[RAW]));
        field("setup_ratio", r(&cold[ARTI].first, &cold[RAW].first));
        field("setup_ratio_warm", r(&warm[ARTI].first, &warm[RAW].first));
        field("listen_ratio", r(&listen[ARTI], &listen[RAW]));
        field("concurrent_dials", dials(&self.scale[0]));
        field(
            "arti_vs_c_tor",
            format!(
                "{{\"connect_ratio\": {}, \"connect_ratio_warm\": {}, \"stream_ratio\": {}, \"stream_ratio_warm\": {}, \
                 \"first_ping_ratio\": {}, \"first_ping_ratio_warm\": {}, \"rtt_ratio\": {}, \"throughput_ratio\": {}, \
                 \"listen_ratio\": {}, \"memory_per_connection_ratio\": {}}}",
                r(&cold[ARTI].connected, &cold[C_TOR].connected),
                r(&warm[ARTI].connected, &warm[C_TOR].connected),
                r(&cold[ARTI].stream, &cold[C_TOR].stream),
                r(&warm[ARTI].stream, &warm[C_TOR].stream),
                r(&cold[ARTI].first, &cold[C_TOR].first),
                r(&warm[ARTI].first, &warm[C_TOR].first),
                r(&rtt[ARTI], &rtt[C_TOR]),
                r(&tput[ARTI], &tput[C_TOR]),
                r(&listen[ARTI], &listen[C_TOR]),
                num(self.memory_ratio())
            ),
        );
        field(
            "c_tor_vs_raw",
            format!(
                "{{\"rtt_ratio\": {}, \"throughput_ratio\": {}, \"setup_ratio\": {}, \"setup_ratio_warm\": {}, \"listen_ratio\": {}}}",
                r(&rtt[C_TOR], &rtt[RAW]),
                r(&tput[C_TOR], &tput[RAW]),
                r(&cold[C_TOR].first, &cold[RAW].first),
                r(&warm[C_TOR].first, &warm[RAW].first),
                r(&listen[C_TOR], &listen[RAW])
            ),
        );
        field(
            "rtt_ms",
            format!(
                "{{\"over_circuits\": {}, \"per_circuit\": {}}}",
                three(&rtt),
                per_circuit(&self.rtt)
            ),
        );
        field("setup_ms_new_circuit", setups(&cold));
        field("setup_ms_warm_circuit", setups(&warm));
        field(
            "setup_round_trips",
            format!(
                "{{\"raw\": {}, \"c_tor\": {}, \"arti\": {}, \"counted\": \"round trips the dialer waits for after the tor stream opened\"}}",
                self.round_trips(RAW).json(),
                self.round_trips(C_TOR).json(),
                self.round_trips(ARTI).json()
            ),
        );
        field(
            "setup_failed",
            format!(
                "{{\"raw\": {}, \"c_tor\": {}, \"arti\": {}}}",
                self.failed(RAW),
                self.failed(C_TOR),
                self.failed(ARTI)
            ),
        );
        field(
            "throughput_mib_s",
            format!(
                "{{\"over_circuits\": {}, \"per_circuit\": {}, \"mib_per_transfer\": {}}}",
                three(&tput),
                per_circuit(&self.tput),
                self.mib
            ),
        );
        field(
            "listen_s",
            format!(
                "{{\"raw\": {}, \"c_tor\": {}, \"arti\": {}, \"publication\": {}}}",
                self.listen[RAW].json(),
                self.listen[C_TOR].json(),
                self.listen[ARTI].json(),
                json_str(&self.publication)
            ),
        );
        field("concurrent_dials_c_tor", dials(&self.scale[1]));
        field(
            "rss_kib",
            format!(
                "{{\"arti\": {}, \"c_tor\": {}}}",
                before_after(&self.scale[0]),
                before_after(&self.scale[1])
            ),
        );
        field(
            "rss_per_connection_kib",
            format!(
                "{{\"arti\": {}, \"c_tor\": {}, \"counted\": \"arti: this process; C tor: this process and both tors\"}}",
                per_connection(&memory[0], |m| m.process),
                per_connection(&memory[1], PerConnection::all)
            ),
        );
        field(
            "arti_bootstrap_s",
            format!(
                "[{}]",
                self.bootstrap_s
                    .iter()
                    .map(|s| num(*s))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
        let _ = writeln!(j, "  \"binary_bytes\": {}\n}}", self.binary_bytes);
        j
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_report_has_the_keys_of_latest_json_and_the_comparisons() {
        let json = Report::default().json("cargo xtask bench --backend arti");
        for key in [
            "rtt_ratio",
            "throughput_ratio",
            "setup_ratio",
            "setup_ratio_warm",
            "listen_ratio",
            "concurrent_dials",
            "arti_vs_c_tor",
            "c_tor_vs_raw",
            "rss_per_connection_kib",
            "binary_bytes",
        ] {
            assert!(json.contains(&format!("\"{key}\": ")), "{key} missing");
        }
        assert!(!json.contains("NaN"));
        let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(parsed["backend"], "arti");
        for key in [
            "connect_ratio",
            "first_ping_ratio",
            "rtt_ratio",
            "memory_per_connection_ratio",
        ] {
            assert!(parsed["arti_vs_c_tor"][key].is_null(), "{key}");
        }
    }

    #[test]
    fn a_spread_counts_each_circuit_once() {
        let stats = |v: &[f64]| Stats::of(v);
        // Two circuits, one four times slower, with 3 and 1 samples: the mean of their
        // medians, not the median of all four samples (which would be the fast one's).
        let s = Spread::of(&[stats(&[10.0, 11.0, 12.0]), stats(&[44.0]), Stats::default()]);
        assert_eq!((s.n, s.circuits), (4, 2));
        assert_eq!((s.mean, s.lowest, s.highest), (27.5, 11.0, 44.0));
        assert_eq!(s.show("ms", 1), "27.5 ms [11.0–44.0]");
        let half = Spread::of(&[stats(&[5.5]), stats(&[22.0])]);
        assert_eq!(s.ratio(&half), 2.0);
        assert!(s.ratio(&Spread::default()).is_nan());
        assert_eq!(Spread::default().show("ms", 1), "-");
    }

    #[test]
    fn memory_per_connection_counts_the_tors_for_c_tor_only() {
        let scale = |process: (u64, u64), tors: (u64, u64)| Scale {
            ok: 10,
            seconds: 1.0,
            before: Rss {
                process: process.0,
                tor_dialer: tors.0,
                tor_listener: tors.0,
            },
            after: Rss {
                process: process.1,
                tor_dialer: tors.1,
                tor_listener: tors.1,
            },
        };
        let report = Report {
            scale: [
                Some(scale((1000, 2000), (500, 600))),
                Some(scale((1000, 1100), (500, 700))),
            ],
            ..Report::default()
        };
        // arti: 100 KiB per connection in this process (the tors' growth is not arti's);
        // C tor: 10 + 20 + 20.
        assert!((report.memory_ratio() - 2.0).abs() < 1e-9);
        assert!(report.table("x").contains("arti 100 KiB"));
    }
}
