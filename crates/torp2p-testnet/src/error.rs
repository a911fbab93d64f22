//! The crate's error type.

use std::path::PathBuf;
use std::time::Duration;

/// Why a test network could not be built or joined.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A tor of the network (or a tool) failed.
    #[error("{node}: {source} (logs: {dir})")]
    Node {
        /// Which node, e.g. `auth0`, `relay2`, `client1`.
        node: String,
        /// The network's directory, where every node's log is.
        dir: PathBuf,
        /// What the daemon said.
        #[source]
        source: Box<torp2p_daemon::Error>,
    },

    /// No set of free ports was found on 127.0.0.1.
    #[error("no free TCP ports on 127.0.0.1 below the ephemeral range: {0}")]
    Ports(String),

    /// The authorities did not publish a usable consensus in time.
    #[error(
        "the directory authorities did not publish a consensus listing every relay with HSDir, Guard, Stable and Fast within {timeout:?}; missing: {missing} (logs: {dir})"
    )]
    ConsensusTimeout {
        /// How long we waited.
        timeout: Duration,
        /// What was missing at the end.
        missing: String,
        /// The network's directory.
        dir: PathBuf,
    },

    /// Every directory authority of the network was killed: nobody can be asked for the
    /// consensus.
    #[error("no directory authority of the network is running (logs: {dir})")]
    NoAuthority {
        /// The network's directory.
        dir: PathBuf,
    },

    /// A tor run as a distribution's service ([`crate::TestNet::spawn_system_tor`]) must be
    /// started by root: it switches to the service's user, as the service does.
    #[error(
        "starting tor as a distribution's service starts it needs root (this process runs as {}): tor starts as root and switches to the service's user; run the test as root (CI does)",
        euid.map(|u| format!("uid {u}")).unwrap_or_else(|| "an unknown uid: no /proc/self/status".into())
    )]
    NotRoot {
        /// This process's effective uid, if known.
        euid: Option<u32>,
    },

    /// A service's defaults file that the system-style tor cannot be started from.
    #[error("the service defaults file {}: {problem}", path.display())]
    ServiceDefaults {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },

    /// The system-style tor does not run as the service's user.
    #[error(
        "the system-style tor should run as {user} (uid {uid}) but runs as {} (logs: {dir})",
        actual.map(|u| format!("uid {u}")).unwrap_or_else(|| "an unknown uid".into())
    )]
    NotSwitched {
        /// The service's user.
        user: String,
        /// Its uid.
        uid: u32,
        /// The uid tor runs as, if known.
        actual: Option<u32>,
        /// tor's directory.
        dir: PathBuf,
    },

    /// The authorities still listed a relay that [`TestNet::drop_from_consensus`] asked them
    /// to drop.
    ///
    /// [`TestNet::drop_from_consensus`]: crate::TestNet::drop_from_consensus
    #[error(
        "the directory authorities still list the relay ${fingerprint} after {timeout:?} (logs: {dir})"
    )]
    StillListed {
        /// The relay's fingerprint.
        fingerprint: String,
        /// How long we waited.
        timeout: Duration,
        /// The network's directory.
        dir: PathBuf,
    },

    /// Local I/O failed.
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
    /// Whether a tor of the network could not bind one of its ports because another process
    /// holds it (`Could not bind to ...: Address already in use` in tor's last log lines).
    pub(crate) fn is_port_taken(&self) -> bool {
        match self {
            Error::Node { source, .. } => source
                .tor_log()
                .is_some_and(|log| log.contains("Address already in use")),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exited(last_log: &str) -> Error {
        Error::Node {
            node: "auth2".into(),
            dir: PathBuf::from("/tmp/net"),
            source: Box::new(torp2p_daemon::Error::TorExited {
                status: "exit status: 1".into(),
                last_log: last_log.into(),
            }),
        }
    }

    #[test]
    fn a_port_taken_meanwhile_is_told_apart() {
        let taken = "[warn] Could not bind to 127.0.0.1:29628: Address already in use. Is Tor already running?\n[err] Reading config failed--see warnings above.";
        assert!(exited(taken).is_port_taken());
        assert!(!exited("[err] Reading config failed--see warnings above.").is_port_taken());
        assert!(!Error::Ports("none".into()).is_port_taken());
    }
}
