//! The one error type of this crate, and the details of a malformed reply.

use std::io;
use std::time::Duration;

use torp2p_addr::DialTarget;

use torp2p_addr::LocalAddr;

/// Why a dial through tor failed.
///
/// Three kinds of failure are kept apart:
/// - tor's SOCKS port could not be used at all: [`ProxyUnreachable`](Self::ProxyUnreachable),
///   [`ProxyIo`](Self::ProxyIo), [`MalformedReply`](Self::MalformedReply) and the
///   authentication variants;
/// - tor was asked and could not reach the target: one variant per SOCKS reply code, the
///   standard codes 0x01–0x08 and tor's extended codes 0xF0–0xF7 for onion services (sent by
///   tor when its `SocksPort` has the `ExtendedErrors` flag, else tor uses 0x01 or 0x04 for
///   these), and [`UnknownReply`](Self::UnknownReply) for any other code;
/// - the dial took too long: [`Timeout`](Self::Timeout).
///
/// Messages name the target, onion addresses included: an error is for the user who asked for
/// the dial. Log them at debug level if they may hold onion addresses.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DialError {
    /// Connecting to tor's SOCKS port failed: nothing listens there, or (on a timeout) it does
    /// not answer.
    #[error(
        "tor's SOCKS port at {proxy} is not reachable: is tor running, and does its SocksPort match this address?"
    )]
    ProxyUnreachable {
        /// Where tor's SOCKS port was expected.
        proxy: LocalAddr,
        /// The error connecting to it (`TimedOut` if the dial's timeout ran out first).
        #[source]
        source: io::Error,
    },

    /// Isolation credentials were offered but the proxy chose "no authentication", so the
    /// stream would share circuits with other peers' streams. Refused rather than dialed.
    #[error(
        "the SOCKS port at {proxy} chose no authentication, so stream isolation by peer would be lost: remove PreferSOCKSNoAuth from that SocksPort, or use Isolation::Shared if sharing circuits is acceptable"
    )]
    IsolationNotApplied {
        /// Tor's SOCKS port.
        proxy: LocalAddr,
    },

    /// The connection to tor's SOCKS port failed during the SOCKS handshake.
    #[error(
        "the connection to tor's SOCKS port at {proxy} failed while dialing {target}: tor may have exited or closed the connection; retry"
    )]
    ProxyIo {
        /// Tor's SOCKS port.
        proxy: LocalAddr,
        /// The target of the dial.
        target: DialTarget,
        /// The I/O error.
        #[source]
        source: io::Error,
    },

    /// The proxy's answer was not valid SOCKS5: it is probably not tor's SOCKS port.
    #[error(
        "the SOCKS proxy at {proxy} sent a malformed reply while dialing {target}: {problem}; is it really tor's SocksPort?"
    )]
    MalformedReply {
        /// The proxy.
        proxy: LocalAddr,
        /// The target of the dial.
        target: DialTarget,
        /// What was wrong with the reply.
        problem: Malformed,
    },

    /// The proxy accepted none of the offered authentication methods (no authentication, and
    /// username/password when isolating): tor accepts both, so this is not tor's SOCKS port.
    #[error(
        "the SOCKS proxy at {proxy} accepted none of the offered authentication methods: tor accepts them all, so it is probably not tor's SocksPort"
    )]
    AuthMethodsRefused {
        /// The proxy.
        proxy: LocalAddr,
    },

    /// The proxy refused the isolation username and password: tor accepts any, so this is
    /// not tor's SOCKS port.
    #[error(
        "the SOCKS proxy at {proxy} refused the stream isolation username/password (status {status:#04x}): tor accepts any, so it is probably not tor's SocksPort"
    )]
    AuthRejected {
        /// The proxy.
        proxy: LocalAddr,
        /// The status byte of its reply.
        status: u8,
    },

    /// The target cannot be put in a SOCKS request.
    #[error("cannot dial {target} through tor: {reason}")]
    InvalidTarget {
        /// The target of the dial.
        target: DialTarget,
        /// Why it was refused.
        reason: &'static str,
    },

    /// The per-peer isolation key is too long to fit a SOCKS username.
    #[error(
        "the stream isolation key is {len} bytes long, the most is {max}: use a shorter key, e.g. a hash of the peer's identity"
    )]
    IsolationKeyTooLong {
        /// The key's length in bytes (the key itself is not repeated).
        len: usize,
        /// The longest key accepted.
        max: usize,
    },

    /// The dial did not finish within the configured timeout.
    #[error(
        "dialing {target} through tor's SOCKS port at {proxy} timed out after {timeout:?}: tor may still be bootstrapping or building circuits; retry, or raise the timeout"
    )]
    Timeout {
        /// Tor's SOCKS port.
        proxy: LocalAddr,
        /// The target of the dial.
        target: DialTarget,
        /// The timeout that ran out.
        timeout: Duration,
    },

    /// SOCKS reply 0x01: general failure.
    #[error(
        "tor could not connect to {target} (SOCKS reply 0x01, general failure): for an onion service, the service's own local target may refuse connections; without ExtendedErrors on the SocksPort tor also uses this code when the onion service could not be reached"
    )]
    GeneralFailure {
        /// The target of the dial.
        target: DialTarget,
    },

    /// SOCKS reply 0x02: the connection is not allowed by tor's rules.
    #[error(
        "tor does not allow a connection to {target} (SOCKS reply 0x02): check the exit policies, or tor's SocksPolicy and SocksPort flags"
    )]
    NotAllowed {
        /// The target of the dial.
        target: DialTarget,
    },

    /// SOCKS reply 0x03: network unreachable.
    #[error(
        "tor reports the network unreachable for {target} (SOCKS reply 0x03): tor may not have finished bootstrapping; retry once it has"
    )]
    NetworkUnreachable {
        /// The target of the dial.
        target: DialTarget,
    },

    /// SOCKS reply 0x04: host unreachable.
    #[error(
        "tor could not reach {target} (SOCKS reply 0x04, host unreachable): the name may not resolve, or, without ExtendedErrors on the SocksPort, the onion service may be offline"
    )]
    HostUnreachable {
        /// The target of the dial.
        target: DialTarget,
    },

    /// SOCKS reply 0x05: the target refused the connection.
    #[error(
        "{target} refused the connection (SOCKS reply 0x05): for an onion service, it does not offer this port"
    )]
    ConnectionRefused {
        /// The target of the dial.
        target: DialTarget,
    },

    /// SOCKS reply 0x06: TTL expired, which tor sends when the connection timed out inside tor.
    #[error(
        "the connection to {target} timed out inside tor (SOCKS reply 0x06): the network or the target is slow or down; retry later"
    )]
    TtlExpired {
        /// The target of the dial.
        target: DialTarget,
    },

    /// SOCKS reply 0x07: command not supported.
    #[error(
        "the SOCKS proxy does not support CONNECT for {target} (SOCKS reply 0x07): is it really tor's SocksPort?"
    )]
    CommandNotSupported {
        /// The target of the dial.
        target: DialTarget,
    },

    /// SOCKS reply 0x08: address type not supported.
    #[error(
        "tor refuses this kind of address for {target} (SOCKS reply 0x08): the SocksPort's flags may forbid it (OnionTrafficOnly, NoIPv4Traffic, NoIPv6Traffic, NoDNSRequest)"
    )]
    AddressTypeNotSupported {
        /// The target of the dial.
        target: DialTarget,
    },

    /// Tor reply 0xF0: the onion service's descriptor was not found on the hash ring.
    #[error(
        "the onion service's descriptor was not found for {target} (SOCKS reply 0xF0): it is offline, or was published less than a few seconds ago; retry shortly"
    )]
    DescriptorNotFound {
        /// The target of the dial.
        target: DialTarget,
    },

    /// Tor reply 0xF1: the onion service's descriptor could not be parsed or its signature is
    /// wrong.
    #[error(
        "the onion service's descriptor for {target} is invalid (SOCKS reply 0xF1): the service or a directory published a broken descriptor; ask the operator"
    )]
    DescriptorInvalid {
        /// The target of the dial.
        target: DialTarget,
    },

    /// Tor reply 0xF2: the descriptor was found, but introduction to the service failed.
    #[error(
        "introduction to the onion service {target} failed (SOCKS reply 0xF2): the service has stopped or changed its introduction points; retry later"
    )]
    IntroductionFailed {
        /// The target of the dial.
        target: DialTarget,
    },

    /// Tor reply 0xF3: the rendezvous with the service failed.
    #[error(
        "the rendezvous with the onion service {target} failed (SOCKS reply 0xF3): the circuit broke while connecting; retry"
    )]
    RendezvousFailed {
        /// The target of the dial.
        target: DialTarget,
    },

    /// Tor reply 0xF4: the service requires client authorization, which tor does not have.
    #[error(
        "the onion service {target} requires client authorization (SOCKS reply 0xF4): add the client's x25519 key for this address to tor (ONION_CLIENT_AUTH_ADD or ClientOnionAuthDir)"
    )]
    ClientAuthMissing {
        /// The target of the dial.
        target: DialTarget,
    },

    /// Tor reply 0xF5: tor's client authorization for the service does not decrypt its
    /// descriptor.
    #[error(
        "the client authorization for the onion service {target} was not accepted (SOCKS reply 0xF5): the key is wrong or access was revoked"
    )]
    ClientAuthWrong {
        /// The target of the dial.
        target: DialTarget,
    },

    /// Tor reply 0xF6: tor considers the onion address invalid.
    #[error(
        "tor refused {target} as an invalid onion address (SOCKS reply 0xF6): check the address for typos"
    )]
    BadOnionAddress {
        /// The target of the dial.
        target: DialTarget,
    },

    /// Tor reply 0xF7: every introduction attempt timed out.
    #[error(
        "introduction to the onion service {target} timed out (SOCKS reply 0xF7): the service is overloaded or unreachable; retry later"
    )]
    IntroductionTimedOut {
        /// The target of the dial.
        target: DialTarget,
    },

    /// A reply code that neither SOCKS5 nor tor defines.
    #[error(
        "the SOCKS proxy refused {target} with unknown reply code {code:#04x}: is it really tor's SocksPort?"
    )]
    UnknownReply {
        /// The target of the dial.
        target: DialTarget,
        /// The reply code.
        code: u8,
    },
}

impl DialError {
    /// The error for a non-zero CONNECT reply code.
    pub(crate) fn from_reply(code: u8, target: DialTarget) -> Self {
        match code {
            0x01 => Self::GeneralFailure { target },
            0x02 => Self::NotAllowed { target },
            0x03 => Self::NetworkUnreachable { target },
            0x04 => Self::HostUnreachable { target },
            0x05 => Self::ConnectionRefused { target },
            0x06 => Self::TtlExpired { target },
            0x07 => Self::CommandNotSupported { target },
            0x08 => Self::AddressTypeNotSupported { target },
            0xF0 => Self::DescriptorNotFound { target },
            0xF1 => Self::DescriptorInvalid { target },
            0xF2 => Self::IntroductionFailed { target },
            0xF3 => Self::RendezvousFailed { target },
            0xF4 => Self::ClientAuthMissing { target },
            0xF5 => Self::ClientAuthWrong { target },
            0xF6 => Self::BadOnionAddress { target },
            0xF7 => Self::IntroductionTimedOut { target },
            code => Self::UnknownReply { target, code },
        }
    }

    /// The SOCKS reply code tor answered, if the failure is one: 0x01–0x08, 0xF0–0xF7, or an
    /// unknown code.
    pub fn reply_code(&self) -> Option<u8> {
        Some(match self {
            Self::GeneralFailure { .. } => 0x01,
            Self::NotAllowed { .. } => 0x02,
            Self::NetworkUnreachable { .. } => 0x03,
            Self::HostUnreachable { .. } => 0x04,
            Self::ConnectionRefused { .. } => 0x05,
            Self::TtlExpired { .. } => 0x06,
            Self::CommandNotSupported { .. } => 0x07,
            Self::AddressTypeNotSupported { .. } => 0x08,
            Self::DescriptorNotFound { .. } => 0xF0,
            Self::DescriptorInvalid { .. } => 0xF1,
            Self::IntroductionFailed { .. } => 0xF2,
            Self::RendezvousFailed { .. } => 0xF3,
            Self::ClientAuthMissing { .. } => 0xF4,
            Self::ClientAuthWrong { .. } => 0xF5,
            Self::BadOnionAddress { .. } => 0xF6,
            Self::IntroductionTimedOut { .. } => 0xF7,
            Self::UnknownReply { code, .. } => *code,
            _ => return None,
        })
    }

    /// The target of the failed dial, where the error has one.
    pub fn target(&self) -> Option<&DialTarget> {
        match self {
            Self::ProxyUnreachable { .. }
            | Self::AuthMethodsRefused { .. }
            | Self::AuthRejected { .. }
            | Self::IsolationNotApplied { .. }
            | Self::IsolationKeyTooLong { .. } => None,
            Self::ProxyIo { target, .. }
            | Self::MalformedReply { target, .. }
            | Self::InvalidTarget { target, .. }
            | Self::Timeout { target, .. }
            | Self::GeneralFailure { target }
            | Self::NotAllowed { target }
            | Self::NetworkUnreachable { target }
            | Self::HostUnreachable { target }
            | Self::ConnectionRefused { target }
            | Self::TtlExpired { target }
            | Self::CommandNotSupported { target }
            | Self::AddressTypeNotSupported { target }
            | Self::DescriptorNotFound { target }
            | Self::DescriptorInvalid { target }
            | Self::IntroductionFailed { target }
            | Self::RendezvousFailed { target }
            | Self::ClientAuthMissing { target }
            | Self::ClientAuthWrong { target }
            | Self::BadOnionAddress { target }
            | Self::IntroductionTimedOut { target }
            | Self::UnknownReply { target, .. } => Some(target),
        }
    }

    /// Whether the failure is about tor's SOCKS port itself (not reachable, broken connection,
    /// not speaking SOCKS5 as tor does) rather than about the target.
    pub fn is_proxy_problem(&self) -> bool {
        matches!(
            self,
            Self::ProxyUnreachable { .. }
                | Self::ProxyIo { .. }
                | Self::MalformedReply { .. }
                | Self::AuthMethodsRefused { .. }
                | Self::AuthRejected { .. }
                | Self::IsolationNotApplied { .. }
                | Self::CommandNotSupported { .. }
                | Self::UnknownReply { .. }
        )
    }

    /// Whether a later dial, with nothing changed on this side, may succeed: tor not (yet)
    /// reachable or bootstrapped, the timeout, and target failures that are often transient
    /// (0x01, 0x03, 0x04, 0x06, 0xF0, 0xF2, 0xF3, 0xF7).
    ///
    /// Not retryable: refusals that need a change somewhere (0x02, 0x05, 0x07, 0x08, an
    /// invalid descriptor 0xF1, client authorization 0xF4/0xF5, a bad onion address 0xF6),
    /// malformed replies and invalid input.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::ProxyUnreachable { .. }
                | Self::ProxyIo { .. }
                | Self::Timeout { .. }
                | Self::GeneralFailure { .. }
                | Self::NetworkUnreachable { .. }
                | Self::HostUnreachable { .. }
                | Self::TtlExpired { .. }
                | Self::DescriptorNotFound { .. }
                | Self::IntroductionFailed { .. }
                | Self::RendezvousFailed { .. }
                | Self::IntroductionTimedOut { .. }
        )
    }

    /// Whether tor's circuits to the target failed or stalled: the dial's
    /// [`Timeout`](Self::Timeout), 0x06 (tor's own stream timeout), and the onion service
    /// replies 0xF2 (introduction failed), 0xF3 (rendezvous failed) and 0xF7 (introduction
    /// timed out).
    ///
    /// After such a failure a dial with the same isolation key may be attached by tor to the
    /// same circuits, e.g. a rendezvous circuit whose introduction was acknowledged but whose
    /// rendezvous never comes, on which tor stalls new streams for minutes; a dial with a
    /// fresh key gets new circuits (see [`Isolation::PerPeer`](crate::Isolation::PerPeer)).
    /// Not circuit failures: an offline service (0xF0), refusals, client authorization, and
    /// failures of tor's SOCKS port itself.
    pub fn is_circuit_failure(&self) -> bool {
        matches!(
            self,
            Self::Timeout { .. }
                | Self::TtlExpired { .. }
                | Self::IntroductionFailed { .. }
                | Self::RendezvousFailed { .. }
                | Self::IntroductionTimedOut { .. }
        )
    }
}

/// What was wrong with a proxy's reply, in [`DialError::MalformedReply`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Malformed {
    /// A reply started with the wrong version byte.
    #[error("the reply to the {phase} has version {found:#04x}, expected {expected:#04x}")]
    Version {
        /// Which reply.
        phase: Phase,
        /// The version the protocol requires.
        expected: u8,
        /// The byte received.
        found: u8,
    },
    /// The proxy closed the connection in the middle of a reply, or before sending one.
    #[error("the connection was closed before the reply to the {phase} was complete")]
    Truncated {
        /// Which reply was cut short.
        phase: Phase,
    },
    /// The proxy chose an authentication method that was not offered.
    #[error("the proxy chose authentication method {method:#04x}, which was not offered")]
    UnofferedMethod {
        /// The method chosen.
        method: u8,
    },
    /// The reserved byte of the CONNECT reply is not zero.
    #[error(
        "the reserved byte of the reply to the {} is {found:#04x}, expected 0x00",
        Phase::Connect
    )]
    ReservedByte {
        /// The byte received.
        found: u8,
    },
    /// The CONNECT reply has an address type other than IPv4, domain name or IPv6.
    #[error(
        "the reply to the {} has unknown address type {found:#04x}",
        Phase::Connect
    )]
    AddressType {
        /// The byte received.
        found: u8,
    },
    /// The reply was otherwise not understood.
    #[error("{message}")]
    Other {
        /// What the SOCKS client reported.
        message: String,
    },
}

/// A step of the SOCKS5 handshake, named in [`Malformed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Phase {
    /// The greeting, whose reply selects the authentication method.
    Greeting,
    /// The username/password sub-negotiation.
    Authentication,
    /// The CONNECT request.
    Connect,
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Phase::Greeting => "greeting",
            Phase::Authentication => "username/password authentication",
            Phase::Connect => "CONNECT request",
        })
    }
}
