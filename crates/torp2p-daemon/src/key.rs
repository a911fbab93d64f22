//! [`OnionKey`]: the secret key of an onion service, in tor's own key-file format.

use std::fmt;
use std::path::Path;

use torp2p_addr::OnionAddress;
use torut::onion::TorSecretKeyV3;

use crate::error::{Error, KeyProblem, Result};
use crate::fs::write_private;

/// The header of tor's `hs_ed25519_secret_key` file, padded to 32 bytes.
const SECRET_KEY_HEADER: &[u8; 32] = b"== ed25519v1-secret: type0 ==\0\0\0";
/// How tor's `hs_ed25519_public_key` file starts.
const PUBLIC_KEY_HEADER_START: &[u8] = b"== ed25519v1-public:";
/// How a key in the control port's form (`ADD_ONION`'s `PrivateKey=`) starts.
const CONTROL_PORT_KEY_START: &[u8] = b"ED25519-V3:";
/// Header plus the 64-byte expanded secret key.
const SECRET_KEY_FILE_LEN: usize = 96;

/// The secret key of an onion service: an expanded ed25519 secret key (64 bytes), as tor
/// stores it. The same key always gives the same [`OnionAddress`].
///
/// Key material never appears in `Debug` output or logs. On disk the key lives in tor's own
/// `hs_ed25519_secret_key` format, so a key saved here can be used as a `HiddenServiceDir`
/// key and the other way round.
#[derive(Clone, PartialEq, Eq)]
pub struct OnionKey {
    expanded: [u8; 64],
    public: [u8; 32],
}

impl OnionKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        Self::from_torut(TorSecretKeyV3::generate())
    }

    /// A key from its 64 expanded secret bytes (the scalar, then the hash prefix).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidKey`] with [`KeyProblem::NotClamped`] if the scalar is not clamped as
    /// ed25519 requires (a sign of a wrong or corrupted file, or of a seed given instead of an
    /// expanded key).
    pub fn from_expanded_secret(bytes: [u8; 64]) -> Result<Self> {
        let clamped =
            bytes[0] & 0b111 == 0 && bytes[31] & 0b1000_0000 == 0 && bytes[31] & 0b0100_0000 != 0;
        if !clamped {
            return Err(Error::InvalidKey {
                problem: KeyProblem::NotClamped,
            });
        }
        Ok(Self::from_torut(TorSecretKeyV3::from(bytes)))
    }

    fn from_torut(key: TorSecretKeyV3) -> Self {
        let public = key.public().to_bytes();
        Self {
            expanded: key.into_bytes(),
            public,
        }
    }

    /// The 64 expanded secret bytes. Handle with care: whoever has them can run the service.
    pub fn expanded_secret(&self) -> &[u8; 64] {
        &self.expanded
    }

    /// The ed25519 public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.public
    }

    /// The onion address of a service run with this key.
    pub fn onion_address(&self) -> OnionAddress {
        OnionAddress::from_public_key(self.public)
    }

    /// Loads a key file in tor's `hs_ed25519_secret_key` format.
    ///
    /// Refuses a file that other users can read (mode must deny group and others), a
    /// directory or anything else that is not a regular file (a pipe or a device could block
    /// or never end), a dangling symbolic link, a file of the wrong size (it reads at most one
    /// byte more than a key file has), tor's public key file, or one with the wrong header. A
    /// symbolic link to a key file is followed, and the file's own mode is checked.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        use std::io::Read;
        let path = path.as_ref();
        let fail = |problem: KeyProblem, source: Option<std::io::Error>| Error::KeyFile {
            path: path.to_path_buf(),
            problem,
            source,
        };
        let meta = std::fs::metadata(path).map_err(|e| {
            let problem = if e.kind() != std::io::ErrorKind::NotFound {
                KeyProblem::Unreadable
            } else if path.symlink_metadata().is_ok() {
                KeyProblem::DanglingSymlink
            } else {
                KeyProblem::Missing
            };
            fail(problem, Some(e))
        })?;
        if meta.is_dir() {
            return Err(fail(KeyProblem::Directory, None));
        }
        if !meta.is_file() {
            return Err(fail(KeyProblem::NotAFile, None));
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(fail(KeyProblem::NotPrivate { mode }, None));
            }
        }
        let mut data = Vec::with_capacity(SECRET_KEY_FILE_LEN + 1);
        std::fs::File::open(path)
            .and_then(|f| {
                f.take(SECRET_KEY_FILE_LEN as u64 + 1)
                    .read_to_end(&mut data)
            })
            .map_err(|e| fail(KeyProblem::Unreadable, Some(e)))?;
        if data.starts_with(PUBLIC_KEY_HEADER_START) {
            data.fill(0);
            return Err(fail(KeyProblem::PublicKeyFile, None));
        }
        if data.starts_with(CONTROL_PORT_KEY_START) {
            data.fill(0);
            return Err(fail(KeyProblem::ControlPortForm, None));
        }
        if data.len() != SECRET_KEY_FILE_LEN {
            let len = usize::try_from(meta.len())
                .unwrap_or(usize::MAX)
                .max(data.len());
            data.fill(0);
            return Err(fail(KeyProblem::WrongSize { len }, None));
        }
        if &data[..32] != SECRET_KEY_HEADER {
            data.fill(0);
            return Err(fail(KeyProblem::WrongHeader, None));
        }
        let mut expanded = [0u8; 64];
        expanded.copy_from_slice(&data[32..]);
        data.fill(0);
        let key =
            Self::from_expanded_secret(expanded).map_err(|_| fail(KeyProblem::NotClamped, None));
        expanded.fill(0);
        key
    }

    /// Saves the key in tor's `hs_ed25519_secret_key` format with mode 0600, replacing the
    /// file atomically.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let mut data = Vec::with_capacity(SECRET_KEY_FILE_LEN);
        data.extend_from_slice(SECRET_KEY_HEADER);
        data.extend_from_slice(&self.expanded);
        let file_name = path.file_name().ok_or_else(|| Error::KeyFile {
            path: path.to_path_buf(),
            problem: KeyProblem::NoFileName,
            source: None,
        })?;
        let mut tmp_name = file_name.to_os_string();
        tmp_name.push(".tmp");
        let tmp = path.with_file_name(tmp_name);
        write_private(&tmp, &data)?;
        data.fill(0);
        std::fs::rename(&tmp, path).map_err(|source| Error::KeyFile {
            path: path.to_path_buf(),
            problem: KeyProblem::Unwritable,
            source: Some(source),
        })
    }

    /// Loads the key at `path`, or generates one and saves it there if the file does not
    /// exist: the way to keep an onion address across restarts.
    pub fn load_or_generate(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        if path.symlink_metadata().is_ok() {
            return Self::load(path);
        }
        let key = Self::generate();
        key.save(path)?;
        tracing::debug!(path = %path.display(), "generated a new onion service key");
        Ok(key)
    }
}

impl fmt::Debug for OnionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnionKey")
            .field("address", &self.onion_address())
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl Drop for OnionKey {
    fn drop(&mut self) {
        self.expanded.fill(0);
        std::hint::black_box(&self.expanded);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_key_same_address_and_debug_hides_secret() {
        let k = OnionKey::generate();
        let again = OnionKey::from_expanded_secret(*k.expanded_secret()).unwrap();
        assert_eq!(k.onion_address(), again.onion_address());
        let dbg = format!("{k:?}");
        assert!(dbg.contains(&k.onion_address().to_string()));
        let hex: String = k
            .expanded_secret()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert!(!dbg.contains(&hex[..16]));
    }

    #[test]
    fn unclamped_bytes_are_refused() {
        for bytes in [[0xff; 64], [0; 64]] {
            assert!(matches!(
                OnionKey::from_expanded_secret(bytes),
                Err(Error::InvalidKey {
                    problem: KeyProblem::NotClamped
                })
            ));
        }
    }
}
