//! `connect` against an in-process SOCKS5 server: targets, isolation, every reply code, the
//! unreachable proxy, the timeout, the 0xF0 retry and cancellation. Malformed replies are in
//! `malformed.rs`.

#![allow(clippy::unwrap_used)]

mod support;

use std::error::Error as _;
use std::io;
use std::mem::discriminant;
use std::net::SocketAddr;
use std::time::Duration;

use support::{Event, Script, Server, dns_target, no_retry, onion_target};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use torp2p_socks::{Config, DialError, DialTarget, Isolation, LocalAddr, Stream, connect};

async fn assert_echoes(stream: &mut Stream) {
    stream.write_all(b"hello through tor").await.unwrap();
    let mut back = [0; 17];
    stream.read_exact(&mut back).await.unwrap();
    assert_eq!(&back, b"hello through tor");
}

#[tokio::test]
async fn success_gives_a_stream_that_echoes() {
    let server = Server::tcp(vec![Script::Reply(0)]).await;
    let mut stream = connect(&server.proxy, &onion_target(), Some("peer"), &Config::new())
        .await
        .unwrap();
    assert!(!stream.is_unix());
    assert_echoes(&mut stream).await;
}

#[tokio::test]
async fn unix_socket_proxy_works() {
    let server = Server::unix(vec![Script::Reply(0)]).await;
    let mut stream = connect(&server.proxy, &onion_target(), None, &Config::new())
        .await
        .unwrap();
    assert!(stream.is_unix());
    assert_echoes(&mut stream).await;
    assert_eq!(server.only_request().atyp, 3);
}

#[tokio::test]
async fn onion_addresses_go_as_unresolved_domain_names() {
    let server = Server::tcp(vec![Script::Reply(0)]).await;
    let target = onion_target();
    connect(&server.proxy, &target, None, &Config::new())
        .await
        .unwrap();
    let request = server.only_request();
    assert_eq!(request.atyp, 0x03);
    let DialTarget::Onion(onion) = target else {
        unreachable!()
    };
    assert_eq!(request.host, onion.address().to_domain());
    assert!(request.host.ends_with(".onion"));
    assert_eq!(request.port, 4242);
}

#[tokio::test]
async fn dns_names_go_as_unresolved_domain_names() {
    // "localhost" would resolve locally, and "127.0.0.1" looks like an IP address: both must
    // still reach the proxy as names.
    for name in ["example.com", "localhost", "127.0.0.1"] {
        let server = Server::tcp(vec![Script::Reply(0)]).await;
        connect(&server.proxy, &dns_target(name), None, &Config::new())
            .await
            .unwrap();
        let request = server.only_request();
        assert_eq!(request.atyp, 0x03, "{name}");
        assert_eq!(request.host, name);
        assert_eq!(request.port, 443);
    }
}

#[tokio::test]
async fn ip_targets_go_as_ip_addresses() {
    for (addr, atyp) in [("192.0.2.7:8080", 0x01), ("[2001:db8::7]:8080", 0x04)] {
        let server = Server::tcp(vec![Script::Reply(0)]).await;
        let addr: SocketAddr = addr.parse().unwrap();
        connect(&server.proxy, &DialTarget::Ip(addr), None, &Config::new())
            .await
            .unwrap();
        let request = server.only_request();
        assert_eq!(request.atyp, atyp);
        assert_eq!(request.host, addr.ip().to_string());
        assert_eq!(request.port, 8080);
    }
}

#[tokio::test]
async fn per_peer_isolation_keys_by_peer() {
    let server = Server::tcp(vec![Script::Reply(0)]).await;
    let config = Config::new();
    assert_eq!(config.isolation(), Isolation::PerPeer);
    let target = onion_target();
    for peer in ["peer-a", "peer-a", "peer-b"] {
        connect(&server.proxy, &target, Some(peer), &config)
            .await
            .unwrap();
    }
    let requests = server.requests();
    assert!(requests.iter().all(|r| r.methods.contains(&0x02)));
    let auth: Vec<_> = requests.iter().map(|r| r.auth.clone().unwrap()).collect();
    assert_eq!(auth[0], auth[1], "same peer, same credentials");
    assert_ne!(auth[0].0, auth[2].0, "different peers, different usernames");
    assert!(auth[0].0.contains("peer-a"));
    assert_eq!(auth[0].1, auth[2].1, "one password per process");
}

#[tokio::test]
async fn per_peer_isolation_without_a_peer_keys_by_target() {
    let server = Server::tcp(vec![Script::Reply(0)]).await;
    for target in [
        dns_target("a.example"),
        dns_target("a.example"),
        dns_target("b.example"),
    ] {
        connect(&server.proxy, &target, None, &Config::new())
            .await
            .unwrap();
    }
    let users: Vec<_> = server
        .requests()
        .into_iter()
        .map(|r| r.auth.unwrap().0)
        .collect();
    assert_eq!(users[0], users[1]);
    assert_ne!(users[0], users[2]);
}

#[tokio::test]
async fn per_connection_isolation_uses_fresh_keys() {
    let server = Server::tcp(vec![Script::Reply(0)]).await;
    let config = Config::new().with_isolation(Isolation::PerConnection);
    for _ in 0..3 {
        connect(&server.proxy, &onion_target(), Some("same-peer"), &config)
            .await
            .unwrap();
    }
    let auth: Vec<_> = server
        .requests()
        .into_iter()
        .map(|r| r.auth.unwrap())
        .collect();
    assert_ne!(auth[0].0, auth[1].0);
    assert_ne!(auth[1].0, auth[2].0);
    assert_ne!(auth[0].0, auth[2].0);
    assert!(auth.iter().all(|(user, _)| !user.contains("same-peer")));
}

#[tokio::test]
async fn shared_isolation_sends_no_credentials() {
    let server = Server::tcp(vec![Script::Reply(0)]).await;
    let config = Config::new().with_isolation(Isolation::Shared);
    connect(&server.proxy, &onion_target(), Some("peer"), &config)
        .await
        .unwrap();
    let request = server.only_request();
    assert_eq!(request.methods, vec![0x00]);
    assert_eq!(request.auth, None);
}

#[tokio::test]
async fn every_reply_code_has_its_own_variant() {
    let codes: Vec<u8> = (0x01..=0x08).chain(0xF0..=0xF7).collect();
    let server = Server::tcp(codes.iter().map(|&c| Script::Reply(c)).collect()).await;
    let target = onion_target();
    let mut seen = Vec::new();
    for &code in &codes {
        let err = connect(&server.proxy, &target, None, &no_retry())
            .await
            .unwrap_err();
        assert_eq!(err.reply_code(), Some(code), "{err:?}");
        assert_eq!(err.target(), Some(&target));
        assert!(!matches!(err, DialError::UnknownReply { .. }), "{code:#x}");
        assert_eq!(
            err.is_circuit_failure(),
            matches!(code, 0x06 | 0xF2 | 0xF3 | 0xF7),
            "{code:#x}"
        );
        let message = err.to_string();
        assert!(message.contains(&target.to_string()), "{message}");
        assert!(
            message.to_lowercase().contains(&format!("{code:#04x}")),
            "{message}"
        );
        assert!(!message.ends_with('.'), "{message}");
        let kind = discriminant(&err);
        assert!(!seen.contains(&kind), "{code:#x} shares a variant");
        seen.push(kind);
    }
    assert_eq!(server.connections(), codes.len());
}

#[tokio::test]
async fn reply_codes_map_to_the_named_variants() {
    let server = Server::tcp(vec![
        Script::Reply(0x01),
        Script::Reply(0x05),
        Script::Reply(0xF0),
        Script::Reply(0xF4),
        Script::Reply(0xF6),
        Script::Reply(0xF7),
    ])
    .await;
    let target = onion_target();
    let next = async || {
        connect(&server.proxy, &target, None, &no_retry())
            .await
            .unwrap_err()
    };
    assert!(matches!(next().await, DialError::GeneralFailure { .. }));
    assert!(matches!(next().await, DialError::ConnectionRefused { .. }));
    let not_found = next().await;
    assert!(matches!(not_found, DialError::DescriptorNotFound { .. }));
    assert!(not_found.is_retryable());
    assert!(!not_found.is_proxy_problem());
    assert!(not_found.to_string().contains("descriptor was not found"));
    let auth = next().await;
    assert!(matches!(auth, DialError::ClientAuthMissing { .. }));
    assert!(!auth.is_retryable());
    assert!(matches!(next().await, DialError::BadOnionAddress { .. }));
    assert!(matches!(
        next().await,
        DialError::IntroductionTimedOut { .. }
    ));
}

#[tokio::test]
async fn unknown_reply_codes_keep_the_code() {
    for code in [0x09, 0xEF, 0xF8, 0xFF] {
        let server = Server::tcp(vec![Script::Reply(code)]).await;
        let err = connect(&server.proxy, &onion_target(), None, &no_retry())
            .await
            .unwrap_err();
        assert!(
            matches!(err, DialError::UnknownReply { code: c, .. } if c == code),
            "{err:?}"
        );
        assert_eq!(err.reply_code(), Some(code));
    }
}

#[tokio::test]
async fn closed_tcp_port_is_proxy_unreachable() {
    let addr = {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap()
    };
    let proxy = LocalAddr::Tcp(addr);
    let err = connect(&proxy, &onion_target(), None, &Config::new())
        .await
        .unwrap_err();
    let DialError::ProxyUnreachable { proxy: p, source } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(p, &proxy);
    assert_eq!(source.kind(), io::ErrorKind::ConnectionRefused);
    assert!(err.to_string().contains(&addr.to_string()));
    assert!(err.to_string().contains("not reachable"));
    assert!(err.source().is_some());
    assert!(err.is_proxy_problem());
    assert!(!err.is_circuit_failure());
    assert_eq!(err.target(), None);
    assert_eq!(err.reply_code(), None);
}

#[tokio::test]
async fn missing_unix_socket_is_proxy_unreachable() {
    let dir = tempfile::tempdir().unwrap();
    let proxy = LocalAddr::Unix(dir.path().join("no-such.sock"));
    let err = connect(&proxy, &onion_target(), None, &Config::new())
        .await
        .unwrap_err();
    assert!(matches!(err, DialError::ProxyUnreachable { .. }), "{err:?}");
    assert!(err.to_string().contains("unix:"));
    assert!(err.to_string().contains("no-such.sock"));
}

#[tokio::test]
async fn silent_proxy_hits_the_timeout() {
    let server = Server::tcp(vec![Script::Silent]).await;
    let timeout = Duration::from_millis(200);
    let err = connect(
        &server.proxy,
        &onion_target(),
        None,
        &Config::new().with_timeout(timeout),
    )
    .await
    .unwrap_err();
    let DialError::Timeout {
        timeout: t,
        target,
        proxy,
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(*t, timeout);
    assert_eq!(target, &onion_target());
    assert_eq!(proxy, &server.proxy);
    assert!(err.is_retryable());
    assert!(err.is_circuit_failure());
    assert!(err.to_string().contains("timed out after 200ms"));
}

#[tokio::test]
async fn descriptor_not_found_is_retried_once_by_default() {
    let server = Server::tcp(vec![Script::Reply(0xF0), Script::Reply(0)]).await;
    let config = Config::new();
    assert_eq!(config.descriptor_retries(), 1);
    assert_eq!(config.descriptor_retry_delay(), Duration::from_secs(1));
    let mut stream = connect(&server.proxy, &onion_target(), Some("p"), &config)
        .await
        .unwrap();
    assert_echoes(&mut stream).await;
    assert_eq!(server.connections(), 2);
    let requests = server.requests();
    assert_eq!(requests[0].auth, requests[1].auth, "a retry keeps its key");
}

#[tokio::test]
async fn descriptor_not_found_is_retried_only_as_configured() {
    let quick = Config::new().with_descriptor_retry_delay(Duration::from_millis(10));

    let server = Server::tcp(vec![
        Script::Reply(0xF0),
        Script::Reply(0xF0),
        Script::Reply(0),
    ])
    .await;
    let err = connect(&server.proxy, &onion_target(), None, &quick)
        .await
        .unwrap_err();
    assert!(matches!(err, DialError::DescriptorNotFound { .. }));
    assert_eq!(server.connections(), 2, "one retry by default");

    let server = Server::tcp(vec![
        Script::Reply(0xF0),
        Script::Reply(0xF0),
        Script::Reply(0xF0),
        Script::Reply(0),
    ])
    .await;
    connect(
        &server.proxy,
        &onion_target(),
        None,
        &quick.clone().with_descriptor_retries(3),
    )
    .await
    .unwrap();
    assert_eq!(server.connections(), 4);

    // Other codes are never retried.
    let server = Server::tcp(vec![Script::Reply(0xF2), Script::Reply(0)]).await;
    let err = connect(&server.proxy, &onion_target(), None, &quick)
        .await
        .unwrap_err();
    assert!(matches!(err, DialError::IntroductionFailed { .. }));
    assert_eq!(server.connections(), 1);
}

#[tokio::test]
async fn descriptor_not_found_without_retry_fails() {
    let server = Server::tcp(vec![Script::Reply(0xF0), Script::Reply(0)]).await;
    let err = connect(&server.proxy, &onion_target(), None, &no_retry())
        .await
        .unwrap_err();
    assert!(
        matches!(err, DialError::DescriptorNotFound { .. }),
        "{err:?}"
    );
    assert_eq!(server.connections(), 1);
}

#[tokio::test]
async fn retry_is_skipped_when_it_would_outlast_the_timeout() {
    let server = Server::tcp(vec![Script::Reply(0xF0), Script::Reply(0)]).await;
    // The default 1 s retry delay does not fit in a 300 ms timeout: the 0xF0 is reported.
    let config = Config::new().with_timeout(Duration::from_millis(300));
    let err = connect(&server.proxy, &onion_target(), None, &config)
        .await
        .unwrap_err();
    assert!(
        matches!(err, DialError::DescriptorNotFound { .. }),
        "{err:?}"
    );
    assert_eq!(server.connections(), 1);
}

#[tokio::test]
async fn invalid_targets_are_refused_before_any_connection() {
    let server = Server::tcp(vec![Script::Reply(0)]).await;
    for target in [dns_target(""), dns_target(&"a".repeat(256))] {
        let err = connect(&server.proxy, &target, None, &Config::new())
            .await
            .unwrap_err();
        assert!(matches!(err, DialError::InvalidTarget { .. }), "{err:?}");
    }
    let long_key = "k".repeat(251);
    let err = connect(
        &server.proxy,
        &onion_target(),
        Some(&long_key),
        &Config::new(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, DialError::IsolationKeyTooLong { len: 251, max: 250 }),
        "{err:?}"
    );
    assert!(
        !err.to_string().contains(&long_key),
        "the key is not repeated"
    );
    assert_eq!(server.connections(), 0);
}

#[tokio::test]
async fn dropping_the_dial_closes_the_connection() {
    let mut server = Server::tcp(vec![Script::Silent]).await;
    let target = onion_target();
    let config = Config::new();
    let proxy = server.proxy.clone();
    let dial = connect(&proxy, &target, None, &config);
    assert_send(&dial);
    let mut dial = Box::pin(dial);
    tokio::select! {
        result = &mut dial => panic!("the silent server answered: {result:?}"),
        event = server.next_event() => assert_eq!(event, Event::Request),
    }
    drop(dial);
    assert_eq!(server.next_event().await, Event::Closed);
}

fn assert_send<T: Send>(_: &T) {}

#[test]
fn public_types_are_send_sync_and_unpin() {
    fn send_sync<T: Send + Sync + 'static>() {}
    fn stream<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static>() {}
    send_sync::<DialError>();
    send_sync::<Config>();
    send_sync::<LocalAddr>();
    stream::<Stream>();
}

#[test]
fn config_defaults_and_setters() {
    let config = Config::default();
    assert_eq!(config, Config::new());
    assert_eq!(config.timeout(), Duration::from_secs(120));
    assert_eq!(config.isolation(), Isolation::PerPeer);
    assert_eq!(config.descriptor_retries(), 1);
    assert_eq!(config.descriptor_retry_delay(), Duration::from_secs(1));
    assert!(config.nodelay());
    let config = config
        .with_timeout(Duration::from_secs(5))
        .with_isolation(Isolation::Shared)
        .with_descriptor_retries(0)
        .with_descriptor_retry_delay(Duration::from_millis(5))
        .with_nodelay(false);
    assert_eq!(config.timeout(), Duration::from_secs(5));
    assert_eq!(config.isolation(), Isolation::Shared);
    assert_eq!(config.descriptor_retries(), 0);
    assert_eq!(config.descriptor_retry_delay(), Duration::from_millis(5));
    assert!(!config.nodelay());
}

#[test]
fn proxy_displays_like_torrc() {
    let tcp = LocalAddr::from("127.0.0.1:9050".parse::<SocketAddr>().unwrap());
    assert_eq!(tcp.to_string(), "127.0.0.1:9050");
    let unix = LocalAddr::Unix("/run/tor/socks".into());
    assert_eq!(unix.to_string(), "unix:/run/tor/socks");
}

/// A SOCKS port that answers "no authentication" to an offer of isolation credentials would
/// let streams of different peers share circuits: refused, with what to change.
#[tokio::test]
async fn a_proxy_that_drops_isolation_is_refused() {
    // Method reply: no authentication; then a successful CONNECT reply.
    let server = Server::tcp(vec![Script::Raw(vec![5, 0, 5, 0, 0, 1, 0, 0, 0, 0, 0, 0])]).await;
    let config = Config::new().with_descriptor_retries(0);
    let err = connect(&server.proxy, &onion_target(), Some("peer"), &config)
        .await
        .unwrap_err();
    assert!(
        matches!(err, DialError::IsolationNotApplied { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("PreferSOCKSNoAuth"), "{err}");
    // With isolation off, the same answer is fine.
    let server = Server::tcp(vec![Script::Raw(vec![5, 0, 5, 0, 0, 1, 0, 0, 0, 0, 0, 0])]).await;
    let shared = config.with_isolation(Isolation::Shared);
    assert!(
        connect(&server.proxy, &onion_target(), Some("peer"), &shared)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn a_long_dns_target_without_a_peer_key_still_gets_isolated() {
    // 250 characters: a legal name, too long for "target:<name>:<port>" in a SOCKS username.
    let name = format!("{}.example", "a".repeat(241));
    assert!(name.len() <= 255);
    let server = Server::tcp(vec![Script::Reply(0)]).await;
    let config = Config::new().with_descriptor_retries(0);
    connect(&server.proxy, &dns_target(&name), None, &config)
        .await
        .unwrap();
    let req = server.only_request();
    let (user, _) = req.auth.expect("isolation credentials were sent");
    assert!(user.starts_with("target#") && user.len() < 40, "{user}");
}
