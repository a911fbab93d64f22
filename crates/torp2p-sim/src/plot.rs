//! The SVG plots of a simulation, drawn from its results (torp2p-plot draws them): for the
//! ping workload the distributions of first connections and round trips and the share of
//! successful dials over time; for the mesh workload the distribution of gossip propagation
//! and the share of successful outbound connections over time. Beside a share over time
//! goes the share of hosts that churn had taken away at that time.

use serde_json::Value;
use torp2p_plot::{Chart, Series, cdf};

use crate::plan::Plan;
use crate::report::BIN_S;

/// The charts of `results` (the `results` of `sim.json`), with their file names.
pub(crate) fn charts(results: &Value, plan: &Plan) -> Vec<(&'static str, Chart<'static>)> {
    let samples = |path: &[&str]| -> Vec<f64> {
        path.iter()
            .fold(&results["samples"], |v, k| &v[*k])
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_f64).collect())
            .unwrap_or_default()
    };
    // The distributions of one figure, raw and torp2p.
    let both = |figure: &str, raw: &'static str, torp2p: &'static str| {
        vec![
            Series {
                name: raw,
                points: cdf(&samples(&["raw", figure])),
            },
            Series {
                name: torp2p,
                points: cdf(&samples(&["torp2p", figure])),
            },
        ]
    };
    // A share over time, and beside it the share of hosts away (with churn).
    let away = away_over_time(plan);
    let with_away = |mut series: Vec<Series<'static>>| {
        if !away.is_empty() {
            series.push(Series {
                name: "relays and peers away (churn)",
                points: away.clone(),
            });
        }
        series
    };
    if !results["mesh"].is_null() {
        let over_time = with_away(vec![Series {
            name: "torp2p, outbound connections",
            points: shares(&results["mesh"]["connections_over_time"]),
        }]);
        return vec![
            (
                "propagation.svg",
                Chart {
                    title: "gossipsub: publish to delivery at each other peer (simulated)",
                    x: "ms, one way",
                    y: "fraction of deliveries at or below",
                    series: vec![Series {
                        name: "torp2p (gossipsub over onion services)",
                        points: cdf(&samples(&["propagation_ms"])),
                    }],
                },
            ),
            (
                "connections-over-time.svg",
                Chart {
                    title: "mesh: share of outbound connections that succeeded, per minute",
                    x: "simulated second",
                    y: "share",
                    series: over_time,
                },
            ),
        ];
    }
    let over_time = with_away(vec![
        Series {
            name: "raw Tor (SOCKS stream)",
            points: shares(&results["raw"]["success_over_time"]),
        },
        Series {
            name: "torp2p (libp2p ping)",
            points: shares(&results["torp2p"]["success_over_time"]),
        },
    ]);
    vec![
        (
            "connect.svg",
            Chart {
                title: "first connection to a peer's onion service (simulated)",
                x: "seconds from dial to connected",
                y: "fraction of dials at or below",
                series: both(
                    "connect_s",
                    "raw Tor (SOCKS connect)",
                    "torp2p (dial to ConnectionEstablished)",
                ),
            },
        ),
        (
            "rtt.svg",
            Chart {
                title: "round trips on the new connection (simulated)",
                x: "round trip, ms (echo / libp2p ping)",
                y: "fraction of round trips at or below",
                series: both("rtt_ms", "raw Tor (SOCKS stream)", "torp2p (libp2p ping)"),
            },
        ),
        (
            "dials-over-time.svg",
            Chart {
                title: "share of dials that succeeded, by the minute they started",
                x: "simulated second",
                y: "share",
                series: over_time,
            },
        ),
    ]
}

/// `[[bin start, attempts, successes], ...]` as (middle of the bin, share of successes).
fn shares(bins: &Value) -> Vec<(f64, f64)> {
    bins.as_array()
        .into_iter()
        .flatten()
        .filter_map(|b| {
            let (start, n, ok) = (b[0].as_f64()?, b[1].as_f64()?, b[2].as_f64()?);
            (n > 0.0).then(|| (start + BIN_S / 2.0, ok / n))
        })
        .collect()
}

/// The share of relays and peers that churn has taken away, at the middle of each bin from
/// the first departure to the last return; empty without churn.
fn away_over_time(plan: &Plan) -> Vec<(f64, f64)> {
    let windows: Vec<(u64, u64)> = plan.hosts.iter().filter_map(|h| h.churn).collect();
    let (Some(first), Some(last)) = (
        windows.iter().map(|w| w.0).min(),
        windows.iter().map(|w| w.1).max(),
    ) else {
        return Vec::new();
    };
    let hosts = plan.hosts.len() as f64;
    let bin = BIN_S as u64;
    (first / bin..=last / bin)
        .map(|b| {
            let t = (b * bin) as f64 + BIN_S / 2.0;
            let away = windows
                .iter()
                .filter(|(leave, back)| (*leave as f64) <= t && t < *back as f64)
                .count();
            (t, away as f64 / hosts)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::plan::{Params, Workload};

    fn plan(churn_permille: u32, workload: Workload) -> Plan {
        Plan::new(Params {
            relays: 20,
            peers: 10,
            seed: 1,
            dials: 3,
            pings: 2,
            ping_interval_s: 1,
            dial_at_s: 300,
            dial_timeout_s: 120,
            dial_every_s: 0,
            churn_permille,
            workload,
            messages: 10,
        })
        .unwrap()
    }

    #[test]
    fn the_ping_charts_come_from_the_samples_and_the_bins() {
        let results = json!({
            "mesh": null,
            "raw": { "success_over_time": [[300, 4, 4], [360, 0, 0], [420, 2, 1]] },
            "torp2p": { "success_over_time": [[300, 4, 3]] },
            "samples": {
                "raw": { "connect_s": [2.0, 4.0], "rtt_ms": [400.0] },
                "torp2p": { "connect_s": [3.0], "rtt_ms": [410.0, 420.0] },
            },
        });
        let charts = charts(&results, &plan(0, Workload::Ping));
        let names: Vec<&str> = charts.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["connect.svg", "rtt.svg", "dials-over-time.svg"]);
        assert_eq!(charts[0].1.series[0].points, [(2.0, 0.5), (4.0, 1.0)]);
        assert_eq!(charts[1].1.series[1].points, [(410.0, 0.5), (420.0, 1.0)]);
        // An empty bin is no point; without churn there is no third line.
        assert_eq!(charts[2].1.series[0].points, [(330.0, 1.0), (450.0, 0.5)]);
        assert_eq!(charts[2].1.series.len(), 2);
    }

    #[test]
    fn churn_adds_the_share_of_hosts_away() {
        let plan = plan(500, Workload::Mesh);
        let results = json!({
            "mesh": { "connections_over_time": [[300, 10, 9]] },
            "samples": { "propagation_ms": [300.0, 500.0] },
        });
        let charts = charts(&results, &plan);
        assert_eq!(charts[0].0, "propagation.svg");
        assert_eq!(charts[0].1.series[0].points, [(300.0, 0.5), (500.0, 1.0)]);
        let away = &charts[1].1.series[1].points;
        assert!(!away.is_empty());
        let most = away.iter().map(|p| p.1).fold(0.0, f64::max);
        assert!(most > 0.1 && most < 1.0, "{away:?}");
    }
}
