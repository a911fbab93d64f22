//! Dial settings.

use std::time::Duration;

/// How dials share tor circuits: stream isolation.
///
/// Tor keeps streams that arrive with different SOCKS username/password apart: they never
/// share a circuit (the `IsolateSOCKSAuth` flag of `SocksPort`, on by default). A dial sends
/// the isolation key as username and a token drawn once per process as password, so streams of
/// this process never share circuits with another program's (or another instance's) streams
/// either. [`Shared`](Self::Shared) sends no credentials at all.
///
/// The key is sent to the local tor only; this crate never logs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Isolation {
    /// Streams to the same peer share circuits, streams to different peers do not: the key is
    /// the peer key given to [`connect`](crate::connect) (for example the libp2p peer id), or,
    /// when there is none, the target address. The default.
    ///
    /// Tor attaches a new stream to a circuit that streams with the same key already use or
    /// wait on. After a dial failed at circuit level
    /// ([`DialError::is_circuit_failure`](crate::DialError::is_circuit_failure)), that can be
    /// a rendezvous circuit tor keeps stalled for about 3 minutes, and later dials with the
    /// same key time out behind it: give the next dial a fresh key (e.g. `<peer>#<n>`).
    /// torp2p-transport does that for you (its `Config::with_isolation_rotation`, on by
    /// default); [`connect`](crate::connect) itself keeps no state.
    #[default]
    PerPeer,
    /// Every connection gets circuits of its own: a fresh key per call to
    /// [`connect`](crate::connect) (kept across that call's retries).
    PerConnection,
    /// No credentials: streams share circuits with each other and with every other client of
    /// this SOCKS port that sends none.
    Shared,
}

/// How to dial through tor's SOCKS port.
///
/// A plain value: build it with [`Config::new`] and the `with_*` setters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    timeout: Duration,
    isolation: Isolation,
    descriptor_retries: u32,
    descriptor_retry_delay: Duration,
    nodelay: bool,
}

impl Config {
    /// The default dial:
    /// - timeout 120 s for the whole dial: connecting to tor, the SOCKS handshake, the time tor
    ///   needs to reach the target (on the live network an onion service can take tens of
    ///   seconds), and any retry;
    /// - [`Isolation::PerPeer`];
    /// - 1 retry after 1 s when tor answers 0xF0 (descriptor not found), see
    ///   [`with_descriptor_retries`](Self::with_descriptor_retries);
    /// - `TCP_NODELAY` on the TCP connection to tor's SOCKS port.
    pub fn new() -> Self {
        Self {
            timeout: Duration::from_secs(120),
            isolation: Isolation::PerPeer,
            descriptor_retries: 1,
            descriptor_retry_delay: Duration::from_secs(1),
            nodelay: true,
        }
    }

    /// Sets the timeout for the whole dial, retries included. The dial then fails with
    /// [`DialError::Timeout`](crate::DialError::Timeout), or
    /// [`ProxyUnreachable`](crate::DialError::ProxyUnreachable) if tor's SOCKS port was not even
    /// connected yet. A zero timeout fails every dial.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets how dials share circuits.
    pub fn with_isolation(mut self, isolation: Isolation) -> Self {
        self.isolation = isolation;
        self
    }

    /// Sets how many times to retry a dial that tor answered with 0xF0 (descriptor not found);
    /// 0 disables retrying.
    ///
    /// Tor sometimes answers 0xF0 although the descriptor arrived from another directory a
    /// moment later, and a dial right after an onion service was published can get 0xF0 too;
    /// a prompt retry then succeeds. A retry is only made if its delay ends before the dial's
    /// timeout.
    pub fn with_descriptor_retries(mut self, retries: u32) -> Self {
        self.descriptor_retries = retries;
        self
    }

    /// Sets the wait before each retry after a 0xF0 answer.
    pub fn with_descriptor_retry_delay(mut self, delay: Duration) -> Self {
        self.descriptor_retry_delay = delay;
        self
    }

    /// Sets `TCP_NODELAY` on the TCP connection to tor's SOCKS port (no effect on a unix
    /// socket).
    pub fn with_nodelay(mut self, nodelay: bool) -> Self {
        self.nodelay = nodelay;
        self
    }

    /// The timeout for a whole dial.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// How dials share circuits.
    pub fn isolation(&self) -> Isolation {
        self.isolation
    }

    /// How many times a 0xF0 answer is retried.
    pub fn descriptor_retries(&self) -> u32 {
        self.descriptor_retries
    }

    /// The wait before each retry after a 0xF0 answer.
    pub fn descriptor_retry_delay(&self) -> Duration {
        self.descriptor_retry_delay
    }

    /// Whether `TCP_NODELAY` is set on the connection to tor.
    pub fn nodelay(&self) -> bool {
        self.nodelay
    }
}

impl Default for Config {
    fn default() -> Self {
        Self::new()
    }
}
