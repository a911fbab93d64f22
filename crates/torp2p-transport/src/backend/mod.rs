//! The backend seam: *how* bytes get through Tor, below the transport's policy.
//!
//! The transport decides *what*, once, above this seam: which addresses it dials (address
//! classification, the clearnet policy), which keys may listen, one listener per onion
//! address (the slots), when a listener counts as ready, and how outcomes become libp2p
//! events. A backend only does what it is told:
//!
//! - [`Backend::dial`]: connect to a classified target (an onion service, or a clearnet
//!   address the policy let through) with the isolation its configuration gives the target's
//!   peer, and return a byte stream;
//! - [`Backend::listen`]: run an onion service with a key on a port and return it as a
//!   [`Service`], which reports when it becomes reachable (and unreachable) and hands out
//!   inbound byte streams; the caller binds nothing (compare arti's `tor-hsservice`);
//! - [`Backend::stopped`]: resolve when the backend is gone for good, so that dials fail fast
//!   and listeners close.
//!
//! The first backend is C tor ([`c_tor`]: torp2p-daemon for the control port and the
//! listener's socket, torp2p-socks for dials). [`supervised`] wraps a backend it can start
//! again: when tor dies or hangs it starts a new one and re-publishes every service, which its
//! services report as unreachable, then reachable again; neither the transport's policy nor
//! the C tor backend knows about restarts. A second backend (embedded arti) plugs in here as
//! another implementation of these two traits, without touching the dial and listen logic.

use std::time::Duration;

use async_trait::async_trait;
use torp2p_addr::DialAddr;
use torp2p_daemon::{OnionKey, Publication};

use crate::error::Error;
use crate::stream::Stream;

#[cfg(feature = "arti")]
pub(crate) mod arti;
pub(crate) mod c_tor;
mod rotation;
pub(crate) mod supervised;
pub(crate) mod tending;
pub(crate) mod watch;

/// When a service counts as reachable: the policy and the longest wait.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Readiness {
    pub(crate) policy: Publication,
    pub(crate) timeout: Duration,
}

/// What a [`Service`] reports.
#[derive(Debug)]
pub(crate) enum ServiceEvent {
    /// The service counts as reachable (under the [`Readiness`] it was started with).
    Reachable,
    /// The service is not reachable any more, for this reason; [`ServiceEvent::Reachable`]
    /// follows if it comes back.
    Unreachable(Error),
    /// A peer connected.
    Incoming(Stream),
    /// Accepting a connection failed (e.g. out of file descriptors); the service goes on.
    AcceptError(Error),
}

/// A way through Tor: dials and onion services.
#[async_trait]
pub(crate) trait Backend: Send + Sync + std::fmt::Debug {
    /// Whether dials can go anywhere at all (checked in `Transport::dial`, before any I/O):
    /// e.g. [`Error::NoSocksPort`] for a C tor without a SOCKS port.
    fn check_dial(&self) -> Result<(), Error>;

    /// Connects to `addr` through Tor. The target is already classified and allowed by the
    /// transport's policy; the backend applies its isolation and timeout.
    async fn dial(&self, addr: &DialAddr) -> Result<Stream, Error>;

    /// Starts an onion service run with `key` on `virtual_port`. Returns once the backend has
    /// the service; it reports [`ServiceEvent::Reachable`] as `readiness` says.
    async fn listen(
        &self,
        key: &OnionKey,
        virtual_port: u16,
        readiness: Readiness,
    ) -> Result<Box<dyn Service>, Error>;

    /// Resolves when the backend has stopped for good (tor exited and will not be started
    /// again), with the reason (an error for which [`Error::is_tor_gone`] holds).
    async fn stopped(&self) -> Error;
}

/// An onion service a backend runs for the transport.
#[async_trait]
pub(crate) trait Service: Send + Sync {
    /// The next event. Cancel-safe: a dropped call loses nothing. An error ends the service
    /// (e.g. it was not published in time): the caller removes it.
    async fn next(&self) -> Result<ServiceEvent, Error>;

    /// Stops the service and waits until the backend has.
    async fn remove(self: Box<Self>) -> Result<(), Error>;
}
