//! The crate's error type.

use std::path::PathBuf;
use std::time::Duration;

use crate::LocalAddr;

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

    /// tor exited (or was killed) before it was ready, or while we needed it.
    #[error("tor exited ({status}); its last log lines:\n{last_log}")]
    TorExited {
        /// The exit status as the OS reported it.
        status: String,
        /// tor's last log lines, oldest first.
        last_log: String,
    },

    /// The control connection to an attached tor closed: tor went away.
    #[error("the control connection to tor at {addr} closed: tor stopped or restarted")]
    ControlClosed {
        /// The control address.
        addr: LocalAddr,
    },

    /// tor did not open its control port in time.
    #[error(
        "tor did not open its control port within {timeout:?}; its last log lines:\n{last_log}"
    )]
    ControlPortTimeout {
        /// How long we waited.
        timeout: Duration,
        /// tor's last log lines.
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
    #[error("key file {path}: {problem}")]
    KeyFile {
        /// The file.
        path: PathBuf,
        /// What is wrong and what to do.
        problem: String,
        /// The I/O cause, if any.
        #[source]
        source: Option<std::io::Error>,
    },

    /// The configuration is unusable.
    #[error("invalid tor configuration: {0}")]
    Config(String),

    /// Local I/O (data directory, torrc) failed.
    #[error("{what} {path}")]
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

impl Error {
    /// Whether the error means tor is gone (exited, killed, or its control connection closed).
    pub fn is_tor_gone(&self) -> bool {
        matches!(self, Error::TorExited { .. } | Error::ControlClosed { .. })
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
