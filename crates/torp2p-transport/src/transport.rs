//! [`Transport`]: `libp2p_core::Transport` over tor.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::SelectAll;
use libp2p_core::multiaddr::{Multiaddr, Protocol};
use libp2p_core::transport::{DialOpts, ListenerId, TransportError, TransportEvent};
use torp2p_addr::{DialAddr, OnionAddress, OnionSocketAddr, ParseError};
use torp2p_daemon::{OnionKey, Tor};
use tracing::debug;

use crate::backend::Backend;
use crate::backend::c_tor::CTor;
use crate::backend::supervised::Supervised;
use crate::config::{Clearnet, Config};
use crate::error::Error;
use crate::listener::{Listener, Params, Upgrade};
use crate::stream::Stream;

/// A libp2p transport over tor: dials `/onion3` addresses through tor's SOCKS port, listens on
/// onion services. See the crate's documentation.
pub struct Transport {
    config: Config,
    backend: Arc<dyn Backend>,
    /// One permit per dial that may run at once.
    dial_slots: Arc<tokio::sync::Semaphore>,
    /// The config's keys by the onion address they run.
    keys: HashMap<OnionAddress, OnionKey>,
    /// One per onion address, held by the listener that has a service with that address.
    slots: HashMap<OnionAddress, Arc<tokio::sync::Mutex<()>>>,
    listeners: SelectAll<Listener>,
    /// The waker of the last `poll` that found no listener, woken by `listen_on`.
    waker: Option<Waker>,
}

impl Transport {
    /// The timeout of one dial through tor (the dial config's).
    pub(crate) fn dial_timeout(&self) -> std::time::Duration {
        self.config.dial.timeout()
    }

    /// Gets tor as the config says (spawns one by default, or attaches to a running one, see
    /// [`Config::with_tor`]), waits for it to bootstrap (at most
    /// [`Config::with_bootstrap_timeout`], 120 s by default), and returns the transport.
    ///
    /// The transport supervises that tor ([`RestartPolicy`](crate::RestartPolicy), on by
    /// default): when it dies or hangs, a new one is started (or attached to) and every onion
    /// service is published again with its key; see the crate's docs.
    ///
    /// With `TorSource::Embedded` (feature `arti`) it bootstraps an arti client in the process
    /// instead, within the same bootstrap timeout; there is nothing to supervise.
    ///
    /// # Errors
    ///
    /// [`Error::Daemon`] if tor cannot be started or attached to, or does not bootstrap in
    /// time (the error says how far it got); [`Error::TorGone`] if it exits meanwhile. With
    /// arti: `Error::Arti` if arti's configuration is wrong or it does not bootstrap in time,
    /// [`Error::Unsupported`] for an option it lacks.
    pub async fn new(config: Config) -> Result<Self, Error> {
        let source = config.tor.clone().unwrap_or_default();
        // Embedded arti: in the process, nothing to supervise.
        #[cfg(feature = "arti")]
        if let crate::config::TorSource::Embedded(arti) = &source {
            let backend = crate::backend::arti::Arti::start(arti, &config).await?;
            return Ok(Self::on(Arc::new(backend), config));
        }
        let tor = CTor::start(&source, &config).await?;
        // Supervised: started again when it dies or hangs (see RestartPolicy).
        let backend: Arc<dyn Backend> = if config.restart.enabled {
            Arc::new(Supervised::start(tor, source, &config))
        } else {
            Arc::new(CTor::new(tor, &config))
        };
        Ok(Self::on(backend, config))
    }

    /// A transport on a [`Tor`] handle you already have (shared with other parts of your
    /// program), at once: tor is used as it is, bootstrapped or not (dials fail until it is:
    /// see [`Tor::wait_bootstrapped`]).
    ///
    /// # Errors
    ///
    /// [`Error::TorSourceConflict`] if the config names a tor source or a bootstrap timeout
    /// ([`Config::with_tor`], [`Config::with_bootstrap_timeout`]): those are for
    /// [`Transport::new`], and this constructor would not use them.
    pub fn from_tor(tor: Tor, config: Config) -> Result<Self, Error> {
        if config.tor.is_some() || config.bootstrap_timeout.is_some() {
            return Err(Error::TorSourceConflict);
        }
        let backend = Arc::new(CTor::new(tor, &config));
        Ok(Self::on(backend, config))
    }

    /// A transport on an embedded arti client you already have (feature `arti`), at once:
    /// the client is shared, as a [`Tor`] handle is by [`Transport::from_tor`], e.g. by
    /// several transports with other settings (isolation, keys) or by other parts of your
    /// program. Dials keep the client's own dial timeout (set when it was bootstrapped) and
    /// the config's, whichever ends first.
    ///
    /// # Errors
    ///
    /// [`Error::TorSourceConflict`] if the config names a tor source or a bootstrap timeout,
    /// as for [`Transport::from_tor`]; [`Error::Unsupported`] for what arti cannot do (see
    /// [`TorSource::Embedded`](crate::TorSource::Embedded)), as [`Transport::new`] refuses it.
    #[cfg(feature = "arti")]
    pub fn from_arti(client: torp2p_arti::Client, config: Config) -> Result<Self, Error> {
        if config.tor.is_some() || config.bootstrap_timeout.is_some() {
            return Err(Error::TorSourceConflict);
        }
        let backend = crate::backend::arti::Arti::with_client(client, &config)?;
        Ok(Self::on(Arc::new(backend), config))
    }

    fn on(backend: Arc<dyn Backend>, config: Config) -> Self {
        let keys: HashMap<OnionAddress, OnionKey> = config
            .keys
            .iter()
            .map(|k| (k.onion_address(), k.clone()))
            .collect();
        let slots = keys
            .keys()
            .map(|a| (*a, Arc::new(tokio::sync::Mutex::new(()))))
            .collect();
        Self {
            dial_slots: Arc::new(tokio::sync::Semaphore::new(config.max_concurrent_dials)),
            config,
            backend,
            keys,
            slots,
            listeners: SelectAll::new(),
            waker: None,
        }
    }

    /// Classifies a dial address: ours, not ours (`MultiaddrNotSupported`), or malformed.
    fn classify(&self, addr: &Multiaddr) -> Result<DialAddr, TransportError<Error>> {
        let not_supported = || TransportError::MultiaddrNotSupported(addr.clone());
        let clearnet = self.config.clearnet == Clearnet::ThroughTor;
        let onion = matches!(addr.iter().next(), Some(Protocol::Onion3(_)));
        match DialAddr::from_multiaddr(addr) {
            Ok(a) if a.target.is_onion() || clearnet => Ok(a),
            Ok(_) => {
                debug!("refusing a clearnet address: clearnet dials are off");
                Err(not_supported())
            }
            // Another stack, or more after the address (e.g. `/p2p-circuit`): another
            // transport's business.
            Err(
                ParseError::UnsupportedProtocolStack { .. } | ParseError::TrailingGarbage { .. },
            ) => Err(not_supported()),
            Err(e) if onion || clearnet => Err(TransportError::Other(Error::InvalidAddress(e))),
            Err(_) => Err(not_supported()),
        }
    }
}

/// The listen address of an onion service run with `key`: `/onion3/<address>:<port>`, to pass
/// to `listen_on` (the swarm's or the transport's) once the key is in the [`Config`].
///
/// # Errors
///
/// [`Error::InvalidAddress`] for port 0.
pub fn listen_addr(key: &OnionKey, port: u16) -> Result<Multiaddr, Error> {
    Ok(OnionSocketAddr::new(key.onion_address(), port)?.to_multiaddr())
}

/// The onion socket address of a listen address: exactly one `/onion3` component.
fn parse_listen_addr(addr: &Multiaddr) -> Result<Option<OnionSocketAddr>, ParseError> {
    let mut iter = addr.iter();
    match (iter.next(), iter.next()) {
        (Some(Protocol::Onion3(onion3)), None) => OnionSocketAddr::from_onion3(&onion3).map(Some),
        _ => Ok(None),
    }
}

impl libp2p_core::Transport for Transport {
    type Output = Stream;
    type Error = Error;
    type ListenerUpgrade = Upgrade;
    type Dial = BoxFuture<'static, Result<Stream, Error>>;

    /// Listens on `/onion3/<address>:<port>` for an address whose key is in the config: has
    /// tor run the onion service (its socket in a private directory), and reports the address
    /// (`NewAddress`) once the service is published as [`Config::with_publication`] says.
    ///
    /// Anything else, an IP address or an onion address without a key, is refused with
    /// `MultiaddrNotSupported`.
    fn listen_on(
        &mut self,
        id: ListenerId,
        addr: Multiaddr,
    ) -> Result<(), TransportError<Self::Error>> {
        let onion = match parse_listen_addr(&addr) {
            Ok(Some(onion)) => onion,
            Ok(None) => return Err(TransportError::MultiaddrNotSupported(addr)),
            Err(e) => return Err(TransportError::Other(Error::InvalidAddress(e))),
        };
        let (Some(key), Some(slot)) = (
            self.keys.get(onion.address()),
            self.slots.get(onion.address()),
        ) else {
            debug!(listener = %id, "no key for this onion address: not listening");
            return Err(TransportError::MultiaddrNotSupported(addr));
        };
        if self
            .listeners
            .iter()
            .any(|l| l.is_active() && l.address() == onion.address())
        {
            return Err(TransportError::Other(Error::AlreadyListening { addr }));
        }
        let params = Params {
            backend: self.backend.clone(),
            key: key.clone(),
            publication: self.config.publication,
            publish_timeout: self.config.publish_timeout,
            slot: slot.clone(),
        };
        let listener = Listener::start(id, onion, params).map_err(TransportError::Other)?;
        self.listeners.push(listener);
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
        Ok(())
    }

    /// Removes the listener's onion service (DEL_ONION) and closes its socket; a
    /// `ListenerClosed` event with `Ok(())` follows once tor has removed the service.
    fn remove_listener(&mut self, id: ListenerId) -> bool {
        match self
            .listeners
            .iter_mut()
            .find(|l| l.id() == id && l.is_active())
        {
            Some(listener) => {
                debug!(listener = %id, "removing the listener");
                listener.close();
                true
            }
            None => false,
        }
    }

    /// Builds the dial; nothing happens until the returned future is polled.
    ///
    /// `/onion3/<address>:<port>` (optionally `/p2p/<peer id>`) goes through tor's SOCKS
    /// port; so do `/dns*/<name>/tcp/<port>` and `/ip4|ip6/<ip>/tcp/<port>` when
    /// [`Clearnet::ThroughTor`] is on, else they are refused with `MultiaddrNotSupported`. An
    /// onion address that is malformed (checksum, version byte, port 0) is refused with
    /// [`Error::InvalidAddress`] saying why.
    fn dial(
        &mut self,
        addr: Multiaddr,
        _opts: DialOpts,
    ) -> Result<Self::Dial, TransportError<Self::Error>> {
        let target = self.classify(&addr)?;
        self.backend.check_dial().map_err(TransportError::Other)?;
        let backend = self.backend.clone();
        let slots = self.dial_slots.clone();
        let (waited, count) = (self.config.dial.timeout(), self.config.max_concurrent_dials);
        Ok(Box::pin(async move {
            // In line for a slot (cancel-safe: a dropped dial leaves the line), at most the
            // dial's timeout; the slot is held until the dial ends.
            let _slot = match tokio::time::timeout(waited, slots.acquire_owned()).await {
                Ok(Ok(slot)) => slot,
                // The semaphore is never closed.
                Ok(Err(_)) | Err(_) => {
                    return Err(Error::DialQueueTimeout {
                        waited,
                        slots: count,
                    });
                }
            };
            backend.dial(&target).await
        }))
    }

    fn poll(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<TransportEvent<Self::ListenerUpgrade, Self::Error>> {
        match self.listeners.poll_next_unpin(cx) {
            Poll::Ready(Some(event)) => Poll::Ready(event),
            Poll::Ready(None) | Poll::Pending => {
                self.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("backend", &self.backend)
            .field("clearnet", &self.config.clearnet)
            .field("keys", &self.keys.len())
            .field("listeners", &self.listeners.len())
            .finish_non_exhaustive()
    }
}
