//! The smallest torp2p program: a libp2p swarm whose only transport is Tor.
//!
//! ```text
//! cargo run -p torp2p-transport --example minimal                 listen on a fresh onion
//!                                                                 address, print it, answer pings
//! cargo run -p torp2p-transport --example minimal -- <multiaddr>  dial that address, ping it
//! ```
//!
//! It starts a tor of its own on the real Tor network. To join a private network instead
//! (`cargo xtask tornet` writes the file), set `TORP2P_TORRC_EXTRA=<client.torrc>`.
//!
//! This file stands alone: copy it into your project's `src/main.rs` with the dependencies
//! `torp2p-transport`, `futures`, `tokio` (features `macros`, `rt-multi-thread`) and `libp2p`
//! (features `tokio`, `ping`).

use futures::StreamExt;
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, ping};
use torp2p_transport as tor;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let key = tor::OnionKey::generate(); // OnionKey::load_or_generate(path) keeps the address
    // ANCHOR: transport
    let config = tor::Config::new()
        .with_tor(tor_config()?)
        .with_key(key.clone());
    let transport = tor::Transport::new(config).await?; // starts tor, waits for bootstrap
    // One key: the libp2p identity is derived from the onion service key.
    let mut swarm = libp2p::SwarmBuilder::with_existing_identity(tor::identity_from_key(&key))
        .with_tokio()
        // Lazy multistream-select, noise, yamux, a timeout above the dial's.
        .with_other_transport(|id| Ok(transport.upgraded(id)?))?
        .with_behaviour(|_| ping::Behaviour::default())?
        .build();
    // ANCHOR_END: transport
    match std::env::args().nth(1) {
        Some(addr) => swarm.dial(addr.parse::<Multiaddr>()?)?,
        None => swarm.listen_on(tor::listen_addr(&key, 4001)?).map(drop)?,
    }
    loop {
        match swarm.select_next_some().await {
            SwarmEvent::NewListenAddr { address, .. } => {
                println!("{address}/p2p/{}", swarm.local_peer_id());
            }
            SwarmEvent::Behaviour(ping::Event {
                peer,
                result: Ok(rtt),
                ..
            }) => {
                println!("ping {peer}: {} ms", rtt.as_millis());
            }
            SwarmEvent::OutgoingConnectionError { error, .. } => return Err(error.into()),
            _ => {}
        }
    }
}

/// A tor of our own; joined to a private network if `TORP2P_TORRC_EXTRA` names a torrc file.
fn tor_config() -> Result<tor::daemon::Config, tor::daemon::Error> {
    let config = tor::daemon::Config::new();
    match std::env::var_os("TORP2P_TORRC_EXTRA") {
        Some(path) => config.with_torrc_file(path),
        None => Ok(config),
    }
}
