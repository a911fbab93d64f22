#![doc = include_str!("../README.md")]

mod classify;
mod error;
mod local;
mod onion;

pub use classify::{DialAddr, DialTarget};
pub use error::{Checksum, ParseError};
pub use local::{LocalAddr, LocalAddrError};
pub use onion::{
    ENCODED_LEN, LIBP2P_BYTES_LEN, OnionAddress, OnionSocketAddr, PUBLIC_KEY_LEN, TORUT_BYTES_LEN,
    VERSION,
};

/// Re-exported so that users name the same `Multiaddr` and `PeerId` types as this crate.
pub use libp2p_identity::PeerId;
pub use multiaddr::Multiaddr;
