//! The embedded arti backend: torp2p-arti's client in the process (feature `arti`).
//!
//! The same policy as C tor's above the seam; below it: dials with the dial config's timeout,
//! isolation and "descriptor not found" retries, per-peer isolation keys rotated after a
//! circuit-level failure, and onion services that arti runs with the transport's keys. A
//! service counts as reachable when arti says so (its `Running` state: descriptors uploaded
//! for both time periods), and as unreachable when arti has said otherwise for the reachability
//! watch's grace period; arti re-establishes introduction points and re-uploads by itself,
//! so nothing is re-added here.

use async_trait::async_trait;
use futures::StreamExt as _;
use tokio::sync::mpsc;
use torp2p_addr::DialAddr;
use torp2p_arti::{DialError as ArtiDialError, Isolation as ArtiIsolation, ServiceState};
use torp2p_daemon::{OnionKey, Publication};
use torp2p_socks::Isolation;
use tracing::{debug, info};

use super::rotation::Rotation;
use super::tending::{self, Stop, Tending};
use super::{Backend, Readiness, Service, ServiceEvent};
use crate::config::{DEFAULT_BOOTSTRAP_TIMEOUT, ReachabilityWatch};
use crate::error::{DialFailure, Error, Unreachability};
use crate::stream::Stream;

const BACKEND: &str = "the embedded arti backend";

/// An embedded arti client.
#[derive(Debug)]
pub(crate) struct Arti {
    client: torp2p_arti::Client,
    /// The timeout, isolation and retries of dials (the same settings as C tor's).
    dial: torp2p_socks::Config,
    rotation: Rotation,
    watch: ReachabilityWatch,
}

impl Arti {
    /// Refuses what arti cannot do, then bootstraps arti as `arti` says, within the config's
    /// bootstrap timeout.
    pub(crate) async fn start(
        arti: &torp2p_arti::Config,
        config: &crate::Config,
    ) -> Result<Self, Error> {
        check(config)?;
        let arti = arti
            .clone()
            .with_dial_timeout(config.dial.timeout())
            .with_bootstrap_timeout(
                config
                    .bootstrap_timeout
                    .unwrap_or(DEFAULT_BOOTSTRAP_TIMEOUT),
            );
        let client = torp2p_arti::Client::bootstrap(&arti)
            .await
            .map_err(|source| Error::Arti {
                doing: "bootstrapping arti",
                source,
            })?;
        Ok(Self::on(client, config))
    }

    /// On a client bootstrapped already (shared with other transports or parts of the
    /// program), after refusing what arti cannot do.
    pub(crate) fn with_client(
        client: torp2p_arti::Client,
        config: &crate::Config,
    ) -> Result<Self, Error> {
        check(config)?;
        Ok(Self::on(client, config))
    }

    fn on(client: torp2p_arti::Client, config: &crate::Config) -> Self {
        Self {
            client,
            dial: config.dial.clone(),
            rotation: Rotation::new(
                config.rotate_isolation && config.dial.isolation() == Isolation::PerPeer,
            ),
            watch: config.reachability,
        }
    }
}

/// What the config asks that C tor does and arti does not: refused, rather than ignored.
fn check(config: &crate::Config) -> Result<(), Error> {
    let unsupported = |what, hint| {
        Err(Error::Unsupported {
            backend: BACKEND,
            what,
            hint,
        })
    };
    let options = &config.service_options;
    if options.pow_defenses().is_some() {
        return unsupported(
            "run onion services with proof-of-work defenses",
            "leave out OnionServiceOptions::with_pow_defenses, or use C tor",
        );
    }
    if options.max_streams().is_some() {
        return unsupported(
            "limit the streams of an onion service",
            "leave out OnionServiceOptions::with_max_streams, or use C tor",
        );
    }
    if !options.authorized_clients().is_empty() {
        return unsupported(
            "restrict an onion service to authorized clients",
            "leave out Config::with_authorized_client, or use C tor",
        );
    }
    if !config.client_auth.is_empty() {
        return unsupported(
            "dial onion services with client authorization",
            "leave out Config::with_client_auth, or use C tor",
        );
    }
    if config.socks_proxy.is_some() {
        return unsupported(
            "dial through a SOCKS port",
            "leave out Config::with_socks_proxy: arti dials in the process",
        );
    }
    Ok(())
}

#[async_trait]
impl Backend for Arti {
    fn check_dial(&self) -> Result<(), Error> {
        Ok(())
    }

    async fn dial(&self, addr: &DialAddr) -> Result<Stream, Error> {
        let peer = addr.peer_id.map(|p| p.to_string());
        let target = addr.target.to_string();
        let key = self.rotation.key(peer.as_deref(), &target);
        let isolation = match self.dial.isolation() {
            // The peer id (rotated after a circuit-level failure), else the target address:
            // the key C tor gets as SOCKS credentials.
            Isolation::PerPeer => ArtiIsolation::Key(
                key.key
                    .clone()
                    .unwrap_or_else(|| target.clone())
                    .into_bytes(),
            ),
            Isolation::PerConnection => ArtiIsolation::Fresh,
            _ => ArtiIsolation::Shared,
        };
        let timeout = self.dial.timeout();
        let attempts = async {
            let mut retries = self.dial.descriptor_retries();
            loop {
                match self.client.dial(&addr.target, &isolation).await {
                    Err(e @ ArtiDialError::DescriptorNotFound { .. }) if retries > 0 => {
                        debug!(error = %e, "descriptor not found: trying again");
                        retries -= 1;
                        tokio::time::sleep(self.dial.descriptor_retry_delay()).await;
                    }
                    other => break other,
                }
            }
        };
        // The timeout covers the retries, as on the C tor path.
        let result = match tokio::time::Instant::now().checked_add(timeout) {
            Some(deadline) => tokio::time::timeout_at(deadline, attempts)
                .await
                .unwrap_or_else(|_| {
                    Err(ArtiDialError::Timeout {
                        target: addr.target.clone(),
                        timeout,
                    })
                }),
            None => attempts.await,
        };
        match result {
            Ok(stream) => Ok(Stream::arti(stream, false)),
            Err(e) => {
                let circuit = DialFailure::of_arti(&e).is_circuit_failure();
                self.rotation
                    .failed(peer.as_deref(), &target, &key, circuit);
                Err(Error::ArtiDial(e))
            }
        }
    }

    async fn listen(
        &self,
        key: &OnionKey,
        virtual_port: u16,
        readiness: Readiness,
    ) -> Result<Box<dyn Service>, Error> {
        let service = self
            .client
            .listen(key.expanded_secret(), virtual_port)
            .map_err(|source| Error::Arti {
                doing: "launching the onion service",
                source,
            })?;
        let (handle, tending) = tending::channel();
        tokio::spawn(tend(service, readiness, self.watch, tending));
        Ok(Box::new(handle))
    }

    async fn stopped(&self) -> Error {
        // arti runs in the process: it never stops by itself.
        std::future::pending().await
    }
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The task of one onion service: reports it reachable when arti does (or at once under
/// [`Publication::Immediately`]), hands out its streams, and reports it unreachable when arti
/// has said so for the watch's grace period (reachable again when arti says so). Dropping the
/// service (when the transport removes it or goes away) stops it.
async fn tend(
    mut service: torp2p_arti::OnionService,
    readiness: Readiness,
    watch: ReachabilityWatch,
    mut tending: Tending,
) {
    let address = service.onion_address();
    if !matches!(readiness.policy, Publication::Immediately) {
        let result = tokio::select! {
            r = service.wait_reachable(readiness.timeout) => r,
            stop = tending.stopped() => return stop.answer(Ok(())),
        };
        if let Err(source) = result {
            drop(service);
            let error = Error::Arti {
                doing: "publishing the onion service",
                source,
            };
            return tending.fail(error).await.answer(Ok(()));
        }
    }
    info!("onion service reachable (arti)");
    if let Err(stop) = tending.send(Ok(ServiceEvent::Reachable)).await {
        return stop.answer(Ok(()));
    }

    // Accepting on a task of its own: `accept` is not cancel-safe, so it must not be raced
    // against the state changes.
    let mut states = service.states();
    let (streams_tx, mut streams) = mpsc::channel(1);
    let _acceptor = AbortOnDrop(tokio::spawn(async move {
        loop {
            let accepted = service.accept().await;
            let ended = matches!(accepted, Err(torp2p_arti::Error::ServiceStopped { .. }));
            if streams_tx.send(accepted).await.is_err() || ended {
                break;
            }
        }
    }));

    let mut states_open = true;
    let mut verdict = Verdict::new(watch);
    let stop: Stop = loop {
        let deadline = verdict.deadline();
        let grace_over = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        let event = tokio::select! {
            stop = tending.stopped() => break stop,
            accepted = streams.recv() => match accepted {
                Some(Ok(stream)) => ServiceEvent::Incoming(Stream::arti(stream, true)),
                Some(Err(source)) if is_stopped(&source) => {
                    let error = Error::Arti { doing: "running the onion service", source };
                    break tending.fail(error).await;
                }
                Some(Err(source)) => ServiceEvent::AcceptError(Error::Arti {
                    doing: "accepting a connection",
                    source,
                }),
                None => break tending.fail(Error::ListenerTaskEnded).await,
            },
            state = states.next(), if states_open => {
                let Some(state) = state else {
                    // arti stopped reporting: the acceptor reports the end.
                    states_open = false;
                    continue;
                };
                debug!(%address, ?state, "onion service state (arti)");
                if !verdict.observe(state, tokio::time::Instant::now()) {
                    continue;
                }
                info!("onion service reachable again (arti)");
                ServiceEvent::Reachable
            }
            () = grace_over => {
                let Some(reason) = verdict.expire(tokio::time::Instant::now()) else {
                    continue;
                };
                info!(%reason, "onion service unreachable (arti)");
                ServiceEvent::Unreachable(Error::ServiceUnreachable { reason })
            }
        };
        if let Err(stop) = tending.send(Ok(event)).await {
            break stop;
        }
    };
    stop.answer(Ok(()));
}

/// Whether a service arti runs counts as reachable, from the states arti reports: reachable
/// at first (the task starts it once arti said so), unreachable once arti has reported other
/// states without a break for the watch's grace period, reachable again at arti's next
/// reachable state. With the watch off it stays reachable.
#[derive(Debug)]
struct Verdict {
    watch: ReachabilityWatch,
    reachable: bool,
    /// While reachable: since when arti has reported other states, and the latest of them.
    other_since: Option<(tokio::time::Instant, ServiceState)>,
}

impl Verdict {
    fn new(watch: ReachabilityWatch) -> Self {
        Self {
            watch,
            reachable: true,
            other_since: None,
        }
    }

    /// Takes note of a state arti reported at `now`; `true` when the service is reachable
    /// again after having been called unreachable.
    fn observe(&mut self, state: ServiceState, now: tokio::time::Instant) -> bool {
        if state.is_reachable() {
            self.other_since = None;
            return !std::mem::replace(&mut self.reachable, true);
        }
        if self.reachable {
            let since = self.other_since.map_or(now, |(since, _)| since);
            self.other_since = Some((since, state));
        }
        false
    }

    /// When the grace period of the states seen runs out, if it can.
    fn deadline(&self) -> Option<tokio::time::Instant> {
        match (self.other_since, self.watch.enabled) {
            (Some((since, _)), true) => Some(since + self.watch.grace),
            _ => None,
        }
    }

    /// At `now`: the reason the service counts as unreachable from now on, if its grace period
    /// is over.
    fn expire(&mut self, now: tokio::time::Instant) -> Option<Unreachability> {
        let deadline = self.deadline()?;
        if now < deadline {
            return None;
        }
        let (since, state) = self.other_since.take()?;
        self.reachable = false;
        Some(Unreachability::ArtiState {
            state: format!("{state:?}"),
            lasted: now - since,
        })
    }
}

/// Whether an error of `accept` means the service is gone for good.
fn is_stopped(e: &torp2p_arti::Error) -> bool {
    matches!(e, torp2p_arti::Error::ServiceStopped { .. })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::time::Instant;

    fn watch(grace: u64) -> ReachabilityWatch {
        ReachabilityWatch::new().with_grace(Duration::from_secs(grace))
    }

    #[test]
    fn other_states_for_the_grace_period_make_it_unreachable_and_reachable_again() {
        let t0 = Instant::now();
        let at = |s| t0 + Duration::from_secs(s);
        let mut v = Verdict::new(watch(60));
        assert_eq!(v.deadline(), None);
        assert!(!v.observe(ServiceState::Recovering, at(0)));
        // A later state of another kind keeps the first one's start.
        assert!(!v.observe(ServiceState::Broken, at(30)));
        assert_eq!(v.deadline(), Some(at(60)));
        assert_eq!(v.expire(at(59)), None, "not before the grace period");
        let reason = v.expire(at(60)).expect("unreachable after 60 s");
        assert_eq!(
            reason,
            Unreachability::ArtiState {
                state: "Broken".into(),
                lasted: Duration::from_secs(60)
            }
        );
        assert_eq!(v.deadline(), None, "reported once");
        assert!(!v.observe(ServiceState::Recovering, at(70)));
        assert_eq!(v.deadline(), None, "already unreachable");
        assert!(
            v.observe(ServiceState::Reachable, at(80)),
            "reachable again"
        );
        assert!(!v.observe(ServiceState::Reachable, at(81)), "only once");
    }

    #[test]
    fn a_short_dip_is_forgiven_and_the_watch_can_be_off() {
        let t0 = Instant::now();
        let at = |s| t0 + Duration::from_secs(s);
        let mut v = Verdict::new(watch(60));
        assert!(!v.observe(ServiceState::Recovering, at(0)));
        assert!(
            !v.observe(ServiceState::Reachable, at(20)),
            "never reported unreachable"
        );
        assert_eq!(v.deadline(), None);
        assert!(!v.observe(ServiceState::Recovering, at(30)));
        assert_eq!(
            v.deadline(),
            Some(at(90)),
            "a new dip starts its own grace period"
        );

        let mut off = Verdict::new(ReachabilityWatch::disabled());
        assert!(!off.observe(ServiceState::Broken, at(0)));
        assert_eq!(off.deadline(), None);
        assert_eq!(off.expire(at(3600)), None);
    }
}
