//! [`Config`]: where tor comes from, how to dial, and how to listen.

use std::time::Duration;

use torp2p_daemon::{AttachConfig, OnionKey, OnionServiceOptions, Publication, Tor};
use torp2p_socks::{Isolation, Proxy};

/// Where the transport's tor daemon comes from.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum TorSource {
    /// Start a tor of our own with this configuration ([`Tor::spawn`]); it is killed when the
    /// transport (and every clone of its [`Tor`] handle) is dropped. The default, with
    /// [`torp2p_daemon::Config::new`].
    Spawn(torp2p_daemon::Config),
    /// Use a running tor (e.g. the system's) through its control port ([`Tor::attach`]).
    ///
    /// Listening needs tor to reach a unix socket in a private directory of this user: an
    /// attached tor that runs as another user (Debian's `debian-tor`) cannot. See the
    /// crate's Warnings.
    Attach(AttachConfig),
    /// A [`Tor`] handle you already have (shared with other parts of your program).
    Existing(Tor),
}

impl Default for TorSource {
    fn default() -> Self {
        TorSource::Spawn(torp2p_daemon::Config::new())
    }
}

impl From<torp2p_daemon::Config> for TorSource {
    fn from(config: torp2p_daemon::Config) -> Self {
        TorSource::Spawn(config)
    }
}

impl From<AttachConfig> for TorSource {
    fn from(config: AttachConfig) -> Self {
        TorSource::Attach(config)
    }
}

impl From<Tor> for TorSource {
    fn from(tor: Tor) -> Self {
        TorSource::Existing(tor)
    }
}

/// What the transport does with clearnet addresses (`/dns*/…/tcp/…`, `/ip4|ip6/…/tcp/…`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Clearnet {
    /// Refuse them with `TransportError::MultiaddrNotSupported`: the transport only dials
    /// onion services. The default.
    #[default]
    Refuse,
    /// Dial them through a Tor exit relay: DNS names are resolved by the exit (never locally)
    /// and no connection is ever made directly. The remote side sees the exit's IP address, not
    /// yours, but the exit can see (and tamper with anything unencrypted in) the traffic.
    ThroughTor,
}

/// How the transport runs: a plain value built with [`Config::new`] and the `with_*` setters.
#[derive(Debug, Clone)]
pub struct Config {
    pub(crate) tor: TorSource,
    pub(crate) bootstrap_timeout: Duration,
    pub(crate) dial: torp2p_socks::Config,
    pub(crate) socks_proxy: Option<Proxy>,
    pub(crate) clearnet: Clearnet,
    pub(crate) publication: Publication,
    pub(crate) publish_timeout: Duration,
    pub(crate) keys: Vec<OnionKey>,
    pub(crate) service_options: OnionServiceOptions,
}

impl Config {
    /// The defaults:
    /// - tor: a tor of our own ([`TorSource::Spawn`] with [`torp2p_daemon::Config::new`]:
    ///   temporary data directory, control and SOCKS ports on unix sockets only this user can
    ///   use);
    /// - bootstrap timeout: 120 s ([`Transport::new`](crate::Transport::new) waits that long for
    ///   tor to reach the network);
    /// - dials: [`torp2p_socks::Config::new`]: 120 s timeout per dial, stream isolation per
    ///   peer ([`Isolation::PerPeer`]: the `/p2p` peer id, or the address when there is none),
    ///   one retry after 1 s when tor answers "descriptor not found";
    /// - SOCKS port: the one tor reports;
    /// - clearnet addresses: refused ([`Clearnet::Refuse`]);
    /// - publication: [`Publication::AllUploads`] with a 10 s cap (the listen address is
    ///   reported once every descriptor upload was answered);
    /// - publish timeout: 120 s (then the listener closes with the reason);
    /// - no onion service keys (so no address to listen on until you add one with
    ///   [`with_key`](Self::with_key));
    /// - onion service options: [`OnionServiceOptions::new`] (no stream limit, no client
    ///   authorization, no proof-of-work defenses).
    pub fn new() -> Self {
        Self {
            tor: TorSource::default(),
            bootstrap_timeout: Duration::from_secs(120),
            dial: torp2p_socks::Config::new(),
            socks_proxy: None,
            clearnet: Clearnet::Refuse,
            publication: Publication::default(),
            publish_timeout: Duration::from_secs(120),
            keys: Vec::new(),
            service_options: OnionServiceOptions::new(),
        }
    }

    /// Sets where tor comes from: a configuration to spawn one, a control port to attach to,
    /// or a [`Tor`] handle (each converts with `into()`).
    pub fn with_tor(mut self, tor: impl Into<TorSource>) -> Self {
        self.tor = tor.into();
        self
    }

    /// Sets how long [`Transport::new`](crate::Transport::new) waits for tor to bootstrap.
    pub fn with_bootstrap_timeout(mut self, timeout: Duration) -> Self {
        self.bootstrap_timeout = timeout;
        self
    }

    /// Sets the dial settings: timeout, isolation, retry of "descriptor not found".
    pub fn with_dial_config(mut self, dial: torp2p_socks::Config) -> Self {
        self.dial = dial;
        self
    }

    /// Sets how dials share tor circuits (shorthand for the isolation of
    /// [`with_dial_config`](Self::with_dial_config)).
    pub fn with_isolation(mut self, isolation: Isolation) -> Self {
        self.dial = self.dial.with_isolation(isolation);
        self
    }

    /// Dials through this SOCKS port instead of the one tor reports (for a tor with several
    /// SOCKS ports, or a `SocksPort` with flags of your choosing). It must be tor's: nothing
    /// checks that.
    pub fn with_socks_proxy(mut self, proxy: Proxy) -> Self {
        self.socks_proxy = Some(proxy);
        self
    }

    /// Sets what happens to clearnet addresses; see [`Clearnet`].
    pub fn with_clearnet(mut self, clearnet: Clearnet) -> Self {
        self.clearnet = clearnet;
        self
    }

    /// Sets when a listener counts as ready, i.e. when it reports its onion address; see
    /// [`Publication`].
    pub fn with_publication(mut self, publication: Publication) -> Self {
        self.publication = publication;
        self
    }

    /// Sets how long a listener waits for its onion service to be published before it closes
    /// with the reason.
    pub fn with_publish_timeout(mut self, timeout: Duration) -> Self {
        self.publish_timeout = timeout;
        self
    }

    /// Adds an onion service key: the transport can then listen on
    /// `/onion3/<its address>:<port>` (see [`listen_addr`](crate::listen_addr)).
    ///
    /// [`OnionKey::generate`] gives a fresh address for this run;
    /// [`OnionKey::load_or_generate`] keeps one across restarts in a key file (tor's own
    /// format, mode 0600).
    pub fn with_key(mut self, key: OnionKey) -> Self {
        self.keys.push(key);
        self
    }

    /// Sets the options of every onion service the transport adds (stream limit, client
    /// authorization, proof-of-work defenses).
    pub fn with_onion_service_options(mut self, options: OnionServiceOptions) -> Self {
        self.service_options = options;
        self
    }

    /// Where tor comes from.
    pub fn tor(&self) -> &TorSource {
        &self.tor
    }

    /// How long to wait for tor to bootstrap.
    pub fn bootstrap_timeout(&self) -> Duration {
        self.bootstrap_timeout
    }

    /// The dial settings.
    pub fn dial_config(&self) -> &torp2p_socks::Config {
        &self.dial
    }

    /// The SOCKS port given with [`with_socks_proxy`](Self::with_socks_proxy), if any.
    pub fn socks_proxy(&self) -> Option<&Proxy> {
        self.socks_proxy.as_ref()
    }

    /// What happens to clearnet addresses.
    pub fn clearnet(&self) -> Clearnet {
        self.clearnet
    }

    /// When a listener counts as ready.
    pub fn publication(&self) -> Publication {
        self.publication
    }

    /// How long a listener waits for publication.
    pub fn publish_timeout(&self) -> Duration {
        self.publish_timeout
    }

    /// The onion service keys.
    pub fn keys(&self) -> &[OnionKey] {
        &self.keys
    }
}

impl Default for Config {
    fn default() -> Self {
        Self::new()
    }
}
