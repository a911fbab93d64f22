//! The phases of `--backend arti`, each taking raw Tor, torp2p over C tor and torp2p over arti
//! in turn, sample by sample, in rotating order.

use std::time::Duration;

use libp2p_core::muxing::SubstreamBox;
use multistream_select::Negotiated;
use torp2p_daemon::Publication;
use torp2p_socks::Isolation;

use super::{Bed, C_TOR, RAW};
use crate::STEP;
use crate::listen::{listen_once, raw_once};
use crate::network::within;
use crate::p2p::{Conn, PING, connect, dialer, ping_on, ping_swarm};
use crate::raw::{self, RawStream};
use crate::report::Setups;
use crate::setup::{Dialer, raw_setup, swarm_setup};
use crate::throughput::transfer;

/// Samples of each side.
pub(crate) type Three = [Vec<f64>; 3];

/// Listener readiness: ADD_ONION → published on the C tor listener's tor (raw), `listen_on` →
/// `NewAddress` on C tor and on arti, with the same publication policy. Seconds.
pub(crate) async fn readiness(
    bed: &Bed,
    n: usize,
    publication: Publication,
) -> Result<Three, String> {
    let mut out = Three::default();
    for i in 0..n {
        for k in 0..3 {
            let side = (i + k) % 3;
            let secs = match side {
                RAW => raw_once(&bed.host, &bed.unused_target, publication).await?,
                C_TOR => listen_once(&bed.c_tor_host, bed.local, publication).await?,
                _ => listen_once(&bed.arti_host, bed.local, publication).await?,
            };
            out[side].push(secs);
        }
    }
    Ok(out)
}

/// One warm line to a circuit's listeners: a raw echo stream and a ping substream on a
/// torp2p connection over C tor and over arti (the connections kept open with them).
struct Line {
    echo: RawStream,
    pings: [Negotiated<SubstreamBox>; 2],
    _conns: [Conn; 2],
}

/// Warm round trips over every circuit: a 64-byte echo on a raw SOCKS stream and a ping (32
/// bytes echoed on a ping substream, as `libp2p-ping` does) on a torp2p connection over C tor
/// and over arti, one at a time, 0.2 s apart. Seconds, per circuit.
pub(crate) async fn round_trips(bed: &Bed, n: usize) -> Result<Vec<Three>, String> {
    let mut c_tor = dialer(&bed.c_tor, Isolation::PerPeer)?;
    let mut arti = dialer(&bed.arti, Isolation::PerPeer)?;
    let mut lines = Vec::new();
    for c in &bed.circuits {
        let c_conn = within(STEP, "dial over C tor", connect(&mut c_tor, &c.c_tor.addr)).await?;
        let a_conn = within(STEP, "dial over arti", connect(&mut arti, &c.arti.addr)).await?;
        let pings = [c_conn.open(PING).await?, a_conn.open(PING).await?];
        // The same isolation key as the C tor dial: the same circuit.
        let echo =
            raw::connect_echo(&bed.proxy, &c.raw_target, &c.peer_key, Isolation::PerPeer).await?;
        lines.push(Line {
            echo,
            pings,
            _conns: [c_conn, a_conn],
        });
    }
    let mut per_circuit = vec![Three::default(); lines.len()];
    // Three rounds of warm-up on every line (the first carries the substream negotiation).
    let count = lines.len();
    let warm_up = 3 * count;
    for i in 0..warm_up + n {
        let circuit = i % count;
        let line = &mut lines[circuit];
        for k in 0..3 {
            let side = (i / count + k) % 3;
            // A pause, so that each exchange starts on an idle circuit (see `round_trips`).
            tokio::time::sleep(Duration::from_millis(200)).await;
            let secs = within(STEP, "a round trip", async {
                match side {
                    RAW => raw::echo(&mut line.echo, i as u8).await,
                    C_TOR => ping_on(&mut line.pings[0]).await,
                    _ => ping_on(&mut line.pings[1]).await,
                }
            })
            .await?;
            if i >= warm_up {
                per_circuit[circuit][side].push(secs);
            }
        }
    }
    Ok(per_circuit)
}

/// Connection setups with `isolation` (per connection: every setup on new circuits; per
/// peer: on the circuits of the listener), over the listeners in turn: raw (SOCKS connect +
/// 64-byte echo), torp2p over C tor and over arti (`swarm.dial` → first ping, `V1Lazy`). Per
/// listener (circuit).
pub(crate) async fn setups(
    bed: &Bed,
    n: usize,
    isolation: Isolation,
) -> Result<Vec<[Setups; 3]>, String> {
    let mut c_tor = ping_swarm(&bed.c_tor, isolation, true, STEP)?;
    let mut arti = ping_swarm(&bed.arti, isolation, true, STEP)?;
    let mut out: Vec<[Setups; 3]> = vec![Default::default(); bed.circuits.len()];
    // On warm circuits, a first unrecorded round on every circuit makes sure it is there.
    let skip = if isolation == Isolation::PerConnection {
        0
    } else {
        bed.circuits.len()
    };
    for i in 0..n + skip {
        let c = &bed.circuits[i % bed.circuits.len()];
        for k in 0..3 {
            let side = (i + k) % 3;
            // A pause, so that each setup starts on an idle circuit.
            tokio::time::sleep(Duration::from_millis(150)).await;
            let result = match side {
                RAW => raw_setup(&bed.proxy, &c.raw_target, &c.peer_key, isolation).await,
                C_TOR => {
                    let d = Dialer {
                        swarm: &mut c_tor,
                        listener: &c.c_tor.addr,
                        peer: c.c_tor.peer,
                    };
                    swarm_setup(d, "c tor").await
                }
                _ => {
                    let d = Dialer {
                        swarm: &mut arti,
                        listener: &c.arti.addr,
                        peer: c.arti.peer,
                    };
                    swarm_setup(d, "arti").await
                }
            };
            if i >= skip {
                out[i % bed.circuits.len()][side].push(result);
            }
        }
    }
    Ok(out)
}

/// Transfers of `mib` MiB over the circuits in turn: over a raw SOCKS stream and over a yamux
/// substream of a warm torp2p connection over C tor and over arti. MiB/s, per circuit.
pub(crate) async fn throughput(bed: &Bed, n: usize, mib: usize) -> Result<Vec<Three>, String> {
    let mut c_tor = dialer(&bed.c_tor, Isolation::PerPeer)?;
    let mut arti = dialer(&bed.arti, Isolation::PerPeer)?;
    let mut conns = Vec::new();
    for c in &bed.circuits {
        let c_conn = within(STEP, "dial over C tor", connect(&mut c_tor, &c.c_tor.addr)).await?;
        let a_conn = within(STEP, "dial over arti", connect(&mut arti, &c.arti.addr)).await?;
        // One small transfer each first (yamux's first window, tor's circuit).
        raw::transfer(&bed.proxy, &c.raw_target, &c.peer_key, 1).await?;
        transfer(&c_conn, 1, 1).await?;
        transfer(&a_conn, 1, 1).await?;
        conns.push([c_conn, a_conn]);
    }
    let limit = STEP * 3;
    let mut per_circuit = vec![Three::default(); conns.len()];
    for i in 0..n {
        let circuit = i % conns.len();
        let c = &bed.circuits[circuit];
        for k in 0..3 {
            let side = (i + k) % 3;
            let rate = match side {
                RAW => {
                    let t = raw::transfer(&bed.proxy, &c.raw_target, &c.peer_key, mib);
                    within(limit, "raw transfer", t).await?
                }
                C_TOR => within(limit, "transfer", transfer(&conns[circuit][0], mib, 1)).await?,
                _ => within(limit, "transfer", transfer(&conns[circuit][1], mib, 1)).await?,
            };
            per_circuit[circuit][side].push(rate);
        }
    }
    Ok(per_circuit)
}
