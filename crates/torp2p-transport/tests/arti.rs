//! The embedded arti backend beside C tor on a private Tor network (feature `arti`): the same
//! bad-address catalogue gives the same answers on both, and one key file gives one onion
//! address with either. (The swarm scenario with every pair of backends is in `swarm.rs`.)
#![cfg(feature = "arti")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::pin::Pin;
use std::time::Duration;

use futures::future::poll_fn;
use libp2p_core::Endpoint;
use libp2p_core::multiaddr::{Multiaddr, Protocol};
use libp2p_core::transport::{
    DialOpts, ListenerId, PortUse, Transport as _, TransportError, TransportEvent,
};
use torp2p_transport as tor;

fn opts() -> DialOpts {
    DialOpts {
        role: Endpoint::Dialer,
        port_use: PortUse::New,
    }
}

/// The next event of the transport, at most `limit`.
async fn next_event(
    t: &mut tor::Transport,
    limit: Duration,
) -> TransportEvent<<tor::Transport as libp2p_core::Transport>::ListenerUpgrade, tor::Error> {
    tokio::time::timeout(limit, poll_fn(|cx| Pin::new(&mut *t).poll(cx)))
        .await
        .expect("a transport event in time")
}

/// What the transport answers at once (before any I/O), in words: the catalogue compares
/// these.
fn answer<T>(r: Result<T, TransportError<tor::Error>>) -> String {
    match r {
        Ok(_) => "accepted".into(),
        Err(TransportError::MultiaddrNotSupported(_)) => "not supported".into(),
        Err(TransportError::Other(e)) => {
            let mut text = format!("{e:?}");
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                text.push_str(&format!(" <- {s}"));
                source = s.source();
            }
            text
        }
    }
}

/// Addresses people and attackers send: clearnet, other stacks, and onion addresses broken
/// in every way the parser knows.
fn catalogue() -> Vec<Multiaddr> {
    let good = tor::OnionKey::generate().onion_address();
    let text = good.to_base32();
    let mut checksum = text.clone().into_bytes();
    checksum[0] = if checksum[0] == b'a' { b'b' } else { b'a' };
    let checksum = String::from_utf8(checksum).unwrap();
    let mut version = good.to_libp2p_bytes();
    version[34] = 4;
    let peer: tor::addr::PeerId = "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA"
        .parse()
        .unwrap();
    let mut list: Vec<Multiaddr> = [
        "/ip4/93.184.215.14/tcp/443".to_string(),
        "/ip6/2606:2800:21f:cb07:6820:80da:af6b:8b2c/tcp/443".into(),
        "/dns/example.com/tcp/443".into(),
        "/dns/example.com/tcp/0".into(),
        "/ip4/127.0.0.1/tcp/4001".into(),
        "/ip4/127.0.0.1/udp/4001/quic-v1".into(),
        "/ip4/127.0.0.1/tcp/4001/ws".into(),
        "/memory/1234".into(),
        format!("/onion3/{checksum}:4001"),
        format!("/onion3/{text}:4001/p2p/{peer}/p2p-circuit"),
        format!("/onion3/{text}:4001/tcp/80"),
        "/onion/aaimaq4ygg2iegci:80".into(),
    ]
    .iter()
    .map(|a| a.parse().unwrap())
    .collect();
    list.push(Multiaddr::empty().with(Protocol::Onion3((version, 4001).into())));
    list.push(Multiaddr::empty().with(Protocol::Onion3((good.to_libp2p_bytes(), 0).into())));
    list
}

/// Runs `scenario` on a new private network, in a runtime of its own, with a fresh directory
/// for arti's storage; the network's tors are reaped before this returns.
fn on_private_network(
    scenario: impl AsyncFnOnce(&mut torp2p_testnet::TestNet, &Path) -> Result<(), torp2p_testnet::Error>,
) {
    let storage = tempfile::Builder::new()
        .prefix("torp2p-arti-transport-")
        .tempdir()
        .unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(
        torp2p_testnet::TestNet::builder().run(async |net| scenario(net, storage.path()).await),
    )
    .expect("the private Tor network starts");
    drop(rt);
    drop(storage);
}

#[test]
fn both_backends_answer_bad_addresses_alike_and_one_key_gives_one_address() {
    let keys = tempfile::tempdir().unwrap();
    let key_file = keys.path().join("hs_ed25519_secret_key");
    on_private_network(async |net, storage_dir| {
        let key = tor::OnionKey::load_or_generate(&key_file).unwrap();
        let config = || {
            tor::Config::new()
                .with_clearnet(tor::Clearnet::ThroughTor)
                .with_publication(tor::Publication::Immediately)
                .with_key(tor::OnionKey::load(&key_file).unwrap())
                .with_dial_config(tor::socks::Config::new().with_timeout(Duration::from_secs(10)))
        };
        let (c_tor, arti) = tokio::join!(
            net.spawn_client(),
            tor::Transport::new(
                config().with_tor(
                    tor::arti::Config::new()
                        .with_file(net.arti_toml_path())
                        .with_storage_dir(storage_dir)
                )
            )
        );
        let mut c_tor = tor::Transport::from_tor(c_tor?, config()).unwrap();
        let mut arti = arti.expect("arti bootstraps on the private network");

        // 1. The catalogue: the same answer from both, before any I/O.
        let mut accepted = Vec::new();
        for addr in catalogue() {
            let (by_c_tor, by_arti) = (
                c_tor.dial(addr.clone(), opts()),
                arti.dial(addr.clone(), opts()),
            );
            let (by_c_tor, by_arti) = match (by_c_tor, by_arti) {
                (Ok(c), Ok(a)) => {
                    accepted.push((addr.clone(), c, a));
                    ("accepted".to_string(), "accepted".to_string())
                }
                (c, a) => (answer(c), answer(a)),
            };
            assert_eq!(by_c_tor, by_arti, "dial {addr}");
            let listen =
                |t: &mut tor::Transport| answer(t.listen_on(ListenerId::next(), addr.clone()));
            assert_eq!(listen(&mut c_tor), listen(&mut arti), "listen on {addr}");
            eprintln!("{addr}: {by_c_tor}");
        }
        // Not vacuous: malformed onion addresses are explained, other stacks are not ours,
        // clearnet names and addresses are dialed through Tor.
        let answers: Vec<String> = catalogue()
            .into_iter()
            .map(|a| answer(arti.dial(a, opts())))
            .collect();
        assert!(
            answers.iter().any(|a| a.contains("BadChecksum")),
            "{answers:#?}"
        );
        assert!(
            answers.iter().any(|a| a.contains("WrongVersion")),
            "{answers:#?}"
        );
        assert!(
            answers.iter().any(|a| a.contains("PortZero")),
            "{answers:#?}"
        );
        assert!(answers.iter().any(|a| a == "not supported"), "{answers:#?}");
        assert_eq!(
            accepted.len(),
            4,
            "the clearnet addresses (the loopback one too)"
        );
        // This network has no exit relay: every clearnet dial fails, through Tor, with a
        // typed reason (never a direct connection).
        for (addr, c, a) in accepted {
            let (c, a) = tokio::join!(c, a);
            let (c, a) = (c.expect_err("no exit relay"), a.expect_err("no exit relay"));
            assert!(c.dial_failure().is_some(), "{addr}: {c:?}");
            assert!(a.dial_failure().is_some(), "{addr}: {a:?}");
            eprintln!(
                "{addr}: C tor {:?}, arti {:?}",
                c.dial_failure(),
                a.dial_failure()
            );
        }

        // 2. One key file, one onion address: C tor's listener, then arti's. Reported at
        // once (`Publication::Immediately`): what is checked is the address each backend
        // runs the key's service at, not its publication. (Publishing with arti right after C
        // tor published the same key once failed to become reachable within 120 s; see the
        // book's "Choosing a backend".)
        assert_eq!(
            tor::arti::onion_address(key.expanded_secret()).unwrap(),
            key.onion_address(),
            "arti derives the key's onion address as C tor does"
        );
        let expected = tor::listen_addr(&key, 4001).unwrap();
        let mut addresses = Vec::new();
        for t in [&mut c_tor, &mut arti] {
            let id = ListenerId::next();
            t.listen_on(id, expected.clone()).unwrap();
            match next_event(t, Duration::from_secs(60)).await {
                TransportEvent::NewAddress { listen_addr, .. } => addresses.push(listen_addr),
                TransportEvent::ListenerClosed { reason, .. } => {
                    panic!("the listener closed: {reason:?}")
                }
                _ => panic!("expected NewAddress"),
            }
            assert!(t.remove_listener(id));
            match next_event(t, Duration::from_secs(30)).await {
                TransportEvent::ListenerClosed { reason, .. } => reason.unwrap(),
                _ => panic!("expected ListenerClosed"),
            }
        }
        assert_eq!(addresses, [expected.clone(), expected]);
        Ok(())
    });
}

/// `Transport::from_arti`: two transports on one arti client (other keys, other settings),
/// one listening, the other dialing it; bytes cross both ways. A config that names a tor
/// source of its own is refused, as `from_tor` refuses it.
#[test]
fn transports_on_one_arti_client_reach_each_other() {
    use futures::{AsyncReadExt as _, AsyncWriteExt as _};

    on_private_network(async |net, storage_dir| {
        let client = tor::arti::Client::bootstrap(
            &tor::arti::Config::new()
                .with_file(net.arti_toml_path())
                .with_storage_dir(storage_dir),
        )
        .await
        .expect("arti bootstraps on the private network");

        let conflict = tor::Transport::from_arti(
            client.clone(),
            tor::Config::new().with_tor(tor::arti::Config::new()),
        );
        assert!(
            matches!(conflict, Err(tor::Error::TorSourceConflict)),
            "{conflict:?}"
        );

        let key = tor::OnionKey::generate();
        let mut listener =
            tor::Transport::from_arti(client.clone(), tor::Config::new().with_key(key.clone()))
                .unwrap();
        let mut dialer = tor::Transport::from_arti(
            client,
            tor::Config::new()
                .with_isolation(tor::Isolation::PerConnection)
                .with_dial_config(tor::socks::Config::new().with_timeout(Duration::from_secs(60))),
        )
        .unwrap();
        let addr = tor::listen_addr(&key, 4001).unwrap();
        listener
            .listen_on(ListenerId::next(), addr.clone())
            .unwrap();
        match next_event(&mut listener, Duration::from_secs(120)).await {
            TransportEvent::NewAddress { listen_addr, .. } => assert_eq!(listen_addr, addr),
            TransportEvent::ListenerClosed { reason, .. } => {
                panic!("the listener closed: {reason:?}")
            }
            _ => panic!("expected NewAddress"),
        }

        // The listener's transport is polled while the dial goes on: its events carry the
        // incoming stream.
        let dial = dialer.dial(addr.clone(), opts()).unwrap();
        let accept = async {
            loop {
                match next_event(&mut listener, Duration::from_secs(120)).await {
                    TransportEvent::Incoming { upgrade, .. } => break upgrade.await.unwrap(),
                    TransportEvent::ListenerClosed { reason, .. } => {
                        panic!("the listener closed: {reason:?}")
                    }
                    _ => continue,
                }
            }
        };
        let (dialed, accepted) = tokio::join!(dial, accept);
        let (mut dialed, mut accepted) = (dialed.expect("the dial reaches the listener"), accepted);
        dialed.write_all(b"ping").await.unwrap();
        dialed.flush().await.unwrap();
        let mut buf = [0u8; 4];
        accepted.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"ping");
        accepted.write_all(b"pong").await.unwrap();
        accepted.flush().await.unwrap();
        dialed.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"pong");
        Ok(())
    });
}
