//! [`LocalAddr`]: where a local tor listens or connects, a TCP port on loopback or a unix socket.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;

use crate::error::shown;

/// A local socket address: a TCP address (tor's ports on `127.0.0.1`) or a unix socket path.
///
/// The one "TCP or unix socket" type of torp2p: tor's control port, its SOCKS port and the
/// target of an onion service are each one of these. Displayed and parsed the way tor writes
/// them: `127.0.0.1:9050`, or `unix:/path/to/socket` (quotes around the path allowed, as in
/// `GETINFO net/listeners/*` replies).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LocalAddr {
    /// A TCP address, e.g. `127.0.0.1:9050`.
    Tcp(SocketAddr),
    /// A unix socket path, e.g. `/run/tor/socks`.
    Unix(PathBuf),
}

impl fmt::Display for LocalAddr {
    /// `127.0.0.1:9050` or `unix:/path/to/socket`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LocalAddr::Tcp(a) => write!(f, "{a}"),
            LocalAddr::Unix(p) => write!(f, "unix:{}", p.display()),
        }
    }
}

impl From<SocketAddr> for LocalAddr {
    fn from(addr: SocketAddr) -> Self {
        LocalAddr::Tcp(addr)
    }
}

/// Why text is not a [`LocalAddr`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LocalAddrError {
    /// `unix:` with nothing after it.
    #[error("`{input}` names no unix socket path: write `unix:/path/to/socket`")]
    NoUnixPath {
        /// The text as given (escaped, cut short when long).
        input: String,
    },
    /// Neither `ip:port` nor `unix:/path`.
    #[error(
        "`{input}` is neither `ip:port` (e.g. 127.0.0.1:9050; no host names) nor `unix:/path/to/socket`"
    )]
    NotAnAddress {
        /// The text as given (escaped, cut short when long).
        input: String,
    },
}

impl FromStr for LocalAddr {
    type Err = LocalAddrError;

    /// Parses `unix:/path` (quotes around the path allowed) or `ip:port` (quotes allowed);
    /// surrounding white space is ignored.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if let Some(path) = s.strip_prefix("unix:") {
            let path = path.trim_matches('"');
            if path.is_empty() {
                return Err(LocalAddrError::NoUnixPath { input: shown(s) });
            }
            return Ok(LocalAddr::Unix(PathBuf::from(path)));
        }
        s.trim_matches('"')
            .parse::<SocketAddr>()
            .map(LocalAddr::Tcp)
            .map_err(|_| LocalAddrError::NotAnAddress { input: shown(s) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tors_forms() {
        assert_eq!(
            "127.0.0.1:9050".parse::<LocalAddr>(),
            Ok(LocalAddr::Tcp(SocketAddr::from(([127, 0, 0, 1], 9050))))
        );
        assert_eq!(
            "\"[::1]:9050\"".parse::<LocalAddr>(),
            Ok(LocalAddr::Tcp("[::1]:9050".parse().unwrap()))
        );
        assert_eq!(
            "unix:\"/tmp/a b/socks\"".parse::<LocalAddr>(),
            Ok(LocalAddr::Unix("/tmp/a b/socks".into()))
        );
        assert!(matches!(
            "unix:".parse::<LocalAddr>(),
            Err(LocalAddrError::NoUnixPath { .. })
        ));
        assert!(matches!(
            "localhost:9050".parse::<LocalAddr>(),
            Err(LocalAddrError::NotAnAddress { .. })
        ));
    }

    #[test]
    fn display_round_trips() {
        for text in ["127.0.0.1:9050", "[::1]:1", "unix:/run/tor/socks"] {
            let a: LocalAddr = text.parse().unwrap();
            assert_eq!(a.to_string(), text);
            assert_eq!(a.to_string().parse::<LocalAddr>().unwrap(), a);
        }
    }
}
