//! The supervisor: a backend that starts its tor again when it dies or hangs, and keeps every
//! onion service published across restarts.
//!
//! It wraps the C tor backend ([`CTor`]) and knows how to make another one (spawn a tor, or
//! attach to one, as the transport's [`TorSource`] says). A supervisor task watches the
//! current tor: when it exits, one of its control connections closes (an attached tor that
//! keeps running: a closed command connection is noticed by the next command, at the latest
//! the hang probe's), or its control port stays silent past the hang timeout (then it is
//! killed), the task lets go of it and starts a new one with bounded exponential backoff
//! ([`RestartPolicy`]). Meanwhile dials fail at once with [`Error::TorRestarting`]. Each
//! service has a keeper task of its own that re-adds it with the same key on the new tor and
//! reports it unreachable, then reachable again. When the policy gives up, the backend has
//! stopped: listeners close with [`Error::GaveUpRestarting`].

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::watch;
use torp2p_addr::DialAddr;
use torp2p_daemon::{OnionKey, Tor};
use tracing::{debug, info, warn};

use super::c_tor::CTor;
use super::tending::{self, Tending};
use super::{Backend, Readiness, Service, ServiceEvent};
use crate::config::{Config, RestartPolicy, TorSource};
use crate::error::Error;
use crate::stream::Stream;

/// The supervisor's view of tor.
#[derive(Debug, Clone)]
enum Current {
    /// Running.
    Up(Arc<CTor>),
    /// Gone, being started again: this is the attempt under way.
    Restarting { attempt: u32 },
    /// Gone for good: the policy gave up.
    GaveUp { attempts: u32, last: Arc<Error> },
}

/// A C tor backend that comes back.
#[derive(Debug)]
pub(crate) struct Supervised {
    current: watch::Receiver<Current>,
    task: tokio::task::JoinHandle<()>,
}

impl Supervised {
    /// Supervises `tor` (already started from `source` and bootstrapped).
    pub(crate) fn start(tor: Tor, source: TorSource, config: &Config) -> Self {
        let backend = Arc::new(CTor::new(tor, config));
        let (tx, current) = watch::channel(Current::Up(backend));
        let task = tokio::spawn(supervise(tx, source, config.clone()));
        Self { current, task }
    }

    fn gave_up(attempts: u32, last: &Arc<Error>) -> Error {
        Error::GaveUpRestarting {
            attempts,
            last: last.clone(),
        }
    }
}

impl Drop for Supervised {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[async_trait]
impl Backend for Supervised {
    fn check_dial(&self) -> Result<(), Error> {
        match &*self.current.borrow() {
            Current::Up(b) => b.check_dial(),
            // The dial future says why.
            _ => Ok(()),
        }
    }

    async fn dial(&self, addr: &DialAddr) -> Result<Stream, Error> {
        let current = self.current.borrow().clone();
        match current {
            Current::Up(b) => match b.dial(addr).await {
                // The tor under this dial died: the supervisor is on it.
                Err(e) if e.is_tor_gone() => Err(Error::restarting(0)),
                other => other,
            },
            Current::Restarting { attempt } => Err(Error::restarting(attempt)),
            Current::GaveUp { attempts, last } => Err(Self::gave_up(attempts, &last)),
        }
    }

    async fn listen(
        &self,
        key: &OnionKey,
        virtual_port: u16,
        readiness: Readiness,
    ) -> Result<Box<dyn Service>, Error> {
        let current = self.current.borrow().clone();
        let backend = match current {
            Current::Up(b) => b,
            Current::Restarting { attempt } => return Err(Error::restarting(attempt)),
            Current::GaveUp { attempts, last } => return Err(Self::gave_up(attempts, &last)),
        };
        let inner = backend.listen(key, virtual_port, readiness).await?;
        let (service, tending) = tending::channel();
        let kept = Kept {
            current: self.current.clone(),
            key: key.clone(),
            virtual_port,
            readiness,
        };
        tokio::spawn(keep(kept, backend, inner, tending));
        Ok(Box::new(service))
    }

    async fn stopped(&self) -> Error {
        let mut current = self.current.clone();
        let gave_up = current
            .wait_for(|c| matches!(c, Current::GaveUp { .. }))
            .await
            .map(|c| c.clone());
        match gave_up {
            Ok(Current::GaveUp { attempts, last }) => Self::gave_up(attempts, &last),
            // The supervisor is gone (the transport is being dropped): nothing will come back.
            _ => std::future::pending().await,
        }
    }
}

/// Resolves when `tor`'s control port stays silent for `timeout` (checked every half of it).
async fn hung(tor: &Tor, timeout: Duration) {
    let every = (timeout / 2).max(Duration::from_millis(100));
    loop {
        tokio::time::sleep(every).await;
        match tokio::time::timeout(timeout, tor.get_info("version")).await {
            Err(_) | Ok(Err(torp2p_daemon::Error::CommandTimeout { .. })) => return,
            Ok(_) => {}
        }
    }
}

/// The supervisor task: watches the current tor, starts another when it goes.
async fn supervise(tx: watch::Sender<Current>, source: TorSource, config: Config) {
    let policy: RestartPolicy = config.restart;
    loop {
        let Current::Up(backend) = tx.borrow().clone() else {
            return;
        };
        let tor = backend.tor().clone();
        drop(backend);
        let reason = tokio::select! {
            gone = tor.gone() => gone.to_string(),
            () = hung(&tor, policy.hang_timeout) => {
                warn!(timeout = ?policy.hang_timeout, "tor's control port is silent: killing it");
                format!("its control port was silent for {:?}", policy.hang_timeout)
            }
            () = tx.closed() => return,
        };
        warn!(%reason, "tor is gone: starting it again");
        tx.send_replace(Current::Restarting { attempt: 1 });
        // Let go of the old tor entirely before starting another: a spawned one is killed and
        // reaped; an attached one keeps running, and closing both our control connections
        // makes it remove the onion services they added. One connection can close while the
        // other stays open (gone is either), and a service still held by the open one would
        // make adding it again fail ("550 Onion address collision").
        tor.shutdown().await;
        let mut delay = Duration::ZERO;
        let mut attempt = 0;
        loop {
            attempt += 1;
            if attempt > policy.max_attempts {
                warn!(attempts = attempt - 1, "giving up on restarting tor");
                let last = Arc::new(Error::TorRestartFailed { reason });
                tx.send_replace(Current::GaveUp {
                    attempts: attempt - 1,
                    last,
                });
                return;
            }
            tx.send_replace(Current::Restarting { attempt });
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = tx.closed() => return,
            }
            let started = tokio::select! {
                r = CTor::start(&source, &config) => r,
                () = tx.closed() => return,
            };
            match started {
                Ok(tor) => {
                    info!(attempt, "tor is back");
                    tx.send_replace(Current::Up(Arc::new(CTor::new(tor, &config))));
                    break;
                }
                Err(e) => {
                    warn!(attempt, error = %e, "tor did not start again");
                    delay = if delay.is_zero() {
                        policy.first_backoff
                    } else {
                        (delay * 2).min(policy.max_backoff)
                    };
                }
            }
        }
    }
}

/// What a keeper re-publishes.
struct Kept {
    current: watch::Receiver<Current>,
    key: OnionKey,
    virtual_port: u16,
    readiness: Readiness,
}

/// A service's keeper task: forwards the current service's events, and after a restart adds
/// the service again on the new tor.
async fn keep(
    kept: Kept,
    mut backend: Arc<CTor>,
    mut inner: Box<dyn Service>,
    mut tending: Tending,
) {
    // Whether `inner`'s tor is known to be dead (then it is not polled any more), and whether
    // the listener was told.
    let mut dead = false;
    let mut told = false;
    let stop = loop {
        let on_this_tor = |c: &Current| matches!(c, Current::Up(b) if Arc::ptr_eq(b, &backend));
        let mut current = kept.current.clone();
        tokio::select! {
            stop = tending.stopped() => break stop,
            event = inner.next(), if !dead => match event {
                Err(e) if e.is_tor_gone() => dead = true,
                // The service ended (e.g. not published in time): say why, then wait for the
                // transport to remove it.
                Err(e) => break tending.fail(e).await,
                Ok(event) => {
                    if let Err(stop) = tending.send(Ok(event)).await {
                        break stop;
                    }
                }
            },
            _ = async { current.wait_for(|c| !on_this_tor(c)).await.is_ok() } => {
                // tor died: the service with it. Tell the listener, wait for a new tor.
                dead = true;
                if !told {
                    debug!("the onion service's tor is gone: waiting for the next one");
                    told = true;
                    let unreachable = ServiceEvent::Unreachable(Error::restarting(0));
                    if let Err(stop) = tending.send(Ok(unreachable)).await {
                        break stop;
                    }
                }
                let mut current = kept.current.clone();
                let next = tokio::select! {
                    next = current.wait_for(|c| !matches!(c, Current::Restarting { .. })) => {
                        next.map(|c| c.clone())
                    }
                    stop = tending.stopped() => break stop,
                };
                match next {
                    Ok(Current::Up(b)) => {
                        // Added again with the same key: the same onion address. ADD_ONION
                        // runs to completion here, on this task, never cancelled half-way.
                        match b.listen(&kept.key, kept.virtual_port, kept.readiness).await {
                            Ok(service) => {
                                info!("onion service added again on the new tor");
                                backend = b;
                                inner = service;
                                dead = false;
                                told = false;
                            }
                            Err(e) => break tending.fail(e).await,
                        }
                    }
                    Ok(Current::GaveUp { attempts, last }) => {
                        break tending.fail(Supervised::gave_up(attempts, &last)).await;
                    }
                    // Not reached: the wait ends only once tor is no longer restarting.
                    Ok(Current::Restarting { .. }) => {}
                    // The supervisor is gone (the transport is being dropped).
                    Err(_) => return,
                }
            }
        }
    };
    let result = if dead { Ok(()) } else { inner.remove().await };
    stop.answer(result);
}
