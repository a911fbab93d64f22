//! A measurement, not run by default: how long a peer takes to reach a restarted listener
//! after one of its dials was acknowledged by an introduction point but never got its
//! rendezvous, with and without isolation rotation ([`tor::Config::with_isolation_rotation`]).
//!
//! A listens on a private network; A's tor is stopped (SIGSTOP), so its introduction circuits
//! stay up and the introduction points acknowledge B's introduction, but A never comes to the
//! rendezvous; B's dial times out. A's tor is then killed and a new one runs A's service with
//! the same key. B dials again (again on each failure, as an application would); the time from
//! A being back to B connected is printed:
//!
//! ```text
//! TORP2P_ISOLATION_ROTATION=off cargo test -p torp2p-transport --test stalled_rendezvous -- --ignored --nocapture
//! cargo test -p torp2p-transport --test stalled_rendezvous -- --ignored --nocapture
//! ```
//!
//! Asserted: B's dial during the stop fails with tor's typed reason, and B reconnects within
//! 240 s (a hang guard).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use libp2p_core::multiaddr::Protocol;
use libp2p_identity::Keypair;
use libp2p_swarm::SwarmEvent;
use torp2p_swarm_test::*;
use torp2p_transport as tor;

/// Whether the peers rotate isolation keys: `TORP2P_ISOLATION_ROTATION=off` turns it off.
fn rotation() -> bool {
    std::env::var("TORP2P_ISOLATION_ROTATION").as_deref() != Ok("off")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement of a few minutes: run with --ignored"]
async fn a_dial_stalled_behind_an_acknowledged_introduction() {
    init_test_logging();
    let config = || test_config().with_isolation_rotation(rotation());
    torp2p_testnet::TestNet::builder()
        .run(async |net| {
            let (tor_a, tor_b) = tokio::join!(net.spawn_client(), net.spawn_client());
            let (tor_a, tor_b) = (tor_a?, tor_b?);
            let key = tor::OnionKey::generate();
            let identity = Keypair::generate_ed25519();
            let mut a = peer_from("A", tor_a.clone(), config(), key.clone(), identity.clone());
            let mut b = peer_from(
                "B",
                tor_b.clone(),
                config(),
                tor::OnionKey::generate(),
                Keypair::generate_ed25519(),
            );
            let (_listener, addr) = listen(&mut a, &mut b, Side::A, 4001).await;

            // A's tor stops: its introduction circuits stay up, the rendezvous never comes.
            let pid = tor_a.pid().unwrap();
            signal(pid, "-STOP");
            b.swarm.dial(addr.clone().with(Protocol::P2p(a.id))).unwrap();
            let started = Instant::now();
            let mut failure = String::new();
            drive(&mut a, &mut b, "B's dial to the stopped A fails", |side, e| match e {
                SwarmEvent::OutgoingConnectionError { error, .. } if side == Side::B => {
                    let typed = dial_failures(error);
                    let (dial, _) = typed
                        .first()
                        .unwrap_or_else(|| panic!("a failure without tor's reason: {error}"));
                    failure = match dial {
                        tor::DialError::Timeout { timeout, .. } => format!("our timeout of {timeout:?}"),
                        other => other
                            .reply_code()
                            .map(|c| format!("SOCKS reply {c:#04x}"))
                            .unwrap_or_else(|| other.to_string()),
                    };
                    true
                }
                SwarmEvent::ConnectionEstablished { .. } if side == Side::B => {
                    panic!("B connected to a stopped tor")
                }
                _ => false,
            })
            .await;
            let failed_after = started.elapsed();

            // A's tor is replaced: the same key, so the same address.
            signal(pid, "-KILL");
            drop(a);
            tor_a.shutdown().await;
            let tor_a2 = net.spawn_client().await?;
            let mut a2 = peer_from("A2", tor_a2.clone(), config(), key, identity);
            let (_l, addr2) = listen(&mut a2, &mut b, Side::A, 4001).await;
            assert_eq!(addr2, addr);
            let back = Instant::now();
            let limit = Duration::from_secs(240);
            let connected = try_connect_within(&mut a2, &mut b, &addr, limit)
                .await
                .unwrap_or_else(|failures| {
                    panic!(
                        "B did not reach the restarted A within {limit:?}; {} dials failed:\n{}",
                        failures.len(),
                        failures.join("\n")
                    )
                });
            eprintln!(
                "STALL | isolation rotation {} | B's dial to the stopped A failed after {:.1} s ({failure}); A back {:.1} s after that; B connected {:.1} s after A was back",
                if rotation() { "on" } else { "off" },
                failed_after.as_secs_f64(),
                back.duration_since(started).saturating_sub(failed_after).as_secs_f64(),
                connected.as_secs_f64(),
            );
            drop((a2, b));
            for t in [tor_b, tor_a2] {
                t.shutdown().await;
            }
            Ok::<(), torp2p_testnet::Error>(())
        })
        .await
        .expect("the private network starts");
}
