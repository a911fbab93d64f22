//! [`OnionListener`]: an onion service with the socket it forwards to, owned together.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{UnixListener, UnixStream};
use tokio::sync::watch;
use torp2p_addr::{LocalAddr, OnionAddress};

use crate::error::{Error, Result};
use crate::events::UploadState;
use crate::fs::private_temp_dir;
use crate::key::OnionKey;
use crate::onion_service::{OnionService, OnionServiceOptions, PortMapping, Publication};
use crate::shared::Shared;

/// The name of the socket inside the listener's private directory.
const SOCKET_NAME: &str = "listener.sock";

/// An onion service and the unix socket tor forwards its visitors to, in a private directory
/// (mode 0700) of its own: made by [`Tor::listen`](crate::Tor::listen).
///
/// [`accept`](Self::accept) hands out one connection per visitor. Dropping the listener
/// removes the service (DEL_ONION, in the background), closes the socket and deletes its
/// directory; [`remove`](Self::remove) does the same and waits for tor's answer.
pub struct OnionListener {
    // Dropped in this order: the service first (tor stops forwarding), then the socket, then
    // its directory.
    service: OnionService,
    socket: UnixListener,
    path: PathBuf,
    virtual_port: u16,
    _dir: tempfile::TempDir,
}

impl std::fmt::Debug for OnionListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnionListener")
            .field("service", &self.service)
            .field("virtual_port", &self.virtual_port)
            .finish_non_exhaustive()
    }
}

impl OnionListener {
    /// Binds the socket in a fresh private directory, then adds the service.
    pub(crate) async fn start(
        tor: Arc<Shared>,
        key: &OnionKey,
        virtual_port: u16,
        options: &OnionServiceOptions,
    ) -> Result<Self> {
        if virtual_port == 0 {
            return Err(Error::VirtualPortZero);
        }
        let dir = private_temp_dir("torp2p-listener-")?;
        let path = dir.path().join(SOCKET_NAME);
        let socket = UnixListener::bind(&path).map_err(|source| Error::Io {
            what: "cannot bind the listener's unix socket",
            path: path.clone(),
            source,
        })?;
        let ports = [PortMapping {
            virtual_port,
            target: LocalAddr::Unix(path.clone()),
        }];
        let service = OnionService::add(tor, key, &ports, options).await?;
        Ok(Self {
            service,
            socket,
            path,
            virtual_port,
            _dir: dir,
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

    /// The unix socket tor forwards visitors to, inside a directory only this user can enter
    /// (mode 0700); both are removed with the listener.
    pub fn socket_path(&self) -> &std::path::Path {
        &self.path
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
    pub async fn accept(&self) -> Result<UnixStream> {
        self.socket
            .accept()
            .await
            .map(|(stream, _)| stream)
            .map_err(|source| Error::Io {
                what: "cannot accept a connection on",
                path: self.path.clone(),
                source,
            })
    }

    /// Removes the service (DEL_ONION) and waits for tor's answer, then closes the socket and
    /// deletes its directory.
    pub async fn remove(self) -> Result<()> {
        let Self { service, .. } = self;
        service.remove().await
    }
}
