//! The `--scale` run's table (stdout) and `target/bench/scale.json`.

use std::fmt::Write as _;

use super::{Growth, InboundPoint, ServicesPoint};
use crate::report::{json_str, num};

/// `a / b`, or NaN (shown as `-`, written as `null`) when `b` is 0.
fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { f64::NAN }
}

/// A ratio for the table.
fn shown(r: f64) -> String {
    if r.is_finite() {
        format!("{r:.2}")
    } else {
        "-".into()
    }
}

impl ServicesPoint {
    fn publish_ratio(&self) -> f64 {
        ratio(self.p2p_seconds, self.raw_seconds)
    }

    fn median_ratio(&self) -> f64 {
        ratio(self.p2p_median, self.raw_median)
    }

    fn memory_ratio(&self) -> f64 {
        ratio(self.p2p_tor_kib_each, self.raw_tor_kib_each)
    }
}

impl InboundPoint {
    fn open_ratio(&self) -> f64 {
        ratio(self.p2p_seconds, self.raw_seconds)
    }

    fn listener_tor_ratio(&self) -> f64 {
        ratio(self.p2p.listener_tor, self.raw.listener_tor)
    }
}

impl Growth {
    /// The table printed at the end of the run.
    pub(crate) fn table(&self, command: &str) -> String {
        let mut t = String::new();
        let _ = writeln!(
            t,
            "\n{command}: how cost grows, torp2p against raw Tor (a network of {} tors on 127.0.0.1; a fresh client tor per\nservices measurement, a fresh listener tor and {} fresh dialer tors per side of the inbound one)",
            self.nodes, self.dialer_tors
        );
        let _ = writeln!(
            t,
            "\nonion services on one tor, added at once | raw: s to publish the median one / all, tor KiB each | torp2p: the same, process KiB each | ratios: median, all, tor memory"
        );
        for p in &self.services {
            let _ = writeln!(
                t,
                "  {:>5} services | raw {:>6.1} / {:>6.1} s {:>6.0} KiB | torp2p {:>6.1} / {:>6.1} s {:>6.0} KiB {:>6.0} KiB | {} {} {}",
                p.services,
                p.raw_median,
                p.raw_seconds,
                p.raw_tor_kib_each,
                p.p2p_median,
                p.p2p_seconds,
                p.p2p_tor_kib_each,
                p.p2p_process_kib_each,
                shown(p.median_ratio()),
                shown(p.publish_ratio()),
                shown(p.memory_ratio()),
            );
        }
        let _ = writeln!(
            t,
            "\ninbound connections to one listener, one circuit each, in steps | s to open the step | KiB per open connection: listener's tor, dialers' tors, this process (both ends) | ratios: time, listener's tor"
        );
        for p in &self.inbound {
            let _ = writeln!(
                t,
                "  {:>5} open | raw {:>6.1} s {:>5.0} {:>5.0} {:>5.0} | torp2p {:>6.1} s {:>5.0} {:>5.0} {:>5.0} | {} {}{}",
                p.connections,
                p.raw_seconds,
                p.raw.listener_tor,
                p.raw.dialer_tors,
                p.raw.process,
                p.p2p_seconds,
                p.p2p.listener_tor,
                p.p2p.dialer_tors,
                p.p2p.process,
                shown(p.open_ratio()),
                shown(p.listener_tor_ratio()),
                if p.raw_failed + p.p2p_failed > 0 {
                    format!(
                        " ({} raw, {} torp2p dials failed)",
                        p.raw_failed, p.p2p_failed
                    )
                } else {
                    String::new()
                },
            );
        }
        t
    }

    /// `target/bench/scale.json`.
    pub(crate) fn json(&self, command: &str) -> String {
        let unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let services = self
            .services
            .iter()
            .map(|p| {
                format!(
                    "    {{\"services\": {}, \"raw_median_seconds\": {}, \"torp2p_median_seconds\": {}, \"median_publish_ratio\": {}, \"raw_seconds\": {}, \"torp2p_seconds\": {}, \"publish_ratio\": {}, \"raw_tor_kib_each\": {}, \"torp2p_tor_kib_each\": {}, \"tor_memory_ratio\": {}, \"torp2p_process_kib_each\": {}}}",
                    p.services,
                    num(p.raw_median),
                    num(p.p2p_median),
                    num(p.median_ratio()),
                    num(p.raw_seconds),
                    num(p.p2p_seconds),
                    num(p.publish_ratio()),
                    num(p.raw_tor_kib_each),
                    num(p.p2p_tor_kib_each),
                    num(p.memory_ratio()),
                    num(p.p2p_process_kib_each),
                )
            })
            .collect::<Vec<_>>()
            .join(",\n");
        let inbound = self
            .inbound
            .iter()
            .map(|p| {
                format!(
                    "    {{\"connections\": {}, \"raw_seconds\": {}, \"torp2p_seconds\": {}, \"open_ratio\": {}, \"raw_listener_tor_kib_each\": {}, \"torp2p_listener_tor_kib_each\": {}, \"listener_tor_memory_ratio\": {}, \"raw_dialer_tors_kib_each\": {}, \"torp2p_dialer_tors_kib_each\": {}, \"raw_process_kib_each\": {}, \"torp2p_process_kib_each\": {}, \"raw_failed\": {}, \"torp2p_failed\": {}}}",
                    p.connections,
                    num(p.raw_seconds),
                    num(p.p2p_seconds),
                    num(p.open_ratio()),
                    num(p.raw.listener_tor),
                    num(p.p2p.listener_tor),
                    num(p.listener_tor_ratio()),
                    num(p.raw.dialer_tors),
                    num(p.p2p.dialer_tors),
                    num(p.raw.process),
                    num(p.p2p.process),
                    p.raw_failed,
                    p.p2p_failed,
                )
            })
            .collect::<Vec<_>>()
            .join(",\n");
        format!(
            "{{\n  \"command\": {},\n  \"unix_time\": {unix},\n  \"nodes\": {},\n  \"dialer_tors\": {},\n  \"services\": [\n{services}\n  ],\n  \"inbound\": [\n{inbound}\n  ]\n}}\n",
            json_str(command),
            self.nodes,
            self.dialer_tors,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::PerConnection;
    use super::*;

    fn sample() -> Growth {
        Growth {
            nodes: 7,
            dialer_tors: 2,
            services: vec![ServicesPoint {
                services: 10,
                raw_seconds: 4.0,
                p2p_seconds: 5.0,
                raw_median: 2.0,
                p2p_median: 2.5,
                raw_tor_kib_each: 100.0,
                p2p_tor_kib_each: 110.0,
                p2p_process_kib_each: 20.0,
            }],
            inbound: vec![InboundPoint {
                connections: 20,
                raw_seconds: 2.0,
                p2p_seconds: 3.0,
                raw: PerConnection {
                    listener_tor: 0.0,
                    dialer_tors: 10.0,
                    process: 1.0,
                },
                p2p: PerConnection {
                    listener_tor: 12.0,
                    dialer_tors: 11.0,
                    process: 30.0,
                },
                raw_failed: 0,
                p2p_failed: 1,
            }],
        }
    }

    #[test]
    fn json_is_valid_and_has_the_ratios() {
        let j: serde_json::Value =
            serde_json::from_str(&sample().json("cargo xtask bench --scale")).unwrap();
        assert_eq!(j["command"], "cargo xtask bench --scale");
        assert_eq!(j["services"][0]["publish_ratio"], 1.25);
        assert_eq!(j["services"][0]["median_publish_ratio"], 1.25);
        assert_eq!(j["services"][0]["raw_median_seconds"], 2.0);
        assert_eq!(j["services"][0]["tor_memory_ratio"], 1.1);
        assert_eq!(j["inbound"][0]["open_ratio"], 1.5);
        // No raw growth to compare with: no ratio rather than infinity.
        assert!(j["inbound"][0]["listener_tor_memory_ratio"].is_null());
        assert_eq!(j["inbound"][0]["torp2p_failed"], 1);
    }

    #[test]
    fn table_names_every_step() {
        let t = sample().table("cargo xtask bench --scale");
        assert!(t.contains("   10 services"), "{t}");
        assert!(t.contains("   20 open"), "{t}");
        assert!(t.contains("(0 raw, 1 torp2p dials failed)"), "{t}");
    }
}
