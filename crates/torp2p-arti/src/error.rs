//! The crate's errors: [`Error`] for the client and its onion services, [`DialError`] for a
//! dial, and [`ArtiError`], arti's own error kept as their source.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use arti_client::{ErrorKind, HasKind};
use torp2p_addr::{DialTarget, OnionAddress};

use crate::service::ServiceState;

/// An error of arti itself, kept as the source of this crate's errors (so that arti's message
/// and its chain of causes are not lost) without putting an arti type in this crate's API.
pub struct ArtiError {
    inner: Box<dyn std::error::Error + Send + Sync + 'static>,
    kind: Option<ErrorKind>,
}

impl ArtiError {
    /// Wraps an arti error that has an [`ErrorKind`].
    pub(crate) fn with_kind<E>(e: E) -> Self
    where
        E: std::error::Error + HasKind + Send + Sync + 'static,
    {
        let kind = Some(e.kind());
        Self {
            inner: Box::new(e),
            kind,
        }
    }

    /// Wraps an arti error without an [`ErrorKind`] (configuration errors).
    pub(crate) fn plain<E>(e: E) -> Self
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        Self {
            inner: Box::new(e),
            kind: None,
        }
    }

    /// arti's classification of the error (its `ErrorKind`, as arti displays it, e.g. "Onion
    /// Service not found"), when it has one.
    pub fn kind(&self) -> Option<String> {
        self.kind.map(|k| k.to_string())
    }

    pub(crate) fn error_kind(&self) -> Option<ErrorKind> {
        self.kind
    }
}

impl fmt::Debug for ArtiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ArtiError")
            .field("kind", &self.kind)
            .field("error", &self.inner)
            .finish()
    }
}

impl fmt::Display for ArtiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.inner, f)
    }
}

impl std::error::Error for ArtiError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner.source()
    }
}

/// Why the client could not start, or an onion service could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// arti's configuration could not be read, or it is invalid.
    #[error("arti configuration {files:?}: {source}")]
    Config {
        /// The configuration files, in the order they were read.
        files: Vec<PathBuf>,
        /// arti's error.
        #[source]
        source: ArtiError,
    },

    /// arti needs to run inside a tokio runtime, and there is none.
    #[error("arti needs a tokio runtime: {source}")]
    Runtime {
        /// arti's error.
        #[source]
        source: std::io::Error,
    },

    /// The client could not be created (e.g. its state directory is locked by another arti,
    /// or its permissions are refused).
    #[error("cannot create the arti client: {source}")]
    Create {
        /// arti's error.
        #[source]
        source: ArtiError,
    },

    /// The client could not bootstrap.
    #[error("arti could not bootstrap: {source}")]
    Bootstrap {
        /// arti's error.
        #[source]
        source: ArtiError,
    },

    /// The client did not bootstrap within the configured timeout.
    #[error("arti did not bootstrap within {timeout:?} (last status: {status})")]
    BootstrapTimeout {
        /// The timeout that ran out.
        timeout: Duration,
        /// arti's bootstrap status when it ran out.
        status: String,
    },

    /// The 64 bytes are not an expanded ed25519 secret key (the scalar is not clamped: a sign
    /// of a wrong or corrupted file, or of a 32-byte seed given instead).
    #[error("not an expanded ed25519 secret key (the scalar is not clamped)")]
    InvalidKey,

    /// arti could not launch the onion service.
    #[error("cannot launch the onion service {address}: {source}")]
    Launch {
        /// The service's onion address.
        address: OnionAddress,
        /// arti's error.
        #[source]
        source: ArtiError,
    },

    /// arti's keystore already holds another key under the name of this service's key.
    #[error("the keystore holds another key for {address} (its name is that of this address)")]
    KeyMismatch {
        /// The service's onion address.
        address: OnionAddress,
    },

    /// The onion service did not become reachable within the timeout.
    #[error("the onion service {address} is not reachable after {timeout:?} (state: {state:?})")]
    ReachableTimeout {
        /// The service's onion address.
        address: OnionAddress,
        /// The timeout that ran out.
        timeout: Duration,
        /// Its state when the timeout ran out.
        state: ServiceState,
    },

    /// The onion service stopped: arti reported it broken or shut down, or its stream of
    /// requests ended.
    #[error("the onion service {address} stopped (state: {state:?})")]
    ServiceStopped {
        /// The service's onion address.
        address: OnionAddress,
        /// Its last state.
        state: ServiceState,
    },

    /// Accepting an incoming stream failed (the client's circuit went away, for example).
    #[error("cannot accept a stream on {address}: {source}")]
    Accept {
        /// The service's onion address.
        address: OnionAddress,
        /// arti's error.
        #[source]
        source: ArtiError,
    },
}

/// Why a dial through arti failed.
///
/// The variants that have a counterpart in `torp2p_socks::DialError` (C tor's extended SOCKS
/// replies) carry the same name and meaning; arti's error is their source. Which arti
/// `ErrorKind` gives which variant:
///
/// | variant | arti `ErrorKind` | C tor SOCKS reply |
/// |---|---|---|
/// | [`DescriptorNotFound`](Self::DescriptorNotFound) | `OnionServiceNotFound` | 0xF0 |
/// | [`IntroductionFailed`](Self::IntroductionFailed) | `OnionServiceNotRunning`, `OnionServiceConnectionFailed` | 0xF2 |
/// | [`RendezvousFailed`](Self::RendezvousFailed) | `RemoteNetworkTimeout` (the service never came to the rendezvous point) | 0xF3 |
/// | [`ClientAuthMissing`](Self::ClientAuthMissing) | `OnionServiceMissingClientAuth` | 0xF4 |
/// | [`ClientAuthWrong`](Self::ClientAuthWrong) | `OnionServiceWrongClientAuth` | 0xF5 |
/// | [`BadOnionAddress`](Self::BadOnionAddress) | `OnionServiceAddressInvalid`, `InvalidStreamTarget` | 0xF6 |
/// | [`Timeout`](Self::Timeout) | none: the dial's own timeout | none (torp2p-socks `Timeout`) |
/// | [`UnsupportedTarget`](Self::UnsupportedTarget) | none: refused before any I/O | |
/// | [`Other`](Self::Other) | any other kind ([`ArtiError::kind`] names it) | |
///
/// Messages name the target, onion address included: log them at debug level.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DialError {
    /// The onion service's descriptor was not found on the hash ring.
    #[error("descriptor of {target} not found: {source}")]
    DescriptorNotFound {
        /// The target of the dial.
        target: DialTarget,
        /// arti's error.
        #[source]
        source: ArtiError,
    },

    /// The descriptor was found, but introduction to the service failed.
    #[error("introduction to {target} failed: {source}")]
    IntroductionFailed {
        /// The target of the dial.
        target: DialTarget,
        /// arti's error.
        #[source]
        source: ArtiError,
    },

    /// The rendezvous with the service failed.
    #[error("rendezvous with {target} failed: {source}")]
    RendezvousFailed {
        /// The target of the dial.
        target: DialTarget,
        /// arti's error.
        #[source]
        source: ArtiError,
    },

    /// The service requires client authorization, which the client does not have.
    #[error("{target} requires client authorization: {source}")]
    ClientAuthMissing {
        /// The target of the dial.
        target: DialTarget,
        /// arti's error.
        #[source]
        source: ArtiError,
    },

    /// The client's authorization for the service does not decrypt its descriptor.
    #[error("client authorization for {target} is wrong: {source}")]
    ClientAuthWrong {
        /// The target of the dial.
        target: DialTarget,
        /// arti's error.
        #[source]
        source: ArtiError,
    },

    /// arti considers the onion address invalid.
    #[error("invalid onion address {target}: {source}")]
    BadOnionAddress {
        /// The target of the dial.
        target: DialTarget,
        /// arti's error.
        #[source]
        source: ArtiError,
    },

    /// The dial did not finish within the configured timeout.
    #[error("dial to {target} timed out after {timeout:?}")]
    Timeout {
        /// The target of the dial.
        target: DialTarget,
        /// The timeout that ran out.
        timeout: Duration,
    },

    /// A kind of target this version cannot dial (`DialTarget` may grow new kinds).
    #[error("cannot dial {target} through arti: this kind of target is not supported")]
    UnsupportedTarget {
        /// The target of the dial.
        target: DialTarget,
    },

    /// Any other failure; [`ArtiError::kind`] of the source says which.
    #[error("dial to {target} failed: {source}")]
    Other {
        /// The target of the dial.
        target: DialTarget,
        /// arti's error.
        #[source]
        source: ArtiError,
    },
}

impl DialError {
    /// Classifies arti's error for a dial to `target`.
    pub(crate) fn from_arti(target: DialTarget, e: arti_client::Error) -> Self {
        let source = ArtiError::with_kind(e);
        match classify(source.error_kind()) {
            Class::DescriptorNotFound => Self::DescriptorNotFound { target, source },
            Class::IntroductionFailed => Self::IntroductionFailed { target, source },
            Class::RendezvousFailed => Self::RendezvousFailed { target, source },
            Class::ClientAuthMissing => Self::ClientAuthMissing { target, source },
            Class::ClientAuthWrong => Self::ClientAuthWrong { target, source },
            Class::BadOnionAddress => Self::BadOnionAddress { target, source },
            Class::Other => Self::Other { target, source },
        }
    }

    /// The target of the failed dial.
    pub fn target(&self) -> &DialTarget {
        match self {
            Self::DescriptorNotFound { target, .. }
            | Self::IntroductionFailed { target, .. }
            | Self::RendezvousFailed { target, .. }
            | Self::ClientAuthMissing { target, .. }
            | Self::ClientAuthWrong { target, .. }
            | Self::BadOnionAddress { target, .. }
            | Self::Timeout { target, .. }
            | Self::UnsupportedTarget { target }
            | Self::Other { target, .. } => target,
        }
    }

    /// Whether a later dial, with nothing changed on this side, may succeed: the timeout, a
    /// descriptor not (yet) found, failed introductions and rendezvous, and other failures
    /// that arti does not call permanent. Missing or wrong client authorization and an
    /// invalid address are not retryable.
    pub fn is_retryable(&self) -> bool {
        !matches!(
            self,
            Self::ClientAuthMissing { .. }
                | Self::ClientAuthWrong { .. }
                | Self::BadOnionAddress { .. }
                | Self::UnsupportedTarget { .. }
        )
    }
}

/// Which [`DialError`] variant an arti error kind gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    DescriptorNotFound,
    IntroductionFailed,
    RendezvousFailed,
    ClientAuthMissing,
    ClientAuthWrong,
    BadOnionAddress,
    Other,
}

/// The table in [`DialError`]'s documentation.
fn classify(kind: Option<ErrorKind>) -> Class {
    match kind {
        Some(ErrorKind::OnionServiceNotFound) => Class::DescriptorNotFound,
        Some(ErrorKind::OnionServiceNotRunning | ErrorKind::OnionServiceConnectionFailed) => {
            Class::IntroductionFailed
        }
        Some(ErrorKind::RemoteNetworkTimeout) => Class::RendezvousFailed,
        Some(ErrorKind::OnionServiceMissingClientAuth) => Class::ClientAuthMissing,
        Some(ErrorKind::OnionServiceWrongClientAuth) => Class::ClientAuthWrong,
        Some(ErrorKind::OnionServiceAddressInvalid | ErrorKind::InvalidStreamTarget) => {
            Class::BadOnionAddress
        }
        _ => Class::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_arti_kind_gives_its_variant() {
        use ErrorKind as K;
        let table = [
            (K::OnionServiceNotFound, Class::DescriptorNotFound),
            (K::OnionServiceNotRunning, Class::IntroductionFailed),
            (K::OnionServiceConnectionFailed, Class::IntroductionFailed),
            (K::RemoteNetworkTimeout, Class::RendezvousFailed),
            (K::OnionServiceMissingClientAuth, Class::ClientAuthMissing),
            (K::OnionServiceWrongClientAuth, Class::ClientAuthWrong),
            (K::OnionServiceAddressInvalid, Class::BadOnionAddress),
            (K::InvalidStreamTarget, Class::BadOnionAddress),
            (K::TorNetworkTimeout, Class::Other),
            (K::OnionServiceProtocolViolation, Class::Other),
            (K::RemoteConnectionRefused, Class::Other),
        ];
        for (kind, class) in table {
            assert_eq!(classify(Some(kind)), class, "{kind:?}");
        }
        assert_eq!(classify(None), Class::Other);
    }
}
