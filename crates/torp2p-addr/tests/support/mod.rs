//! What the catalogues of malformed addresses share: known addresses, the parsers, the check.

#![allow(dead_code, unreachable_pub)]

use std::str::FromStr;

use torp2p_addr::{DialAddr, OnionAddress, OnionSocketAddr, ParseError};

/// A valid v3 address (tor-generated, see vectors.rs).
pub const GOOD: &str = "sqbhexutqt2qyu6q3armsbts7uiudgunsktlkvuhprcpwemgzaf5hvad";
/// `GOOD` with one character of the key part changed: the checksum no longer matches.
pub const BAD_SUM: &str = "sqbhexutqt3qyu6q3armsbts7uiudgunsktlkvuhprcpwemgzaf5hvad";
/// `GOOD` with the last character changed: the version byte is no longer 3.
pub const BAD_VERSION: &str = "sqbhexutqt2qyu6q3armsbts7uiudgunsktlkvuhprcpwemgzaf5hvaa";
/// A valid peer id.
pub const PEER: &str = "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA";
/// A v2 onion address (16 characters).
pub const V2: &str = "expyuzz4wqqyqhjn";

/// Which parser a case goes through.
#[derive(Clone, Copy, Debug)]
pub enum Parser {
    /// `OnionAddress::from_str`.
    Address,
    /// `OnionSocketAddr::from_str`.
    SocketAddr,
    /// `DialAddr::from_str`.
    Multiaddr,
}

fn parse(p: Parser, input: &str) -> Result<(), ParseError> {
    match p {
        Parser::Address => OnionAddress::from_str(input).map(drop),
        Parser::SocketAddr => OnionSocketAddr::from_str(input).map(drop),
        Parser::Multiaddr => DialAddr::from_str(input).map(drop),
    }
}

fn variant(e: &ParseError) -> &'static str {
    match e {
        ParseError::Empty => "Empty",
        ParseError::V2Address { .. } => "V2Address",
        ParseError::WrongLength { .. } => "WrongLength",
        ParseError::WrongByteLength { .. } => "WrongByteLength",
        ParseError::InvalidCharacter { .. } => "InvalidCharacter",
        ParseError::WrongVersion { .. } => "WrongVersion",
        ParseError::BadChecksum { .. } => "BadChecksum",
        ParseError::InvalidPublicKey { .. } => "InvalidPublicKey",
        ParseError::MissingPort { .. } => "MissingPort",
        ParseError::PortZero { .. } => "PortZero",
        ParseError::InvalidPort { .. } => "InvalidPort",
        ParseError::InvalidMultiaddr { .. } => "InvalidMultiaddr",
        ParseError::UnsupportedProtocolStack { .. } => "UnsupportedProtocolStack",
        ParseError::TrailingGarbage { .. } => "TrailingGarbage",
        _ => "unknown",
    }
}

/// One case: the parser, the input, the expected variant, words the message must contain.
pub type Case<'a> = (Parser, String, &'a str, Vec<&'a str>);

/// Runs every case; fails with the list of those that went wrong. Every message must also be
/// one line of at most 600 bytes.
pub fn check(cases: &[Case<'_>]) {
    let mut failures = Vec::new();
    for (parser, input, want, words) in cases {
        let shown: String = input.chars().take(70).collect();
        match parse(*parser, input) {
            Ok(()) => failures.push(format!("{parser:?} {shown:?}: accepted, expected {want}")),
            Err(e) => {
                let msg = e.to_string();
                if variant(&e) != *want {
                    failures.push(format!(
                        "{parser:?} {shown:?}: {} ({msg}), expected {want}",
                        variant(&e)
                    ));
                }
                for w in words {
                    if !msg.contains(w) {
                        failures.push(format!("{parser:?} {shown:?}: message lacks {w:?}: {msg}"));
                    }
                }
                if msg.len() > 600 || msg.contains('\n') {
                    failures.push(format!("{parser:?} {shown:?}: not one short line: {msg}"));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
