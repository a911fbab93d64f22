//! Property tests: every conversion round-trips; no parser panics on any input.
#![allow(clippy::unwrap_used)]

use std::str::FromStr;

use proptest::prelude::*;
use torp2p_addr::{
    DialAddr, DialTarget, LocalAddr, Multiaddr, OnionAddress, OnionSocketAddr, ParseError,
};

proptest! {
    #[test]
    fn text_round_trip(key in any::<[u8; 32]>()) {
        let addr = OnionAddress::from_public_key(key);
        let text = addr.to_string();
        prop_assert_eq!(text.len(), 62);
        prop_assert_eq!(OnionAddress::from_str(&text)?, addr);
        prop_assert_eq!(OnionAddress::from_str(&text.to_uppercase())?, addr);
        prop_assert_eq!(OnionAddress::from_str(&addr.to_base32())?, addr);
    }

    #[test]
    fn byte_forms_round_trip(key in any::<[u8; 32]>()) {
        let addr = OnionAddress::from_public_key(key);
        prop_assert_eq!(OnionAddress::from_libp2p_bytes(&addr.to_libp2p_bytes())?, addr);
        prop_assert_eq!(OnionAddress::from_torut_bytes(&addr.to_torut_bytes())?, addr);
        prop_assert_eq!(&addr.to_libp2p_bytes()[..34], &addr.to_torut_bytes()[..]);
        prop_assert_eq!(addr.public_key(), &key);
    }

    #[test]
    fn socket_addr_and_multiaddr_round_trip(key in any::<[u8; 32]>(), port in 1u16..) {
        let sa = OnionSocketAddr::new(OnionAddress::from_public_key(key), port)?;
        prop_assert_eq!(OnionSocketAddr::from_str(&sa.to_string())?, sa);
        prop_assert_eq!(OnionSocketAddr::from_onion3(&sa.to_onion3())?, sa);
        let ma = sa.to_multiaddr();
        // Through multiaddr's own text and byte forms too.
        let via_text: Multiaddr = ma.to_string().parse().unwrap();
        let via_bytes = Multiaddr::try_from(ma.to_vec()).unwrap();
        for m in [ma, via_text, via_bytes] {
            let dial = DialAddr::from_multiaddr(&m)?;
            prop_assert_eq!(dial.target, DialTarget::Onion(sa));
            prop_assert_eq!(dial.peer_id, None);
        }
    }

    #[test]
    fn torut_agrees(key in any::<[u8; 32]>()) {
        // torut only builds addresses from valid points; compare where it does.
        if let Ok(pk) = torut::onion::TorPublicKeyV3::from_bytes(&key) {
            let t = pk.get_onion_address();
            let ours = OnionAddress::from_public_key(key);
            prop_assert_eq!(ours.to_string(), t.to_string());
            prop_assert_eq!(&ours.to_torut_bytes()[..], &t.get_raw_bytes()[..34]);
        }
    }

    /// One changed character never gives back the same address, and never a different valid
    /// one except by a checksum collision: the checksum is 16 bits, so about 1 change in 65,536
    /// that touches the key's characters yields another valid address (see
    /// `a_single_character_change_can_collide`). Characters 52 to 55 hold only checksum and
    /// version bits, so a change there is always caught.
    #[test]
    fn a_single_character_change_is_caught_unless_the_checksum_collides(key in any::<[u8; 32]>(), pos in 0usize..56, c in "[a-z2-7]") {
        let addr = OnionAddress::from_public_key(key);
        let mut text = addr.to_base32().into_bytes();
        let c = c.as_bytes()[0];
        prop_assume!(text[pos] != c);
        text[pos] = c;
        let text = String::from_utf8(text).unwrap();
        match OnionAddress::from_str(&text) {
            Ok(other) => {
                // A collision: another key whose checksum happens to match.
                prop_assert_ne!(other, addr);
                prop_assert_ne!(other.public_key(), addr.public_key());
                prop_assert_eq!(other.to_base32(), text);
                // Character 51 holds the key's last bit; 52 and later hold none.
                prop_assert!(pos <= 51, "a change at {} (no key bits) was accepted", pos);
            }
            Err(ParseError::BadChecksum { .. }) => prop_assert!(pos <= 54),
            // Characters 54 and 55 hold the version byte's bits.
            Err(ParseError::WrongVersion { version, .. }) => {
                prop_assert!(pos >= 54);
                prop_assert_ne!(version, 3);
            }
            Err(e) => prop_assert!(false, "unexpected error for {}: {:?}", text, e),
        }
    }

    #[test]
    fn arbitrary_strings_never_panic(s in "\\PC*") {
        let _ = OnionAddress::from_str(&s);
        let _ = OnionSocketAddr::from_str(&s);
        let _ = DialAddr::from_str(&s);
        let _ = LocalAddr::from_str(&s);
    }

    #[test]
    fn onion_like_strings_never_panic(s in "(/onion3/)?[a-zA-Z2-7=.:]{0,70}(:[0-9]{0,6})?(/p2p/[a-zA-Z0-9]{0,60})?") {
        let _ = OnionAddress::from_str(&s);
        let _ = OnionSocketAddr::from_str(&s);
        let _ = DialAddr::from_str(&s);
    }

    #[test]
    fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..80)) {
        let _ = OnionAddress::from_bytes(&b);
        if let Ok(m) = Multiaddr::try_from(b.clone()) {
            let _ = DialAddr::from_multiaddr(&m);
        }
        if let Ok(s) = std::str::from_utf8(&b) {
            let _ = DialAddr::from_str(s);
        }
    }

    #[test]
    fn byte_forms_never_panic_and_what_parses_round_trips(
        bytes in proptest::collection::vec(any::<u8>(), 35),
        version_three: bool,
    ) {
        let mut b35: [u8; 35] = bytes.try_into().unwrap();
        if version_three {
            b35[34] = 3;
        }
        if let Ok(a) = OnionAddress::from_libp2p_bytes(&b35) {
            prop_assert_eq!(a.to_libp2p_bytes(), b35);
        }
        let mut b34 = [0u8; 34];
        b34.copy_from_slice(&b35[..34]);
        if let Ok(a) = OnionAddress::from_torut_bytes(&b34) {
            prop_assert_eq!(a.to_torut_bytes(), b34);
        }
        let _ = OnionAddress::from_bytes(&b35);
        let _ = OnionAddress::from_bytes(&b34);
    }

    /// Multiaddr bytes that start with an `/onion3` component (code 445, varint `bd 03`, then
    /// 35 address bytes and a 2-byte port), followed by anything: the classification never
    /// panics, and what it accepts is exactly those bytes.
    #[test]
    fn onion3_multiaddr_bytes_never_panic(
        body in proptest::collection::vec(any::<u8>(), 37),
        tail in prop_oneof![Just(Vec::new()), proptest::collection::vec(any::<u8>(), 0..48)],
        p2p_tail: bool,
    ) {
        let mut bytes = vec![0xbd, 0x03];
        bytes.extend_from_slice(&body);
        if p2p_tail {
            // `/p2p` (code 421, varint `a5 03`) and a length-prefixed multihash of sorts.
            bytes.extend_from_slice(&[0xa5, 0x03]);
        }
        bytes.extend_from_slice(&tail);
        if let Ok(m) = Multiaddr::try_from(bytes) {
            if let Ok(dial) = DialAddr::from_multiaddr(&m) {
                let DialTarget::Onion(sa) = dial.target else {
                    panic!("an /onion3 multiaddr classified as {:?}", dial.target);
                };
                prop_assert_eq!(&sa.address().to_libp2p_bytes()[..], &body[..35]);
                prop_assert_eq!(sa.port(), u16::from_be_bytes([body[35], body[36]]));
            }
            let _ = DialAddr::from_str(&m.to_string());
        }
    }

    /// Text shaped like what tor and users write for local addresses never panics the parser,
    /// and what parses displays as text that parses back to the same address.
    #[test]
    fn local_addr_text_never_panics(s in r#"\s{0,2}(unix:|UNIX:)?"?[\[\]0-9a-fA-F:./"\\ %\x00é]{0,40}"?\s{0,2}"#) {
        if let Ok(a) = LocalAddr::from_str(&s) {
            if let LocalAddr::Tcp(sa) = &a {
                prop_assert_ne!(sa.port(), 0);
            }
            let shown = a.to_string();
            let plain_path = match &a {
                LocalAddr::Unix(p) => p.to_str().is_some_and(|p| p.trim() == p && !p.contains('"')),
                LocalAddr::Tcp(_) => true,
            };
            if plain_path {
                prop_assert_eq!(LocalAddr::from_str(&shown).unwrap(), a);
            }
        }
    }

    #[test]
    fn local_addr_round_trips(ip in any::<std::net::IpAddr>(), port in 1u16.., path in "/[a-z0-9_./-]{1,40}") {
        let tcp = LocalAddr::Tcp(std::net::SocketAddr::new(ip, port));
        prop_assert_eq!(LocalAddr::from_str(&tcp.to_string())?, tcp.clone());
        prop_assert_eq!(LocalAddr::from_str(&format!("\"{tcp}\""))?, tcp);
        let unix = LocalAddr::Unix(path.clone().into());
        prop_assert_eq!(LocalAddr::from_str(&unix.to_string())?, unix.clone());
        prop_assert_eq!(LocalAddr::from_str(&format!("unix:\"{path}\""))?, unix);
    }
}

/// The property above cannot claim more: two valid addresses, one character apart (position
/// 26), found by searching keys `sha256("k<i>")` for i = 0, 1, 2, ... (i = 87).
#[test]
fn a_single_character_change_can_collide() {
    let a = "rff3ju2oxpa6ajk5g5dbg2d7jdyemdxasvfn3e6w24b4amfjmwaxeqid";
    let b = "rff3ju2oxpa6ajk5g5dbg2d7jdremdxasvfn3e6w24b4amfjmwaxeqid";
    let differing: Vec<usize> = (0..56)
        .filter(|&i| a.as_bytes()[i] != b.as_bytes()[i])
        .collect();
    assert_eq!(differing, [26]);
    let (a, b) = (
        OnionAddress::from_str(a).unwrap(),
        OnionAddress::from_str(b).unwrap(),
    );
    assert_ne!(a, b);
    assert_eq!(a.checksum(), b.checksum());
}
