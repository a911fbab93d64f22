#![doc = include_str!("../README.md")]
// A test harness fails by panicking, as the tests that use it do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::time::Duration;

use futures::StreamExt;
use libp2p_core::ConnectedPoint;
use libp2p_core::multiaddr::{Multiaddr, Protocol};
use libp2p_core::muxing::StreamMuxerBox;
use libp2p_core::transport::Boxed;
use libp2p_identity::{Keypair, PeerId};
use libp2p_swarm::{ConnectionId, DialError, Swarm, SwarmEvent};
use torp2p_transport as tor;

mod control;
pub use control::{LocalStream, RawControl, connect_local};

/// Logs of the test to the test's output, filtered by `RUST_LOG` (e.g.
/// `RUST_LOG=torp2p_transport=debug,tor=info`); a second call does nothing.
pub fn init_test_logging() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// The longest wait for one step of a scenario.
pub const STEP: Duration = Duration::from_secs(90);
/// The timeout of one dial (connections on the private network take about a second).
pub const DIAL_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a peer's swarm keeps a connection that no protocol keeps alive: longer than any
/// test, so that only Tor (or the test) ends a connection.
pub const IDLE_CONNECTION_TIMEOUT: Duration = Duration::from_secs(3600);

pub use behaviour::{Behaviour, BehaviourEvent};

mod behaviour {
    // The derive writes `BehaviourEvent` without docs.
    #![allow(missing_docs)]
    use libp2p_swarm::NetworkBehaviour;

    /// What a test peer runs: ping (every second) and identify.
    #[derive(NetworkBehaviour)]
    #[behaviour(prelude = "libp2p_swarm::derive_prelude")]
    pub struct Behaviour {
        /// libp2p ping, every second.
        pub ping: libp2p_ping::Behaviour,
        /// libp2p identify, protocol `/torp2p-test/1`.
        pub identify: libp2p_identify::Behaviour,
    }
}

/// An event of a test peer's swarm.
pub type Event = SwarmEvent<BehaviourEvent>;

/// A swarm on torp2p, with what a test needs to know about it.
pub struct Peer {
    /// A name for messages.
    pub name: &'static str,
    /// The swarm.
    pub swarm: Swarm<Behaviour>,
    /// Its peer id.
    pub id: PeerId,
    /// Its onion service key (the transport holds it: [`listen`] listens on its address).
    pub key: tor::OnionKey,
}

/// A swarm on `tor` with a fresh onion service key and a fresh identity.
pub fn peer(name: &'static str, tor: tor::Tor) -> Peer {
    peer_with(
        name,
        tor,
        tor::OnionKey::generate(),
        Keypair::generate_ed25519(),
    )
}

/// A swarm on `tor` with the given onion service key and identity.
pub fn peer_with(name: &'static str, tor: tor::Tor, key: tor::OnionKey, keypair: Keypair) -> Peer {
    peer_from(name, tor, test_config(), key, keypair)
}

/// The transport settings of a test peer: dials time out after [`DIAL_TIMEOUT`], and a dial
/// right after an address is reported must work without the 0xF0 retry (the address appears
/// only once the service is published).
pub fn test_config() -> tor::Config {
    tor::Config::new().with_dial_config(
        tor::socks::Config::new()
            .with_descriptor_retries(0)
            .with_timeout(DIAL_TIMEOUT),
    )
}

/// A swarm on `tor` with a transport `config` of your own (start from [`test_config`]), to
/// which the onion service `key` is added, and the identity `keypair`.
pub fn peer_from(
    name: &'static str,
    tor: tor::Tor,
    config: tor::Config,
    key: tor::OnionKey,
    keypair: Keypair,
) -> Peer {
    let config = config.with_key(key.clone());
    let transport = tor::Transport::from_tor(tor, config).expect("a transport on the given tor");
    peer_on(name, transport, key, keypair)
}

/// A swarm whose transport starts its own tor with [`tor::Transport::new`] (so it is
/// supervised: started again when it dies): `config` names the tor source (e.g. a private
/// network's `client_config`); the onion service `key` is added.
pub async fn supervised_peer(
    name: &'static str,
    config: tor::Config,
    key: tor::OnionKey,
    keypair: Keypair,
) -> Peer {
    let transport = tor::Transport::new(config.with_key(key.clone()))
        .await
        .expect("the transport starts its tor");
    peer_on(name, transport, key, keypair)
}

fn peer_on(
    name: &'static str,
    transport: tor::Transport,
    key: tor::OnionKey,
    keypair: Keypair,
) -> Peer {
    let id = keypair.public().to_peer_id();
    let swarm = Swarm::new(
        upgraded(transport, &keypair),
        Behaviour {
            ping: libp2p_ping::Behaviour::new(
                libp2p_ping::Config::new().with_interval(Duration::from_secs(1)),
            ),
            identify: libp2p_identify::Behaviour::new(libp2p_identify::Config::new(
                "/torp2p-test/1".into(),
                keypair.public(),
            )),
        },
        id,
        // Ping and identify do not keep a connection alive: libp2p closes it once it has
        // been idle this long (`KeepAliveTimeout`). The scenarios ask whether a connection
        // survives a fault of Tor's, so libp2p must not close it first: with 120 s, a slow
        // recovery step (a 124-s reconnection in one faults run) outlived B's first connection
        // and the test failed as if Tor had broken it.
        libp2p_swarm::Config::with_tokio_executor()
            .with_idle_connection_timeout(IDLE_CONNECTION_TIMEOUT),
    );
    Peer {
        name,
        swarm,
        id,
        key,
    }
}

/// The transport upgraded as a swarm needs it ([`tor::Transport::upgraded`]).
pub fn upgraded(transport: tor::Transport, keypair: &Keypair) -> Boxed<(PeerId, StreamMuxerBox)> {
    transport
        .upgraded(keypair)
        .expect("noise works with an ed25519 identity")
}

/// Whether `addr` names an IP address or a DNS name: anything that could locate a host.
pub fn locates_a_host(addr: &Multiaddr) -> bool {
    addr.iter().any(|p| {
        matches!(
            p,
            Protocol::Ip4(_)
                | Protocol::Ip6(_)
                | Protocol::Dns(_)
                | Protocol::Dns4(_)
                | Protocol::Dns6(_)
                | Protocol::Dnsaddr(_)
                | Protocol::Unix(_)
        )
    })
}

/// Which swarm an event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The first swarm given to [`drive`].
    A,
    /// The second swarm given to [`drive`].
    B,
}

/// Drives both swarms until `done` says so, at most [`STEP`]. Every event goes through the
/// privacy checks of [`check_event`] first.
pub async fn drive(
    a: &mut Peer,
    b: &mut Peer,
    step: &str,
    mut done: impl FnMut(Side, &Event) -> bool,
) {
    let wait = async {
        loop {
            let (side, event) = tokio::select! {
                e = a.swarm.select_next_some() => (Side::A, e),
                e = b.swarm.select_next_some() => (Side::B, e),
            };
            check_event(side, &event);
            if done(side, &event) {
                return;
            }
        }
    };
    tokio::time::timeout(STEP, wait)
        .await
        .unwrap_or_else(|_| panic!("{step}: not done within {STEP:?}"));
}

/// No event may show an address that locates a host.
pub fn check_event(side: Side, event: &Event) {
    match event {
        SwarmEvent::NewListenAddr { address, .. } => {
            assert!(!locates_a_host(address), "{side:?} listens on {address}");
        }
        SwarmEvent::ConnectionEstablished { endpoint, .. } => {
            let remote = endpoint.get_remote_address();
            assert!(!locates_a_host(remote), "{side:?} connected with {remote}");
            if let ConnectedPoint::Listener { local_addr, .. } = endpoint {
                assert!(!locates_a_host(local_addr));
            }
        }
        SwarmEvent::IncomingConnection {
            local_addr,
            send_back_addr,
            ..
        } => {
            assert!(!locates_a_host(local_addr));
            assert!(!locates_a_host(send_back_addr));
        }
        SwarmEvent::Behaviour(BehaviourEvent::Identify(libp2p_identify::Event::Received {
            info,
            ..
        })) => {
            for addr in info.listen_addrs.iter().chain([&info.observed_addr]) {
                assert!(!locates_a_host(addr), "{side:?} learned {addr} by identify");
            }
        }
        SwarmEvent::NewExternalAddrCandidate { address } => {
            assert!(!locates_a_host(address), "{side:?} candidate {address}");
        }
        _ => {}
    }
}

/// Listens on `peer`'s onion address and waits for it to be reported; returns the listener
/// and the address.
pub async fn listen(
    a: &mut Peer,
    b: &mut Peer,
    side: Side,
    port: u16,
) -> (libp2p_core::transport::ListenerId, Multiaddr) {
    let p = match side {
        Side::A => &mut *a,
        Side::B => &mut *b,
    };
    let expected = tor::listen_addr(&p.key, port).unwrap();
    let id = p.swarm.listen_on(expected.clone()).unwrap();
    let name = p.name;
    drive(
        a,
        b,
        &format!("{name} publishes its onion service"),
        |s, e| match e {
            SwarmEvent::NewListenAddr {
                listener_id,
                address,
            } if s == side && *listener_id == id => {
                assert_eq!(
                    *address, expected,
                    "the listen address is the onion address"
                );
                true
            }
            SwarmEvent::ListenerClosed {
                listener_id,
                reason,
                ..
            } if *listener_id == id => {
                panic!("{name}'s listener closed: {reason:?}")
            }
            _ => false,
        },
    )
    .await;
    (id, expected)
}

/// What a ping exchange over both directions has shown so far.
#[derive(Default)]
pub struct Pings {
    /// Connections by the swarm that saw them and whether it dialed them.
    dialed: HashSet<(usize, ConnectionId)>,
    listened: HashSet<(usize, ConnectionId)>,
    /// (side, dialer?) pairs with a successful ping.
    ok: HashSet<(usize, bool)>,
}

impl Pings {
    /// Takes note of an event; panics on a failed dial.
    pub fn see(&mut self, side: Side, event: &Event) {
        let s = side as usize;
        match event {
            SwarmEvent::ConnectionEstablished {
                connection_id,
                endpoint,
                ..
            } => {
                if endpoint.is_dialer() {
                    self.dialed.insert((s, *connection_id));
                } else {
                    self.listened.insert((s, *connection_id));
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Ping(libp2p_ping::Event {
                connection,
                result: Ok(_),
                ..
            })) => {
                let dialer = self.dialed.contains(&(s, *connection));
                let listener = self.listened.contains(&(s, *connection));
                assert!(dialer || listener, "a ping on an unknown connection");
                self.ok.insert((s, dialer));
            }
            SwarmEvent::OutgoingConnectionError { error, .. } => {
                panic!("{side:?}: dial failed: {error}")
            }
            _ => {}
        }
    }

    /// Each swarm pinged over a connection it dialed and over one it accepted.
    pub fn both_ways(&self) -> bool {
        [(0, true), (0, false), (1, true), (1, false)]
            .iter()
            .all(|k| self.ok.contains(k))
    }
}

/// B dials A at `addr` (A's peer id added) and both swarms are driven until B has pinged A.
pub async fn dial_and_ping(a: &mut Peer, b: &mut Peer, addr: &Multiaddr) {
    b.swarm
        .dial(addr.clone().with(Protocol::P2p(a.id)))
        .unwrap();
    let a_id = a.id;
    drive(a, b, "B pings A", |s, e| {
        matches!(e, SwarmEvent::Behaviour(BehaviourEvent::Ping(libp2p_ping::Event { peer, result: Ok(_), .. })) if s == Side::B && *peer == a_id)
    })
    .await;
}

/// B dials A at `addr_a` and A dials B at `addr_b` (peer ids added), at once and without
/// retries, and both swarms run until each has pinged the other over a connection it dialed
/// and one it accepted, and identify has told each of them exactly the other's onion address.
pub async fn ping_both_ways(a: &mut Peer, b: &mut Peer, addr_a: &Multiaddr, addr_b: &Multiaddr) {
    b.swarm
        .dial(addr_a.clone().with(Protocol::P2p(a.id)))
        .unwrap();
    a.swarm
        .dial(addr_b.clone().with(Protocol::P2p(b.id)))
        .unwrap();
    let mut pings = Pings::default();
    let mut identified = HashSet::new();
    drive(a, b, "pings both ways and identify", |side, e| {
        pings.see(side, e);
        if let SwarmEvent::Behaviour(BehaviourEvent::Identify(libp2p_identify::Event::Received {
            info,
            ..
        })) = e
        {
            let expected = match side {
                Side::A => addr_b,
                Side::B => addr_a,
            };
            assert_eq!(info.listen_addrs, vec![expected.clone()], "{side:?}");
            identified.insert(side as usize);
        }
        pings.both_ways() && identified.len() == 2
    })
    .await;
}

/// Dials until connected (a restarted service can take a few attempts while the dialer's tor
/// still has its old descriptor), at most [`STEP`].
pub async fn reconnect(a: &mut Peer, b: &mut Peer, addr: &Multiaddr) {
    reconnect_within(a, b, addr, STEP).await;
}

/// [`reconnect`] with a longer (or shorter) limit than [`STEP`].
pub async fn reconnect_within(a: &mut Peer, b: &mut Peer, addr: &Multiaddr, limit: Duration) {
    if let Err(failures) = try_connect_within(a, b, addr, limit).await {
        panic!(
            "B did not reconnect to A's restarted listener within {limit:?}; {} dials failed:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }
}

/// The typed dial failures of a failed dial, and whether it says that tor is gone.
pub fn dial_failures(error: &DialError) -> Vec<(&tor::DialError, bool)> {
    match error {
        DialError::Transport(errors) => errors
            .iter()
            .filter_map(|(_, e)| {
                tor::Error::dial_error_in(e).map(|d| (d, tor::Error::is_tor_gone_in(e)))
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Why a failed dial failed, whichever backend made it, and whether it says that tor is gone:
/// one entry per address tried.
pub fn dial_failure_kinds(error: &DialError) -> Vec<(tor::DialFailure, bool)> {
    match error {
        DialError::Transport(errors) => errors
            .iter()
            .filter_map(|(_, e)| {
                tor::Error::dial_failure_in(e).map(|d| (d, tor::Error::is_tor_gone_in(e)))
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Like [`reconnect_within`], but reports instead of panicking: `Ok(time to connect)`, or
/// `Err(the failures)` when `limit` ran out. Every failure must carry tor's typed reason.
pub async fn try_connect_within(
    a: &mut Peer,
    b: &mut Peer,
    addr: &Multiaddr,
    limit: Duration,
) -> Result<Duration, Vec<String>> {
    let started = std::time::Instant::now();
    let target = addr.clone().with(Protocol::P2p(a.id));
    let a_id = a.id;
    let mut failures = Vec::new();
    let mut redial = true;
    let wait = async {
        loop {
            if redial {
                redial = false;
                b.swarm.dial(target.clone()).unwrap();
            }
            let (side, event) = tokio::select! {
                e = a.swarm.select_next_some() => (Side::A, e),
                e = b.swarm.select_next_some() => (Side::B, e),
            };
            check_event(side, &event);
            match event {
                SwarmEvent::ConnectionEstablished { peer_id, .. }
                    if side == Side::B && peer_id == a_id =>
                {
                    return;
                }
                SwarmEvent::OutgoingConnectionError { error, .. } if side == Side::B => {
                    let failure = match dial_failures(&error).first() {
                        Some((socks, _)) => socks.to_string(),
                        None => {
                            let kinds = dial_failure_kinds(&error);
                            let kind = kinds.first().unwrap_or_else(|| {
                                panic!("a failure without tor's reason: {error}")
                            });
                            format!("{:?}: {error}", kind.0)
                        }
                    };
                    failures.push(failure);
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    redial = true;
                }
                _ => {}
            }
        }
    };
    match tokio::time::timeout(limit, wait).await {
        Ok(()) => Ok(started.elapsed()),
        Err(_) => Err(failures),
    }
}

/// Sends `sig` (e.g. `-STOP`, `-KILL`) to the process `pid`, one this test started (a tor of
/// its own), and asserts that `kill` did it.
pub fn signal(pid: u32, sig: &str) {
    let ok = std::process::Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .expect("`kill` runs")
        .success();
    assert!(ok, "kill {sig} {pid}");
}
