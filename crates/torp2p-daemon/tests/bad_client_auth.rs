//! The catalogue of bad client authorization files and keys: `ClientAuthKey::load` (tor's
//! `<name>.auth_private`), `ClientAuthPublicKey::load` (`<name>.auth`) and
//! `ClientAuthPublicKey::from_str`. Each case: the input, the problem it must give, and words
//! the message must contain that say what was wrong and what to do.
//!
//! 20 cases: 9 private-key files, 6 public-key files, 5 key texts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use torp2p_daemon::{ClientAuthKey, ClientAuthPublicKey, Error, KeyProblem, OnionKey};

/// A valid 52-character base32 key.
const KEY: &str = "2CHQWT4NCT3NA7OOWCWFFTLBJSMGD7EMJPFIUD6HD3KLZ3YC5O7Q";

fn file(dir: &Path, name: &str, text: &[u8], mode: u32) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    p
}

fn problem(e: &Error) -> Option<KeyProblem> {
    match e {
        Error::KeyFile { problem, .. } | Error::InvalidKey { problem } => Some(*problem),
        _ => None,
    }
}

#[test]
fn bad_client_authorization_files_say_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let onion = OnionKey::generate().onion_address().to_base32();
    let not_private = "not a tor client authorization private-key file";
    let not_public = "not a tor client authorization file";
    let not_key = "is not an x25519 key";

    // (file, expected problem, words)
    let private_cases: Vec<(PathBuf, KeyProblem, &str)> = vec![
        (
            d.join("missing.auth_private"),
            KeyProblem::Missing,
            "does not exist",
        ),
        (
            file(d, "empty", b"", 0o600),
            KeyProblem::NotAuthPrivateFile,
            not_private,
        ),
        (
            file(
                d,
                "public-instead",
                format!("descriptor:x25519:{KEY}").as_bytes(),
                0o600,
            ),
            KeyProblem::NotAuthPrivateFile,
            not_private,
        ),
        (
            file(
                d,
                "bad-address",
                format!("abc:descriptor:x25519:{KEY}").as_bytes(),
                0o600,
            ),
            KeyProblem::NotAuthPrivateFile,
            not_private,
        ),
        (
            file(
                d,
                "ed25519",
                format!("{onion}:descriptor:ed25519:{KEY}").as_bytes(),
                0o600,
            ),
            KeyProblem::NotAuthPrivateFile,
            not_private,
        ),
        (
            file(
                d,
                "short-key",
                format!("{onion}:descriptor:x25519:AAAA").as_bytes(),
                0o600,
            ),
            KeyProblem::NotX25519Key,
            not_key,
        ),
        (
            file(
                d,
                "not-base32",
                format!("{onion}:descriptor:x25519:{}", "1".repeat(52)).as_bytes(),
                0o600,
            ),
            KeyProblem::NotX25519Key,
            not_key,
        ),
        (
            file(
                d,
                "open",
                format!("{onion}:descriptor:x25519:{KEY}").as_bytes(),
                0o644,
            ),
            KeyProblem::NotPrivate { mode: 0o644 },
            "chmod 600",
        ),
        (
            file(d, "binary", &[0xff, 0xfe, 0, 1, 2], 0o600),
            KeyProblem::NotAuthPrivateFile,
            not_private,
        ),
    ];
    for (path, expected, words) in &private_cases {
        let e = ClientAuthKey::load(path).expect_err(&path.display().to_string());
        assert_eq!(problem(&e), Some(*expected), "{}: {e:?}", path.display());
        assert!(e.to_string().contains(words), "{}: {e}", path.display());
        assert!(
            e.to_string().contains(&path.display().to_string()),
            "names the file: {e}"
        );
    }

    let public_cases: Vec<(PathBuf, KeyProblem, &str)> = vec![
        (
            d.join("missing.auth"),
            KeyProblem::Missing,
            "does not exist",
        ),
        (
            file(d, "p-empty", b"", 0o644),
            KeyProblem::NotAuthFile,
            not_public,
        ),
        (
            file(
                d,
                "p-private-instead",
                format!("{onion}:descriptor:x25519:{KEY}").as_bytes(),
                0o600,
            ),
            KeyProblem::NotAuthFile,
            not_public,
        ),
        (
            file(d, "p-bare-key", KEY.as_bytes(), 0o644),
            KeyProblem::NotAuthFile,
            not_public,
        ),
        (
            file(d, "p-short", b"descriptor:x25519:AAAA", 0o644),
            KeyProblem::NotAuthFile,
            not_public,
        ),
        (
            file(d, "p-binary", &[0xc3, 0x28, 0x0a], 0o644),
            KeyProblem::NotAuthFile,
            not_public,
        ),
    ];
    for (path, expected, words) in &public_cases {
        let e = ClientAuthPublicKey::load(path).expect_err(&path.display().to_string());
        assert_eq!(problem(&e), Some(*expected), "{}: {e:?}", path.display());
        assert!(e.to_string().contains(words), "{}: {e}", path.display());
    }

    let texts = [
        "",
        "AAAA",
        &"A".repeat(53),
        &"8".repeat(52),
        &format!("{KEY} trailing"),
    ];
    for text in texts {
        let e = text.parse::<ClientAuthPublicKey>().expect_err(text);
        assert_eq!(problem(&e), Some(KeyProblem::NotX25519Key), "{text:?}");
        assert!(e.to_string().contains("52 base32 characters"), "{e}");
    }
    assert_eq!(
        private_cases.len() + public_cases.len() + texts.len(),
        20,
        "update the count at the top"
    );

    // The good forms load: the same key, either case.
    let good = file(
        d,
        "good.auth",
        format!("descriptor:x25519:{KEY}\n").as_bytes(),
        0o644,
    );
    assert_eq!(
        ClientAuthPublicKey::load(&good).unwrap(),
        KEY.to_lowercase().parse::<ClientAuthPublicKey>().unwrap()
    );
}
