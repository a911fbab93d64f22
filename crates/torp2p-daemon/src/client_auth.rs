//! Client authorization of onion services (tor's `ClientAuthV3`): x25519 keys and tor's
//! `.auth` / `.auth_private` files.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use data_encoding::BASE32_NOPAD;
use torp2p_addr::OnionAddress;

use crate::error::{Error, KeyProblem, Result};
use crate::fs::write_private;

/// What a client authorization line starts with, after the address on the client side.
const PREFIX: &str = "descriptor:x25519:";

/// The public half of a client authorization key: what an onion service lists for each client
/// it lets in ([`crate::OnionServiceOptions::with_authorized_client`]).
///
/// Text form: 52 base32 characters, as in tor's `<name>.auth` files
/// (`descriptor:x25519:<base32>`), which [`ClientAuthPublicKey::save`] and
/// [`ClientAuthPublicKey::load`] write and read.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientAuthPublicKey([u8; 32]);

impl ClientAuthPublicKey {
    /// The key from its 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The 32 bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0
    }

    /// Writes tor's `<name>.auth` file (`descriptor:x25519:<base32>`), as tor reads it from a
    /// service's `authorized_clients/` directory. Not secret, but written 0600 like any key.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        write_private(path.as_ref(), format!("{PREFIX}{self}\n").as_bytes())
    }

    /// Reads a `<name>.auth` file.
    ///
    /// # Errors
    ///
    /// [`Error::KeyFile`] if the file cannot be read or is not `descriptor:x25519:<base32>`.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = read_text(path, KeyProblem::NotAuthFile)?;
        text.trim()
            .strip_prefix(PREFIX)
            .and_then(|k| k.parse().ok())
            .ok_or_else(|| file_error(path, KeyProblem::NotAuthFile))
    }
}

impl fmt::Display for ClientAuthPublicKey {
    /// 52 base32 characters, upper case as tor writes them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&BASE32_NOPAD.encode(&self.0))
    }
}

impl fmt::Debug for ClientAuthPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClientAuthPublicKey({self})")
    }
}

impl FromStr for ClientAuthPublicKey {
    type Err = Error;

    /// 52 base32 characters, either case.
    fn from_str(s: &str) -> Result<Self> {
        decode_key(s).map(Self).ok_or(Error::InvalidKey {
            problem: KeyProblem::NotX25519Key,
        })
    }
}

/// The secret half of a client authorization key: what a client gives its tor to reach an
/// onion service that requires authorization ([`crate::Tor::add_client_auth`]).
///
/// Never shown in `Debug` output or logs; zeroed on drop. On disk in tor's own
/// `<name>.auth_private` format (`<onion address>:descriptor:x25519:<base32>`, mode 0600), so a
/// file written here works in a `ClientOnionAuthDir` and the other way round.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientAuthKey {
    secret: [u8; 32],
}

impl ClientAuthKey {
    /// A fresh random key.
    ///
    /// # Errors
    ///
    /// [`Error::NoRandomness`] if the operating system gives no random bytes.
    pub fn generate() -> Result<Self> {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(|e| Error::NoRandomness {
            reason: e.to_string(),
        })?;
        Ok(Self::from_secret_bytes(secret))
    }

    /// The key from its 32 secret bytes (an x25519 scalar; clamped when used, as x25519 does).
    pub fn from_secret_bytes(secret: [u8; 32]) -> Self {
        Self { secret }
    }

    /// The 32 secret bytes. Handle with care: whoever has them passes the authorization.
    pub fn secret_bytes(&self) -> &[u8; 32] {
        &self.secret
    }

    /// The public key to give the onion service.
    pub fn public_key(&self) -> ClientAuthPublicKey {
        ClientAuthPublicKey(x25519_dalek::x25519(
            self.secret,
            x25519_dalek::X25519_BASEPOINT_BYTES,
        ))
    }

    /// Writes tor's `<name>.auth_private` file for the service at `service`, mode 0600.
    pub fn save(&self, path: impl AsRef<Path>, service: &OnionAddress) -> Result<()> {
        let mut line = format!("{}:{PREFIX}", service.to_base32()).into_bytes();
        line.extend_from_slice(BASE32_NOPAD.encode(&self.secret).as_bytes());
        line.push(b'\n');
        let result = write_private(path.as_ref(), &line);
        // The line holds the secret as much as the key does.
        line.fill(0);
        std::hint::black_box(&line);
        result
    }

    /// Reads a `<name>.auth_private` file: the service it is for, and the key.
    ///
    /// # Errors
    ///
    /// [`Error::KeyFile`] if the file cannot be read, other users may read it, or it is not
    /// `<onion address>:descriptor:x25519:<base32>`.
    pub fn load(path: impl AsRef<Path>) -> Result<(OnionAddress, Self)> {
        let path = path.as_ref();
        check_private(path)?;
        let text = read_text(path, KeyProblem::NotAuthPrivateFile)?;
        let line = text.trim();
        let (address, key) = line
            .split_once(':')
            .and_then(|(a, rest)| Some((a, rest.strip_prefix(PREFIX)?)))
            .ok_or_else(|| file_error(path, KeyProblem::NotAuthPrivateFile))?;
        let address: OnionAddress = address
            .parse()
            .map_err(|_| file_error(path, KeyProblem::NotAuthPrivateFile))?;
        let secret = decode_key(key).ok_or_else(|| file_error(path, KeyProblem::NotX25519Key))?;
        Ok((address, Self::from_secret_bytes(secret)))
    }
}

impl fmt::Debug for ClientAuthKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientAuthKey")
            .field("public", &self.public_key())
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl Drop for ClientAuthKey {
    fn drop(&mut self) {
        self.secret.fill(0);
        std::hint::black_box(&self.secret);
    }
}

/// 52 base32 characters (either case) as 32 bytes.
fn decode_key(text: &str) -> Option<[u8; 32]> {
    let text = text.trim();
    if text.len() != 52 {
        return None;
    }
    BASE32_NOPAD
        .decode(text.to_ascii_uppercase().as_bytes())
        .ok()?
        .try_into()
        .ok()
}

fn file_error(path: &Path, problem: KeyProblem) -> Error {
    Error::KeyFile {
        path: path.to_path_buf(),
        problem,
        source: None,
    }
}

/// A key file's text; at most 4 KiB is read (a client authorization line is about 130 bytes).
/// Text that is not UTF-8 is `not_text`.
fn read_text(path: &Path, not_text: KeyProblem) -> Result<String> {
    use std::io::Read;
    let problem = |e: &std::io::Error| {
        if e.kind() == std::io::ErrorKind::NotFound {
            KeyProblem::Missing
        } else {
            KeyProblem::Unreadable
        }
    };
    let fail = |e: std::io::Error| Error::KeyFile {
        path: path.to_path_buf(),
        problem: problem(&e),
        source: Some(e),
    };
    let file = std::fs::File::open(path).map_err(fail)?;
    let mut bytes = Vec::new();
    file.take(4096).read_to_end(&mut bytes).map_err(fail)?;
    String::from_utf8(bytes).map_err(|_| file_error(path, not_text))
}

/// Refuses a secret key file that other users may read or write.
fn check_private(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(path).map_err(|e| Error::KeyFile {
            path: path.to_path_buf(),
            problem: if e.kind() == std::io::ErrorKind::NotFound {
                KeyProblem::Missing
            } else {
                KeyProblem::Unreadable
            },
            source: Some(e),
        })?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(file_error(path, KeyProblem::NotPrivate { mode }));
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// RFC 7748 section 6.1: Alice's private and public keys.
    #[test]
    fn public_key_is_rfc7748() {
        let hex = |s: &str| -> [u8; 32] {
            data_encoding::HEXLOWER
                .decode(s.as_bytes())
                .unwrap()
                .try_into()
                .unwrap()
        };
        let key = ClientAuthKey::from_secret_bytes(hex(
            "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
        ));
        assert_eq!(
            key.public_key().to_bytes(),
            hex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
        );
    }

    #[test]
    fn files_round_trip_in_tors_format() {
        let dir = tempfile::tempdir().unwrap();
        let key = ClientAuthKey::generate().unwrap();
        let service = crate::OnionKey::generate().onion_address();
        let private = dir.path().join("alice.auth_private");
        key.save(&private, &service).unwrap();
        let text = std::fs::read_to_string(&private).unwrap();
        assert!(
            text.starts_with(&format!("{}:descriptor:x25519:", service.to_base32())),
            "{text}"
        );
        assert_eq!(
            ClientAuthKey::load(&private).unwrap(),
            (service, key.clone())
        );

        let public = dir.path().join("alice.auth");
        key.public_key().save(&public).unwrap();
        let text = std::fs::read_to_string(&public).unwrap();
        assert_eq!(text, format!("descriptor:x25519:{}\n", key.public_key()));
        assert_eq!(
            ClientAuthPublicKey::load(&public).unwrap(),
            key.public_key()
        );
        assert_eq!(
            key.public_key()
                .to_string()
                .to_lowercase()
                .parse::<ClientAuthPublicKey>()
                .unwrap(),
            key.public_key()
        );
        assert!(!format!("{key:?}").contains(&BASE32_NOPAD.encode(key.secret_bytes())));
    }
}
