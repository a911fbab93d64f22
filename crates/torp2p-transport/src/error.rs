//! The one error type of this crate.

use std::io;

use libp2p_core::Multiaddr;
use torp2p_addr::ParseError;
use torp2p_socks::DialError;

/// What went wrong in the transport.
///
/// To tell "the service is offline" from "our tor is down": the first is
/// [`dial_error`](Self::dial_error) giving [`DialError::DescriptorNotFound`] (or another onion
/// service reply code); the second is [`is_tor_gone`](Self::is_tor_gone), or a dial error with
/// [`DialError::is_proxy_problem`] when tor is alive but its SOCKS port is not usable.
///
/// # Inside a swarm
///
/// A swarm reports this error wrapped: in `TransportError`, in the upgrade's and the
/// timeout's errors, in an `io::Error` (by `Transport::boxed`). The upgrade wraps it in
/// `either::Either`, whose `source()` skips the error it holds and gives that error's source:
/// so a dial error in a swarm shows this error's *cause* in its `source()` chain, not this
/// error. Every variant with a typed cause therefore has it as its source, and
/// [`Error::dial_error_in`] and [`Error::is_tor_gone_in`] look for the causes in a chain.
/// [`Error::find`] finds this error itself where it is in the chain (listener errors, and the
/// transport used without upgrades).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A dial through tor's SOCKS port failed: tor's reason (one variant per SOCKS reply code,
    /// e.g. [`DialError::DescriptorNotFound`] for an onion service that is offline), the SOCKS
    /// port unreachable, or the dial's timeout.
    #[error("the dial through tor failed")]
    Dial(#[from] DialError),

    /// tor went away: it exited or was killed, or the control connection to an attached tor
    /// closed. Dials fail fast with this error and listeners close with it.
    #[error("tor is gone: it exited, was killed, or its control connection closed")]
    TorGone {
        /// What the daemon said (a spawned tor's exit status and last log lines).
        #[source]
        source: torp2p_daemon::Error,
    },

    /// tor died or hung and is being started again (see
    /// [`RestartPolicy`](crate::RestartPolicy)): dials fail at once until it is back, and
    /// listeners come back by themselves (their address is reported expired, then new).
    #[error(
        "tor is restarting (it died or hung): dials fail until it is back; listeners come back by themselves"
    )]
    TorRestarting {
        /// Which attempt is under way: the cause, so that [`Error::is_tor_restarting_in`]
        /// finds it where libp2p hides this error.
        #[source]
        source: Restarting,
    },

    /// tor did not come back: the restart policy gave up.
    #[error("tor did not come back after {attempts} restart attempts; the transport has stopped")]
    GaveUpRestarting {
        /// How many attempts were made.
        attempts: u32,
        /// Why tor went away.
        #[source]
        last: std::sync::Arc<Error>,
    },

    /// Why a supervised tor went away (the cause of [`Error::GaveUpRestarting`]).
    #[error("tor went away: {reason}")]
    TorRestartFailed {
        /// What happened to it.
        reason: String,
    },

    /// An onion service stopped being reachable while tor runs (see
    /// [`ReachabilityWatch`](crate::ReachabilityWatch)): the listener reports its address
    /// expired, and the transport adds the service again; the address is reported new once it
    /// is published again.
    #[error("the onion service is unreachable, so it is being added again")]
    ServiceUnreachable {
        /// What tor reported.
        #[source]
        reason: Unreachability,
    },

    /// A dial through the embedded arti client failed (feature `arti`): the same kinds as C
    /// tor's where they mean the same ([`Error::dial_failure_in`]), arti's error as the
    /// source of the cause.
    #[cfg(feature = "arti")]
    #[error("the dial through arti failed")]
    ArtiDial(#[source] torp2p_arti::DialError),

    /// The embedded arti client failed (feature `arti`): bootstrapping, launching or running
    /// an onion service.
    #[cfg(feature = "arti")]
    #[error("{doing} failed")]
    Arti {
        /// What the transport was doing, e.g. "bootstrapping arti".
        doing: &'static str,
        /// torp2p-arti's error (arti's own as its source).
        #[source]
        source: torp2p_arti::Error,
    },

    /// The config asks for something the chosen Tor backend does not do.
    #[error("{backend} cannot {what}: {hint}")]
    Unsupported {
        /// The backend, e.g. "the embedded arti backend".
        backend: &'static str,
        /// What it cannot do, e.g. "run onion services with proof-of-work defenses".
        what: &'static str,
        /// What to do instead.
        hint: &'static str,
    },

    /// tor has no SOCKS port, so nothing can be dialed.
    #[error(
        "tor has no SOCKS port, so nothing can be dialed: it runs with `DisableNetwork 1` or without a SocksPort; give the port with Config::with_socks_proxy"
    )]
    NoSocksPort,

    /// A tor daemon operation failed: starting or attaching to tor, bootstrapping, adding,
    /// publishing or removing an onion service, accepting a connection on its socket.
    #[error("{doing} failed")]
    Daemon {
        /// What the transport was doing, e.g. "publishing the onion service".
        doing: &'static str,
        /// The daemon's error (e.g. `torp2p_daemon::Error::PublishTimeout`).
        #[source]
        source: torp2p_daemon::Error,
    },

    /// A malformed onion address (bad checksum, wrong version byte, port 0), or a malformed
    /// clearnet address when clearnet dials are on.
    #[error(
        "malformed address (the cause names the part): check the /onion3/<address>:<port> part"
    )]
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

    /// A dial waited for its timeout in line for one of the transport's dial slots
    /// ([`Config::with_max_concurrent_dials`](crate::Config::with_max_concurrent_dials)) and
    /// never started.
    #[error(
        "the dial waited {waited:?} for one of {slots} dial slots (all busy with other dials) and did not start: dial fewer addresses at once, raise Config::with_max_concurrent_dials, or raise the dial timeout"
    )]
    DialQueueTimeout {
        /// How long it waited (the dial's timeout).
        waited: std::time::Duration,
        /// How many dials may run at once.
        slots: usize,
    },

    /// [`Transport::from_tor`](crate::Transport::from_tor) (or `Transport::from_arti`, feature
    /// `arti`) was given a config that names a tor source or a bootstrap timeout, which only
    /// [`Transport::new`](crate::Transport::new) uses.
    #[error(
        "the config names a tor source or bootstrap timeout, but Transport::from_tor (or from_arti) uses the tor it is given as it is: use Transport::new, or leave out Config::with_tor and with_bootstrap_timeout"
    )]
    TorSourceConflict,

    /// Noise could not be set up with the identity given to
    /// [`Transport::upgraded`](crate::Transport::upgraded).
    #[error("cannot set up noise with this identity (it cannot sign its handshake key)")]
    Noise(#[source] libp2p_noise::Error),

    /// The transport was used outside a tokio runtime (listeners run a task on it).
    #[error("the tor transport must be used from inside a tokio runtime")]
    NoRuntime,

    /// A listener's task ended without saying why (the tokio runtime is shutting down).
    #[error("the listener's task ended unexpectedly: is the tokio runtime shutting down?")]
    ListenerTaskEnded,
}

/// Why an onion service counts as unreachable (the cause of [`Error::ServiceUnreachable`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Unreachability {
    /// tor had no established introduction point for the service for this long (it keeps
    /// three; without one nobody can connect).
    #[error("tor has had no introduction point for it for {lasted:?}")]
    NoIntroPoints {
        /// How long.
        lasted: std::time::Duration,
    },
    /// Every descriptor upload tor started since the last confirmed one failed, for this
    /// long: the HSDirs do not have the current descriptor.
    #[error(
        "every descriptor upload since the last confirmed one failed ({failed} failures) for {lasted:?}"
    )]
    UploadsFailing {
        /// How many uploads failed.
        failed: usize,
        /// How long.
        lasted: std::time::Duration,
    },

    /// The embedded arti backend has reported the service in this state, not reachable, for
    /// this long (arti recovers introduction points and uploads by itself).
    #[error("arti has reported it {state} (not reachable) for {lasted:?}")]
    ArtiState {
        /// arti's state, as torp2p-arti names it (e.g. `Recovering`, `Broken`).
        state: String,
        /// How long.
        lasted: std::time::Duration,
    },
}

impl Error {
    /// Whether tor is gone: it exited or was killed, or the control connection to an attached
    /// tor closed. Nothing will work until a new transport with a new tor is made.
    pub fn is_tor_gone(&self) -> bool {
        match self {
            Error::TorGone { .. } | Error::GaveUpRestarting { .. } => true,
            Error::Daemon { source, .. } => source.is_tor_gone(),
            _ => false,
        }
    }

    /// Whether tor is being started again ([`Error::TorRestarting`]): try again later.
    pub fn is_tor_restarting(&self) -> bool {
        matches!(self, Error::TorRestarting { .. })
    }

    /// Whether a chain of errors (see [`find`](Self::find)) says that tor is being started
    /// again: for example the error of a swarm's `OutgoingConnectionError` during an outage.
    pub fn is_tor_restarting_in(error: &(dyn std::error::Error + 'static)) -> bool {
        chain(error).any(|e| {
            e.downcast_ref::<Restarting>().is_some()
                || e.downcast_ref::<Error>()
                    .is_some_and(Error::is_tor_restarting)
        })
    }

    /// [`Error::TorRestarting`] for `attempt` (0: the dial saw tor die under it).
    pub(crate) fn restarting(attempt: u32) -> Self {
        Error::TorRestarting {
            source: Restarting { attempt },
        }
    }

    /// The typed reason of a failed dial through tor's SOCKS port.
    pub fn dial_error(&self) -> Option<&DialError> {
        match self {
            Error::Dial(e) => Some(e),
            _ => None,
        }
    }

    /// Why a dial failed, for either backend's dial error
    /// ([`Dial`](Self::Dial), and `ArtiDial` with the feature `arti`).
    pub fn dial_failure(&self) -> Option<DialFailure> {
        match self {
            Error::Dial(e) => Some(DialFailure::of_socks(e)),
            #[cfg(feature = "arti")]
            Error::ArtiDial(e) => Some(DialFailure::of_arti(e)),
            _ => None,
        }
    }

    /// Why a dial failed, found anywhere in a chain of errors (see [`find`](Self::find)),
    /// whichever backend made it: the one way to tell "the service is offline"
    /// ([`DialFailure::DescriptorNotFound`]) from the rest with either backend.
    ///
    /// ```
    /// # use torp2p_transport as tor;
    /// fn offline(e: &(dyn std::error::Error + 'static)) -> bool {
    ///     tor::Error::dial_failure_in(e) == Some(tor::DialFailure::DescriptorNotFound)
    /// }
    /// ```
    pub fn dial_failure_in(error: &(dyn std::error::Error + 'static)) -> Option<DialFailure> {
        chain(error).find_map(|e| {
            if let Some(d) = e.downcast_ref::<DialError>() {
                return Some(DialFailure::of_socks(d));
            }
            #[cfg(feature = "arti")]
            if let Some(d) = e.downcast_ref::<torp2p_arti::DialError>() {
                return Some(DialFailure::of_arti(d));
            }
            e.downcast_ref::<Error>().and_then(Error::dial_failure)
        })
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
    /// In a swarm this finds the errors of listeners (`ListenerClosed`, `ListenerError`) but
    /// not those of dials, which libp2p's upgrade hides (see the type's docs): use
    /// [`dial_error_in`](Self::dial_error_in) and [`is_tor_gone_in`](Self::is_tor_gone_in)
    /// for those.
    pub fn find<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a Error> {
        chain(error).find_map(|e| e.downcast_ref::<Error>())
    }

    /// The typed reason of a failed dial through tor's SOCKS port, found anywhere in a chain of
    /// errors (see [`find`](Self::find)): for example in the error of a swarm's
    /// `OutgoingConnectionError`.
    ///
    /// ```
    /// # use torp2p_transport as tor;
    /// fn explain(e: &(dyn std::error::Error + 'static)) -> &'static str {
    ///     if tor::Error::is_tor_gone_in(e) {
    ///         return "our tor is down";
    ///     }
    ///     match tor::Error::dial_error_in(e) {
    ///         Some(tor::DialError::DescriptorNotFound { .. }) => "the service is offline",
    ///         Some(d) if d.is_proxy_problem() => "tor's SOCKS port is not usable",
    ///         Some(_) => "tor could not reach the service",
    ///         None => "something else",
    ///     }
    /// }
    /// ```
    pub fn dial_error_in<'a>(
        error: &'a (dyn std::error::Error + 'static),
    ) -> Option<&'a DialError> {
        chain(error).find_map(|e| e.downcast_ref::<DialError>())
    }

    /// Whether a chain of errors (see [`find`](Self::find)) says that tor is gone: this
    /// crate's error with [`is_tor_gone`](Self::is_tor_gone), or the tor daemon's error that
    /// such an error carries.
    pub fn is_tor_gone_in(error: &(dyn std::error::Error + 'static)) -> bool {
        chain(error).any(|e| {
            e.downcast_ref::<Error>().is_some_and(Error::is_tor_gone)
                || e.downcast_ref::<torp2p_daemon::Error>()
                    .is_some_and(torp2p_daemon::Error::is_tor_gone)
        })
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

/// Why a dial failed, whichever backend made it: the kinds that C tor's extended SOCKS
/// replies and arti's errors have in common. [`Error::dial_failure_in`] finds it in an error
/// of the transport (for libp2p-swarm's `DialError::Transport`, which gives its list of errors
/// no `source`, ask it of each `TransportError::Other` in that list); the backend's own error
/// ([`DialError`] for C tor, torp2p-arti's `DialError` for arti) has the details.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DialFailure {
    /// The onion service's descriptor was not found: it is offline, or was published a
    /// moment ago (C tor 0xF0).
    DescriptorNotFound,
    /// The descriptor could not be parsed or verified (C tor 0xF1).
    DescriptorInvalid,
    /// The descriptor was found, but introduction to the service failed (C tor 0xF2).
    IntroductionFailed,
    /// Every introduction attempt timed out (C tor 0xF7).
    IntroductionTimedOut,
    /// The rendezvous with the service failed (C tor 0xF3).
    RendezvousFailed,
    /// The service requires client authorization, which we do not have (C tor 0xF4).
    ClientAuthMissing,
    /// Our client authorization does not decrypt the descriptor (C tor 0xF5).
    ClientAuthWrong,
    /// Tor considers the onion address invalid (C tor 0xF6).
    BadOnionAddress,
    /// The dial did not finish within its timeout.
    Timeout,
    /// Our way into Tor is not usable: the SOCKS port cannot be reached or misbehaves.
    LocalTor,
    /// Any other reason: the backend's error says which.
    Other,
}

impl DialFailure {
    /// The kind of a failed dial through C tor's SOCKS port.
    pub fn of_socks(e: &DialError) -> Self {
        match e {
            DialError::DescriptorNotFound { .. } => Self::DescriptorNotFound,
            DialError::DescriptorInvalid { .. } => Self::DescriptorInvalid,
            DialError::IntroductionFailed { .. } => Self::IntroductionFailed,
            DialError::IntroductionTimedOut { .. } => Self::IntroductionTimedOut,
            DialError::RendezvousFailed { .. } => Self::RendezvousFailed,
            DialError::ClientAuthMissing { .. } => Self::ClientAuthMissing,
            DialError::ClientAuthWrong { .. } => Self::ClientAuthWrong,
            DialError::BadOnionAddress { .. } => Self::BadOnionAddress,
            DialError::Timeout { .. } => Self::Timeout,
            e if e.is_proxy_problem() => Self::LocalTor,
            _ => Self::Other,
        }
    }

    /// The kind of a failed dial through the embedded arti client.
    #[cfg(feature = "arti")]
    pub fn of_arti(e: &torp2p_arti::DialError) -> Self {
        use torp2p_arti::DialError as A;
        match e {
            A::DescriptorNotFound { .. } => Self::DescriptorNotFound,
            A::IntroductionFailed { .. } => Self::IntroductionFailed,
            A::RendezvousFailed { .. } => Self::RendezvousFailed,
            A::ClientAuthMissing { .. } => Self::ClientAuthMissing,
            A::ClientAuthWrong { .. } => Self::ClientAuthWrong,
            A::BadOnionAddress { .. } => Self::BadOnionAddress,
            A::Timeout { .. } => Self::Timeout,
            _ => Self::Other,
        }
    }

    /// Whether the failure is at circuit level (a timeout, a failed introduction or
    /// rendezvous), after which the transport gives the peer's next dial fresh circuits
    /// ([`Config::with_isolation_rotation`](crate::Config::with_isolation_rotation)).
    #[cfg(feature = "arti")]
    pub(crate) fn is_circuit_failure(self) -> bool {
        matches!(
            self,
            Self::Timeout
                | Self::IntroductionFailed
                | Self::IntroductionTimedOut
                | Self::RendezvousFailed
        )
    }
}

/// The cause of [`Error::TorRestarting`]: which restart attempt is under way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("restart attempt {attempt} is under way")]
pub struct Restarting {
    /// The attempt (0 when a dial saw tor die under it, before the first attempt).
    pub attempt: u32,
}

/// The errors of a chain: `error`, then its sources, looking into `io::Error`s (whose
/// `source()` skips the error they wrap). At most 64, in case of a cycle.
fn chain<'a>(
    error: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    let mut current = Some(error);
    std::iter::from_fn(move || {
        let e = current?;
        current = match e.downcast_ref::<io::Error>().and_then(|io| io.get_ref()) {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => e.source(),
        };
        Some(e)
    })
    .take(64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Like `either::Either`, which libp2p's upgrade wraps errors in: its `source()` is the
    /// source of the error it holds.
    #[derive(Debug)]
    struct Hides<E>(E);

    impl<E: std::fmt::Display> std::fmt::Display for Hides<E> {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            self.0.fmt(f)
        }
    }

    impl<E: std::error::Error> std::error::Error for Hides<E> {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.0.source()
        }
    }

    /// The chain a swarm reports for an error of an upgraded, timed, boxed transport.
    fn as_in_a_swarm(e: Error) -> impl std::error::Error + 'static {
        use libp2p_core::transport::TransportError;
        use libp2p_core::transport::timeout::TransportTimeoutError;
        let upgraded = TransportTimeoutError::Other(Hides(Hides(e)));
        TransportError::Other(io::Error::other(upgraded))
    }

    fn dial_failure() -> DialError {
        DialError::DescriptorNotFound {
            target: "2gzyxa5ihm7nsggfxnu52rck2vv4rvmdlkiu3zzui5du4xyclen53wid.onion:80"
                .parse::<torp2p_addr::OnionSocketAddr>()
                .map(torp2p_addr::DialTarget::Onion)
                .unwrap(),
        }
    }

    #[test]
    fn find_looks_through_io_errors_and_sources() {
        let wrapped =
            libp2p_core::transport::TransportError::Other(io::Error::other(Error::NoSocksPort));
        assert!(matches!(Error::find(&wrapped), Some(Error::NoSocksPort)));
        let unrelated = io::Error::other("nothing of ours");
        assert!(Error::find(&unrelated).is_none());
        assert!(Error::dial_error_in(&unrelated).is_none());
        assert!(!Error::is_tor_gone_in(&unrelated));
    }

    #[test]
    fn typed_causes_are_found_where_libp2p_hides_the_error() {
        let swarm = as_in_a_swarm(Error::Dial(dial_failure()));
        assert!(Error::find(&swarm).is_none(), "hidden, as by Either");
        assert!(matches!(
            Error::dial_error_in(&swarm),
            Some(DialError::DescriptorNotFound { .. })
        ));
        assert!(!Error::is_tor_gone_in(&swarm));

        let gone = Error::TorGone {
            source: torp2p_daemon::Error::TorExited {
                status: "signal 9".into(),
                last_log: String::new(),
            },
        };
        let swarm = as_in_a_swarm(gone);
        assert!(Error::is_tor_gone_in(&swarm));
        assert!(Error::dial_error_in(&swarm).is_none());

        let invalid = Error::InvalidAddress(ParseError::Empty);
        let swarm = as_in_a_swarm(invalid);
        assert!(!Error::is_tor_gone_in(&swarm));
        assert!(
            super::chain(&swarm).any(|e| e.downcast_ref::<ParseError>().is_some()),
            "the parse error is in the chain"
        );
    }

    #[test]
    fn messages_are_lower_case_without_a_trailing_period() {
        for e in [
            Error::Dial(dial_failure()),
            Error::NoSocksPort,
            Error::InvalidAddress(ParseError::Empty),
            Error::NoRuntime,
            Error::ListenerTaskEnded,
            Error::TorSourceConflict,
        ] {
            let m = e.to_string();
            assert!(m.starts_with(|c: char| c.is_lowercase()), "{m}");
            assert!(!m.ends_with('.'), "{m}");
        }
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
        let other = torp2p_daemon::Error::NoPorts;
        let e = Error::daemon("adding the onion service", other);
        assert!(matches!(e, Error::Daemon { .. }));
        assert!(!e.is_tor_gone());
        assert_eq!(e.to_string(), "adding the onion service failed");
    }
}
