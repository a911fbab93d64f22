//! Fresh isolation keys for a peer after a dial to it failed at circuit level.
//!
//! Under [`Isolation::PerPeer`](torp2p_socks::Isolation::PerPeer) every dial to a peer sends
//! the same SOCKS credentials, and tor attaches a new stream to a circuit that a stream with
//! those credentials is already waiting on. After a failed dial that can be a rendezvous
//! circuit whose introduction was acknowledged but whose rendezvous never comes: tor stalls
//! every later stream to the peer behind it until it gives the circuit up (measured: 181 s).
//! So after such a failure the next dial to that peer uses a key of its own, `<key>#<n>`:
//! tor builds new circuits for it, since streams with different credentials never share a
//! circuit. A success keeps the key it used; only peers whose key changed are remembered, at
//! most [`MAX_ROTATED`] (the least recently used is forgotten first, and goes back to its
//! plain key).

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Mutex;

use torp2p_socks::MAX_ISOLATION_KEY;

/// The most peers whose key is remembered.
pub(crate) const MAX_ROTATED: usize = 1024;

/// The isolation key of one dial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DialKey {
    /// What to pass to `torp2p_socks::connect` as the peer key: `None` for a dial without a
    /// peer id that keeps its plain key (torp2p-socks then isolates by the target).
    pub(crate) key: Option<String>,
    /// Which generation of the peer's key it is (0: the plain key).
    generation: u64,
}

/// The per-peer isolation keys of one tor: plain until a dial to the peer fails at circuit
/// level, then `<key>#<generation>`, with generations drawn from one counter so that a key
/// is never used twice.
#[derive(Debug)]
pub(crate) struct Rotation {
    enabled: bool,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// The current generation of each peer whose key changed, and when it was last used.
    peers: HashMap<String, Entry>,
    /// The last generation handed out.
    generation: u64,
    /// Counts uses, to find the least recently used peer.
    clock: u64,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    generation: u64,
    used: u64,
}

impl Rotation {
    /// Rotation as `enabled` says; when off, every dial uses the plain key.
    pub(crate) fn new(enabled: bool) -> Self {
        Self {
            enabled,
            state: Mutex::new(State::default()),
        }
    }

    /// The key for a dial to `peer` (its peer id), or to `target` when there is no peer id.
    pub(crate) fn key(&self, peer: Option<&str>, target: &str) -> DialKey {
        let plain = DialKey {
            key: peer.map(str::to_string),
            generation: 0,
        };
        if !self.enabled {
            return plain;
        }
        let id = peer.unwrap_or(target);
        let Ok(mut state) = self.state.lock() else {
            return plain;
        };
        state.clock += 1;
        let now = state.clock;
        match state.peers.get_mut(id) {
            Some(entry) => {
                entry.used = now;
                DialKey {
                    key: Some(rotated(id, entry.generation)),
                    generation: entry.generation,
                }
            }
            None => plain,
        }
    }

    /// Takes note of a failed dial to `peer` (or `target`) made with `key`: after a
    /// circuit-level failure (`circuit_failure`: for C tor
    /// [`DialError::is_circuit_failure`](torp2p_socks::DialError::is_circuit_failure)),
    /// the next dial gets a fresh key, unless another failed dial already changed it since
    /// `key` was handed out.
    pub(crate) fn failed(
        &self,
        peer: Option<&str>,
        target: &str,
        key: &DialKey,
        circuit_failure: bool,
    ) {
        if !self.enabled || !circuit_failure {
            return;
        }
        let id = peer.unwrap_or(target);
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        let current = state.peers.get(id).map_or(0, |e| e.generation);
        if current != key.generation {
            return;
        }
        if !state.peers.contains_key(id)
            && state.peers.len() >= MAX_ROTATED
            && let Some(oldest) = state
                .peers
                .iter()
                .min_by_key(|(_, e)| e.used)
                .map(|(k, _)| k.clone())
        {
            state.peers.remove(&oldest);
        }
        state.generation += 1;
        state.clock += 1;
        let entry = Entry {
            generation: state.generation,
            used: state.clock,
        };
        state.peers.insert(id.to_string(), entry);
        tracing::debug!(
            generation = entry.generation,
            "dial failed at circuit level: the next dial to this peer uses a fresh isolation key"
        );
    }

    /// How many peers have a changed key.
    #[cfg(test)]
    fn remembered(&self) -> usize {
        self.state.lock().map(|s| s.peers.len()).unwrap_or(0)
    }
}

/// `<id>#<generation>`, or, when that would be longer than a SOCKS username allows (a long DNS
/// name without a peer id), a digest of `id` in its place.
fn rotated(id: &str, generation: u64) -> String {
    let key = format!("{id}#{generation}");
    if key.len() <= MAX_ISOLATION_KEY {
        return key;
    }
    let mut h = std::collections::hash_map::DefaultHasher::new();
    id.hash(&mut h);
    format!("digest:{:016x}#{generation}", h.finish())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::time::Duration;
    use torp2p_addr::{DialTarget, LocalAddr};
    use torp2p_socks::DialError;

    const TARGET: &str = "xyz.onion:4001";

    fn target() -> DialTarget {
        DialTarget::Dns {
            name: "example.com".into(),
            port: 80,
        }
    }

    fn timeout() -> DialError {
        DialError::Timeout {
            proxy: LocalAddr::Tcp("127.0.0.1:9050".parse().unwrap()),
            target: target(),
            timeout: Duration::from_secs(30),
        }
    }

    fn intro_failed() -> DialError {
        DialError::IntroductionFailed { target: target() }
    }

    fn not_found() -> DialError {
        DialError::DescriptorNotFound { target: target() }
    }

    #[test]
    fn a_circuit_failure_gives_the_next_dial_a_fresh_key() {
        let r = Rotation::new(true);
        let first = r.key(Some("peerA"), TARGET);
        assert_eq!(first.key.as_deref(), Some("peerA"), "plain until a failure");
        r.failed(
            Some("peerA"),
            TARGET,
            &first,
            timeout().is_circuit_failure(),
        );
        let second = r.key(Some("peerA"), TARGET);
        assert_eq!(second.key.as_deref(), Some("peerA#1"));
        r.failed(
            Some("peerA"),
            TARGET,
            &second,
            intro_failed().is_circuit_failure(),
        );
        let third = r.key(Some("peerA"), TARGET);
        assert_eq!(third.key.as_deref(), Some("peerA#2"));
        // Other peers are not affected.
        assert_eq!(r.key(Some("peerB"), TARGET).key.as_deref(), Some("peerB"));
    }

    #[test]
    fn a_success_keeps_the_key() {
        let r = Rotation::new(true);
        let k = r.key(Some("p"), TARGET);
        r.failed(Some("p"), TARGET, &k, timeout().is_circuit_failure());
        let rotated = r.key(Some("p"), TARGET);
        // A success is not reported: the key stays what it is.
        assert_eq!(r.key(Some("p"), TARGET), rotated);
        assert_eq!(r.key(Some("p"), TARGET).key.as_deref(), Some("p#1"));
    }

    #[test]
    fn only_circuit_failures_rotate() {
        let r = Rotation::new(true);
        let k = r.key(Some("p"), TARGET);
        r.failed(Some("p"), TARGET, &k, not_found().is_circuit_failure());
        assert_eq!(r.key(Some("p"), TARGET).key.as_deref(), Some("p"));
        assert_eq!(r.remembered(), 0, "only failed peers are remembered");
        for code in [0x06, 0xF2, 0xF3, 0xF7] {
            let r = Rotation::new(true);
            let k = r.key(Some("p"), TARGET);
            let reply = match code {
                0x06 => DialError::TtlExpired { target: target() },
                0xF2 => intro_failed(),
                0xF3 => DialError::RendezvousFailed { target: target() },
                _ => DialError::IntroductionTimedOut { target: target() },
            };
            assert_eq!(reply.reply_code(), Some(code));
            r.failed(Some("p"), TARGET, &k, reply.is_circuit_failure());
            assert_eq!(
                r.key(Some("p"), TARGET).key.as_deref(),
                Some("p#1"),
                "{code:#04x}"
            );
            let k = r.key(Some("p"), TARGET);
            r.failed(Some("p"), TARGET, &k, timeout().is_circuit_failure());
            assert_eq!(r.key(Some("p"), TARGET).key.as_deref(), Some("p#2"));
        }
    }

    #[test]
    fn concurrent_failures_rotate_once() {
        let r = Rotation::new(true);
        let a = r.key(Some("p"), TARGET);
        let b = r.key(Some("p"), TARGET);
        r.failed(Some("p"), TARGET, &a, timeout().is_circuit_failure());
        // `b` was made with the key that `a`'s failure already replaced.
        r.failed(Some("p"), TARGET, &b, timeout().is_circuit_failure());
        assert_eq!(r.key(Some("p"), TARGET).key.as_deref(), Some("p#1"));
    }

    #[test]
    fn keys_never_repeat_and_the_map_is_bounded() {
        let r = Rotation::new(true);
        for i in 0..MAX_ROTATED + 10 {
            let peer = format!("peer{i}");
            let k = r.key(Some(&peer), TARGET);
            r.failed(Some(&peer), TARGET, &k, timeout().is_circuit_failure());
        }
        assert_eq!(r.remembered(), MAX_ROTATED);
        // The least recently used were forgotten: back to their plain key.
        assert_eq!(r.key(Some("peer0"), TARGET).key.as_deref(), Some("peer0"));
        let last = format!("peer{}", MAX_ROTATED + 9);
        assert_eq!(
            r.key(Some(&last), TARGET).key,
            Some(format!("{last}#{}", MAX_ROTATED + 10))
        );
        // A forgotten peer that fails again gets a generation never used before.
        let k = r.key(Some("peer0"), TARGET);
        r.failed(Some("peer0"), TARGET, &k, timeout().is_circuit_failure());
        assert_eq!(
            r.key(Some("peer0"), TARGET).key,
            Some(format!("peer0#{}", MAX_ROTATED + 11))
        );
        assert_eq!(r.remembered(), MAX_ROTATED);
    }

    #[test]
    fn a_recently_used_peer_is_kept() {
        let r = Rotation::new(true);
        let k = r.key(Some("busy"), TARGET);
        r.failed(Some("busy"), TARGET, &k, timeout().is_circuit_failure());
        for i in 0..MAX_ROTATED + 10 {
            let _ = r.key(Some("busy"), TARGET);
            let peer = format!("peer{i}");
            let k = r.key(Some(&peer), TARGET);
            r.failed(Some(&peer), TARGET, &k, timeout().is_circuit_failure());
        }
        assert_eq!(r.key(Some("busy"), TARGET).key.as_deref(), Some("busy#1"));
    }

    #[test]
    fn without_a_peer_id_the_target_is_rotated() {
        let r = Rotation::new(true);
        let k = r.key(None, TARGET);
        assert_eq!(k.key, None, "plain: torp2p-socks isolates by the target");
        r.failed(None, TARGET, &k, timeout().is_circuit_failure());
        assert_eq!(r.key(None, TARGET).key, Some(format!("{TARGET}#1")));
        // A target too long for a username with the suffix: a digest of it, still distinct.
        let long = "a".repeat(MAX_ISOLATION_KEY);
        let other = "b".repeat(MAX_ISOLATION_KEY);
        for t in [&long, &other] {
            let k = r.key(None, t);
            r.failed(None, t, &k, timeout().is_circuit_failure());
        }
        let (l, o) = (
            r.key(None, &long).key.unwrap(),
            r.key(None, &other).key.unwrap(),
        );
        assert!(l.len() <= MAX_ISOLATION_KEY && o.len() <= MAX_ISOLATION_KEY);
        assert_ne!(l, o);
    }

    #[test]
    fn off_means_plain_keys() {
        let r = Rotation::new(false);
        let k = r.key(Some("p"), TARGET);
        r.failed(Some("p"), TARGET, &k, timeout().is_circuit_failure());
        assert_eq!(r.key(Some("p"), TARGET).key.as_deref(), Some("p"));
        assert_eq!(r.remembered(), 0);
    }
}
