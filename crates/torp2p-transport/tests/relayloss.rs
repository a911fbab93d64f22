//! Scratch reproduction: a relay dies, a new client tries to reach a listener.
//! RELAYLOSS_RELAYS (default 4), RELAYLOSS_DIR (keep the network's files there),
//! RELAYLOSS_CLIENT_EXTRA (torrc lines for A, B and C, separated by ';').
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::StreamExt;
use libp2p_core::multiaddr::Protocol;
use libp2p_swarm::SwarmEvent;
use torp2p_swarm_test::*;
use torp2p_transport as tor;

fn now() -> String {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let s = d.as_secs() % 86400;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        s / 3600,
        (s / 60) % 60,
        s % 60,
        d.subsec_millis()
    )
}

macro_rules! say {
    ($($t:tt)*) => { eprintln!("RELAYLOSS {} {}", now(), format!($($t)*)) };
}

/// relay0's status in auth0's latest consensus file: (valid-after, flags or None).
fn relay0_in_consensus(dir: &std::path::Path) -> (String, Option<String>) {
    let text = std::fs::read_to_string(dir.join("auth0/cached-consensus")).unwrap_or_default();
    let va = text
        .lines()
        .find_map(|l| l.strip_prefix("valid-after "))
        .unwrap_or("")
        .to_string();
    let mut it = text.lines();
    while let Some(l) = it.next() {
        if l.starts_with("r relay0 ") {
            let s = it.next().unwrap_or("").to_string();
            return (va, Some(s));
        }
    }
    (va, None)
}

async fn client(net: &torp2p_testnet::TestNet, extra: &[String]) -> tor::Tor {
    let config = net.client_config();
    let dir = config.data_dir().unwrap().to_path_buf();
    let config = config
        .with_torrc_line(format!("Log info file {}", dir.join("info.log").display()))
        .with_torrc_line("SafeLogging 0")
        .with_torrc_lines(extra.iter().cloned());
    let t = tor::Tor::spawn(config).await.unwrap();
    t.wait_bootstrapped(Duration::from_secs(120)).await.unwrap();
    say!("client tor {} up: {}", t.pid().unwrap(), dir.display());
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_loss_reproduction() {
    let relays: usize = std::env::var("RELAYLOSS_RELAYS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4);
    let extra: Vec<String> = std::env::var("RELAYLOSS_CLIENT_EXTRA")
        .unwrap_or_default()
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    let mut b = torp2p_testnet::TestNet::builder().relays(relays);
    if let Ok(d) = std::env::var("RELAYLOSS_DIR") {
        b = b.base_dir(d);
    }
    b.run(async |net| {
        say!("network up: {} ({relays} relays) extra {extra:?}", net.dir().display());
        let dir = net.dir().to_path_buf();
        let (tor_a, tor_b) = tokio::join!(client(net, &extra), client(net, &extra));
        let mut a = peer("A", tor_a.clone());
        let mut b = peer("B", tor_b.clone());
        let (_l, addr_a) = listen(&mut a, &mut b, Side::A, 4001).await;
        say!("A listening");
        b.swarm.dial(addr_a.clone().with(Protocol::P2p(a.id))).unwrap();
        let a_id = a.id;
        drive(&mut a, &mut b, "B pings A", |s, e| {
            matches!(e, SwarmEvent::Behaviour(BehaviourEvent::Ping(libp2p_ping::Event { peer, result: Ok(_), .. })) if s == Side::B && *peer == a_id)
        })
        .await;
        say!("B pinged A; relay0 in consensus: {:?}", relay0_in_consensus(&dir));
        assert!(net.kill_node("relay0").await);
        let killed = Instant::now();
        say!("relay0 killed");
        if std::env::var("RELAYLOSS_DELIST").is_ok() {
            // Experiment: make the authorities drop relay0 now (approved-routers + SIGHUP).
            let fp = std::fs::read_to_string(dir.join("relay0/fingerprint")).unwrap();
            let fp = fp.split_whitespace().nth(1).unwrap().to_string();
            for (name, pid) in net.nodes() {
                if name.starts_with("auth") {
                    std::fs::write(dir.join(&name).join("approved-routers"), format!("!reject {fp}\n")).unwrap();
                    let st = std::process::Command::new("kill").args(["-HUP", &pid.unwrap().to_string()]).status().unwrap();
                    say!("{name}: approved-routers rejects {fp}, SIGHUP {st}");
                }
            }
        }
        // Watch the consensus in the background.
        let watch_dir = dir.clone();
        let watcher = tokio::spawn(async move {
            let mut last = (String::new(), None);
            loop {
                let cur = relay0_in_consensus(&watch_dir);
                if cur != last {
                    say!("auth0 consensus: valid-after {} relay0 {:?}", cur.0, cur.1);
                    last = cur;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        });
        // Keep A and B busy 8 s, as the faults test does.
        let _ = tokio::time::timeout(Duration::from_secs(8), async {
            loop {
                tokio::select! {
                    _ = a.swarm.select_next_some() => {}
                    _ = b.swarm.select_next_some() => {}
                }
            }
        })
        .await;
        let tor_c = client(net, &extra).await;
        let isolation = match std::env::var("RELAYLOSS_ISOLATION").as_deref() {
            Ok("conn") => tor::socks::Isolation::PerConnection,
            _ => tor::socks::Isolation::PerPeer,
        };
        say!("C dials with {isolation:?}");
        let config = tor::Config::new().with_dial_config(
            tor::socks::Config::new()
                .with_descriptor_retries(0)
                .with_timeout(DIAL_TIMEOUT)
                .with_isolation(isolation),
        );
        let mut c = peer_from(
            "C",
            tor_c.clone(),
            config,
            tor::OnionKey::generate(),
            libp2p_identity::Keypair::generate_ed25519(),
        );
        let started = Instant::now();
        let target = addr_a.clone().with(Protocol::P2p(a.id));
        let mut attempt = 0;
        let mut outcome = None;
        let limit = Duration::from_secs(240);
        while started.elapsed() < limit {
            attempt += 1;
            let t0 = Instant::now();
            say!("C dial {attempt}");
            c.swarm.dial(target.clone()).unwrap();
            let res = loop {
                tokio::select! {
                    _ = a.swarm.select_next_some() => {}
                    e = c.swarm.select_next_some() => match e {
                        SwarmEvent::ConnectionEstablished { peer_id, .. } if peer_id == a_id => break Ok(()),
                        SwarmEvent::OutgoingConnectionError { error, .. } => {
                            let typed = dial_failures(&error);
                            break Err(typed.first().map(|d| d.0.to_string()).unwrap_or_else(|| error.to_string()));
                        }
                        _ => {}
                    }
                }
            };
            match res {
                Ok(()) => {
                    say!("C dial {attempt} CONNECTED after {:.1} s", t0.elapsed().as_secs_f64());
                    outcome = Some(started.elapsed());
                    break;
                }
                Err(e) => {
                    say!("C dial {attempt} FAILED after {:.1} s: {e}", t0.elapsed().as_secs_f64());
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
        watcher.abort();
        match outcome {
            Some(t) => say!(
                "RESULT relays={relays} recovered: C connected {:.1} s after its first dial ({:.1} s after the kill), {attempt} dials",
                t.as_secs_f64(),
                killed.elapsed().as_secs_f64()
            ),
            None => say!("RESULT relays={relays} NOT recovered within {limit:?}, {attempt} dials"),
        }
        drop((a, b, c));
        for t in [tor_a, tor_b, tor_c] {
            t.shutdown().await;
        }
        Ok::<(), torp2p_testnet::Error>(())
    })
    .await
    .unwrap();
}
