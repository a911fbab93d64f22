//! The one error type of this crate.

use std::io;
use std::path::PathBuf;

use libp2p_core::Multiaddr;
use torp2p_addr::ParseError;
use torp2p_socks::DialError;

/// What went wrong in the transport.
///
/// Inside a libp2p swarm this error reaches you wrapped (in `TransportError`, in the upgrade's
/// and the timeout's errors, and in an `io::Error` by `Transport::boxed`):
/// [`Error::find`] digs it out of such a chain.
///
/// To tell "the service is offline" from "our tor is down": the first is
/// [`dial_error`](Self::dial_error) giving
/// [`DialError::DescriptorNotFound`] (or another onion service reply code); the second is
/// [`is_tor_gone`](Self::is_tor_gone), or a dial error with
/// [`DialError::is_proxy_problem`] when tor is alive but its SOCKS port is not usable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A dial through tor's SOCKS port failed: tor's reason (one variant per SOCKS reply code,
    /// e.g. [`DialError::DescriptorNotFound`] for an onion service that is offline), the SOCKS
    /// port unreachable, or the dial's timeout.
    #[error(transparent)]
    Dial(#[from] DialError),

    /// tor went away: it exited or was killed, or the control connection to an attached tor
    /// closed. Dials fail fast with this error and listeners close with it.
    #[error("tor is gone: it exited, was killed, or its control connection closed")]
    TorGone {
        /// What the daemon said (a spawned tor's exit status and last log lines).
        #[source]
        source: torp2p_daemon::Error,
    },

    /// tor has no SOCKS port, so nothing can be dialed.
    #[error(
        "tor has no SOCKS port, so nothing can be dialed: it runs with `DisableNetwork 1` or without a SocksPort; give the port with Config::with_socks_proxy"
    )]
    NoSocksPort,

    /// A tor daemon operation failed: starting or attaching to tor, bootstrapping, adding,
    /// publishing or removing an onion service.
    #[error("tor failed while {doing}")]
    Daemon {
        /// What the transport was doing, e.g. "publishing the onion service".
        doing: &'static str,
        /// The daemon's error (e.g. `torp2p_daemon::Error::PublishTimeout`).
        #[source]
        source: torp2p_daemon::Error,
    },

    /// A malformed onion address (bad checksum, wrong version byte, port 0), or a malformed
    /// clearnet address when clearnet dials are on.
    #[error(transparent)]
    InvalidAddress(#[from] ParseError),

    /// `listen_on` for an onion address that already has a listener: tor runs one onion
    /// service per address.
    #[error(
        "already listening on {addr}: tor runs one onion service per address; remove that listener first, or use another key"
    )]
    AlreadyListening {
        /// The address asked for.
        addr: Multiaddr,
    },

    /// Local I/O for a listener failed (its private directory or unix socket).
    #[error("{doing} {path}")]
    Io {
        /// What the transport was doing.
        doing: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },

    /// The transport was used outside a tokio runtime (listeners run a task on it).
    #[error("the tor transport must be used from inside a tokio runtime")]
    NoRuntime,

    /// A listener's task ended without saying why (the tokio runtime is shutting down).
    #[error("the listener's task ended unexpectedly: is the tokio runtime shutting down?")]
    ListenerTaskEnded,
}

impl Error {
    /// Whether tor is gone: it exited or was killed, or the control connection to an attached
    /// tor closed. Nothing will work until a new transport with a new tor is made.
    pub fn is_tor_gone(&self) -> bool {
        match self {
            Error::TorGone { .. } => true,
            Error::Daemon { source, .. } => source.is_tor_gone(),
            _ => false,
        }
    }

    /// The typed reason of a failed dial through tor's SOCKS port.
    pub fn dial_error(&self) -> Option<&DialError> {
        match self {
            Error::Dial(e) => Some(e),
            _ => None,
        }
    }

    /// The tor daemon's error, for [`Daemon`](Self::Daemon) and [`TorGone`](Self::TorGone).
    pub fn daemon_error(&self) -> Option<&torp2p_daemon::Error> {
        match self {
            Error::Daemon { source, .. } | Error::TorGone { source } => Some(source),
            _ => None,
        }
    }

    /// Finds this crate's error in a chain of errors, looking through `source()` and into
    /// `io::Error`s (which is how `Transport::boxed` and the swarm carry it).
    ///
    /// ```
    /// # use torp2p_transport as tor;
    /// fn explain(e: &(dyn std::error::Error + 'static)) -> &'static str {
    ///     match tor::Error::find(e) {
    ///         Some(e) if e.is_tor_gone() => "our tor is down",
    ///         Some(tor::Error::Dial(tor::DialError::DescriptorNotFound { .. })) => "the service is offline",
    ///         _ => "something else",
    ///     }
    /// }
    /// ```
    pub fn find<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a Error> {
        let mut current = Some(error);
        // Bounded, in case of a cyclic `source()` chain.
        for _ in 0..64 {
            let e = current?;
            if let Some(ours) = e.downcast_ref::<Error>() {
                return Some(ours);
            }
            // `io::Error::source` skips the error it wraps: look inside it first.
            current = match e.downcast_ref::<io::Error>().and_then(|io| io.get_ref()) {
                Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
                None => e.source(),
            };
        }
        None
    }

    /// A daemon error, as [`TorGone`](Self::TorGone) if it means tor is gone.
    pub(crate) fn daemon(doing: &'static str, source: torp2p_daemon::Error) -> Self {
        if source.is_tor_gone() {
            Error::TorGone { source }
        } else {
            Error::Daemon { doing, source }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_looks_through_io_errors_and_sources() {
        let ours = Error::NoSocksPort;
        let io = io::Error::other(ours);
        let wrapped = libp2p_core::transport::TransportError::Other(io);
        let found = Error::find(&wrapped);
        assert!(matches!(found, Some(Error::NoSocksPort)));
        // The chain a swarm reports for a dial through an upgraded, timed, boxed transport.
        use libp2p_core::transport::timeout::TransportTimeoutError;
        use libp2p_core::transport::upgrade::TransportUpgradeError;
        let upgraded: TransportTimeoutError<TransportUpgradeError<Error, io::Error>> =
            TransportTimeoutError::Other(TransportUpgradeError::Transport(Error::NoSocksPort));
        let swarm = libp2p_core::transport::TransportError::Other(io::Error::other(upgraded));
        assert!(
            matches!(Error::find(&swarm), Some(Error::NoSocksPort)),
            "{swarm:?}"
        );
        let unrelated = io::Error::other("nothing of ours");
        assert!(Error::find(&unrelated).is_none());
    }

    #[test]
    fn gone_daemon_errors_become_tor_gone() {
        let gone = torp2p_daemon::Error::TorExited {
            status: "signal 9".into(),
            last_log: String::new(),
        };
        let e = Error::daemon("publishing the onion service", gone);
        assert!(matches!(e, Error::TorGone { .. }));
        assert!(e.is_tor_gone());
        let other = torp2p_daemon::Error::Config("x".into());
        let e = Error::daemon("adding the onion service", other);
        assert!(matches!(e, Error::Daemon { .. }));
        assert!(!e.is_tor_gone());
        assert_eq!(e.to_string(), "tor failed while adding the onion service");
    }
}
