//! The catalogue of malformed local addresses (`LocalAddr::from_str`): tor's control and SOCKS
//! ports as users write them (e.g. `torp2p-ping --tor-control`) and as tor does (`GETINFO
//! net/listeners/*`, `ControlPortWriteToFile`). Each input, the error it must give, and words
//! its message must contain.
//!
//! 29 cases.

use std::str::FromStr;

use torp2p_addr::{LocalAddr, LocalAddrError};

fn local_variant(e: &LocalAddrError) -> &'static str {
    match e {
        LocalAddrError::Empty => "Empty",
        LocalAddrError::NoUnixPath { .. } => "NoUnixPath",
        LocalAddrError::NulInUnixPath { .. } => "NulInUnixPath",
        LocalAddrError::BadQuoting { .. } => "BadQuoting",
        LocalAddrError::BarePath { .. } => "BarePath",
        LocalAddrError::MissingPort { .. } => "MissingPort",
        LocalAddrError::InvalidPort { .. } => "InvalidPort",
        LocalAddrError::PortZero { .. } => "PortZero",
        LocalAddrError::MissingIp { .. } => "MissingIp",
        LocalAddrError::NotAnIp { .. } => "NotAnIp",
        LocalAddrError::Ipv6WithoutBrackets { .. } => "Ipv6WithoutBrackets",
        LocalAddrError::NotAnAddress { .. } => "NotAnAddress",
        _ => "unknown",
    }
}

#[test]
fn every_malformed_local_address_gets_its_error_and_a_clear_message() {
    let long_path = format!("unix:\"/{}", "a".repeat(500));
    // (input, expected variant, words the message must contain)
    let cases: Vec<(&str, &str, Vec<&str>)> = vec![
        (
            "",
            "Empty",
            vec!["empty address", "127.0.0.1:9050", "unix:/path"],
        ),
        ("  \t ", "Empty", vec!["empty address"]),
        (
            "unix:",
            "NoUnixPath",
            vec!["no unix socket path", "unix:/path/to/socket"],
        ),
        ("unix:\"\"", "NoUnixPath", vec!["no unix socket path"]),
        ("unix:/tmp/a\0b", "NulInUnixPath", vec!["NUL", "\\0"]),
        (
            "unix:\"/tmp/x",
            "BadQuoting",
            vec!["unmatched quote", "unix:\"/path\""],
        ),
        ("unix:/tmp/x\"", "BadQuoting", vec!["unmatched quote"]),
        ("unix:\"/tmp/a\"b\"", "BadQuoting", vec!["unmatched quote"]),
        ("unix:\"/tmp/\\n\"", "BadQuoting", vec!["bad escape"]),
        (&long_path, "BadQuoting", vec!["characters in all"]),
        ("\"127.0.0.1:9050", "BadQuoting", vec!["unmatched quote"]),
        (
            "/run/tor/control",
            "BarePath",
            vec!["looks like a path", "unix:/run/tor/control"],
        ),
        ("./control.sock", "BarePath", vec!["unix:./control.sock"]),
        ("127.0.0.1", "MissingPort", vec!["no port", "ip:port"]),
        ("127.0.0.1:", "MissingPort", vec!["no port"]),
        ("[::1]", "MissingPort", vec!["no port", "[::1]:9050"]),
        (
            "127.0.0.1:0",
            "PortZero",
            vec!["port 0", "the port tor was configured with"],
        ),
        ("[::1]:0", "PortZero", vec!["port 0"]),
        (
            "127.0.0.1:65536",
            "InvalidPort",
            vec!["`65536`", "1 to 65535"],
        ),
        ("127.0.0.1:socks", "InvalidPort", vec!["`socks`"]),
        ("127.0.0.1: 9050", "InvalidPort", vec!["` 9050`"]),
        (":9050", "MissingIp", vec!["no IP address before the port"]),
        (
            "localhost:9050",
            "NotAnIp",
            vec![
                "`localhost`",
                "host names are not looked up",
                "127.0.0.1:9050",
            ],
        ),
        (
            "\u{ff11}\u{ff12}\u{ff17}.0.0.1:9050",
            "NotAnIp",
            vec!["not an IP address"],
        ),
        ("[fe80::1%eth0]:9050", "NotAnIp", vec!["`fe80::1%eth0`"]),
        (
            "::1:9050",
            "Ipv6WithoutBrackets",
            vec!["without brackets", "[::1]:9050"],
        ),
        ("fe80::1", "Ipv6WithoutBrackets", vec!["[address]:port"]),
        (
            "http://127.0.0.1:9050",
            "NotAnAddress",
            vec!["neither `ip:port`", "unix:/path/to/socket"],
        ),
        ("127.0.0.1 9050", "NotAnAddress", vec!["neither `ip:port`"]),
    ];
    assert_eq!(cases.len(), 29, "update the count at the top");
    let mut failures = Vec::new();
    for (input, want, words) in &cases {
        let shown: String = input.chars().take(70).collect();
        match LocalAddr::from_str(input) {
            Ok(a) => failures.push(format!("{shown:?}: accepted as {a:?}, expected {want}")),
            Err(e) => {
                let msg = e.to_string();
                if local_variant(&e) != *want {
                    failures.push(format!(
                        "{shown:?}: {} ({msg}), expected {want}",
                        local_variant(&e)
                    ));
                }
                for w in words {
                    if !msg.contains(w) {
                        failures.push(format!("{shown:?}: message lacks {w:?}: {msg}"));
                    }
                }
                if msg.len() > 400 || msg.contains('\n') {
                    failures.push(format!("{shown:?}: not one short line: {msg}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
