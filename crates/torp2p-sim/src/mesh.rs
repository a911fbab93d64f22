//! `torp2p-sim mesh`: the mesh workload on a simulated peer host. The application of the
//! benchmark's `--mesh` (gossipsub on one topic with libp2p's defaults, Kademlia in server mode,
//! identify), on torp2p over the host's tor. At `--start-at` it joins through its bootstrap
//! peers; at each `--publish AT:N` it publishes message N. It prints JSON lines: its mesh
//! size when it changes, each message it sends and receives (with the one-way delay: the
//! simulated clock is the same on every host), and each outbound connection attempt's outcome.

use std::str::FromStr;
use std::time::Duration;

use futures::StreamExt as _;
use libp2p_core::Multiaddr;
use libp2p_core::multiaddr::Protocol;
use libp2p_core::transport::upgrade::Version;
use libp2p_gossipsub as gossipsub;
use libp2p_identify as identify;
use libp2p_identity::{Keypair, PeerId};
use libp2p_kad as kad;
use libp2p_swarm::{NetworkBehaviour, Swarm, SwarmEvent};
use serde_json::json;
use torp2p_daemon::{ListenTarget, OnionKey};
use torp2p_transport as tor;

use crate::peer::{attach_bootstrapped, dial_reason, emit, now_s};
use crate::shadow::TORP2P_PORT;

const TOPIC: &str = "/torp2p-sim/mesh";
const IDENTIFY: &str = "/torp2p-sim/mesh/1.0.0";
/// Bytes per message: its number (4 bytes), the simulated second it was sent (8), filler.
const PAYLOAD: usize = 256;
/// How often Kademlia bootstraps again on its own (libp2p: 5 minutes).
const REBOOTSTRAP: Duration = Duration::from_secs(30);

/// One message to publish: when (simulated second) and its number.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Publish {
    pub(crate) at: u64,
    pub(crate) message: u32,
}

impl FromStr for Publish {
    type Err = String;

    /// `AT:N`.
    fn from_str(s: &str) -> Result<Self, String> {
        let (at, n) = s
            .split_once(':')
            .ok_or_else(|| format!("`{s}`: expected AT:N"))?;
        Ok(Self {
            at: at.parse().map_err(|e| format!("`{at}`: {e}"))?,
            message: n.parse().map_err(|e| format!("`{n}`: {e}"))?,
        })
    }
}

/// What `torp2p-sim mesh` was told.
#[derive(Debug, Clone)]
pub(crate) struct Args {
    pub(crate) control: std::net::SocketAddr,
    pub(crate) key: std::path::PathBuf,
    pub(crate) start_at: u64,
    pub(crate) bootstrap: Vec<Multiaddr>,
    pub(crate) publish: Vec<Publish>,
}

#[derive(NetworkBehaviour)]
#[behaviour(prelude = "libp2p_swarm::derive_prelude")]
struct App {
    gossipsub: gossipsub::Behaviour,
    kad: kad::Behaviour<kad::store::MemoryStore>,
    identify: identify::Behaviour,
}

fn app(keypair: &Keypair) -> Result<App, String> {
    let peer = keypair.public().to_peer_id();
    let gossipsub = gossipsub::Behaviour::new(
        gossipsub::MessageAuthenticity::Signed(keypair.clone()),
        gossipsub::Config::default(),
    )
    .map_err(|e| format!("gossipsub: {e}"))?;
    let mut config = kad::Config::new(kad::PROTOCOL_NAME);
    config.set_periodic_bootstrap_interval(Some(REBOOTSTRAP));
    let mut kad = kad::Behaviour::with_config(peer, kad::store::MemoryStore::new(peer), config);
    // Nobody confirms an external address over Tor: without this Kademlia stays a client.
    kad.set_mode(Some(kad::Mode::Server));
    let identify =
        identify::Behaviour::new(identify::Config::new(IDENTIFY.into(), keypair.public()));
    Ok(App {
        gossipsub,
        kad,
        identify,
    })
}

fn payload(message: u32, sent: f64) -> Vec<u8> {
    let mut data = vec![b'm'; PAYLOAD];
    data[..4].copy_from_slice(&message.to_be_bytes());
    data[4..12].copy_from_slice(&sent.to_bits().to_be_bytes());
    data
}

fn parse_payload(data: &[u8]) -> Option<(u32, f64)> {
    if data.len() != PAYLOAD {
        return None;
    }
    let n = u32::from_be_bytes(data[..4].try_into().ok()?);
    let sent = f64::from_bits(u64::from_be_bytes(data[4..12].try_into().ok()?));
    sent.is_finite().then_some((n, sent))
}

/// The peer id at the end of a `/onion3/.../p2p/<id>` address.
fn peer_of(addr: &Multiaddr) -> Option<PeerId> {
    addr.iter().find_map(|p| match p {
        Protocol::P2p(id) => Some(id),
        _ => None,
    })
}

/// Runs the mesh peer until the simulation ends it.
pub(crate) async fn run(args: Args) -> Result<(), String> {
    let tor = attach_bootstrapped(args.control).await?;
    let key = OnionKey::load(&args.key).map_err(|e| format!("--key: {e}"))?;
    let config = tor::Config::new()
        .with_key(key.clone())
        .with_listen_target(ListenTarget::LoopbackTcp);
    let transport = tor::Transport::from_tor(tor.clone(), config).map_err(|e| e.to_string())?;
    let keypair = tor::identity_from_key(&key);
    let mut swarm = Swarm::new(
        transport.upgraded(&keypair).map_err(|e| e.to_string())?,
        app(&keypair)?,
        keypair.public().to_peer_id(),
        libp2p_swarm::Config::with_tokio_executor()
            .with_idle_connection_timeout(Duration::from_secs(600))
            .with_substream_upgrade_protocol_override(Version::V1Lazy),
    );
    let topic = gossipsub::IdentTopic::new(TOPIC);
    swarm
        .behaviour_mut()
        .gossipsub
        .subscribe(&topic)
        .map_err(|e| format!("gossipsub: {e}"))?;
    swarm
        .listen_on(tor::listen_addr(&key, TORP2P_PORT).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;

    let until = |at: u64| Duration::from_secs_f64((at as f64 - now_s()).max(0.0));
    let join = tokio::time::sleep(until(args.start_at));
    tokio::pin!(join);
    let mut joined = false;
    // Messages whose time has passed (a peer restarted after churn) are not published.
    let mut publish: Vec<Publish> = args
        .publish
        .iter()
        .copied()
        .filter(|p| p.at as f64 >= now_s())
        .collect();
    publish.sort_by_key(|p| p.at);
    let mut publish = publish.into_iter().peekable();
    let hash = topic.hash();
    let mut last = (usize::MAX, usize::MAX);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        let next_publish = publish.peek().map_or(Duration::MAX, |p| until(p.at));
        tokio::select! {
            () = &mut join, if !joined => {
                joined = true;
                for addr in &args.bootstrap {
                    if let Some(peer) = peer_of(addr) {
                        swarm.behaviour_mut().kad.add_address(&peer, addr.clone());
                    }
                }
                if swarm.behaviour_mut().kad.bootstrap().is_err() {
                    emit(json!({ "event": "error", "message": "Kademlia has no peer to bootstrap from" }));
                }
            }
            () = tokio::time::sleep(next_publish), if publish.peek().is_some() => {
                let Some(p) = publish.next() else { continue };
                let data = payload(p.message, now_s());
                match swarm.behaviour_mut().gossipsub.publish(topic.clone(), data) {
                    Ok(_) => emit(json!({ "event": "sent", "msg": p.message })),
                    Err(e) => emit(json!({ "event": "send_failed", "msg": p.message, "reason": format!("{e:?}") })),
                }
            }
            _ = tick.tick() => {
                let now = (
                    swarm.behaviour().gossipsub.mesh_peers(&hash).count(),
                    swarm.connected_peers().count(),
                );
                if now != last {
                    last = now;
                    emit(json!({ "event": "mesh", "mesh": now.0, "connected": now.1 }));
                }
            }
            ev = swarm.select_next_some() => match ev {
                SwarmEvent::NewListenAddr { .. } => emit(json!({ "event": "published", "kind": "torp2p" })),
                SwarmEvent::ConnectionEstablished { endpoint, .. } if endpoint.is_dialer() => {
                    emit(json!({ "event": "conn", "ok": true }));
                }
                SwarmEvent::OutgoingConnectionError { error, .. } => {
                    let reason = dial_reason(&error);
                    let text: String = error.to_string().chars().take(400).collect();
                    emit(json!({ "event": "conn", "ok": false, "reason": reason, "error": text }));
                }
                SwarmEvent::Behaviour(AppEvent::Identify(identify::Event::Received { peer_id, info, .. })) => {
                    for addr in info.listen_addrs {
                        // Onion addresses only: nothing else is dialable here.
                        if addr.iter().any(|p| matches!(p, Protocol::Onion3(_))) {
                            swarm.behaviour_mut().kad.add_address(&peer_id, addr);
                        }
                    }
                }
                SwarmEvent::Behaviour(AppEvent::Gossipsub(gossipsub::Event::Message { message, .. })) => {
                    if let Some((n, sent)) = parse_payload(&message.data) {
                        let ms = ((now_s() - sent) * 1e6).round() / 1e3;
                        emit(json!({ "event": "gossip", "msg": n, "latency_ms": ms }));
                    }
                }
                _ => {}
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_carries_its_number_and_send_time() {
        let p = payload(7, 1234.5);
        assert_eq!(parse_payload(&p), Some((7, 1234.5)));
        assert_eq!(parse_payload(&p[..10]), None);
        assert_eq!(parse_payload(&payload(1, f64::NAN)), None);
    }

    #[test]
    fn publish_arguments() {
        assert_eq!(
            "600:3".parse::<Publish>(),
            Ok(Publish {
                at: 600,
                message: 3
            })
        );
        for bad in ["600", "x:1", "1:y", ""] {
            assert!(bad.parse::<Publish>().is_err(), "{bad}");
        }
    }
}
