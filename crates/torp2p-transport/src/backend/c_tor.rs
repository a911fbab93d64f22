//! The C tor backend: onion services and their sockets from torp2p-daemon, dials through
//! tor's SOCKS port with torp2p-socks.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use torp2p_addr::{DialAddr, DialTarget, LocalAddr, OnionAddress};
use torp2p_daemon::{
    ClientAuthKey, IncomingStream, OnionKey, OnionListener, OnionServiceOptions, Tor,
};
use torp2p_socks::{DialError, Isolation};

use tracing::{debug, info, warn};

use super::rotation::Rotation;
use super::tending::{self, Tending};
use super::watch::Watcher;
use super::{Backend, Readiness, Service, ServiceEvent};
use crate::config::{DEFAULT_BOOTSTRAP_TIMEOUT, ReachabilityWatch, TorSource};
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
    watch: ReachabilityWatch,
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
            watch: config.reachability,
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
            #[cfg(feature = "arti")]
            TorSource::Embedded(_) => {
                return Err(Error::Unsupported {
                    backend: "the C tor backend",
                    what: "run an embedded arti",
                    hint: "Transport::new starts the arti backend for TorSource::Embedded",
                });
            }
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
            self.rotation
                .failed(peer.as_deref(), &target, &key, e.is_circuit_failure());
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
        let (service, tending) = tending::channel();
        let tended = Tended {
            tor: self.tor.clone(),
            key: key.clone(),
            virtual_port,
            options: self.service_options.clone(),
            readiness,
            watch: self.watch,
        };
        tokio::spawn(tend(tended, listener, tending));
        Ok(Box::new(service))
    }

    async fn stopped(&self) -> Error {
        self.gone().await
    }
}

/// What the task of an onion service needs to run it, and to add it again.
struct Tended {
    tor: Tor,
    key: OnionKey,
    virtual_port: u16,
    options: OnionServiceOptions,
    readiness: Readiness,
    watch: ReachabilityWatch,
}

/// The task of one onion service: reports it reachable once published, hands out its
/// connections, watches it (see [`ReachabilityWatch`]) and, when it has been unreachable for
/// too long, reports that, removes it and adds it again with the same key. Every control-port
/// command runs to completion here.
async fn tend(t: Tended, mut listener: OnionListener, mut tending: Tending) {
    let mut first = true;
    let stop = 'service: loop {
        // Published (again)? The first time within the readiness timeout, else the listener
        // fails; after a re-add, for as long as it takes (tor may be offline).
        let published = loop {
            let wait = listener.wait_published(t.readiness.policy, t.readiness.timeout);
            let result = tokio::select! {
                r = wait => r,
                stop = tending.stopped() => break 'service stop,
            };
            match result {
                Err(torp2p_daemon::Error::PublishTimeout { .. }) if !first => {
                    debug!("the onion service is not published again yet: still waiting");
                }
                other => break other,
            }
        };
        match published {
            Ok(state) => {
                info!(
                    uploads = state.uploads,
                    uploaded = state.uploaded,
                    failed = state.failed,
                    "onion service published"
                );
                if let Err(stop) = tending.send(Ok(ServiceEvent::Reachable)).await {
                    break stop;
                }
            }
            Err(e) => {
                break tending
                    .fail(Error::daemon("publishing the onion service", e))
                    .await;
            }
        }
        first = false;

        // Serve and watch.
        let mut watcher = Watcher::new(t.watch);
        let every = t.watch.interval;
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let reason = loop {
            let event = tokio::select! {
                stop = tending.stopped() => break 'service stop,
                accepted = listener.accept() => match accepted {
                    Ok(stream) => ServiceEvent::Incoming(Stream::inbound(match stream {
                        IncomingStream::Unix(s) => s.into(),
                        IncomingStream::Tcp(s) => s.into(),
                    })),
                    Err(e) => ServiceEvent::AcceptError(Error::daemon("accepting a connection", e)),
                },
                _ = ticks.tick(), if t.watch.enabled => {
                    let intro_points = match listener.intro_points().await {
                        Ok(n) => Some(n),
                        Err(e) => {
                            debug!(error = %e, "could not ask tor for the introduction points");
                            None
                        }
                    };
                    let uploads = *listener.upload_state().borrow();
                    match watcher.observe(Instant::now(), intro_points, &uploads) {
                        Some(reason) => break reason,
                        None => continue,
                    }
                }
            };
            if let Err(stop) = tending.send(Ok(event)).await {
                break 'service stop;
            }
        };

        // Unreachable: say so, then add the service again with the same key.
        // The address only at debug: see the crate's logging policy.
        debug!(address = %listener.address(), "unreachable onion service");
        warn!(%reason, "an onion service is unreachable: adding it again");
        let unreachable = Error::ServiceUnreachable { reason };
        if let Err(stop) = tending
            .send(Ok(ServiceEvent::Unreachable(unreachable)))
            .await
        {
            break stop;
        }
        if let Err(e) = listener.remove().await {
            debug!(error = %e, "removing the unreachable onion service failed");
        }
        // Adding runs to completion before a removal is looked at.
        match t.tor.listen(&t.key, t.virtual_port, &t.options).await {
            Ok(l) => listener = l,
            Err(e) => {
                let stop = tending
                    .fail(Error::daemon("adding the onion service again", e))
                    .await;
                stop.answer(Ok(()));
                return;
            }
        }
    };
    let result = match listener.remove().await {
        Ok(()) => Ok(()),
        // A gone tor took the service with it.
        Err(e) if e.is_tor_gone() => Ok(()),
        Err(e) => Err(Error::daemon("removing the onion service", e)),
    };
    stop.answer(result);
}
