//! A whole private Tor network: an onion service published by one client, reached through
//! another client's SOCKS port, bytes echoed; then every tor of ours is gone.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use torp2p_addr::{DialTarget, OnionSocketAddr};
use torp2p_daemon::{LocalAddr, OnionKey, OnionServiceOptions, PortMapping, Publication};
use torp2p_socks::DialError;
use torp2p_testnet::TestNet;

fn is_dead(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .and_then(|rest| rest.split_whitespace().next())
            .is_some_and(|state| state == "Z" || state == "X"),
    }
}

async fn echo_server() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut r, mut w) = s.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn onion_service_round_trip_on_a_private_network() {
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let t0 = Instant::now();
    // ANCHOR: use
    let net = TestNet::builder().start().await.unwrap();
    eprintln!("network ready after {:?}", t0.elapsed());
    let net_pids = net.pids();
    assert_eq!(net_pids.len(), 7);
    // 7 ORPorts and 3 DirPorts, each on 127.0.0.1 and accepting connections.
    let ports = net.ports();
    assert_eq!(ports.len(), 10, "{ports:?}");
    for p in &ports {
        assert!(p.ip().is_loopback(), "{p}");
        tokio::net::TcpStream::connect(p).await.unwrap();
    }

    let (host, client) = tokio::join!(net.spawn_client(), net.spawn_client());
    let (host, client) = (host.unwrap(), client.unwrap());
    eprintln!("clients bootstrapped after {:?}", t0.elapsed());
    let client_pids = [host.pid().unwrap(), client.pid().unwrap()];

    let echo = echo_server().await;
    let key = OnionKey::generate();
    let added = Instant::now();
    let service = host
        .add_onion_service(
            &key,
            &[PortMapping {
                virtual_port: 80,
                target: LocalAddr::Tcp(echo),
            }],
            &OnionServiceOptions::new(),
        )
        .await
        .unwrap();
    let state = service
        .wait_published(Publication::default(), Duration::from_secs(60))
        .await
        .unwrap();
    // ANCHOR_END: use
    eprintln!(
        "descriptor published after {:?}: {state:?}",
        added.elapsed()
    );
    assert!(state.uploaded > 0);

    // The consensus as an authority reports it: each relay with its flags, unknown names absent.
    let flags = net.consensus_flags("relay0").await.unwrap();
    let flags = flags.expect("relay0 is in the consensus");
    assert!(flags.iter().any(|f| f == "Running"), "{flags:?}");
    assert_eq!(net.consensus_flags("nobody").await.unwrap(), None);
    // Guards are relays, never authorities (which keep HSDir).
    for (name, _) in net.nodes() {
        let flags = net
            .consensus_flags(&name)
            .await
            .unwrap()
            .unwrap_or_default();
        let guard = flags.iter().any(|f| f == "Guard");
        assert_eq!(guard, name.starts_with("relay"), "{name}: {flags:?}");
    }

    let proxy = client
        .socks_addr()
        .expect("client has a SOCKS port")
        .clone();
    let target = DialTarget::Onion(OnionSocketAddr::new(key.onion_address(), 80).unwrap());
    let config = torp2p_socks::Config::new().with_timeout(Duration::from_secs(60));
    let mut stream = torp2p_socks::connect(&proxy, &target, Some("peer-a"), &config)
        .await
        .unwrap();
    eprintln!("first connection after {:?}", added.elapsed());
    let mut rtts = Vec::new();
    for i in 0..10u8 {
        let msg = [i; 64];
        let t = Instant::now();
        stream.write_all(&msg).await.unwrap();
        let mut back = [0u8; 64];
        stream.read_exact(&mut back).await.unwrap();
        rtts.push(t.elapsed());
        assert_eq!(back, msg);
    }
    rtts.sort();
    eprintln!("echo round trip median {:?}", rtts[rtts.len() / 2]);

    // A well-formed onion address nobody published: tor says the descriptor is not found.
    let nobody =
        DialTarget::Onion(OnionSocketAddr::new(OnionKey::generate().onion_address(), 80).unwrap());
    let err = torp2p_socks::connect(&proxy, &nobody, None, &config)
        .await
        .unwrap_err();
    assert!(
        matches!(err, DialError::DescriptorNotFound { .. }),
        "{err:?}"
    );

    // A removed service becomes unreachable to new connections.
    service.remove().await.unwrap();

    host.shutdown().await;
    client.shutdown().await;
    net.shutdown().await;
    for pid in net_pids.iter().chain(&client_pids) {
        assert!(is_dead(*pid), "tor {pid} outlived the network");
    }
}

#[tokio::test]
async fn a_network_that_cannot_start_says_what_is_missing() {
    // One relay cannot provide HSDir/Guard to a consensus in 1 s: the error must name it.
    let err = TestNet::builder()
        .relays(1)
        .start_timeout(Duration::from_secs(1))
        .keep_dir(false)
        .start()
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("relay0"), "{msg}");
    assert!(
        matches!(err, torp2p_testnet::Error::ConsensusTimeout { .. }),
        "{err:?}"
    );
}
