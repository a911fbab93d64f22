//! Two libp2p swarms over onion services on a private Tor network (torp2p-testnet): real tor
//! processes on loopback, no Internet.
//!
//! One network serves every step (it takes 10–20 s to start), so they run in sequence in one
//! scenario: listen addresses and publication, pings both ways, what identify tells, removing a
//! listener, restarting it with the same key. The scenario runs for C tor on both sides and,
//! with the feature `arti`, for the embedded arti backend on both sides and for arti beside C
//! tor: all four pairs of dialer and listener.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::time::Duration;

use libp2p_swarm::{SwarmEvent, dial_opts::DialOpts};

use torp2p_swarm_test::*;
use torp2p_transport as tor;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swarms_ping_each_other_over_onion_services() {
    init_test_logging();

    torp2p_testnet::TestNet::builder()
        .run(async |net| {
            let (tor_a, tor_b) = tokio::join!(net.spawn_client(), net.spawn_client());
            let a = peer("A", tor_a.expect("A's tor joins the network"));
            let b = peer("B", tor_b.expect("B's tor joins the network"));
            scenario(a, b, STEP).await;
            Ok::<(), torp2p_testnet::Error>(())
        })
        .await
        .expect("the private Tor network starts");
}

/// The embedded arti backend on both sides.
#[cfg(feature = "arti")]
#[test]
fn arti_swarms_ping_each_other_over_onion_services() {
    with_arti_runtime(async |storage| {
        torp2p_testnet::TestNet::builder()
            .run(async |net| {
                let (a, b) =
                    tokio::join!(arti_peer(net, &storage, "A"), arti_peer(net, &storage, "B"));
                scenario(a, b, STEP).await;
                Ok::<(), torp2p_testnet::Error>(())
            })
            .await
            .expect("the private Tor network starts");
    });
}

/// arti on one side, C tor on the other: each dials the other's onion service (arti dials a
/// C tor listener, C tor dials an arti listener).
#[cfg(feature = "arti")]
#[test]
fn arti_and_c_tor_swarms_ping_each_other_over_onion_services() {
    with_arti_runtime(async |storage| {
        torp2p_testnet::TestNet::builder()
            .run(async |net| {
                let (a, tor_b) = tokio::join!(arti_peer(net, &storage, "A"), net.spawn_client());
                let b = peer("B", tor_b.expect("B's tor joins the network"));
                // A relaunched arti service keeps its introduction points (arti stores them
                // with the service's state, so that clients holding its descriptor can still
                // reach it), and C tor, whose introductions to them failed while A was away,
                // keeps them out of use for 120 s (HS_CACHE_CLIENT_INTRO_STATE_MAX_AGE): it
                // answers 0xF2 until then, also with the re-fetched descriptor.
                scenario(a, b, C_TOR_INTRO_FAILURE_MEMORY + STEP).await;
                Ok::<(), torp2p_testnet::Error>(())
            })
            .await
            .expect("the private Tor network starts");
    });
}

/// How long C tor keeps an introduction point it failed to introduce through out of use
/// (tor's `HS_CACHE_CLIENT_INTRO_STATE_MAX_AGE`).
#[cfg(feature = "arti")]
const C_TOR_INTRO_FAILURE_MEMORY: Duration = Duration::from_secs(120);

/// A peer whose transport runs an embedded arti joined to `net`, its state in
/// `storage/<name>`.
#[cfg(feature = "arti")]
async fn arti_peer(
    net: &torp2p_testnet::TestNet,
    storage: &std::path::Path,
    name: &'static str,
) -> Peer {
    let arti = tor::arti::Config::new()
        .with_file(net.arti_toml_path())
        .with_storage_dir(storage.join(name));
    supervised_peer(
        name,
        test_config().with_tor(arti),
        tor::OnionKey::generate(),
        libp2p_identity::Keypair::generate_ed25519(),
    )
    .await
}

/// Runs an arti test on a runtime of its own, with a storage directory that outlives it:
/// arti's tasks end with the runtime, and save their state then.
#[cfg(feature = "arti")]
fn with_arti_runtime<F: Future<Output = ()>>(test: impl FnOnce(std::path::PathBuf) -> F) {
    init_test_logging();
    let storage = tempfile::Builder::new()
        .prefix("torp2p-arti-swarm-")
        .tempdir()
        .unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(test(storage.path().to_path_buf()));
    drop(rt);
    drop(storage);
}

/// The scenario, for any two peers on one network. B must reach A's restarted listener
/// within `relaunch_limit`.
async fn scenario(mut a: Peer, mut b: Peer, relaunch_limit: Duration) {
    // 1. Each listens on its onion address, reported once published.
    let (listener_a, addr_a) = listen(&mut a, &mut b, Side::A, 4001).await;
    let (_listener_b, addr_b) = listen(&mut a, &mut b, Side::B, 4002).await;

    // 2. Pings both ways: B dials A's onion service and A dials B's, each at once after the
    //    address was reported, with no retry of "descriptor not found".
    //    3. What identify tells about the other: its onion address, nothing else.
    ping_both_ways(&mut a, &mut b, &addr_a, &addr_b).await;

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
                let failures = dial_failure_kinds(error);
                let (failure, gone) = failures
                    .first()
                    .unwrap_or_else(|| panic!("not a dial through tor: {error:?}"));
                assert!(!gone, "{error}");
                // An onion service error: descriptor not found once no directory has
                // the descriptor any more (hours: its lifetime); until then the
                // introduction fails or times out, or tor keeps trying until the dial's
                // timeout.
                use tor::DialFailure as F;
                assert!(
                    matches!(
                        failure,
                        F::DescriptorNotFound
                            | F::IntroductionFailed
                            | F::IntroductionTimedOut
                            | F::RendezvousFailed
                            | F::Timeout
                    ),
                    "{failure:?}: {error}"
                );
                eprintln!("dial to the removed service: {failure:?}: {error}");
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
    let took = try_connect_within(&mut a, &mut b, &addr_a, relaunch_limit)
        .await
        .unwrap_or_else(|failures| {
            panic!(
                "B did not reconnect to A's restarted listener within {relaunch_limit:?}; {} dials failed:\n{}",
                failures.len(),
                failures.join("\n")
            )
        });
    eprintln!("B reconnected to A's restarted listener in {took:?}");
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
}
