//! The run on the private network: the network and both client tors, the bed the phases
//! share, and the phases in their order.

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use libp2p_core::Multiaddr;
use torp2p_addr::DialTarget;
use torp2p_daemon::{LocalAddr, Publication, Tor};
use torp2p_socks::Isolation;
use torp2p_testnet::TestNet;

use crate::local::Local;
use crate::options::Opts;
use crate::p2p::TorHandle;
use crate::report::Report;
use crate::stats::Stats;
use crate::{first, listen, round_trip, scale, server, setup, throughput};

/// Waits for `fut` at most `limit`, naming `what` on timeout.
pub(crate) async fn within<T>(
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

/// Starts the network and two client tors, runs every phase, stops all tors again (and fails
/// if one is left behind). On failure the network's directory is kept (`Builder::run`).
pub(crate) async fn network_bench(o: &Opts) -> Result<Report, String> {
    let (report, nodes) = on_network(o.local(), async |net, host, client| {
        run(net, host, client, o).await
    })
    .await?;
    Ok(Report { nodes, ..report })
}

/// Starts the network and two client tors (the listener's and the dialer's, reached as
/// `local` says), runs `body` on them, stops all tors again (and fails if one is left behind); `body`'s result and the
/// number of tors of the network. On failure the network's directory is kept
/// (`Builder::run`).
pub(crate) async fn on_network<R>(
    local: Local,
    body: impl AsyncFnOnce(&TestNet, &Tor, &Tor) -> Result<R, String>,
) -> Result<(R, usize), String> {
    on_testnet(async |net, pids| {
        with_clients(net, pids, local, 2, &[], async |tors| match tors {
            [host, client] => body(net, host, client).await,
            _ => Err("not two client tors".into()),
        })
        .await
    })
    .await
}

/// The pids of every tor a run started (the network's and the clients'), to check at the end
/// that none is left behind.
#[derive(Debug, Default)]
pub(crate) struct Pids(Mutex<Vec<u32>>);

impl Pids {
    fn add(&self, pids: impl IntoIterator<Item = u32>) {
        if let Ok(mut v) = self.0.lock() {
            v.extend(pids);
        }
    }

    fn all(&self) -> Vec<u32> {
        self.0.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

/// Starts the network, runs `body` on it, stops all its tors again, and fails if a tor that
/// the network or `body` ([`with_clients`], given the [`Pids`]) started is left behind;
/// `body`'s result and the number of tors of the network. On failure the network's directory
/// is kept (`Builder::run`).
pub(crate) async fn on_testnet<R>(
    body: impl AsyncFnOnce(&TestNet, &Pids) -> Result<R, String>,
) -> Result<(R, usize), String> {
    eprintln!("torp2p-bench: starting a private Tor network");
    let pids = Pids::default();
    let result = TestNet::builder()
        .run(async |net| {
            pids.add(net.pids());
            let result = body(net, &pids).await;
            let nodes = net.nodes().len();
            result.map(|r| (r, nodes)).map_err(Failed)
        })
        .await
        .map_err(|Failed(e)| e);
    let pids = pids.all();
    let left: Vec<u32> = pids
        .iter()
        .copied()
        .filter(|p| Path::new(&format!("/proc/{p}")).exists())
        .collect();
    if !left.is_empty() {
        return Err(format!("tor processes left behind: {left:?}"));
    }
    eprintln!(
        "torp2p-bench: all {} tors of this run stopped and reaped",
        pids.len()
    );
    result
}

/// Starts `count` client tors on `net` at once (their pids go to `pids`), with the network's
/// client torrc and `torrc` after it, their control and SOCKS ports as `local` says
/// ([`Local::spawn_client`]), runs `body` on them and shuts them all down again, whether
/// `body` failed or not (and if some did not start).
pub(crate) async fn with_clients<R>(
    net: &TestNet,
    pids: &Pids,
    local: Local,
    count: usize,
    torrc: &[&str],
    body: impl AsyncFnOnce(&[Tor]) -> Result<R, String>,
) -> Result<R, String> {
    let started =
        futures::future::join_all((0..count).map(|_| local.spawn_client(net, torrc))).await;
    let mut tors = Vec::with_capacity(count);
    let mut errors = Vec::new();
    for t in started {
        match t {
            Ok(t) => {
                pids.add(t.pid());
                tors.push(t);
            }
            Err(e) => errors.push(e),
        }
    }
    let result = if errors.is_empty() {
        body(&tors).await
    } else if count == 1 {
        Err(format!("a client tor did not start: {}", errors.join("; ")))
    } else {
        Err(format!(
            "{} of {count} client tors did not start: {}",
            errors.len(),
            errors.join("; ")
        ))
    };
    futures::future::join_all(tors.into_iter().map(Tor::shutdown)).await;
    result
}

/// The bench's error inside `Builder::run`; a network that did not start says so.
struct Failed(String);

impl From<torp2p_testnet::Error> for Failed {
    fn from(e: torp2p_testnet::Error) -> Self {
        Failed(format!("network did not start: {e}"))
    }
}

/// What the phases share: both client tors and the torp2p listener, which serves the raw
/// baseline too.
pub(crate) struct Bed {
    pub(crate) host: Tor,
    pub(crate) client: Tor,
    pub(crate) proxy: LocalAddr,
    /// The listener's onion address and port, for raw SOCKS dials.
    pub(crate) raw_target: DialTarget,
    /// The listener as a libp2p address (with `/p2p`).
    pub(crate) listener: Multiaddr,
    pub(crate) listener_peer: libp2p_identity::PeerId,
    /// The isolation key of torp2p's dials to the listener (its peer id): raw dials with this
    /// key share the circuit of torp2p's.
    pub(crate) peer_key: String,
    /// The target of the readiness phase's raw onion services (never connected to).
    pub(crate) unused_target: LocalAddr,
    /// Unix sockets or loopback TCP (`--local-tcp`).
    pub(crate) local: Local,
}

/// The phases, in order, on the running network.
async fn run(net: &TestNet, host: &Tor, client: &Tor, o: &Opts) -> Result<Report, String> {
    let local = o.local();
    let server = server::Server::start(&TorHandle::CTor(host.clone()), local).await?;
    let bed = Bed {
        host: host.clone(),
        client: client.clone(),
        proxy: proxy_of(client)?,
        raw_target: server.raw_target()?,
        listener: server.addr.clone(),
        listener_peer: server.peer,
        peer_key: server.peer.to_string(),
        unused_target: local.unused_target(net.dir()),
        local,
    };

    let mut report = Report {
        mib: o.mib,
        delay_ms: o.delay_ms,
        dials_tried: o.dials,
        dial_isolation: o.dial_isolation,
        ..Report::default()
    };
    let phases = async {
        eprintln!("torp2p-bench: listener readiness ({} pairs)", o.listen);
        let publication = Publication::default();
        report.publication = format!("{publication:?}");
        let (raw, p2p) = listen::listen_readiness(&bed, o.listen, publication).await?;
        report.listen_raw = Stats::of(&raw);
        report.listen_p2p = Stats::of(&p2p);

        eprintln!("torp2p-bench: round trips ({} pairs)", o.samples);
        let (raw, p2p) = round_trip::round_trips(&bed, o.samples).await?;
        report.rtt_raw = Stats::of(&raw).scaled(1000.0);
        report.rtt_p2p = Stats::of(&p2p).scaled(1000.0);
        let ms = |v: &[f64]| v.iter().map(|s| s * 1000.0).collect::<Vec<f64>>();
        report.rtt_samples = (ms(&raw), ms(&p2p));
        let pairs: Vec<f64> = p2p.iter().zip(&raw).map(|(p, r)| p / r).collect();
        report.rtt_pair_ratio = Stats::of(&pairs);

        eprintln!(
            "torp2p-bench: connection setup ({} per variant on new circuits, {} on warm ones)",
            o.setup,
            2 * o.setup
        );
        report.cold = setup::setups(&bed, o.setup, Isolation::PerConnection).await?;
        report.warm = setup::setups(&bed, 2 * o.setup, Isolation::PerPeer).await?;

        eprintln!(
            "torp2p-bench: first connections to a fresh onion service ({} pairs)",
            o.first
        );
        let (raw, p2p) = first::first_connections(&bed, o.first).await?;
        report.first_raw = Stats::of(&raw).scaled(1000.0);
        report.first_p2p = Stats::of(&p2p).scaled(1000.0);

        eprintln!(
            "torp2p-bench: throughput ({} transfers of {} MiB per side, both ways)",
            o.throughput, o.mib
        );
        let t = throughput::throughput(&bed, o.throughput, o.mib).await?;
        report.tput_raw = Stats::of(&t.raw);
        report.tput_p2p = Stats::of(&t.p2p);
        report.tput_p2p_4 = Stats::of(&t.p2p_4);
        report.tput_down_raw = Stats::of(&t.raw_down);
        report.tput_down_p2p = Stats::of(&t.p2p_down);

        eprintln!("torp2p-bench: {} concurrent dials to one listener", o.dials);
        let scale = scale::scale(
            &TorHandle::CTor(client.clone()),
            &bed.listener,
            scale::Measured {
                tor_dialer: client,
                tor_listener: host,
            },
            o.dials,
            o.dial_isolation,
        )
        .await?;
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
