#![doc = include_str!("../README.md")]

mod consensus;
mod error;
mod net;
mod ports;
mod system;

pub use error::Error;
pub use net::{Builder, TestNet};
pub use system::{DEBIAN_SERVICE_DEFAULTS, SystemTor};
