//! The C tor backend: onion services and their sockets from torp2p-daemon, dials through
//! tor's SOCKS port with torp2p-socks.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use torp2p_addr::{DialAddr, DialTarget, LocalAddr, OnionAddress};
use torp2p_daemon::{ClientAuthKey, OnionKey, OnionListener, OnionServiceOptions, Tor};
use torp2p_socks::{DialError, Isolation};

use super::rotation::Rotation;
use super::{Backend, Readiness, Service, ServiceEvent};
use crate::config::{DEFAULT_BOOTSTRAP_TIMEOUT, TorSource};
use crate::error::Error;
use crate::stream::Stream;

/// How long a dial whose SOCKS port failed waits for the daemon to confirm that tor is gone
/// (the SOCKS port can fail a moment before the control connection closes).
const GONE_GRACE: Duration = Duration::from_secs(1);

/// A C tor daemon, spawned or attached to.
#[derive(Debug)]
pub(crate) struct CTor {
    tor: Tor,
    /// Where dials go: the configured SOCKS port, else the one tor reported.
    socks: Option<LocalAddr>,
    dial: torp2p_socks::Config,
    service_options: OnionServiceOptions,
    /// Client authorization keys by the service they are for.
    client_auth: HashMap<OnionAddress, ClientAuthKey>,
    /// The services whose key tor has been given.
    client_auth_added: Mutex<HashSet<OnionAddress>>,
    /// Per-peer isolation keys, fresh after a circuit-level failure.
    rotation: Rotation,
}

impl CTor {
    pub(crate) fn new(tor: Tor, config: &crate::Config) -> Self {
        let socks = config
            .socks_proxy
            .clone()
            .or_else(|| tor.socks_addr().cloned());
        Self {
            tor,
            socks,
            dial: config.dial.clone(),
            service_options: config.service_options.clone(),
            client_auth: config.client_auth.clone(),
            client_auth_added: Mutex::new(HashSet::new()),
            // Only per-peer keys are the same from one dial to the next.
            rotation: Rotation::new(
                config.rotate_isolation && config.dial.isolation() == Isolation::PerPeer,
            ),
        }
    }

    /// Starts tor as `source` says (spawns or attaches) and waits for it to bootstrap, at most
    /// the config's bootstrap timeout.
    pub(crate) async fn start(source: &TorSource, config: &crate::Config) -> Result<Tor, Error> {
        let tor = match source.clone() {
            TorSource::Spawn(c) => Tor::spawn(c)
                .await
                .map_err(|e| Error::daemon("starting tor", e))?,
            TorSource::Attach(c) => Tor::attach(c)
                .await
                .map_err(|e| Error::daemon("attaching to tor", e))?,
        };
        tor.wait_bootstrapped(
            config
                .bootstrap_timeout
                .unwrap_or(DEFAULT_BOOTSTRAP_TIMEOUT),
        )
        .await
        .map_err(|e| Error::daemon("bootstrapping tor", e))?;
        Ok(tor)
    }

    /// Gives tor the client authorization key for `target`'s service, once, if there is one.
    async fn add_client_auth(&self, target: &DialTarget) -> Result<(), Error> {
        let DialTarget::Onion(onion) = target else {
            return Ok(());
        };
        let address = onion.address();
        let Some(key) = self.client_auth.get(address) else {
            return Ok(());
        };
        let added = |set: &Mutex<HashSet<OnionAddress>>| {
            set.lock().map(|s| s.contains(address)).unwrap_or(false)
        };
        if added(&self.client_auth_added) {
            return Ok(());
        }
        self.tor
            .add_client_auth(address, key)
            .await
            .map_err(|e| Error::daemon("giving tor the client authorization key", e))?;
        if let Ok(mut set) = self.client_auth_added.lock() {
            set.insert(*address);
        }
        Ok(())
    }

    async fn gone(&self) -> Error {
        Error::TorGone {
            source: self.tor.gone().await,
        }
    }

    /// The tor daemon.
    pub(crate) fn tor(&self) -> &Tor {
        &self.tor
    }
}

#[async_trait]
impl Backend for CTor {
    fn check_dial(&self) -> Result<(), Error> {
        self.socks.as_ref().map(drop).ok_or(Error::NoSocksPort)
    }

    async fn dial(&self, addr: &DialAddr) -> Result<Stream, Error> {
        if self.tor.is_gone() {
            return Err(self.gone().await);
        }
        let proxy = self.socks.as_ref().ok_or(Error::NoSocksPort)?;
        self.add_client_auth(&addr.target).await?;
        // Isolation per peer: the peer id when the address names one, else the target address;
        // a fresh key after a dial to that peer failed at circuit level.
        let peer = addr.peer_id.map(|p| p.to_string());
        let target = addr.target.to_string();
        let key = self.rotation.key(peer.as_deref(), &target);
        let connect = torp2p_socks::connect(proxy, &addr.target, key.key.as_deref(), &self.dial);
        let result = tokio::select! {
            result = connect => result,
            gone = self.gone() => return Err(gone),
        };
        if let Err(e) = &result {
            self.rotation.failed(peer.as_deref(), &target, &key, e);
        }
        match result {
            Ok(stream) => Ok(Stream::outbound(stream)),
            // The SOCKS port can fail a moment before the daemon notices that tor is gone:
            // only a port that could not be reached or broke off is worth that wait.
            Err(e @ (DialError::ProxyUnreachable { .. } | DialError::ProxyIo { .. })) => {
                match tokio::time::timeout(GONE_GRACE, self.gone()).await {
                    Ok(gone) => Err(gone),
                    Err(_) => Err(Error::Dial(e)),
                }
            }
            Err(e) => Err(Error::Dial(e)),
        }
    }

    async fn listen(
        &self,
        key: &OnionKey,
        virtual_port: u16,
        readiness: Readiness,
    ) -> Result<Box<dyn Service>, Error> {
        let listener = self
            .tor
            .listen(key, virtual_port, &self.service_options)
            .await
            .map_err(|e| Error::daemon("adding the onion service", e))?;
        Ok(Box::new(CTorService {
            listener,
            readiness,
            published: AtomicBool::new(false),
        }))
    }

    async fn stopped(&self) -> Error {
        self.gone().await
    }
}

/// An onion service of a C tor, with its socket.
struct CTorService {
    listener: OnionListener,
    readiness: Readiness,
    /// Whether [`ServiceEvent::Reachable`] was reported.
    published: AtomicBool,
}

#[async_trait]
impl Service for CTorService {
    async fn next(&self) -> Result<ServiceEvent, Error> {
        if !self.published.load(Ordering::Acquire) {
            // Waiting on a watch channel: cancel-safe.
            let state = self
                .listener
                .wait_published(self.readiness.policy, self.readiness.timeout)
                .await
                .map_err(|e| Error::daemon("publishing the onion service", e))?;
            tracing::info!(
                uploads = state.uploads,
                uploaded = state.uploaded,
                failed = state.failed,
                "onion service published"
            );
            self.published.store(true, Ordering::Release);
            return Ok(ServiceEvent::Reachable);
        }
        Ok(match self.listener.accept().await {
            Ok(stream) => ServiceEvent::Incoming(Stream::inbound(stream.into())),
            Err(e) => ServiceEvent::AcceptError(Error::daemon("accepting a connection", e)),
        })
    }

    async fn remove(self: Box<Self>) -> Result<(), Error> {
        match self.listener.remove().await {
            Ok(()) => Ok(()),
            // A gone tor took the service with it.
            Err(e) if e.is_tor_gone() => Ok(()),
            Err(e) => Err(Error::daemon("removing the onion service", e)),
        }
    }
}
