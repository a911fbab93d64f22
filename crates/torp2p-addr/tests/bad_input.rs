//! The catalogue of malformed addresses: each input, the error it must give, and words its
//! message must contain (so that a user learns what was wrong and sees the input).
#![allow(clippy::unwrap_used)]

use std::str::FromStr;

use torp2p_addr::{DialAddr, OnionAddress, OnionSocketAddr, ParseError};

/// A valid v3 address (tor-generated, see vectors.rs).
const GOOD: &str = "sqbhexutqt2qyu6q3armsbts7uiudgunsktlkvuhprcpwemgzaf5hvad";
/// `GOOD` with one character of the key part changed: the checksum no longer matches.
const BAD_SUM: &str = "sqbhexutqt3qyu6q3armsbts7uiudgunsktlkvuhprcpwemgzaf5hvad";
/// `GOOD` with the last character changed: the version byte is no longer 3.
const BAD_VERSION: &str = "sqbhexutqt2qyu6q3armsbts7uiudgunsktlkvuhprcpwemgzaf5hvaa";

/// Which parser a case goes through.
#[derive(Clone, Copy)]
enum Parser {
    Address,
    SocketAddr,
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

#[test]
fn every_malformed_address_gets_its_error_and_a_clear_message() {
    use Parser::*;
    let peer = "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA";
    let huge = "a".repeat(1_000_000);
    let v2 = "expyuzz4wqqyqhjn";
    // (parser, input, expected variant, words the message must contain)
    let cases: Vec<(Parser, String, &str, Vec<&str>)> = vec![
        (Address, "".into(), "Empty", vec!["empty"]),
        (Address, v2.into(), "V2Address", vec![v2, "0.4.6"]),
        (Address, format!("{v2}.onion"), "V2Address", vec![v2, "v3"]),
        (
            Address,
            "abc".into(),
            "WrongLength",
            vec!["3 characters", "56"],
        ),
        (
            Address,
            format!("{GOOD}a"),
            "WrongLength",
            vec!["57 characters"],
        ),
        (
            Address,
            GOOD[..55].into(),
            "WrongLength",
            vec!["55 characters"],
        ),
        (
            Address,
            format!("{GOOD}.onion.onion"),
            "InvalidCharacter",
            vec!["'.'"],
        ),
        (
            Address,
            format!("{}1", &GOOD[..55]),
            "InvalidCharacter",
            vec!["'1'", "position 55"],
        ),
        (
            Address,
            format!("{}8", &GOOD[..55]),
            "InvalidCharacter",
            vec!["'8'"],
        ),
        (
            Address,
            format!("{}=", &GOOD[..55]),
            "InvalidCharacter",
            vec!["'='"],
        ),
        (
            Address,
            format!(" {GOOD}"),
            "InvalidCharacter",
            vec!["' '", "position 0"],
        ),
        (
            Address,
            format!("{GOOD}\n"),
            "InvalidCharacter",
            vec!["\\n"],
        ),
        (
            Address,
            format!("{}\u{0}", &GOOD[..55]),
            "InvalidCharacter",
            vec!["\\0"],
        ),
        (
            Address,
            format!("{}é", &GOOD[..55]),
            "InvalidCharacter",
            vec!["'é'"],
        ),
        (
            Address,
            format!("{GOOD}.com"),
            "InvalidCharacter",
            vec!["'.'"],
        ),
        (
            Address,
            format!("http://{GOOD}.onion"),
            "InvalidCharacter",
            vec!["':'"],
        ),
        (
            Address,
            BAD_SUM.into(),
            "BadChecksum",
            vec!["checksum", BAD_SUM, "mistyped"],
        ),
        (
            Address,
            BAD_SUM.to_uppercase(),
            "BadChecksum",
            vec!["checksum"],
        ),
        (
            Address,
            BAD_VERSION.into(),
            "WrongVersion",
            vec!["version byte", "0x03"],
        ),
        (
            Address,
            huge.clone(),
            "WrongLength",
            vec!["1000000 characters", "1000000 characters in all"],
        ),
        (
            SocketAddr,
            GOOD.into(),
            "MissingPort",
            vec!["no port", GOOD],
        ),
        (
            SocketAddr,
            format!("{GOOD}.onion:"),
            "MissingPort",
            vec!["no port"],
        ),
        (
            SocketAddr,
            format!("{GOOD}.onion:0"),
            "PortZero",
            vec!["port 0", "1 to 65535"],
        ),
        (
            SocketAddr,
            format!("{GOOD}.onion:65536"),
            "InvalidPort",
            vec!["65536"],
        ),
        (
            SocketAddr,
            format!("{GOOD}.onion:-1"),
            "InvalidPort",
            vec!["-1"],
        ),
        (
            SocketAddr,
            format!("{GOOD}.onion:80x"),
            "InvalidPort",
            vec!["80x"],
        ),
        (
            SocketAddr,
            format!("{GOOD}.onion: 80"),
            "InvalidPort",
            vec!["not a number"],
        ),
        (
            SocketAddr,
            format!("{BAD_SUM}.onion:80"),
            "BadChecksum",
            vec!["checksum"],
        ),
        (
            SocketAddr,
            format!("{v2}.onion:80"),
            "V2Address",
            vec!["v2"],
        ),
        (SocketAddr, "".into(), "Empty", vec!["empty"]),
        (Multiaddr, "".into(), "Empty", vec!["empty"]),
        (
            Multiaddr,
            "onion3/abc".into(),
            "InvalidMultiaddr",
            vec!["onion3/abc", "not a valid multiaddr"],
        ),
        (
            Multiaddr,
            "/onion3".into(),
            "InvalidMultiaddr",
            vec!["/onion3/<56 characters>:<port>"],
        ),
        (
            Multiaddr,
            format!("/onion3/{GOOD}"),
            "MissingPort",
            vec!["no port"],
        ),
        (
            Multiaddr,
            format!("/onion3/{GOOD}:0"),
            "PortZero",
            vec!["port 0"],
        ),
        (
            Multiaddr,
            format!("/onion3/{GOOD}:99999"),
            "InvalidPort",
            vec!["99999"],
        ),
        (
            Multiaddr,
            format!("/onion3/{BAD_SUM}:80"),
            "BadChecksum",
            vec!["checksum", BAD_SUM],
        ),
        (
            Multiaddr,
            format!("/onion3/{BAD_VERSION}:80"),
            "WrongVersion",
            vec!["version"],
        ),
        (
            Multiaddr,
            format!("/onion3/{}:80", &GOOD[..50]),
            "WrongLength",
            vec!["50 characters"],
        ),
        (
            Multiaddr,
            format!("/onion3/{}1:80", &GOOD[..55]),
            "InvalidCharacter",
            vec!["'1'"],
        ),
        (
            Multiaddr,
            format!("/onion3/{v2}:80"),
            "V2Address",
            vec!["v2"],
        ),
        (
            Multiaddr,
            format!("/onion/{v2}:80"),
            "UnsupportedProtocolStack",
            vec!["/onion/", "onion3"],
        ),
        (
            Multiaddr,
            format!("/onion3/{GOOD}:80/p2p/{peer}/p2p/{peer}"),
            "TrailingGarbage",
            vec!["after a complete address"],
        ),
        (
            Multiaddr,
            format!("/onion3/{GOOD}:80/tcp/80"),
            "UnsupportedProtocolStack",
            vec!["unsupported"],
        ),
        (
            Multiaddr,
            format!("/onion3/{GOOD}:80/p2p/notapeerid"),
            "InvalidMultiaddr",
            vec!["not a valid multiaddr", "multihash"],
        ),
        (
            Multiaddr,
            format!("/onion3/{GOOD}:80/p2p/{peer}/tcp/1"),
            "TrailingGarbage",
            vec!["/tcp/1"],
        ),
        (
            Multiaddr,
            "/ip4/127.0.0.1/udp/1/quic-v1".into(),
            "UnsupportedProtocolStack",
            vec!["quic-v1"],
        ),
        (
            Multiaddr,
            "/ip4/127.0.0.1/tcp/0".into(),
            "PortZero",
            vec!["port 0"],
        ),
        (
            Multiaddr,
            "/ip4/300.0.0.1/tcp/80".into(),
            "InvalidMultiaddr",
            vec!["300.0.0.1"],
        ),
        (
            Multiaddr,
            "/dns4/example.org".into(),
            "UnsupportedProtocolStack",
            vec!["/tcp/"],
        ),
        (
            Multiaddr,
            "/dnsaddr/example.org".into(),
            "UnsupportedProtocolStack",
            vec!["dnsaddr"],
        ),
        (
            Multiaddr,
            "/unix/%2Ftmp%2Fs".into(),
            "UnsupportedProtocolStack",
            vec!["unix"],
        ),
        (
            Multiaddr,
            "/p2p-circuit".into(),
            "UnsupportedProtocolStack",
            vec!["p2p-circuit"],
        ),
        (
            Multiaddr,
            format!("/onion3/{huge}:80"),
            "WrongLength",
            vec!["characters in all"],
        ),
        (
            Multiaddr,
            "/nonsense/1".into(),
            "InvalidMultiaddr",
            vec!["nonsense"],
        ),
    ];
    assert!(cases.len() >= 50, "the catalogue has {} cases", cases.len());
    let mut failures = Vec::new();
    for (parser, input, want, words) in &cases {
        let shown: String = input.chars().take(70).collect();
        match parse(*parser, input) {
            Ok(()) => failures.push(format!("{shown:?}: accepted, expected {want}")),
            Err(e) => {
                let msg = e.to_string();
                if variant(&e) != *want {
                    failures.push(format!(
                        "{shown:?}: {} ({msg}), expected {want}",
                        variant(&e)
                    ));
                }
                for w in words {
                    if !msg.contains(w) {
                        failures.push(format!("{shown:?}: message lacks {w:?}: {msg}"));
                    }
                }
                if msg.len() > 600 {
                    failures.push(format!("{shown:?}: message of {} bytes", msg.len()));
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
