//! Private files and directories: what only this user may read (keys, torrc, sockets).
//!
//! A leaf module: it depends on nothing else in the crate but the error type.

use std::path::Path;

use crate::error::{Error, Result};

/// A fresh temporary directory only this user can enter (mode 0700), deleted on drop.
pub(crate) fn private_temp_dir(prefix: &str) -> Result<tempfile::TempDir> {
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .map_err(|source| Error::Io {
            what: "cannot create a private temporary directory in",
            path: std::env::temp_dir(),
            source,
        })?;
    set_private_dir(dir.path())?;
    Ok(dir)
}

/// Sets a directory's mode to 0700.
#[cfg(unix)]
pub(crate) fn set_private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(|source| {
        Error::Io {
            what: "cannot make the directory private (mode 0700)",
            path: dir.to_path_buf(),
            source,
        }
    })
}

/// Sets a directory's mode to 0700 (nothing to do on this platform).
#[cfg(not(unix))]
pub(crate) fn set_private_dir(_dir: &Path) -> Result<()> {
    Ok(())
}

/// Writes a file only this user can read: mode 0600 also when the file already existed with
/// another mode (the open flag's mode applies only to new files), set before any byte is written.
pub(crate) fn write_private(path: &Path, data: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let io = |source| Error::Io {
        what: "cannot write",
        path: path.to_path_buf(),
        source,
    };
    let mut f = opts.open(path).map_err(io)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(io)?;
    }
    f.write_all(data).map_err(io)?;
    f.sync_all().map_err(io)
}

#[cfg(all(test, unix))]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn temp_dir_is_private_and_goes_on_drop() {
        let dir = private_temp_dir("torp2p-test-").unwrap();
        assert_eq!(mode(dir.path()), 0o700);
        let path = dir.path().to_path_buf();
        drop(dir);
        assert!(!path.exists());
    }

    #[test]
    fn an_existing_loose_file_becomes_private_before_it_is_written() {
        let dir = private_temp_dir("torp2p-test-").unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, b"old").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_private(&file, b"secret").unwrap();
        assert_eq!(mode(&file), 0o600);
        assert_eq!(std::fs::read(&file).unwrap(), b"secret");
    }
}
