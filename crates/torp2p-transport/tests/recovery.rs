//! Self-healing on a private network: the transport's own tor is killed (SIGKILL), then hung
//! (SIGSTOP); each time the supervisor starts a new tor and re-publishes the onion service with
//! its key. Asserted, for each fault: the listener reports its address expired and then the
//! same address new (never closed); a dial during the outage fails with "tor is restarting";
//! the peer reconnects and pings. No application code reacts to the fault.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use libp2p_identity::Keypair;
use libp2p_swarm::SwarmEvent;
use torp2p_swarm_test::*;
use torp2p_transport as tor;

/// The PID of the tor whose data directory is `dir` (its command line names `<dir>/torrc`).
fn tor_pid(dir: &Path) -> Option<u32> {
    let torrc = dir.join("torrc");
    let torrc = torrc.to_str()?;
    std::fs::read_dir("/proc").ok()?.find_map(|e| {
        let pid: u32 = e.ok()?.file_name().to_str()?.parse().ok()?;
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let alive = !matches!(
            stat.rsplit(')').next()?.split_whitespace().next()?,
            "Z" | "X"
        );
        (alive && cmdline.split(|b| *b == 0).any(|a| a == torrc.as_bytes())).then_some(pid)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_or_hung_tor_is_replaced_and_the_service_comes_back() {
    init_test_logging();
    torp2p_testnet::TestNet::builder()
        .run(async |net| {
            let tor_b = net.spawn_client().await?;
            let config_a = net.client_config();
            let dir_a = config_a.data_dir().unwrap().to_path_buf();
            let policy = tor::RestartPolicy::new().with_hang_timeout(Duration::from_secs(5));
            let mut a = supervised_peer(
                "A",
                test_config().with_tor(config_a).with_restart_policy(policy),
                tor::OnionKey::generate(),
                Keypair::generate_ed25519(),
            )
            .await;
            let mut b = peer("B", tor_b.clone());
            let (listener, addr) = listen(&mut a, &mut b, Side::A, 4001).await;
            let a_id = a.id;
            reconnect(&mut a, &mut b, &addr).await;
            let nobody = tor::listen_addr(&tor::OnionKey::generate(), 4001).unwrap();

            for (fault, sig) in [("killed (SIGKILL)", "-KILL"), ("hung (SIGSTOP)", "-STOP")] {
                let pid = tor_pid(&dir_a).expect("A's tor is running");
                signal(pid, sig);
                let hit = Instant::now();
                // A dial while tor is down fails with "tor is restarting".
                a.swarm.dial(nobody.clone()).unwrap();
                let mut expired = None;
                let mut dial_failed = false;
                let mut back = None;
                drive(&mut a, &mut b, &format!("A's service comes back after its tor was {fault}"), |side, e| {
                    match e {
                        SwarmEvent::ExpiredListenAddr { listener_id, address } if side == Side::A && *listener_id == listener => {
                            assert_eq!(address, &addr);
                            expired = Some(hit.elapsed());
                        }
                        SwarmEvent::NewListenAddr { listener_id, address } if side == Side::A && *listener_id == listener => {
                            assert!(expired.is_some(), "the address is new again before it expired");
                            assert_eq!(address, &addr, "the same key, the same onion address");
                            back = Some(hit.elapsed());
                        }
                        SwarmEvent::ListenerClosed { listener_id, reason, .. } if side == Side::A && *listener_id == listener => {
                            panic!("A's listener closed instead of coming back: {reason:?}")
                        }
                        SwarmEvent::OutgoingConnectionError { error, .. } if side == Side::A => {
                            let restarting = match error {
                                libp2p_swarm::DialError::Transport(errors) => errors
                                    .iter()
                                    .all(|(_, e)| tor::Error::is_tor_restarting_in(e)),
                                _ => false,
                            };
                            assert!(restarting, "a dial while tor is down: {error}");
                            dial_failed = true;
                        }
                        _ => {}
                    }
                    back.is_some() && dial_failed
                })
                .await;
                let new_pid = tor_pid(&dir_a).expect("A has a new tor");
                assert_ne!(new_pid, pid, "a new tor process");
                if sig == "-STOP" {
                    // It was killed while stopped; nothing is left to continue.
                    assert!(tor_pid(&dir_a) != Some(pid));
                }
                // B's tor still has the old descriptor (dead introduction points): it finds
                // the new one by itself; B dials again on failure, as an application would.
                let reconnecting = Instant::now();
                reconnect_within(&mut a, &mut b, &addr, Duration::from_secs(240)).await;
                drive(&mut a, &mut b, "B pings A again", |side, e| {
                    matches!(e, SwarmEvent::Behaviour(BehaviourEvent::Ping(libp2p_ping::Event { peer, result: Ok(_), .. })) if side == Side::B && *peer == a_id)
                })
                .await;
                eprintln!(
                    "RECOVERY | A's tor {fault} | address expired: {:.1} s; back (published again): {:.1} s; B reconnected (after the address was back): {:.1} s",
                    expired.unwrap().as_secs_f64(),
                    back.unwrap().as_secs_f64(),
                    reconnecting.elapsed().as_secs_f64()
                );
            }
            drop((a, b));
            tor_b.shutdown().await;
            Ok::<(), torp2p_testnet::Error>(())
        })
        .await
        .expect("the private network starts");
}
