//! How the bench's client tors and onion services reach this process: unix sockets at file
//! paths (the default), or TCP on 127.0.0.1 only (`--local-tcp`). The one place that decides.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;

use torp2p_daemon::{Listeners, LocalAddr, Tor};
use torp2p_testnet::TestNet;
use torp2p_transport as tor;

/// Unix sockets or loopback TCP, for every client tor and onion service of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Local {
    /// Control and SOCKS ports on unix sockets in each tor's data directory, onion services
    /// forwarding to a unix socket (the transport's default, [`tor::ListenTarget::Auto`]).
    #[default]
    Unix,
    /// `--local-tcp`: no unix socket path for the client tors and onion services: control and
    /// SOCKS ports on 127.0.0.1 ([`Listeners::Tcp`]), onion services forwarding to a TCP port
    /// on 127.0.0.1 ([`tor::ListenTarget::LoopbackTcp`]). For where unix sockets at file paths
    /// do not work (the Shadow simulator). The network's own authorities and relays
    /// ([`TestNet`]) keep their unix control sockets.
    Tcp,
}

impl Local {
    /// A client tor joined to `net` (the network's client torrc, then `torrc`), bootstrapped.
    pub(crate) async fn spawn_client(self, net: &TestNet, torrc: &[&str]) -> Result<Tor, String> {
        if self == Local::Unix && torrc.is_empty() {
            // The network's own helper: on failure it names the client and keeps the directory.
            return net.spawn_client().await.map_err(|e| e.to_string());
        }
        let mut config = net.client_config().with_torrc_lines(torrc.iter().copied());
        if self == Local::Tcp {
            config = config.with_listeners(Listeners::Tcp);
        }
        let tor = Tor::spawn(config).await.map_err(|e| e.to_string())?;
        tor.wait_bootstrapped(crate::STEP)
            .await
            .map_err(|e| e.to_string())?;
        Ok(tor)
    }

    /// Where the transport's onion services forward visitors.
    pub(crate) fn listen_target(self) -> tor::ListenTarget {
        match self {
            Local::Unix => tor::ListenTarget::Auto,
            Local::Tcp => tor::ListenTarget::LoopbackTcp,
        }
    }

    /// The base configuration of every transport that listens (keys and the rest added by
    /// the caller).
    pub(crate) fn listener(self) -> tor::Config {
        tor::Config::new().with_listen_target(self.listen_target())
    }

    /// The target of the raw onion services the bench adds itself and never connects to
    /// (readiness, `--scale`): a unix socket path in the network's directory `dir`, or a TCP
    /// port on 127.0.0.1 (the discard port; nothing is ever sent to it). ADD_ONION forwards to
    /// the target it is given, whatever the options' listen target says.
    pub(crate) fn unused_target(self, dir: &Path) -> LocalAddr {
        match self {
            Local::Unix => LocalAddr::Unix(dir.join("bench-unused.sock")),
            Local::Tcp => LocalAddr::Tcp(SocketAddr::from((Ipv4Addr::LOCALHOST, 9))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_names_no_path() {
        let dir = Path::new("/tmp/net");
        assert_eq!(
            Local::Unix.unused_target(dir),
            LocalAddr::Unix(dir.join("bench-unused.sock"))
        );
        assert!(matches!(Local::Tcp.unused_target(dir), LocalAddr::Tcp(a) if a.ip().is_loopback()));
        assert_eq!(Local::Tcp.listen_target(), tor::ListenTarget::LoopbackTcp);
        assert_eq!(Local::Unix.listen_target(), tor::ListenTarget::Auto);
    }
}
