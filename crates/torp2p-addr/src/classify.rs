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
            Some(Protocol::Onion(..)) => {
                return Err(ParseError::V2Address {
                    input: shown(&addr.to_string()),
                });
            }
            Some(Protocol::Dns(name) | Protocol::Dns4(name) | Protocol::Dns6(name)) => {
                if name.is_empty() {
                    return Err(ParseError::InvalidMultiaddr {
                        input: shown(&addr.to_string()),
                        reason: "the DNS name is empty: write /dns/<name>/tcp/<port>".into(),
                    });
                }
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
            Err(e) => Err(explain(s).unwrap_or_else(|| ParseError::InvalidMultiaddr {
                input: shown(s),
                reason: e.to_string(),
            })),
        }
    }
}

/// A precise error for text the multiaddr parser refused, where we can say more than it does:
/// white space, an empty component, a protocol name in upper case, a v2 `/onion` address, or
/// what is wrong with an `/onion3` address or a `/tcp` port.
fn explain(s: &str) -> Option<ParseError> {
    let invalid = |reason: String| {
        Some(ParseError::InvalidMultiaddr {
            input: shown(s),
            reason,
        })
    };
    if s.trim() != s {
        return invalid("it has white space around it: remove it".into());
    }
    let Some(rest) = s.strip_prefix('/') else {
        return invalid("a multiaddr starts with `/`, e.g. /onion3/<56 characters>:<port>".into());
    };
    let mut parts = rest.split('/');
    while let Some(p) = parts.next() {
        match p {
            "" => {
                return invalid(
                    "it has an empty component (`//`, or a `/` at the end): remove the extra `/`"
                        .into(),
                );
            }
            "onion3" => {
                if let Some(e) = explain_onion3(parts.next().unwrap_or(""), s) {
                    return Some(e);
                }
            }
            "onion" => return Some(ParseError::V2Address { input: shown(s) }),
            "tcp" | "udp" => match parts.next() {
                None | Some("") => return Some(ParseError::MissingPort { input: shown(s) }),
                Some(port) if port.parse::<u16>().is_err() => {
                    return Some(ParseError::InvalidPort {
                        input: shown(s),
                        port: shown(port),
                    });
                }
                Some(_) => {}
            },
            _ if WITH_VALUE.contains(&p) => {
                parts.next();
            }
            _ if NO_VALUE.contains(&p) => {}
            _ => {
                let lower = p.to_ascii_lowercase();
                if lower != p
                    && (WITH_VALUE.contains(&lower.as_str())
                        || NO_VALUE.contains(&lower.as_str())
                        || ["onion3", "onion", "tcp", "udp"].contains(&lower.as_str()))
                {
                    return invalid(format!(
                        "unknown protocol `{}`: protocol names are lower case (`/{lower}`)",
                        shown(p)
                    ));
                }
                // A protocol we do not know: we cannot tell where its value ends.
                return None;
            }
        }
    }
    None
}

/// Protocols (besides onion3, onion, tcp and udp) followed by one value.
const WITH_VALUE: &[&str] = &[
    "ip4", "ip6", "dns", "dns4", "dns6", "dnsaddr", "p2p", "ipfs", "garlic64", "garlic32", "unix",
    "sni", "certhash", "ip6zone", "ipcidr", "dccp", "sctp", "memory",
];

/// Protocols followed by no value.
const NO_VALUE: &[&str] = &[
    "ws",
    "wss",
    "tls",
    "noise",
    "http",
    "https",
    "quic",
    "quic-v1",
    "p2p-circuit",
    "webrtc",
    "webrtc-direct",
    "webtransport",
    "utp",
    "udt",
    "p2p-webrtc-star",
    "p2p-websocket-star",
    "p2p-stardust",
];

/// What is wrong with the value of an `/onion3` component, if anything.
fn explain_onion3(value: &str, s: &str) -> Option<ParseError> {
    let needs = || ParseError::InvalidMultiaddr {
        input: shown(s),
        reason: "/onion3 needs an address and a port: /onion3/<56 characters>:<port>".into(),
    };
    if value.is_empty() {
        return Some(needs());
    }
    let Some((address, port)) = value.rsplit_once(':') else {
        return Some(
            crate::onion::parse_address_in(value, s)
                .err()
                .unwrap_or(ParseError::MissingPort { input: shown(s) }),
        );
    };
    if address.is_empty() {
        return Some(needs());
    }
    if address.len() > SUFFIX.len()
        && address
            .get(address.len() - SUFFIX.len()..)
            .is_some_and(|t| t.eq_ignore_ascii_case(SUFFIX))
    {
        return Some(ParseError::InvalidMultiaddr {
            input: shown(s),
            reason:
                "/onion3 takes the 56 characters without `.onion`: /onion3/<56 characters>:<port>"
                    .into(),
        });
    }
    if let Err(e) = crate::onion::parse_address_in(address, s) {
        return Some(e);
    }
    parse_port(port, s).err()
}

/// The suffix of onion addresses in DNS-like form.
const SUFFIX: &str = ".onion";
