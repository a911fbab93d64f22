//! Two libp2p swarms over onion services on a private Tor network (torp2p-testnet): real tor
//! processes on loopback, no Internet.
//!
//! One network serves every scenario (it takes 10–20 s to start), so they run in sequence in
//! one test: listen addresses and publication, pings both ways, what identify tells, removing a
//! listener, restarting it with the same key.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;

use libp2p_swarm::{SwarmEvent, dial_opts::DialOpts};

use torp2p_swarm_test::*;
use torp2p_transport as tor;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swarms_ping_each_other_over_onion_services() {
    init_test_logging();

    torp2p_testnet::TestNet::builder()
        .run(async |net| {
            let (tor_a, tor_b) = tokio::join!(net.spawn_client(), net.spawn_client());
            let mut a = peer("A", tor_a.expect("A's tor joins the network"));
            let mut b = peer("B", tor_b.expect("B's tor joins the network"));

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
            Ok::<(), torp2p_testnet::Error>(())
        })
        .await
        .expect("the private Tor network starts");
}
