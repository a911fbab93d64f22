//! The catalogue of malformed multiaddrs for dialing (`DialAddr::from_str`): each input, the
//! error it must give, and words its message must contain.
//!
//! 56 cases.

mod support;

use support::{BAD_SUM, BAD_VERSION, GOOD, PEER, Parser, V2, check};

#[test]
fn every_malformed_multiaddr_gets_its_error_and_a_clear_message() {
    use Parser::*;
    let huge = "a".repeat(1_000_000);
    // (parser, input, expected variant, words the message must contain)
    let cases: Vec<support::Case<'_>> = vec![
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
            format!("/onion3/{V2}:80"),
            "V2Address",
            vec!["v2"],
        ),
        (
            Multiaddr,
            format!("/onion/{V2}:80"),
            "V2Address",
            vec!["/onion/", "v3 address"],
        ),
        (
            Multiaddr,
            format!("/onion3/{GOOD}:80/p2p/{PEER}/p2p/{PEER}"),
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
            format!("/onion3/{GOOD}:80/p2p/{PEER}/tcp/1"),
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
        // Multiaddrs: empty components, case, percent-encoding, extra components, huge ports.
        (
            Multiaddr,
            format!("/onion3/{GOOD}:80/"),
            "InvalidMultiaddr",
            vec!["empty component", "remove the extra `/`"],
        ),
        (
            Multiaddr,
            format!("//onion3/{GOOD}:80"),
            "InvalidMultiaddr",
            vec!["empty component"],
        ),
        (
            Multiaddr,
            "/".into(),
            "InvalidMultiaddr",
            vec!["empty component"],
        ),
        (
            Multiaddr,
            format!("/onion3//{GOOD}:80"),
            "InvalidMultiaddr",
            vec!["/onion3 needs an address and a port"],
        ),
        (
            Multiaddr,
            "/onion3/:80".into(),
            "InvalidMultiaddr",
            vec!["/onion3 needs an address and a port"],
        ),
        (
            Multiaddr,
            format!("/ONION3/{GOOD}:80"),
            "InvalidMultiaddr",
            vec!["`ONION3`", "lower case", "`/onion3`"],
        ),
        (
            Multiaddr,
            format!("/onion3/{GOOD}.onion:80"),
            "InvalidMultiaddr",
            vec!["without `.onion`"],
        ),
        (
            Multiaddr,
            format!("/onion3/{GOOD}%3A80"),
            "InvalidCharacter",
            vec!["'%'", "position 56"],
        ),
        (
            Multiaddr,
            format!("/onion3/{GOOD}:80%2Fp2p"),
            "InvalidPort",
            vec!["`80%2Fp2p`"],
        ),
        (
            Multiaddr,
            format!("/onion3/{GOOD}:80:80"),
            "InvalidCharacter",
            vec!["':'"],
        ),
        (
            Multiaddr,
            format!("/onion3/{GOOD}:\u{ff18}\u{ff10}"),
            "InvalidPort",
            vec!["1 to 65535"],
        ),
        (
            Multiaddr,
            format!("/onion3/{GOOD}:{}", "9".repeat(30)),
            "InvalidPort",
            vec!["1 to 65535"],
        ),
        (
            Multiaddr,
            format!("/onion3/{GOOD}:"),
            "MissingPort",
            vec!["no port"],
        ),
        (
            Multiaddr,
            format!("/onion3/{}:80", "a".repeat(56)),
            "WrongVersion",
            vec!["version byte"],
        ),
        (
            Multiaddr,
            format!(" /onion3/{GOOD}:80"),
            "InvalidMultiaddr",
            vec!["white space", "remove it"],
        ),
        (
            Multiaddr,
            format!("/onion3/{GOOD}:80\n"),
            "InvalidMultiaddr",
            vec!["white space"],
        ),
        (
            Multiaddr,
            format!("/onion3/{GOOD}:80/ws"),
            "UnsupportedProtocolStack",
            vec!["/ws", "plain TCP"],
        ),
        (
            Multiaddr,
            format!("/onion3/{GOOD}:80/onion3/{GOOD}:81"),
            "UnsupportedProtocolStack",
            vec!["expected /onion3/<address>:<port>"],
        ),
        (
            Multiaddr,
            format!("/onion3/{GOOD}:80/p2p/"),
            "InvalidMultiaddr",
            vec!["multihash"],
        ),
        (
            Multiaddr,
            format!("/onion3/{GOOD}:80/p2p/{PEER}/http"),
            "TrailingGarbage",
            vec!["`/http`"],
        ),
        (
            Multiaddr,
            format!("/onion/{V2}"),
            "V2Address",
            vec!["v2 onion address", "0.4.6"],
        ),
        (
            Multiaddr,
            "/garlic32/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".into(),
            "UnsupportedProtocolStack",
            vec!["I2P"],
        ),
        (
            Multiaddr,
            "/garlic64/AAAA".into(),
            "InvalidMultiaddr",
            vec!["/garlic64/AAAA"],
        ),
        (
            Multiaddr,
            "/dns/example.org/udp/53".into(),
            "UnsupportedProtocolStack",
            vec!["UDP", "TCP streams only"],
        ),
        (
            Multiaddr,
            "/ip4/127.0.0.1/tcp/80/p2p-circuit".into(),
            "UnsupportedProtocolStack",
            vec!["relayed"],
        ),
        (
            Multiaddr,
            "/ip4/127.0.0.1/tcp/65536".into(),
            "InvalidPort",
            vec!["`65536`", "1 to 65535"],
        ),
        (
            Multiaddr,
            "/ip4/127.0.0.1/tcp/-1".into(),
            "InvalidPort",
            vec!["`-1`"],
        ),
        (
            Multiaddr,
            "/ip6/[::1]/tcp/80".into(),
            "InvalidMultiaddr",
            vec!["IPv6"],
        ),
        (
            Multiaddr,
            "/dns4//tcp/80".into(),
            "InvalidMultiaddr",
            vec!["DNS name is empty"],
        ),
        (
            Multiaddr,
            "/ip4/127.0.0.1".into(),
            "UnsupportedProtocolStack",
            vec!["/tcp/<port>"],
        ),
        (
            Multiaddr,
            "/tcp/80".into(),
            "UnsupportedProtocolStack",
            vec!["/tcp/80"],
        ),
    ];
    assert_eq!(cases.len(), 56, "update the count at the top");
    check(&cases);
}
