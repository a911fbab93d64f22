//! [`Transport`]: `libp2p_core::Transport` over tor.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::SelectAll;
use libp2p_core::multiaddr::{Multiaddr, Protocol};
use libp2p_core::transport::{DialOpts, ListenerId, TransportError, TransportEvent};
use torp2p_addr::{DialAddr, OnionAddress, OnionSocketAddr, ParseError};
use torp2p_daemon::{LocalAddr, OnionKey, OnionServiceOptions, Publication, Tor};
use torp2p_socks::Proxy;
use tracing::debug;

use crate::config::{Clearnet, Config, TorSource};
use crate::error::Error;
use crate::listener::{Listener, Params, Upgrade};
use crate::stream::Stream;

/// How long a dial whose SOCKS port failed waits for the daemon to confirm that tor is gone
/// (the SOCKS port can fail a moment before the control connection closes).
const GONE_GRACE: Duration = Duration::from_secs(1);

/// A libp2p transport over tor: dials `/onion3` addresses through tor's SOCKS port, listens on
/// onion services. See the crate's documentation.
pub struct Transport {
    tor: Tor,
    socks_proxy: Option<Proxy>,
    dial: torp2p_socks::Config,
    clearnet: Clearnet,
    publication: Publication,
    publish_timeout: Duration,
    service_options: OnionServiceOptions,
    keys: HashMap<OnionAddress, OnionKey>,
    /// One per onion address, held by the listener that has a service with that address.
    slots: HashMap<OnionAddress, Arc<tokio::sync::Mutex<()>>>,
    listeners: SelectAll<Listener>,
    /// The waker of the last `poll` that found no listener, woken by `listen_on`.
    waker: Option<Waker>,
}

impl Transport {
    /// Gets tor as the config says (spawns one by default, or attaches, or takes the handle
    /// given), waits for it to bootstrap (at most [`Config::bootstrap_timeout`]), and returns
    /// the transport.
    ///
    /// # Errors
    ///
    /// [`Error::Daemon`] if tor cannot be started or attached to, or does not bootstrap in
    /// time (the error says how far it got); [`Error::TorGone`] if it exits meanwhile.
    pub async fn new(mut config: Config) -> Result<Self, Error> {
        let source = std::mem::take(&mut config.tor);
        let tor = match source {
            TorSource::Spawn(c) => Tor::spawn(c).await.map_err(|source| Error::Daemon {
                doing: "starting tor",
                source,
            })?,
            TorSource::Attach(c) => Tor::attach(c).await.map_err(|source| Error::Daemon {
                doing: "attaching to tor",
                source,
            })?,
            TorSource::Existing(tor) => tor,
        };
        tor.wait_bootstrapped(config.bootstrap_timeout)
            .await
            .map_err(|e| Error::daemon("bootstrapping tor", e))?;
        Ok(Self::with_tor(tor, config))
    }

    /// A transport on a [`Tor`] you already have, at once: it does not wait for tor to
    /// bootstrap (dials fail until it has), and the config's tor source is not used.
    pub fn with_tor(tor: Tor, config: Config) -> Self {
        let keys: HashMap<OnionAddress, OnionKey> = config
            .keys
            .into_iter()
            .map(|k| (k.onion_address(), k))
            .collect();
        let slots = keys
            .keys()
            .map(|a| (*a, Arc::new(tokio::sync::Mutex::new(()))))
            .collect();
        Self {
            tor,
            socks_proxy: config.socks_proxy,
            dial: config.dial,
            clearnet: config.clearnet,
            publication: config.publication,
            publish_timeout: config.publish_timeout,
            service_options: config.service_options,
            keys,
            slots,
            listeners: SelectAll::new(),
            waker: None,
        }
    }

    /// The tor daemon the transport uses.
    pub fn tor(&self) -> &Tor {
        &self.tor
    }

    /// The SOCKS port dials go through: the configured one, else the one tor reports (`None`
    /// if tor has none).
    pub fn socks_proxy(&self) -> Option<Proxy> {
        self.socks_proxy.clone().or_else(|| {
            self.tor.socks_addr().map(|a| match a {
                LocalAddr::Tcp(addr) => Proxy::Tcp(*addr),
                LocalAddr::Unix(path) => Proxy::Unix(path.clone()),
            })
        })
    }

    /// The onion addresses the transport holds keys for, as listen addresses with `port`.
    pub fn listen_addrs(&self, port: u16) -> Result<Vec<Multiaddr>, Error> {
        self.keys.values().map(|k| listen_addr(k, port)).collect()
    }

    /// Classifies a dial address: ours, not ours (`MultiaddrNotSupported`), or malformed.
    fn classify(&self, addr: &Multiaddr) -> Result<DialAddr, TransportError<Error>> {
        let not_supported = || TransportError::MultiaddrNotSupported(addr.clone());
        let clearnet = self.clearnet == Clearnet::ThroughTor;
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

    /// Listens on `/onion3/<address>:<port>` for an address whose key is in the config: binds
    /// a unix socket in a private directory, adds the onion service, and reports the address
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
            tor: self.tor.clone(),
            key: key.clone(),
            publication: self.publication,
            publish_timeout: self.publish_timeout,
            options: self.service_options.clone(),
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
        let proxy = self
            .socks_proxy()
            .ok_or(TransportError::Other(Error::NoSocksPort))?;
        let tor = self.tor.clone();
        let config = self.dial.clone();
        Ok(Box::pin(dial(tor, proxy, target, config)))
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

/// The dial future: fails fast when tor is gone, else connects through SOCKS.
async fn dial(
    tor: Tor,
    proxy: Proxy,
    target: DialAddr,
    config: torp2p_socks::Config,
) -> Result<Stream, Error> {
    if tor.is_gone() {
        return Err(Error::TorGone {
            source: tor.gone().await,
        });
    }
    // Isolation per peer: the peer id when the address names one, else the target address.
    let peer = target.peer_id.map(|p| p.to_string());
    let connect = torp2p_socks::connect(&proxy, &target.target, peer.as_deref(), &config);
    let result = tokio::select! {
        result = connect => result,
        gone = tor.gone() => return Err(Error::TorGone { source: gone }),
    };
    match result {
        Ok(stream) => Ok(Stream::outbound(stream)),
        // The SOCKS port can fail a moment before the daemon notices that tor is gone: only a
        // port that could not be reached or broke off is worth that wait.
        Err(
            e @ (torp2p_socks::DialError::ProxyUnreachable { .. }
            | torp2p_socks::DialError::ProxyIo { .. }),
        ) => match tokio::time::timeout(GONE_GRACE, tor.gone()).await {
            Ok(gone) => Err(Error::TorGone { source: gone }),
            Err(_) => Err(Error::Dial(e)),
        },
        Err(e) => Err(Error::Dial(e)),
    }
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("tor", &self.tor)
            .field("clearnet", &self.clearnet)
            .field("keys", &self.keys.len())
            .field("listeners", &self.listeners.len())
            .finish_non_exhaustive()
    }
}
