#![doc = include_str!("../README.md")]

mod capture;
mod config;
mod dial;
mod error;
mod stream;

pub use config::{Config, Isolation};
pub use dial::{MAX_ISOLATION_KEY, connect};
pub use error::{DialError, Malformed, Phase};
pub use stream::Stream;

/// Re-exported so that users name the same target and proxy address types as this crate.
pub use torp2p_addr::{DialTarget, LocalAddr};
