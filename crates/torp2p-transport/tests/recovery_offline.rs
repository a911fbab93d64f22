//! The reachability watch on a private network: A's tor loses its network (`DisableNetwork 1`,
//! as on a device that goes offline) for longer than the watch's grace period, so its onion
//! service has no introduction point. Asserted: A's listener reports its address expired (never
//! closed); once the network is back, the same address new again (the service was added again
//! with its key); the previously connected peer B reconnects and pings, and a new peer C
//! connects. No application code reacts to the fault.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use libp2p_identity::Keypair;
use libp2p_swarm::SwarmEvent;
use torp2p_swarm_test::*;
use torp2p_transport as tor;

/// The watch of this test: checked every second, unreachable after 5 s without an
/// introduction point (the defaults are 10 s and 60 s).
fn watch() -> tor::ReachabilityWatch {
    tor::ReachabilityWatch::new()
        .with_interval(Duration::from_secs(1))
        .with_grace(Duration::from_secs(5))
}

/// Drives A and B until B has pinged A.
async fn pinged(a: &mut Peer, b: &mut Peer, step: &str) {
    let a_id = a.id;
    drive(a, b, step, |side, e| {
        matches!(e, SwarmEvent::Behaviour(BehaviourEvent::Ping(libp2p_ping::Event { peer, result: Ok(_), .. })) if side == Side::B && *peer == a_id)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_offline_for_long_is_expired_then_published_again() {
    init_test_logging();
    torp2p_testnet::TestNet::builder()
        .run(async |net| {
            let (tor_a, tor_b) = tokio::join!(net.spawn_client(), net.spawn_client());
            let (tor_a, tor_b) = (tor_a?, tor_b?);
            let mut a = peer_from(
                "A",
                tor_a.clone(),
                test_config().with_reachability_watch(watch()),
                tor::OnionKey::generate(),
                Keypair::generate_ed25519(),
            );
            let mut b = peer("B", tor_b.clone());
            let (listener, addr) = listen(&mut a, &mut b, Side::A, 4001).await;
            dial_and_ping(&mut a, &mut b, &addr).await;

            tor_a.set_network_enabled(false).await.unwrap();
            let offline = Instant::now();
            let mut expired = None;
            drive(&mut a, &mut b, "A's address expires while its tor is offline", |side, e| {
                match e {
                    SwarmEvent::ExpiredListenAddr { listener_id, address } if side == Side::A && *listener_id == listener => {
                        assert_eq!(address, &addr);
                        expired = Some(offline.elapsed());
                        true
                    }
                    SwarmEvent::NewListenAddr { listener_id, .. } if side == Side::A && *listener_id == listener => {
                        panic!("A's address is new again while its tor is offline")
                    }
                    SwarmEvent::ListenerClosed { listener_id, reason, .. } if side == Side::A && *listener_id == listener => {
                        panic!("A's listener closed instead of expiring its address: {reason:?}")
                    }
                    _ => false,
                }
            })
            .await;
            let expired = expired.unwrap();
            assert!(
                expired >= Duration::from_secs(5),
                "expired after {expired:?}, before the grace period of 5 s"
            );

            tor_a.set_network_enabled(true).await.unwrap();
            let online = Instant::now();
            let mut back = None;
            drive(&mut a, &mut b, "A's address is new again once its tor is online", |side, e| {
                match e {
                    SwarmEvent::NewListenAddr { listener_id, address } if side == Side::A && *listener_id == listener => {
                        assert_eq!(address, &addr, "the same key, the same onion address");
                        back = Some(online.elapsed());
                        true
                    }
                    SwarmEvent::ListenerClosed { listener_id, reason, .. } if side == Side::A && *listener_id == listener => {
                        panic!("A's listener closed instead of coming back: {reason:?}")
                    }
                    _ => false,
                }
            })
            .await;

            // B (connected before; its connection died with A's circuits) reconnects, as an
            // application redials; a new peer C connects.
            let reconnecting = Instant::now();
            reconnect_within(&mut a, &mut b, &addr, Duration::from_secs(240)).await;
            pinged(&mut a, &mut b, "B pings A again").await;
            let b_back = reconnecting.elapsed();
            let tor_c = net.spawn_client().await?;
            let mut c = peer("C", tor_c.clone());
            let connecting = Instant::now();
            reconnect_within(&mut a, &mut c, &addr, Duration::from_secs(240)).await;
            pinged(&mut a, &mut c, "C pings A").await;
            let c_in = connecting.elapsed();
            eprintln!(
                "RECOVERY | A's tor offline past the grace period (5 s) | address expired: {:.1} s; back after the network returned: {:.1} s; B reconnected: {:.1} s; new peer connected: {:.1} s",
                expired.as_secs_f64(),
                back.unwrap().as_secs_f64(),
                b_back.as_secs_f64(),
                c_in.as_secs_f64(),
            );
            drop((a, b, c));
            for t in [tor_a, tor_b, tor_c] {
                t.shutdown().await;
            }
            Ok::<(), torp2p_testnet::Error>(())
        })
        .await
        .expect("the private network starts");
}

/// Polls `other` until tor says it has the directory information to build circuits, at most
/// [`STEP`].
async fn enough_dir_info(other: &mut RawControl) {
    let wait = async {
        while other.get_info("status/enough-dir-info").await != "1" {
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    };
    tokio::time::timeout(STEP, wait)
        .await
        .expect("tor has enough directory information again");
}

/// tor builds no introduction circuit until it has completed a circuit, and clears that flag
/// when its directory information falls short, if only for a moment (a recovery_relays run:
/// a consensus without one of A's primary guards; A's third onion service was never
/// published). Here A's tor is put in that state for certain: another controller turns its
/// predicted circuits off (`__DisablePredictedCircuits 1`) and its network off and on, so that
/// it has completed no circuit and builds none of its own. Asserted: tor says so
/// (`status/circuit-established=0`), then a service added then is published anyway (the daemon
/// nudges tor while it waits, see torp2p-daemon's `OnionService::wait_published`), and B
/// connects and pings.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tor_that_completed_no_circuit_still_publishes_a_new_service() {
    init_test_logging();
    torp2p_testnet::TestNet::builder()
        .run(async |net| {
            let (tor_a, tor_b) = tokio::join!(net.spawn_client(), net.spawn_client());
            let (tor_a, tor_b) = (tor_a?, tor_b?);
            let mut other = RawControl::connect(tor_a.control_addr()).await;
            let (code, reply) = other.command("SETCONF __DisablePredictedCircuits=1").await;
            assert_eq!(code, 250, "{reply:?}");
            tor_a.set_network_enabled(false).await.unwrap();
            tor_a.set_network_enabled(true).await.unwrap();
            enough_dir_info(&mut other).await;
            assert_eq!(
                other.get_info("status/circuit-established").await,
                "0",
                "A's tor has completed no circuit since its network came back"
            );

            let mut a = peer("A", tor_a.clone());
            let mut b = peer("B", tor_b.clone());
            let adding = Instant::now();
            let (_, addr) = listen(&mut a, &mut b, Side::A, 4001).await;
            let published = adding.elapsed();
            dial_and_ping(&mut a, &mut b, &addr).await;
            eprintln!(
                "RECOVERY | A's tor had completed no circuit | service published: {:.1} s; B connected and pinged: {:.1} s",
                published.as_secs_f64(),
                (adding.elapsed() - published).as_secs_f64(),
            );
            drop((a, b, other));
            for t in [tor_a, tor_b] {
                t.shutdown().await;
            }
            Ok::<(), torp2p_testnet::Error>(())
        })
        .await
        .expect("the private network starts");
}
