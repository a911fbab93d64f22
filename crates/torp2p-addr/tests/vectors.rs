//! Known-answer vectors, each with its source, and one test per error variant.
#![allow(clippy::unwrap_used)]

use std::str::FromStr;

use torp2p_addr::{DialAddr, DialTarget, Multiaddr, OnionAddress, OnionSocketAddr, ParseError};

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn key(s: &str) -> [u8; 32] {
    hex(s).try_into().unwrap()
}

/// Generated here by tor 0.4.9.11 itself (`HiddenServiceDir`, `DisableNetwork 1`): the
/// `hs_ed25519_public_key` file (after its 32-byte header) and the `hostname` file tor wrote.
const TOR_GENERATED_KEY: &str = "9402725e9384f50c53d0d822c90672fd11419a8d92a6b556877c44fb1186c80b";
const TOR_GENERATED_HOSTNAME: &str =
    "sqbhexutqt2qyu6q3armsbts7uiudgunsktlkvuhprcpwemgzaf5hvad.onion";

/// Real, long-lived services, as their operators publish them:
/// the Tor Project (torproject.org's onion-services page) and DuckDuckGo.
const REAL_SERVICES: &[&str] = &[
    "2gzyxa5ihm7nsggfxnu52rck2vv4rvmdlkiu3zzui5du4xyclen53wid.onion",
    "duckduckgogg42xjoc72x3sjasowoarfbgcmvfimaftt6twagswzczad.onion",
];

/// The `/onion3` vector of the multiaddr crate's own tests and of the multiaddr spec.
const MULTIADDR_SPEC_ONION3: &str =
    "/onion3/vww6ybal4bd7szmgncyruucpgfkqahzddi37ktceo3ah7ngmcopnpyyd:1234";

#[test]
fn tor_generated_key_gives_tors_hostname() {
    let addr = OnionAddress::from_public_key(key(TOR_GENERATED_KEY));
    assert_eq!(addr.to_string(), TOR_GENERATED_HOSTNAME);
    let parsed: OnionAddress = TOR_GENERATED_HOSTNAME.parse().unwrap();
    assert_eq!(parsed, addr);
    assert_eq!(parsed.public_key(), &key(TOR_GENERATED_KEY));
}

#[test]
fn real_services_parse_and_print_canonically() {
    for s in REAL_SERVICES {
        let addr: OnionAddress = s.parse().unwrap();
        assert_eq!(&addr.to_string(), s);
        // Bare, upper case, mixed case.
        let bare = s.trim_end_matches(".onion");
        assert_eq!(OnionAddress::from_str(bare).unwrap(), addr);
        assert_eq!(OnionAddress::from_str(&s.to_uppercase()).unwrap(), addr);
        let mixed: String = s
            .chars()
            .enumerate()
            .map(|(i, c)| {
                if i % 2 == 0 {
                    c.to_ascii_uppercase()
                } else {
                    c
                }
            })
            .collect();
        assert_eq!(OnionAddress::from_str(&mixed).unwrap(), addr);
    }
}

#[test]
fn multiaddr_spec_vector_round_trips() {
    let ma: Multiaddr = MULTIADDR_SPEC_ONION3.parse().unwrap();
    let dial = DialAddr::from_multiaddr(&ma).unwrap();
    let DialTarget::Onion(onion) = dial.target else {
        panic!("not an onion target: {:?}", dial.target)
    };
    assert_eq!(onion.port(), 1234);
    assert_eq!(onion.to_multiaddr(), ma);
    assert_eq!(
        onion.to_string(),
        "vww6ybal4bd7szmgncyruucpgfkqahzddi37ktceo3ah7ngmcopnpyyd.onion:1234"
    );
}

/// A key torut generated (`TorSecretKeyV3::generate`), compared with torut's own address text.
#[test]
fn torut_generated_key_agrees_with_torut() {
    let secret = torut::onion::TorSecretKeyV3::generate();
    let public = secret.public();
    let torut_addr = public.get_onion_address();
    let ours = OnionAddress::from_public_key(public.to_bytes());
    assert_eq!(ours.to_string(), torut_addr.to_string());
    assert_eq!(ours.to_torut_bytes()[..], torut_addr.get_raw_bytes()[..34]);
    assert_eq!(ours.to_libp2p_bytes(), torut_addr.get_raw_bytes());
}

#[cfg(feature = "torut")]
#[test]
fn torut_type_conversions() {
    let addr = OnionAddress::from_public_key(key(TOR_GENERATED_KEY));
    let t = addr.to_torut().unwrap();
    assert_eq!(t.to_string(), TOR_GENERATED_HOSTNAME);
    assert_eq!(OnionAddress::try_from(&t).unwrap(), addr);
    assert_eq!(OnionAddress::from(&t.get_public_key()), addr);
}

#[test]
fn byte_forms_of_tor_vector() {
    let addr = OnionAddress::from_public_key(key(TOR_GENERATED_KEY));
    let b35 = addr.to_libp2p_bytes();
    assert_eq!(&b35[..32], &key(TOR_GENERATED_KEY));
    assert_eq!(b35[34], 3);
    let b34 = addr.to_torut_bytes();
    assert_eq!(&b34[..], &b35[..34]);
    assert_eq!(OnionAddress::from_libp2p_bytes(&b35).unwrap(), addr);
    assert_eq!(OnionAddress::from_torut_bytes(&b34).unwrap(), addr);
    assert_eq!(OnionAddress::from_bytes(&b35).unwrap(), addr);
    assert_eq!(OnionAddress::from_bytes(&b34).unwrap(), addr);
}

#[test]
fn p2p_suffix_is_kept_apart() {
    let peer = "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA";
    let text = format!(
        "/onion3/{}:4001/p2p/{peer}",
        TOR_GENERATED_HOSTNAME.trim_end_matches(".onion")
    );
    let dial: DialAddr = text.parse().unwrap();
    assert_eq!(dial.peer_id.unwrap().to_string(), peer);
    let DialTarget::Onion(onion) = dial.target else {
        panic!("{:?}", dial.target)
    };
    assert_eq!(
        onion.socks_target(),
        (TOR_GENERATED_HOSTNAME.to_string(), 4001)
    );
}

#[test]
fn dns_and_ip_targets() {
    let dns: DialAddr = "/dns4/example.org/tcp/443".parse().unwrap();
    assert_eq!(
        dns.target,
        DialTarget::Dns {
            name: "example.org".into(),
            port: 443
        }
    );
    assert!(!dns.target.is_onion());
    let dns6: DialAddr = "/dns/example.org/tcp/1".parse().unwrap();
    assert!(matches!(dns6.target, DialTarget::Dns { port: 1, .. }));
    let ip4: DialAddr = "/ip4/192.0.2.1/tcp/80".parse().unwrap();
    assert_eq!(ip4.target, DialTarget::Ip("192.0.2.1:80".parse().unwrap()));
    let ip6: DialAddr =
        "/ip6/2001:db8::1/tcp/80/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA"
            .parse()
            .unwrap();
    assert_eq!(
        ip6.target,
        DialTarget::Ip("[2001:db8::1]:80".parse().unwrap())
    );
    assert!(ip6.peer_id.is_some());
}

// ---- one test per error variant ----

/// Flips one bit of the public key: checksum no longer matches.
fn bad_checksum_text() -> String {
    let mut b = OnionAddress::from_public_key(key(TOR_GENERATED_KEY)).to_libp2p_bytes();
    b[0] ^= 1;
    data_encoding::BASE32_NOPAD.encode(&b).to_lowercase()
}

/// Sets the version byte to 4 with a checksum that would be right for the key.
fn wrong_version_text() -> String {
    let mut b = OnionAddress::from_public_key(key(TOR_GENERATED_KEY)).to_libp2p_bytes();
    b[34] = 4;
    data_encoding::BASE32_NOPAD.encode(&b).to_lowercase()
}

#[test]
fn error_empty() {
    assert_eq!(OnionAddress::from_str(""), Err(ParseError::Empty));
    assert_eq!(OnionSocketAddr::from_str(""), Err(ParseError::Empty));
    assert_eq!(DialAddr::from_str(""), Err(ParseError::Empty));
}

#[test]
fn error_v2_address() {
    let e = OnionAddress::from_str("expyuzz4wqqyqhjn.onion").unwrap_err();
    assert!(matches!(e, ParseError::V2Address { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains("expyuzz4wqqyqhjn") && msg.contains("0.4.6"),
        "{msg}"
    );
}

#[test]
fn error_wrong_length() {
    let e = OnionAddress::from_str("abcdef.onion").unwrap_err();
    assert_eq!(
        e,
        ParseError::WrongLength {
            input: "abcdef.onion".into(),
            length: 6
        }
    );
    assert!(
        e.to_string()
            .contains("6 characters where a v3 onion address has 56")
    );
}

#[test]
fn error_wrong_byte_length() {
    let e = OnionAddress::from_bytes(&[0u8; 33]).unwrap_err();
    assert!(
        matches!(e, ParseError::WrongByteLength { found: 33, .. }),
        "{e:?}"
    );
}

#[test]
fn error_invalid_character() {
    // '1', '8', '0' and '=' are not in the base32 alphabet.
    let text = format!("1{}", &TOR_GENERATED_HOSTNAME[1..]);
    let e = OnionAddress::from_str(&text).unwrap_err();
    assert!(
        matches!(
            e,
            ParseError::InvalidCharacter {
                character: '1',
                position: 0,
                ..
            }
        ),
        "{e:?}"
    );
    let e = OnionAddress::from_str("sqbhexutqt2qyu6q3armsbts7uiudgunsktlkvuhprcpwemgzaf5hva\u{e9}")
        .unwrap_err();
    assert!(matches!(
        e,
        ParseError::InvalidCharacter {
            character: 'é',
            position: 55,
            ..
        }
    ));
}

#[test]
fn error_wrong_version() {
    let text = wrong_version_text();
    let e = OnionAddress::from_str(&text).unwrap_err();
    assert!(
        matches!(e, ParseError::WrongVersion { version: 4, .. }),
        "{e:?}"
    );
    assert!(e.to_string().contains(&text));
    // Also through the multiaddr path, which does not check the version itself.
    let ma: Multiaddr = format!("/onion3/{text}:80").parse().unwrap();
    let e = DialAddr::from_multiaddr(&ma).unwrap_err();
    assert!(
        matches!(e, ParseError::WrongVersion { version: 4, .. }),
        "{e:?}"
    );
    // And the byte path.
    let mut b = OnionAddress::from_public_key(key(TOR_GENERATED_KEY)).to_libp2p_bytes();
    b[34] = 2;
    assert!(matches!(
        OnionAddress::from_libp2p_bytes(&b),
        Err(ParseError::WrongVersion { version: 2, .. })
    ));
}

#[test]
fn error_bad_checksum() {
    let text = bad_checksum_text();
    let e = OnionAddress::from_str(&text).unwrap_err();
    let ParseError::BadChecksum {
        expected, found, ..
    } = &e
    else {
        panic!("{e:?}")
    };
    assert_ne!(expected, found);
    let msg = e.to_string();
    assert!(
        msg.contains(&format!("checksum {found}")) && msg.contains(&text),
        "{msg}"
    );
    // The multiaddr parser accepts it; we do not.
    let ma: Multiaddr = format!("/onion3/{text}:80").parse().unwrap();
    assert!(matches!(
        DialAddr::from_multiaddr(&ma),
        Err(ParseError::BadChecksum { .. })
    ));
    // torut byte form.
    let mut b34 = OnionAddress::from_public_key(key(TOR_GENERATED_KEY)).to_torut_bytes();
    b34[33] ^= 0xff;
    assert!(matches!(
        OnionAddress::from_torut_bytes(&b34),
        Err(ParseError::BadChecksum { .. })
    ));
}

#[cfg(feature = "torut")]
#[test]
fn error_invalid_public_key() {
    // y = 2 is not on the curve for either sign of x (checked: torut refuses it).
    let mut k = [0u8; 32];
    k[0] = 2;
    let addr = OnionAddress::from_public_key(k);
    assert!(matches!(
        addr.to_torut(),
        Err(ParseError::InvalidPublicKey { .. })
    ));
}

#[test]
fn error_missing_port() {
    let e = OnionSocketAddr::from_str(TOR_GENERATED_HOSTNAME).unwrap_err();
    assert!(matches!(e, ParseError::MissingPort { .. }), "{e:?}");
    let e = OnionSocketAddr::from_str(&format!("{TOR_GENERATED_HOSTNAME}:")).unwrap_err();
    assert!(matches!(e, ParseError::MissingPort { .. }), "{e:?}");
    let bare = TOR_GENERATED_HOSTNAME.trim_end_matches(".onion");
    let e = DialAddr::from_str(&format!("/onion3/{bare}")).unwrap_err();
    assert!(matches!(e, ParseError::MissingPort { .. }), "{e:?}");
}

#[test]
fn error_port_zero() {
    let e = OnionSocketAddr::from_str(&format!("{TOR_GENERATED_HOSTNAME}:0")).unwrap_err();
    assert!(matches!(e, ParseError::PortZero { .. }), "{e:?}");
    let addr = OnionAddress::from_public_key(key(TOR_GENERATED_KEY));
    assert!(matches!(
        OnionSocketAddr::new(addr, 0),
        Err(ParseError::PortZero { .. })
    ));
    // Binary multiaddrs can carry port 0 although the text parser refuses it.
    let onion3 = multiaddr::Onion3Addr::from((addr.to_libp2p_bytes(), 0));
    let ma = Multiaddr::empty().with(multiaddr::Protocol::Onion3(onion3));
    assert!(matches!(
        DialAddr::from_multiaddr(&ma),
        Err(ParseError::PortZero { .. })
    ));
    let e = DialAddr::from_str("/ip4/127.0.0.1/tcp/0").unwrap_err();
    assert!(matches!(e, ParseError::PortZero { .. }), "{e:?}");
}

#[test]
fn error_invalid_port() {
    for port in ["65536", "-1", "+80", "http", "8O"] {
        let e = OnionSocketAddr::from_str(&format!("{TOR_GENERATED_HOSTNAME}:{port}")).unwrap_err();
        assert!(
            matches!(&e, ParseError::InvalidPort { port: p, .. } if p == port),
            "{port}: {e:?}"
        );
    }
}

#[test]
fn error_invalid_multiaddr() {
    let e = DialAddr::from_str("onion3/abc").unwrap_err();
    assert!(matches!(e, ParseError::InvalidMultiaddr { .. }), "{e:?}");
    assert!(e.to_string().contains("onion3/abc"));
    let e = DialAddr::from_str("/ip4/300.1.1.1/tcp/1").unwrap_err();
    assert!(matches!(e, ParseError::InvalidMultiaddr { .. }), "{e:?}");
    // A port the multiaddr parser refuses is named as a port.
    let e = DialAddr::from_str("/tcp/notaport").unwrap_err();
    assert!(
        matches!(&e, ParseError::InvalidPort { port, .. } if port == "notaport"),
        "{e:?}"
    );
}

#[test]
fn error_unsupported_protocol_stack() {
    for s in [
        "/ip4/127.0.0.1/udp/1234/quic-v1",
        "/ip4/127.0.0.1",
        "/dnsaddr/bootstrap.libp2p.io",
        "/tcp/80",
        "/unix/tmp%2Fsock",
        "/memory/5",
        "/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA",
        "/ip4/127.0.0.1/tcp/80/ws",
    ] {
        let e = DialAddr::from_str(s).unwrap_err();
        assert!(
            matches!(e, ParseError::UnsupportedProtocolStack { .. }),
            "{s}: {e:?}"
        );
        assert!(e.to_string().contains(s), "{e}");
    }
}

#[test]
fn error_trailing_garbage() {
    let bare = TOR_GENERATED_HOSTNAME.trim_end_matches(".onion");
    let s =
        format!("/onion3/{bare}:80/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA/tcp/1");
    let e = DialAddr::from_str(&s).unwrap_err();
    assert!(
        matches!(&e, ParseError::TrailingGarbage { rest, .. } if rest == "/tcp/1"),
        "{e:?}"
    );
}

#[test]
fn huge_input_is_cut_in_messages() {
    let s = "a".repeat(100_000);
    let e = OnionAddress::from_str(&s).unwrap_err();
    assert!(matches!(
        e,
        ParseError::WrongLength {
            length: 100_000,
            ..
        }
    ));
    assert!(e.to_string().len() < 400, "{}", e.to_string().len());
}
