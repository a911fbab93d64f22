//! Two libp2p swarms over onion services on a private Tor network (torp2p-testnet): real tor
//! processes on loopback, no Internet.
//!
//! One network serves every scenario (it takes 10–20 s to start), so they run in sequence in
//! one test: listen addresses and publication, pings both ways, what identify tells, removing a
//! listener, restarting it with the same key.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::time::Duration;

use futures::StreamExt;
use libp2p_core::multiaddr::{Multiaddr, Protocol};
use libp2p_core::muxing::StreamMuxerBox;
use libp2p_core::transport::Boxed;
use libp2p_core::upgrade::Version;
use libp2p_core::{ConnectedPoint, Transport as _};
use libp2p_identity::{Keypair, PeerId};
use libp2p_swarm::{
    ConnectionId, DialError, NetworkBehaviour, Swarm, SwarmEvent, dial_opts::DialOpts,
};
use torp2p_transport as tor;

/// The longest wait for one step of a scenario.
const STEP: Duration = Duration::from_secs(90);
/// The timeout of one dial (connections on the private network take about a second).
const DIAL_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(NetworkBehaviour)]
#[behaviour(prelude = "libp2p_swarm::derive_prelude")]
struct Behaviour {
    ping: libp2p_ping::Behaviour,
    identify: libp2p_identify::Behaviour,
}

type Event = SwarmEvent<BehaviourEvent>;

struct Peer {
    name: &'static str,
    swarm: Swarm<Behaviour>,
    id: PeerId,
    key: tor::OnionKey,
}

/// A swarm on `tor` with a fresh onion service key and a fresh identity.
fn peer(name: &'static str, tor: tor::Tor) -> Peer {
    let keypair = Keypair::generate_ed25519();
    let id = keypair.public().to_peer_id();
    let key = tor::OnionKey::generate();
    let config = tor::Config::new()
        .with_key(key.clone())
        // A dial right after the address is reported must work without the 0xF0 retry: the
        // address appears only once the service is published.
        .with_dial_config(
            tor::socks::Config::new()
                .with_descriptor_retries(0)
                .with_timeout(DIAL_TIMEOUT),
        );
    let transport = tor::Transport::with_tor(tor, config);
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
        libp2p_swarm::Config::with_tokio_executor()
            .with_idle_connection_timeout(Duration::from_secs(120)),
    );
    Peer {
        name,
        swarm,
        id,
        key,
    }
}

fn upgraded(transport: tor::Transport, keypair: &Keypair) -> Boxed<(PeerId, StreamMuxerBox)> {
    transport
        .upgrade(Version::V1Lazy)
        .authenticate(libp2p_noise::Config::new(keypair).unwrap())
        .multiplex(libp2p_yamux::Config::default())
        .timeout(Duration::from_secs(90))
        .boxed()
}

/// Whether `addr` names an IP address or a DNS name: anything that could locate a host.
fn locates_a_host(addr: &Multiaddr) -> bool {
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
enum Side {
    A,
    B,
}

/// Drives both swarms until `done` says so, at most [`STEP`]. Every event goes through the
/// privacy checks of [`check_event`] first.
async fn drive(a: &mut Peer, b: &mut Peer, step: &str, mut done: impl FnMut(Side, &Event) -> bool) {
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
fn check_event(side: Side, event: &Event) {
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
async fn listen(
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
struct Pings {
    /// Connections by the swarm that saw them and whether it dialed them.
    dialed: HashSet<(usize, ConnectionId)>,
    listened: HashSet<(usize, ConnectionId)>,
    /// (side, dialer?) pairs with a successful ping.
    ok: HashSet<(usize, bool)>,
}

impl Pings {
    fn see(&mut self, side: Side, event: &Event) {
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
    fn both_ways(&self) -> bool {
        [(0, true), (0, false), (1, true), (1, false)]
            .iter()
            .all(|k| self.ok.contains(k))
    }
}

/// Dials until connected (a restarted service can take a few attempts while the dialer's tor
/// still has its old descriptor), at most [`STEP`].
async fn reconnect(a: &mut Peer, b: &mut Peer, addr: &Multiaddr) {
    let target = addr.clone().with(Protocol::P2p(a.id));
    b.swarm.dial(target.clone()).unwrap();
    let mut attempts = 1;
    let a_id = a.id;
    let mut redial = false;
    let wait = async {
        loop {
            if redial {
                redial = false;
                attempts += 1;
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
                    eprintln!("reconnect attempt {attempts} failed: {error}");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    redial = true;
                }
                _ => {}
            }
        }
    };
    tokio::time::timeout(STEP, wait)
        .await
        .expect("B reconnects to A's restarted listener");
}

/// The typed dial failures of a failed dial, and whether it says that tor is gone.
fn dial_failures(error: &DialError) -> Vec<(&tor::DialError, bool)> {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swarms_ping_each_other_over_onion_services() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();

    let net = torp2p_testnet::TestNet::builder()
        .start()
        .await
        .expect("the private Tor network starts");
    let (tor_a, tor_b) = tokio::join!(net.spawn_client(), net.spawn_client());
    let mut a = peer("A", tor_a.expect("A's tor joins the network"));
    let mut b = peer("B", tor_b.expect("B's tor joins the network"));

    // 1. Each listens on its onion address, reported once published.
    let (listener_a, addr_a) = listen(&mut a, &mut b, Side::A, 4001).await;
    let (_listener_b, addr_b) = listen(&mut a, &mut b, Side::B, 4002).await;

    // 2. Pings both ways: B dials A's onion service and A dials B's, each at once after the
    //    address was reported, with no retry of "descriptor not found".
    b.swarm
        .dial(addr_a.clone().with(Protocol::P2p(a.id)))
        .unwrap();
    a.swarm
        .dial(addr_b.clone().with(Protocol::P2p(b.id)))
        .unwrap();
    let mut pings = Pings::default();
    let mut identified = HashSet::new();
    drive(&mut a, &mut b, "pings both ways and identify", |side, e| {
        pings.see(side, e);
        if let SwarmEvent::Behaviour(BehaviourEvent::Identify(libp2p_identify::Event::Received {
            info,
            ..
        })) = e
        {
            // 3. What identify tells about the other: its onion address, nothing else.
            let expected = match side {
                Side::A => &addr_b,
                Side::B => &addr_a,
            };
            assert_eq!(info.listen_addrs, vec![expected.clone()], "{side:?}");
            identified.insert(side as usize);
        }
        pings.both_ways() && identified.len() == 2
    })
    .await;

    // 4. Removing A's listener removes its onion service: the listener closes cleanly, and a
    //    new dial fails with tor's reason once the connections are gone.
    assert!(a.swarm.remove_listener(listener_a));
    let _ = a.swarm.disconnect_peer_id(b.id);
    let mut closed = false;
    let mut disconnected = HashSet::new();
    drive(&mut a, &mut b, "A's listener closes", |side, e| {
        match e {
            SwarmEvent::ListenerClosed {
                listener_id,
                addresses,
                reason,
            } if side == Side::A && *listener_id == listener_a => {
                assert!(reason.is_ok(), "{reason:?}");
                assert_eq!(addresses, &vec![addr_a.clone()]);
                closed = true;
            }
            SwarmEvent::ConnectionClosed {
                num_established: 0, ..
            } => {
                disconnected.insert(side as usize);
            }
            _ => {}
        }
        closed && disconnected.len() == 2
    })
    .await;
    assert!(!a.swarm.listeners().any(|l| *l == addr_a));
    // Without `/p2p`, the dial is isolated by address: it gets circuits of its own rather
    // than the rendezvous circuit of the closed connections, so it has to reach the service
    // through the onion service directory and introduction points.
    b.swarm
        .dial(DialOpts::unknown_peer_id().address(addr_a.clone()).build())
        .unwrap();
    drive(
        &mut a,
        &mut b,
        "B's dial to the removed service fails",
        |side, e| match e {
            SwarmEvent::OutgoingConnectionError { error, .. } if side == Side::B => {
                let failures = dial_failures(error);
                let (dial, gone) = failures
                    .first()
                    .unwrap_or_else(|| panic!("not a dial through tor: {error:?}"));
                assert!(!gone, "{error}");
                // An onion service error: descriptor not found (0xF0) once no directory has
                // the descriptor any more (hours: its lifetime); until then the introduction
                // fails (0xF2, 0xF7), or tor keeps trying until the dial's timeout.
                assert!(
                    matches!(dial.reply_code(), Some(0xF0..=0xF7))
                        || matches!(dial, tor::DialError::Timeout { .. }),
                    "{dial:?}"
                );
                eprintln!("dial to the removed service: {dial}");
                true
            }
            SwarmEvent::ConnectionEstablished { .. } if side == Side::B => {
                panic!("B connected to a removed onion service")
            }
            _ => false,
        },
    )
    .await;

    // 5. The same key again: the same address, and B reconnects and pings.
    let (_listener_a, again) = listen(&mut a, &mut b, Side::A, 4001).await;
    assert_eq!(again, addr_a, "same key, same onion address");
    reconnect(&mut a, &mut b, &addr_a).await;
    let a_id = a.id;
    drive(&mut a, &mut b, "B pings A after the restart", |side, e| {
        matches!(
            e,
            SwarmEvent::Behaviour(BehaviourEvent::Ping(libp2p_ping::Event { peer, result: Ok(_), .. }))
                if side == Side::B && *peer == a_id
        )
    })
    .await;

    drop((a, b));
    net.shutdown().await;
}
