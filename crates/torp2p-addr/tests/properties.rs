//! Property tests: every conversion round-trips; no parser panics on any input.
#![allow(clippy::unwrap_used)]

use std::str::FromStr;

use proptest::prelude::*;
use torp2p_addr::{DialAddr, DialTarget, Multiaddr, OnionAddress, OnionSocketAddr};

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

    #[test]
    fn any_single_character_change_is_caught(key in any::<[u8; 32]>(), pos in 0usize..56, c in "[a-z2-7]") {
        let addr = OnionAddress::from_public_key(key);
        let mut text = addr.to_base32().into_bytes();
        let c = c.as_bytes()[0];
        prop_assume!(text[pos] != c);
        text[pos] = c;
        let text = String::from_utf8(text).unwrap();
        // A changed character changes key, checksum or version: never the same valid address.
        prop_assert!(OnionAddress::from_str(&text).is_err());
    }

    #[test]
    fn arbitrary_strings_never_panic(s in "\\PC*") {
        let _ = OnionAddress::from_str(&s);
        let _ = OnionSocketAddr::from_str(&s);
        let _ = DialAddr::from_str(&s);
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
}
