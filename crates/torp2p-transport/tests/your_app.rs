//! Your application's own test on a private Tor network: what the book's chapter "Testing your
//! application" walks through. It uses only what an application has (the `libp2p` umbrella
//! crate, `torp2p-transport`, and `torp2p-testnet` as a dev-dependency), and builds the swarm
//! the way the application does in production; only the tor source differs.
//!
//! `cargo test -p torp2p-transport --test your_app` runs it (about 30 s here), as
//! `cargo xtask test` and CI do.

// ANCHOR: app
use std::time::Duration;

use futures::StreamExt;
use libp2p::swarm::SwarmEvent;
use libp2p::{Swarm, ping};
use torp2p_transport as tor;

/// The application's swarm: its transport is Tor alone; `tor_source` says which tor (in
/// production the default, a tor of its own on the Tor network; in tests a private one).
async fn app_swarm(
    tor_source: tor::TorSource,
    key: &tor::OnionKey,
) -> Result<Swarm<ping::Behaviour>, Box<dyn std::error::Error>> {
    let config = tor::Config::new()
        .with_tor(tor_source)
        .with_key(key.clone());
    let transport = tor::Transport::new(config).await?;
    Ok(
        libp2p::SwarmBuilder::with_existing_identity(tor::identity_from_key(key))
            .with_tokio()
            .with_other_transport(|id| Ok(transport.upgraded(id)?))?
            .with_behaviour(|_| {
                ping::Behaviour::new(ping::Config::new().with_interval(Duration::from_secs(1)))
            })?
            .build(),
    )
}
// ANCHOR_END: app

// ANCHOR: test
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_of_the_app_ping_each_other() -> Result<(), Box<dyn std::error::Error>> {
    torp2p_testnet::TestNet::builder()
        .run(async |net| {
            // Two instances of the application, each with a tor of its own on the network.
            let key_a = tor::OnionKey::generate();
            let mut a = app_swarm(net.client_config().into(), &key_a).await?;
            let mut b = app_swarm(net.client_config().into(), &tor::OnionKey::generate()).await?;

            // A listens; the address is reported once its onion service is published.
            a.listen_on(tor::listen_addr(&key_a, 4001)?)?;
            let addr = loop {
                if let SwarmEvent::NewListenAddr { address, .. } = a.select_next_some().await {
                    break address;
                }
            };

            // B dials A and both swarms run until B has pinged A (a hang guard, not a
            // measurement: on this network it takes a few seconds).
            let a_id = *a.local_peer_id();
            b.dial(
                addr.with_p2p(a_id)
                    .map_err(|_| "A's address has a /p2p part")?,
            )?;
            let rtt = tokio::time::timeout(Duration::from_secs(120), async {
                loop {
                    tokio::select! {
                        _ = a.select_next_some() => {}
                        event = b.select_next_some() => match event {
                            SwarmEvent::Behaviour(ping::Event { peer, result: Ok(rtt), .. })
                                if peer == a_id => return Ok(rtt),
                            SwarmEvent::OutgoingConnectionError { error, .. } => {
                                return Err(format!("B could not reach A: {error}"));
                            }
                            _ => {}
                        },
                    }
                }
            })
            .await
            .map_err(|_| "B did not ping A within 120 s")??;
            assert!(rtt > Duration::ZERO);
            Ok(())
        })
        .await
}
// ANCHOR_END: test
