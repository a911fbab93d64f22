//! `--mesh N[,N...]`: meshes of N peers running gossipsub and Kademlia over onion services,
//! against the same application over TCP on 127.0.0.1, as ratios (issue #16, item 4c).
//! The TCP peers dial from a new port each time ([`tcp`]: with the listen port reused, two
//! peers dialling each other at once never connect).
//!
//! For each N, on one private Tor network: first the mesh over TCP (every peer listening on
//! `127.0.0.1`, with `--delay-ms` on the same delayed loopback), then over onion services,
//! on fresh client tors, one per [`PEERS_PER_TOR`] peers; each peer has a transport of its own
//! on its tor (`Transport::from_tor`) and listens on an onion service of its own. The
//! application is the same on both ([`peer`]): noise + yamux, gossipsub with libp2p's default
//! parameters on one topic, Kademlia in server mode, identify (whose listen addresses
//! Kademlia learns).
//!
//! - **Listening**: from the start of the peers until every one reported its listen address
//!   (over Tor: every onion service's descriptors published, as the transport reports
//!   `NewAddress`).
//! - **Mesh formed**: then every peer but the first is told the first peer's address and
//!   bootstraps Kademlia (which dials it; later bootstraps, Kademlia's own, follow each new
//!   peer in its routing table, and every [`peer::REBOOTSTRAP`]). The time from that command until the first instant at which
//!   *every* peer has at least `min(D_low, N − 1)` peers in its gossipsub mesh for the topic
//!   (D_low = 5 by default), as `mesh_peers` counts them: a peer's mesh fills to D_low as
//!   soon as it learns a connected peer's subscription, so this is the time to connect and
//!   exchange subscriptions, not gossipsub's heartbeat.
//! - **Propagation**: then M messages, one at a time, each published by a peer drawn by a
//!   seeded generator (the same peers for TCP and Tor at one N, and from run to run): the
//!   time from the `publish` call to the delivery (gossipsub's `Message` event) at each other
//!   peer; p50 and p99 over the M·(N − 1) deliveries. The next message goes out once every
//!   peer has the last one (or after [`MESSAGE_TIMEOUT`]: the missing deliveries are
//!   counted). All peers run in this process, so one clock times both ends.
//! - **publish call**: how long `gossipsub::Behaviour::publish` itself takes (signing,
//!   encoding, queueing to each peer).
//! - **Memory**: the RSS of this process before the peers start and with the mesh up after
//!   the messages, and the sum of the client tors' RSS then.
//!
//! Each size runs `--rounds` times (default 3), TCP and onion services in turn, the onion
//! services' rounds on the same client tors (fresh services each round): the times are
//! medians over the rounds, p50 and p99 over the deliveries of all rounds.
//!
//! Ratios are torp2p over TCP at the same N; growth is each figure at N over the same figure
//! at the smallest N. The report goes to `target/bench/mesh.json` and stdout ([`report`]).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use libp2p_core::Multiaddr;
use libp2p_core::transport::upgrade::Version;
use libp2p_identity::Keypair;
use tokio::sync::mpsc;
use torp2p_daemon::{OnionKey, Tor};
use torp2p_transport as tor;

use crate::local::Local;
use crate::network::{on_testnet, with_clients};
use crate::options::Opts;
use crate::p2p::upgrade;
use crate::scale::rss_kib;
use crate::stats::quantile;
use crate::{PORT, STEP};

mod peer;
pub(crate) mod report;
mod tcp;

pub(crate) use report::Report;

/// Peers per client tor.
pub(crate) const PEERS_PER_TOR: usize = 5;
/// The longest wait for the mesh to form; past it the run goes on, and the report says how
/// many peers had their mesh.
const MESH_TIMEOUT: Duration = Duration::from_secs(180);
/// The longest wait for one message to reach every peer.
const MESSAGE_TIMEOUT: Duration = Duration::from_secs(60);
/// The seed of the publishers' draw (with the mesh size mixed in).
const SEED: u64 = 0x746f_7270_3270_6d65;

/// The figures of one mesh on one transport, or of its rounds ([`Figures::merge`]).
#[derive(Debug, Clone, Default)]
pub(crate) struct Figures {
    /// From the start of the peers until every one listened, seconds (the median of the
    /// rounds).
    pub(crate) listening_s: f64,
    /// From the bootstrap command until every peer had its mesh, seconds (NaN if it did not
    /// form within [`MESH_TIMEOUT`]; the median of the rounds that formed).
    pub(crate) mesh_s: f64,
    /// `mesh_s` of each round.
    pub(crate) mesh_rounds: Vec<f64>,
    /// The mesh size that counts as formed: `min(D_low, N − 1)`.
    pub(crate) mesh_target: usize,
    /// Peers at the target when the wait ended.
    pub(crate) meshed: usize,
    /// Publish to delivery, ms, one per delivery.
    pub(crate) propagation_ms: Vec<f64>,
    /// Deliveries that did not arrive within [`MESSAGE_TIMEOUT`].
    pub(crate) missing: usize,
    /// The `publish` calls, ms.
    pub(crate) publish_ms: Vec<f64>,
    /// After the messages: the mean number of connected peers and of gossipsub mesh peers.
    pub(crate) connected_mean: f64,
    pub(crate) mesh_mean: f64,
    /// RSS of this process before the peers started and after the messages, KiB.
    pub(crate) rss_before: u64,
    pub(crate) rss_after: u64,
    /// The client tors' RSS summed, after the messages, KiB (0 over TCP; the largest of the
    /// rounds).
    pub(crate) rss_tors: u64,
}

impl Figures {
    /// The rounds of one size and transport as one: the medians of the listening and mesh
    /// times (the mesh's over the rounds that formed), every delivery and publish call, the
    /// fewest peers meshed, the missing deliveries summed, the mean peer counts, the RSS
    /// growth of the first round (later rounds reuse what it freed) and the tors' largest RSS.
    pub(crate) fn merge(rounds: Vec<Figures>) -> Figures {
        let Some(first) = rounds.first() else {
            return Figures::default();
        };
        let count = rounds.len() as f64;
        let mesh_rounds: Vec<f64> = rounds.iter().map(|r| r.mesh_s).collect();
        Figures {
            listening_s: quantile(
                &rounds.iter().map(|r| r.listening_s).collect::<Vec<_>>(),
                0.5,
            ),
            mesh_s: quantile(&mesh_rounds, 0.5),
            mesh_rounds,
            mesh_target: first.mesh_target,
            meshed: rounds.iter().map(|r| r.meshed).min().unwrap_or(0),
            propagation_ms: rounds
                .iter()
                .flat_map(|r| r.propagation_ms.iter().copied())
                .collect(),
            missing: rounds.iter().map(|r| r.missing).sum(),
            publish_ms: rounds
                .iter()
                .flat_map(|r| r.publish_ms.iter().copied())
                .collect(),
            connected_mean: rounds.iter().map(|r| r.connected_mean).sum::<f64>() / count,
            mesh_mean: rounds.iter().map(|r| r.mesh_mean).sum::<f64>() / count,
            rss_before: first.rss_before,
            rss_after: first.rss_after,
            rss_tors: rounds.iter().map(|r| r.rss_tors).max().unwrap_or(0),
        }
    }
}

/// One mesh size: its figures over TCP and over onion services.
#[derive(Debug, Clone, Default)]
pub(crate) struct Size {
    pub(crate) n: usize,
    pub(crate) client_tors: usize,
    pub(crate) tcp: Figures,
    pub(crate) tor: Figures,
}

/// The transport of a mesh's peers.
#[derive(Clone, Copy)]
enum Side<'a> {
    /// libp2p-tcp on 127.0.0.1.
    Tcp,
    /// torp2p on these client tors, [`PEERS_PER_TOR`] peers on each, their onion services'
    /// targets as the [`Local`] says.
    Tor(&'a [Tor], Local),
}

/// A small seeded generator (SplitMix64): the same publishers in every run.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number below `n` (> 0); the bias of the modulo is negligible for small `n`.
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

/// Runs the meshes of `sizes` on one private network; the report (with the sizes done and
/// the error that stopped the rest, if one did).
pub(crate) async fn mesh_bench(o: &Opts, sizes: &[usize]) -> Result<Report, String> {
    let mut done = Vec::new();
    let mut failed = None;
    let ((), nodes) = on_testnet(async |net, pids| {
        for &n in sizes {
            let rounds = async {
                let client_tors = n.div_ceil(PEERS_PER_TOR);
                eprintln!(
                    "torp2p-bench: meshes of {n} peers, {} rounds of TCP on 127.0.0.1 and onion services ({client_tors} client tors) in turn",
                    o.rounds
                );
                let (tcp, tor) = with_clients(net, pids, o.local(), client_tors, &[], async |tors| {
                    let (mut tcp, mut tor) = (Vec::new(), Vec::new());
                    for _ in 0..o.rounds {
                        tcp.push(run_mesh(Side::Tcp, n, o.messages).await?);
                        tor.push(run_mesh(Side::Tor(tors, o.local()), n, o.messages).await?);
                    }
                    Ok((tcp, tor))
                })
                .await?;
                Ok::<_, String>(Size {
                    n,
                    client_tors,
                    tcp: Figures::merge(tcp),
                    tor: Figures::merge(tor),
                })
            };
            match rounds.await {
                Ok(size) => {
                    eprintln!(
                        "torp2p-bench: N = {n}: mesh formed in {:.2} s over TCP, {:.2} s over onion services",
                        size.tcp.mesh_s, size.tor.mesh_s
                    );
                    done.push(size);
                }
                Err(e) => {
                    failed = Some(format!("the mesh of {n} peers failed: {e}"));
                    break;
                }
            }
        }
        Ok(())
    })
    .await?;
    Ok(Report {
        nodes,
        delay_ms: o.delay_ms,
        messages: o.messages,
        rounds: o.rounds,
        sizes: done,
        failed,
        ..Report::default()
    })
}

/// The peers of a mesh of `n` on `side`: each swarm with the address it is to listen on.
fn peers(
    side: Side<'_>,
    n: usize,
) -> Result<Vec<(libp2p_swarm::Swarm<peer::App>, Multiaddr)>, String> {
    (0..n)
        .map(|i| {
            let keypair = Keypair::generate_ed25519();
            let (transport, listen) = match side {
                Side::Tcp => (
                    upgrade(tcp::NewPorts::new(), &keypair, Version::V1Lazy)?,
                    "/ip4/127.0.0.1/tcp/0"
                        .parse()
                        .map_err(|e| format!("a TCP listen address: {e}"))?,
                ),
                Side::Tor(tors, local) => {
                    let tor = tors
                        .get(i / PEERS_PER_TOR)
                        .ok_or("fewer client tors than the mesh needs")?;
                    let key = OnionKey::generate();
                    let listen = tor::listen_addr(&key, PORT).map_err(|e| e.to_string())?;
                    let transport =
                        tor::Transport::from_tor(tor.clone(), local.listener().with_key(key))
                            .map_err(|e| e.to_string())?;
                    (upgrade(transport, &keypair, Version::V1Lazy)?, listen)
                }
            };
            Ok((peer::swarm(&keypair, transport)?, listen))
        })
        .collect()
}

/// What the peers reported so far.
struct Tally {
    listening: Vec<Option<(Multiaddr, Instant)>>,
    /// Per peer: gossipsub mesh peers and connected peers.
    mesh: Vec<(usize, usize)>,
    /// Per message: when and how long its `publish` call.
    published: HashMap<u32, (Instant, Duration)>,
    /// Per message: its deliveries, the first at each peer.
    received: HashMap<u32, HashMap<usize, Instant>>,
}

impl Tally {
    /// Waits for the next report and records it; fails on a peer's failure.
    async fn next(&mut self, up: &mut mpsc::Receiver<peer::Up>) -> Result<Instant, String> {
        use peer::Up;
        match up.recv().await {
            None => Err("every peer's task ended".into()),
            Some(Up::Failed { peer, error }) => Err(format!("peer {peer}: {error}")),
            Some(Up::Listening { peer, addr, at }) => {
                if let Some(slot) = self.listening.get_mut(peer) {
                    *slot = Some((addr, at));
                }
                Ok(at)
            }
            Some(Up::Mesh {
                peer,
                mesh,
                connected,
                at,
            }) => {
                if let Some(slot) = self.mesh.get_mut(peer) {
                    *slot = (mesh, connected);
                }
                Ok(at)
            }
            Some(Up::Published { message, at, took }) => {
                self.published.insert(message, (at, took));
                Ok(at)
            }
            Some(Up::Received { peer, message, at }) => {
                self.received
                    .entry(message)
                    .or_default()
                    .entry(peer)
                    .or_insert(at);
                Ok(at)
            }
        }
    }
}

/// One mesh of `n` peers on `side`: listening, mesh formation, `messages` messages, memory.
async fn run_mesh(side: Side<'_>, n: usize, messages: usize) -> Result<Figures, String> {
    let rss_before = rss_kib(None);
    let swarms = peers(side, n)?;
    let ids: Vec<_> = swarms.iter().map(|(s, _)| *s.local_peer_id()).collect();
    let (up_tx, mut up) = mpsc::channel(1024);
    let mut downs = Vec::with_capacity(n);
    let mut tasks = Vec::with_capacity(n);
    let started = Instant::now();
    for (i, (swarm, listen)) in swarms.into_iter().enumerate() {
        let (tx, rx) = mpsc::channel(8);
        downs.push(tx);
        tasks.push(tokio::spawn(peer::run(i, swarm, listen, rx, up_tx.clone())));
    }
    drop(up_tx);
    let mut tally = Tally {
        listening: vec![None; n],
        mesh: vec![(0, 0); n],
        published: HashMap::new(),
        received: HashMap::new(),
    };
    let result = measure(
        side, n, messages, &ids, &downs, &mut up, &mut tally, started,
    )
    .await;
    // Closing the command channels ends the tasks; each drops its swarm (and over Tor its
    // onion service) on the way out.
    drop(downs);
    for task in tasks {
        let abort = task.abort_handle();
        if tokio::time::timeout(Duration::from_secs(30), task)
            .await
            .is_err()
        {
            abort.abort();
        }
    }
    result.map(|figures| Figures {
        rss_before,
        ..figures
    })
}

/// The measurements of [`run_mesh`] on its running peers.
#[allow(clippy::too_many_arguments)]
async fn measure(
    side: Side<'_>,
    n: usize,
    messages: usize,
    ids: &[libp2p_identity::PeerId],
    downs: &[mpsc::Sender<peer::Down>],
    up: &mut mpsc::Receiver<peer::Up>,
    tally: &mut Tally,
    started: Instant,
) -> Result<Figures, String> {
    let what = match side {
        Side::Tcp => "TCP listeners",
        Side::Tor(..) => "onion services published",
    };
    crate::network::within(STEP * 2, what, async {
        while tally.listening.iter().any(Option::is_none) {
            tally.next(up).await?;
        }
        Ok(())
    })
    .await?;
    let listening_s = tally
        .listening
        .iter()
        .flatten()
        .map(|(_, at)| at.duration_since(started).as_secs_f64())
        .fold(0.0, f64::max);
    let first = tally.listening[0]
        .as_ref()
        .map(|(addr, _)| (ids[0], addr.clone()))
        .ok_or("the first peer has no address")?;

    // Mesh formation.
    let target = peer::gossipsub_config().mesh_n_low().min(n - 1);
    let bootstrap = Instant::now();
    for (i, down) in downs.iter().enumerate() {
        let start = peer::Down::Start {
            bootstrap: (i > 0).then(|| first.clone()),
        };
        down.send(start)
            .await
            .map_err(|_| format!("peer {i}'s task ended"))?;
    }
    let formed = tokio::time::timeout(MESH_TIMEOUT, async {
        loop {
            let at = tally.next(up).await?;
            if tally.mesh.iter().all(|(m, _)| *m >= target) {
                return Ok::<_, String>(at);
            }
        }
    })
    .await;
    let mesh_s = match formed {
        Ok(Ok(at)) => at.duration_since(bootstrap).as_secs_f64(),
        Ok(Err(e)) => return Err(e),
        Err(_) => {
            eprintln!(
                "torp2p-bench: the mesh of {n} did not form within {} s ({} of {n} peers with {target} mesh peers)",
                MESH_TIMEOUT.as_secs(),
                tally.mesh.iter().filter(|(m, _)| *m >= target).count()
            );
            f64::NAN
        }
    };
    let meshed = tally.mesh.iter().filter(|(m, _)| *m >= target).count();

    // Propagation.
    let mut rng = Rng::new(SEED ^ n as u64);
    let mut propagation_ms = Vec::new();
    let mut publish_ms = Vec::new();
    let mut missing = 0;
    for m in 0..messages {
        let message = u32::try_from(m).map_err(|_| "too many messages")?;
        let publisher = rng.below(n);
        downs[publisher]
            .send(peer::Down::Publish { message })
            .await
            .map_err(|_| format!("peer {publisher}'s task ended"))?;
        let all = tokio::time::timeout(MESSAGE_TIMEOUT, async {
            while !tally.published.contains_key(&message)
                || tally.received.get(&message).map_or(0, HashMap::len) < n - 1
            {
                tally.next(up).await?;
            }
            Ok::<_, String>(())
        })
        .await;
        if let Ok(Err(e)) = all {
            return Err(e);
        }
        let Some((at, took)) = tally.published.get(&message).copied() else {
            return Err(format!(
                "message {message} was not published within {} s",
                MESSAGE_TIMEOUT.as_secs()
            ));
        };
        publish_ms.push(took.as_secs_f64() * 1000.0);
        let got: Vec<Instant> = tally
            .received
            .get(&message)
            .map(|r| r.values().copied().collect())
            .unwrap_or_default();
        propagation_ms.extend(
            got.iter()
                .map(|r| r.saturating_duration_since(at).as_secs_f64() * 1000.0),
        );
        missing += (n - 1).saturating_sub(got.len());
    }

    let rss_tors = match side {
        Side::Tcp => 0,
        Side::Tor(tors, _) => tors.iter().map(|t| rss_kib(t.pid())).sum(),
    };
    let mean = |f: fn(&(usize, usize)) -> usize| {
        tally.mesh.iter().map(f).sum::<usize>() as f64 / n.max(1) as f64
    };
    Ok(Figures {
        listening_s,
        mesh_s,
        mesh_rounds: vec![mesh_s],
        mesh_target: target,
        meshed,
        propagation_ms,
        missing,
        publish_ms,
        connected_mean: mean(|m| m.1),
        mesh_mean: mean(|m| m.0),
        rss_before: 0,
        rss_after: rss_kib(None),
        rss_tors,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_merge_into_medians_and_pooled_deliveries() {
        let round = |mesh_s: f64, prop: &[f64], meshed, rss_tors| Figures {
            listening_s: mesh_s * 2.0,
            mesh_s,
            mesh_rounds: vec![mesh_s],
            mesh_target: 4,
            meshed,
            propagation_ms: prop.to_vec(),
            missing: 1,
            publish_ms: vec![0.1],
            connected_mean: 4.0,
            mesh_mean: 3.0,
            rss_before: 100,
            rss_after: 200,
            rss_tors,
        };
        let m = Figures::merge(vec![
            round(1.0, &[1.0, 2.0], 5, 10),
            round(f64::NAN, &[3.0], 4, 30),
            round(3.0, &[4.0], 5, 20),
        ]);
        // The median of the rounds that formed; all three kept.
        assert_eq!(m.mesh_s, 2.0);
        assert_eq!(m.mesh_rounds.len(), 3);
        assert_eq!(m.listening_s, 4.0);
        assert_eq!(m.propagation_ms, vec![1.0, 2.0, 3.0, 4.0]);
        assert_eq!((m.meshed, m.missing, m.rss_tors), (4, 3, 30));
        assert_eq!(
            (m.rss_before, m.rss_after, m.publish_ms.len()),
            (100, 200, 3)
        );
        assert_eq!(Figures::merge(Vec::new()).propagation_ms.len(), 0);
    }

    #[test]
    fn the_draw_is_seeded_and_in_range() {
        let draw = |seed| {
            let mut r = Rng::new(seed);
            (0..50).map(|_| r.below(10)).collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
        assert!(draw(7).iter().all(|p| *p < 10));
        // Every peer of ten gets drawn in a few hundred draws.
        let mut r = Rng::new(SEED);
        let mut seen = [false; 10];
        for _ in 0..500 {
            seen[r.below(10)] = true;
        }
        assert!(seen.iter().all(|s| *s));
        assert_eq!(Rng::new(1).below(1), 0);
    }
}
