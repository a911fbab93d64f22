//! The crate's error type.

use std::path::PathBuf;
use std::time::Duration;

use torp2p_addr::LocalAddr;

/// What went wrong with the tor daemon.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The `tor` binary was not found.
    #[error(
        "the `tor` binary was not found ({searched}); install it (Debian/Ubuntu: `sudo apt-get install tor`, macOS: `brew install tor`) or name it with TOR_BIN or the config"
    )]
    TorNotFound {
        /// Where we looked.
        searched: String,
    },

    /// tor could not be started at all.
    #[error("could not start {binary}")]
    Spawn {
        /// The binary we tried to run.
        binary: PathBuf,
        /// Why the OS refused.
        #[source]
        source: std::io::Error,
    },

    /// tor exited (or was killed) before it was ready, or while we needed it. The message
    /// names tor's last warning; all of its last log lines are in [`Error::tor_log`].
    #[error("tor exited ({status}){}", warning_suffix(last_log))]
    TorExited {
        /// The exit status as the OS reported it.
        status: String,
        /// tor's last log lines, oldest first, one per line.
        last_log: String,
    },

    /// The control connection to an attached tor closed: tor went away.
    #[error("the control connection to tor at {addr} closed: tor stopped or restarted")]
    ControlClosed {
        /// The control address.
        addr: LocalAddr,
    },

    /// tor did not open its control port in time. Its last log lines are in
    /// [`Error::tor_log`].
    #[error(
        "tor did not open its control port within {timeout:?}{}",
        warning_suffix(last_log)
    )]
    ControlPortTimeout {
        /// How long we waited.
        timeout: Duration,
        /// tor's last log lines, oldest first, one per line.
        last_log: String,
    },

    /// Could not connect to the control port.
    #[error(
        "could not connect to tor's control port at {addr}: is tor running with a ControlPort there?"
    )]
    ControlConnect {
        /// The control address.
        addr: LocalAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },

    /// Authentication on the control port failed.
    #[error("authentication to tor's control port failed ({method}): {reason}")]
    AuthFailed {
        /// The method tried (SAFECOOKIE, COOKIE, HASHEDPASSWORD, NULL), or "none" if none fits.
        method: &'static str,
        /// What tor or the check said.
        reason: String,
    },

    /// tor answered a command with an error status.
    #[error("tor refused `{command}`: {code} {reply}")]
    Command {
        /// The command (without secrets).
        command: String,
        /// The status code.
        code: u16,
        /// tor's reply text.
        reply: String,
    },

    /// A reply from tor that we could not understand.
    #[error("unexpected reply from tor to `{command}`: {detail}")]
    Protocol {
        /// The command (without secrets).
        command: String,
        /// What was wrong.
        detail: String,
    },

    /// A control-port operation did not finish in time.
    #[error("tor did not answer `{command}` within {timeout:?}")]
    CommandTimeout {
        /// The command (without secrets).
        command: String,
        /// How long we waited.
        timeout: Duration,
    },

    /// tor did not finish bootstrapping in time.
    #[error(
        "tor did not bootstrap within {timeout:?}: stuck at {progress}% ({tag}: {summary}){}",
        last_warning.as_ref().map(|w| format!("; tor's last warning: {w}")).unwrap_or_default()
    )]
    BootstrapTimeout {
        /// How long we waited.
        timeout: Duration,
        /// The last progress percentage.
        progress: u8,
        /// The last phase tag.
        tag: String,
        /// The last phase summary.
        summary: String,
        /// tor's last warning, if any.
        last_warning: Option<String>,
    },

    /// tor refused to create an onion service.
    #[error("tor refused the onion service: {reply}")]
    OnionServiceRejected {
        /// tor's reply text.
        reply: String,
    },

    /// The onion service's descriptor was not published in time.
    #[error(
        "the onion service's descriptor was not published within {timeout:?} ({uploaded} of {uploads} uploads confirmed, {failed} failed); is the tor network reachable and bootstrapped?"
    )]
    PublishTimeout {
        /// How long we waited.
        timeout: Duration,
        /// Uploads started.
        uploads: usize,
        /// Uploads confirmed.
        uploaded: usize,
        /// Uploads failed.
        failed: usize,
    },

    /// A key file could not be used.
    #[error("key file {}: {problem}", path.display())]
    KeyFile {
        /// The file.
        path: PathBuf,
        /// What is wrong and what to do.
        problem: KeyProblem,
        /// The I/O cause, if any.
        #[source]
        source: Option<std::io::Error>,
    },

    /// Bytes that are not an onion service secret key.
    #[error("not an onion service secret key: {problem}")]
    InvalidKey {
        /// What is wrong.
        problem: KeyProblem,
    },

    /// The operating system gave no random bytes for a new key.
    #[error("no randomness from the operating system for a new key: {reason}")]
    NoRandomness {
        /// What the OS said.
        reason: String,
    },

    /// A torrc file whose content cannot be used as torrc lines (it could be read: I/O
    /// failures are [`Error::Io`]).
    #[error("torrc file {}: {problem}", path.display())]
    TorrcFile {
        /// The file.
        path: PathBuf,
        /// What is wrong and what to do.
        problem: TorrcProblem,
    },

    /// A torrc line we were given cannot be written to a torrc.
    #[error("the torrc line {line:?} contains a line break or NUL: give one option per line")]
    TorrcLine {
        /// The line as given.
        line: String,
    },

    /// A path tor must be told cannot be written in its configuration or on its control port.
    #[error(
        "the path {} cannot be given to tor: it must be valid UTF-8 without spaces, quotes or line breaks",
        path.display()
    )]
    UnsupportedPath {
        /// The path.
        path: PathBuf,
    },

    /// An onion service was asked for without any port.
    #[error("an onion service needs at least one port")]
    NoPorts,

    /// Virtual port 0 was asked for.
    #[error("virtual port 0 is not a port: use 1 to 65535")]
    VirtualPortZero,

    /// A `GETINFO` key with characters the control protocol cannot carry.
    #[error("{key:?} is not a GETINFO key (no spaces or line breaks)")]
    InvalidGetInfoKey {
        /// The key as given.
        key: String,
    },

    /// A listener's TCP port on 127.0.0.1 could not be bound, or accepting on it failed.
    #[error("{what} {addr}")]
    ListenerTcp {
        /// What we were doing.
        what: &'static str,
        /// The port (`127.0.0.1:0` when binding).
        addr: std::net::SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },

    /// Local I/O (data directory, torrc, a listener's unix socket) failed.
    #[error("{what} {}", path.display())]
    Io {
        /// What we were doing.
        what: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// What is wrong with a key or a key file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyProblem {
    /// The file does not exist.
    #[error(
        "does not exist (create one with OnionKey::generate and save, or OnionKey::load_or_generate)"
    )]
    Missing,
    /// The file cannot be read.
    #[error("cannot be read")]
    Unreadable,
    /// The file cannot be written.
    #[error("cannot be written")]
    Unwritable,
    /// The path is a directory.
    #[error("is a directory; name the key file inside it (tor calls it hs_ed25519_secret_key)")]
    Directory,
    /// The path is a symbolic link to nothing.
    #[error(
        "is a symbolic link to a file that does not exist: fix the link, or remove it to have a new key generated"
    )]
    DanglingSymlink,
    /// The path is neither a regular file nor a directory (a pipe, a socket, a device).
    #[error("is not a regular file (a pipe, socket or device?): name the key file itself")]
    NotAFile,
    /// The file is tor's public key file, not the secret key.
    #[error(
        "is tor's public key file (hs_ed25519_public_key): name the secret key file beside it, hs_ed25519_secret_key"
    )]
    PublicKeyFile,
    /// The file holds a key as the control port writes it, `ED25519-V3:<base64>`.
    #[error(
        "holds a key in the control port's `ED25519-V3:<base64>` form; give tor's binary key file (hs_ed25519_secret_key) instead"
    )]
    ControlPortForm,
    /// The path names no file (it ends in `..` or is a root).
    #[error("names no file")]
    NoFileName,
    /// Other users may read or write the file.
    #[error(
        "is readable or writable by other users (mode {mode:03o}); the secret key must be private: run `chmod 600` on it"
    )]
    NotPrivate {
        /// The file's permission bits.
        mode: u32,
    },
    /// The file has the wrong size.
    #[error(
        "has {len} bytes; a tor v3 onion service secret key file has 96 (truncated or not a key file?)"
    )]
    WrongSize {
        /// The file's size in bytes.
        len: usize,
    },
    /// The file does not start with tor's header.
    #[error(
        "does not start with `== ed25519v1-secret: type0 ==`: not a tor v3 onion service secret key"
    )]
    WrongHeader,
    /// Not a client authorization public-key file (`<name>.auth`).
    #[error(
        "is not a tor client authorization file: expected one line `descriptor:x25519:<52 base32 characters>`"
    )]
    NotAuthFile,
    /// Not a client authorization private-key file (`<name>.auth_private`).
    #[error(
        "is not a tor client authorization private-key file: expected one line `<56-character onion address>:descriptor:x25519:<52 base32 characters>`"
    )]
    NotAuthPrivateFile,
    /// Not an x25519 key in base32.
    #[error("is not an x25519 key: expected 52 base32 characters (A-Z, 2-7)")]
    NotX25519Key,
    /// The scalar is not clamped as ed25519 requires.
    #[error(
        "the bytes are not an expanded ed25519 secret key (the scalar is not clamped): a corrupted file, or a seed given instead of an expanded key"
    )]
    NotClamped,
}

/// What is wrong with the content of a torrc file ([`Error::TorrcFile`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TorrcProblem {
    /// The file is larger than any torrc (e.g. `/dev/zero`, or a file named by mistake).
    #[error("is larger than {max} bytes, and a torrc has a few kilobytes: is this the right file?")]
    TooLarge {
        /// The most torp2p reads.
        max: u64,
    },
    /// The file is not UTF-8 text.
    #[error("line {line} is not UTF-8 text: is this the right file? (save a torrc as UTF-8)")]
    NotUtf8 {
        /// The first line that is not UTF-8, counted from 1.
        line: usize,
    },
    /// The file has a NUL byte: binary data, not a torrc.
    #[error("line {line} has a NUL byte, and a torrc is text: is this the right file?")]
    Nul {
        /// The first line with a NUL byte, counted from 1.
        line: usize,
    },
}

impl Error {
    /// Whether the error means tor is gone (exited, killed, or its control connection closed).
    pub fn is_tor_gone(&self) -> bool {
        matches!(self, Error::TorExited { .. } | Error::ControlClosed { .. })
    }

    /// tor's last log lines (oldest first, one per line) when the error is about a tor we
    /// spawned that exited or did not start: the place to look for why. The message itself
    /// names only the last warning, to stay one line.
    pub fn tor_log(&self) -> Option<&str> {
        match self {
            Error::TorExited { last_log, .. } | Error::ControlPortTimeout { last_log, .. }
                if !last_log.is_empty() =>
            {
                Some(last_log)
            }
            _ => None,
        }
    }
}

/// `; tor's last warning: ...` for a log tail's last `[warn]` line (else its last `[err]`
/// line), or nothing. The warning is preferred: when tor refuses its configuration, the
/// warning names the bad option and the error after it only says that reading failed.
fn warning_suffix(log: &str) -> String {
    let last = |level: &str| log.lines().rev().find(|l| l.contains(level));
    last("[warn]")
        .or_else(|| last("[err]"))
        .map(|w| format!("; tor's last warning: {}", w.trim()))
        .unwrap_or_default()
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_one_line_and_name_the_last_warning() {
        let log = "Nov 01 [notice] Tor starting\nNov 01 [warn] Failed to parse/validate config: Unknown option 'NoSuchOption'\nNov 01 [err] Reading config failed\nNov 01 [notice] Exiting";
        let e = Error::TorExited {
            status: "exit status: 1".into(),
            last_log: log.into(),
        };
        let m = e.to_string();
        assert!(!m.contains('\n'), "{m}");
        assert!(m.contains("Unknown option 'NoSuchOption'"), "{m}");
        assert_eq!(e.tor_log(), Some(log));
        let quiet = Error::ControlPortTimeout {
            timeout: Duration::from_secs(1),
            last_log: String::new(),
        };
        assert_eq!(
            quiet.to_string(),
            "tor did not open its control port within 1s"
        );
        assert_eq!(quiet.tor_log(), None);
    }
}
