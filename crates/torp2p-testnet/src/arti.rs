//! The `arti.toml` that lets an arti client join the network: written as text, so that this
//! crate does not depend on arti.
//!
//! What arti 0.47 needs, each checked in its source (see `crates/torp2p-arti/FACTS.md`):
//! - `tor_network.authorities.v3idents`: the authorities' v3 identities (the `fingerprint`
//!   of their authority certificate, not their relay fingerprint); arti refuses custom
//!   authorities without custom `fallback_caches` (tor-dircommon `config.rs`, `validate`).
//!   `uploads`, `downloads` and `votes` (DirPorts) are not used by a client, but left unset
//!   they would be the public authorities' addresses: we set them to ours.
//! - `tor_network.fallback_caches`: every node's RSA and ed25519 identity and ORPort; arti
//!   fetches directory documents through ORPorts only.
//! - `path_rules`: arti puts relays whose IPv4 addresses share 16 bits (IPv6: 32) in one
//!   family, so all of 127.0.0.1 would be one family and no path could be built; a prefix
//!   longer than the address (33, 129) turns that off (tor-netdir `SubnetConfig`).
//! - `override_net_params.hsdir_interval`: under `TestingTorNetwork` C tor's onion-service
//!   time period is 24 voting intervals, whatever the consensus says (tor `hs_common.c`
//!   `get_time_period_length`); arti takes the `hsdir_interval` parameter (minutes, at
//!   least 5). They must agree, or services and clients of the two look for descriptors at
//!   different places on the hash ring.
//! - `preemptive_circuits`: the network has no exit relays, so arti's preemptive exit circuits
//!   (for ports 80 and 443, and for DNS, whatever the ports) fail and log warnings;
//!   `disable_at_threshold = 0` stops them (tor-circmgr `preemptive.rs`, `lib.rs`).

use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;

/// What the `arti.toml` says about one node of the network.
pub(crate) struct ArtiNode {
    /// RSA identity, 40 hex digits.
    pub(crate) rsa: String,
    /// Ed25519 identity, unpadded base64 (as in the node's `fingerprint-ed25519`).
    pub(crate) ed25519: String,
    /// ORPort on 127.0.0.1.
    pub(crate) or_port: u16,
    /// For an authority: its v3 identity and its DirPort.
    pub(crate) authority: Option<(String, u16)>,
}

/// The text of `arti.toml`: `nodes` as authorities and fallback caches, the onion-service
/// time period `hs_minutes`, and storage in `storage` (`cache` and `state` below it).
pub(crate) fn arti_toml(nodes: &[ArtiNode], hs_minutes: u64, storage: &Path) -> String {
    let addr = |port| SocketAddr::from((Ipv4Addr::LOCALHOST, port)).to_string();
    let mut s = String::new();
    s.push_str(
        "# arti configuration for a private Tor network of torp2p-testnet (TestingTorNetwork\n\
         # on 127.0.0.1). Written by torp2p-testnet; see crates/torp2p-testnet/src/arti.rs.\n\
         # Give each arti its own [storage] directories: arti locks its state directory.\n\n",
    );
    let auths: Vec<(&String, u16)> = nodes
        .iter()
        .filter_map(|n| n.authority.as_ref().map(|(v3, dir)| (v3, *dir)))
        .collect();
    s.push_str("[tor_network.authorities]\nv3idents = [");
    s.push_str(
        &auths
            .iter()
            .map(|(v3, _)| quote(v3))
            .collect::<Vec<_>>()
            .join(", "),
    );
    s.push_str("]\n");
    let dirports = auths
        .iter()
        .map(|(_, dir)| format!("[{}]", quote(&addr(*dir))))
        .collect::<Vec<_>>()
        .join(", ");
    for key in ["uploads", "downloads", "votes"] {
        let _ = writeln!(s, "{key} = [{dirports}]");
    }
    for n in nodes {
        let _ = write!(
            s,
            "\n[[tor_network.fallback_caches]]\nrsa_identity = {}\ned_identity = {}\norports = [{}]\n",
            quote(&n.rsa),
            quote(&n.ed25519),
            quote(&addr(n.or_port)),
        );
    }
    let _ = write!(
        s,
        "\n[path_rules]\n\
         # every relay is on 127.0.0.1: no subnet families\n\
         ipv4_subnet_family_prefix = 33\n\
         ipv6_subnet_family_prefix = 129\n\
         \n[override_net_params]\n\
         # minutes; C tor's time period under TestingTorNetwork: 24 voting intervals\n\
         hsdir_interval = {hs_minutes}\n\
         \n[preemptive_circuits]\n\
         # the network has no exit relays: build no exit circuits ahead of use\n\
         disable_at_threshold = 0\n\
         initial_predicted_ports = []\n\
         \n[storage]\n\
         cache_dir = {}\n\
         state_dir = {}\n",
        quote(&storage.join("cache").to_string_lossy()),
        quote(&storage.join("state").to_string_lossy()),
    );
    s
}

/// A TOML basic string.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The identity in a node's `fingerprint` or `fingerprint-ed25519` file: `<nickname> <id>`.
pub(crate) fn read_identity(path: &Path) -> std::io::Result<String> {
    let text = std::fs::read_to_string(path)?;
    text.split_whitespace()
        .nth(1)
        .map(str::to_string)
        .ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "expected `<nickname> <identity>`",
            )
        })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn quotes_what_toml_needs_quoted() {
        assert_eq!(quote("a\"b\\c\n"), "\"a\\\"b\\\\c\\u000A\"");
        assert_eq!(quote("/tmp/x y"), "\"/tmp/x y\"");
    }

    #[test]
    fn lists_authorities_and_every_node_as_a_fallback() {
        let nodes = [
            ArtiNode {
                rsa: "AA".repeat(20),
                ed25519: "ed-a".into(),
                or_port: 1000,
                authority: Some(("BB".repeat(20), 2000)),
            },
            ArtiNode {
                rsa: "CC".repeat(20),
                ed25519: "ed-c".into(),
                or_port: 1001,
                authority: None,
            },
        ];
        let t = arti_toml(&nodes, 6, Path::new("/tmp/n/arti"));
        assert!(
            t.contains(&format!("v3idents = [\"{}\"]", "BB".repeat(20))),
            "{t}"
        );
        assert!(t.contains("uploads = [[\"127.0.0.1:2000\"]]"), "{t}");
        assert_eq!(t.matches("[[tor_network.fallback_caches]]").count(), 2);
        assert!(t.contains("orports = [\"127.0.0.1:1001\"]"), "{t}");
        assert!(t.contains("hsdir_interval = 6"), "{t}");
        assert!(t.contains("state_dir = \"/tmp/n/arti/state\""), "{t}");
    }

    #[test]
    fn reads_the_identity_after_the_nickname() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("fingerprint-ed25519");
        std::fs::write(&p, "Unnamed 0XEK3pq5Ukdff6gtKzyPh99n8QHmrg2uNoMlp4xfAGU\n").unwrap();
        assert_eq!(
            read_identity(&p).unwrap(),
            "0XEK3pq5Ukdff6gtKzyPh99n8QHmrg2uNoMlp4xfAGU"
        );
        std::fs::write(&p, "Unnamed\n").unwrap();
        assert!(read_identity(&p).is_err());
    }
}
