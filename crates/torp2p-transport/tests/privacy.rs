//! What the transport promises about privacy and defenses, checked against real tors on a
//! private network: client authorization (an authorized client connects; one without a key and
//! one with a wrong key get tor's typed answers), stream isolation as tor itself reports it
//! (which circuit carries which stream) for each `Isolation` mode, and proof-of-work defenses
//! (tor puts PoW parameters in the descriptor, and a client still connects).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::pin::Pin;
use std::time::Duration;

use futures::future::poll_fn;
use libp2p_core::Endpoint;
use libp2p_core::multiaddr::{Multiaddr, Protocol};
use libp2p_core::transport::{DialOpts, ListenerId, PortUse, Transport as _, TransportEvent};
use libp2p_identity::{Keypair, PeerId};
use libp2p_swarm::SwarmEvent;
use torp2p_swarm_test::*;
use torp2p_transport as tor;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_authorization_stream_isolation_and_pow() {
    init_test_logging();
    torp2p_testnet::TestNet::builder()
        .run(async |net| {
            let (s, ok, none, wrong) = tokio::join!(
                net.spawn_client(),
                net.spawn_client(),
                net.spawn_client(),
                net.spawn_client()
            );
            let tors = [s?, ok?, none?, wrong?];
            client_authorization(&tors).await;
            stream_isolation(&tors[0], &tors[1]).await;
            pow_defenses(net, &tors[1]).await;
            for t in tors {
                t.shutdown().await;
            }
            Ok::<(), torp2p_testnet::Error>(())
        })
        .await
        .expect("the private network starts");
}

/// The first dial failure tor gave B (its reply code and message), within [`STEP`].
async fn dial_failure(a: &mut Peer, b: &mut Peer, addr: &Multiaddr) -> (Option<u8>, String) {
    b.swarm
        .dial(addr.clone().with(Protocol::P2p(a.id)))
        .unwrap();
    let mut failure = None;
    let name = b.name;
    drive(a, b, "the unauthorized dial fails", |side, e| match e {
        SwarmEvent::OutgoingConnectionError { error, .. } if side == Side::B => {
            let typed = dial_failures(error);
            let (dial, gone) = typed
                .first()
                .unwrap_or_else(|| panic!("a failure without tor's reason: {error}"));
            assert!(!gone, "{error}");
            failure = Some((dial.reply_code(), dial.to_string()));
            true
        }
        SwarmEvent::ConnectionEstablished { .. } if side == Side::B => {
            panic!("{name} connected to a service that requires client authorization")
        }
        _ => false,
    })
    .await;
    failure.unwrap()
}

async fn client_authorization(tors: &[tor::Tor; 4]) {
    let client = tor::ClientAuthKey::generate().unwrap();
    let wrong = tor::ClientAuthKey::generate().unwrap();
    let service_key = tor::OnionKey::generate();
    let service_addr = service_key.onion_address();
    let mut s = peer_from(
        "S",
        tors[0].clone(),
        test_config().with_authorized_client(client.public_key()),
        service_key,
        Keypair::generate_ed25519(),
    );
    let mut ok = peer_from(
        "authorized",
        tors[1].clone(),
        test_config().with_client_auth(service_addr, client),
        tor::OnionKey::generate(),
        Keypair::generate_ed25519(),
    );
    let (_listener, addr) = listen(&mut s, &mut ok, Side::A, 4001).await;

    // The authorized client connects and pings.
    reconnect(&mut s, &mut ok, &addr).await;
    let s_id = s.id;
    drive(&mut s, &mut ok, "the authorized client pings", |side, e| {
        matches!(e, SwarmEvent::Behaviour(BehaviourEvent::Ping(libp2p_ping::Event { peer, result: Ok(_), .. })) if side == Side::B && *peer == s_id)
    })
    .await;
    assert!(tors[1].has_client_auth(&service_addr).await.unwrap());

    // Without a key: tor's "client authorization missing".
    let mut none = peer("no key", tors[2].clone());
    let (code, message) = dial_failure(&mut s, &mut none, &addr).await;
    eprintln!("without a key: {message}");
    assert_eq!(code, Some(0xF4), "without a key: {message}");

    // With a wrong key: tor's "client authorization wrong".
    let mut bad = peer_from(
        "wrong key",
        tors[3].clone(),
        test_config().with_client_auth(service_addr, wrong),
        tor::OnionKey::generate(),
        Keypair::generate_ed25519(),
    );
    let (code, message) = dial_failure(&mut s, &mut bad, &addr).await;
    eprintln!("with a wrong key: {message}");
    assert_eq!(code, Some(0xF5), "with a wrong key: {message}");
}

/// The circuit of each open stream to an onion service, from tor's `stream-status`:
/// `<stream id> <status> <circuit id> <target>` per line.
async fn circuits(tor: &tor::Tor) -> HashMap<String, Vec<String>> {
    let mut by_target: HashMap<String, Vec<String>> = HashMap::new();
    for line in tor.get_info("stream-status").await.unwrap().lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if let [_, "SUCCEEDED", circuit, target] = words[..] {
            by_target
                .entry(target.to_string())
                .or_default()
                .push(circuit.to_string());
        }
    }
    by_target
}

/// A raw listener (no swarm, no upgrade) on `tor`: returns once it is published; incoming
/// streams wait in its queue.
async fn raw_listener(tor: &tor::Tor, port: u16) -> (tor::Transport, Multiaddr) {
    let key = tor::OnionKey::generate();
    let addr = tor::listen_addr(&key, port).unwrap();
    let mut t = tor::Transport::from_tor(tor.clone(), tor::Config::new().with_key(key)).unwrap();
    t.listen_on(ListenerId::next(), addr.clone()).unwrap();
    let published = tokio::time::timeout(STEP, async {
        loop {
            match poll_fn(|cx| Pin::new(&mut t).poll(cx)).await {
                TransportEvent::NewAddress { .. } => return,
                TransportEvent::ListenerClosed { reason, .. } => panic!("{reason:?}"),
                _ => {}
            }
        }
    });
    published.await.expect("the raw listener is published");
    (t, addr)
}

async fn stream_isolation(listener_tor: &tor::Tor, dialer_tor: &tor::Tor) {
    let (_x, x) = raw_listener(listener_tor, 4011).await;
    let (_y, y) = raw_listener(listener_tor, 4012).await;
    // As tor writes a stream's target: `<address>.onion:<port>`.
    let target = |a: &Multiaddr| {
        tor::addr::DialAddr::from_multiaddr(a)
            .unwrap()
            .target
            .to_string()
    };
    let peer_1: PeerId = Keypair::generate_ed25519().public().to_peer_id();
    let peer_2: PeerId = Keypair::generate_ed25519().public().to_peer_id();
    let opts = DialOpts {
        role: Endpoint::Dialer,
        port_use: PortUse::New,
    };
    for isolation in [
        tor::Isolation::PerPeer,
        tor::Isolation::PerConnection,
        tor::Isolation::Shared,
    ] {
        let mut dialer =
            tor::Transport::from_tor(dialer_tor.clone(), test_config().with_isolation(isolation))
                .unwrap();
        // Two connections to X as one peer, one to X as another peer, one to Y.
        let dials = [
            x.clone().with(Protocol::P2p(peer_1)),
            x.clone().with(Protocol::P2p(peer_1)),
            x.clone().with(Protocol::P2p(peer_2)),
            y.clone(),
        ];
        let mut streams = Vec::new();
        for d in &dials {
            let s = dialer.dial(d.clone(), opts).unwrap().await;
            streams.push(s.unwrap_or_else(|e| panic!("{isolation:?}: dial {d}: {e}")));
        }
        let by_target = circuits(dialer_tor).await;
        let on_x = by_target.get(&target(&x)).cloned().unwrap_or_default();
        let on_y = by_target.get(&target(&y)).cloned().unwrap_or_default();
        eprintln!("{isolation:?}: circuits to X {on_x:?}, to Y {on_y:?}");
        assert_eq!(
            (on_x.len(), on_y.len()),
            (3, 1),
            "{isolation:?}: {by_target:?}"
        );
        // stream-status lists streams newest first or oldest first: sort by our order via the
        // stream ids is not possible from here, so compare as sets.
        let distinct = |v: &[String]| v.iter().collect::<std::collections::HashSet<_>>().len();
        match isolation {
            // One circuit per peer: the two connections as peer 1 share one, peer 2 has its
            // own.
            tor::Isolation::PerPeer => assert_eq!(distinct(&on_x), 2, "{isolation:?}"),
            // One circuit per connection.
            tor::Isolation::PerConnection => assert_eq!(distinct(&on_x), 3, "{isolation:?}"),
            // Everything to X on one circuit.
            tor::Isolation::Shared => assert_eq!(distinct(&on_x), 1, "{isolation:?}"),
            _ => unreachable!(),
        }
        // A service is never reached over another service's rendezvous circuit.
        assert!(on_y.iter().all(|c| !on_x.contains(c)), "{isolation:?}");
        drop(streams);
        drop(dialer);
        // Wait until tor has closed the streams before the next mode.
        for _ in 0..200 {
            let left = circuits(dialer_tor).await;
            if !left.contains_key(&target(&x)) && !left.contains_key(&target(&y)) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Whether the log file has a line containing `needle`.
fn logged(log: &std::path::Path, needle: &str) -> bool {
    std::fs::read_to_string(log).is_ok_and(|t| t.contains(needle))
}

/// What tor logs (at info level) when it sets up PoW defenses for a service and puts their
/// parameters in its descriptor (tor 0.4.9: `initialize_pow_defenses(): Generating both PoW
/// seeds...`, `update_all_descriptors_pow_params(): Initializing pow_params in descriptor...`).
const POW_SEEDS: &str = "initialize_pow_defenses()";
const POW_PARAMS: &str = "pow_params in descriptor";

async fn pow_defenses(net: &mut torp2p_testnet::TestNet, client_tor: &tor::Tor) {
    // A service tor of its own, logging at info level: PoW parameters live in the
    // descriptor's encrypted layer, which the control port does not show; tor's log does.
    let config = net.client_config();
    let log = config.data_dir().unwrap().join("info.log");
    let host = tor::Tor::spawn(config.with_torrc_line(format!("Log info file {}", log.display())))
        .await
        .unwrap();
    host.wait_bootstrapped(STEP).await.unwrap();

    // First a service without defenses: tor sets up none.
    let mut plain = peer("plain", host.clone());
    let mut dialer = peer("dialer", client_tor.clone());
    let (_plain_listener, _) = listen(&mut plain, &mut dialer, Side::A, 4021).await;
    assert!(
        !logged(&log, POW_SEEDS),
        "PoW set up for a service without defenses"
    );
    drop(plain);

    // Then one with defenses: tor generates seeds and publishes parameters, and a client
    // still connects and pings.
    let pow = tor::PowDefenses {
        queue_rate: 100,
        queue_burst: 200,
    };
    let mut defended = peer_from(
        "defended",
        host.clone(),
        test_config()
            .with_onion_service_options(tor::OnionServiceOptions::new().with_pow_defenses(pow)),
        tor::OnionKey::generate(),
        Keypair::generate_ed25519(),
    );
    let (_listener, addr) = listen(&mut defended, &mut dialer, Side::A, 4022).await;
    // tor writes its log as it goes: poll until both lines are there.
    let both = async {
        while !(logged(&log, POW_SEEDS) && logged(&log, POW_PARAMS)) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(STEP, both)
        .await
        .expect("tor logs its PoW seeds and the descriptor's pow_params");
    reconnect(&mut defended, &mut dialer, &addr).await;
    let id = defended.id;
    drive(&mut defended, &mut dialer, "a client pings the defended service", |side, e| {
        matches!(e, SwarmEvent::Behaviour(BehaviourEvent::Ping(libp2p_ping::Event { peer, result: Ok(_), .. })) if side == Side::B && *peer == id)
    })
    .await;
    drop((defended, dialer));
    host.shutdown().await;
}
