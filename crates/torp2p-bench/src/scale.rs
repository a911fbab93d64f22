//! Scale: concurrent dials to one listener, with the RSS of this process and of both tors.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use libp2p_core::transport::{DialOpts as CoreDialOpts, PortUse, Transport as _};
use libp2p_core::{Endpoint, Multiaddr};
use torp2p_daemon::Tor;
use torp2p_socks::Isolation;

use crate::STEP;
use crate::network::within;
use crate::p2p::{Conn, TorHandle, dialer};
use crate::report::Rss;

#[derive(Debug)]
pub(crate) struct Scale {
    pub(crate) ok: usize,
    pub(crate) seconds: f64,
    pub(crate) before: Rss,
    pub(crate) after: Rss,
}

/// Whose memory is measured: this process and the two C tors (the dialer's and the
/// listener's).
pub(crate) struct Measured<'a> {
    pub(crate) tor_dialer: &'a Tor,
    pub(crate) tor_listener: &'a Tor,
}

impl Measured<'_> {
    fn rss(&self) -> Rss {
        Rss {
            process: rss_kib(None),
            tor_dialer: rss_kib(self.tor_dialer.pid()),
            tor_listener: rss_kib(self.tor_listener.pid()),
        }
    }
}

/// `n` concurrent dials on `tor` to `listener`, each connected and pinged once; RSS before and
/// with all of them open.
pub(crate) async fn scale(
    tor: &TorHandle,
    listener: &Multiaddr,
    measured: Measured<'_>,
    n: usize,
    isolation: Isolation,
) -> Result<Scale, String> {
    let mut transport = dialer(tor, isolation)?;
    // Settle: what the earlier phases left is freed or reused, not counted.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = measured.rss();
    let t = Instant::now();
    let mut tasks = Vec::with_capacity(n);
    for _ in 0..n {
        let dial = transport
            .dial(
                listener.clone(),
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
            "torp2p-bench: {} of {n} concurrent dials failed; first: {}",
            errors.len(),
            errors[0]
        );
    }
    let after = measured.rss();
    let ok = conns.len();
    drop(conns);
    Ok(Scale {
        ok,
        seconds: last,
        before,
        after,
    })
}

/// VmRSS of a process in KiB (0 if it cannot be read).
pub(crate) fn rss_kib(pid: Option<u32>) -> u64 {
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
