//! Reads what the peers printed during a simulation and sums it up: bootstrap, publication,
//! first connection and round trips, raw against torp2p, failures by reason, and how the
//! share of successful dials changed over (simulated) time. The samples behind the quantiles
//! are kept too (`results.samples`): the plots are drawn from them.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Value, json};

use crate::plan::{Plan, Role, Workload};
use crate::shadow::PEERS_START_S;

/// Width of the time bins of the success-over-time series, in simulated seconds.
pub(crate) const BIN_S: f64 = 60.0;

/// One dial, as a peer reported it.
#[derive(Debug, Clone, PartialEq)]
struct Dial {
    kind: String,
    start: f64,
    /// `Ok((connect seconds, round trips in ms))` or `Err(reason)`.
    outcome: Result<(f64, Vec<f64>), String>,
}

/// What the peers' output says, summed up (the `results` of `sim.json`).
pub(crate) fn summarize(hosts_dir: &Path, plan: &Plan) -> Result<Value, String> {
    let peers = plan.params.peers;
    let mut mesh = Mesh::default();
    let mut republished = Vec::new();
    let mut bootstrap = Vec::new();
    let mut published: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    let mut dials = Vec::new();
    let mut errors = Vec::new();
    let mut peers_done = 0;
    for i in 0..peers {
        let host = format!("peer{i}");
        let lines = peer_output(&hosts_dir.join(&host))?;
        let mut boot_t = None;
        let mut published_kinds: Vec<String> = Vec::new();
        for (line_no, line) in lines.iter().enumerate() {
            let v: Value = serde_json::from_str(line)
                .map_err(|e| format!("{host}: line {}: not JSON ({e}): {line}", line_no + 1))?;
            let t = v["t"].as_f64().unwrap_or(0.0);
            match v["event"].as_str() {
                Some("bootstrapped") => {
                    // Of the first run only: after churn a peer bootstraps again.
                    if boot_t.is_none() {
                        bootstrap.push(t - PEERS_START_S as f64);
                    }
                    boot_t = Some(t);
                    published_kinds.clear();
                }
                Some("published") => {
                    let kind = if v["kind"] == "raw" { "raw" } else { "torp2p" };
                    if published_kinds.iter().any(|k| k == kind) {
                        // The transport published its address again after it had lost it
                        // (its reachability watch): the self-healing at work.
                        republished.push(t);
                    } else {
                        published_kinds.push(kind.into());
                        published
                            .entry(kind)
                            .or_default()
                            .push(t - boot_t.unwrap_or(t));
                    }
                }
                Some("dial") => dials.push(Dial {
                    kind: v["kind"].as_str().unwrap_or("?").into(),
                    start: v["start"].as_f64().unwrap_or(t),
                    outcome: Ok((
                        v["connect_s"].as_f64().unwrap_or(0.0),
                        v["rtt_ms"]
                            .as_array()
                            .map(|a| a.iter().filter_map(Value::as_f64).collect())
                            .unwrap_or_default(),
                    )),
                }),
                Some("dial_failed") => dials.push(Dial {
                    kind: v["kind"].as_str().unwrap_or("?").into(),
                    start: v["start"].as_f64().unwrap_or(t),
                    outcome: Err(v["reason"].as_str().unwrap_or("?").into()),
                }),
                Some("dials_done") => peers_done += 1,
                Some("error") => errors.push(format!("{host}: {}", v["message"])),
                Some("mesh") => {
                    let target = (peers - 1).min(MESH_D_LOW);
                    if v["mesh"].as_u64().unwrap_or(0) as usize >= target
                        && !mesh.formed.iter().any(|(p, _)| *p == i)
                    {
                        mesh.formed.push((i, t - plan.params.dial_at_s as f64));
                    }
                }
                Some("sent") => mesh.sent.push((v["msg"].as_u64().unwrap_or(0), i, t)),
                Some("send_failed") => mesh.send_failed += 1,
                Some("gossip") => {
                    mesh.received.push(v["msg"].as_u64().unwrap_or(0));
                    mesh.latency_ms.extend(v["latency_ms"].as_f64());
                }
                Some("conn") => {
                    mesh.conns.push((t, v["ok"] == json!(true)));
                    if v["ok"] != json!(true) {
                        let reason = v["reason"].as_str().unwrap_or("?").to_string();
                        *mesh.conn_failures.entry(reason).or_default() += 1;
                    }
                }
                _ => {}
            }
        }
    }
    let mut kinds = serde_json::Map::new();
    let mut samples = serde_json::Map::new();
    for kind in ["raw", "torp2p"] {
        let mine: Vec<&Dial> = dials.iter().filter(|d| d.kind == kind).collect();
        let ok: Vec<&(f64, Vec<f64>)> = mine
            .iter()
            .filter_map(|d| d.outcome.as_ref().ok())
            .collect();
        let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
        for d in &mine {
            if let Err(r) = &d.outcome {
                *reasons.entry(r.clone()).or_default() += 1;
            }
        }
        let connect: Vec<f64> = ok.iter().map(|(c, _)| *c).collect();
        let rtts: Vec<f64> = ok.iter().flat_map(|(_, r)| r.iter().copied()).collect();
        kinds.insert(
            kind.into(),
            json!({
                "attempted": mine.len(),
                "succeeded": ok.len(),
                "failures": reasons,
                "connect_s": quantiles(&connect),
                "rtt_ms": quantiles(&rtts),
                "published_s": quantiles(published.get(kind).map_or(&[][..], Vec::as_slice)),
                "success_over_time": over_time(&mine),
            }),
        );
        samples.insert(
            kind.into(),
            json!({ "connect_s": rounded(&connect), "rtt_ms": rounded(&rtts) }),
        );
    }
    let ratio = |what: &str, q: &str| {
        let t = kinds["torp2p"][what][q].as_f64()?;
        let r = kinds["raw"][what][q].as_f64()?;
        (r > 0.0).then(|| (t / r * 1000.0).round() / 1000.0)
    };
    let ratios = json!({
        "connect_p50": ratio("connect_s", "p50"),
        "rtt_p50": ratio("rtt_ms", "p50"),
        "rtt_p99": ratio("rtt_ms", "p99"),
    });
    samples.insert("propagation_ms".into(), rounded(&mesh.latency_ms));
    let mesh = (plan.params.workload == Workload::Mesh).then(|| mesh.summary(plan));
    Ok(json!({
        "mesh": mesh,
        "peers_reporting_done": peers_done,
        "torp2p_republished_at": republished,
        "bootstrap_s": quantiles(&bootstrap),
        "raw": kinds["raw"],
        "torp2p": kinds["torp2p"],
        "torp2p_over_raw": ratios,
        "errors": errors,
        "samples": samples,
    }))
}

/// `xs` to the nearest thousandth (of a second or of a millisecond), for the samples the
/// plots are drawn from.
fn rounded(xs: &[f64]) -> Value {
    xs.iter()
        .map(|x| (x * 1000.0).round() / 1000.0)
        .collect::<Vec<f64>>()
        .into()
}

/// gossipsub's D_low: a peer's mesh counts as formed with this many mesh peers (or all others).
const MESH_D_LOW: usize = 5;

/// What the mesh workload's peers reported.
#[derive(Debug, Default)]
struct Mesh {
    /// (peer, simulated seconds from joining to a formed mesh)
    formed: Vec<(usize, f64)>,
    /// (message, publisher, simulated second)
    sent: Vec<(u64, usize, f64)>,
    send_failed: usize,
    /// message numbers, once per receiver
    received: Vec<u64>,
    latency_ms: Vec<f64>,
    /// (simulated second, succeeded) of every outbound connection attempt
    conns: Vec<(f64, bool)>,
    /// why outbound connection attempts failed, and how often
    conn_failures: BTreeMap<String, usize>,
}

impl Mesh {
    fn summary(&self, plan: &Plan) -> Value {
        // Who was up when a message was sent: not a churned peer between leaving and coming
        // back (plus a minute to bootstrap and rejoin).
        let up = |peer: usize, t: f64| {
            plan.hosts(Role::Peer)
                .find(|h| h.index == peer)
                .and_then(|h| h.churn)
                .is_none_or(|(leave, back)| t < leave as f64 || t > back as f64 + 60.0)
        };
        let mut expected = 0;
        let mut delivered = 0;
        let mut worst: Option<f64> = None;
        for (msg, publisher, t) in &self.sent {
            let want = (0..plan.params.peers)
                .filter(|&p| p != *publisher && up(p, *t))
                .count();
            let got = self.received.iter().filter(|m| *m == msg).count().min(want);
            expected += want;
            delivered += got;
            if want > 0 {
                let share = got as f64 / want as f64;
                worst = Some(worst.map_or(share, |w: f64| w.min(share)));
            }
        }
        let mut bins: BTreeMap<u64, (usize, usize)> = BTreeMap::new();
        for (t, ok) in &self.conns {
            let e = bins
                .entry((t / BIN_S).floor() as u64 * BIN_S as u64)
                .or_default();
            e.0 += 1;
            e.1 += usize::from(*ok);
        }
        let formed: Vec<f64> = self.formed.iter().map(|(_, s)| *s).collect();
        json!({
            "formed_peers": self.formed.len(),
            "formed_s": quantiles(&formed),
            "messages_sent": self.sent.len(),
            "messages_not_sent": self.send_failed,
            "delivered": delivered,
            "expected": expected,
            "delivery": (expected > 0).then(|| (delivered as f64 / expected as f64 * 1000.0).round() / 1000.0),
            "worst_message_delivery": worst.map(|w| (w * 1000.0).round() / 1000.0),
            "propagation_ms": quantiles(&self.latency_ms),
            "connection_failures": self.conn_failures,
            "connections_over_time": Value::Array(
                bins.into_iter().map(|(b, (n, ok))| json!([b, n, ok])).collect()
            ),
        })
    }
}

/// The lines `torp2p-sim peer` printed on `host_dir` (each run's own file, in start order).
fn peer_output(host_dir: &Path) -> Result<Vec<String>, String> {
    let entries = std::fs::read_dir(host_dir)
        .map_err(|e| format!("cannot read {}: {e}", host_dir.display()))?;
    let mut files: Vec<(u64, std::path::PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            // Shadow names a process's output <program>.<pid>.stdout.
            let pid = name
                .strip_prefix("torp2p-sim.")?
                .strip_suffix(".stdout")?
                .parse()
                .ok()?;
            Some((pid, e.path()))
        })
        .collect();
    if files.is_empty() {
        return Err(format!(
            "{}: no torp2p-sim.<pid>.stdout: the peer did not run (see shadow.log)",
            host_dir.display()
        ));
    }
    files.sort();
    let mut lines = Vec::new();
    for (_, f) in files {
        let text =
            std::fs::read_to_string(&f).map_err(|e| format!("cannot read {}: {e}", f.display()))?;
        lines.extend(
            text.lines()
                .filter(|l| !l.trim().is_empty())
                .map(String::from),
        );
    }
    Ok(lines)
}

/// The share of successful dials among those started in each [`BIN_S`] bin:
/// `[[bin start, started, succeeded], ...]`.
fn over_time(dials: &[&Dial]) -> Value {
    let mut bins: BTreeMap<u64, (usize, usize)> = BTreeMap::new();
    for d in dials {
        let bin = (d.start / BIN_S).floor() as u64 * BIN_S as u64;
        let e = bins.entry(bin).or_default();
        e.0 += 1;
        e.1 += usize::from(d.outcome.is_ok());
    }
    Value::Array(
        bins.into_iter()
            .map(|(b, (n, ok))| json!([b, n, ok]))
            .collect(),
    )
}

/// p50, p90, p99 and max (nearest rank), or nulls for no samples.
pub(crate) fn quantiles(xs: &[f64]) -> Value {
    let mut s: Vec<f64> = xs.iter().copied().filter(|x| x.is_finite()).collect();
    s.sort_by(f64::total_cmp);
    let q = |p: f64| -> Option<f64> {
        if s.is_empty() {
            return None;
        }
        let rank = ((p * s.len() as f64).ceil() as usize).clamp(1, s.len());
        Some((s[rank - 1] * 1000.0).round() / 1000.0)
    };
    json!({ "n": s.len(), "p50": q(0.5), "p90": q(0.9), "p99": q(0.99), "max": q(1.0) })
}

/// The summary for people.
pub(crate) fn text(results: &Value) -> String {
    let f = |v: &Value| v.as_f64().map_or("-".to_string(), |x| format!("{x:.2}"));
    let mut out = String::new();
    let b = &results["bootstrap_s"];
    out.push_str(&format!(
        "bootstrap (s, simulated): p50 {} p90 {} max {}\n",
        f(&b["p50"]),
        f(&b["p90"]),
        f(&b["max"])
    ));
    out.push_str("            dials  ok   connect s p50/p90/max     rtt ms p50/p90/p99     published s p50/max  failures\n");
    for kind in ["raw", "torp2p"] {
        let k = &results[kind];
        out.push_str(&format!(
            "{kind:<10} {:>5} {:>4}   {:>6} {:>6} {:>6}   {:>7} {:>7} {:>7}   {:>6} {:>6}  {}\n",
            k["attempted"],
            k["succeeded"],
            f(&k["connect_s"]["p50"]),
            f(&k["connect_s"]["p90"]),
            f(&k["connect_s"]["max"]),
            f(&k["rtt_ms"]["p50"]),
            f(&k["rtt_ms"]["p90"]),
            f(&k["rtt_ms"]["p99"]),
            f(&k["published_s"]["p50"]),
            f(&k["published_s"]["max"]),
            k["failures"]
        ));
    }
    let r = &results["torp2p_over_raw"];
    out.push_str(&format!(
        "torp2p / raw: connect p50 {}, rtt p50 {}, rtt p99 {}\n",
        f(&r["connect_p50"]),
        f(&r["rtt_p50"]),
        f(&r["rtt_p99"])
    ));
    let m = &results["mesh"];
    if !m.is_null() {
        out.push_str(&format!(
            "mesh: formed at {} of {} peers (s after joining: p50 {} max {}); messages sent {} (not sent {}); delivered {} of {} ({}; worst message {}); propagation ms p50 {} p90 {} p99 {}\n",
            m["formed_peers"], results["bootstrap_s"]["n"], f(&m["formed_s"]["p50"]), f(&m["formed_s"]["max"]),
            m["messages_sent"], m["messages_not_sent"], m["delivered"], m["expected"], f(&m["delivery"]),
            f(&m["worst_message_delivery"]), f(&m["propagation_ms"]["p50"]), f(&m["propagation_ms"]["p90"]), f(&m["propagation_ms"]["p99"])
        ));
    }
    if let Some(errors) = results["errors"].as_array().filter(|e| !e.is_empty()) {
        out.push_str(&format!("errors reported by peers: {}\n", errors.len()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_by_nearest_rank() {
        let xs: Vec<f64> = (1..=100).map(f64::from).collect();
        let q = quantiles(&xs);
        assert_eq!(
            (q["p50"].as_f64(), q["p99"].as_f64()),
            (Some(50.0), Some(99.0))
        );
        assert_eq!(q["max"].as_f64(), Some(100.0));
        assert!(quantiles(&[])["p50"].is_null());
    }

    #[test]
    fn the_peers_lines_are_summed_up_and_a_missing_peer_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let hosts = dir.path().join("hosts");
        for (i, lines) in [
            vec![
                r#"{"event":"bootstrapped","t":160.0}"#,
                r#"{"event":"published","kind":"raw","t":165.0}"#,
                r#"{"event":"published","kind":"torp2p","t":166.0}"#,
                r#"{"event":"published","kind":"torp2p","t":500.0}"#,
                r#"{"event":"dial","kind":"raw","target":1,"start":300.0,"connect_s":2.0,"rtt_ms":[400.0,410.0],"t":303.0}"#,
                r#"{"event":"dial","kind":"torp2p","target":1,"start":303.0,"connect_s":3.0,"rtt_ms":[420.0,430.0],"t":307.0}"#,
                r#"{"event":"dials_done","t":307.0}"#,
            ],
            vec![
                r#"{"event":"bootstrapped","t":162.0}"#,
                r#"{"event":"dial_failed","kind":"torp2p","target":0,"start":301.0,"after_s":1.0,"reason":"DescriptorNotFound","error":"x","t":302.0}"#,
                r#"{"event":"dial","kind":"raw","target":0,"start":302.0,"connect_s":4.0,"rtt_ms":[500.0],"t":306.0}"#,
            ],
        ]
        .into_iter()
        .enumerate()
        {
            let d = hosts.join(format!("peer{i}"));
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("torp2p-sim.1000.stdout"), lines.join("\n")).unwrap();
        }
        let r = summarize(&hosts, &plan(2)).unwrap();
        assert_eq!(r["raw"]["attempted"], 2);
        assert_eq!(r["raw"]["succeeded"], 2);
        assert_eq!(r["torp2p"]["attempted"], 2);
        assert_eq!(r["torp2p"]["succeeded"], 1);
        assert_eq!(r["torp2p"]["failures"]["DescriptorNotFound"], 1);
        assert_eq!(r["bootstrap_s"]["p50"].as_f64(), Some(10.0));
        assert_eq!(r["raw"]["published_s"]["p50"].as_f64(), Some(5.0));
        assert_eq!(r["raw"]["connect_s"]["max"].as_f64(), Some(4.0));
        assert_eq!(r["torp2p"]["success_over_time"], json!([[300, 2, 1]]));
        assert_eq!(r["peers_reporting_done"], 1);
        assert_eq!(r["torp2p_republished_at"], json!([500.0]));
        assert_eq!(r["torp2p"]["published_s"]["n"], 1);
        assert_eq!(r["torp2p_over_raw"]["connect_p50"].as_f64(), Some(1.5));
        assert!(text(&r).contains("torp2p / raw"));
        assert_eq!(r["samples"]["raw"]["connect_s"], json!([2.0, 4.0]));
        assert_eq!(r["samples"]["torp2p"]["rtt_ms"], json!([420.0, 430.0]));
        let e = summarize(&hosts, &plan(3)).unwrap_err();
        assert!(e.contains("peer2"), "{e}");
        std::fs::write(hosts.join("peer1/torp2p-sim.1001.stdout"), "not json").unwrap();
        let e = summarize(&hosts, &plan(2)).unwrap_err();
        assert!(e.contains("peer1") && e.contains("not JSON"), "{e}");
    }

    fn plan(peers: usize) -> Plan {
        Plan::new(crate::plan::Params {
            relays: 4,
            peers,
            seed: 1,
            dials: 1,
            pings: 2,
            ping_interval_s: 1,
            dial_at_s: 300,
            dial_timeout_s: 120,
            dial_every_s: 0,
            churn_permille: 0,
            workload: Workload::Mesh,
            messages: 2,
        })
        .unwrap()
    }

    #[test]
    fn the_mesh_is_summed_up() {
        let dir = tempfile::tempdir().unwrap();
        let hosts = dir.path().join("hosts");
        for (i, lines) in [
            vec![
                r#"{"event":"mesh","mesh":1,"connected":1,"t":310.0}"#,
                r#"{"event":"sent","msg":0,"t":420.0}"#,
                r#"{"event":"conn","ok":true,"t":301.0}"#,
            ],
            vec![
                r#"{"event":"mesh","mesh":1,"connected":1,"t":320.0}"#,
                r#"{"event":"gossip","msg":0,"latency_ms":400.0,"t":420.4}"#,
                r#"{"event":"sent","msg":1,"t":430.0}"#,
                r#"{"event":"conn","ok":false,"reason":"Timeout","t":302.0}"#,
            ],
        ]
        .into_iter()
        .enumerate()
        {
            let d = hosts.join(format!("peer{i}"));
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("torp2p-sim.1000.stdout"), lines.join("\n")).unwrap();
        }
        let r = summarize(&hosts, &plan(2)).unwrap();
        let m = &r["mesh"];
        assert_eq!(m["formed_peers"], 2);
        assert_eq!(m["formed_s"]["max"].as_f64(), Some(20.0));
        assert_eq!(
            (m["delivered"].clone(), m["expected"].clone()),
            (json!(1), json!(2))
        );
        assert_eq!(m["worst_message_delivery"].as_f64(), Some(0.0));
        assert_eq!(m["propagation_ms"]["p50"].as_f64(), Some(400.0));
        assert_eq!(m["connections_over_time"], json!([[300, 2, 1]]));
        assert_eq!(m["connection_failures"], json!({ "Timeout": 1 }));
        assert_eq!(r["samples"]["propagation_ms"], json!([400.0]));
    }
}
