//! A request-response chat between two onion peers.
//!
//! ```text
//! cargo run -p torp2p-transport --example chat -- listen
//!     print this peer's address, answer every message
//! cargo run -p torp2p-transport --example chat -- send <multiaddr> <message>
//!     send one message, print the answer, exit
//! ```
//!
//! Both peers are reachable only as onion services; neither learns the other's IP address.
//! Set `TORP2P_TORRC_EXTRA=<client.torrc>` to join a private network (`cargo xtask tornet`).
//!
//! This file stands alone: copy it into your project's `src/main.rs` with the dependencies
//! `torp2p-transport`, `futures`, `tokio` (features `macros`, `rt-multi-thread`) and `libp2p`
//! (features `tokio`, `noise`, `yamux`, `request-response`, `cbor`).

use std::time::Duration;

use futures::StreamExt;
use libp2p::core::upgrade::Version;
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::{Swarm, SwarmEvent};
use libp2p::{Multiaddr, StreamProtocol};
use torp2p_transport as tor;

/// A chat message and its answer are plain strings, CBOR-encoded.
type Behaviour = request_response::cbor::Behaviour<String, String>;

const PROTOCOL: StreamProtocol = StreamProtocol::new("/torp2p-chat/1");

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["listen"] => listen().await,
        ["send", addr, ref words @ ..] if !words.is_empty() => {
            send(addr.parse()?, words.join(" ")).await
        }
        _ => Err("usage: chat listen | chat send <multiaddr> <message>".into()),
    }
}

async fn swarm(key: Option<tor::OnionKey>) -> Result<Swarm<Behaviour>, Box<dyn std::error::Error>> {
    let mut config = tor::Config::new().with_tor(tor_config()?);
    if let Some(key) = key {
        config = config.with_key(key);
    }
    let transport = tor::Transport::new(config).await?;
    Ok(libp2p::SwarmBuilder::with_new_identity()
        .with_tokio()
        // Lazy multistream-select, noise, yamux, a timeout above the dial's.
        .with_other_transport(|id| Ok(transport.upgraded(id)?))?
        .with_behaviour(|_| {
            Behaviour::new(
                [(PROTOCOL, ProtocolSupport::Full)],
                request_response::Config::default().with_request_timeout(Duration::from_secs(60)),
            )
        })?
        .with_swarm_config(|c| {
            c.with_idle_connection_timeout(Duration::from_secs(60))
                // One round trip less per substream (each request is one) over Tor.
                .with_substream_upgrade_protocol_override(Version::V1Lazy)
        })
        .build())
}

async fn listen() -> Result<(), Box<dyn std::error::Error>> {
    let key = tor::OnionKey::generate();
    let mut swarm = swarm(Some(key.clone())).await?;
    swarm.listen_on(tor::listen_addr(&key, 4002)?)?;
    loop {
        match swarm.select_next_some().await {
            SwarmEvent::NewListenAddr { address, .. } => {
                println!("{address}/p2p/{}", swarm.local_peer_id());
            }
            SwarmEvent::Behaviour(request_response::Event::Message {
                peer,
                message:
                    request_response::Message::Request {
                        request, channel, ..
                    },
                ..
            }) => {
                eprintln!("{peer} says: {request}");
                let answer = format!("heard you: {request}");
                if swarm
                    .behaviour_mut()
                    .send_response(channel, answer)
                    .is_err()
                {
                    eprintln!("{peer} left before the answer");
                }
            }
            _ => {}
        }
    }
}

async fn send(addr: Multiaddr, message: String) -> Result<(), Box<dyn std::error::Error>> {
    let mut swarm = swarm(None).await?;
    swarm.dial(addr)?;
    loop {
        match swarm.select_next_some().await {
            SwarmEvent::ConnectionEstablished { peer_id, .. } => {
                swarm
                    .behaviour_mut()
                    .send_request(&peer_id, message.clone());
            }
            SwarmEvent::Behaviour(request_response::Event::Message {
                message: request_response::Message::Response { response, .. },
                ..
            }) => {
                println!("{response}");
                return Ok(());
            }
            SwarmEvent::Behaviour(request_response::Event::OutboundFailure { error, .. }) => {
                return Err(error.into());
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
