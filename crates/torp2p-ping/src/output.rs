//! What torp2p-ping prints on stdout: lines for people, or with `--json` one JSON object per
//! line for scripts. Progress and notes for people go to stderr either way.

use std::time::Duration;

use libp2p_identity::PeerId;
use serde_json::{Value, json};

/// How stdout is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Output {
    /// ping(8)-like lines.
    Text,
    /// One JSON object per line, each with an `"event"` field.
    Json,
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0 * 10.0).round() / 10.0
}

impl Output {
    fn json(self, value: Value) {
        say!("{value}");
    }

    /// The listener is reachable at `address` (with its `/p2p` part).
    pub(crate) fn listening(self, address: &str) {
        match self {
            Output::Text => say!("{address}"),
            Output::Json => self.json(json!({ "event": "listening", "address": address })),
        }
    }

    /// A peer connected to the listener (people read it on stderr).
    pub(crate) fn connection(self, peer: &PeerId) {
        match self {
            Output::Text => note!("connection from {peer}"),
            Output::Json => self.json(json!({ "event": "connection", "peer": peer.to_string() })),
        }
    }

    /// The dialer is connected to `peer`, `secs` after it started.
    pub(crate) fn connected(self, peer: &PeerId, secs: f64) {
        match self {
            Output::Text => say!("connected to {peer} in {secs:.1}s"),
            Output::Json => self.json(json!({
                "event": "connected",
                "peer": peer.to_string(),
                "secs": (secs * 10.0).round() / 10.0,
            })),
        }
    }

    /// The dialer's ping number `seq` came back after `rtt`.
    pub(crate) fn ping(self, seq: usize, rtt: Duration) {
        match self {
            Output::Text => say!("ping {seq}: rtt={:.1} ms", rtt.as_secs_f64() * 1000.0),
            Output::Json => self.json(json!({ "event": "ping", "seq": seq, "rtt_ms": ms(rtt) })),
        }
    }

    /// The listener answered a ping of `peer` (people read it on stderr).
    pub(crate) fn answered(self, peer: &PeerId, rtt: Duration) {
        match self {
            Output::Text => note!("ping {peer}: rtt={:.1} ms", rtt.as_secs_f64() * 1000.0),
            Output::Json => self.json(json!({
                "event": "ping",
                "peer": peer.to_string(),
                "rtt_ms": ms(rtt),
            })),
        }
    }

    /// A ping failed (the dialer's: stdout; the listener's: stderr for people).
    pub(crate) fn ping_failed(self, peer: Option<&PeerId>, error: &str) {
        match (self, peer) {
            (Output::Text, None) => say!("ping failed: {error}"),
            (Output::Text, Some(peer)) => note!("ping {peer}: failed: {error}"),
            (Output::Json, peer) => self.json(json!({
                "event": "ping_failed",
                "peer": peer.map(ToString::to_string),
                "error": error,
            })),
        }
    }

    /// The dialer's statistics.
    pub(crate) fn summary(self, addr: &str, wanted: u32, rtts: &[Duration]) {
        let mut sorted: Vec<f64> = rtts.iter().map(|d| ms(*d)).collect();
        sorted.sort_by(f64::total_cmp);
        let stats = (!sorted.is_empty()).then(|| {
            (
                sorted[0],
                sorted[sorted.len() / 2],
                sorted[sorted.len() - 1],
            )
        });
        match self {
            Output::Text => {
                say!("--- {addr} ping statistics ---");
                say!("{wanted} pings wanted, {} answered", rtts.len());
                if let Some((min, median, max)) = stats {
                    say!("rtt min/median/max = {min:.1}/{median:.1}/{max:.1} ms");
                }
            }
            Output::Json => self.json(json!({
                "event": "summary",
                "address": addr,
                "wanted": wanted,
                "answered": rtts.len(),
                "rtt_ms": stats.map(|(min, median, max)| json!({
                    "min": min, "median": median, "max": max,
                })),
            })),
        }
    }

    /// The program fails with `message` (people read it on stderr, from `main`).
    pub(crate) fn error(self, message: &str) {
        if self == Output::Json {
            self.json(json!({ "event": "error", "message": message }));
        }
    }
}
