//! One key to keep: the libp2p identity derived from the onion service key.

use libp2p_identity::{Keypair, ed25519};
use sha2::{Digest, Sha512};
use torp2p_daemon::OnionKey;

/// What the derivation hashes first, so that the identity is never the onion service key
/// itself (one key, one protocol).
const DOMAIN: &[u8] = b"torp2p: libp2p ed25519 identity from an onion service key, v1";

/// The libp2p identity (an ed25519 keypair) that goes with an onion service key: derived from
/// it, the same for the same key every time. One key file then gives both halves of a stable
/// address, `/onion3/<address>:<port>/p2p/<peer id>`.
///
/// The identity is a different key from the onion service key (a domain-separated hash of its
/// secret), so neither protocol signs with the other's key. The two are *linkable* anyway:
/// every full address names both, and anyone holding the onion key file holds the identity
/// too. Keep the file as secret as either key (tor's own format, mode 0600, with
/// [`OnionKey::load_or_generate`]).
///
/// ```
/// use torp2p_transport as tor;
///
/// let dir = tempfile::tempdir()?;
/// let key = tor::OnionKey::load_or_generate(dir.path().join("peer.key"))?;
/// let identity = tor::identity_from_key(&key);
/// let again = tor::identity_from_key(&tor::OnionKey::load(dir.path().join("peer.key"))?);
/// assert_eq!(identity.public(), again.public());
/// let addr = tor::listen_addr(&key, 4001)?.with_p2p(identity.public().to_peer_id()).unwrap();
/// assert!(addr.to_string().ends_with(&identity.public().to_peer_id().to_string()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn identity_from_key(key: &OnionKey) -> Keypair {
    let mut hash = Sha512::new();
    hash.update(DOMAIN);
    hash.update(key.expanded_secret());
    let digest = hash.finalize();
    let mut seed = [0u8; 32];
    seed.copy_from_slice(&digest[..32]);
    // Any 32 bytes are an ed25519 secret key (it is a seed): this cannot fail.
    let secret = ed25519::SecretKey::try_from_bytes(&mut seed)
        .expect("32 bytes are always an ed25519 secret key");
    ed25519::Keypair::from(secret).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_key_gives_the_same_identity_and_another_key_another() {
        let key = OnionKey::generate();
        let same = OnionKey::from_expanded_secret(*key.expanded_secret()).unwrap();
        assert_eq!(
            identity_from_key(&key).public(),
            identity_from_key(&same).public()
        );
        let other = OnionKey::generate();
        assert_ne!(
            identity_from_key(&key).public(),
            identity_from_key(&other).public()
        );
    }

    #[test]
    fn the_identity_is_not_the_onion_service_key() {
        let key = OnionKey::generate();
        let identity = identity_from_key(&key);
        let public = identity.public().try_into_ed25519().unwrap().to_bytes();
        assert_ne!(public, key.public_key());
    }

    #[test]
    fn a_known_key_gives_a_known_identity() {
        // Pinned: a change of the derivation would change every user's peer id.
        let mut secret = [7u8; 64];
        secret[0] &= 248;
        secret[31] &= 63;
        secret[31] |= 64;
        let key = OnionKey::from_expanded_secret(secret).unwrap();
        let id = identity_from_key(&key).public().to_peer_id().to_string();
        assert_eq!(id, PINNED);
    }

    const PINNED: &str = "12D3KooWA4o1w8YpntYerxurtkkwE4yr3FDQjxUnTcW41gpw4KHf";
}
