//! One listener: an onion service of the backend, run by a task of its own, and the stream of
//! transport events it produces.
//!
//! The task owns the service for its whole life. Commands on tor's control port are not
//! cancel-safe (a command abandoned half-way leaves its reply to be read as the next one's),
//! so the transport never drops a future in the middle of one: `remove_listener` and drop only
//! signal the task, which removes the service itself.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::future::{Ready, ready};
use libp2p_core::Multiaddr;
use libp2p_core::transport::{ListenerId, TransportEvent};
use tokio::sync::{Mutex, OwnedMutexGuard, mpsc, oneshot};
use torp2p_addr::{OnionAddress, OnionSocketAddr};
use torp2p_daemon::{OnionKey, Publication};
use tracing::debug;

use crate::backend::{Backend, Readiness, Service, ServiceEvent};
use crate::error::Error;
use crate::stream::Stream;

/// How many events (mostly accepted connections) may wait for the transport to be polled.
/// When they are not taken, the task stops accepting and connections wait in the socket's
/// backlog.
const EVENT_QUEUE: usize = 16;
/// The pause after a failed `accept` (e.g. out of file descriptors), so as not to spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// What a listener's task reports.
#[derive(Debug)]
enum Event {
    /// The onion service counts as published: report the listen address.
    Published,
    /// The onion service is not reachable any more (its tor died, or the reachability watch
    /// found it unreachable): the address expired.
    Expired(Error),
    /// A peer dialed the onion service.
    Incoming(Stream),
    /// A non-fatal error (a failed `accept`).
    Error(Error),
    /// The listener is done: `Ok` when asked to close, `Err` with the reason otherwise.
    Closed(Result<(), Error>),
}

/// What a listener needs besides its address: the parts of the transport's config.
pub(crate) struct Params {
    pub(crate) backend: Arc<dyn Backend>,
    pub(crate) key: OnionKey,
    pub(crate) publication: Publication,
    pub(crate) publish_timeout: Duration,
    /// Held while the onion service exists, so that a new listener on the same address waits
    /// until tor has removed the old service (tor refuses two services with one address).
    pub(crate) slot: Arc<Mutex<()>>,
}

/// The transport's side of a listener: a stream of [`TransportEvent`]s.
pub(crate) struct Listener {
    id: ListenerId,
    onion: OnionSocketAddr,
    addr: Multiaddr,
    events: mpsc::Receiver<Event>,
    /// Taken (and used) when the listener is asked to close.
    close: Option<oneshot::Sender<()>>,
    finished: bool,
}

/// The event type the transport produces.
pub(crate) type Upgrade = Ready<Result<Stream, Error>>;

impl Listener {
    /// Starts the task that adds the onion service.
    pub(crate) fn start(
        id: ListenerId,
        onion: OnionSocketAddr,
        params: Params,
    ) -> Result<Self, Error> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| Error::NoRuntime)?;
        let (tx, events) = mpsc::channel(EVENT_QUEUE);
        let (close, close_rx) = oneshot::channel();
        debug!(listener = %id, address = %onion, "starting an onion service listener");
        runtime.spawn(run(id, onion, params, tx, close_rx));
        Ok(Self {
            id,
            onion,
            addr: onion.to_multiaddr(),
            events,
            close: Some(close),
            finished: false,
        })
    }

    pub(crate) fn id(&self) -> ListenerId {
        self.id
    }

    pub(crate) fn address(&self) -> &OnionAddress {
        self.onion.address()
    }

    /// Whether the listener is running and not asked to close.
    pub(crate) fn is_active(&self) -> bool {
        self.close.is_some() && !self.finished
    }

    /// Asks the task to remove the onion service; `ListenerClosed` follows once it has.
    pub(crate) fn close(&mut self) {
        if let Some(close) = self.close.take() {
            let _ = close.send(());
        }
    }
}

impl futures::Stream for Listener {
    type Item = TransportEvent<Upgrade, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let listener_id = self.id;
        loop {
            if self.finished {
                return Poll::Ready(None);
            }
            let event = match self.events.poll_recv(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(event) => event,
            };
            let event = match event {
                Some(Event::Closed(reason)) => {
                    self.finished = true;
                    TransportEvent::ListenerClosed {
                        listener_id,
                        reason,
                    }
                }
                None => {
                    self.finished = true;
                    TransportEvent::ListenerClosed {
                        listener_id,
                        reason: Err(Error::ListenerTaskEnded),
                    }
                }
                // Once asked to close, only the end is reported: connections still queued are
                // dropped, as a closed socket would have refused them.
                Some(_) if self.close.is_none() => continue,
                Some(Event::Published) => TransportEvent::NewAddress {
                    listener_id,
                    listen_addr: self.addr.clone(),
                },
                Some(Event::Expired(error)) => {
                    debug!(listener = %listener_id, %error, "the listen address expired");
                    TransportEvent::AddressExpired {
                        listener_id,
                        listen_addr: self.addr.clone(),
                    }
                }
                Some(Event::Incoming(stream)) => TransportEvent::Incoming {
                    listener_id,
                    upgrade: ready(Ok(stream)),
                    local_addr: self.addr.clone(),
                    // tor tells nothing about who connected; our own listen address reveals
                    // nothing about this host either.
                    send_back_addr: self.addr.clone(),
                },
                Some(Event::Error(error)) => TransportEvent::ListenerError { listener_id, error },
            };
            return Poll::Ready(Some(event));
        }
    }
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener")
            .field("id", &self.id)
            .field("active", &self.is_active())
            .finish_non_exhaustive()
    }
}

/// The listener's task: runs [`serve`], then reports how it ended.
async fn run(
    id: ListenerId,
    onion: OnionSocketAddr,
    params: Params,
    tx: mpsc::Sender<Event>,
    mut close: oneshot::Receiver<()>,
) {
    let result = serve(id, onion, &params, &tx, &mut close).await;
    match &result {
        Ok(()) => debug!(listener = %id, "listener closed"),
        Err(error) => debug!(listener = %id, %error, "listener closed with an error"),
    }
    let _ = tx.send(Event::Closed(result)).await;
}

async fn serve(
    id: ListenerId,
    onion: OnionSocketAddr,
    params: &Params,
    tx: &mpsc::Sender<Event>,
    close: &mut oneshot::Receiver<()>,
) -> Result<(), Error> {
    let backend = &params.backend;

    // Wait until no other listener of ours has a service with this address.
    let slot: OwnedMutexGuard<()> = tokio::select! {
        guard = params.slot.clone().lock_owned() => guard,
        _ = &mut *close => return Ok(()),
        gone = backend.stopped() => return Err(gone),
    };

    // Adding the service runs to completion: see the module's docs.
    debug!(listener = %id, "adding the onion service");
    let readiness = Readiness {
        policy: params.publication,
        timeout: params.publish_timeout,
    };
    let service = backend.listen(&params.key, onion.port(), readiness).await?;

    loop {
        let event = tokio::select! {
            _ = &mut *close => return remove(id, service, slot).await,
            gone = backend.stopped() => return Err(gone),
            next = service.next() => match next {
                Ok(ServiceEvent::Reachable) => Event::Published,
                Ok(ServiceEvent::Unreachable(error)) => Event::Expired(error),
                Ok(ServiceEvent::Incoming(stream)) => {
                    debug!(listener = %id, "incoming connection through tor");
                    Event::Incoming(stream)
                }
                Ok(ServiceEvent::AcceptError(error)) => {
                    debug!(listener = %id, %error, "accept failed");
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    Event::Error(error)
                }
                Err(error) => {
                    if !error.is_tor_gone() {
                        let _ = remove(id, service, slot).await;
                    }
                    return Err(error);
                }
            },
        };
        // The transport is gone when nobody receives: then clean up as on close.
        if tx.send(event).await.is_err() {
            return remove(id, service, slot).await;
        }
    }
}

/// Removes the onion service, then frees the address for another listener.
async fn remove(
    id: ListenerId,
    service: Box<dyn Service>,
    slot: OwnedMutexGuard<()>,
) -> Result<(), Error> {
    debug!(listener = %id, "removing the onion service");
    let result = service.remove().await;
    drop(slot);
    result
}
