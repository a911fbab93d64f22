//! [`OnionListener`]: an onion service with the socket it forwards to, owned together.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use tokio::sync::watch;
use torp2p_addr::{LocalAddr, OnionAddress};

use crate::error::{Error, Result};
use crate::events::UploadState;
use crate::fs::private_temp_dir;
use crate::key::OnionKey;
use crate::onion_service::{
    ListenTarget, OnionService, OnionServiceOptions, PortMapping, Publication,
};
use crate::shared::Shared;

/// The name of the socket inside the listener's private directory.
const SOCKET_NAME: &str = "listener.sock";

/// A connection tor made for a visitor of an [`OnionListener`]: a byte stream to the peer,
/// over the unix socket or the loopback TCP port the listener has tor forward to.
#[derive(Debug)]
pub enum IncomingStream {
    /// Over the listener's unix socket.
    Unix(UnixStream),
    /// Over the listener's loopback TCP port.
    Tcp(TcpStream),
}

/// An onion service and the socket tor forwards its visitors to, owned together: made by
/// [`Tor::listen`](crate::Tor::listen). The socket is a unix socket in a private directory
/// (mode 0700) of its own, or, for a tor that cannot reach one, a TCP port on 127.0.0.1
/// ([`ListenTarget`]); [`target`](Self::target) says which.
///
/// [`accept`](Self::accept) hands out one connection per visitor. Dropping the listener
/// removes the service (DEL_ONION, in the background), closes the socket and deletes its
/// directory; [`remove`](Self::remove) does the same and waits for tor's answer.
pub struct OnionListener {
    // Dropped in this order: the service first (tor stops forwarding), then the socket (and
    // its directory).
    service: OnionService,
    socket: Socket,
    target: LocalAddr,
    virtual_port: u16,
}

/// The socket a listener accepts on.
enum Socket {
    Unix {
        // Dropped before the directory it is in.
        listener: UnixListener,
        path: PathBuf,
        _dir: tempfile::TempDir,
    },
    Tcp(TcpListener, SocketAddr),
}

impl Socket {
    /// A unix socket in a fresh private directory, and its address.
    fn unix() -> Result<(Self, LocalAddr)> {
        let dir = private_temp_dir("torp2p-listener-")?;
        let path = dir.path().join(SOCKET_NAME);
        let listener = UnixListener::bind(&path).map_err(|source| Error::Io {
            what: "cannot bind the listener's unix socket",
            path: path.clone(),
            source,
        })?;
        let target = LocalAddr::Unix(path.clone());
        let socket = Socket::Unix {
            listener,
            path,
            _dir: dir,
        };
        Ok((socket, target))
    }

    /// A TCP port on 127.0.0.1 that the system chooses, and its address.
    async fn tcp() -> Result<(Self, LocalAddr)> {
        let any_port = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        let io = |source| Error::ListenerTcp {
            what: "cannot bind the listener's TCP port on",
            addr: any_port,
            source,
        };
        let listener = TcpListener::bind(any_port).await.map_err(io)?;
        let addr = listener.local_addr().map_err(io)?;
        Ok((Socket::Tcp(listener, addr), LocalAddr::Tcp(addr)))
    }
}

impl std::fmt::Debug for OnionListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnionListener")
            .field("service", &self.service)
            .field("virtual_port", &self.virtual_port)
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

impl OnionListener {
    /// Binds the socket the options (and what tor can reach) say, then adds the service.
    pub(crate) async fn start(
        tor: Arc<Shared>,
        key: &OnionKey,
        virtual_port: u16,
        options: &OnionServiceOptions,
    ) -> Result<Self> {
        if virtual_port == 0 {
            return Err(Error::VirtualPortZero);
        }
        let (unix, reason) = match options.listen_target() {
            ListenTarget::UnixSocket => (true, "asked for (ListenTarget::UnixSocket)"),
            ListenTarget::LoopbackTcp => (false, "asked for (ListenTarget::LoopbackTcp)"),
            ListenTarget::Auto => (tor.reach.unix, tor.reach.reason.as_str()),
        };
        let (socket, target) = if unix {
            Socket::unix()?
        } else {
            Socket::tcp().await?
        };
        // The address of the service only at debug: see the crate's logging policy.
        if unix {
            tracing::info!(
                %reason,
                "onion service listener: tor forwards visitors to a unix socket in a private directory"
            );
        } else {
            tracing::info!(
                forwards_to = %target,
                %reason,
                "onion service listener: tor forwards visitors to a loopback TCP port"
            );
        }
        let ports = [PortMapping {
            virtual_port,
            target: target.clone(),
        }];
        let service = OnionService::add(tor, key, &ports, options).await?;
        tracing::debug!(address = %service.address(), forwards_to = %target, "listening");
        Ok(Self {
            service,
            socket,
            target,
            virtual_port,
        })
    }

    /// The service's onion address.
    pub fn address(&self) -> OnionAddress {
        self.service.address()
    }

    /// The virtual port visitors connect to.
    pub fn virtual_port(&self) -> u16 {
        self.virtual_port
    }

    /// Where tor forwards visitors: the listener's unix socket (in a directory only this user
    /// can enter, mode 0700) or its TCP port on 127.0.0.1. Either goes with the listener.
    pub fn target(&self) -> &LocalAddr {
        &self.target
    }

    /// The unix socket tor forwards visitors to, if the target is one (see
    /// [`target`](Self::target)).
    pub fn socket_path(&self) -> Option<&Path> {
        match &self.socket {
            Socket::Unix { path, .. } => Some(path),
            Socket::Tcp(..) => None,
        }
    }

    /// The upload progress of the service's descriptors.
    pub fn upload_state(&self) -> watch::Receiver<UploadState> {
        self.service.upload_state()
    }

    /// How many introduction points tor has established for the service now (see
    /// [`OnionService::intro_points`]).
    pub async fn intro_points(&self) -> Result<usize> {
        self.service.intro_points().await
    }

    /// Waits until the service counts as published under `policy`, at most `timeout` (see
    /// [`OnionService::wait_published`]).
    pub async fn wait_published(
        &self,
        policy: Publication,
        timeout: Duration,
    ) -> Result<UploadState> {
        self.service.wait_published(policy, timeout).await
    }

    /// The next connection tor made for a visitor: a byte stream to the peer.
    ///
    /// Cancel-safe: dropping the future before it resolves loses no connection (the next call
    /// gets it). tor tells nothing about who connected.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if accepting failed (e.g. out of file descriptors); the listener stays
    /// usable, and a later call may succeed.
    pub async fn accept(&self) -> Result<IncomingStream> {
        const WHAT: &str = "cannot accept a connection on";
        match &self.socket {
            Socket::Unix { listener, path, .. } => listener
                .accept()
                .await
                .map(|(stream, _)| IncomingStream::Unix(stream))
                .map_err(|source| Error::Io {
                    what: WHAT,
                    path: path.clone(),
                    source,
                }),
            Socket::Tcp(listener, addr) => {
                let (stream, _) = listener
                    .accept()
                    .await
                    .map_err(|source| Error::ListenerTcp {
                        what: WHAT,
                        addr: *addr,
                        source,
                    })?;
                // Small messages both ways (handshakes, pings): no Nagle delay on loopback.
                if let Err(e) = stream.set_nodelay(true) {
                    tracing::debug!(error = %e, "cannot set TCP_NODELAY on a visitor's connection");
                }
                Ok(IncomingStream::Tcp(stream))
            }
        }
    }

    /// Removes the service (DEL_ONION) and waits for tor's answer, then closes the socket and
    /// deletes its directory.
    pub async fn remove(self) -> Result<()> {
        let Self { service, .. } = self;
        service.remove().await
    }
}
