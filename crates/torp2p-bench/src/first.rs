//! The first connection to a fresh onion service: what a peer pays the first time it reaches
//! another (the dialer's tor fetches the service's descriptor, introduces itself through an
//! introduction point and builds the rendezvous), raw (SOCKS connect + first echo) vs torp2p
//! (`swarm.dial` → first ping).

use torp2p_socks::Isolation;

use crate::STEP;
use crate::network::Bed;
use crate::p2p::{TorHandle, ping_swarm};
use crate::server::Server;
use crate::setup::{Dialer, raw_setup, swarm_setup};

/// `n` pairs of first connections. For each pair two fresh listeners (new keys, so new onion
/// addresses that the dialer's tor has never seen) are published on the listener's tor at
/// once; one gets a raw first connection, the other a torp2p one, alternating which is first
/// and on which listener. Seconds to the first echo / first ping.
pub(crate) async fn first_connections(bed: &Bed, n: usize) -> Result<(Vec<f64>, Vec<f64>), String> {
    let host = TorHandle::CTor(bed.host.clone());
    let client = TorHandle::CTor(bed.client.clone());
    // One swarm for all torp2p dials: each is to a peer it never dialed, on a service its tor
    // never reached.
    let mut swarm = ping_swarm(&client, Isolation::PerPeer, true, STEP)?;
    let mut raw = Vec::with_capacity(n);
    let mut p2p = Vec::with_capacity(n);
    for i in 0..n {
        let (a, b) = match tokio::join!(
            Server::start(&host, bed.local),
            Server::start(&host, bed.local)
        ) {
            (Ok(a), Ok(b)) => (a, b),
            (a, b) => {
                // Stop the one that started, if one did, before failing.
                let mut errors = Vec::new();
                for s in [a, b] {
                    match s {
                        Ok(s) => s.stop(),
                        Err(e) => errors.push(e),
                    }
                }
                return Err(format!("first connections: {}", errors.join("; ")));
            }
        };
        let result = async {
            for raw_turn in [i % 2 == 0, i % 2 != 0] {
                let server = if raw_turn == (i % 2 == 0) { &a } else { &b };
                if raw_turn {
                    let target = server.raw_target()?;
                    let key = server.peer.to_string();
                    let s = raw_setup(&bed.proxy, &target, &key, Isolation::PerPeer).await?;
                    raw.push(s.seconds);
                } else {
                    let dialer = Dialer {
                        swarm: &mut swarm,
                        listener: &server.addr,
                        peer: server.peer,
                    };
                    p2p.push(swarm_setup(dialer, "first").await?.seconds);
                }
            }
            Ok::<(), String>(())
        }
        .await;
        a.stop();
        b.stop();
        result?;
    }
    Ok((raw, p2p))
}
