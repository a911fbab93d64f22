//! [`Isolation`]: which dials may share circuits.

use std::sync::Arc;

use arti_client::isolation::IsolationHelper;

/// Which dials of one [`crate::Client`] may share Tor circuits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Isolation {
    /// May share circuits with every other `Shared` dial of the client (arti's default).
    Shared,
    /// Shares circuits only with dials that carry the same key (e.g. one key per peer, as
    /// torp2p-socks's SOCKS username).
    Key(Vec<u8>),
    /// Shares a circuit with no other dial.
    Fresh,
}

/// arti's isolation for [`Isolation::Key`]: streams with equal keys are compatible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyIsolation(pub(crate) Arc<[u8]>);

impl IsolationHelper for KeyIsolation {
    fn compatible_same_type(&self, other: &Self) -> bool {
        self == other
    }

    fn join_same_type(&self, other: &Self) -> Option<Self> {
        (self == other).then(|| self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arti_client::isolation::Isolation as _;

    #[test]
    fn equal_keys_share_and_different_keys_do_not() {
        let a = KeyIsolation(Arc::from(&b"peer-a"[..]));
        let a2 = KeyIsolation(Arc::from(&b"peer-a"[..]));
        let b = KeyIsolation(Arc::from(&b"peer-b"[..]));
        assert!(a.compatible(&a2));
        assert!(!a.compatible(&b));
        assert!(a.join(&a2).is_some());
        assert!(a.join(&b).is_none());
    }
}
