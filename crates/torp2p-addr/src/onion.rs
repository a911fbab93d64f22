//! [`OnionAddress`] and [`OnionSocketAddr`]: v3 onion addresses, without and with a port.

use std::fmt;
use std::str::FromStr;

use data_encoding::BASE32_NOPAD;
use multiaddr::{Multiaddr, Onion3Addr, Protocol};
use sha3::{Digest, Sha3_256};

use crate::error::{Checksum, ParseError, shown};

/// Length of an ed25519 public key, the identity of a v3 onion service.
pub const PUBLIC_KEY_LEN: usize = 32;
/// Length of torut's byte form: public key ‖ checksum (no version byte).
pub const TORUT_BYTES_LEN: usize = 34;
/// Length of the address bytes inside libp2p's `/onion3`: public key ‖ checksum ‖ version.
pub const LIBP2P_BYTES_LEN: usize = 35;
/// Length of the base32 text of a v3 onion address, without `.onion`.
pub const ENCODED_LEN: usize = 56;
/// Length of the base32 text of a (dead) v2 onion address.
const V2_ENCODED_LEN: usize = 16;
/// The version byte of v3 onion addresses.
pub const VERSION: u8 = 3;
/// The suffix of onion addresses in DNS-like form.
const SUFFIX: &str = ".onion";

/// A v3 onion address: the identity of an onion service, `<56 base32 characters>.onion`.
///
/// It holds the service's ed25519 public key; the checksum and version byte are derived, so a
/// value of this type is always a well-formed address. Every way in (text, libp2p bytes, torut
/// bytes) checks length, alphabet, version and checksum.
///
/// Text output ([`Display`](fmt::Display)) is canonical: lower case with the `.onion` suffix.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OnionAddress {
    public_key: [u8; PUBLIC_KEY_LEN],
}

impl OnionAddress {
    /// The address of the onion service whose ed25519 public key is `public_key`.
    ///
    /// This does not check that the bytes are a point on the curve; Tor refuses such an
    /// address when it is dialed (SOCKS reply 0xF6).
    pub fn from_public_key(public_key: [u8; PUBLIC_KEY_LEN]) -> Self {
        Self { public_key }
    }

    /// The ed25519 public key of the onion service.
    pub fn public_key(&self) -> &[u8; PUBLIC_KEY_LEN] {
        &self.public_key
    }

    /// The two checksum bytes: `SHA3-256(".onion checksum" ‖ pubkey ‖ 0x03)[..2]`.
    pub fn checksum(&self) -> [u8; 2] {
        checksum_of(&self.public_key)
    }

    /// libp2p's 35-byte form (as in `/onion3`): public key ‖ checksum ‖ version.
    pub fn to_libp2p_bytes(&self) -> [u8; LIBP2P_BYTES_LEN] {
        let mut out = [0u8; LIBP2P_BYTES_LEN];
        out[..PUBLIC_KEY_LEN].copy_from_slice(&self.public_key);
        out[PUBLIC_KEY_LEN..TORUT_BYTES_LEN].copy_from_slice(&self.checksum());
        out[TORUT_BYTES_LEN] = VERSION;
        out
    }

    /// Reads libp2p's 35-byte form, checking the version byte and the checksum.
    pub fn from_libp2p_bytes(bytes: &[u8; LIBP2P_BYTES_LEN]) -> Result<Self, ParseError> {
        let input = || BASE32_NOPAD.encode(bytes).to_ascii_lowercase();
        if bytes[TORUT_BYTES_LEN] != VERSION {
            return Err(ParseError::WrongVersion {
                input: input(),
                version: bytes[TORUT_BYTES_LEN],
            });
        }
        Self::checked(bytes, input)
    }

    /// torut's 34-byte form (as in `torut::onion::OnionAddressV3`): public key ‖ checksum, with
    /// no version byte. The 34 ⇄ 35 byte difference is handled here and nowhere else.
    pub fn to_torut_bytes(&self) -> [u8; TORUT_BYTES_LEN] {
        let mut out = [0u8; TORUT_BYTES_LEN];
        out.copy_from_slice(&self.to_libp2p_bytes()[..TORUT_BYTES_LEN]);
        out
    }

    /// Reads torut's 34-byte form, checking the checksum.
    pub fn from_torut_bytes(bytes: &[u8; TORUT_BYTES_LEN]) -> Result<Self, ParseError> {
        Self::checked(bytes, || {
            let mut full = [VERSION; LIBP2P_BYTES_LEN];
            full[..TORUT_BYTES_LEN].copy_from_slice(bytes);
            BASE32_NOPAD.encode(&full).to_ascii_lowercase()
        })
    }

    /// Reads a byte slice of either byte form: 34 bytes (torut) or 35 bytes (libp2p).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ParseError> {
        if let Ok(b) = <&[u8; LIBP2P_BYTES_LEN]>::try_from(bytes) {
            Self::from_libp2p_bytes(b)
        } else if let Ok(b) = <&[u8; TORUT_BYTES_LEN]>::try_from(bytes) {
            Self::from_torut_bytes(b)
        } else {
            Err(ParseError::WrongByteLength {
                form: "a v3 onion address (34 bytes torut form, or 35 bytes libp2p form)",
                expected: LIBP2P_BYTES_LEN,
                found: bytes.len(),
            })
        }
    }

    /// The 56 lower-case base32 characters, without `.onion`.
    pub fn to_base32(&self) -> String {
        BASE32_NOPAD
            .encode(&self.to_libp2p_bytes())
            .to_ascii_lowercase()
    }

    /// The SOCKS5 domain name Tor expects: `<56 characters>.onion`.
    pub fn to_domain(&self) -> String {
        format!("{}{SUFFIX}", self.to_base32())
    }

    /// Checks the checksum in `bytes[32..34]` against the key in `bytes[..32]`.
    fn checked(bytes: &[u8], input: impl Fn() -> String) -> Result<Self, ParseError> {
        let mut public_key = [0u8; PUBLIC_KEY_LEN];
        public_key.copy_from_slice(&bytes[..PUBLIC_KEY_LEN]);
        let found = [bytes[PUBLIC_KEY_LEN], bytes[PUBLIC_KEY_LEN + 1]];
        let expected = checksum_of(&public_key);
        if found != expected {
            return Err(ParseError::BadChecksum {
                input: input(),
                expected: Checksum(expected),
                found: Checksum(found),
            });
        }
        Ok(Self { public_key })
    }
}

fn checksum_of(public_key: &[u8; PUBLIC_KEY_LEN]) -> [u8; 2] {
    let mut h = Sha3_256::new();
    h.update(b".onion checksum");
    h.update(public_key);
    h.update([VERSION]);
    let digest = h.finalize();
    [digest[0], digest[1]]
}

impl FromStr for OnionAddress {
    type Err = ParseError;

    /// Parses `<56 base32>.onion` or the bare 56 characters, in any letter case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_address_in(s, s)
    }
}

/// Parses the address part `part` of the user's `input` (used in messages).
pub(crate) fn parse_address_in(part: &str, input: &str) -> Result<OnionAddress, ParseError> {
    if input.is_empty() {
        return Err(ParseError::Empty);
    }
    let bare = strip_suffix_ignore_case(part, SUFFIX).unwrap_or(part);
    let shown_input = || shown(input);
    if let Some((position, character)) = bare
        .chars()
        .enumerate()
        .find(|(_, c)| !matches!(c.to_ascii_lowercase(), 'a'..='z' | '2'..='7'))
    {
        return Err(ParseError::InvalidCharacter {
            input: shown_input(),
            character,
            position,
        });
    }
    // Only ASCII is left, so bytes are characters.
    match bare.len() {
        ENCODED_LEN => {}
        V2_ENCODED_LEN => {
            return Err(ParseError::V2Address {
                input: shown_input(),
            });
        }
        length => {
            return Err(ParseError::WrongLength {
                input: shown_input(),
                length,
            });
        }
    }
    let mut bytes = [0u8; LIBP2P_BYTES_LEN];
    let upper = bare.to_ascii_uppercase();
    // 56 base32 characters are exactly 35 bytes; the alphabet was checked above.
    BASE32_NOPAD
        .decode_mut(upper.as_bytes(), &mut bytes)
        .map_err(|_| ParseError::WrongLength {
            input: shown_input(),
            length: bare.len(),
        })?;
    if bytes[TORUT_BYTES_LEN] != VERSION {
        return Err(ParseError::WrongVersion {
            input: shown_input(),
            version: bytes[TORUT_BYTES_LEN],
        });
    }
    OnionAddress::checked(&bytes, shown_input)
}

fn strip_suffix_ignore_case<'a>(s: &'a str, suffix: &str) -> Option<&'a str> {
    let split = s.len().checked_sub(suffix.len())?;
    let (head, tail) = (s.get(..split)?, s.get(split..)?);
    tail.eq_ignore_ascii_case(suffix).then_some(head)
}

impl fmt::Display for OnionAddress {
    /// `<56 lower-case base32 characters>.onion`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_domain())
    }
}

impl fmt::Debug for OnionAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("OnionAddress")
            .field(&self.to_domain())
            .finish()
    }
}

/// A v3 onion address with a virtual port: `<56 base32>.onion:<port>`, or `/onion3/<56>:<port>`.
///
/// The port is never 0.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OnionSocketAddr {
    address: OnionAddress,
    port: u16,
}

impl OnionSocketAddr {
    /// Joins an address and a port; port 0 is refused.
    pub fn new(address: OnionAddress, port: u16) -> Result<Self, ParseError> {
        if port == 0 {
            return Err(ParseError::PortZero {
                input: format!("{address}:0"),
            });
        }
        Ok(Self { address, port })
    }

    /// The onion address.
    pub fn address(&self) -> &OnionAddress {
        &self.address
    }

    /// The virtual port of the onion service.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The target of a SOCKS5 CONNECT through Tor: the domain `<56>.onion` and the port.
    pub fn socks_target(&self) -> (String, u16) {
        (self.address.to_domain(), self.port)
    }

    /// libp2p's `Onion3Addr`.
    pub fn to_onion3(&self) -> Onion3Addr<'static> {
        Onion3Addr::from((self.address.to_libp2p_bytes(), self.port))
    }

    /// Reads libp2p's `Onion3Addr`, checking version, checksum and port.
    pub fn from_onion3(onion3: &Onion3Addr<'_>) -> Result<Self, ParseError> {
        let address = OnionAddress::from_libp2p_bytes(onion3.hash())?;
        Self::new(address, onion3.port())
    }

    /// The multiaddr `/onion3/<56>:<port>`.
    pub fn to_multiaddr(&self) -> Multiaddr {
        Multiaddr::empty().with(Protocol::Onion3(self.to_onion3()))
    }
}

impl FromStr for OnionSocketAddr {
    type Err = ParseError;

    /// Parses `<56 base32>.onion:<port>` (the `.onion` may be left out; any letter case).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Err(ParseError::Empty);
        }
        let Some((addr, port)) = s.rsplit_once(':') else {
            // Give the address error first if the address itself is bad.
            parse_address_in(s, s)?;
            return Err(ParseError::MissingPort { input: shown(s) });
        };
        let address = parse_address_in(addr, s)?;
        let port = parse_port(port, s)?;
        Ok(Self { address, port })
    }
}

/// Parses a non-zero decimal port, `input` being the whole text for messages.
pub(crate) fn parse_port(port: &str, input: &str) -> Result<u16, ParseError> {
    if port.is_empty() {
        return Err(ParseError::MissingPort {
            input: shown(input),
        });
    }
    match port.parse::<u16>() {
        Ok(0) => Err(ParseError::PortZero {
            input: shown(input),
        }),
        Ok(p) if port.bytes().all(|b| b.is_ascii_digit()) => Ok(p),
        _ => Err(ParseError::InvalidPort {
            input: shown(input),
            port: shown(port),
        }),
    }
}

impl fmt::Display for OnionSocketAddr {
    /// `<56 lower-case base32 characters>.onion:<port>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.address, self.port)
    }
}

impl fmt::Debug for OnionSocketAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("OnionSocketAddr")
            .field(&self.to_string())
            .finish()
    }
}

impl From<OnionSocketAddr> for Multiaddr {
    fn from(addr: OnionSocketAddr) -> Self {
        addr.to_multiaddr()
    }
}

impl TryFrom<&Onion3Addr<'_>> for OnionSocketAddr {
    type Error = ParseError;

    fn try_from(onion3: &Onion3Addr<'_>) -> Result<Self, Self::Error> {
        Self::from_onion3(onion3)
    }
}

#[cfg(feature = "torut")]
mod torut_forms {
    use super::*;
    use torut::onion::{OnionAddressV3, TorPublicKeyV3};

    impl From<&TorPublicKeyV3> for OnionAddress {
        fn from(key: &TorPublicKeyV3) -> Self {
            Self::from_public_key(key.to_bytes())
        }
    }

    impl TryFrom<&OnionAddressV3> for OnionAddress {
        type Error = ParseError;

        /// Reads torut's address through its 34-byte form, checking the checksum.
        fn try_from(addr: &OnionAddressV3) -> Result<Self, Self::Error> {
            let raw = addr.get_raw_bytes();
            let mut bytes = [0u8; TORUT_BYTES_LEN];
            bytes.copy_from_slice(&raw[..TORUT_BYTES_LEN]);
            Self::from_torut_bytes(&bytes)
        }
    }

    impl OnionAddress {
        /// torut's public key type. Fails if the key bytes are not a valid ed25519 point
        /// (torut checks that), which makes the address undialable anyway.
        pub fn to_torut_public_key(&self) -> Result<TorPublicKeyV3, ParseError> {
            TorPublicKeyV3::from_bytes(&self.public_key).map_err(|_| ParseError::InvalidPublicKey {
                input: self.to_string(),
            })
        }

        /// torut's address type (see [`OnionAddress::to_torut_public_key`] for when it fails).
        pub fn to_torut(&self) -> Result<OnionAddressV3, ParseError> {
            Ok(self.to_torut_public_key()?.get_onion_address())
        }
    }
}
