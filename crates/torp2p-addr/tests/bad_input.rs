//! The catalogue of malformed onion addresses and onion socket addresses (`<56>.onion`,
//! `<56>.onion:<port>`): each input, the error it must give, and words its message must contain
//! (so that a user learns what was wrong and sees the input). Multiaddrs are in
//! bad_multiaddr.rs, local addresses in bad_local_addr.rs.
//!
//! 56 cases.

mod support;

use support::{BAD_SUM, BAD_VERSION, GOOD, Parser, V2, check};

#[test]
fn every_malformed_address_gets_its_error_and_a_clear_message() {
    use Parser::*;
    let huge = "a".repeat(1_000_000);
    // (parser, input, expected variant, words the message must contain)
    let cases: Vec<support::Case<'_>> = vec![
        (Address, "".into(), "Empty", vec!["empty"]),
        (Address, V2.into(), "V2Address", vec![V2, "0.4.6"]),
        (Address, format!("{V2}.onion"), "V2Address", vec![V2, "v3"]),
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
            format!("{V2}.onion:80"),
            "V2Address",
            vec!["v2"],
        ),
        (SocketAddr, "".into(), "Empty", vec!["empty"]),
        // Unicode and white space: look-alike letters, invisible characters.
        (
            Address,
            format!("{}\u{430}{}", &GOOD[..3], &GOOD[4..]),
            "InvalidCharacter",
            vec!["'\u{430}'", "position 3", "base32"],
        ),
        (
            Address,
            format!("{}\u{ff12}", &GOOD[..55]),
            "InvalidCharacter",
            vec!["'\u{ff12}'", "position 55"],
        ),
        (
            Address,
            format!("{GOOD}\u{200b}"),
            "InvalidCharacter",
            vec!["\\u{200b}", "position 56"],
        ),
        (
            Address,
            format!("\u{feff}{GOOD}"),
            "InvalidCharacter",
            vec!["\\u{feff}", "position 0"],
        ),
        (
            Address,
            format!("{GOOD}\t"),
            "InvalidCharacter",
            vec!["'\\t'"],
        ),
        (
            Address,
            format!("{} {}", &GOOD[..20], &GOOD[20..]),
            "InvalidCharacter",
            vec!["' '", "position 20"],
        ),
        (
            Address,
            format!("%73{}", &GOOD[1..]),
            "InvalidCharacter",
            vec!["'%'", "position 0"],
        ),
        (
            Address,
            format!("{}0", &GOOD[..55]),
            "InvalidCharacter",
            vec!["'0'", "a-z, 2-7"],
        ),
        (
            Address,
            format!("{}9", &GOOD[..55]),
            "InvalidCharacter",
            vec!["'9'"],
        ),
        (
            Address,
            format!("www.{GOOD}.onion"),
            "InvalidCharacter",
            vec!["'.'", "position 3"],
        ),
        (
            Address,
            format!("{GOOD}.onion."),
            "InvalidCharacter",
            vec!["'.'", "position 56"],
        ),
        // Mixed case is fine for a good address, so only the checksum can refuse it.
        (
            Address,
            format!("{}{}.OnIoN", BAD_SUM[..28].to_uppercase(), &BAD_SUM[28..]),
            "BadChecksum",
            vec!["checksum", "mistyped"],
        ),
        (
            Address,
            ".onion".into(),
            "WrongLength",
            vec!["0 characters", "56"],
        ),
        (
            Address,
            format!("{GOOD}onion"),
            "WrongLength",
            vec!["61 characters"],
        ),
        (
            Address,
            GOOD[..17].into(),
            "WrongLength",
            vec!["17 characters"],
        ),
        (
            Address,
            V2.to_uppercase(),
            "V2Address",
            vec!["EXPYUZZ4WQQYQHJN", "v3 address"],
        ),
        (
            Address,
            "a".repeat(56),
            "WrongVersion",
            vec!["version byte 0x00", "0x03"],
        ),
        (
            Address,
            "7".repeat(56),
            "WrongVersion",
            vec!["version byte 0xff"],
        ),
        // Ports of onion socket addresses.
        (
            SocketAddr,
            format!("{GOOD}.onion:+80"),
            "InvalidPort",
            vec!["`+80`", "1 to 65535"],
        ),
        (
            SocketAddr,
            format!("{GOOD}.onion:80 "),
            "InvalidPort",
            vec!["`80 `"],
        ),
        (
            SocketAddr,
            format!("{GOOD}.onion:8O"),
            "InvalidPort",
            vec!["`8O`"],
        ),
        (
            SocketAddr,
            format!("{GOOD}.onion:\u{ff14}\u{ff14}\u{ff13}"),
            "InvalidPort",
            vec!["1 to 65535"],
        ),
        (
            SocketAddr,
            format!("{GOOD}.onion:{}", "9".repeat(20)),
            "InvalidPort",
            vec!["99999999999999999999", "characters in all"],
        ),
        (
            SocketAddr,
            format!("[{GOOD}.onion]:80"),
            "InvalidCharacter",
            vec!["'['"],
        ),
        (
            SocketAddr,
            ":80".into(),
            "WrongLength",
            vec!["0 characters"],
        ),
        (
            SocketAddr,
            format!("{GOOD}.onion:80/"),
            "InvalidPort",
            vec!["`80/`"],
        ),
    ];
    assert_eq!(cases.len(), 56, "update the count at the top");
    check(&cases);
}
