//! Self-healing of a transport *attached* to a running tor (`TorSource::Attach`), on one
//! private network for the file. A loopback TCP forwarder sits between the transport and the
//! real control port of a tor the test spawned and keeps running; the faults are cut
//! connections. The transport has two control connections: one for commands (ADD_ONION: the
//! onion service belongs to it) and one for events.
//!
//! 1. Both control connections are cut; the forwarder accepts new ones. tor removes the
//!    service (added without `Detach`) with the connection, and the supervisor attaches again
//!    and re-adds it with the same key. Asserted: the listener reports the address expired,
//!    then the same address new (never closed); a dial during the outage fails with "tor is
//!    restarting"; the attached tor still runs (attaching never takes ownership); B's
//!    connection survives (tor keeps rendezvous circuits when it removes a service), B
//!    connects anew over new circuits with the descriptor its tor cached, and a new peer
//!    connects.
//! 2. Only the event connection is cut. The command connection, which still holds the
//!    service, must be closed before the service is added again (else "550 Onion address
//!    collision").
//! 3. Only the command connection is cut. Nothing reads it between commands: the supervisor
//!    notices at its next probe (every half hang timeout).
//! 4. Both are cut and the forwarder refuses the next two connections: the supervisor tries
//!    again after the RestartPolicy's backoff (1 s, then 2 s); a dial meanwhile fails with
//!    "tor is restarting".
//! 5. Another controller (a connection of its own, authenticated with the same cookie) sends
//!    `DEL_ONION` for our service. tor 0.4.9 refuses: `handle_control_del_onion` looks only in
//!    the caller's own `ephemeral_onion_services` and in `detached_onion_services`, and answers
//!    `552 Unknown Onion Service id` otherwise. Asserted: exactly that answer, the listener does
//!    not expire, a new peer connects, B's first connection still pings.
//!
//! Each scenario prints one `RECOVERY | <scenario> | <label>: <seconds> s; ...` line.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use libp2p_core::Multiaddr;
use libp2p_core::multiaddr::Protocol;
use libp2p_core::transport::ListenerId;
use libp2p_identity::Keypair;
use libp2p_swarm::{ConnectionId, SwarmEvent};
use tokio::sync::{Mutex, watch};
use torp2p_swarm_test::*;
use torp2p_transport as tor;
use torp2p_transport::addr::LocalAddr;

/// The hang guard of one recovery step (not an expectation).
const LIMIT: Duration = Duration::from_secs(240);

/// What the forwarder has seen: when it forwarded or refused each connection.
#[derive(Debug, Default, Clone)]
struct Seen {
    forwarded: Vec<Instant>,
    refused: Vec<Instant>,
}

/// Which of the forwarder's live connections to drop.
#[derive(Debug, Clone, Copy)]
enum Cut {
    /// Every one.
    All,
    /// The `n`-th it forwarded (counting from 0, in the order of [`Seen::forwarded`]).
    Only(usize),
}

/// A loopback TCP forwarder to tor's real control port: the transport attaches to its port.
/// [`Forwarder::cut`] drops live connections (both ends); new connections are accepted and
/// forwarded as before, except the ones it was told to refuse (accepted and closed at once, as
/// a control port that is not there yet would).
struct Forwarder {
    addr: SocketAddr,
    /// The connections it forwarded, in order; `None` once dropped.
    live: Arc<Mutex<Vec<Option<tokio::task::JoinHandle<()>>>>>,
    refuse: Arc<AtomicUsize>,
    seen: watch::Receiver<Seen>,
    accept: tokio::task::JoinHandle<()>,
}

impl Forwarder {
    async fn start(upstream: LocalAddr) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let live = Arc::new(Mutex::new(Vec::new()));
        let refuse = Arc::new(AtomicUsize::new(0));
        let (seen_tx, seen) = watch::channel(Seen::default());
        let accept = tokio::spawn({
            let live = live.clone();
            let refuse = refuse.clone();
            async move {
                loop {
                    let Ok((mut down, _)) = listener.accept().await else {
                        continue;
                    };
                    let refused = refuse
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                        .is_ok();
                    if refused {
                        drop(down);
                        seen_tx.send_modify(|s| s.refused.push(Instant::now()));
                        continue;
                    }
                    let upstream = upstream.clone();
                    let mut live = live.lock().await;
                    live.push(Some(tokio::spawn(async move {
                        let Ok(mut up) = connect_local(&upstream).await else {
                            return;
                        };
                        let _ = tokio::io::copy_bidirectional(&mut down, &mut up).await;
                    })));
                    seen_tx.send_modify(|s| s.forwarded.push(Instant::now()));
                }
            }
        });
        Self {
            addr,
            live,
            refuse,
            seen,
            accept,
        }
    }

    /// Drops the live connections `which` says and waits until they are closed; the next
    /// `refuse` connections are refused.
    async fn cut(&self, which: Cut, refuse: usize) {
        self.refuse.store(refuse, Ordering::SeqCst);
        let mut live = self.live.lock().await;
        let n = live.len();
        let range = match which {
            Cut::All => 0..n,
            Cut::Only(i) => i..i + 1,
        };
        for task in live[range].iter_mut().filter_map(Option::take) {
            task.abort();
            let _ = task.await;
        }
    }

    fn seen(&self) -> Seen {
        self.seen.borrow().clone()
    }

    /// Waits until `done` holds for what the forwarder has seen, at most [`STEP`].
    async fn wait_for(&self, what: &str, done: impl FnMut(&Seen) -> bool) -> Seen {
        let mut seen = self.seen.clone();
        tokio::time::timeout(STEP, seen.wait_for(done))
            .await
            .unwrap_or_else(|_| panic!("the forwarder: {what}: not within {STEP:?}"))
            .unwrap()
            .clone()
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// Whether the process `pid` runs (neither gone nor a zombie).
fn runs(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            let state = s.rsplit(')').next()?.split_whitespace().next()?.to_string();
            Some(!matches!(state.as_str(), "Z" | "X"))
        })
        .unwrap_or(false)
}

/// Whether `error` (a failed dial of A's swarm) says "tor is restarting".
fn restarting(error: &libp2p_swarm::DialError) -> bool {
    match error {
        libp2p_swarm::DialError::Transport(errors) => errors
            .iter()
            .all(|(_, e)| tor::Error::is_tor_restarting_in(e)),
        _ => false,
    }
}

/// What A's swarm showed after a fault: when its address expired and came back (from the
/// fault), and whether the dial it made during the outage failed with "tor is restarting".
struct Outage {
    expired: Duration,
    back: Duration,
}

/// Drives A and B from the fault at `hit` until A's `listener` reported `addr` expired and then
/// new again, and (if A `dialed` during the outage) that dial failed with "tor is restarting". The
/// listener must not close, and neither may B's connection `kept`: tor removes an onion
/// service with the connection that added it, but closes only its introduction circuits,
/// never its rendezvous circuits ("in order for any existing connections to finish",
/// `hs_service_del_ephemeral`), and A's end of the connection is a socket of its own.
async fn wait_outage(
    a: &mut Peer,
    b: &mut Peer,
    (listener, addr): (ListenerId, &Multiaddr),
    kept: ConnectionId,
    dialed: bool,
    hit: Instant,
    step: &str,
) -> Outage {
    let mut expired = None;
    let mut back = None;
    let mut dial_failed = false;
    drive(a, b, step, |side, e| {
        match e {
            SwarmEvent::ExpiredListenAddr {
                listener_id,
                address,
            } if side == Side::A && *listener_id == listener => {
                assert_eq!(address, addr);
                expired = Some(hit.elapsed());
            }
            SwarmEvent::NewListenAddr {
                listener_id,
                address,
            } if side == Side::A && *listener_id == listener => {
                assert!(
                    expired.is_some(),
                    "the address is new again before it expired"
                );
                assert_eq!(address, addr, "the same key, the same onion address");
                back = Some(hit.elapsed());
            }
            SwarmEvent::ListenerClosed {
                listener_id,
                reason,
                ..
            } if side == Side::A && *listener_id == listener => {
                panic!("A's listener closed instead of coming back: {reason:?}")
            }
            SwarmEvent::OutgoingConnectionError { error, .. } if side == Side::A => {
                assert!(restarting(error), "a dial while A is detached: {error}");
                dial_failed = true;
            }
            SwarmEvent::ConnectionClosed {
                connection_id,
                cause,
                ..
            } if side == Side::B && *connection_id == kept => {
                panic!("B's connection to A closed during the outage: {cause:?}")
            }
            _ => {}
        }
        back.is_some() && (dial_failed || !dialed)
    })
    .await;
    Outage {
        expired: expired.unwrap(),
        back: back.unwrap(),
    }
}

/// `c` dials A (a new connection; dials retried on failure, as an application would) and pings
/// it over that connection, at most [`LIMIT`]; A's `listener` must neither expire nor close
/// meanwhile. Returns the time from the first dial to the ping, the failed dials, and the
/// connection.
async fn connects(
    a: &mut Peer,
    c: &mut Peer,
    listener: ListenerId,
    addr: &Multiaddr,
) -> (Duration, usize, ConnectionId) {
    let started = Instant::now();
    let target = addr.clone().with(Protocol::P2p(a.id));
    let a_id = a.id;
    let mut failures = Vec::new();
    let mut connection = None;
    c.swarm.dial(target.clone()).unwrap();
    let step = async {
        loop {
            let (side, event) = tokio::select! {
                e = a.swarm.select_next_some() => (Side::A, e),
                e = c.swarm.select_next_some() => (Side::B, e),
            };
            check_event(side, &event);
            match event {
                SwarmEvent::ExpiredListenAddr { listener_id, .. }
                | SwarmEvent::ListenerClosed { listener_id, .. }
                    if side == Side::A && listener_id == listener =>
                {
                    panic!(
                        "A's listener went away while {} connected: {event:?}",
                        c.name
                    )
                }
                SwarmEvent::ConnectionEstablished {
                    peer_id,
                    connection_id,
                    endpoint,
                    ..
                } if side == Side::B && peer_id == a_id && endpoint.is_dialer() => {
                    connection.get_or_insert(connection_id);
                }
                SwarmEvent::OutgoingConnectionError { error, .. }
                    if side == Side::B && connection.is_none() =>
                {
                    let typed = dial_failures(&error);
                    assert!(!typed.is_empty(), "a failure without tor's reason: {error}");
                    failures.push(typed[0].0.to_string());
                    // tor's answer can come at once (e.g. no introduction point answered):
                    // wait before the next attempt rather than spin, as an application would.
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    c.swarm.dial(target.clone()).unwrap();
                }
                SwarmEvent::Behaviour(BehaviourEvent::Ping(libp2p_ping::Event {
                    peer,
                    connection: on,
                    result: Ok(_),
                })) if side == Side::B && peer == a_id && Some(on) == connection => return on,
                _ => {}
            }
        }
    };
    match tokio::time::timeout(LIMIT, step).await {
        Ok(on) => (started.elapsed(), failures.len(), on),
        Err(_) => panic!(
            "{} did not connect to A and ping it within {LIMIT:?}; {} dials failed:\n{}",
            c.name,
            failures.len(),
            failures.join("\n")
        ),
    }
}

/// Drives A and B until B pings A over `connection`.
async fn pinged_on(a: &mut Peer, b: &mut Peer, connection: ConnectionId) {
    let a_id = a.id;
    drive(a, b, "B pings A over its first connection", |side, e| {
        matches!(e, SwarmEvent::Behaviour(BehaviourEvent::Ping(libp2p_ping::Event { peer, connection: on, result: Ok(_) })) if side == Side::B && *peer == a_id && *on == connection)
    })
    .await;
}

fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attached_transport_survives_its_control_connection() {
    init_test_logging();
    torp2p_testnet::TestNet::builder()
        .run(async |net| {
            // The tor A attaches to (the test's own, kept running), B's, and two fresh ones
            // for new peers.
            let (t, tb, tc, td) = tokio::join!(
                net.spawn_client(),
                net.spawn_client(),
                net.spawn_client(),
                net.spawn_client()
            );
            let (tor_t, tor_b, tor_c, tor_d) = (t?, tb?, tc?, td?);
            let pid_t = tor_t.pid().expect("the test spawned it");
            let forwarder = Forwarder::start(tor_t.control_addr().clone()).await;
            let attach = tor::daemon::AttachConfig::new(LocalAddr::Tcp(forwarder.addr));
            // The default backoff; a short hang timeout, so that the probe that notices a closed
            // command connection (scenario 3) runs every 2 s.
            let policy = tor::RestartPolicy::new().with_hang_timeout(Duration::from_secs(4));
            let mut a = supervised_peer(
                "A",
                test_config().with_tor(attach).with_restart_policy(policy),
                tor::OnionKey::generate(),
                Keypair::generate_ed25519(),
            )
            .await;
            // Attached: one command connection and one event connection, through the forwarder.
            assert_eq!(forwarder.seen().forwarded.len(), 2);
            // B dials with circuits of its own for every connection, so that each of its
            // reconnections reaches A's service anew (with the descriptor its tor cached) rather
            // than over a rendezvous circuit it already has.
            let mut b = peer_from(
                "B",
                tor_b.clone(),
                test_config().with_isolation(tor::Isolation::PerConnection),
                tor::OnionKey::generate(),
                Keypair::generate_ed25519(),
            );
            let (listener, addr) = listen(&mut a, &mut b, Side::A, 4001).await;
            let (_, _, first) = connects(&mut a, &mut b, listener, &addr).await;
            let nobody = tor::listen_addr(&tor::OnionKey::generate(), 4001).unwrap();

            // 1. The control connections are cut; the forwarder accepts the next ones.
            let before = forwarder.seen().forwarded.len();
            forwarder.cut(Cut::All, 0).await;
            let hit = Instant::now();
            a.swarm.dial(nobody.clone()).unwrap();
            let outage = wait_outage(
                &mut a,
                &mut b,
                (listener, &addr),
                first,
                true,
                hit,
                "A's service comes back after its control connections were cut",
            )
            .await;
            let seen = forwarder.seen();
            assert_eq!(seen.forwarded.len(), before + 2, "A attached again through the forwarder");
            let reattached = seen.forwarded[before] - hit;
            // Attaching never takes ownership: tor outlives our connections.
            assert!(runs(pid_t), "the attached tor exited when our connections closed");
            assert!(!tor_t.is_gone());
            tor_t.get_info("version").await.expect("the attached tor still answers");
            let back = Instant::now();
            pinged_on(&mut a, &mut b, first).await;
            let b_kept = back.elapsed();
            let (b_new, b_failed, _) = connects(&mut a, &mut b, listener, &addr).await;
            eprintln!("B: {b_failed} dials failed before it connected");
            let mut c = peer("C", tor_c.clone());
            let (c_time, c_failed, _) = connects(&mut a, &mut c, listener, &addr).await;
            eprintln!("C: {c_failed} dials failed before it connected");
            eprintln!(
                "RECOVERY | attached tor: control connection closed | address expired (from the fault): {}; reattached (from the fault): {}; back (from the fault): {}; B pinged over its old connection (from back): {}; B connected anew and pinged (from the previous step): {}; new peer C connected and pinged (from the previous step): {}",
                secs(outage.expired),
                secs(reattached),
                secs(outage.back),
                secs(b_kept),
                secs(b_new),
                secs(c_time)
            );
            drop(c);

            // 2. Only the event connection is cut; the command connection, which added the
            // service, stays open: the supervisor must let go of it before adding the service
            // again (else tor answers "550 Onion address collision").
            let n = forwarder.seen().forwarded.len();
            forwarder.cut(Cut::Only(n - 1), 0).await;
            let hit = Instant::now();
            a.swarm.dial(nobody.clone()).unwrap();
            let outage = wait_outage(
                &mut a,
                &mut b,
                (listener, &addr),
                first,
                true,
                hit,
                "A's service comes back after its event connection was cut",
            )
            .await;
            let seen = forwarder.seen();
            assert_eq!(seen.forwarded.len(), n + 2, "A attached again through the forwarder");
            assert!(runs(pid_t));
            let (b_new, b_failed, _) = connects(&mut a, &mut b, listener, &addr).await;
            eprintln!("B: {b_failed} dials failed before it connected");
            eprintln!(
                "RECOVERY | attached tor: event connection closed | address expired (from the fault): {}; reattached (from the fault): {}; back (from the fault): {}; B connected anew and pinged (from back): {}",
                secs(outage.expired),
                secs(seen.forwarded[n] - hit),
                secs(outage.back),
                secs(b_new)
            );

            // 3. Only the command connection is cut (tor removes the service it added); the
            // event connection stays open. Nothing is read on the command connection between
            // commands: the supervisor notices at its next probe (every half hang timeout,
            // 2 s here). A dial before that goes through tor as usual, so none is made.
            let n = forwarder.seen().forwarded.len();
            forwarder.cut(Cut::Only(n - 2), 0).await;
            let hit = Instant::now();
            let outage = wait_outage(
                &mut a,
                &mut b,
                (listener, &addr),
                first,
                false,
                hit,
                "A's service comes back after its command connection was cut",
            )
            .await;
            let seen = forwarder.seen();
            assert_eq!(seen.forwarded.len(), n + 2, "A attached again through the forwarder");
            assert!(runs(pid_t));
            let (b_new, b_failed, _) = connects(&mut a, &mut b, listener, &addr).await;
            eprintln!("B: {b_failed} dials failed before it connected");
            eprintln!(
                "RECOVERY | attached tor: command connection closed | address expired when noticed (from the fault): {}; reattached (from the fault): {}; back (from the fault): {}; B connected anew and pinged (from back): {}",
                secs(outage.expired),
                secs(seen.forwarded[n] - hit),
                secs(outage.back),
                secs(b_new)
            );

            // 4. Cut again, and the forwarder refuses the next two connections: the supervisor
            // tries again after 1 s, then 2 s (the RestartPolicy's backoff).
            let before = forwarder.seen();
            forwarder.cut(Cut::All, 2).await;
            let hit = Instant::now();
            forwarder
                .wait_for("the first reconnection is refused", |s| {
                    s.refused.len() > before.refused.len()
                })
                .await;
            // The supervisor waits for its next attempt: a dial fails at once.
            a.swarm.dial(nobody.clone()).unwrap();
            let outage = wait_outage(
                &mut a,
                &mut b,
                (listener, &addr),
                first,
                true,
                hit,
                "A's service comes back after two refused reconnections",
            )
            .await;
            let seen = forwarder.seen();
            let refusals = &seen.refused[before.refused.len()..];
            assert_eq!(refusals.len(), 2, "two reconnections were refused");
            assert_eq!(seen.forwarded.len(), before.forwarded.len() + 2);
            let reattached = seen.forwarded[before.forwarded.len()];
            let (first_try, second_try) = (refusals[0], refusals[1]);
            assert!(first_try - hit < Duration::from_secs(1), "the first attempt is at once");
            assert!(second_try - first_try >= Duration::from_secs(1), "1 s before the second attempt");
            assert!(reattached - second_try >= Duration::from_secs(2), "2 s before the third");
            assert!(runs(pid_t));
            let (b_new, b_failed, _) = connects(&mut a, &mut b, listener, &addr).await;
            eprintln!("B: {b_failed} dials failed before it connected");
            eprintln!(
                "RECOVERY | attached tor: control port refused twice | address expired (from the fault): {}; attempt 1 refused (from the fault): {}; attempt 2 refused (from the fault): {}; attempt 3 reattached (from the fault): {}; back (from the fault): {}; B connected anew and pinged (from back): {}",
                secs(outage.expired),
                secs(first_try - hit),
                secs(second_try - hit),
                secs(reattached - hit),
                secs(outage.back),
                secs(b_new)
            );

            // 5. Another controller asks tor to remove our service.
            let id = a.key.onion_address().to_base32();
            let mut other = RawControl::connect(tor_t.control_addr()).await;
            // Our service is not listed to another connection: neither its own nor detached.
            let (_, current) = other.command("GETINFO onions/current").await;
            let (_, detached) = other.command("GETINFO onions/detached").await;
            assert!(!current.concat().contains(&id), "{current:?}");
            assert!(!detached.concat().contains(&id), "{detached:?}");
            let attempt = Instant::now();
            let (code, reply) = other.command(&format!("DEL_ONION {id}")).await;
            let refused_in = attempt.elapsed();
            assert_eq!(
                (code, reply.as_slice()),
                (552, ["Unknown Onion Service id".to_string()].as_slice()),
                "tor's answer to another controller's DEL_ONION"
            );
            let mut d = peer("D", tor_d.clone());
            let (_, d_failed, _) = connects(&mut a, &mut d, listener, &addr).await;
            eprintln!("D: {d_failed} dials failed before it connected");
            let d_time = attempt.elapsed();
            // B's first connection lives on.
            pinged_on(&mut a, &mut b, first).await;
            eprintln!(
                "RECOVERY | another controller: DEL_ONION of our service | answered 552 Unknown Onion Service id (from the attempt): {}; new peer D connected and pinged (from the attempt): {}",
                secs(refused_in),
                secs(d_time)
            );
            drop((a, b, d, other));
            for t in [tor_t, tor_b, tor_c, tor_d] {
                t.shutdown().await;
            }
            Ok::<(), torp2p_testnet::Error>(())
        })
        .await
        .expect("the private network starts");
}
