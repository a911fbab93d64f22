//! [`OnionService`]: an onion service run by arti, handing out incoming streams.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;
use tor_cell::relaycell::msg::{Connected, End, EndReason};
use tor_hsservice::status::{OnionServiceStatusStream, State};
use tor_hsservice::{RunningOnionService, StreamRequest};
use tor_proto::stream::IncomingStreamRequest;
use torp2p_addr::{OnionAddress, OnionSocketAddr};

use crate::error::{ArtiError, Error};
use crate::stream::Stream;

/// Where an onion service is, as arti reports it (arti's `State`, simplified).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ServiceState {
    /// Building introduction points and publishing the descriptor: not reachable yet, or
    /// only by some clients (arti's `Bootstrapping`).
    Starting,
    /// Believed reachable: the descriptor is published with working introduction points
    /// (arti's `Running`, and `DegradedReachable`: fewer introduction points than wanted).
    Reachable,
    /// Working introduction points, but descriptor uploads failed: probably unreachable
    /// (arti's `DegradedUnreachable`).
    Unreachable,
    /// Recovering from a problem (a dead introduction point, a failed upload); probably
    /// unreachable meanwhile (arti's `Recovering`).
    Recovering,
    /// Not working, and arti could not recover for a while (arti's `Broken`).
    Broken,
    /// Not running (arti's `Shutdown`).
    Stopped,
}

impl ServiceState {
    fn from_arti(state: State) -> Self {
        match state {
            State::Shutdown => Self::Stopped,
            State::Bootstrapping => Self::Starting,
            State::DegradedReachable | State::Running => Self::Reachable,
            State::DegradedUnreachable => Self::Unreachable,
            State::Recovering => Self::Recovering,
            State::Broken => Self::Broken,
            // `State` is non-exhaustive: a new state is treated as not reachable.
            _ => Self::Unreachable,
        }
    }

    /// Whether arti believes the service reachable ([`ServiceState::Reachable`]).
    pub fn is_reachable(self) -> bool {
        self == Self::Reachable
    }
}

/// A running onion service, launched with [`crate::Client::listen`]: it accepts streams to one
/// virtual port and refuses streams to any other. Dropping it stops the service (arti
/// withdraws nothing: the descriptor expires, and new clients fail to introduce).
pub struct OnionService {
    address: OnionSocketAddr,
    running: Arc<RunningOnionService>,
    requests: Pin<Box<dyn futures::Stream<Item = StreamRequest> + Send>>,
    status: OnionServiceStatusStream,
}

impl std::fmt::Debug for OnionService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnionService")
            .field("address", &self.address)
            .field("state", &self.state())
            .finish_non_exhaustive()
    }
}

impl OnionService {
    pub(crate) fn new(
        address: OnionSocketAddr,
        running: Arc<RunningOnionService>,
        requests: Pin<Box<dyn futures::Stream<Item = StreamRequest> + Send>>,
    ) -> Self {
        let status = running.status_events();
        Self {
            address,
            running,
            requests,
            status,
        }
    }

    /// The service's onion address and virtual port.
    pub fn address(&self) -> OnionSocketAddr {
        self.address
    }

    /// The service's onion address.
    pub fn onion_address(&self) -> OnionAddress {
        *self.address.address()
    }

    /// The service's state now.
    pub fn state(&self) -> ServiceState {
        ServiceState::from_arti(self.running.status().state())
    }

    /// Waits until the state changes and returns the new one; `None` once the service is gone
    /// (arti stopped reporting).
    pub async fn next_state(&mut self) -> Option<ServiceState> {
        self.status
            .next()
            .await
            .map(|s| ServiceState::from_arti(s.state()))
    }

    /// The service's states from now on, as a stream of its own (independent of
    /// [`next_state`](Self::next_state) and of [`accept`](Self::accept), so that a task
    /// can watch the state while another accepts). It ends when the service is gone.
    pub fn states(&self) -> impl futures::Stream<Item = ServiceState> + Send + Unpin + use<> {
        self.running
            .status_events()
            .map(|s| ServiceState::from_arti(s.state()))
    }

    /// Waits until arti believes the service reachable ([`ServiceState::Reachable`]).
    ///
    /// # Errors
    ///
    /// [`Error::ReachableTimeout`] after `timeout`, with the state then;
    /// [`Error::ServiceStopped`] if arti stops reporting (the service is gone).
    pub async fn wait_reachable(&mut self, timeout: Duration) -> Result<(), Error> {
        let deadline = tokio::time::Instant::now().checked_add(timeout);
        loop {
            let state = self.state();
            if state.is_reachable() {
                return Ok(());
            }
            let next = self.status.next();
            let changed = match deadline {
                Some(d) => tokio::time::timeout_at(d, next).await.ok(),
                None => Some(next.await),
            };
            match changed {
                // Checked again at the top, from the current status.
                Some(Some(_)) => {}
                Some(None) => {
                    return Err(Error::ServiceStopped {
                        address: self.onion_address(),
                        state: self.state(),
                    });
                }
                None => {
                    return Err(Error::ReachableTimeout {
                        address: self.onion_address(),
                        timeout,
                        state: self.state(),
                    });
                }
            }
        }
    }

    /// The next incoming stream to the service's virtual port. Streams to other ports are
    /// refused (the client sees "connection refused") and skipped.
    ///
    /// Not cancel-safe: a stream being accepted when the future is dropped is lost (its
    /// client sees the stream close).
    ///
    /// # Errors
    ///
    /// [`Error::ServiceStopped`] once the service's stream of requests ends;
    /// [`Error::Accept`] if accepting one stream failed (the next call may succeed).
    pub async fn accept(&mut self) -> Result<Stream, Error> {
        loop {
            let Some(request) = self.requests.next().await else {
                return Err(Error::ServiceStopped {
                    address: self.onion_address(),
                    state: self.state(),
                });
            };
            let port = match request.request() {
                IncomingStreamRequest::Begin(begin) => Some(begin.port()),
                _ => None,
            };
            if port == Some(self.address.port()) {
                return request
                    .accept(Connected::new_empty())
                    .await
                    .map(Stream::new)
                    .map_err(|e| Error::Accept {
                        address: self.onion_address(),
                        source: ArtiError::with_kind(e),
                    });
            }
            tracing::debug!(?port, "onion service: stream to another port refused");
            if let Err(e) = request
                .reject(End::new_with_reason(EndReason::CONNECTREFUSED))
                .await
            {
                tracing::debug!(error = %e, "onion service: refusing a stream failed");
            }
        }
    }
}
