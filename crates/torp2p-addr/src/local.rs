//! [`LocalAddr`]: where a local tor listens or connects, a TCP port on loopback or a unix socket.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;

use crate::error::shown;

/// A local socket address: a TCP address (tor's ports on `127.0.0.1`) or a unix socket path.
///
/// The one "TCP or unix socket" type of torp2p: tor's control port, its SOCKS port and the
/// target of an onion service are each one of these. Displayed and parsed the way tor writes
/// them: `127.0.0.1:9050`, or `unix:/path/to/socket` (the path may be quoted, as in
/// `GETINFO net/listeners/*` replies: `unix:"/path with spaces"`, with `\"` and `\\` inside).
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

/// Why text is not a [`LocalAddr`]. Every message names the text (escaped, cut short when
/// long) and says how to write the address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LocalAddrError {
    /// Nothing (or only white space) was given.
    #[error("empty address: write `ip:port` (e.g. 127.0.0.1:9050) or `unix:/path/to/socket`")]
    Empty,
    /// `unix:` with nothing after it.
    #[error("`{input}` names no unix socket path: write `unix:/path/to/socket`")]
    NoUnixPath {
        /// The text as given (escaped, cut short when long).
        input: String,
    },
    /// A unix socket path with a NUL byte, which no path can hold.
    #[error("`{input}` has a NUL byte in its unix socket path: no file name can contain one")]
    NulInUnixPath {
        /// The text as given (escaped, cut short when long).
        input: String,
    },
    /// A quote without its partner, a quote inside unquoted text, or an escape other than
    /// `\"` and `\\` inside quotes.
    #[error(
        "`{input}` has an unmatched quote or a bad escape: write `unix:/path` or `unix:\"/path\"` (inside quotes only \\\" and \\\\ are escapes)"
    )]
    BadQuoting {
        /// The text as given (escaped, cut short when long).
        input: String,
    },
    /// A path without the `unix:` prefix.
    #[error("`{input}` looks like a path: write a unix socket as `unix:{input}`")]
    BarePath {
        /// The text as given (escaped, cut short when long).
        input: String,
    },
    /// An IP address without a port.
    #[error("`{input}` has no port: write it as `ip:port`, e.g. 127.0.0.1:9050 or [::1]:9050")]
    MissingPort {
        /// The text as given (escaped, cut short when long).
        input: String,
    },
    /// Port text that is not a number from 1 to 65535.
    #[error("`{input}` has port `{port}`, which is not a number from 1 to 65535")]
    InvalidPort {
        /// The text as given (escaped, cut short when long).
        input: String,
        /// The port text as given (escaped, cut short when long).
        port: String,
    },
    /// Port 0, which nothing listens on.
    #[error(
        "`{input}` has port 0, which nothing listens on: give the port tor was configured with"
    )]
    PortZero {
        /// The text as given (escaped, cut short when long).
        input: String,
    },
    /// Nothing before the port.
    #[error("`{input}` has no IP address before the port: write e.g. 127.0.0.1:9050 or [::1]:9050")]
    MissingIp {
        /// The text as given (escaped, cut short when long).
        input: String,
    },
    /// The part before the port is not an IP address: a host name (never looked up) or a typo.
    #[error(
        "`{input}`: `{host}` is not an IP address (host names are not looked up): write e.g. 127.0.0.1:9050 or [::1]:9050"
    )]
    NotAnIp {
        /// The text as given (escaped, cut short when long).
        input: String,
        /// The part before the port (escaped, cut short when long).
        host: String,
    },
    /// An IPv6 address and a port without the brackets that tell them apart.
    #[error(
        "`{input}` looks like an IPv6 address without brackets: write it as [address]:port, e.g. [::1]:9050"
    )]
    Ipv6WithoutBrackets {
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

    /// Parses `unix:/path` (the path may be quoted) or `ip:port` (quotes allowed, IPv6 in
    /// brackets, port 1 to 65535); surrounding white space is ignored.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.is_empty() {
            return Err(LocalAddrError::Empty);
        }
        let input = || shown(s);
        // `unix:` in any letter case.
        if let Some(path) = s
            .get(..5)
            .filter(|p| p.eq_ignore_ascii_case("unix:"))
            .and_then(|_| s.get(5..))
        {
            let path =
                unquote(path).ok_or_else(|| LocalAddrError::BadQuoting { input: input() })?;
            if path.is_empty() {
                return Err(LocalAddrError::NoUnixPath { input: input() });
            }
            if path.contains('\0') {
                return Err(LocalAddrError::NulInUnixPath { input: input() });
            }
            return Ok(LocalAddr::Unix(PathBuf::from(path)));
        }
        let text = unquote(s).ok_or_else(|| LocalAddrError::BadQuoting { input: input() })?;
        match text.parse::<SocketAddr>() {
            Ok(a) if a.port() == 0 => Err(LocalAddrError::PortZero { input: input() }),
            Ok(a) => Ok(LocalAddr::Tcp(a)),
            Err(_) => Err(tcp_error(&text, s)),
        }
    }
}

/// The text inside quotes (with `\"` and `\\` unescaped), or the text itself when it is not
/// quoted; `None` for unmatched quotes, a quote inside unquoted text, or another escape.
fn unquote(s: &str) -> Option<String> {
    let Some(inner) = s.strip_prefix('"') else {
        return (!s.contains('"')).then(|| s.to_string());
    };
    let inner = inner.strip_suffix('"')?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next()? {
                e @ ('"' | '\\') => out.push(e),
                _ => return None,
            },
            '"' => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

/// Why `text` (unquoted; `input` as given) is not `ip:port`.
fn tcp_error(text: &str, input: &str) -> LocalAddrError {
    let input = shown(input);
    if text.starts_with('/') || text.starts_with("./") || text.starts_with("~/") {
        return LocalAddrError::BarePath { input };
    }
    if let Some(rest) = text.strip_prefix('[') {
        let Some((host, after)) = rest.split_once(']') else {
            return LocalAddrError::NotAnAddress { input };
        };
        if host.parse::<std::net::Ipv6Addr>().is_err() {
            return LocalAddrError::NotAnIp {
                input,
                host: shown(host),
            };
        }
        return match after.strip_prefix(':') {
            None if after.is_empty() => LocalAddrError::MissingPort { input },
            None => LocalAddrError::NotAnAddress { input },
            Some(port) => port_error(port, input),
        };
    }
    if text.matches(':').count() >= 2 {
        let ipv6 = |t: &str| t.parse::<std::net::Ipv6Addr>().is_ok();
        return if ipv6(text) || text.rsplit_once(':').is_some_and(|(h, _)| ipv6(h)) {
            LocalAddrError::Ipv6WithoutBrackets { input }
        } else {
            LocalAddrError::NotAnAddress { input }
        };
    }
    let Some((host, port)) = text.split_once(':') else {
        return if text.parse::<IpAddr>().is_ok() {
            LocalAddrError::MissingPort { input }
        } else {
            LocalAddrError::NotAnAddress { input }
        };
    };
    if host.is_empty() {
        return LocalAddrError::MissingIp { input };
    }
    if host.parse::<std::net::Ipv4Addr>().is_err() {
        return LocalAddrError::NotAnIp {
            input,
            host: shown(host),
        };
    }
    port_error(port, input)
}

/// The error for the port text of an otherwise good `ip:port`.
fn port_error(port: &str, input: String) -> LocalAddrError {
    if port.is_empty() {
        return LocalAddrError::MissingPort { input };
    }
    match port.parse::<u16>() {
        Ok(0) if port.bytes().all(|b| b.is_ascii_digit()) => LocalAddrError::PortZero { input },
        _ => LocalAddrError::InvalidPort {
            input,
            port: shown(port),
        },
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
            Err(LocalAddrError::NotAnIp { .. })
        ));
    }

    #[test]
    fn quoted_paths_are_unescaped_and_checked() {
        assert_eq!(
            r#"unix:"/tmp/a\"b\\c""#.parse::<LocalAddr>(),
            Ok(LocalAddr::Unix(r#"/tmp/a"b\c"#.into()))
        );
        for bad in [
            r#"unix:"/tmp/a"#,
            r#"unix:/tmp/a""#,
            r#"unix:"/tmp/a"b""#,
            r#"unix:"/tmp/\n""#,
            r#""127.0.0.1:9050"#,
            r#"""127.0.0.1:9050"""#,
        ] {
            assert!(
                matches!(
                    bad.parse::<LocalAddr>(),
                    Err(LocalAddrError::BadQuoting { .. })
                ),
                "{bad}: {:?}",
                bad.parse::<LocalAddr>()
            );
        }
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
