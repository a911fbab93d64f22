//! `--scale`: how cost grows, against raw Tor at every size, in one run.
//!
//! - **Onion services on one tor**: for each count S, S services added at once on the
//!   listener's tor, raw (`ADD_ONION` through the daemon, waiting for publication with the
//!   default policy) and through torp2p (one transport holding S keys, `listen_on` each, until
//!   every `NewAddress`); seconds until the last one is published, and the growth of tor's
//!   resident memory (VmRSS) per service, each on a fresh tor (which of the two goes first
//!   alternates with S).
//! - **Inbound connections to one listener**: connections opened from several client tors
//!   (the dialers) to the bench's listener, all of them fresh tors for each side, one circuit each (`Isolation::PerConnection`), in
//!   steps up to C, kept open; raw SOCKS streams (each echoed once) and torp2p connections
//!   (each pinged once) in turn. Per step: seconds to open the step's connections, and the
//!   growth per connection of the listener's tor, of the dialers' tors together, and of this
//!   process (which holds both ends of every torp2p connection: noise and yamux state for the
//!   dialer and for the listener).

use std::time::{Duration, Instant};

use futures::future::join_all;
use libp2p_core::Multiaddr;
use libp2p_core::Transport as _;
use libp2p_core::transport::{ListenerId, TransportEvent};
use torp2p_addr::DialTarget;
use torp2p_daemon::{LocalAddr, OnionKey, OnionServiceOptions, PortMapping, Publication, Tor};
use torp2p_socks::Isolation;
use torp2p_testnet::TestNet;
use torp2p_transport as tor;

use crate::local::Local;
use crate::network::{Pids, on_testnet, with_clients, within};
use crate::options::Opts;
use crate::p2p::{TorHandle, dialer};
use crate::scale::rss_kib;
use crate::{PORT, STEP, raw, server};

mod report;

/// At most this many dials of one dialer tor in flight at once, raw and torp2p alike (torp2p's
/// transport holds its own at 32, its default).
const IN_FLIGHT_PER_TOR: usize = 32;

/// One count of onion services.
#[derive(Debug, Clone, Default)]
pub(crate) struct ServicesPoint {
    pub(crate) services: usize,
    /// Seconds until the last service was published.
    pub(crate) raw_seconds: f64,
    pub(crate) p2p_seconds: f64,
    /// The median service's seconds until it was published.
    pub(crate) raw_median: f64,
    pub(crate) p2p_median: f64,
    /// Growth of tor's VmRSS per service, KiB.
    pub(crate) raw_tor_kib_each: f64,
    pub(crate) p2p_tor_kib_each: f64,
    /// Growth of this process's VmRSS per service with torp2p, KiB.
    pub(crate) p2p_process_kib_each: f64,
}

/// Memory growth per connection, KiB.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PerConnection {
    pub(crate) listener_tor: f64,
    pub(crate) dialer_tors: f64,
    pub(crate) process: f64,
}

/// One step of inbound connections.
#[derive(Debug, Clone, Default)]
pub(crate) struct InboundPoint {
    /// Connections open after this step.
    pub(crate) connections: usize,
    /// Seconds to open this step's connections.
    pub(crate) raw_seconds: f64,
    pub(crate) p2p_seconds: f64,
    /// Growth from before the first step to after this one, per open connection.
    pub(crate) raw: PerConnection,
    pub(crate) p2p: PerConnection,
    /// Dials that failed in this step (not counted as open).
    pub(crate) raw_failed: usize,
    pub(crate) p2p_failed: usize,
}

/// Every figure of a `--scale` run.
#[derive(Debug, Default)]
pub(crate) struct Growth {
    pub(crate) nodes: usize,
    pub(crate) dialer_tors: usize,
    pub(crate) services: Vec<ServicesPoint>,
    pub(crate) inbound: Vec<InboundPoint>,
}

/// The `--scale` run: a network, and fresh client tors for each measurement.
pub(crate) async fn growth(o: &Opts) -> Result<Growth, String> {
    let (mut g, nodes) = on_testnet(async |net, pids| run(net, pids, o).await).await?;
    g.nodes = nodes;
    Ok(g)
}

async fn run(net: &TestNet, pids: &Pids, o: &Opts) -> Result<Growth, String> {
    let mut g = Growth {
        dialer_tors: o.scale_dialers,
        ..Growth::default()
    };
    let local = o.local();
    for (i, &s) in o.scale_services.iter().enumerate() {
        eprintln!("torp2p-bench: {s} onion services on one tor, raw and torp2p");
        g.services
            .push(services(net, pids, local, s, i % 2 == 0).await?);
    }
    g.inbound = inbound(net, pids, local, o.scale_dialers, &o.scale_inbound).await?;
    Ok(g)
}

/// The circuit build timeout of the measured tors: fixed, not learned. On this network tor
/// learns a timeout of tens of milliseconds; with hundreds of circuits at once on a busy
/// machine it then abandons circuits by the dozen, its resets double the timeout up to 22
/// days ("Insanely large circuit build timeout value"), and 32 stalled circuits
/// (`MaxClientCircuitsPending`) block every other: a run of 50 services was not published in
/// 10 minutes. Raw Tor and torp2p get the same setting; every measurement starts from fresh
/// tors ([`with_clients`]), so that memory is measured from a tor that served nothing yet.
const FIXED_BUILD_TIMEOUT: [&str; 2] = ["LearnCircuitBuildTimeout 0", "CircuitBuildTimeout 60"];

/// VmRSS of a tor, KiB.
fn tor_kib(t: &Tor) -> u64 {
    rss_kib(t.pid())
}

/// Lets what the last step left be freed or reused before the next measurement.
async fn settle() {
    tokio::time::sleep(Duration::from_secs(2)).await;
}

/// `n` onion services, raw and through torp2p (`raw_first`: which goes first), each on a
/// fresh tor (the tor's ports and the services' targets as `local` says).
async fn services(
    net: &TestNet,
    pids: &Pids,
    local: Local,
    n: usize,
    raw_first: bool,
) -> Result<ServicesPoint, String> {
    let mut p = ServicesPoint {
        services: n,
        ..ServicesPoint::default()
    };
    for raw_turn in [raw_first, !raw_first] {
        with_clients(net, pids, local, 1, &FIXED_BUILD_TIMEOUT, async |tors| {
            let host = &tors[0];
            settle().await;
            let tor_before = tor_kib(host);
            let process_before = rss_kib(None);
            if raw_turn {
                let unused = local.unused_target(net.dir());
                let (times, kept) = raw_services(host, &unused, n).await?;
                (p.raw_seconds, p.raw_median) = last_and_median(&times);
                p.raw_tor_kib_each = per(tor_kib(host), tor_before, n);
                for s in kept {
                    s.remove()
                        .await
                        .map_err(|e| format!("removing a raw onion service: {e}"))?;
                }
            } else {
                let (times, transport, ids) = p2p_services(host, local, n).await?;
                (p.p2p_seconds, p.p2p_median) = last_and_median(&times);
                p.p2p_tor_kib_each = per(tor_kib(host), tor_before, n);
                p.p2p_process_kib_each = per(rss_kib(None), process_before, n);
                close(transport, ids).await?;
            }
            Ok(())
        })
        .await?;
    }
    Ok(p)
}

/// The largest and the median of `times`.
fn last_and_median(times: &[f64]) -> (f64, f64) {
    let s = crate::stats::Stats::of(times);
    (s.max, s.median)
}

/// Growth from `before` to `after` per item, KiB (0 if it shrank).
fn per(after: u64, before: u64, n: usize) -> f64 {
    after.saturating_sub(before) as f64 / n.max(1) as f64
}

/// `n` services added at once with ADD_ONION, each waited for; each one's seconds until it
/// was published.
async fn raw_services(
    host: &Tor,
    unused: &LocalAddr,
    n: usize,
) -> Result<(Vec<f64>, Vec<torp2p_daemon::OnionService>), String> {
    let t = Instant::now();
    let one = async || {
        let service = host
            .add_onion_service(
                &OnionKey::generate(),
                &[PortMapping {
                    virtual_port: PORT,
                    target: unused.clone(),
                }],
                &OnionServiceOptions::new(),
            )
            .await
            .map_err(|e| format!("{n} raw onion services: {e}"))?;
        service
            .wait_published(Publication::default(), publish_limit(n))
            .await
            .map_err(|e| format!("{n} raw onion services: {e}"))?;
        Ok::<_, String>((t.elapsed().as_secs_f64(), service))
    };
    let results = join_all((0..n).map(|_| one())).await;
    let (times, kept) = results
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .unzip();
    Ok((times, kept))
}

/// One transport with `n` keys listening on all of them (their targets as `local` says);
/// each listener's seconds until its `NewAddress`.
async fn p2p_services(
    host: &Tor,
    local: Local,
    n: usize,
) -> Result<(Vec<f64>, tor::Transport, Vec<ListenerId>), String> {
    let keys: Vec<OnionKey> = (0..n).map(|_| OnionKey::generate()).collect();
    let mut config = local.listener().with_publish_timeout(publish_limit(n));
    for k in &keys {
        config = config.with_key(k.clone());
    }
    let mut transport = TorHandle::CTor(host.clone()).transport(config)?;
    let t = Instant::now();
    let mut ids = Vec::with_capacity(n);
    for k in &keys {
        let addr = tor::listen_addr(k, PORT).map_err(|e| e.to_string())?;
        let id = ListenerId::next();
        transport
            .listen_on(id, addr)
            .map_err(|e| format!("{n} torp2p listeners: {e}"))?;
        ids.push(id);
    }
    let mut times = Vec::with_capacity(n);
    within(publish_limit(n), "torp2p listeners published", async {
        while times.len() < n {
            match std::future::poll_fn(|cx| std::pin::Pin::new(&mut transport).poll(cx)).await {
                TransportEvent::NewAddress { .. } => times.push(t.elapsed().as_secs_f64()),
                TransportEvent::ListenerClosed { reason, .. } => {
                    return Err(format!("a torp2p listener closed: {reason:?}"));
                }
                _ => {}
            }
        }
        Ok(())
    })
    .await?;
    Ok((times, transport, ids))
}

/// Removes the listeners `ids` of `transport` and waits until all are closed (their services
/// removed from tor).
async fn close(mut transport: tor::Transport, ids: Vec<ListenerId>) -> Result<(), String> {
    let mut open = ids.len();
    for id in ids {
        transport.remove_listener(id);
    }
    within(STEP, "torp2p listeners removed", async {
        while open > 0 {
            if let TransportEvent::ListenerClosed { .. } =
                std::future::poll_fn(|cx| std::pin::Pin::new(&mut transport).poll(cx)).await
            {
                open -= 1;
            }
        }
        Ok(())
    })
    .await
}

/// The longest wait for `n` services added at once to be published: a hang guard. A tor
/// builds a service's introduction circuits and upload circuits at most 32 at a time
/// (`MaxClientCircuitsPending`); 50 took 3.5 minutes on a busy 2-core machine.
fn publish_limit(n: usize) -> Duration {
    STEP + Duration::from_secs(10).saturating_mul(u32::try_from(n).unwrap_or(u32::MAX))
}

/// The listener's counterpart for raw dials, and its libp2p address.
struct Target {
    raw: DialTarget,
    p2p: Multiaddr,
}

/// Inbound connections in steps (`steps`: the totals) from `k` dialer tors to a listener,
/// raw first, then torp2p, each on fresh tors.
async fn inbound(
    net: &TestNet,
    pids: &Pids,
    local: Local,
    k: usize,
    steps: &[usize],
) -> Result<Vec<InboundPoint>, String> {
    let mut points: Vec<InboundPoint> = steps
        .iter()
        .map(|&c| InboundPoint {
            connections: c,
            ..InboundPoint::default()
        })
        .collect();
    for raw_turn in [true, false] {
        with_clients(
            net,
            pids,
            local,
            k + 1,
            &FIXED_BUILD_TIMEOUT,
            async |tors| {
                let (host, dialers) = (&tors[0], &tors[1..]);
                let server = server::Server::start(&TorHandle::CTor(host.clone()), local).await?;
                let target = Target {
                    raw: server.raw_target()?,
                    p2p: server.addr.clone(),
                };
                let result = steps_on(host, dialers, &target, &mut points, raw_turn).await;
                server.stop();
                result
            },
        )
        .await?;
    }
    Ok(points)
}

/// Opens the connections of every step of `points` on one side, measuring after each.
async fn steps_on(
    host: &Tor,
    dialers: &[Tor],
    target: &Target,
    points: &mut [InboundPoint],
    raw_turn: bool,
) -> Result<(), String> {
    settle().await;
    let before = Measure::now(host, dialers);
    let mut held = Held::default();
    let mut open = 0;
    for p in points.iter_mut() {
        let want = p.connections.saturating_sub(open);
        let kind = if raw_turn { "raw" } else { "torp2p" };
        eprintln!(
            "torp2p-bench: {kind}: {want} more inbound connections ({} in all)",
            p.connections
        );
        let t = Instant::now();
        let failed = if raw_turn {
            held.open_raw(dialers, target, want).await?
        } else {
            held.open_p2p(dialers, target, want).await?
        };
        let seconds = t.elapsed().as_secs_f64();
        open = held.len();
        let growth = Measure::now(host, dialers).per(&before, open);
        if raw_turn {
            (p.raw_seconds, p.raw, p.raw_failed) = (seconds, growth, failed);
        } else {
            (p.p2p_seconds, p.p2p, p.p2p_failed) = (seconds, growth, failed);
        }
    }
    Ok(())
}

/// VmRSS of the listener's tor, the dialers' tors together and this process, KiB.
struct Measure {
    listener_tor: u64,
    dialer_tors: u64,
    process: u64,
}

impl Measure {
    fn now(host: &Tor, dialers: &[Tor]) -> Self {
        Self {
            listener_tor: tor_kib(host),
            dialer_tors: dialers.iter().map(tor_kib).sum(),
            process: rss_kib(None),
        }
    }

    fn per(&self, before: &Measure, n: usize) -> PerConnection {
        PerConnection {
            listener_tor: per(self.listener_tor, before.listener_tor, n),
            dialer_tors: per(self.dialer_tors, before.dialer_tors, n),
            process: per(self.process, before.process, n),
        }
    }
}

/// The connections kept open.
#[derive(Default)]
struct Held {
    raw: Vec<raw::RawStream>,
    p2p: Vec<crate::p2p::Conn>,
}

impl Held {
    fn len(&self) -> usize {
        self.raw.len() + self.p2p.len()
    }

    /// `n` raw echo streams, spread over `dialers`, each echoed once; how many failed.
    async fn open_raw(
        &mut self,
        dialers: &[Tor],
        target: &Target,
        n: usize,
    ) -> Result<usize, String> {
        let proxies = dialers
            .iter()
            .map(|t| {
                t.socks_addr()
                    .cloned()
                    .ok_or("a dialer tor has no SOCKS port")
            })
            .collect::<Result<Vec<_>, _>>()?;
        let per_tor = spread(n, dialers.len());
        let batches = proxies
            .iter()
            .zip(per_tor)
            .map(|(proxy, count)| async move {
                let sem = tokio::sync::Semaphore::new(IN_FLIGHT_PER_TOR);
                let one = async |i: usize| {
                    let _permit = sem.acquire().await.map_err(|e| e.to_string())?;
                    let key = format!("bench-inbound-{i}");
                    let mut s =
                        raw::connect_echo(proxy, &target.raw, &key, Isolation::PerConnection)
                            .await?;
                    raw::echo(&mut s, 1).await?;
                    Ok::<_, String>(s)
                };
                join_all((0..count).map(one)).await
            });
        let results = join_all(batches).await.into_iter().flatten();
        Ok(keep(results, &mut self.raw, "raw"))
    }

    /// `n` torp2p connections, spread over `dialers` (one transport each), each pinged once;
    /// how many failed.
    async fn open_p2p(
        &mut self,
        dialers: &[Tor],
        target: &Target,
        n: usize,
    ) -> Result<usize, String> {
        let per_tor = spread(n, dialers.len());
        let mut batches = Vec::new();
        for (t, count) in dialers.iter().zip(per_tor) {
            let transport = dialer(&TorHandle::CTor(t.clone()), Isolation::PerConnection)?;
            let transport = std::sync::Arc::new(tokio::sync::Mutex::new(transport));
            batches.push(async move {
                let one = async |_| {
                    let dial = {
                        let mut tr = transport.lock().await;
                        connect_dial(&mut tr, &target.p2p)?
                    };
                    let conn = within(STEP * 2, "an inbound torp2p connection", dial).await?;
                    conn.ping().await?;
                    Ok::<_, String>(conn)
                };
                join_all((0..count).map(one)).await
            });
        }
        let results = join_all(batches).await.into_iter().flatten();
        Ok(keep(results, &mut self.p2p, "torp2p"))
    }
}

/// Keeps the connections that opened in `held`; how many did not (the first one's error is
/// printed, naming `kind`).
fn keep<T>(
    results: impl IntoIterator<Item = Result<T, String>>,
    held: &mut Vec<T>,
    kind: &str,
) -> usize {
    let mut failed = 0;
    for result in results {
        match result {
            Ok(c) => held.push(c),
            Err(e) => {
                if failed == 0 {
                    eprintln!("torp2p-bench: a {kind} inbound connection failed: {e}");
                }
                failed += 1;
            }
        }
    }
    failed
}

/// A dial started on `transport` now, to be awaited without holding it.
fn connect_dial(
    transport: &mut crate::p2p::Upgraded,
    addr: &Multiaddr,
) -> Result<impl std::future::Future<Output = Result<crate::p2p::Conn, String>> + use<>, String> {
    let dial = transport
        .dial(
            addr.clone(),
            libp2p_core::transport::DialOpts {
                role: libp2p_core::Endpoint::Dialer,
                port_use: libp2p_core::transport::PortUse::Reuse,
            },
        )
        .map_err(|e| format!("dial: {e}"))?;
    Ok(async move {
        let (_, muxer) = dial.await.map_err(|e| format!("dial: {e}"))?;
        Ok(crate::p2p::Conn::new(muxer))
    })
}

/// `n` split over `k` parts as evenly as possible, the first parts taking the remainder.
fn spread(n: usize, k: usize) -> Vec<usize> {
    let k = k.max(1);
    (0..k).map(|i| n / k + usize::from(i < n % k)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spreads_evenly() {
        assert_eq!(spread(10, 4), vec![3, 3, 2, 2]);
        assert_eq!(spread(3, 4), vec![1, 1, 1, 0]);
        assert_eq!(spread(0, 2), vec![0, 0]);
        assert_eq!(spread(5, 0), vec![5]);
        assert_eq!(spread(1000, 4).iter().sum::<usize>(), 1000);
    }

    #[test]
    fn growth_per_item_never_negative() {
        assert_eq!(per(1500, 1000, 100), 5.0);
        assert_eq!(per(900, 1000, 100), 0.0);
        assert_eq!(per(1000, 1000, 0), 0.0);
    }
}
