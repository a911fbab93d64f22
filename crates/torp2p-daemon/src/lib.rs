#![doc = include_str!("../README.md")]

mod client_auth;
mod config;
mod control;
mod error;
mod events;
mod fs;
mod key;
#[cfg(feature = "keygen")]
pub mod keygen;
mod listener;
mod nudge;
mod onion_service;
mod process;
#[cfg(test)]
mod properties;
mod reach;
mod shared;
mod tor;
mod wait;

pub use client_auth::{ClientAuthKey, ClientAuthPublicKey};
pub use config::{AttachConfig, AuthMethod, Config, Listeners, MAX_TORRC_FILE_BYTES};
pub use error::{Error, KeyProblem, Result, TorrcProblem};
pub use events::{BootstrapStatus, UploadState};
pub use key::OnionKey;
pub use listener::{IncomingStream, OnionListener};
pub use onion_service::{
    ListenTarget, OnionService, OnionServiceOptions, PortMapping, PowDefenses, Publication,
};
pub use tor::Tor;

/// Re-exported so that users name the same address type as this crate.
pub use torp2p_addr::LocalAddr;
