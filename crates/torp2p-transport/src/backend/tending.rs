//! A [`Service`] run by a task of its own: the task owns the backend's service (adding and
//! removing it are control-port commands that must never be cut off half-way), the
//! [`TaskService`] handed to the transport only receives its events and asks it to stop.

use async_trait::async_trait;
use tokio::sync::{mpsc, oneshot};

use super::{Service, ServiceEvent};
use crate::error::Error;

/// How many events a service's task may queue for the listener.
const QUEUE: usize = 16;

/// Where the task sends the answer to "remove the service".
pub(crate) type Reply = oneshot::Sender<Result<(), Error>>;

/// The transport's side: events from the task.
pub(crate) struct TaskService {
    events: tokio::sync::Mutex<mpsc::Receiver<Result<ServiceEvent, Error>>>,
    remove: oneshot::Sender<Reply>,
}

/// The task's side.
pub(crate) struct Tending {
    events: mpsc::Sender<Result<ServiceEvent, Error>>,
    remove: oneshot::Receiver<Reply>,
    /// Set once the transport has asked to stop (or gone away).
    stop: Option<Stop>,
}

/// Why the task must stop: the transport asked (with where to answer), or is gone.
pub(crate) enum Stop {
    Remove(Reply),
    Gone,
}

impl Stop {
    /// Answers a removal with `result`.
    pub(crate) fn answer(self, result: Result<(), Error>) {
        if let Stop::Remove(reply) = self {
            let _ = reply.send(result);
        }
    }
}

/// A pair: the service for the transport and the handle for the task that runs it.
pub(crate) fn channel() -> (TaskService, Tending) {
    let (events_tx, events) = mpsc::channel(QUEUE);
    let (remove_tx, remove_rx) = oneshot::channel();
    (
        TaskService {
            events: tokio::sync::Mutex::new(events),
            remove: remove_tx,
        },
        Tending {
            events: events_tx,
            remove: remove_rx,
            stop: None,
        },
    )
}

impl Tending {
    /// Resolves when the task must stop. Cancel-safe.
    pub(crate) async fn stopped(&mut self) -> Stop {
        if let Some(stop) = self.stop.take() {
            return stop;
        }
        tokio::select! {
            reply = &mut self.remove => match reply {
                Ok(reply) => Stop::Remove(reply),
                Err(_) => Stop::Gone,
            },
            () = self.events.closed() => Stop::Gone,
        }
    }

    /// Sends an event to the transport; `Err` when the task must stop instead (a full queue
    /// never keeps a removal waiting).
    pub(crate) async fn send(&mut self, event: Result<ServiceEvent, Error>) -> Result<(), Stop> {
        if let Some(stop) = self.stop.take() {
            return Err(stop);
        }
        let events = self.events.clone();
        tokio::select! {
            sent = events.send(event) => sent.map_err(|_| Stop::Gone),
            stop = self.stopped() => Err(stop),
        }
    }

    /// Sends the error that ends the service, then waits until the transport asks to stop.
    pub(crate) async fn fail(&mut self, error: Error) -> Stop {
        match self.send(Err(error)).await {
            Ok(()) => self.stopped().await,
            Err(stop) => stop,
        }
    }
}

#[async_trait]
impl Service for TaskService {
    async fn next(&self) -> Result<ServiceEvent, Error> {
        // Receiving from a channel: cancel-safe.
        match self.events.lock().await.recv().await {
            Some(event) => event,
            None => Err(Error::ListenerTaskEnded),
        }
    }

    async fn remove(self: Box<Self>) -> Result<(), Error> {
        let Self { events, remove } = *self;
        // Events still queued are of no use now; dropping them also frees a task that waits
        // for room in the queue.
        drop(events);
        let (reply, done) = oneshot::channel();
        if remove.send(reply).is_err() {
            return Ok(());
        }
        done.await.unwrap_or(Ok(()))
    }
}
