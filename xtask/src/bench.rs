//! `cargo xtask bench`: torp2p against raw Tor, side by side, on one private Tor network.
//!
//! The physical limit of a Tor transport is Tor itself: a plain SOCKS stream to the same onion
//! service over the same network. Every figure is therefore taken twice in the same run, once
//! over a raw SOCKS stream (the baseline) and once over torp2p, interleaved sample by sample so
//! that the noise of a shared machine hits both, and reported as a ratio against the baseline.
//! The raw streams go to the torp2p listener's own onion service, with the isolation key of
//! torp2p's dials, so that both ride the same tor circuit (the listener tells them apart by
//! their first byte, before the libp2p upgrade); circuits differ a lot from one another (one
//! 12 ms, another 50 ms or 96 ms per round trip on the same network), so this matters.
//!
//! - round trip: a 64-byte echo on a warm SOCKS stream vs a libp2p ping (`libp2p-ping` in a
//!   swarm) on a warm torp2p connection;
//! - connection setup: SOCKS connect + first echo vs `swarm.dial` → first ping, on new circuits
//!   and on warm ones, for torp2p as it is set up (multistream-select `V1Lazy` for the
//!   connection and for substreams) and for a stock `V1` setup; the round trips each needs are
//!   counted on the stream itself;
//! - throughput: bytes over a SOCKS stream vs over a yamux substream of a torp2p connection;
//! - listener readiness: ADD_ONION → descriptors uploaded vs `listen_on` → `NewAddress`;
//! - scale: concurrent dials to one listener, with the RSS of this process and of both tors;
//! - and the criterion micro-benchmarks of the address codecs (`cargo bench -p torp2p-addr`).
//!
//! The figures go to stdout as a table and to `target/bench/latest.json`. Nothing here asserts
//! a time: this is not part of `cargo xtask test`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use libp2p_core::Multiaddr;
use torp2p_addr::{DialTarget, OnionSocketAddr};
use torp2p_daemon::{LocalAddr, OnionKey, OnionServiceOptions, PortMapping, Publication, Tor};
use torp2p_socks::{Isolation, LocalAddr as Proxy};
use torp2p_testnet::TestNet;

/// Whether `--trace` was given.
static TRACE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The longest wait for one step (a dial, a publication, a transfer).
const STEP: Duration = Duration::from_secs(120);
/// The virtual port of the torp2p listener.
const PORT: u16 = 4001;
/// The first byte of a raw benchmark stream that wants an echo. The raw baseline is served by
/// the torp2p listener's own onion service, so that with the same isolation key both use one
/// circuit: its streams start with this byte (or [`RAW_SINK`]), libp2p's with multistream-select's
/// length prefix (0x13), and the listener tells them apart before the libp2p upgrade.
const RAW_ECHO: u8 = b'E';
/// The first byte of a raw benchmark stream to the sink.
const RAW_SINK: u8 = b'S';

const USAGE: &str = "\
usage: cargo xtask bench [options]

  --samples N        round-trip pairs (raw echo / libp2p ping), default 40
  --setup N          connection setups per variant on new circuits, default 8 (and 2N on warm ones)
  --throughput N     transfers per side, default 4
  --mib N            MiB per transfer, default 20
  --listen N         listener readiness pairs, default 5
  --dials N          concurrent dials to one listener, default 100
  --dial-isolation shared|per-peer|per-connection
                     circuits of the concurrent dials, default per-connection (one each)
  --no-criterion     skip the codec micro-benchmarks
  --trace            print each connection setup's reads and writes (ms after the SOCKS reply)
  --quick            small counts everywhere (a smoke run; figures are rough)
  --unoptimized      run in this (debug) build instead of re-running with --release
";

/// What to run, from the command line.
#[derive(Debug, Clone)]
struct Opts {
    samples: usize,
    setup: usize,
    throughput: usize,
    mib: usize,
    listen: usize,
    dials: usize,
    dial_isolation: Isolation,
    criterion: bool,
    trace: bool,
    quick: bool,
    unoptimized: bool,
}

impl Opts {
    fn parse(args: &[String]) -> Result<Self, String> {
        let mut o = Opts {
            samples: 40,
            setup: 8,
            throughput: 4,
            mib: 20,
            listen: 5,
            dials: 100,
            dial_isolation: Isolation::PerConnection,
            criterion: true,
            trace: false,
            quick: false,
            unoptimized: false,
        };
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let mut number = |name: &str| -> Result<usize, String> {
                let v = it
                    .next()
                    .ok_or_else(|| format!("{name} needs a number\n\n{USAGE}"))?;
                v.parse::<usize>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| format!("{name} takes a positive number, not `{v}`"))
            };
            match flag.as_str() {
                "--samples" => o.samples = number("--samples")?,
                "--setup" => o.setup = number("--setup")?,
                "--throughput" => o.throughput = number("--throughput")?,
                "--mib" => o.mib = number("--mib")?,
                "--listen" => o.listen = number("--listen")?,
                "--dials" => o.dials = number("--dials")?,
                "--dial-isolation" => {
                    o.dial_isolation = match it.next().map(String::as_str) {
                        Some("shared") => Isolation::Shared,
                        Some("per-peer") => Isolation::PerPeer,
                        Some("per-connection") => Isolation::PerConnection,
                        other => {
                            return Err(format!(
                                "--dial-isolation takes shared, per-peer or per-connection, not {other:?}"
                            ));
                        }
                    }
                }
                "--no-criterion" => o.criterion = false,
                "--trace" => o.trace = true,
                "--unoptimized" => o.unoptimized = true,
                "--quick" => {
                    o.quick = true;
                    o.samples = 10;
                    o.setup = 3;
                    o.throughput = 2;
                    o.mib = 4;
                    o.listen = 2;
                    o.dials = 20;
                }
                "--help" | "-h" => return Err(USAGE.into()),
                other => return Err(format!("bench: unknown option `{other}`\n\n{USAGE}")),
            }
        }
        Ok(o)
    }
}

/// `cargo xtask bench [options]`.
pub(crate) fn bench(args: &[String]) -> Result<(), String> {
    if args.iter().any(|a| a == "--help" || a == "-h") {
        print!("{USAGE}");
        return Ok(());
    }
    let opts = Opts::parse(args)?;
    if cfg!(debug_assertions) && !opts.unoptimized {
        // noise and yamux run in this process: in a debug build they, not tor, would be measured.
        eprintln!("xtask bench: re-running optimized (the libp2p side runs in this process)");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut full = vec!["run", "--release", "--package", "xtask", "--", "bench"];
        full.extend(args.iter().map(String::as_str));
        return crate::run(&cargo, &full);
    }
    TRACE.store(opts.trace, std::sync::atomic::Ordering::Relaxed);
    let started = Instant::now();
    let codecs = if opts.criterion {
        criterion(opts.quick)?
    } else {
        Vec::new()
    };
    let rt = crate::e2e::runtime()?;
    // On the runtime's workers, as an application's tasks are (not on this thread).
    let network = opts.clone();
    let report = rt.block_on(async move {
        tokio::spawn(async move { network_bench(&network).await })
            .await
            .map_err(|e| format!("the benchmark task failed: {e}"))?
    })?;
    let report = Report { codecs, ..report };
    let command = std::iter::once("cargo xtask bench".to_string())
        .chain(args.iter().cloned())
        .collect::<Vec<_>>()
        .join(" ");
    print!("{}", report.table(&command));
    let json = report.json(&command);
    let dir = crate::root().join("target").join("bench");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let path = dir.join("latest.json");
    std::fs::write(&path, json).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    println!(
        "wrote {} ({:.0} s in all)",
        path.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Runs the codec micro-benchmarks with short settings and reads criterion's medians (ns).
fn criterion(quick: bool) -> Result<Vec<(String, f64)>, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let (warm, measure) = if quick { ("0.1", "0.3") } else { ("0.5", "2") };
    crate::run(
        &cargo,
        &[
            "bench",
            "--package",
            "torp2p-addr",
            "--bench",
            "codecs",
            "--",
            "--warm-up-time",
            warm,
            "--measurement-time",
            measure,
        ],
    )?;
    let base = crate::root().join("target").join("criterion");
    let mut found = Vec::new();
    for group in ["parse", "format", "classify"] {
        let Ok(entries) = std::fs::read_dir(base.join(group)) else {
            continue;
        };
        for entry in entries.flatten() {
            let estimates = entry.path().join("new").join("estimates.json");
            let Ok(text) = std::fs::read_to_string(&estimates) else {
                continue;
            };
            if let Some(ns) = median_estimate(&text) {
                // criterion turns `/` into `_` in directory names; the benchmark names have no `_`.
                let name = entry.file_name().to_string_lossy().replace('_', "/");
                found.push((format!("{group}/{name}"), ns));
            }
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(found)
}

/// The median's point estimate in criterion's `estimates.json`.
fn median_estimate(json: &str) -> Option<f64> {
    let rest = &json[json.find("\"median\"")?..];
    let rest = &rest[rest.find("\"point_estimate\":")? + "\"point_estimate\":".len()..];
    let end = rest.find([',', '}'])?;
    rest[..end].trim().parse().ok()
}

// ---------------------------------------------------------------------------------------------
// Statistics and the report.

/// Median and spread of some samples.
#[derive(Debug, Clone, Copy, Default)]
struct Stats {
    n: usize,
    median: f64,
    p25: f64,
    p75: f64,
    min: f64,
    max: f64,
}

impl Stats {
    fn of(samples: &[f64]) -> Self {
        let mut v: Vec<f64> = samples.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return Stats::default();
        }
        v.sort_by(f64::total_cmp);
        let q = |p: f64| {
            let pos = p * (v.len() - 1) as f64;
            let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
            v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
        };
        Stats {
            n: v.len(),
            median: q(0.5),
            p25: q(0.25),
            p75: q(0.75),
            min: v[0],
            max: v[v.len() - 1],
        }
    }

    fn scaled(self, k: f64) -> Self {
        Stats {
            median: self.median * k,
            p25: self.p25 * k,
            p75: self.p75 * k,
            min: self.min * k,
            max: self.max * k,
            ..self
        }
    }

    fn show(&self, unit: &str, decimals: usize) -> String {
        format!(
            "{:.d$} {unit} [{:.d$}–{:.d$}]",
            self.median,
            self.p25,
            self.p75,
            d = decimals
        )
    }

    fn json(&self) -> String {
        format!(
            "{{\"n\": {}, \"median\": {}, \"p25\": {}, \"p75\": {}, \"min\": {}, \"max\": {}}}",
            self.n,
            num(self.median),
            num(self.p25),
            num(self.p75),
            num(self.min),
            num(self.max)
        )
    }
}

/// A string for JSON.
fn json_str(s: &str) -> String {
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
fn num(x: f64) -> String {
    if x.is_finite() {
        format!("{:.4}", x)
    } else {
        "null".into()
    }
}

fn ratio(a: &Stats, b: &Stats) -> f64 {
    if b.median > 0.0 && a.n > 0 {
        a.median / b.median
    } else {
        f64::NAN
    }
}

/// Round trips the dialer waited for after the SOCKS reply, one count per setup sample.
#[derive(Debug, Clone, Default)]
struct RoundTrips(Vec<u32>);

impl RoundTrips {
    /// The count most samples agree on (they all should).
    fn typical(&self) -> Option<u32> {
        let mut v = self.0.clone();
        v.sort_unstable();
        let mut best: Option<(u32, usize)> = None;
        for chunk in v.chunk_by(|a, b| a == b) {
            if best.is_none_or(|(_, n)| chunk.len() > n) {
                best = Some((chunk[0], chunk.len()));
            }
        }
        best.map(|(x, _)| x)
    }

    fn show(&self) -> String {
        match (self.typical(), self.0.iter().min(), self.0.iter().max()) {
            (Some(t), Some(lo), Some(hi)) if lo == hi => t.to_string(),
            (Some(t), Some(lo), Some(hi)) => format!("{t} (seen {lo}–{hi})"),
            _ => "-".into(),
        }
    }

    fn json(&self) -> String {
        self.typical()
            .map(|t| t.to_string())
            .unwrap_or_else(|| "null".into())
    }
}

/// The setups of one variant: seconds and counted round trips.
#[derive(Debug, Clone, Default)]
struct Setups {
    seconds: Vec<f64>,
    round_trips: RoundTrips,
    failed: usize,
}

/// RSS in KiB of this process and of both client tors.
#[derive(Debug, Clone, Copy, Default)]
struct Rss {
    process: u64,
    tor_dialer: u64,
    tor_listener: u64,
}

#[derive(Debug, Default)]
struct Report {
    nodes: usize,
    rtt_raw: Stats,
    rtt_p2p: Stats,
    rtt_pair_ratio: Stats,
    cold: [Setups; 3],
    warm: [Setups; 3],
    tput_raw: Stats,
    tput_p2p: Stats,
    /// Over 4 substreams at once.
    tput_p2p_4: Stats,
    mib: usize,
    listen_raw: Stats,
    listen_p2p: Stats,
    publication: String,
    dials_tried: usize,
    dials_ok: usize,
    dials_seconds: f64,
    dial_isolation: Isolation,
    rss_before: Rss,
    rss_after: Rss,
    codecs: Vec<(String, f64)>,
}

/// The variants of connection setup, in the order of [`Report::cold`] and [`Report::warm`].
const VARIANTS: [&str; 3] = ["raw SOCKS + echo", "torp2p (V1Lazy)", "stock (V1)"];

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

    fn table(&self, command: &str) -> String {
        let mut t = String::new();
        let _ = writeln!(
            t,
            "\n{command}: torp2p against raw Tor on a private network ({} tors + 2 clients, 127.0.0.1)",
            self.nodes
        );
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
        let tput = ratio(&self.tput_p2p, &self.tput_raw);
        row(
            &mut t,
            &format!("throughput, {} MiB ({} each)", self.mib, self.tput_raw.n),
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
                "  {name:<20} {:>12}   warm setup / warm RTT = {:.1}{}",
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
        let lazy = self.round_trips(1).typical();
        let stock = self.round_trips(2).typical();
        let _ = writeln!(
            t,
            "  exchanges: raw: echo | torp2p: [/noise proposal + noise XX msg 1 → confirmation + msg 2]\n   \
             [msg 3 + /yamux proposal + yamux SYN + /ipfs/ping proposal + ping → confirmations + pong]\n   \
             (multistream-select V1Lazy sends each proposal with the data that follows it) | stock (V1):\n   \
             /noise, msg 1→2, msg 3 + /yamux, /ipfs/ping, ping: each proposal waits for its confirmation"
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

    fn json(&self, command: &str) -> String {
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
        field("setup_ms_new_circuit", setups(&self.cold));
        field("setup_ms_warm_circuit", setups(&self.warm));
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
            "throughput_ratio",
            num(ratio(&self.tput_p2p, &self.tput_raw)),
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

fn isolation_name(i: Isolation) -> &'static str {
    match i {
        Isolation::Shared => "shared",
        Isolation::PerPeer => "per-peer",
        _ => "per-connection",
    }
}

// ---------------------------------------------------------------------------------------------
// The run on the private network.

/// Waits for `fut` at most `limit`, naming `what` on timeout.
async fn within<T>(
    limit: Duration,
    what: &str,
    fut: impl std::future::Future<Output = Result<T, String>>,
) -> Result<T, String> {
    tokio::time::timeout(limit, fut)
        .await
        .map_err(|_| format!("{what}: not done within {} s", limit.as_secs()))?
}

fn proxy_of(tor: &Tor) -> Result<LocalAddr, String> {
    match tor.socks_addr() {
        Some(a) => Ok(a.clone()),
        None => Err("the client tor has no SOCKS port".into()),
    }
}

/// VmRSS of a process in KiB (0 if it cannot be read).
fn rss_kib(pid: Option<u32>) -> u64 {
    let path = match pid {
        Some(pid) => PathBuf::from(format!("/proc/{pid}/status")),
        None => PathBuf::from("/proc/self/status"),
    };
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

async fn network_bench(o: &Opts) -> Result<Report, String> {
    eprintln!("xtask bench: starting a private Tor network");
    let net = TestNet::builder()
        .start()
        .await
        .map_err(|e| format!("network did not start: {e}"))?;
    let mut pids = net.pids();
    let (host, client) = tokio::join!(net.spawn_client(), net.spawn_client());
    let result = match (host, client) {
        (Ok(host), Ok(client)) => {
            pids.extend(host.pid());
            pids.extend(client.pid());
            let r = run(&net, &host, &client, o).await;
            host.shutdown().await;
            client.shutdown().await;
            r
        }
        (host, client) => {
            let mut errors = Vec::new();
            for t in [host, client] {
                match t {
                    Ok(t) => t.shutdown().await,
                    Err(e) => errors.push(e.to_string()),
                }
            }
            Err(format!("a client tor did not start: {}", errors.join("; ")))
        }
    };
    if result.is_err() {
        net.keep_dir();
        eprintln!(
            "xtask bench: the network's logs are in {}",
            net.dir().display()
        );
    }
    let nodes = net.nodes().len();
    net.shutdown().await;
    let left: Vec<u32> = pids
        .iter()
        .copied()
        .filter(|p| Path::new(&format!("/proc/{p}")).exists())
        .collect();
    if !left.is_empty() {
        return Err(format!("tor processes left behind: {left:?}"));
    }
    eprintln!(
        "xtask bench: all {} tors of this run stopped and reaped",
        pids.len()
    );
    result.map(|r| Report { nodes, ..r })
}

/// What the phases share: both client tors and the torp2p listener, which serves the raw
/// baseline too.
struct Bed {
    host: Tor,
    client: Tor,
    proxy: Proxy,
    /// The listener's onion address and port, for raw SOCKS dials.
    raw_target: DialTarget,
    /// The listener as a libp2p address (with `/p2p`).
    listener: Multiaddr,
    listener_peer: libp2p_identity::PeerId,
    /// The isolation key of torp2p's dials to the listener (its peer id): raw dials with this
    /// key share the circuit of torp2p's.
    peer_key: String,
    /// A unix socket path for the readiness phase's raw onion services (never connected to).
    unused_socket: PathBuf,
}

async fn run(net: &TestNet, host: &Tor, client: &Tor, o: &Opts) -> Result<Report, String> {
    let server = p2p::Server::start(host.clone()).await?;
    let onion = server
        .addr
        .iter()
        .find_map(|p| match p {
            libp2p_core::multiaddr::Protocol::Onion3(a) => Some(OnionSocketAddr::from_onion3(&a)),
            _ => None,
        })
        .ok_or("the listener reported no /onion3 address")?
        .map_err(|e| e.to_string())?;
    let bed = Bed {
        host: host.clone(),
        client: client.clone(),
        proxy: proxy_of(client)?,
        raw_target: DialTarget::Onion(onion),
        listener: server.addr.clone(),
        listener_peer: server.peer,
        peer_key: server.peer.to_string(),
        unused_socket: net.dir().join("bench-unused.sock"),
    };

    let mut report = Report {
        mib: o.mib,
        dials_tried: o.dials,
        dial_isolation: o.dial_isolation,
        ..Report::default()
    };
    let phases = async {
        eprintln!("xtask bench: listener readiness ({} pairs)", o.listen);
        let publication = Publication::default();
        report.publication = format!("{publication:?}");
        let (raw, p2p) = listen_readiness(&bed, o.listen, publication).await?;
        report.listen_raw = Stats::of(&raw);
        report.listen_p2p = Stats::of(&p2p);

        eprintln!("xtask bench: round trips ({} pairs)", o.samples);
        let (raw, p2p) = p2p::round_trips(&bed, o.samples).await?;
        report.rtt_raw = Stats::of(&raw).scaled(1000.0);
        report.rtt_p2p = Stats::of(&p2p).scaled(1000.0);
        let pairs: Vec<f64> = p2p.iter().zip(&raw).map(|(p, r)| p / r).collect();
        report.rtt_pair_ratio = Stats::of(&pairs);

        eprintln!(
            "xtask bench: connection setup ({} per variant on new circuits, {} on warm ones)",
            o.setup,
            2 * o.setup
        );
        report.cold = p2p::setups(&bed, o.setup, Isolation::PerConnection).await?;
        report.warm = p2p::setups(&bed, 2 * o.setup, Isolation::PerPeer).await?;

        eprintln!(
            "xtask bench: throughput ({} transfers of {} MiB each way)",
            o.throughput, o.mib
        );
        let (raw, p2p, p2p_4) = p2p::throughput(&bed, o.throughput, o.mib).await?;
        report.tput_raw = Stats::of(&raw);
        report.tput_p2p = Stats::of(&p2p);
        report.tput_p2p_4 = Stats::of(&p2p_4);

        eprintln!("xtask bench: {} concurrent dials to one listener", o.dials);
        let scale = p2p::scale(&bed, o.dials, o.dial_isolation).await?;
        report.dials_ok = scale.ok;
        report.dials_seconds = scale.seconds;
        report.rss_before = scale.before;
        report.rss_after = scale.after;
        Ok::<(), String>(())
    };
    let result = phases.await;
    server.stop();
    result.map(|()| report)
}

/// Listener readiness, interleaved: ADD_ONION → published (the daemon) vs `listen_on` →
/// `NewAddress` (the transport), with the same publication policy. Seconds.
async fn listen_readiness(
    bed: &Bed,
    n: usize,
    publication: Publication,
) -> Result<(Vec<f64>, Vec<f64>), String> {
    let mut raw = Vec::new();
    let mut p2p = Vec::new();
    for i in 0..n {
        for side in [i % 2, (i + 1) % 2] {
            if side == 0 {
                let key = OnionKey::generate();
                let t = Instant::now();
                let service = bed
                    .host
                    .add_onion_service(
                        &key,
                        &[PortMapping {
                            virtual_port: PORT,
                            target: LocalAddr::Unix(bed.unused_socket.clone()),
                        }],
                        &OnionServiceOptions::new(),
                    )
                    .await
                    .map_err(|e| format!("readiness, raw: {e}"))?;
                service
                    .wait_published(publication, STEP)
                    .await
                    .map_err(|e| format!("readiness, raw: {e}"))?;
                raw.push(t.elapsed().as_secs_f64());
                service
                    .remove()
                    .await
                    .map_err(|e| format!("readiness, raw: {e}"))?;
            } else {
                p2p.push(p2p::listen_once(&bed.host, publication).await?);
            }
        }
    }
    Ok((raw, p2p))
}

/// The raw baseline: its server side (streams the torp2p listener hands over before the libp2p
/// upgrade) and its client side, plain tokio I/O on a SOCKS stream.
mod raw {
    use std::sync::Arc;
    use std::time::Instant;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use torp2p_addr::DialTarget;
    use torp2p_socks::{Isolation, LocalAddr as Proxy};

    use super::counted::{Counted, Flights};
    use super::{RAW_ECHO, RAW_SINK};

    /// Echoes everything back.
    pub(super) async fn serve_echo(s: torp2p_transport::Stream) {
        let (mut r, mut w) = tokio::io::split(s);
        let _ = tokio::io::copy(&mut r, &mut w).await;
    }

    /// Reads an 8-byte big-endian length and that many bytes, then answers one byte.
    pub(super) async fn serve_sink(mut s: torp2p_transport::Stream) {
        let mut len = [0u8; 8];
        if s.read_exact(&mut len).await.is_err() {
            return;
        }
        let mut left = u64::from_be_bytes(len);
        let mut buf = vec![0u8; 256 * 1024];
        while left > 0 {
            let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            match s.read(&mut buf[..want]).await {
                Ok(0) | Err(_) => return,
                Ok(n) => left -= n as u64,
            }
        }
        let _ = s.write_all(&[1]).await;
    }

    pub(super) fn config(isolation: Isolation) -> torp2p_socks::Config {
        torp2p_socks::Config::new()
            .with_isolation(isolation)
            .with_timeout(super::STEP)
    }

    /// A raw stream: a SOCKS stream through tor whose first write starts with the marker byte
    /// the listener expects, with its round trips counted from the SOCKS reply on.
    pub(super) struct RawStream {
        s: Counted<torp2p_socks::Stream>,
        marker: Option<u8>,
        pub(super) flights: Arc<Flights>,
    }

    impl RawStream {
        async fn write(&mut self, data: &[u8]) -> std::io::Result<()> {
            match self.marker.take() {
                Some(m) => {
                    let mut first = Vec::with_capacity(data.len() + 1);
                    first.push(m);
                    first.extend_from_slice(data);
                    self.s.write_all(&first).await
                }
                None => self.s.write_all(data).await,
            }
        }
    }

    /// Connects to the listener through tor; `key` is the isolation key (the per-peer key
    /// torp2p uses is the listener's peer id).
    pub(super) async fn connect(
        proxy: &Proxy,
        target: &DialTarget,
        key: &str,
        isolation: Isolation,
        marker: u8,
    ) -> Result<RawStream, String> {
        let s = torp2p_socks::connect(proxy, target, Some(key), &config(isolation))
            .await
            .map_err(|e| format!("raw SOCKS connect: {e}"))?;
        let flights = Arc::new(Flights::default());
        Ok(RawStream {
            s: Counted::new(s, flights.clone()),
            marker: Some(marker),
            flights,
        })
    }

    /// A raw echo stream.
    pub(super) async fn connect_echo(
        proxy: &Proxy,
        target: &DialTarget,
        key: &str,
        isolation: Isolation,
    ) -> Result<RawStream, String> {
        connect(proxy, target, key, isolation, RAW_ECHO).await
    }

    /// One 64-byte echo; seconds.
    pub(super) async fn echo(s: &mut RawStream, i: u8) -> Result<f64, String> {
        let msg = [i; 64];
        let mut back = [0u8; 64];
        let t = Instant::now();
        s.write(&msg)
            .await
            .map_err(|e| format!("echo write: {e}"))?;
        s.s.read_exact(&mut back)
            .await
            .map_err(|e| format!("echo read: {e}"))?;
        let d = t.elapsed().as_secs_f64();
        if back != msg {
            return Err("the echo returned other bytes".into());
        }
        Ok(d)
    }

    /// `mib` MiB to the sink on a fresh stream (connected before the clock starts); MiB/s.
    pub(super) async fn transfer(
        proxy: &Proxy,
        target: &DialTarget,
        key: &str,
        mib: usize,
    ) -> Result<f64, String> {
        let mut s = connect(proxy, target, key, Isolation::PerPeer, RAW_SINK).await?;
        let t = Instant::now();
        let len = (mib as u64) << 20;
        s.write(&len.to_be_bytes())
            .await
            .map_err(|e| format!("raw transfer: {e}"))?;
        let chunk = vec![0x5au8; 256 * 1024];
        let mut left = len;
        while left > 0 {
            let n = chunk.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            s.s.write_all(&chunk[..n])
                .await
                .map_err(|e| format!("raw transfer: {e}"))?;
            left -= n as u64;
        }
        s.s.flush()
            .await
            .map_err(|e| format!("raw transfer: {e}"))?;
        let mut ack = [0u8; 1];
        s.s.read_exact(&mut ack)
            .await
            .map_err(|e| format!("raw transfer, waiting for the sink's answer: {e}"))?;
        Ok(mib as f64 / t.elapsed().as_secs_f64())
    }
}

/// A stream wrapper that counts round trips: how often data came in after we had sent some.
///
/// On the dialer's side this is the number of times it had to wait for the other end: one per
/// request/response exchange, however many reads or writes each one took, and pipelined
/// messages (sent without waiting) count once.
mod counted {
    use std::io;
    use std::pin::Pin;
    use std::sync::atomic::{AtomicU8, AtomicU32, Ordering};
    use std::sync::{Arc, Mutex};
    use std::task::{Context, Poll};
    use std::time::Instant;

    const NOTHING: u8 = 0;
    const WROTE: u8 = 1;
    const READ: u8 = 2;

    #[derive(Debug)]
    pub(super) struct Flights {
        last: AtomicU8,
        round_trips: AtomicU32,
        created: Instant,
        /// The first reads and writes: (ms since creation, 'r' or 'w', bytes).
        log: Mutex<Vec<(f64, char, usize)>>,
    }

    impl Default for Flights {
        fn default() -> Self {
            Self {
                last: AtomicU8::new(NOTHING),
                round_trips: AtomicU32::new(0),
                created: Instant::now(),
                log: Mutex::new(Vec::new()),
            }
        }
    }

    impl Flights {
        fn note(&self, dir: char, n: usize) {
            if let Ok(mut log) = self.log.lock()
                && log.len() < 64
            {
                log.push((self.created.elapsed().as_secs_f64() * 1000.0, dir, n));
            }
        }

        fn wrote(&self, n: usize) {
            if n > 0 {
                self.note('w', n);
                self.last.store(WROTE, Ordering::Relaxed);
            }
        }

        fn read(&self, n: usize) {
            if n > 0 {
                self.note('r', n);
                if self.last.swap(READ, Ordering::Relaxed) == WROTE {
                    self.round_trips.fetch_add(1, Ordering::Relaxed);
                }
            }
        }

        /// The reads and writes so far, one line: `+12.3ms w80 +30.1ms r93 ...`.
        pub(super) fn timeline(&self) -> String {
            self.log
                .lock()
                .map(|log| {
                    log.iter()
                        .map(|(ms, d, n)| format!("+{ms:.1}ms {d}{n}"))
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .unwrap_or_default()
        }

        /// Milliseconds since the stream was wrapped (just after the SOCKS reply).
        pub(super) fn since_created_ms(&self) -> f64 {
            self.created.elapsed().as_secs_f64() * 1000.0
        }

        pub(super) fn round_trips(&self) -> u32 {
            self.round_trips.load(Ordering::Relaxed)
        }

        /// Whether anything went either way.
        pub(super) fn is_used(&self) -> bool {
            self.last.load(Ordering::Relaxed) != NOTHING
        }
    }

    #[cfg(test)]
    mod tests {
        use super::Flights;

        #[test]
        fn round_trips_are_data_read_after_data_written() {
            let f = Flights::default();
            // Pipelined writes and a reply in pieces: one round trip.
            f.wrote(28);
            f.wrote(34);
            f.read(1);
            f.read(202);
            assert_eq!(f.round_trips(), 1);
            // Empty reads and writes do not count.
            f.wrote(0);
            f.read(5);
            assert_eq!(f.round_trips(), 1);
            f.wrote(170);
            f.read(0);
            f.read(290);
            assert_eq!(f.round_trips(), 2);
            assert!(f.is_used());
            assert_eq!(f.timeline().matches(" r").count() + 1, 5);
        }
    }

    #[derive(Debug)]
    pub(super) struct Counted<S> {
        inner: S,
        flights: Arc<Flights>,
    }

    impl<S> Counted<S> {
        pub(super) fn new(inner: S, flights: Arc<Flights>) -> Self {
            Self { inner, flights }
        }
    }

    impl<S: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Counted<S> {
        fn poll_read(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            let this = self.get_mut();
            let before = buf.filled().len();
            let r = Pin::new(&mut this.inner).poll_read(cx, buf);
            if let Poll::Ready(Ok(())) = r {
                this.flights.read(buf.filled().len() - before);
            }
            r
        }
    }

    impl<S: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for Counted<S> {
        fn poll_write(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            let this = self.get_mut();
            let r = Pin::new(&mut this.inner).poll_write(cx, buf);
            if let Poll::Ready(Ok(n)) = r {
                this.flights.wrote(n);
            }
            r
        }

        fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.get_mut().inner).poll_flush(cx)
        }

        fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
        }
    }

    impl<S: futures::io::AsyncRead + Unpin> futures::io::AsyncRead for Counted<S> {
        fn poll_read(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut [u8],
        ) -> Poll<io::Result<usize>> {
            let this = self.get_mut();
            let r = Pin::new(&mut this.inner).poll_read(cx, buf);
            if let Poll::Ready(Ok(n)) = r {
                this.flights.read(n);
            }
            r
        }
    }

    impl<S: futures::io::AsyncWrite + Unpin> futures::io::AsyncWrite for Counted<S> {
        fn poll_write(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            let this = self.get_mut();
            let r = Pin::new(&mut this.inner).poll_write(cx, buf);
            if let Poll::Ready(Ok(n)) = r {
                this.flights.wrote(n);
            }
            r
        }

        fn poll_write_vectored(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            bufs: &[io::IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            let this = self.get_mut();
            let r = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
            if let Poll::Ready(Ok(n)) = r {
                this.flights.wrote(n);
            }
            r
        }

        fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.get_mut().inner).poll_flush(cx)
        }

        fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.get_mut().inner).poll_close(cx)
        }
    }
}

/// The torp2p side: a listener serving ping and a sink on hand-driven yamux connections, and
/// dialers (swarms with `libp2p-ping`, or hand-driven connections).
mod p2p {
    use std::collections::VecDeque;
    use std::future::poll_fn;
    use std::io;
    use std::pin::Pin;
    use std::sync::{Arc, Mutex};
    use std::task::Poll;
    use std::time::{Duration, Instant};

    use futures::{AsyncReadExt, AsyncWriteExt, StreamExt};
    use libp2p_core::muxing::{StreamMuxerBox, StreamMuxerExt, SubstreamBox};
    use libp2p_core::transport::{Boxed, DialOpts as CoreDialOpts, ListenerId, PortUse};
    use libp2p_core::transport::{TransportEvent, upgrade::Version};
    use libp2p_core::{Endpoint, Multiaddr, Transport as _};
    use libp2p_identity::{Keypair, PeerId};
    use libp2p_swarm::dial_opts::{DialOpts, PeerCondition};
    use libp2p_swarm::{Swarm, SwarmEvent};
    use multistream_select::Negotiated;
    use tokio::sync::{mpsc, oneshot};
    use torp2p_daemon::{OnionKey, Publication, Tor};
    use torp2p_socks::Isolation;
    use torp2p_transport as tor;

    use super::counted::{Counted, Flights};
    use super::{Bed, PORT, RAW_ECHO, RAW_SINK, Rss, STEP, Setups, raw, rss_kib, within};

    const PING: &str = "/ipfs/ping/1.0.0";
    const SINK: &str = "/torp2p-bench/sink/1.0.0";
    /// libp2p-ping's payload.
    const PING_SIZE: usize = 32;

    type Upgraded = Boxed<(PeerId, StreamMuxerBox)>;

    /// noise + yamux over `transport`, negotiated with `version`.
    fn upgrade<T>(transport: T, keypair: &Keypair, version: Version) -> Result<Upgraded, String>
    where
        T: libp2p_core::Transport + Send + Unpin + 'static,
        T::Output: futures::AsyncRead + futures::AsyncWrite + Unpin + Send + 'static,
        T::Error: Send + Sync + 'static,
        T::Dial: Send + 'static,
        T::ListenerUpgrade: Send + 'static,
    {
        Ok(transport
            .upgrade(version)
            .authenticate(libp2p_noise::Config::new(keypair).map_err(|e| e.to_string())?)
            .multiplex(libp2p_yamux::Config::default())
            .timeout(STEP)
            .boxed())
    }

    fn dialer_config(isolation: Isolation) -> tor::Config {
        tor::Config::new().with_dial_config(
            tor::socks::Config::new()
                .with_isolation(isolation)
                .with_timeout(STEP),
        )
    }

    /// The benchmark's torp2p listener: serves ping and the sink on every connection.
    pub(super) struct Server {
        pub(super) addr: Multiaddr,
        pub(super) peer: PeerId,
        task: tokio::task::JoinHandle<()>,
    }

    impl Server {
        /// Listens on a fresh onion address on `tor`; returns once the address is reported.
        pub(super) async fn start(tor: Tor) -> Result<Server, String> {
            let keypair = Keypair::generate_ed25519();
            let peer = keypair.public().to_peer_id();
            let key = OnionKey::generate();
            let listen = tor::listen_addr(&key, PORT).map_err(|e| e.to_string())?;
            let mut transport = upgrade(
                tor::Transport::from_tor(tor, tor::Config::new().with_key(key))
                    .map_err(|e| e.to_string())?
                    .and_then(demux),
                &keypair,
                Version::V1Lazy,
            )?;
            transport
                .listen_on(ListenerId::next(), listen)
                .map_err(|e| format!("torp2p listener: {e}"))?;
            let (ready_tx, ready_rx) = oneshot::channel();
            let task = tokio::spawn(accept(transport, ready_tx));
            let addr = within(STEP, "torp2p listener publication", async {
                ready_rx
                    .await
                    .map_err(|_| "the torp2p listener closed before it was published".to_string())?
            })
            .await?;
            let addr = addr.with(libp2p_core::multiaddr::Protocol::P2p(peer));
            Ok(Server { addr, peer, task })
        }

        pub(super) fn stop(self) {
            self.task.abort();
        }
    }

    /// Tells raw benchmark streams from libp2p connections by their first byte: serves the
    /// former (and fails their libp2p upgrade, which the listener ignores), hands the latter
    /// on, first byte included, to the upgrade.
    fn demux(
        mut stream: tor::Stream,
        _: libp2p_core::ConnectedPoint,
    ) -> futures::future::BoxFuture<'static, io::Result<Prefixed>> {
        Box::pin(async move {
            let mut first = [0u8; 1];
            stream.read_exact(&mut first).await?;
            match first[0] {
                RAW_ECHO => {
                    tokio::spawn(raw::serve_echo(stream));
                    Err(io::Error::other("a raw benchmark stream (served)"))
                }
                RAW_SINK => {
                    tokio::spawn(raw::serve_sink(stream));
                    Err(io::Error::other("a raw benchmark stream (served)"))
                }
                byte => Ok(Prefixed {
                    first: Some(byte),
                    inner: stream,
                }),
            }
        })
    }

    /// A stream whose first byte was read already: it is read again first.
    struct Prefixed {
        first: Option<u8>,
        inner: tor::Stream,
    }

    impl futures::io::AsyncRead for Prefixed {
        fn poll_read(
            self: Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
            buf: &mut [u8],
        ) -> Poll<io::Result<usize>> {
            let this = self.get_mut();
            if let Some(byte) = this.first
                && let Some(slot) = buf.first_mut()
            {
                *slot = byte;
                this.first = None;
                return Poll::Ready(Ok(1));
            }
            futures::io::AsyncRead::poll_read(Pin::new(&mut this.inner), cx, buf)
        }
    }

    impl futures::io::AsyncWrite for Prefixed {
        fn poll_write(
            self: Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            futures::io::AsyncWrite::poll_write(Pin::new(&mut self.get_mut().inner), cx, buf)
        }

        fn poll_write_vectored(
            self: Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
            bufs: &[io::IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            futures::io::AsyncWrite::poll_write_vectored(
                Pin::new(&mut self.get_mut().inner),
                cx,
                bufs,
            )
        }

        fn poll_flush(
            self: Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> Poll<io::Result<()>> {
            futures::io::AsyncWrite::poll_flush(Pin::new(&mut self.get_mut().inner), cx)
        }

        fn poll_close(
            self: Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> Poll<io::Result<()>> {
            futures::io::AsyncWrite::poll_close(Pin::new(&mut self.get_mut().inner), cx)
        }
    }

    async fn accept(mut transport: Upgraded, ready: oneshot::Sender<Result<Multiaddr, String>>) {
        let mut ready = Some(ready);
        let mut connections = Vec::new();
        loop {
            match poll_fn(|cx| Pin::new(&mut transport).poll(cx)).await {
                TransportEvent::NewAddress { listen_addr, .. } => {
                    if let Some(r) = ready.take() {
                        let _ = r.send(Ok(listen_addr));
                    }
                }
                TransportEvent::Incoming { upgrade, .. } => {
                    connections.retain(|t: &tokio::task::JoinHandle<()>| !t.is_finished());
                    connections.push(tokio::spawn(async move {
                        if let Ok((_, muxer)) = upgrade.await {
                            drive(muxer, None).await;
                        }
                    }));
                }
                TransportEvent::ListenerClosed { reason, .. } => {
                    if let Some(r) = ready.take() {
                        let _ = r.send(Err(format!("torp2p listener closed: {reason:?}")));
                    }
                    break;
                }
                _ => {}
            }
        }
        // Aborting this task drops the connections' tasks' handles only; end them too.
        for c in connections {
            c.abort();
        }
    }

    type OpenRequest = oneshot::Sender<io::Result<SubstreamBox>>;

    /// Drives a connection: its background work, substreams we open (`open`), and, on the
    /// listener (`open` is `None`), the substreams the peer opens.
    async fn drive(mut muxer: StreamMuxerBox, mut open: Option<mpsc::Receiver<OpenRequest>>) {
        let serving = open.is_none();
        let mut waiting: VecDeque<OpenRequest> = VecDeque::new();
        let mut streams = Vec::new();
        poll_fn(|cx| {
            loop {
                let mut progress = false;
                if let Some(rx) = open.as_mut() {
                    match rx.poll_recv(cx) {
                        Poll::Ready(Some(request)) => {
                            waiting.push_back(request);
                            progress = true;
                        }
                        Poll::Ready(None) => return Poll::Ready(()),
                        Poll::Pending => {}
                    }
                }
                if !waiting.is_empty()
                    && let Poll::Ready(r) = muxer.poll_outbound_unpin(cx)
                {
                    if let Some(request) = waiting.pop_front() {
                        let _ = request.send(r);
                    }
                    progress = true;
                }
                match muxer.poll_inbound_unpin(cx) {
                    Poll::Ready(Ok(s)) => {
                        if serving {
                            streams.retain(|t: &tokio::task::JoinHandle<_>| !t.is_finished());
                            streams.push(tokio::spawn(serve(s)));
                        }
                        progress = true;
                    }
                    Poll::Ready(Err(_)) => return Poll::Ready(()),
                    Poll::Pending => {}
                }
                match muxer.poll_unpin(cx) {
                    Poll::Ready(Ok(_)) => progress = true,
                    Poll::Ready(Err(_)) => return Poll::Ready(()),
                    Poll::Pending => {}
                }
                if !progress {
                    return Poll::Pending;
                }
            }
        })
        .await;
        for s in streams {
            s.abort();
        }
    }

    /// The listener's side of a substream: libp2p ping (echo 32-byte payloads, as
    /// `libp2p-ping` does) or the sink.
    async fn serve(s: SubstreamBox) -> io::Result<()> {
        let (protocol, mut s) = multistream_select::listener_select_proto(s, [PING, SINK])
            .await
            .map_err(io::Error::other)?;
        if protocol == PING {
            let mut payload = [0u8; PING_SIZE];
            loop {
                match s.read_exact(&mut payload).await {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
                    Err(e) => return Err(e),
                }
                s.write_all(&payload).await?;
                s.flush().await?;
            }
        }
        let mut len = [0u8; 8];
        s.read_exact(&mut len).await?;
        let mut left = u64::from_be_bytes(len);
        let mut buf = vec![0u8; 256 * 1024];
        while left > 0 {
            let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            match s.read(&mut buf[..want]).await? {
                0 => return Err(io::ErrorKind::UnexpectedEof.into()),
                n => left -= n as u64,
            }
        }
        s.write_all(&[1]).await?;
        s.flush().await?;
        s.close().await
    }

    /// A hand-driven connection on the dialer's side; dropping it closes the connection.
    pub(super) struct Conn {
        open: mpsc::Sender<OpenRequest>,
        task: tokio::task::JoinHandle<()>,
    }

    impl Drop for Conn {
        fn drop(&mut self) {
            self.task.abort();
        }
    }

    impl Conn {
        fn new(muxer: StreamMuxerBox) -> Self {
            let (open, rx) = mpsc::channel(4);
            let task = tokio::spawn(drive(muxer, Some(rx)));
            Self { open, task }
        }

        /// Opens a substream for `protocol` (multistream-select `V1Lazy`: the proposal goes
        /// with the first data).
        async fn open(&self, protocol: &'static str) -> Result<Negotiated<SubstreamBox>, String> {
            let (tx, rx) = oneshot::channel();
            self.open
                .send(tx)
                .await
                .map_err(|_| "the connection is closed".to_string())?;
            let s = rx
                .await
                .map_err(|_| "the connection is closed".to_string())?
                .map_err(|e| format!("cannot open a substream: {e}"))?;
            let (_, s) = multistream_select::dialer_select_proto(s, [protocol], Version::V1Lazy)
                .await
                .map_err(|e| format!("negotiating {protocol}: {e}"))?;
            Ok(s)
        }

        /// One libp2p ping on a new substream.
        async fn ping(&self) -> Result<(), String> {
            let mut s = self.open(PING).await?;
            let payload = [7u8; PING_SIZE];
            let mut back = [0u8; PING_SIZE];
            s.write_all(&payload)
                .await
                .map_err(|e| format!("ping: {e}"))?;
            s.flush().await.map_err(|e| format!("ping: {e}"))?;
            s.read_exact(&mut back)
                .await
                .map_err(|e| format!("ping: {e}"))?;
            if back != payload {
                return Err("ping: other bytes came back".into());
            }
            let _ = s.close().await;
            Ok(())
        }
    }

    /// A dialer without a swarm, on `tor`.
    fn dialer(tor: Tor, isolation: Isolation) -> Result<Upgraded, String> {
        upgrade(
            tor::Transport::from_tor(tor, dialer_config(isolation)).map_err(|e| e.to_string())?,
            &Keypair::generate_ed25519(),
            Version::V1Lazy,
        )
    }

    async fn connect(transport: &mut Upgraded, addr: &Multiaddr) -> Result<Conn, String> {
        let dial = transport
            .dial(
                addr.clone(),
                CoreDialOpts {
                    role: Endpoint::Dialer,
                    port_use: PortUse::Reuse,
                },
            )
            .map_err(|e| format!("dial: {e}"))?;
        let (_, muxer) = dial.await.map_err(|e| format!("dial: {e}"))?;
        Ok(Conn::new(muxer))
    }

    /// One listener on `tor`: `listen_on` → `NewAddress`, then removed. Seconds.
    pub(super) async fn listen_once(tor: &Tor, publication: Publication) -> Result<f64, String> {
        let key = OnionKey::generate();
        let addr = tor::listen_addr(&key, PORT).map_err(|e| e.to_string())?;
        let mut transport = tor::Transport::from_tor(
            tor.clone(),
            tor::Config::new()
                .with_key(key)
                .with_publication(publication)
                .with_publish_timeout(STEP),
        )
        .map_err(|e| e.to_string())?;
        let id = ListenerId::next();
        let t = Instant::now();
        transport
            .listen_on(id, addr)
            .map_err(|e| format!("readiness, torp2p: {e}"))?;
        let elapsed = within(STEP, "readiness, torp2p", async {
            loop {
                match poll_fn(|cx| Pin::new(&mut transport).poll(cx)).await {
                    TransportEvent::NewAddress { .. } => return Ok(t.elapsed().as_secs_f64()),
                    TransportEvent::ListenerClosed { reason, .. } => {
                        return Err(format!("readiness, torp2p: listener closed: {reason:?}"));
                    }
                    _ => {}
                }
            }
        })
        .await?;
        transport.remove_listener(id);
        within(Duration::from_secs(30), "removing a listener", async {
            loop {
                if let TransportEvent::ListenerClosed { .. } =
                    poll_fn(|cx| Pin::new(&mut transport).poll(cx)).await
                {
                    return Ok(());
                }
            }
        })
        .await?;
        Ok(elapsed)
    }

    /// Which stream the last connection of a swarm's transport got: its round-trip counter.
    #[derive(Default)]
    struct Slot(Mutex<Option<Arc<Flights>>>);

    impl Slot {
        fn take(&self) -> Option<Arc<Flights>> {
            self.0.lock().ok().and_then(|mut s| s.take())
        }
    }

    /// A swarm with `libp2p-ping` on `tor`: torp2p as the project sets it up (`lazy`:
    /// multistream-select `V1Lazy` for the connection and substreams) or stock (`V1`). Every
    /// connection's stream is wrapped to count round trips, the counter put into the slot.
    fn ping_swarm(
        tor: Tor,
        isolation: Isolation,
        lazy: bool,
        interval: Duration,
    ) -> Result<(Swarm<libp2p_ping::Behaviour>, Arc<Slot>), String> {
        let keypair = Keypair::generate_ed25519();
        let slot = Arc::new(Slot::default());
        let counting = slot.clone();
        let transport = tor::Transport::from_tor(tor, dialer_config(isolation))
            .map_err(|e| e.to_string())?
            .map(move |stream, _| {
                let flights = Arc::new(Flights::default());
                if let Ok(mut s) = counting.0.lock() {
                    *s = Some(flights.clone());
                }
                Counted::new(stream, flights)
            });
        let version = if lazy { Version::V1Lazy } else { Version::V1 };
        let transport = upgrade(transport, &keypair, version)?;
        let mut config = libp2p_swarm::Config::with_tokio_executor()
            .with_idle_connection_timeout(Duration::from_secs(600));
        if lazy {
            config = config.with_substream_upgrade_protocol_override(Version::V1Lazy);
        }
        let swarm = Swarm::new(
            transport,
            libp2p_ping::Behaviour::new(
                libp2p_ping::Config::new()
                    .with_interval(interval)
                    .with_timeout(STEP),
            ),
            keypair.public().to_peer_id(),
            config,
        );
        Ok((swarm, slot))
    }

    /// Drives `swarm` until a ping on `connection` (any connection if `None`) succeeds: its
    /// RTT in seconds.
    async fn next_ping(
        swarm: &mut Swarm<libp2p_ping::Behaviour>,
        connection: Option<libp2p_swarm::ConnectionId>,
    ) -> Result<f64, String> {
        within(STEP, "a ping", async {
            loop {
                match swarm.select_next_some().await {
                    SwarmEvent::Behaviour(libp2p_ping::Event {
                        connection: c,
                        result,
                        ..
                    }) if connection.is_none_or(|id| id == c) => {
                        return result
                            .map(|d| d.as_secs_f64())
                            .map_err(|e| format!("ping failed: {e}"));
                    }
                    SwarmEvent::OutgoingConnectionError {
                        connection_id,
                        error,
                        ..
                    } if connection.is_none_or(|id| id == connection_id) => {
                        return Err(format!("dial failed: {error}"));
                    }
                    SwarmEvent::ConnectionClosed {
                        connection_id,
                        cause,
                        ..
                    } if connection.is_none_or(|id| id == connection_id) => {
                        return Err(format!("connection closed: {cause:?}"));
                    }
                    _ => {}
                }
            }
        })
        .await
    }

    /// Warm round trips, interleaved: a libp2p ping (its RTT as `libp2p-ping` measures it),
    /// then a 64-byte echo on a raw SOCKS stream. Seconds.
    pub(super) async fn round_trips(bed: &Bed, n: usize) -> Result<(Vec<f64>, Vec<f64>), String> {
        // Pings 0.5 s apart, each echo 0.2 s after a ping: they never overlap, and each starts
        // on a circuit that has been idle for a while (right after a cell went through, tor's
        // relays can hold the next one back a few milliseconds: measured here, an echo right
        // after each ping took 3–4 ms longer than the ping).
        let (mut swarm, _) = ping_swarm(
            bed.client.clone(),
            Isolation::PerPeer,
            true,
            Duration::from_millis(500),
        )?;
        swarm
            .dial(bed.listener.clone())
            .map_err(|e| format!("dial: {e}"))?;
        // The same isolation key as the swarm's dial: the same circuit.
        let mut echo = raw::connect_echo(
            &bed.proxy,
            &bed.raw_target,
            &bed.peer_key,
            Isolation::PerPeer,
        )
        .await?;
        // Warm both up: the first ping carries the substream negotiation.
        for i in 0..3 {
            next_ping(&mut swarm, None).await?;
            tokio::time::sleep(Duration::from_millis(200)).await;
            raw::echo(&mut echo, i).await?;
        }
        let mut raw = Vec::with_capacity(n);
        let mut p2p = Vec::with_capacity(n);
        for i in 0..n {
            p2p.push(next_ping(&mut swarm, None).await?);
            tokio::time::sleep(Duration::from_millis(200)).await;
            raw.push(raw::echo(&mut echo, i as u8).await?);
        }
        Ok((raw, p2p))
    }

    /// Connection setups with `isolation` (per connection: every setup on new circuits; per
    /// peer: on the warm circuit to the service), interleaved in rotating order: raw (SOCKS
    /// connect + 64-byte echo), torp2p (`swarm.dial` → first ping), stock (the same with a
    /// `V1` setup).
    pub(super) async fn setups(
        bed: &Bed,
        n: usize,
        isolation: Isolation,
    ) -> Result<[Setups; 3], String> {
        let mut lazy = ping_swarm(bed.client.clone(), isolation, true, STEP)?;
        let mut stock = ping_swarm(bed.client.clone(), isolation, false, STEP)?;
        let mut out: [Setups; 3] = Default::default();
        // On warm circuits, a first unrecorded round makes sure the circuit is there.
        let skip = usize::from(isolation != Isolation::PerConnection);
        for i in 0..n + skip {
            for k in 0..3 {
                let variant = (i + k) % 3;
                // A pause, so that each setup starts on an idle circuit (see `round_trips`).
                tokio::time::sleep(Duration::from_millis(150)).await;
                let result = match variant {
                    0 => raw_setup(bed, isolation).await,
                    1 => swarm_setup(bed, &mut lazy, "torp2p").await,
                    _ => swarm_setup(bed, &mut stock, "stock").await,
                };
                if i < skip {
                    continue;
                }
                match result {
                    Ok((secs, rt)) => {
                        out[variant].seconds.push(secs);
                        out[variant].round_trips.0.push(rt);
                    }
                    Err(e) => {
                        eprintln!("xtask bench: a setup failed: {e}");
                        out[variant].failed += 1;
                    }
                }
            }
        }
        Ok(out)
    }

    async fn raw_setup(bed: &Bed, isolation: Isolation) -> Result<(f64, u32), String> {
        let t = Instant::now();
        let mut s =
            raw::connect_echo(&bed.proxy, &bed.raw_target, &bed.peer_key, isolation).await?;
        raw::echo(&mut s, 1).await?;
        let elapsed = t.elapsed().as_secs_f64();
        trace("raw", elapsed, &s.flights);
        Ok((elapsed, s.flights.round_trips()))
    }

    /// With `--trace`: where a setup's time went, on stderr.
    fn trace(what: &str, elapsed: f64, flights: &Flights) {
        if super::TRACE.load(std::sync::atomic::Ordering::Relaxed) {
            let after = flights.since_created_ms();
            eprintln!(
                "trace {what}: SOCKS reply at {:.1}ms, done {:.1}ms later; after the reply: {}",
                elapsed * 1000.0 - after,
                after,
                flights.timeline()
            );
        }
    }

    async fn swarm_setup(
        bed: &Bed,
        (swarm, slot): &mut (Swarm<libp2p_ping::Behaviour>, Arc<Slot>),
        name: &str,
    ) -> Result<(f64, u32), String> {
        let opts = DialOpts::peer_id(bed.listener_peer)
            .addresses(vec![bed.listener.clone()])
            .condition(PeerCondition::Always)
            .build();
        let id = opts.connection_id();
        let t = Instant::now();
        swarm.dial(opts).map_err(|e| format!("dial: {e}"))?;
        let result = next_ping(swarm, Some(id)).await;
        let elapsed = t.elapsed().as_secs_f64();
        let flights = slot.take();
        if let Some(f) = &flights {
            trace(name, elapsed, f);
        }
        if swarm.close_connection(id) {
            let _ = within(Duration::from_secs(30), "closing a connection", async {
                loop {
                    if let SwarmEvent::ConnectionClosed { connection_id, .. } =
                        swarm.select_next_some().await
                        && connection_id == id
                    {
                        return Ok(());
                    }
                }
            })
            .await;
        }
        result?;
        let flights = flights
            .filter(|f| f.is_used())
            .ok_or("no stream was counted")?;
        Ok((elapsed, flights.round_trips()))
    }

    /// Transfers of `mib` MiB, interleaved: over a raw SOCKS stream and over a yamux substream
    /// of one warm torp2p connection. MiB/s.
    pub(super) async fn throughput(
        bed: &Bed,
        n: usize,
        mib: usize,
    ) -> Result<(Vec<f64>, Vec<f64>, Vec<f64>), String> {
        let mut transport = dialer(bed.client.clone(), Isolation::PerPeer)?;
        let conn = within(
            STEP,
            "throughput: dial",
            connect(&mut transport, &bed.listener),
        )
        .await?;
        conn.ping().await?;
        // One small transfer each first (yamux's first window, tor's circuit).
        raw::transfer(&bed.proxy, &bed.raw_target, &bed.peer_key, 1).await?;
        transfer(&conn, 1, 1).await?;
        let limit = STEP * 3;
        let mut raw = Vec::new();
        let mut p2p = Vec::new();
        let mut p2p_4 = Vec::new();
        for i in 0..n {
            for k in 0..3 {
                match (i + k) % 3 {
                    0 => raw.push(
                        within(
                            limit,
                            "raw transfer",
                            raw::transfer(&bed.proxy, &bed.raw_target, &bed.peer_key, mib),
                        )
                        .await?,
                    ),
                    1 => p2p.push(within(limit, "torp2p transfer", transfer(&conn, mib, 1)).await?),
                    _ => {
                        p2p_4.push(within(limit, "torp2p transfer", transfer(&conn, mib, 4)).await?)
                    }
                }
            }
        }
        Ok((raw, p2p, p2p_4))
    }

    /// `mib` MiB over `streams` substreams of `conn` at once; MiB/s.
    async fn transfer(conn: &Conn, mib: usize, streams: usize) -> Result<f64, String> {
        let t = Instant::now();
        let total = (mib as u64) << 20;
        let each = total / streams as u64;
        let sends = (0..streams).map(|i| {
            let len = if i == 0 {
                total - each * (streams as u64 - 1)
            } else {
                each
            };
            send(conn, len)
        });
        futures::future::try_join_all(sends).await?;
        Ok(mib as f64 / t.elapsed().as_secs_f64())
    }

    /// `len` bytes to the sink on a new substream, until it answers.
    async fn send(conn: &Conn, len: u64) -> Result<(), String> {
        let mut s = conn.open(SINK).await?;
        let e = |e: io::Error| format!("torp2p transfer: {e}");
        s.write_all(&len.to_be_bytes()).await.map_err(e)?;
        let chunk = vec![0x5au8; 256 * 1024];
        let mut left = len;
        while left > 0 {
            let n = chunk.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            s.write_all(&chunk[..n]).await.map_err(e)?;
            left -= n as u64;
        }
        s.flush().await.map_err(e)?;
        let mut ack = [0u8; 1];
        s.read_exact(&mut ack).await.map_err(e)?;
        let _ = s.close().await;
        Ok(())
    }

    pub(super) struct Scale {
        pub(super) ok: usize,
        pub(super) seconds: f64,
        pub(super) before: Rss,
        pub(super) after: Rss,
    }

    fn rss(bed: &Bed) -> Rss {
        Rss {
            process: rss_kib(None),
            tor_dialer: rss_kib(bed.client.pid()),
            tor_listener: rss_kib(bed.host.pid()),
        }
    }

    /// `n` concurrent dials to the listener, each connected and pinged once; RSS before and
    /// with all of them open.
    pub(super) async fn scale(bed: &Bed, n: usize, isolation: Isolation) -> Result<Scale, String> {
        let mut transport = dialer(bed.client.clone(), isolation)?;
        // Settle: what the earlier phases left is freed or reused, not counted.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let before = rss(bed);
        let t = Instant::now();
        let mut tasks = Vec::with_capacity(n);
        for _ in 0..n {
            let dial = transport
                .dial(
                    bed.listener.clone(),
                    CoreDialOpts {
                        role: Endpoint::Dialer,
                        port_use: PortUse::Reuse,
                    },
                )
                .map_err(|e| format!("dial: {e}"))?;
            tasks.push(tokio::spawn(async move {
                let run = async {
                    let (_, muxer) = dial.await.map_err(|e| format!("dial: {e}"))?;
                    let conn = Conn::new(muxer);
                    conn.ping().await?;
                    Ok::<_, String>((conn, t.elapsed().as_secs_f64()))
                };
                within(STEP * 2, "a concurrent dial", run).await
            }));
        }
        let mut conns = Vec::new();
        let mut last = 0f64;
        let mut errors = Vec::new();
        for task in tasks {
            match task.await {
                Ok(Ok((conn, at))) => {
                    last = last.max(at);
                    conns.push(conn);
                }
                Ok(Err(e)) => errors.push(e),
                Err(e) => errors.push(e.to_string()),
            }
        }
        if !errors.is_empty() {
            eprintln!(
                "xtask bench: {} of {n} concurrent dials failed; first: {}",
                errors.len(),
                errors[0]
            );
        }
        let after = rss(bed);
        let ok = conns.len();
        drop(conns);
        Ok(Scale {
            ok,
            seconds: last,
            before,
            after,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn stats_give_median_and_quartiles() {
        let s = Stats::of(&[5.0, 1.0, 3.0, 2.0, 4.0, f64::NAN]);
        assert_eq!(s.n, 5);
        assert_eq!(s.median, 3.0);
        assert_eq!(s.p25, 2.0);
        assert_eq!(s.p75, 4.0);
        assert_eq!((s.min, s.max), (1.0, 5.0));
        let even = Stats::of(&[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(even.median, 2.5);
        assert_eq!(Stats::of(&[]).n, 0);
        assert!(ratio(&Stats::of(&[]), &even).is_nan());
        assert_eq!(ratio(&Stats::of(&[5.0]), &even), 2.0);
    }

    #[test]
    fn criterion_median_is_read() {
        let json = r#"{"mean":{"confidence_interval":{"lower_bound":1.0},"point_estimate":59.7},"median":{"confidence_interval":{"confidence_level":0.95,"lower_bound":58.7,"upper_bound":60.8},"point_estimate":60.25,"standard_error":0.48}}"#;
        assert_eq!(median_estimate(json), Some(60.25));
        assert_eq!(median_estimate("{}"), None);
    }

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(json_str(r#"a "b" \c"#), r#""a \"b\" \\c""#);
        assert_eq!(json_str("x\ny"), r#""x\u000ay""#);
    }

    #[test]
    fn the_typical_round_trip_count_is_the_most_common() {
        let rt = RoundTrips(vec![2, 3, 2, 2, 5]);
        assert_eq!(rt.typical(), Some(2));
        assert_eq!(rt.show(), "2 (seen 2–5)");
        assert_eq!(RoundTrips(vec![1, 1]).show(), "1");
        assert_eq!(RoundTrips::default().json(), "null");
    }

    #[test]
    fn the_report_has_the_keys_the_issue_asks_for() {
        let json = Report::default().json("cargo xtask bench --quick");
        for key in [
            "rtt_ratio",
            "throughput_ratio",
            "listen_ratio",
            "setup_round_trips",
            "concurrent_dials",
            "rss_per_connection_kib",
        ] {
            assert!(json.contains(&format!("\"{key}\": ")), "{key} missing");
        }
        // No NaN in JSON: an empty figure is null.
        assert!(json.contains("\"rtt_ratio\": null"));
        assert!(!json.contains("NaN"));
        assert!(json.contains("\"tried\": 0, \"succeeded\": 0"));
    }

    #[test]
    fn options_parse() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let o = Opts::parse(&args(&["--quick", "--samples", "7", "--no-criterion"])).unwrap();
        assert_eq!((o.samples, o.setup, o.dials), (7, 3, 20));
        assert!(!o.criterion && o.quick);
        assert_eq!(
            Opts::parse(&args(&["--dial-isolation", "shared"]))
                .unwrap()
                .dial_isolation,
            Isolation::Shared
        );
        assert!(Opts::parse(&args(&["--samples", "0"])).is_err());
        assert!(Opts::parse(&args(&["--samples"])).is_err());
        assert!(Opts::parse(&args(&["--frobnicate"])).is_err());
    }
}
