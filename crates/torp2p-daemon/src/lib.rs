#![doc = include_str!("../README.md")]

mod config;
mod control;
mod error;
mod events;
mod key;
pub mod keygen;
mod onion_service;
mod process;
#[cfg(test)]
mod properties;
mod tor;

pub use config::{AttachConfig, AuthMethod, Config, Listeners, LocalAddr};
pub use error::{Error, Result};
pub use events::BootstrapStatus;
pub use key::OnionKey;
pub use onion_service::{
    OnionService, OnionServiceOptions, PortMapping, PowDefenses, Publication, UploadState,
};
pub use tor::Tor;
