//! One listener: an onion service forwarding to a private unix socket, run by a task of its
//! own, and the stream of transport events it produces.
//!
//! The task owns the onion service for its whole life. Commands on tor's control port are not
//! cancel-safe (a command abandoned half-way leaves its reply to be read as the next one's),
//! so the transport never drops a future in the middle of one: `remove_listener` and drop only
//! signal the task, which removes the service (DEL_ONION) itself.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::future::{Ready, ready};
use libp2p_core::Multiaddr;
use libp2p_core::transport::{ListenerId, TransportEvent};
use tempfile::TempDir;
use tokio::net::UnixListener;
use tokio::sync::{Mutex, OwnedMutexGuard, mpsc, oneshot};
use torp2p_addr::{OnionAddress, OnionSocketAddr};
use torp2p_daemon::{
    LocalAddr, OnionKey, OnionService, OnionServiceOptions, PortMapping, Publication, Tor,
};
use tracing::{debug, info};

use crate::error::Error;
use crate::stream::Stream;

/// How many events (mostly accepted connections) may wait for the transport to be polled.
/// When they are not taken, the task stops accepting and connections wait in the socket's
/// backlog.
const EVENT_QUEUE: usize = 16;
/// The pause after a failed `accept` (e.g. out of file descriptors), so as not to spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);
/// The name of the socket inside the listener's private directory.
const SOCKET_NAME: &str = "listener.sock";

/// What a listener's task reports.
#[derive(Debug)]
enum Event {
    /// The onion service counts as published: report the listen address.
    Published,
    /// tor connected to the socket: a peer dialed the onion service.
    Incoming(tokio::net::UnixStream),
    /// A non-fatal error (a failed `accept`).
    Error(Error),
    /// The listener is done: `Ok` when asked to close, `Err` with the reason otherwise.
    Closed(Result<(), Error>),
}

/// What a listener needs besides its address: the parts of the transport's config.
pub(crate) struct Params {
    pub(crate) tor: Tor,
    pub(crate) key: OnionKey,
    pub(crate) publication: Publication,
    pub(crate) publish_timeout: Duration,
    pub(crate) options: OnionServiceOptions,
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
    /// Binds the private unix socket and starts the task that adds the onion service.
    pub(crate) fn start(
        id: ListenerId,
        onion: OnionSocketAddr,
        params: Params,
    ) -> Result<Self, Error> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| Error::NoRuntime)?;
        let (dir, socket) = bind_private_socket()?;
        let (tx, events) = mpsc::channel(EVENT_QUEUE);
        let (close, close_rx) = oneshot::channel();
        debug!(listener = %id, address = %onion, "starting an onion service listener");
        runtime.spawn(run(id, onion, params, dir, socket, tx, close_rx));
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
                Some(Event::Incoming(stream)) => TransportEvent::Incoming {
                    listener_id,
                    upgrade: ready(Ok(Stream::inbound(stream))),
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

/// A fresh directory only this user can enter (mode 0700) with a bound unix socket in it.
fn bind_private_socket() -> Result<(TempDir, std::os::unix::net::UnixListener), Error> {
    let dir = tempfile::Builder::new()
        .prefix("torp2p-")
        .tempdir()
        .map_err(|source| Error::Io {
            what: "cannot create a private directory for the listener's socket in",
            path: std::env::temp_dir(),
            source,
        })?;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).map_err(
        |source| Error::Io {
            what: "cannot make private",
            path: dir.path().to_path_buf(),
            source,
        },
    )?;
    let path = dir.path().join(SOCKET_NAME);
    let io_error = |what, source| Error::Io {
        what,
        path: path.clone(),
        source,
    };
    let socket = std::os::unix::net::UnixListener::bind(&path)
        .map_err(|e| io_error("cannot bind the listener's unix socket", e))?;
    socket
        .set_nonblocking(true)
        .map_err(|e| io_error("cannot make non-blocking", e))?;
    Ok((dir, socket))
}

/// The listener's task: runs [`serve`], then reports how it ended.
async fn run(
    id: ListenerId,
    onion: OnionSocketAddr,
    params: Params,
    dir: TempDir,
    socket: std::os::unix::net::UnixListener,
    tx: mpsc::Sender<Event>,
    mut close: oneshot::Receiver<()>,
) {
    let result = serve(id, onion, &params, &dir, socket, &tx, &mut close).await;
    match &result {
        Ok(()) => debug!(listener = %id, "listener closed"),
        Err(error) => debug!(listener = %id, %error, "listener closed with an error"),
    }
    // The socket and its directory go with `dir`, before the transport hears of the end.
    drop(dir);
    let _ = tx.send(Event::Closed(result)).await;
}

async fn serve(
    id: ListenerId,
    onion: OnionSocketAddr,
    params: &Params,
    dir: &TempDir,
    socket: std::os::unix::net::UnixListener,
    tx: &mpsc::Sender<Event>,
    close: &mut oneshot::Receiver<()>,
) -> Result<(), Error> {
    let tor = &params.tor;
    let path: PathBuf = dir.path().join(SOCKET_NAME);
    let socket = UnixListener::from_std(socket).map_err(|source| Error::Io {
        what: "cannot register with the runtime",
        path: path.clone(),
        source,
    })?;

    // Wait until no other listener of ours has a service with this address.
    let slot: OwnedMutexGuard<()> = tokio::select! {
        guard = params.slot.clone().lock_owned() => guard,
        _ = &mut *close => return Ok(()),
        gone = tor.gone() => return Err(Error::TorGone { source: gone }),
    };

    // ADD_ONION runs to completion: see the module's docs.
    debug!(listener = %id, "adding the onion service");
    let service = tor
        .add_onion_service(
            &params.key,
            &[PortMapping {
                virtual_port: onion.port(),
                target: LocalAddr::Unix(path),
            }],
            &params.options,
        )
        .await
        .map_err(|e| Error::daemon("adding the onion service", e))?;

    let published = tokio::select! {
        r = service.wait_published(params.publication, params.publish_timeout) => r,
        _ = &mut *close => return remove(id, service, slot).await,
    };
    match published {
        Ok(state) => info!(
            listener = %id,
            uploads = state.uploads,
            uploaded = state.uploaded,
            failed = state.failed,
            "onion service published"
        ),
        Err(e) => {
            let error = Error::daemon("publishing the onion service", e);
            if !error.is_tor_gone() {
                let _ = remove(id, service, slot).await;
            }
            return Err(error);
        }
    }
    if tx.send(Event::Published).await.is_err() {
        return remove(id, service, slot).await;
    }

    loop {
        let event = tokio::select! {
            _ = &mut *close => return remove(id, service, slot).await,
            gone = tor.gone() => return Err(Error::TorGone { source: gone }),
            accepted = socket.accept() => match accepted {
                Ok((stream, _)) => {
                    debug!(listener = %id, "incoming connection through tor");
                    Event::Incoming(stream)
                }
                Err(source) => {
                    debug!(listener = %id, error = %source, "accept failed");
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    Event::Error(Error::Io {
                        what: "cannot accept a connection on",
                        path: dir.path().join(SOCKET_NAME),
                        source,
                    })
                }
            },
        };
        // The transport is gone when nobody receives: then clean up as on close.
        if tx.send(event).await.is_err() {
            return remove(id, service, slot).await;
        }
    }
}

/// Removes the onion service (DEL_ONION), then frees the address for another listener.
async fn remove(
    id: ListenerId,
    service: OnionService,
    slot: OwnedMutexGuard<()>,
) -> Result<(), Error> {
    debug!(listener = %id, "removing the onion service");
    let result = match service.remove().await {
        Ok(()) => Ok(()),
        // A gone tor took the service with it.
        Err(e) if e.is_tor_gone() => Ok(()),
        Err(e) => Err(Error::daemon("removing the onion service", e)),
    };
    drop(slot);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_socket_directory_is_private() {
        let (dir, _socket) = bind_private_socket().unwrap();
        let mode = std::fs::metadata(dir.path()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        assert!(dir.path().join(SOCKET_NAME).exists());
        let path = dir.path().to_path_buf();
        drop(dir);
        assert!(!path.exists());
    }
}
