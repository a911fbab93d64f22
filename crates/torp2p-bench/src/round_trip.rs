//! Round trips on warm connections: a 64-byte echo on a raw SOCKS stream vs a libp2p ping.

use std::time::Duration;

use torp2p_socks::Isolation;

use crate::network::Bed;
use crate::p2p::{TorHandle, next_ping, ping_swarm};
use crate::raw;

/// Warm round trips, interleaved: a libp2p ping (its RTT as `libp2p-ping` measures it),
/// then a 64-byte echo on a raw SOCKS stream. Seconds.
pub(crate) async fn round_trips(bed: &Bed, n: usize) -> Result<(Vec<f64>, Vec<f64>), String> {
    // Pings 0.5 s apart, each echo 0.2 s after a ping: they never overlap, and each starts
    // on a circuit that has been idle for a while (right after a cell went through, tor's
    // relays can hold the next one back a few milliseconds: measured here, an echo right
    // after each ping took 3–4 ms longer than the ping).
    let (mut swarm, _) = ping_swarm(
        &TorHandle::CTor(bed.client.clone()),
        Isolation::PerPeer,
        true,
        Duration::from_millis(500),
    )?;
    swarm
        .dial(bed.listener.clone())
        .map_err(|e| format!("dial: {e}"))?;
    // The same isolation key as the swarm's dial: the same circuit.
    let mut echo = raw::connect_echo(
        &bed.proxy,
        &bed.raw_target,
        &bed.peer_key,
        Isolation::PerPeer,
    )
    .await?;
    // Warm both up: the first ping carries the substream negotiation.
    for i in 0..3 {
        next_ping(&mut swarm, None).await?;
        tokio::time::sleep(Duration::from_millis(200)).await;
        raw::echo(&mut echo, i).await?;
    }
    let mut raw = Vec::with_capacity(n);
    let mut p2p = Vec::with_capacity(n);
    for i in 0..n {
        p2p.push(next_ping(&mut swarm, None).await?);
        tokio::time::sleep(Duration::from_millis(200)).await;
        raw.push(raw::echo(&mut echo, i as u8).await?);
    }
    Ok((raw, p2p))
}
