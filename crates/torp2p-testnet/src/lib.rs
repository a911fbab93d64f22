#![doc = include_str!("../README.md")]

mod consensus;
mod error;
mod net;
mod ports;

pub use error::Error;
pub use net::{Builder, TestNet};
