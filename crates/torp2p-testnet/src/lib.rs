#![doc = include_str!("../README.md")]

mod arti;
mod consensus;
mod error;
mod net;
mod ports;
mod shared_random;
mod system;

pub use error::Error;
pub use net::{
    ARTI_TOML, Builder, CLIENT_TORRC, HS_TIME_PERIOD_MINUTES, TestNet, VOTING_INTERVAL_SECS,
};
pub use system::{DEBIAN_SERVICE_DEFAULTS, SystemTor};
