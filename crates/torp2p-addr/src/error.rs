//! The one error type of this crate.

use std::fmt;

/// Longest slice of offending input that an error message repeats.
const SHOWN_MAX_CHARS: usize = 80;

/// Why an onion address, an onion socket address or a multiaddr was refused.
///
/// Every variant carries the offending input (escaped, and cut short when long) so that a
/// message can be shown to a user as it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The input was empty.
    #[error(
        "empty input: expected a v3 onion address (56 base32 characters, optionally followed by `.onion`)"
    )]
    Empty,

    /// A 16-character address: onion services v2, which Tor no longer supports.
    #[error(
        "`{input}` is a v2 onion address (16 characters): Tor removed v2 onion services in 0.4.6; ask the service for its v3 address (56 characters)"
    )]
    V2Address {
        /// The address as given.
        input: String,
    },

    /// The address part does not have the 56 characters of a v3 onion address.
    #[error(
        "`{input}` has {length} characters where a v3 onion address has 56 (base32 letters a-z and digits 2-7, optionally followed by `.onion`)"
    )]
    WrongLength {
        /// The address as given.
        input: String,
        /// Its length in characters, without any `.onion` suffix.
        length: usize,
    },

    /// A byte form did not have the expected number of bytes.
    #[error("expected {expected} bytes for {form}, found {found}")]
    WrongByteLength {
        /// Which byte form was expected.
        form: &'static str,
        /// The length of that form.
        expected: usize,
        /// The length that was given.
        found: usize,
    },

    /// A character outside the base32 alphabet (`a`-`z`, `2`-`7`, either case).
    #[error(
        "`{input}` has {character:?} at position {position}, which is not a base32 character (a-z, 2-7)"
    )]
    InvalidCharacter {
        /// The address as given.
        input: String,
        /// The first offending character.
        character: char,
        /// Its position (in characters, counted from 0).
        position: usize,
    },

    /// The version byte is not 3.
    #[error("`{input}` has version byte {version:#04x} where a v3 onion address has 0x03")]
    WrongVersion {
        /// The address as given.
        input: String,
        /// The version byte found.
        version: u8,
    },

    /// The checksum bytes do not match the public key: a typo, or a forged address.
    #[error(
        "`{input}` has checksum {found} but its public key gives {expected}: the address is mistyped or corrupted"
    )]
    BadChecksum {
        /// The address as given.
        input: String,
        /// The checksum computed from the public key, as hex.
        expected: Checksum,
        /// The checksum carried by the address, as hex.
        found: Checksum,
    },

    /// The public key bytes are not a valid ed25519 point (only checked where a library needs a
    /// real key, e.g. torut's types).
    #[error(
        "`{input}` does not hold a valid ed25519 public key: no onion service can have this address"
    )]
    InvalidPublicKey {
        /// The address.
        input: String,
    },

    /// No port was given where one is required.
    #[error(
        "`{input}` has no port: write it as `<address>.onion:<port>` or `/onion3/<address>:<port>`"
    )]
    MissingPort {
        /// The input as given.
        input: String,
    },

    /// Port 0 is not a port anyone can connect to.
    #[error("`{input}` has port 0: use a port from 1 to 65535")]
    PortZero {
        /// The input as given.
        input: String,
    },

    /// The port is not a number from 1 to 65535.
    #[error("`{input}` has port `{port}`, which is not a number from 1 to 65535")]
    InvalidPort {
        /// The input as given.
        input: String,
        /// The port text as given.
        port: String,
    },

    /// Text that the multiaddr parser refused.
    #[error("`{input}` is not a valid multiaddr: {reason}")]
    InvalidMultiaddr {
        /// The input as given.
        input: String,
        /// What the multiaddr parser said.
        reason: String,
    },

    /// A multiaddr whose protocols this crate cannot turn into a dial target.
    #[error(
        "unsupported multiaddr `{addr}`{}: expected /onion3/<address>:<port>, /dns|dns4|dns6/<name>/tcp/<port> or /ip4|ip6/<ip>/tcp/<port>, optionally followed by /p2p/<peer id>",
        unsupported_hint(addr)
    )]
    UnsupportedProtocolStack {
        /// The multiaddr as given.
        addr: String,
    },

    /// Something follows a complete address.
    #[error("`{input}` has `{rest}` after a complete address")]
    TrailingGarbage {
        /// The input as given.
        input: String,
        /// What follows the address.
        rest: String,
    },
}

/// Why a multiaddr's protocols cannot go through Tor, when one of its components shows it.
fn unsupported_hint(addr: &str) -> &'static str {
    let has = |names: &[&str]| addr.split('/').any(|c| names.contains(&c));
    if has(&["garlic64", "garlic32"]) {
        " (an I2P address: Tor cannot reach I2P services)"
    } else if has(&["udp", "quic", "quic-v1", "webrtc", "webrtc-direct"]) {
        " (UDP: Tor carries TCP streams only)"
    } else if has(&["unix"]) {
        " (a unix socket: dial it directly, not through Tor)"
    } else if has(&["p2p-circuit"]) {
        " (a relayed address: torp2p dials the relay, not through it)"
    } else if has(&["ws", "wss", "tls", "http", "https", "webtransport"]) {
        " (a protocol on top of TCP: torp2p dials plain TCP streams through Tor)"
    } else {
        ""
    }
}

/// The two checksum bytes of a v3 onion address; shown as hex.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Checksum(pub [u8; 2]);

impl fmt::Display for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02x}{:02x}", self.0[0], self.0[1])
    }
}

/// The offending input as an error message shows it: control characters escaped and anything
/// past [`SHOWN_MAX_CHARS`] characters cut, with the full length said.
pub(crate) fn shown(input: &str) -> String {
    let total = input.chars().count();
    let mut out: String = input
        .chars()
        .take(SHOWN_MAX_CHARS)
        .flat_map(char::escape_debug)
        .collect();
    if total > SHOWN_MAX_CHARS {
        out.push_str(&format!("… ({total} characters in all)"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_input_is_cut_and_counted() {
        let s = shown(&"a".repeat(1000));
        assert!(s.starts_with(&"a".repeat(80)));
        assert!(s.ends_with("(1000 characters in all)"));
        assert!(s.len() < 120);
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(shown("a\nb\u{1b}"), "a\\nb\\u{1b}");
    }
}
