//! Key material for relays and directory authorities of a private Tor network, made by tor's
//! own tools (`tor-gencert`, `tor --list-fingerprint`). Used by torp2p-testnet.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use crate::error::{Error, Result};
use crate::fs::write_private;
use crate::process::find_tor;

/// Creates a directory authority's identity key, signing key and certificate in `keys_dir`
/// with `tor-gencert` (found beside the tor binary, on PATH, or in /usr/bin), and returns the
/// authority's v3 identity (the certificate's fingerprint, 40 hex characters).
pub async fn create_authority_keys(
    tor_bin: Option<&Path>,
    keys_dir: &Path,
    dir_address: SocketAddr,
) -> Result<String> {
    let gencert = find_gencert(tor_bin)?;
    std::fs::create_dir_all(keys_dir).map_err(|source| Error::Io {
        what: "cannot create",
        path: keys_dir.to_path_buf(),
        source,
    })?;
    let cert = keys_dir.join("authority_certificate");
    let mut child = Command::new(&gencert)
        .arg("--create-identity-key")
        .args(["--passphrase-fd", "0"])
        .arg("-i")
        .arg(keys_dir.join("authority_identity_key"))
        .arg("-s")
        .arg(keys_dir.join("authority_signing_key"))
        .arg("-c")
        .arg(&cert)
        .args(["-m", "12", "-a", &dir_address.to_string()])
        .current_dir(keys_dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| Error::Spawn {
            binary: gencert.clone(),
            source,
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        // An empty passphrase.
        let _ = stdin.write_all(b"\n").await;
    }
    let out = child
        .wait_with_output()
        .await
        .map_err(|source| Error::Spawn {
            binary: gencert.clone(),
            source,
        })?;
    if !out.status.success() {
        return Err(Error::TorExited {
            status: format!("tor-gencert: {}", out.status),
            last_log: String::from_utf8_lossy(&out.stderr).into_owned(),
        });
    }
    let text = std::fs::read_to_string(&cert).map_err(|source| Error::Io {
        what: "cannot read the certificate",
        path: cert.clone(),
        source,
    })?;
    text.lines()
        .find_map(|l| l.strip_prefix("fingerprint "))
        .map(|f| f.trim().to_string())
        .filter(|f| f.len() == 40 && f.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| Error::Protocol {
            command: "tor-gencert".into(),
            detail: format!("no fingerprint line in {}", cert.display()),
        })
}

/// The RSA identity fingerprint (40 hex characters) of the relay whose data directory is
/// `data_dir`, creating its keys there if they do not exist (`tor --list-fingerprint`).
pub async fn relay_fingerprint(tor_bin: Option<&Path>, data_dir: &Path) -> Result<String> {
    let tor = find_tor(tor_bin)?;
    std::fs::create_dir_all(data_dir).map_err(|source| Error::Io {
        what: "cannot create",
        path: data_dir.to_path_buf(),
        source,
    })?;
    let empty = data_dir.join("torrc-empty");
    write_private(&empty, b"")?;
    let out = Command::new(&tor)
        .arg("--ignore-missing-torrc")
        .arg("-f")
        .arg(data_dir.join("torrc-missing"))
        .arg("--defaults-torrc")
        .arg(&empty)
        .args(["--orport", "1"])
        .arg("--datadirectory")
        .arg(data_dir)
        .arg("--list-fingerprint")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|source| Error::Spawn {
            binary: tor.clone(),
            source,
        })?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let fingerprint = stdout.lines().rev().find_map(|l| {
        // "<nickname> XXXX XXXX ..." (ten groups of four hex digits)
        let hex: String = l.split_whitespace().skip(1).collect();
        (hex.len() == 40 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then_some(hex)
    });
    match (out.status.success(), fingerprint) {
        (true, Some(f)) => Ok(f),
        _ => Err(Error::TorExited {
            status: format!("tor --list-fingerprint: {}", out.status),
            last_log: format!("{stdout}{}", String::from_utf8_lossy(&out.stderr)),
        }),
    }
}

fn find_gencert(tor_bin: Option<&Path>) -> Result<PathBuf> {
    let beside = find_tor(tor_bin)
        .ok()
        .and_then(|t| t.parent().map(|d| d.join("tor-gencert")));
    let on_path = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("tor-gencert"))
            .find(|p| p.is_file())
    });
    beside
        .filter(|p| p.is_file())
        .or(on_path)
        .or_else(|| Some(PathBuf::from("/usr/bin/tor-gencert")).filter(|p| p.is_file()))
        .ok_or_else(|| Error::TorNotFound {
            searched: "tor-gencert was not found beside tor, on PATH or in /usr/bin (it comes with the tor package)".into(),
        })
}
