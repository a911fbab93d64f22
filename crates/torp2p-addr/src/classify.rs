//! Classifying a [`Multiaddr`] for dialing through Tor.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use libp2p_identity::PeerId;
use multiaddr::{Multiaddr, Protocol};

use crate::error::{ParseError, shown};
use crate::onion::{OnionSocketAddr, parse_port};

/// Where a dial through Tor goes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DialTarget {
    /// An onion service: `/onion3/<56>:<port>`.
    Onion(OnionSocketAddr),
    /// A DNS name, resolved by the Tor exit (never locally): `/dns|dns4|dns6/<name>/tcp/<port>`.
    Dns {
        /// The name, as given.
        name: String,
        /// The TCP port (never 0).
        port: u16,
    },
    /// An IP address reached through a Tor exit: `/ip4|ip6/<ip>/tcp/<port>`.
    Ip(SocketAddr),
}

impl DialTarget {
    /// Whether the target is an onion service (the only kind of target that does not need a
    /// Tor exit relay).
    pub fn is_onion(&self) -> bool {
        matches!(self, DialTarget::Onion(_))
    }
}

impl fmt::Display for DialTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DialTarget::Onion(onion) => write!(f, "{onion}"),
            DialTarget::Dns { name, port } => write!(f, "{name}:{port}"),
            DialTarget::Ip(sa) => write!(f, "{sa}"),
        }
    }
}

/// A multiaddr taken apart for dialing: the target, and the peer id of a trailing `/p2p`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DialAddr {
    /// Where to connect.
    pub target: DialTarget,
    /// The peer expected at the target, from a trailing `/p2p/<peer id>`.
    pub peer_id: Option<PeerId>,
}

impl DialAddr {
    /// Classifies `addr`: `/onion3/<56>:<port>`, `/dns|dns4|dns6/<name>/tcp/<port>` or
    /// `/ip4|ip6/<ip>/tcp/<port>`, each optionally followed by `/p2p/<peer id>`.
    ///
    /// The onion address is checked in full (version byte and checksum), which the multiaddr
    /// parser does not do.
    pub fn from_multiaddr(addr: &Multiaddr) -> Result<Self, ParseError> {
        let unsupported = || ParseError::UnsupportedProtocolStack {
            addr: shown(&addr.to_string()),
        };
        let mut iter = addr.iter();
        let target = match iter.next() {
            Some(Protocol::Onion3(onion3)) => DialTarget::Onion(
                OnionSocketAddr::from_onion3(&onion3).map_err(|e| with_input(e, addr))?,
            ),
            Some(Protocol::Dns(name) | Protocol::Dns4(name) | Protocol::Dns6(name)) => {
                let port = tcp_port(iter.next(), addr).ok_or_else(unsupported)??;
                DialTarget::Dns {
                    name: name.into_owned(),
                    port,
                }
            }
            Some(Protocol::Ip4(ip)) => {
                let port = tcp_port(iter.next(), addr).ok_or_else(unsupported)??;
                DialTarget::Ip(SocketAddr::new(IpAddr::V4(ip), port))
            }
            Some(Protocol::Ip6(ip)) => {
                let port = tcp_port(iter.next(), addr).ok_or_else(unsupported)??;
                DialTarget::Ip(SocketAddr::new(IpAddr::V6(ip), port))
            }
            _ => return Err(unsupported()),
        };
        let peer_id = match iter.next() {
            None => None,
            Some(Protocol::P2p(peer_id)) => Some(peer_id),
            Some(_) => return Err(unsupported()),
        };
        if let Some(extra) = iter.next() {
            let rest: Multiaddr = std::iter::once(extra).chain(iter).collect();
            return Err(ParseError::TrailingGarbage {
                input: shown(&addr.to_string()),
                rest: shown(&rest.to_string()),
            });
        }
        Ok(Self { target, peer_id })
    }
}

/// Puts the whole multiaddr into an error about its onion component.
fn with_input(err: ParseError, addr: &Multiaddr) -> ParseError {
    let input = shown(&addr.to_string());
    match err {
        ParseError::WrongVersion { version, .. } => ParseError::WrongVersion { input, version },
        ParseError::BadChecksum {
            expected, found, ..
        } => ParseError::BadChecksum {
            input,
            expected,
            found,
        },
        ParseError::PortZero { .. } => ParseError::PortZero { input },
        other => other,
    }
}

/// The port of a `/tcp` component: `None` if the component is missing or another protocol.
fn tcp_port(p: Option<Protocol<'_>>, addr: &Multiaddr) -> Option<Result<u16, ParseError>> {
    match p? {
        Protocol::Tcp(0) => Some(Err(ParseError::PortZero {
            input: shown(&addr.to_string()),
        })),
        Protocol::Tcp(port) => Some(Ok(port)),
        _ => None,
    }
}

impl TryFrom<&Multiaddr> for DialAddr {
    type Error = ParseError;

    fn try_from(addr: &Multiaddr) -> Result<Self, Self::Error> {
        Self::from_multiaddr(addr)
    }
}

impl FromStr for DialAddr {
    type Err = ParseError;

    /// Parses a multiaddr's text form and classifies it. Where the multiaddr parser refuses an
    /// `/onion3` component, the error says what is wrong with the onion address itself.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Err(ParseError::Empty);
        }
        match Multiaddr::from_str(s) {
            Ok(addr) => Self::from_multiaddr(&addr),
            Err(e) => Err(
                explain_onion3(s).unwrap_or_else(|| ParseError::InvalidMultiaddr {
                    input: shown(s),
                    reason: e.to_string(),
                }),
            ),
        }
    }
}

/// A precise error for the first `/onion3/...` component of `s`, if that is what is wrong.
fn explain_onion3(s: &str) -> Option<ParseError> {
    let mut parts = s.strip_prefix('/')?.split('/');
    while let Some(p) = parts.next() {
        if p == "onion3" {
            let value = parts.next().unwrap_or("");
            if value.is_empty() {
                return Some(ParseError::InvalidMultiaddr {
                    input: shown(s),
                    reason: "/onion3 needs an address and a port: /onion3/<56 characters>:<port>"
                        .into(),
                });
            }
            let Some((address, port)) = value.rsplit_once(':') else {
                return Some(
                    crate::onion::parse_address_in(value, s)
                        .err()
                        .unwrap_or(ParseError::MissingPort { input: shown(s) }),
                );
            };
            if let Err(e) = crate::onion::parse_address_in(address, s) {
                return Some(e);
            }
            return parse_port(port, s).err();
        }
    }
    None
}
