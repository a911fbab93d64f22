//! Connection setup: SOCKS connect + first echo vs `swarm.dial` → first ping, torp2p's
//! `V1Lazy` setup and a stock `V1` one, on new circuits and on warm ones, with the round trips
//! each needs counted on the stream.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures::StreamExt;
use libp2p_swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p_swarm::{Swarm, SwarmEvent};
use torp2p_socks::Isolation;

use crate::counted::Flights;
use crate::network::{Bed, within};
use crate::p2p::{Slot, next_ping, ping_swarm};
use crate::report::Setups;
use crate::{STEP, raw};

/// Connection setups with `isolation` (per connection: every setup on new circuits; per
/// peer: on the warm circuit to the service), interleaved in rotating order: raw (SOCKS
/// connect + 64-byte echo), torp2p (`swarm.dial` → first ping), stock (the same with a
/// `V1` setup).
pub(crate) async fn setups(
    bed: &Bed,
    n: usize,
    isolation: Isolation,
) -> Result<[Setups; 3], String> {
    let mut lazy = ping_swarm(bed.client.clone(), isolation, true, STEP)?;
    let mut stock = ping_swarm(bed.client.clone(), isolation, false, STEP)?;
    let mut out: [Setups; 3] = Default::default();
    // On warm circuits, a first unrecorded round makes sure the circuit is there.
    let skip = usize::from(isolation != Isolation::PerConnection);
    for i in 0..n + skip {
        for k in 0..3 {
            let variant = (i + k) % 3;
            // A pause, so that each setup starts on an idle circuit (see `round_trips`).
            tokio::time::sleep(Duration::from_millis(150)).await;
            let result = match variant {
                0 => raw_setup(bed, isolation).await,
                1 => swarm_setup(bed, &mut lazy, "torp2p").await,
                _ => swarm_setup(bed, &mut stock, "stock").await,
            };
            if i < skip {
                continue;
            }
            match result {
                Ok((secs, rt)) => {
                    out[variant].seconds.push(secs);
                    out[variant].round_trips.0.push(rt);
                }
                Err(e) => {
                    eprintln!("torp2p-bench: a setup failed: {e}");
                    out[variant].failed += 1;
                }
            }
        }
    }
    Ok(out)
}

async fn raw_setup(bed: &Bed, isolation: Isolation) -> Result<(f64, u32), String> {
    let t = Instant::now();
    let mut s = raw::connect_echo(&bed.proxy, &bed.raw_target, &bed.peer_key, isolation).await?;
    raw::echo(&mut s, 1).await?;
    let elapsed = t.elapsed().as_secs_f64();
    trace("raw", elapsed, &s.flights);
    Ok((elapsed, s.flights.round_trips()))
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

async fn swarm_setup(
    bed: &Bed,
    (swarm, slot): &mut (Swarm<libp2p_ping::Behaviour>, Arc<Slot>),
    name: &str,
) -> Result<(f64, u32), String> {
    let opts = DialOpts::peer_id(bed.listener_peer)
        .addresses(vec![bed.listener.clone()])
        .condition(PeerCondition::Always)
        .build();
    let id = opts.connection_id();
    let t = Instant::now();
    swarm.dial(opts).map_err(|e| format!("dial: {e}"))?;
    let result = next_ping(swarm, Some(id)).await;
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
    result?;
    let flights = flights
        .filter(|f| f.is_used())
        .ok_or("no stream was counted")?;
    Ok((elapsed, flights.round_trips()))
}
