//! Connection setup: SOCKS connect + first echo vs `swarm.dial` → first ping, torp2p's
//! `V1Lazy` setup and the stock one (libp2p's `SwarmBuilder`: `V1Lazy` for the connection,
//! `V1` for substreams), on new circuits and on warm ones, with the round trips each needs
//! counted on the stream.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures::StreamExt;
use libp2p_swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p_swarm::{Swarm, SwarmEvent};
use torp2p_socks::Isolation;

use libp2p_core::Multiaddr;
use libp2p_identity::PeerId;
use torp2p_addr::{DialTarget, LocalAddr};

use crate::counted::Flights;
use crate::network::{Bed, within};
use crate::p2p::{Slot, TorHandle, ping_swarm};
use crate::report::Setups;
use crate::{STEP, raw};

/// One connection setup: seconds to the first answer (echo or ping), to the tor stream (the
/// SOCKS reply, or arti's stream) and, for a libp2p connection, to `ConnectionEstablished`
/// (noise and yamux done); the round trips counted after the tor stream opened.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sample {
    pub(crate) seconds: f64,
    pub(crate) stream: f64,
    pub(crate) connected: Option<f64>,
    pub(crate) round_trips: u32,
}

impl Setups {
    pub(crate) fn push(&mut self, result: Result<Sample, String>) {
        match result {
            Ok(s) => {
                self.seconds.push(s.seconds);
                self.stream.push(s.stream);
                self.connected.extend(s.connected);
                self.round_trips.0.push(s.round_trips);
            }
            Err(e) => {
                eprintln!("torp2p-bench: a setup failed: {e}");
                self.failed += 1;
            }
        }
    }
}

/// A swarm to dial a listener from, and the listener.
pub(crate) struct Dialer<'a> {
    pub(crate) swarm: &'a mut (Swarm<libp2p_ping::Behaviour>, Arc<Slot>),
    pub(crate) listener: &'a Multiaddr,
    pub(crate) peer: PeerId,
}

/// Connection setups with `isolation` (per connection: every setup on new circuits; per
/// peer: on the warm circuit to the service), interleaved in rotating order: raw (SOCKS
/// connect + 64-byte echo), torp2p (`swarm.dial` → first ping), stock (the same with
/// `SwarmBuilder`'s setup: `V1` substreams).
pub(crate) async fn setups(
    bed: &Bed,
    n: usize,
    isolation: Isolation,
) -> Result<[Setups; 3], String> {
    let client = TorHandle::CTor(bed.client.clone());
    let mut lazy = ping_swarm(&client, isolation, true, STEP)?;
    let mut stock = ping_swarm(&client, isolation, false, STEP)?;
    let mut out: [Setups; 3] = Default::default();
    // On warm circuits, a first unrecorded round makes sure the circuit is there.
    let skip = usize::from(isolation != Isolation::PerConnection);
    for i in 0..n + skip {
        for k in 0..3 {
            let variant = (i + k) % 3;
            // A pause, so that each setup starts on an idle circuit (see `round_trips`).
            tokio::time::sleep(Duration::from_millis(150)).await;
            let dialer = |swarm| Dialer {
                swarm,
                listener: &bed.listener,
                peer: bed.listener_peer,
            };
            let result = match variant {
                0 => raw_setup(&bed.proxy, &bed.raw_target, &bed.peer_key, isolation).await,
                1 => swarm_setup(dialer(&mut lazy), "torp2p").await,
                _ => swarm_setup(dialer(&mut stock), "stock").await,
            };
            if i >= skip {
                out[variant].push(result);
            }
        }
    }
    Ok(out)
}

/// SOCKS connect + a 64-byte echo.
pub(crate) async fn raw_setup(
    proxy: &LocalAddr,
    target: &DialTarget,
    key: &str,
    isolation: Isolation,
) -> Result<Sample, String> {
    let t = Instant::now();
    let mut s = raw::connect_echo(proxy, target, key, isolation).await?;
    raw::echo(&mut s, 1).await?;
    let elapsed = t.elapsed().as_secs_f64();
    trace("raw", elapsed, &s.flights);
    Ok(Sample {
        seconds: elapsed,
        stream: s.flights.created().duration_since(t).as_secs_f64(),
        connected: None,
        round_trips: s.flights.round_trips(),
    })
}

/// With `--trace`: where a setup's time went, on stderr.
fn trace(what: &str, elapsed: f64, flights: &Flights) {
    if crate::TRACE.load(Ordering::Relaxed) {
        let after = flights.since_created_ms();
        eprintln!(
            "trace {what}: SOCKS reply at {:.1}ms, done {:.1}ms later; after the reply: {}",
            elapsed * 1000.0 - after,
            after,
            flights.timeline()
        );
    }
}

/// `swarm.dial` → the first ping.
pub(crate) async fn swarm_setup(dialer: Dialer<'_>, name: &str) -> Result<Sample, String> {
    let (swarm, slot) = dialer.swarm;
    let opts = DialOpts::peer_id(dialer.peer)
        .addresses(vec![dialer.listener.clone()])
        .condition(PeerCondition::Always)
        .build();
    let id = opts.connection_id();
    let t = Instant::now();
    swarm.dial(opts).map_err(|e| format!("dial: {e}"))?;
    let result = first_ping(swarm, id, t).await;
    let elapsed = t.elapsed().as_secs_f64();
    let flights = slot.take();
    if let Some(f) = &flights {
        trace(name, elapsed, f);
    }
    if swarm.close_connection(id) {
        let _ = within(Duration::from_secs(30), "closing a connection", async {
            loop {
                if let SwarmEvent::ConnectionClosed { connection_id, .. } =
                    swarm.select_next_some().await
                    && connection_id == id
                {
                    return Ok(());
                }
            }
        })
        .await;
    }
    let connected = result?;
    let flights = flights
        .filter(|f| f.is_used())
        .ok_or("no stream was counted")?;
    Ok(Sample {
        seconds: elapsed,
        stream: flights.created().duration_since(t).as_secs_f64(),
        connected: Some(connected),
        round_trips: flights.round_trips(),
    })
}

/// Drives `swarm` until the first ping on connection `id` succeeds: seconds from `t` to its
/// `ConnectionEstablished`.
async fn first_ping(
    swarm: &mut Swarm<libp2p_ping::Behaviour>,
    id: libp2p_swarm::ConnectionId,
    t: Instant,
) -> Result<f64, String> {
    within(STEP, "a ping", async {
        let mut connected = None;
        loop {
            match swarm.select_next_some().await {
                SwarmEvent::ConnectionEstablished { connection_id, .. } if connection_id == id => {
                    connected = Some(t.elapsed().as_secs_f64());
                }
                SwarmEvent::Behaviour(libp2p_ping::Event {
                    connection, result, ..
                }) if connection == id => {
                    result.map_err(|e| format!("ping failed: {e}"))?;
                    return connected.ok_or_else(|| "a ping before the connection".to_string());
                }
                SwarmEvent::OutgoingConnectionError {
                    connection_id,
                    error,
                    ..
                } if connection_id == id => return Err(format!("dial failed: {error}")),
                SwarmEvent::ConnectionClosed {
                    connection_id,
                    cause,
                    ..
                } if connection_id == id => {
                    return Err(format!("connection closed: {cause:?}"));
                }
                _ => {}
            }
        }
    })
    .await
}
