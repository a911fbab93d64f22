//! The transport against a real `tor --DisableNetwork 1`: no network, no mock. Dialing,
//! refusals, listeners and their ends, and what tor's death does.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::pin::Pin;
use std::time::Duration;

use futures::future::poll_fn;
use libp2p_core::Endpoint;
use libp2p_core::multiaddr::{Multiaddr, Protocol};
use libp2p_core::transport::{
    DialOpts, ListenerId, PortUse, Transport as _, TransportError, TransportEvent,
};
use torp2p_transport as tor;

/// A tor that answers on its control port but never touches the network (and has no SOCKS
/// port).
async fn offline_tor() -> tor::Tor {
    tor::Tor::spawn(offline_config())
        .await
        .expect("tor starts (is the tor binary installed?)")
}

fn offline_config() -> tor::daemon::Config {
    tor::daemon::Config::new().with_torrc_lines(["DisableNetwork 1", "GeoIPFile", "GeoIPv6File"])
}

fn opts() -> DialOpts {
    DialOpts {
        role: Endpoint::Dialer,
        port_use: PortUse::New,
    }
}

/// A valid onion address that nobody runs.
fn some_onion(port: u16) -> Multiaddr {
    tor::listen_addr(&tor::OnionKey::generate(), port).unwrap()
}

/// The next event of the transport, within 20 s.
async fn next_event(
    t: &mut tor::Transport,
) -> TransportEvent<<tor::Transport as libp2p_core::Transport>::ListenerUpgrade, tor::Error> {
    tokio::time::timeout(
        Duration::from_secs(20),
        poll_fn(|cx| Pin::new(&mut *t).poll(cx)),
    )
    .await
    .expect("a transport event within 20 s")
}

fn is_not_supported<T>(r: &Result<T, TransportError<tor::Error>>) -> bool {
    matches!(r, Err(TransportError::MultiaddrNotSupported(_)))
}

/// A port on loopback where nothing listens (bound, then freed).
fn unused_port() -> std::net::SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

#[tokio::test]
async fn clearnet_addresses_are_refused_by_default() {
    let mut t = tor::Transport::from_tor(offline_tor().await, tor::Config::new()).unwrap();
    for addr in [
        "/ip4/93.184.215.14/tcp/443",
        "/ip6/2606:2800:21f:cb07:6820:80da:af6b:8b2c/tcp/443",
        "/dns/example.com/tcp/443",
        "/dns4/example.com/tcp/443/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA",
        "/dns6/example.com/tcp/443",
        // Stacks that are nobody's business here.
        "/ip4/127.0.0.1/udp/4001/quic-v1",
        "/ip4/127.0.0.1/tcp/4001/ws",
        "/memory/1234",
    ] {
        let addr: Multiaddr = addr.parse().unwrap();
        assert!(is_not_supported(&t.dial(addr.clone(), opts())), "{addr}");
    }
    // A relayed address through an onion service belongs to the relay transport.
    let relayed = some_onion(4001)
        .with(Protocol::P2p(libp2p_identity_peer()))
        .with(Protocol::P2pCircuit);
    assert!(is_not_supported(&t.dial(relayed, opts())));
}

fn libp2p_identity_peer() -> tor::addr::PeerId {
    "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA"
        .parse()
        .unwrap()
}

#[tokio::test]
async fn clearnet_addresses_are_dialed_through_tor_when_opted_in() {
    let proxy = unused_port();
    let mut t = tor::Transport::from_tor(
        offline_tor().await,
        tor::Config::new()
            .with_clearnet(tor::Clearnet::ThroughTor)
            .with_socks_proxy(tor::addr::LocalAddr::Tcp(proxy)),
    )
    .unwrap();
    for addr in [
        "/ip4/93.184.215.14/tcp/443",
        "/dns/example.com/tcp/443",
        "/dns6/example.com/tcp/443",
    ] {
        let addr: Multiaddr = addr.parse().unwrap();
        // A future, through tor's SOCKS port: never a direct connection.
        let dial = t.dial(addr.clone(), opts()).expect("accepted");
        let err = dial.await.expect_err("nothing listens at the SOCKS port");
        assert!(
            matches!(
                err.dial_error(),
                Some(tor::DialError::ProxyUnreachable { proxy: p, .. }) if *p == tor::addr::LocalAddr::Tcp(proxy)
            ),
            "{err:?}"
        );
    }
    // Still not other stacks.
    let quic: Multiaddr = "/ip4/127.0.0.1/udp/4001/quic-v1".parse().unwrap();
    assert!(is_not_supported(&t.dial(quic, opts())));
    // A malformed clearnet address is now ours to explain.
    let port0: Multiaddr = "/dns/example.com/tcp/0".parse().unwrap();
    assert!(matches!(
        t.dial(port0, opts()),
        Err(TransportError::Other(tor::Error::InvalidAddress(
            tor::addr::ParseError::PortZero { .. }
        )))
    ));
}

#[tokio::test]
async fn malformed_onion_addresses_are_explained() {
    let mut t = tor::Transport::from_tor(offline_tor().await, tor::Config::new()).unwrap();
    // A valid address with one character changed: multiaddr's parser accepts it, the
    // checksum does not match.
    let good = tor::OnionKey::generate().onion_address().to_base32();
    let mut bad = good.clone().into_bytes();
    bad[0] = if bad[0] == b'a' { b'b' } else { b'a' };
    let bad = String::from_utf8(bad).unwrap();
    let addr: Multiaddr = format!("/onion3/{bad}:4001")
        .parse()
        .expect("multiaddr accepts it");
    match t.dial(addr.clone(), opts()) {
        Err(TransportError::Other(tor::Error::InvalidAddress(
            e @ tor::addr::ParseError::BadChecksum { .. },
        ))) => {
            // The message says what is wrong, and the error carries it as its source.
            assert!(e.to_string().contains("checksum"), "{e}");
        }
        Err(e) => panic!("expected a checksum error, got {e:?}"),
        Ok(_) => panic!("expected a checksum error, got a dial"),
    }
    // The same for listening.
    assert!(matches!(
        t.listen_on(ListenerId::next(), addr),
        Err(TransportError::Other(tor::Error::InvalidAddress(
            tor::addr::ParseError::BadChecksum { .. }
        )))
    ));
    // A wrong version byte.
    let key = tor::OnionKey::generate();
    let mut bytes = key.onion_address().to_libp2p_bytes();
    bytes[34] = 4;
    let addr = Multiaddr::empty().with(Protocol::Onion3((bytes, 4001).into()));
    assert!(matches!(
        t.dial(addr, opts()),
        Err(TransportError::Other(tor::Error::InvalidAddress(
            tor::addr::ParseError::WrongVersion { version: 4, .. }
        )))
    ));
    // Port 0 (which multiaddr's text parser refuses, but its byte form carries).
    let addr = Multiaddr::empty().with(Protocol::Onion3(
        (key.onion_address().to_libp2p_bytes(), 0).into(),
    ));
    assert!(matches!(
        t.dial(addr, opts()),
        Err(TransportError::Other(tor::Error::InvalidAddress(
            tor::addr::ParseError::PortZero { .. }
        )))
    ));
    assert!(matches!(
        tor::listen_addr(&key, 0),
        Err(tor::Error::InvalidAddress(
            tor::addr::ParseError::PortZero { .. }
        ))
    ));
}

#[tokio::test]
async fn listening_on_anything_but_our_onion_addresses_is_refused() {
    let key = tor::OnionKey::generate();
    let mut t = tor::Transport::from_tor(
        offline_tor().await,
        tor::Config::new().with_key(key.clone()),
    )
    .unwrap();
    for addr in [
        "/ip4/127.0.0.1/tcp/0",
        "/ip4/0.0.0.0/tcp/4001",
        "/ip6/::/tcp/4001",
        "/dns/localhost/tcp/4001",
        "/unix/tmp%2Fsocket",
    ] {
        let addr: Multiaddr = addr.parse().unwrap();
        assert!(
            is_not_supported(&t.listen_on(ListenerId::next(), addr.clone())),
            "{addr}"
        );
    }
    // A well-formed onion address whose key we do not hold.
    assert!(is_not_supported(
        &t.listen_on(ListenerId::next(), some_onion(4001))
    ));
    // Ours, but with more after it.
    let ours = tor::listen_addr(&key, 4001).unwrap();
    let with_peer = ours.with(Protocol::P2p(libp2p_identity_peer()));
    assert!(is_not_supported(
        &t.listen_on(ListenerId::next(), with_peer)
    ));
}

#[tokio::test]
async fn dial_does_no_io_before_it_is_polled() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy = listener.local_addr().unwrap();
    let tor = offline_tor().await;
    let mut t = tor::Transport::from_tor(
        tor.clone(),
        tor::Config::new().with_socks_proxy(tor::addr::LocalAddr::Tcp(proxy)),
    )
    .unwrap();
    let dial = t.dial(some_onion(4001), opts()).expect("a dial future");
    // Not polled: nobody connects.
    assert!(
        tokio::time::timeout(Duration::from_millis(300), listener.accept())
            .await
            .is_err(),
        "dial() connected before the future was polled"
    );
    // Polled: the connection to the SOCKS port is made.
    let dial = tokio::spawn(dial);
    let (conn, _) = listener.accept().await.expect("the polled dial connects");
    drop(conn);
    drop(listener);
    let err = dial.await.unwrap().expect_err("no SOCKS server there");
    assert!(
        err.dial_error().is_some_and(|e| e.is_proxy_problem()),
        "{err:?}"
    );

    // Nothing listens at all: the error comes from polling, typed.
    let nobody = unused_port();
    let mut t = tor::Transport::from_tor(
        tor,
        tor::Config::new().with_socks_proxy(tor::addr::LocalAddr::Tcp(nobody)),
    )
    .unwrap();
    let dial = t.dial(some_onion(4001), opts()).expect("a dial future");
    let err = dial.await.err().unwrap();
    assert!(
        matches!(
            err.dial_error(),
            Some(tor::DialError::ProxyUnreachable { .. })
        ),
        "{err:?}"
    );
    assert!(!err.is_tor_gone());
}

#[tokio::test]
async fn a_tor_without_socks_port_says_so() {
    let mut t = tor::Transport::from_tor(offline_tor().await, tor::Config::new()).unwrap();
    match t.dial(some_onion(4001), opts()) {
        Err(TransportError::Other(e @ tor::Error::NoSocksPort)) => {
            assert!(e.to_string().contains("no SOCKS port"), "{e}")
        }
        Err(e) => panic!("{e:?}"),
        Ok(_) => panic!("dial accepted without a SOCKS port"),
    }
}

#[tokio::test]
async fn dials_fail_fast_when_tor_is_gone() {
    // A SOCKS "server" that accepts and never answers: without tor's death the dial would
    // wait for its whole timeout.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let tor = offline_tor().await;
    let mut t = tor::Transport::from_tor(
        tor.clone(),
        tor::Config::new()
            .with_socks_proxy(tor::addr::LocalAddr::Tcp(silent.local_addr().unwrap())),
    )
    .unwrap();
    let pending = t.dial(some_onion(4001), opts()).unwrap();
    let pending = tokio::spawn(pending);
    let _conn = silent.accept().await.unwrap();
    tor.shutdown().await;
    // No clock here: had the dial not noticed tor's death, it would have waited for its own
    // timeout and failed with DialError::Timeout, which the error type tells apart.
    let err = pending.await.unwrap().err().unwrap();
    assert!(err.is_tor_gone(), "{err:?}");
    assert!(matches!(err, tor::Error::TorGone { .. }));
    // A dial made after tor is gone fails the same way.
    let err = t
        .dial(some_onion(4001), opts())
        .unwrap()
        .await
        .err()
        .unwrap();
    assert!(err.is_tor_gone(), "{err:?}");
}

#[tokio::test]
async fn a_listener_reports_its_onion_address_and_closes_on_request() {
    let key = tor::OnionKey::generate();
    let addr = tor::listen_addr(&key, 4001).unwrap();
    let tor = offline_tor().await;
    let mut t = tor::Transport::from_tor(
        tor.clone(),
        tor::Config::new()
            .with_key(key.clone())
            .with_publication(tor::Publication::Immediately),
    )
    .unwrap();
    let id = ListenerId::next();
    t.listen_on(id, addr.clone()).unwrap();
    match next_event(&mut t).await {
        TransportEvent::NewAddress {
            listener_id,
            listen_addr,
        } => {
            assert_eq!(listener_id, id);
            assert_eq!(listen_addr, addr);
        }
        _ => panic!("expected NewAddress"),
    }
    let service_id = key.onion_address().to_base32();
    let onions = tor.get_info("onions/current").await.unwrap();
    assert!(onions.contains(&service_id), "{onions}");

    // One service per address.
    assert!(matches!(
        t.listen_on(ListenerId::next(), tor::listen_addr(&key, 4002).unwrap()),
        Err(TransportError::Other(tor::Error::AlreadyListening { .. }))
    ));

    assert!(t.remove_listener(id));
    assert!(!t.remove_listener(id), "already closing");
    match next_event(&mut t).await {
        TransportEvent::ListenerClosed {
            listener_id,
            reason,
        } => {
            assert_eq!(listener_id, id);
            reason.expect("closed on request");
        }
        _ => panic!("expected ListenerClosed"),
    }
    let onions = tor.get_info("onions/current").await.unwrap();
    assert!(!onions.contains(&service_id), "DEL_ONION: {onions}");

    // The same key again: the same address.
    let again = ListenerId::next();
    t.listen_on(again, addr.clone()).unwrap();
    match next_event(&mut t).await {
        TransportEvent::NewAddress { listen_addr, .. } => assert_eq!(listen_addr, addr),
        _ => panic!("expected NewAddress"),
    }
    // Removing right after adding a new one on the same address waits for tor.
    assert!(t.remove_listener(again));
    let third = ListenerId::next();
    t.listen_on(third, addr.clone()).unwrap();
    let mut closed = false;
    let mut readded = false;
    while !(closed && readded) {
        match next_event(&mut t).await {
            TransportEvent::ListenerClosed {
                listener_id,
                reason,
            } if listener_id == again => {
                reason.unwrap();
                closed = true;
            }
            TransportEvent::NewAddress { listener_id, .. } if listener_id == third => {
                readded = true;
            }
            _ => panic!("unexpected event"),
        }
    }
    // Dropping the transport removes the service too.
    drop(t);
    // Polled until tor no longer lists it; a service left behind hangs the test, which the
    // test runner reports.
    while tor
        .get_info("onions/current")
        .await
        .unwrap()
        .contains(&service_id)
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_listener_that_is_not_published_in_time_closes_with_the_reason() {
    let key = tor::OnionKey::generate();
    let tor = offline_tor().await;
    let mut t = tor::Transport::from_tor(
        tor.clone(),
        tor::Config::new()
            .with_key(key.clone())
            .with_publish_timeout(Duration::from_millis(500)),
    )
    .unwrap();
    let id = ListenerId::next();
    t.listen_on(id, tor::listen_addr(&key, 4001).unwrap())
        .unwrap();
    match next_event(&mut t).await {
        TransportEvent::ListenerClosed {
            listener_id,
            reason: Err(e),
        } => {
            assert_eq!(listener_id, id);
            assert!(
                matches!(
                    e.daemon_error(),
                    Some(tor::daemon::Error::PublishTimeout { .. })
                ),
                "{e:?}"
            );
        }
        _ => panic!("expected ListenerClosed with an error"),
    }
    // The service was removed.
    let onions = tor.get_info("onions/current").await.unwrap();
    assert!(
        !onions.contains(&key.onion_address().to_base32()),
        "{onions}"
    );
}

#[tokio::test]
async fn a_listener_closes_with_an_error_when_tor_dies() {
    let key = tor::OnionKey::generate();
    let tor = offline_tor().await;
    let mut t = tor::Transport::from_tor(
        tor.clone(),
        tor::Config::new()
            .with_key(key.clone())
            .with_publication(tor::Publication::Immediately),
    )
    .unwrap();
    let id = ListenerId::next();
    t.listen_on(id, tor::listen_addr(&key, 4001).unwrap())
        .unwrap();
    assert!(matches!(
        next_event(&mut t).await,
        TransportEvent::NewAddress { .. }
    ));
    tor.shutdown().await;
    match next_event(&mut t).await {
        TransportEvent::ListenerClosed {
            listener_id,
            reason: Err(e),
        } => {
            assert_eq!(listener_id, id);
            assert!(e.is_tor_gone(), "{e:?}");
        }
        _ => panic!("expected ListenerClosed with an error"),
    }
}

#[tokio::test]
async fn new_waits_for_bootstrap_and_says_how_far_tor_got() {
    let err = tor::Transport::new(
        tor::Config::new()
            .with_tor(offline_config())
            .with_bootstrap_timeout(Duration::from_millis(300)),
    )
    .await
    .expect_err("an offline tor never bootstraps");
    assert!(
        matches!(
            err.daemon_error(),
            Some(tor::daemon::Error::BootstrapTimeout { .. })
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn from_tor_refuses_a_config_it_would_not_use() {
    for config in [
        tor::Config::new().with_tor(offline_config()),
        tor::Config::new().with_bootstrap_timeout(Duration::from_secs(1)),
    ] {
        let err = tor::Transport::from_tor(offline_tor().await, config).unwrap_err();
        assert!(matches!(err, tor::Error::TorSourceConflict), "{err:?}");
        assert!(err.to_string().contains("Transport::new"), "{err}");
    }
}

#[test]
fn the_transport_and_its_futures_can_be_sent() {
    fn send<T: Send>(_: &T) {}
    fn sync_send<T: Send + Sync + Unpin + 'static>() {}
    send(&tor::Transport::new(tor::Config::new()));
    sync_send::<tor::Error>();
    fn transport<T: libp2p_core::Transport + Send + Unpin + 'static>()
    where
        T::Dial: Send,
        T::ListenerUpgrade: Send,
    {
    }
    transport::<tor::Transport>();
}

#[tokio::test]
async fn dials_beyond_the_limit_wait_in_line_and_keep_their_timeout() {
    // A SOCKS "server" that accepts and never answers: each dial holds its slot.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let tor = offline_tor().await;
    let mut t = tor::Transport::from_tor(
        tor.clone(),
        tor::Config::new()
            .with_socks_proxy(tor::addr::LocalAddr::Tcp(silent.local_addr().unwrap()))
            .with_max_concurrent_dials(2)
            .with_dial_config(tor::socks::Config::new().with_timeout(Duration::from_secs(2))),
    )
    .unwrap();
    let first = tokio::spawn(t.dial(some_onion(4001), opts()).unwrap());
    let second = tokio::spawn(t.dial(some_onion(4002), opts()).unwrap());
    let third = tokio::spawn(t.dial(some_onion(4003), opts()).unwrap());
    let (_c1, _) = silent.accept().await.unwrap();
    let (_c2, _) = silent.accept().await.unwrap();
    // Two slots: the third dial waits in line and opens no connection. (Absence can only be
    // checked for a while; a broken limit would connect at once.)
    let early = tokio::time::timeout(Duration::from_millis(300), silent.accept()).await;
    assert!(
        early.is_err(),
        "a third dial ran beside two with a limit of 2"
    );
    // Dropping a dial frees its slot: the waiting one goes ahead.
    first.abort();
    let (_c3, _) = silent.accept().await.unwrap();
    // The silent server never answers: both running dials end with their own timeout.
    for dial in [second, third] {
        let err = dial.await.unwrap().err().unwrap();
        assert!(
            matches!(err.dial_error(), Some(tor::DialError::Timeout { .. })),
            "{err:?}"
        );
    }

    // With one slot and two dials waiting behind a running one, the first in line gets the
    // slot when the running one times out, and the second waits out its own timeout in line
    // (both started after the running one): it fails with the reason, never having started.
    let mut one = tor::Transport::from_tor(
        tor,
        tor::Config::new()
            .with_socks_proxy(tor::addr::LocalAddr::Tcp(silent.local_addr().unwrap()))
            .with_max_concurrent_dials(1)
            .with_dial_config(tor::socks::Config::new().with_timeout(Duration::from_millis(500))),
    )
    .unwrap();
    let running = tokio::spawn(one.dial(some_onion(4001), opts()).unwrap());
    let (_c4, _) = silent.accept().await.unwrap();
    let waiting = [
        tokio::spawn(one.dial(some_onion(4002), opts()).unwrap()),
        tokio::spawn(one.dial(some_onion(4003), opts()).unwrap()),
    ];
    let mut queued_out = 0;
    let mut timed_out = 0;
    for dial in waiting {
        match dial.await.unwrap().err().unwrap() {
            tor::Error::DialQueueTimeout { slots: 1, .. } => queued_out += 1,
            e if matches!(e.dial_error(), Some(tor::DialError::Timeout { .. })) => timed_out += 1,
            e => panic!("{e:?}"),
        }
    }
    assert_eq!((queued_out, timed_out), (1, 1));
    let err = tor::Error::DialQueueTimeout {
        waited: Duration::from_millis(500),
        slots: 1,
    };
    assert!(
        err.to_string().contains("with_max_concurrent_dials"),
        "{err}"
    );
    assert!(running.await.unwrap().is_err());

    // No limit at all is a number too: no panic.
    let _ = tor::Config::new().with_max_concurrent_dials(usize::MAX);
    let unlimited = tor::Transport::from_tor(
        offline_tor().await,
        tor::Config::new().with_max_concurrent_dials(usize::MAX),
    );
    assert!(unlimited.is_ok());
}
