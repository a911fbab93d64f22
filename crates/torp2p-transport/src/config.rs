//! [`Config`]: where tor comes from, how to dial, and how to listen.

use std::time::Duration;

use std::collections::HashMap;

use torp2p_addr::{LocalAddr, OnionAddress};
use torp2p_daemon::{
    AttachConfig, ClientAuthKey, ClientAuthPublicKey, ListenTarget, OnionKey, OnionServiceOptions,
    Publication,
};
use torp2p_socks::Isolation;

/// Where [`Transport::new`](crate::Transport::new) gets its tor daemon. (A [`Tor`] handle you
/// already have goes to [`Transport::from_tor`](crate::Transport::from_tor) instead.)
///
/// [`Tor`]: torp2p_daemon::Tor
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum TorSource {
    /// Start a tor of our own with this configuration ([`Tor::spawn`]); it is killed when the
    /// transport is dropped. The default, with [`torp2p_daemon::Config::new`].
    ///
    /// [`Tor::spawn`]: torp2p_daemon::Tor::spawn
    Spawn(torp2p_daemon::Config),
    /// Use a running tor (e.g. the system's) through its control port ([`Tor::attach`]).
    ///
    /// An attached tor that runs as another user (Debian's `debian-tor`) cannot reach a unix
    /// socket in a private directory of this user: its listeners forward visitors to a TCP
    /// port on 127.0.0.1 instead ([`ListenTarget::Auto`]). See the crate's Warnings.
    ///
    /// Debian's tor service, for a user in the `debian-tor` group (which may use its control
    /// socket and read its cookie):
    ///
    /// ```no_run
    /// use torp2p_transport::{self as tor, daemon::{AttachConfig, AuthMethod, LocalAddr}};
    ///
    /// # async fn run(key: tor::OnionKey) -> Result<(), tor::Error> {
    /// let attach = AttachConfig::new(LocalAddr::Unix("/run/tor/control".into()))
    ///     .with_auth(AuthMethod::SafeCookie);
    /// let transport = tor::Transport::new(tor::Config::new().with_tor(attach).with_key(key)).await?;
    /// # drop(transport);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// [`Tor::attach`]: torp2p_daemon::Tor::attach
    Attach(AttachConfig),
    /// Run Tor in the process: an embedded [arti](https://gitlab.torproject.org/tpo/core/arti)
    /// client, bootstrapped with this configuration; no tor binary needed (feature `arti`).
    /// Without a configuration file it joins the public Tor network; a private network's
    /// `arti.toml` (torp2p-testnet writes one) joins that instead.
    ///
    /// The same dial settings apply as with C tor (timeout, isolation, "descriptor not found"
    /// retries, the clearnet policy) and the same keys give the same onion addresses. What C
    /// tor has and arti has not: proof-of-work defenses, stream limits and client
    /// authorization for services ([`OnionServiceOptions`] other than the default are
    /// refused), client authorization keys for dials. There is no process to restart: the
    /// [`RestartPolicy`] does not apply.
    ///
    /// ```no_run
    /// use torp2p_transport as tor;
    ///
    /// # async fn run(key: tor::OnionKey) -> Result<(), tor::Error> {
    /// let arti = tor::arti::Config::new().with_storage_dir("/var/lib/my-app/arti");
    /// let transport = tor::Transport::new(tor::Config::new().with_tor(arti).with_key(key)).await?;
    /// # drop(transport);
    /// # Ok(())
    /// # }
    /// ```
    #[cfg(feature = "arti")]
    Embedded(torp2p_arti::Config),
}

#[cfg(feature = "arti")]
impl From<torp2p_arti::Config> for TorSource {
    fn from(config: torp2p_arti::Config) -> Self {
        TorSource::Embedded(config)
    }
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
    /// `None` until [`Config::with_tor`]: [`Transport::from_tor`](crate::Transport::from_tor)
    /// refuses a config that names a source it would not use.
    pub(crate) tor: Option<TorSource>,
    pub(crate) bootstrap_timeout: Option<Duration>,
    pub(crate) dial: torp2p_socks::Config,
    pub(crate) socks_proxy: Option<LocalAddr>,
    pub(crate) clearnet: Clearnet,
    pub(crate) publication: Publication,
    pub(crate) publish_timeout: Duration,
    pub(crate) keys: Vec<OnionKey>,
    pub(crate) service_options: OnionServiceOptions,
    pub(crate) client_auth: HashMap<OnionAddress, ClientAuthKey>,
    pub(crate) max_concurrent_dials: usize,
    pub(crate) restart: RestartPolicy,
    pub(crate) reachability: ReachabilityWatch,
    pub(crate) rotate_isolation: bool,
}

/// What [`Transport::new`](crate::Transport::new) does when its tor dies or hangs: start it
/// again (or attach again), with exponential backoff between failed attempts, and re-publish
/// every onion service with its key (the same onion addresses). A plain value: [`new`](Self::new)
/// gives the defaults, the `with_*` setters change them.
///
/// An attached tor counts as gone when one of the transport's two control connections to it
/// closes, though tor keeps running: tor removes the onion services a connection added when it
/// closes. The other connection is closed too, and the transport attaches again. A closed
/// command connection is noticed at the next command, at the latest the hang probe's (every
/// half hang timeout).
///
/// While tor is down, dials fail at once with [`Error::TorRestarting`](crate::Error) and each
/// listener reports its address expired (`TransportEvent::AddressExpired`); once the service
/// is published again, the same address is reported new (`NewAddress`). When the policy gives
/// up, listeners close with [`Error::GaveUpRestarting`](crate::Error).
///
/// A transport made with [`Transport::from_tor`](crate::Transport::from_tor) has no source to
/// start tor again from: it is not supervised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartPolicy {
    pub(crate) enabled: bool,
    pub(crate) max_attempts: u32,
    pub(crate) first_backoff: Duration,
    pub(crate) max_backoff: Duration,
    pub(crate) hang_timeout: Duration,
}

impl RestartPolicy {
    /// The defaults: on; the first attempt at once, then after 1 s, 2 s, 4 s, ... at most 60 s
    /// apart; give up after 10 failed attempts in a row; a tor whose control port stays silent
    /// for 30 s counts as hung and is killed (a spawned one) and started again.
    pub fn new() -> Self {
        Self {
            enabled: true,
            max_attempts: 10,
            first_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            hang_timeout: Duration::from_secs(30),
        }
    }

    /// Never restart: when tor dies, listeners close and dials fail with
    /// [`Error::TorGone`](crate::Error).
    pub fn never() -> Self {
        Self {
            enabled: false,
            ..Self::new()
        }
    }

    /// Gives up after `n` failed attempts in a row (at least 1).
    pub fn with_max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n.max(1);
        self
    }

    /// The wait after the first failed attempt, doubled after each further one up to `max`.
    pub fn with_backoff(mut self, first: Duration, max: Duration) -> Self {
        self.first_backoff = first;
        self.max_backoff = max.max(first);
        self
    }

    /// How long tor's control port may stay silent before tor counts as hung (at least
    /// 200 ms; checked every half of it).
    pub fn with_hang_timeout(mut self, timeout: Duration) -> Self {
        self.hang_timeout = timeout.max(Duration::from_millis(200));
        self
    }
}

impl Default for RestartPolicy {
    fn default() -> Self {
        Self::new()
    }
}

/// How the transport watches each of its onion services while tor runs, so that a service
/// nobody can reach does not stay silently listed: every `interval` it asks tor how many
/// introduction points the service has (`GETINFO circuit-status`) and follows the descriptor
/// uploads (`HS_DESC` events). When the service has had no introduction point, or every upload
/// since the last confirmed one has failed, for longer than `grace`, the listener reports its
/// address expired (`TransportEvent::AddressExpired`, with
/// [`Error::ServiceUnreachable`](crate::Error) in the log), removes the service and adds it
/// again with the same key, and reports the same address new once it is published again. tor
/// replaces a lost introduction point within seconds by itself; the watch is for the cases
/// it does not (its network is off, it gave up building introduction circuits for a while).
///
/// A plain value: [`new`](Self::new) gives the defaults, the `with_*` setters change them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReachabilityWatch {
    pub(crate) enabled: bool,
    pub(crate) interval: Duration,
    pub(crate) grace: Duration,
}

impl ReachabilityWatch {
    /// The defaults: on; checked every 10 s; re-published after 60 s without an introduction
    /// point or with every upload failing.
    pub fn new() -> Self {
        Self {
            enabled: true,
            interval: Duration::from_secs(10),
            grace: Duration::from_secs(60),
        }
    }

    /// Never watch: a service stays listed whatever tor reports.
    pub fn disabled() -> Self {
        Self {
            enabled: false,
            ..Self::new()
        }
    }

    /// How often tor is asked (at least every 100 ms).
    pub fn with_interval(mut self, interval: Duration) -> Self {
        self.interval = interval.max(Duration::from_millis(100));
        self
    }

    /// How long a service may have no introduction point, or failing uploads, before it counts
    /// as unreachable.
    pub fn with_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }
}

impl Default for ReachabilityWatch {
    fn default() -> Self {
        Self::new()
    }
}

impl Config {
    /// The defaults:
    /// - tor: [`Transport::new`](crate::Transport::new) starts a tor of its own
    ///   ([`TorSource::Spawn`] with [`torp2p_daemon::Config::new`]: temporary data directory,
    ///   control and SOCKS ports on unix sockets only this user can use);
    /// - bootstrap timeout: [`Transport::new`](crate::Transport::new) waits 120 s for tor to
    ///   reach the network;
    /// - dials: [`torp2p_socks::Config::new`]: 120 s timeout per dial, stream isolation per
    ///   peer ([`Isolation::PerPeer`]: the `/p2p` peer id, or the address when there is none),
    ///   one retry after 1 s when tor answers "descriptor not found";
    /// - a fresh isolation key for a peer after a dial to it failed at circuit level (see
    ///   [`with_isolation_rotation`](Self::with_isolation_rotation));
    /// - SOCKS port: the one tor reports;
    /// - clearnet addresses: refused ([`Clearnet::Refuse`]);
    /// - publication: [`Publication::AllUploads`] with a 10 s cap (the listen address is
    ///   reported once every descriptor upload was answered);
    /// - publish timeout: 120 s (then the listener closes with the reason);
    /// - no onion service keys (so no address to listen on until you add one with
    ///   [`with_key`](Self::with_key));
    /// - onion service options: [`OnionServiceOptions::new`] (no stream limit, no client
    ///   authorization, no proof-of-work defenses, the listeners' target chosen automatically:
    ///   [`ListenTarget::Auto`]);
    /// - no client authorization keys for dialing;
    /// - at most 32 dials at once (tor's own `MaxClientCircuitsPending` default); more wait in
    ///   line, see [`with_max_concurrent_dials`](Self::with_max_concurrent_dials);
    /// - tor started again when it dies or hangs ([`RestartPolicy::new`]);
    /// - onion services re-published when tor keeps them unreachable for a minute
    ///   ([`ReachabilityWatch::new`]).
    pub fn new() -> Self {
        Self {
            tor: None,
            bootstrap_timeout: None,
            dial: torp2p_socks::Config::new(),
            socks_proxy: None,
            clearnet: Clearnet::Refuse,
            publication: Publication::default(),
            publish_timeout: Duration::from_secs(120),
            keys: Vec::new(),
            service_options: OnionServiceOptions::new(),
            client_auth: HashMap::new(),
            max_concurrent_dials: DEFAULT_MAX_CONCURRENT_DIALS,
            restart: RestartPolicy::new(),
            reachability: ReachabilityWatch::new(),
            rotate_isolation: true,
        }
    }

    /// Sets where [`Transport::new`](crate::Transport::new) gets tor: a configuration to spawn
    /// one, or a control port to attach to (each converts with `into()`).
    pub fn with_tor(mut self, tor: impl Into<TorSource>) -> Self {
        self.tor = Some(tor.into());
        self
    }

    /// Sets how long [`Transport::new`](crate::Transport::new) waits for tor to bootstrap.
    pub fn with_bootstrap_timeout(mut self, timeout: Duration) -> Self {
        self.bootstrap_timeout = Some(timeout);
        self
    }

    /// Sets the dial settings: timeout, isolation, retry of "descriptor not found".
    pub fn with_dial_config(mut self, dial: torp2p_socks::Config) -> Self {
        self.dial = dial;
        self
    }

    /// Sets how dials share tor circuits (shorthand for the isolation of
    /// [`with_dial_config`](Self::with_dial_config)).
    ///
    /// With [`Isolation::PerPeer`] (the default) the key of a peer changes after a dial to it
    /// failed at circuit level, so that the next dial gets new circuits: see
    /// [`with_isolation_rotation`](Self::with_isolation_rotation).
    pub fn with_isolation(mut self, isolation: Isolation) -> Self {
        self.dial = self.dial.with_isolation(isolation);
        self
    }

    /// Sets whether, under [`Isolation::PerPeer`], a dial to a peer after a failed one uses a
    /// fresh isolation key. On by default.
    ///
    /// After a dial fails at circuit level ([`DialError::is_circuit_failure`]: the dial's
    /// timeout, 0x06, or the onion service replies 0xF2 introduction failed, 0xF3 rendezvous
    /// failed, 0xF7 introduction timed out), tor can keep every later stream with the same
    /// SOCKS credentials waiting on the circuit that failed: a rendezvous circuit whose
    /// introduction was acknowledged but whose rendezvous never comes is kept for about 3
    /// minutes, and each dial to the peer times out behind it. So the next dial to that peer
    /// sends `<peer id>#<n>` instead of the peer id (for a dial without a peer id,
    /// `<target>#<n>`), with `n` never used before: tor builds new circuits for it, still
    /// apart from every other peer's. A success keeps the key; only peers whose key changed
    /// are remembered, at most 1024 (the least recently dialed is forgotten first and goes
    /// back to the plain key). A new tor (after a restart) starts from plain keys. Streams to
    /// one peer then use one set of circuits at a time, as before; what changes is only that
    /// a failed set is not used again.
    ///
    /// Off: every dial to a peer sends the same key, as torp2p did before. No effect with
    /// [`Isolation::PerConnection`] (every dial has a key of its own already) or
    /// [`Isolation::Shared`] (no key).
    ///
    /// [`DialError::is_circuit_failure`]: torp2p_socks::DialError::is_circuit_failure
    pub fn with_isolation_rotation(mut self, rotate: bool) -> Self {
        self.rotate_isolation = rotate;
        self
    }

    /// Dials through this SOCKS port instead of the one tor reports (for a tor with several
    /// SOCKS ports, or a `SocksPort` with flags of your choosing). It must be tor's: nothing
    /// checks that.
    pub fn with_socks_proxy(mut self, proxy: LocalAddr) -> Self {
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

    /// Listening: where tor forwards visitors of this transport's onion services (shorthand
    /// for [`OnionServiceOptions::with_listen_target`] on the service options). By default
    /// ([`ListenTarget::Auto`]) a unix socket in a private directory when tor can reach it,
    /// else a TCP port on 127.0.0.1 (an attached tor that runs as another user).
    pub fn with_listen_target(mut self, target: ListenTarget) -> Self {
        self.service_options = self.service_options.with_listen_target(target);
        self
    }

    /// Listening: lets the client holding the secret half of `public_key` connect to this
    /// transport's onion services, and with the first such key, nobody else (tor's client
    /// authorization, `ClientAuthV3`). Call once per authorized client. Shorthand for
    /// [`OnionServiceOptions::with_authorized_client`] on the service options.
    ///
    /// A dialer without a key gets [`DialError::ClientAuthMissing`], one with a wrong key
    /// [`DialError::ClientAuthWrong`] (tor's answers 0xF4 and 0xF5).
    ///
    /// [`DialError::ClientAuthMissing`]: torp2p_socks::DialError::ClientAuthMissing
    /// [`DialError::ClientAuthWrong`]: torp2p_socks::DialError::ClientAuthWrong
    pub fn with_authorized_client(mut self, public_key: ClientAuthPublicKey) -> Self {
        self.service_options = self.service_options.with_authorized_client(public_key);
        self
    }

    /// Sets what happens when tor dies or hangs; see [`RestartPolicy`].
    pub fn with_restart_policy(mut self, policy: RestartPolicy) -> Self {
        self.restart = policy;
        self
    }

    /// Sets how the transport watches its onion services while tor runs; see
    /// [`ReachabilityWatch`].
    pub fn with_reachability_watch(mut self, watch: ReachabilityWatch) -> Self {
        self.reachability = watch;
        self
    }

    /// Sets how many dials may run at once (at least 1); the others wait in line, first come
    /// first served, so that a swarm dialing a thousand addresses does not ask tor for a
    /// thousand circuits at once. A dial waits in line at most its timeout (the dial config's,
    /// 120 s by default), then fails with [`Error::DialQueueTimeout`](crate::Error); once it
    /// leaves the line, its full timeout applies to the dial itself. Dropping a waiting dial
    /// takes it out of the line.
    ///
    /// `usize::MAX` (or any number above tokio's semaphore limit, about 2^61) means no limit.
    pub fn with_max_concurrent_dials(mut self, n: usize) -> Self {
        self.max_concurrent_dials = n.clamp(1, tokio::sync::Semaphore::MAX_PERMITS);
        self
    }

    /// Dialing: the client authorization key for the onion service at `service`, given to
    /// tor (`ONION_CLIENT_AUTH_ADD`) before the first dial to it. One key per service; a
    /// second call for the same service replaces the first.
    pub fn with_client_auth(mut self, service: OnionAddress, key: ClientAuthKey) -> Self {
        self.client_auth.insert(service, key);
        self
    }
}

/// How many dials run at once by default: tor's default `MaxClientCircuitsPending`.
const DEFAULT_MAX_CONCURRENT_DIALS: usize = 32;

/// How long [`Transport::new`](crate::Transport::new) waits for tor to bootstrap by default.
pub(crate) const DEFAULT_BOOTSTRAP_TIMEOUT: Duration = Duration::from_secs(120);

impl Default for Config {
    fn default() -> Self {
        Self::new()
    }
}
