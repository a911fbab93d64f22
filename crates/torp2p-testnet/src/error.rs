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
