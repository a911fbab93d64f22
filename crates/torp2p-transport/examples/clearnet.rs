//! Dialing a clearnet address through a Tor exit relay, with `Clearnet::ThroughTor`.
//!
//! ```text
//! cargo run -p torp2p-transport --example clearnet -- /dns4/example.com/tcp/80
//! ```
//!
//! The transport hands the name to tor as a SOCKS domain name and the exit relay resolves it:
//! this host makes no DNS lookup and connects nowhere but to its own tor. The example prints
//! `connected to <address> through tor` or the typed reason the dial failed, with tor's SOCKS
//! reply code when tor answered (`dial failed: SOCKS reply 0x04: ...`), and exits with 1 on a
//! failure.
//!
//! It starts a tor of its own on the real Tor network. To join a private network instead
//! (`cargo xtask tornet` writes the file), set `TORP2P_TORRC_EXTRA=<client.torrc>`. `cargo
//! xtask leaks` runs it that way under strace: a private network has no exit relays, so tor
//! refuses the dial, and the trace shows that the name only ever went to tor's SOCKS port.

use std::process::ExitCode;

use libp2p::Multiaddr;
use libp2p::core::Endpoint;
use libp2p::core::transport::{DialOpts, PortUse, Transport as _};
use torp2p_transport as tor;

#[tokio::main]
async fn main() -> Result<ExitCode, Box<dyn std::error::Error>> {
    let addr: Multiaddr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "/dns4/example.com/tcp/80".into())
        .parse()?;
    let config = tor::Config::new()
        .with_tor(tor_config()?)
        .with_clearnet(tor::Clearnet::ThroughTor);
    let mut transport = tor::Transport::new(config).await?; // starts tor, waits for bootstrap
    let opts = DialOpts {
        role: Endpoint::Dialer,
        port_use: PortUse::New,
    };
    match transport.dial(addr.clone(), opts)?.await {
        Ok(_stream) => {
            println!("connected to {addr} through tor");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            match e.dial_error() {
                Some(d) => match d.reply_code() {
                    Some(code) => println!("dial failed: SOCKS reply {code:#04x}: {d}"),
                    None => println!("dial failed: {d}"),
                },
                None => println!("dial failed: {e}"),
            }
            Ok(ExitCode::FAILURE)
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
