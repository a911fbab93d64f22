#![doc = include_str!("../README.md")]

mod client;
mod config;
mod error;
mod isolation;
mod service;
mod stream;

pub use client::{Client, onion_address};
pub use config::{Config, ConfigCheck};
pub use error::{ArtiError, DialError, Error};
pub use isolation::Isolation;
pub use service::{OnionService, ServiceState};
pub use stream::Stream;
