//! One peer of a mesh: the application (gossipsub, Kademlia and identify in a swarm on a
//! transport of its own) and the task that drives it and reports what the mesh measures.

use std::future::poll_fn;
use std::task::Poll;
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use libp2p_core::Multiaddr;
use libp2p_core::transport::upgrade::Version;
use libp2p_gossipsub as gossipsub;
use libp2p_identify as identify;
use libp2p_identity::{Keypair, PeerId};
use libp2p_kad as kad;
use libp2p_swarm::{NetworkBehaviour, Swarm, SwarmEvent};
use tokio::sync::mpsc;

use crate::p2p::Upgraded;

/// The gossipsub topic every peer subscribes to and publishes on.
const TOPIC: &str = "/torp2p-bench/mesh";
/// identify's protocol version string.
const IDENTIFY: &str = "/torp2p-bench/mesh/1.0.0";
/// Bytes per gossipsub message: the message's number (4 bytes, big-endian), then filler.
pub(crate) const PAYLOAD: usize = 256;

/// The application: gossipsub on one topic, Kademlia (server mode, a memory store) to find
/// peers, identify to learn their listen addresses for Kademlia.
#[derive(NetworkBehaviour)]
#[behaviour(prelude = "libp2p_swarm::derive_prelude")]
pub(crate) struct App {
    gossipsub: gossipsub::Behaviour,
    kad: kad::Behaviour<kad::store::MemoryStore>,
    identify: identify::Behaviour,
}

/// gossipsub's configuration, libp2p's defaults throughout (D = 6, D_low = 5, D_high = 12, a
/// heartbeat a second after 5 s, flood publishing, signed messages validated strictly), the
/// same over onion services and over TCP.
pub(crate) fn gossipsub_config() -> gossipsub::Config {
    gossipsub::Config::default()
}

/// How often Kademlia bootstraps again on its own, besides after each new peer in its
/// routing table (libp2p's default: every 5 minutes).
pub(crate) const REBOOTSTRAP: Duration = Duration::from_secs(5);

/// Kademlia's configuration: libp2p's defaults (K = 20, α = 3, a bootstrap 500 ms after each
/// new peer in the routing table) but for [`REBOOTSTRAP`]. All peers start at once, so the
/// first peer often knows few others yet when they ask it; bootstrapping again every few
/// seconds lets a peer that learned of the rest late find them within seconds rather than
/// minutes. (The meshes that did not form in the first `--delay-ms 25` runs were another
/// cause, over TCP only: see [`super::tcp`].)
fn kad_config() -> kad::Config {
    let mut config = kad::Config::new(kad::PROTOCOL_NAME);
    config.set_periodic_bootstrap_interval(Some(REBOOTSTRAP));
    config
}

/// A swarm of the application with `keypair` on `transport` (noise + yamux already on it);
/// substreams negotiate with multistream-select `V1Lazy`, as torp2p sets swarms up, over TCP
/// too.
pub(crate) fn swarm(keypair: &Keypair, transport: Upgraded) -> Result<Swarm<App>, String> {
    let peer = keypair.public().to_peer_id();
    let gossipsub = gossipsub::Behaviour::new(
        gossipsub::MessageAuthenticity::Signed(keypair.clone()),
        gossipsub_config(),
    )
    .map_err(|e| format!("gossipsub: {e}"))?;
    let mut kad =
        kad::Behaviour::with_config(peer, kad::store::MemoryStore::new(peer), kad_config());
    // No peer confirms an external address (on Tor none may: see torp2p-transport's
    // warnings), so Kademlia's automatic mode would stay a client and answer nobody.
    kad.set_mode(Some(kad::Mode::Server));
    let identify =
        identify::Behaviour::new(identify::Config::new(IDENTIFY.into(), keypair.public()));
    let config = libp2p_swarm::Config::with_tokio_executor()
        .with_idle_connection_timeout(Duration::from_secs(600))
        .with_substream_upgrade_protocol_override(Version::V1Lazy);
    Ok(Swarm::new(
        transport,
        App {
            gossipsub,
            kad,
            identify,
        },
        peer,
        config,
    ))
}

/// What the mesh tells a peer's task.
#[derive(Debug)]
pub(crate) enum Down {
    /// Join the mesh: Kademlia learns the bootstrap peer (none for the first peer, whom the
    /// others dial) and bootstraps, which dials it.
    Start {
        bootstrap: Option<(PeerId, Multiaddr)>,
    },
    /// Publish the message with this number.
    Publish { message: u32 },
}

/// What a peer's task tells the mesh, with the instant it happened.
#[derive(Debug)]
pub(crate) enum Up {
    /// The listener is up (on an onion service: its descriptors are published).
    Listening {
        peer: usize,
        addr: Multiaddr,
        at: Instant,
    },
    /// The peer's gossipsub mesh for the topic, or its number of connected peers, changed.
    Mesh {
        peer: usize,
        mesh: usize,
        connected: usize,
        at: Instant,
    },
    /// The peer published a message; `took` is the `publish` call itself.
    Published {
        message: u32,
        at: Instant,
        took: Duration,
    },
    /// gossipsub delivered a message to the peer.
    Received {
        peer: usize,
        message: u32,
        at: Instant,
    },
    /// The peer cannot go on.
    Failed { peer: usize, error: String },
}

/// The payload of message `message`.
pub(crate) fn payload(message: u32) -> Vec<u8> {
    let mut data = vec![b'm'; PAYLOAD];
    data[..4].copy_from_slice(&message.to_be_bytes());
    data
}

/// The number of a message of [`payload`]'s making.
pub(crate) fn message_number(data: &[u8]) -> Option<u32> {
    match data {
        [a, b, c, d, ..] if data.len() == PAYLOAD => Some(u32::from_be_bytes([*a, *b, *c, *d])),
        _ => None,
    }
}

/// One turn of a peer's task.
enum Step {
    Mesh(usize, usize),
    Down(Option<Down>),
    Swarm(Box<SwarmEvent<AppEvent>>),
}

/// Drives peer `peer`'s swarm until `down` closes: subscribes, listens on `listen`, follows
/// the mesh's commands and reports to `up`. A change of its gossipsub mesh is seen as soon as
/// the swarm has been polled (gossipsub reports grafts and its heartbeat's changes by no
/// event): the size is read after every poll, so no timer is needed.
pub(crate) async fn run(
    peer: usize,
    mut swarm: Swarm<App>,
    listen: Multiaddr,
    mut down: mpsc::Receiver<Down>,
    up: mpsc::Sender<Up>,
) {
    let topic = gossipsub::IdentTopic::new(TOPIC);
    let hash = topic.hash();
    let started = swarm
        .behaviour_mut()
        .gossipsub
        .subscribe(&topic)
        .map_err(|e| format!("cannot subscribe: {e}"))
        .and_then(|_| {
            swarm
                .listen_on(listen)
                .map(drop)
                .map_err(|e| format!("cannot listen: {e}"))
        });
    if let Err(error) = started {
        let _ = up.send(Up::Failed { peer, error }).await;
        return;
    }
    let mut listening = false;
    let mut last = (0, 0);
    loop {
        let sizes = |swarm: &Swarm<App>| {
            (
                swarm.behaviour().gossipsub.mesh_peers(&hash).count(),
                swarm.connected_peers().count(),
            )
        };
        let step = poll_fn(|cx| {
            let now = sizes(&swarm);
            if now != last {
                return Poll::Ready(Step::Mesh(now.0, now.1));
            }
            if let Poll::Ready(command) = down.poll_recv(cx) {
                return Poll::Ready(Step::Down(command));
            }
            match swarm.poll_next_unpin(cx) {
                Poll::Ready(Some(event)) => Poll::Ready(Step::Swarm(Box::new(event))),
                Poll::Ready(None) => Poll::Ready(Step::Down(None)),
                Poll::Pending => {
                    let now = sizes(&swarm);
                    if now == last {
                        Poll::Pending
                    } else {
                        Poll::Ready(Step::Mesh(now.0, now.1))
                    }
                }
            }
        })
        .await;
        let report = match step {
            Step::Mesh(mesh, connected) => {
                last = (mesh, connected);
                Some(Up::Mesh {
                    peer,
                    mesh,
                    connected,
                    at: Instant::now(),
                })
            }
            Step::Down(None) => return,
            Step::Down(Some(Down::Start { bootstrap })) => {
                let kad = &mut swarm.behaviour_mut().kad;
                match bootstrap {
                    Some((id, addr)) => {
                        kad.add_address(&id, addr);
                        kad.bootstrap().err().map(|_| Up::Failed {
                            peer,
                            error: "Kademlia cannot bootstrap: no known peer".into(),
                        })
                    }
                    None => None,
                }
            }
            Step::Down(Some(Down::Publish { message })) => {
                let t = Instant::now();
                let published = swarm
                    .behaviour_mut()
                    .gossipsub
                    .publish(topic.clone(), payload(message));
                let took = t.elapsed();
                Some(match published {
                    Ok(_) => Up::Published {
                        message,
                        at: t,
                        took,
                    },
                    Err(e) => Up::Failed {
                        peer,
                        error: format!("cannot publish message {message}: {e}"),
                    },
                })
            }
            Step::Swarm(event) => on_event(peer, &mut swarm, *event, &mut listening),
        };
        if let Some(report) = report
            && up.send(report).await.is_err()
        {
            return;
        }
    }
}

/// What a swarm event means for the mesh: Kademlia learns identify's listen addresses; the
/// first listen address, a delivered message or a listener's failure are reported.
fn on_event(
    peer: usize,
    swarm: &mut Swarm<App>,
    event: SwarmEvent<AppEvent>,
    listening: &mut bool,
) -> Option<Up> {
    match event {
        SwarmEvent::NewListenAddr { address, .. } if !*listening => {
            *listening = true;
            Some(Up::Listening {
                peer,
                addr: address,
                at: Instant::now(),
            })
        }
        SwarmEvent::ListenerClosed { reason: Err(e), .. } => Some(Up::Failed {
            peer,
            error: format!("the listener closed: {e}"),
        }),
        SwarmEvent::ListenerError { error, .. } => Some(Up::Failed {
            peer,
            error: format!("the listener failed: {error}"),
        }),
        SwarmEvent::Behaviour(AppEvent::Identify(identify::Event::Received {
            peer_id,
            info,
            ..
        })) => {
            for addr in info.listen_addrs {
                swarm.behaviour_mut().kad.add_address(&peer_id, addr);
            }
            None
        }
        SwarmEvent::Behaviour(AppEvent::Gossipsub(gossipsub::Event::Message {
            message, ..
        })) => message_number(&message.data).map(|message| Up::Received {
            peer,
            message,
            at: Instant::now(),
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_carries_its_number() {
        let p = payload(0x0102_0304);
        assert_eq!(p.len(), PAYLOAD);
        assert_eq!(message_number(&p), Some(0x0102_0304));
        assert_eq!(message_number(&payload(0)), Some(0));
        assert_eq!(message_number(&p[..PAYLOAD - 1]), None);
        assert_eq!(message_number(&[]), None);
    }
}
