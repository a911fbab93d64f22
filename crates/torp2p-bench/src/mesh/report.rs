//! The mesh report: the table on stdout and `target/bench/mesh.json`.

use std::fmt::Write as _;

use super::{Figures, PEERS_PER_TOR, Size, peer};
use crate::report::{json_str, num};
use crate::stats::quantile;

/// Every figure of a `--mesh` run.
#[derive(Debug, Default)]
pub(crate) struct Report {
    /// Tors of the private network (authorities and relays).
    pub(crate) nodes: usize,
    pub(crate) delay_ms: u32,
    /// What delays loopback: `"netem"`, `"nfqueue"`, or empty.
    pub(crate) delay_via: &'static str,
    /// Messages per mesh.
    pub(crate) messages: usize,
    /// Meshes per size and transport.
    pub(crate) rounds: usize,
    /// The sizes measured, in order.
    pub(crate) sizes: Vec<Size>,
    /// Why the sizes after the last measured ones were not.
    pub(crate) failed: Option<String>,
}

impl Figures {
    fn p(&self, q: f64) -> f64 {
        quantile(&self.propagation_ms, q)
    }

    fn publish(&self, q: f64) -> f64 {
        quantile(&self.publish_ms, q)
    }

    fn rss_growth(&self) -> f64 {
        self.rss_after as f64 - self.rss_before as f64
    }

    fn json(&self) -> String {
        format!(
            "{{\"listening_s\": {}, \"mesh_formed_s\": {}, \"mesh_formed_s_rounds\": [{}], \"mesh_target\": {}, \"meshed_peers\": {}, \
             \"deliveries\": {}, \"missing\": {}, \"propagation_ms\": {{\"p50\": {}, \"p99\": {}, \"max\": {}}}, \
             \"publish_call_ms\": {{\"p50\": {}, \"p99\": {}}}, \"connected_peers_mean\": {}, \"mesh_peers_mean\": {}, \
             \"rss_kib\": {{\"process_before\": {}, \"process_after\": {}, \"tors\": {}}}}}",
            num(self.listening_s),
            num(self.mesh_s),
            self.mesh_rounds
                .iter()
                .map(|s| num(*s))
                .collect::<Vec<_>>()
                .join(", "),
            self.mesh_target,
            self.meshed,
            self.propagation_ms.len(),
            self.missing,
            num(self.p(0.5)),
            num(self.p(0.99)),
            num(self.p(1.0)),
            num(self.publish(0.5)),
            num(self.publish(0.99)),
            num(self.connected_mean),
            num(self.mesh_mean),
            self.rss_before,
            self.rss_after,
            self.rss_tors
        )
    }
}

/// `a / b`, NaN unless both are finite and `b` positive.
fn over(a: f64, b: f64) -> f64 {
    if a.is_finite() && b.is_finite() && b > 0.0 {
        a / b
    } else {
        f64::NAN
    }
}

/// Milliseconds, readably: "0.84 ms", "212 ms", "3.41 s".
fn ms(x: f64) -> String {
    if !x.is_finite() {
        "-".into()
    } else if x < 10.0 {
        format!("{x:.2} ms")
    } else if x < 1000.0 {
        format!("{x:.0} ms")
    } else {
        format!("{:.2} s", x / 1000.0)
    }
}

/// The median mesh time with the rounds' range: "2.54 s [2.41-6.32]".
fn spread(f: &Figures) -> String {
    let finite: Vec<f64> = f
        .mesh_rounds
        .iter()
        .copied()
        .filter(|x| x.is_finite())
        .collect();
    let median = ms(f.mesh_s * 1000.0);
    if finite.len() < 2 {
        return median;
    }
    let lo = finite.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = finite.iter().copied().fold(0.0, f64::max);
    if hi < 1.0 {
        format!("{median} [{:.0}-{:.0}]", lo * 1000.0, hi * 1000.0)
    } else {
        format!("{median} [{lo:.1}-{hi:.1}]")
    }
}

/// KiB as MiB.
fn mib(kib: f64) -> String {
    format!("{:.1} MiB", kib / 1024.0)
}

/// A ratio or a growth factor, "-" when there is none.
fn times(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.2}")
    } else {
        "-".into()
    }
}

impl Report {
    /// The figures per size, then their growth with N.
    pub(crate) fn table(&self, command: &str) -> String {
        let mut t = String::new();
        let _ = writeln!(
            t,
            "\n{command}: gossipsub + Kademlia over onion services against the same over TCP on 127.0.0.1\n\
             ({} tors in the network; one client tor per {PEERS_PER_TOR} peers, each peer a transport and an onion service of its own)",
            self.nodes
        );
        if self.delay_ms > 0 {
            let _ = writeln!(
                t,
                "in a network namespace whose loopback delays every packet by {} ms ({}): TCP and every tor-to-tor hop alike",
                self.delay_ms, self.delay_via
            );
        }
        let config = peer::gossipsub_config();
        let _ = writeln!(
            t,
            "mesh formed: from the bootstrap until every peer has min(D_low = {}, N-1) gossipsub mesh peers;\n\
             propagation: publish -> delivery at every other peer, {} messages from seeded random publishers;\n\
             {} rounds per N, TCP and onion services in turn: times are medians [min-max] of the rounds, p50/p99 over all deliveries;\n\
             ratio = torp2p / TCP in this run\n",
            config.mesh_n_low(),
            self.messages,
            self.rounds
        );
        let _ = writeln!(
            t,
            "{:>4}  {:<40} {:>20} {:>20} {:>8}",
            "N", "what", "TCP", "torp2p", "ratio"
        );
        for s in &self.sizes {
            let row =
                |t: &mut String, first: bool, what: &str, tcp: String, tor: String, r: f64| {
                    let n = if first {
                        s.n.to_string()
                    } else {
                        String::new()
                    };
                    let _ = writeln!(t, "{n:>4}  {what:<40} {tcp:>20} {tor:>20} {:>8}", times(r));
                };
            let (a, b) = (&s.tcp, &s.tor);
            row(
                &mut t,
                true,
                "listening (onion services published)",
                ms(a.listening_s * 1000.0),
                ms(b.listening_s * 1000.0),
                f64::NAN,
            );
            row(
                &mut t,
                false,
                &format!("mesh formed (all {} peers at {})", s.n, b.mesh_target),
                spread(a),
                spread(b),
                over(b.mesh_s, a.mesh_s),
            );
            row(
                &mut t,
                false,
                &format!(
                    "propagation p50 ({} / {} deliveries)",
                    a.propagation_ms.len(),
                    b.propagation_ms.len()
                ),
                ms(a.p(0.5)),
                ms(b.p(0.5)),
                over(b.p(0.5), a.p(0.5)),
            );
            row(
                &mut t,
                false,
                "propagation p99",
                ms(a.p(0.99)),
                ms(b.p(0.99)),
                over(b.p(0.99), a.p(0.99)),
            );
            row(
                &mut t,
                false,
                "publish call p50",
                ms(a.publish(0.5)),
                ms(b.publish(0.5)),
                over(b.publish(0.5), a.publish(0.5)),
            );
            row(
                &mut t,
                false,
                "connected / mesh peers, mean",
                format!("{:.1} / {:.1}", a.connected_mean, a.mesh_mean),
                format!("{:.1} / {:.1}", b.connected_mean, b.mesh_mean),
                f64::NAN,
            );
            row(
                &mut t,
                false,
                "RSS of this process, growth in the mesh",
                mib(a.rss_growth()),
                mib(b.rss_growth()),
                f64::NAN,
            );
            row(
                &mut t,
                false,
                &format!("RSS of the {} client tors, sum", s.client_tors),
                "-".into(),
                mib(b.rss_tors as f64),
                f64::NAN,
            );
            for (side, f) in [("TCP", a), ("torp2p", b)] {
                if f.missing > 0 || f.meshed < s.n {
                    let _ = writeln!(
                        t,
                        "      {side}: {} deliveries missing, {} of {} peers meshed",
                        f.missing, f.meshed, s.n
                    );
                }
            }
        }
        if let Some(first) = self.sizes.first()
            && self.sizes.len() > 1
        {
            let _ = writeln!(
                t,
                "\ngrowth with N: each figure over its value at N = {} (TCP / torp2p)",
                first.n
            );
            let _ = writeln!(
                t,
                "{:>4}  {:>14} {:>14} {:>14} {:>14} {:>14} {:>10}",
                "N",
                "listening",
                "mesh formed",
                "prop. p50",
                "prop. p99",
                "publish p50",
                "tors RSS"
            );
            for s in &self.sizes[1..] {
                let g = growth(first, s);
                let pair = |i: usize| format!("{} / {}", times(g.tcp[i]), times(g.tor[i]));
                let _ = writeln!(
                    t,
                    "{:>4}  {:>14} {:>14} {:>14} {:>14} {:>14} {:>10}",
                    s.n,
                    format!("- / {}", times(g.tor[0])),
                    pair(1),
                    pair(2),
                    pair(3),
                    pair(4),
                    times(g.tor[5])
                );
            }
        }
        if let Some(e) = &self.failed {
            let _ = writeln!(t, "\nNOT measured further: {e}");
        }
        t
    }

    /// The JSON of `target/bench/mesh.json`.
    pub(crate) fn json(&self, command: &str) -> String {
        let unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let config = peer::gossipsub_config();
        let sizes = self
            .sizes
            .iter()
            .map(|s| {
                let (a, b) = (&s.tcp, &s.tor);
                format!(
                    "    {{\"n\": {}, \"client_tors\": {}, \"ratio\": {{\"mesh_formed\": {}, \"propagation_p50\": {}, \
                     \"propagation_p99\": {}, \"publish_call_p50\": {}}},\n     \"tcp\": {},\n     \"torp2p\": {}}}",
                    s.n,
                    s.client_tors,
                    num(over(b.mesh_s, a.mesh_s)),
                    num(over(b.p(0.5), a.p(0.5))),
                    num(over(b.p(0.99), a.p(0.99))),
                    num(over(b.publish(0.5), a.publish(0.5))),
                    a.json(),
                    b.json()
                )
            })
            .collect::<Vec<_>>()
            .join(",\n");
        let growth = match self.sizes.first() {
            Some(first) => self
                .sizes
                .iter()
                .map(|s| {
                    let g = growth(first, s);
                    let side = |v: &[f64; 6]| {
                        format!(
                            "{{\"listening\": {}, \"mesh_formed\": {}, \"propagation_p50\": {}, \"propagation_p99\": {}, \
                             \"publish_call_p50\": {}, \"rss_tors\": {}}}",
                            num(v[0]),
                            num(v[1]),
                            num(v[2]),
                            num(v[3]),
                            num(v[4]),
                            num(v[5])
                        )
                    };
                    format!(
                        "    {{\"n\": {}, \"over_n\": {}, \"tcp\": {}, \"torp2p\": {}}}",
                        s.n,
                        first.n,
                        side(&g.tcp),
                        side(&g.tor)
                    )
                })
                .collect::<Vec<_>>()
                .join(",\n"),
            None => String::new(),
        };
        let mut j = String::from("{\n");
        let mut field = |k: &str, v: String| {
            let _ = writeln!(j, "  \"{k}\": {v},");
        };
        field("command", json_str(command));
        field("unix_time", unix.to_string());
        field("network_tors", self.nodes.to_string());
        field("delay_ms", self.delay_ms.to_string());
        field("delay_via", json_str(self.delay_via));
        field("peers_per_tor", PEERS_PER_TOR.to_string());
        field("messages", self.messages.to_string());
        field("rounds", self.rounds.to_string());
        field("payload_bytes", peer::PAYLOAD.to_string());
        field(
            "gossipsub",
            format!(
                "{{\"mesh_n\": {}, \"mesh_n_low\": {}, \"mesh_n_high\": {}, \"heartbeat_ms\": {}}}",
                config.mesh_n(),
                config.mesh_n_low(),
                config.mesh_n_high(),
                config.heartbeat_interval().as_millis()
            ),
        );
        field("kad_rebootstrap_s", peer::REBOOTSTRAP.as_secs().to_string());
        field(
            "definitions",
            json_str(
                "mesh_formed_s: from the bootstrap command until every peer has min(mesh_n_low, n-1) gossipsub mesh peers; \
                 propagation_ms: publish call to delivery at each other peer; listening_s: start until every peer listens \
                 (over Tor: every onion service published); ratio: torp2p / tcp at the same n; growth: the figure at n / at over_n",
            ),
        );
        field(
            "failed",
            self.failed.as_deref().map_or("null".into(), json_str),
        );
        field("sizes", format!("[\n{sizes}\n  ]"));
        let _ = writeln!(j, "  \"growth\": [\n{growth}\n  ]\n}}");
        j
    }
}

/// Each figure of `s` over the same at `first`: listening, mesh formed, propagation p50 and
/// p99, publish call p50, the tors' RSS (the last is 0 / 0 over TCP: NaN).
struct Growth {
    tcp: [f64; 6],
    tor: [f64; 6],
}

fn growth(first: &Size, s: &Size) -> Growth {
    let of = |a: &Figures, b: &Figures| {
        [
            over(b.listening_s, a.listening_s),
            over(b.mesh_s, a.mesh_s),
            over(b.p(0.5), a.p(0.5)),
            over(b.p(0.99), a.p(0.99)),
            over(b.publish(0.5), a.publish(0.5)),
            over(b.rss_tors as f64, a.rss_tors as f64),
        ]
    };
    Growth {
        tcp: of(&first.tcp, &s.tcp),
        tor: of(&first.tor, &s.tor),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn figures(mesh_s: f64, prop: &[f64], rss_tors: u64) -> Figures {
        Figures {
            listening_s: mesh_s / 2.0,
            mesh_s,
            mesh_rounds: vec![mesh_s, mesh_s * 2.0],
            mesh_target: 4,
            meshed: 5,
            propagation_ms: prop.to_vec(),
            publish_ms: vec![0.1, 0.2],
            rss_tors,
            ..Figures::default()
        }
    }

    #[test]
    fn ratios_are_torp2p_over_tcp_and_growth_is_over_the_smallest_mesh() {
        let report = Report {
            nodes: 7,
            messages: 2,
            sizes: vec![
                Size {
                    n: 5,
                    client_tors: 1,
                    tcp: figures(0.5, &[1.0, 2.0, 3.0], 0),
                    tor: figures(10.0, &[100.0, 200.0, 300.0], 1024),
                },
                Size {
                    n: 10,
                    client_tors: 2,
                    tcp: figures(1.0, &[2.0, 4.0, 6.0], 0),
                    tor: figures(30.0, &[200.0, 400.0, 600.0], 3072),
                },
            ],
            ..Report::default()
        };
        let json = report.json("cargo xtask bench --mesh 5,10");
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        let close = |x: &serde_json::Value, want: f64| {
            let got = x.as_f64().unwrap_or(f64::NAN);
            assert!((got - want).abs() < 1e-3, "{got}, not {want}");
        };
        close(&v["sizes"][0]["ratio"]["mesh_formed"], 20.0);
        close(&v["sizes"][0]["ratio"]["propagation_p50"], 100.0);
        close(&v["sizes"][1]["torp2p"]["propagation_ms"]["p50"], 400.0);
        close(&v["growth"][1]["torp2p"]["mesh_formed"], 3.0);
        close(&v["growth"][1]["tcp"]["propagation_p99"], 2.0);
        close(&v["growth"][1]["torp2p"]["rss_tors"], 3.0);
        assert!(v["growth"][1]["tcp"]["rss_tors"].is_null());
        assert!(v["failed"].is_null());
        assert_eq!(v["gossipsub"]["mesh_n_low"], 5);
        let table = report.table("cargo xtask bench --mesh 5,10");
        assert!(table.contains("mesh formed (all 10 peers at 4)"), "{table}");
        assert!(table.contains("growth with N"), "{table}");
        assert!(!table.contains("delays every packet"));
    }

    #[test]
    fn an_empty_or_failed_run_is_still_json() {
        let report = Report {
            failed: Some("the mesh of 20 peers failed: \"x\"".into()),
            ..Report::default()
        };
        let json = report.json("x");
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["failed"], "the mesh of 20 peers failed: \"x\"");
        assert!(!json.contains("NaN"));
        assert!(report.table("x").contains("NOT measured further"));
        let unformed = figures(f64::NAN, &[], 0).json();
        assert!(unformed.contains("\"mesh_formed_s\": null"), "{unformed}");
    }
}
