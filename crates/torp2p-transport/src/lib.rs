#![doc = include_str!("../README.md")]

#[cfg(not(unix))]
compile_error!("torp2p-transport listens on unix sockets, so it builds on unix platforms only");

mod backend;
mod config;
mod error;
mod identity;
mod listener;
mod stream;
mod transport;
mod upgrade;

pub use config::{Clearnet, Config, ReachabilityWatch, RestartPolicy, TorSource};
pub use error::{DialFailure, Error, Restarting, Unreachability};
pub use identity::identity_from_key;
pub use stream::Stream;
pub use transport::{Transport, listen_addr};
pub use upgrade::HANDSHAKE_TIME;

/// The crates this one is built on, re-exported so that users name the same types: the tor
/// daemon ([`daemon::Config`], [`daemon::AttachConfig`], ...), the SOCKS dial path
/// ([`socks::Config`], [`socks::DialError`], ...) and onion addresses ([`addr::OnionAddress`],
/// ...).
pub use {torp2p_addr as addr, torp2p_daemon as daemon, torp2p_socks as socks};

/// The embedded arti backend's crate (feature `arti`): its [`arti::Config`] goes into
/// [`TorSource::Embedded`].
#[cfg(feature = "arti")]
pub use torp2p_arti as arti;

/// The items of the crates below that most users need, and what [`Config`] takes.
pub use torp2p_daemon::{
    ClientAuthKey, ClientAuthPublicKey, ListenTarget, OnionKey, OnionServiceOptions, PowDefenses,
    Publication, Tor,
};
pub use torp2p_socks::{DialError, Isolation};
