//! Self-healing when a relay dies, by the part it plays for the listener: on one private
//! network of 10 relays, A listens and B is connected and pinging; then, in turn, the relay that
//! is A's **guard**, one that is an **introduction point** of A's onion service, and one that is
//! an **HSDir** holding A's descriptor is killed (SIGKILL). Each relay is found from A's tor
//! itself: the most common first hop of its built circuits (`GETINFO circuit-status`), the last
//! hop of its established introduction circuits, the HSDirs that confirmed its descriptor
//! uploads (`HS_DESC UPLOADED`, [`tor::Tor::hs_dirs`]); a relay that plays no other role for A
//! is preferred (a note says when none does).
//!
//! Asserted after each kill: B pings A again, over its connection if that survived, else after
//! redialing as an application would; and a new peer C (a fresh client tor) connects to A and
//! pings it. The limits are hang guards, not expectations. Each scenario prints one line:
//! `RECOVERY | relay killed: <role> | B ...: <s> s; new peer connected (from its first dial):
//! <s> s` (`cargo test -p torp2p-transport --test recovery_relays -- --nocapture`).
//!
//! Each scenario starts from the same state, so that it measures its own kill:
//! - A listens on a fresh onion service (a key of its own; same tor, same peer id), and B
//!   connects to it. tor lets a service launch 28 introduction circuits per 300 s; after a kill
//!   it relaunches many (its circuits through the dead relay fail until it picks others), and
//!   three kills within a minute on one service used them up in a measured run: `exceeded its
//!   circuit launch limit of 28 per 300 seconds ... Will retry in 260 seconds`, with no
//!   introduction point left, so nobody could reach it for minutes.
//! - After a scenario, the authorities drop its dead relay from the consensus
//!   ([`TestNet::drop_from_consensus`]) and A's and B's tors fetch that consensus, as the real
//!   network notices a dead relay (here its reachability test would take 21 minutes). While
//!   a scenario runs, its dead relay is still listed as `Running`, as in the faults test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures::StreamExt;
use libp2p_swarm::SwarmEvent;
use torp2p_swarm_test::*;
use torp2p_testnet::TestNet;
use torp2p_transport as tor;

/// The longest wait for B and for the new peer to connect after a kill: a hang guard.
const LIMIT: Duration = Duration::from_secs(240);

/// How often A's tor is asked about its circuits while a role has no relay yet.
const ROLE_POLL: Duration = Duration::from_millis(250);

/// A part a relay plays for A.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Role {
    Guard,
    IntroPoint,
    HsDir,
}

impl Role {
    const ALL: [Role; 3] = [Role::Guard, Role::IntroPoint, Role::HsDir];

    fn describe(self) -> &'static str {
        match self {
            Role::Guard => "A's guard",
            Role::IntroPoint => "an introduction point of A's onion service",
            Role::HsDir => "an HSDir holding A's descriptor",
        }
    }
}

/// One circuit of `GETINFO circuit-status`.
#[derive(Debug, PartialEq, Eq)]
struct Circuit {
    status: String,
    /// The hops' identity fingerprints (without `$` and nickname), first hop first.
    path: Vec<String>,
    /// The `KEY=value` fields (`PURPOSE`, `HS_STATE`, `REND_QUERY`, ...).
    fields: HashMap<String, String>,
}

/// Parses `GETINFO circuit-status`: `<id> <status> [<path>] [KEY=value ...]` per line, a path
/// being `$<fingerprint>[~|=<nickname>]` hops separated by commas.
fn circuits(status: &str) -> Vec<Circuit> {
    status
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let _id = words.next()?;
            let status = words.next()?.to_string();
            let mut path = Vec::new();
            let mut fields = HashMap::new();
            for word in words {
                if word.starts_with('$') && path.is_empty() && fields.is_empty() {
                    path = word
                        .split(',')
                        .map(|hop| {
                            let hop = hop.trim_start_matches('$');
                            hop.split(['~', '=']).next().unwrap_or(hop).to_string()
                        })
                        .collect();
                } else if let Some((k, v)) = word.split_once('=') {
                    fields.insert(k.to_string(), v.to_string());
                }
            }
            Some(Circuit {
                status,
                path,
                fields,
            })
        })
        .collect()
}

/// The relays (node names of `net`, running relays only, no authorities) that play each role
/// for A now.
#[derive(Debug, Default)]
struct Roles {
    by_role: HashMap<Role, Vec<String>>,
}

impl Roles {
    /// Asks A's tor: its guard is the most common first hop of its built circuits; its
    /// introduction points are the last hops of its established introduction circuits for
    /// `onion`; its HSDirs are those that confirmed an upload of `onion`'s descriptor.
    async fn of(tor_a: &tor::Tor, onion: &tor::addr::OnionAddress, net: &TestNet) -> Self {
        let status = tor_a.get_info("circuit-status").await.unwrap();
        let circuits = circuits(&status);
        // Relays only: the authorities vote on the consensus, and play almost no part in
        // paths (their consensus weight is tiny).
        let node = |fp: &str| {
            net.node_with_fingerprint(fp)
                .filter(|name| name.starts_with("relay"))
                .map(str::to_string)
        };
        let mut first_hops: HashMap<String, usize> = HashMap::new();
        for c in circuits.iter().filter(|c| c.status == "BUILT") {
            if let Some(name) = c.path.first().and_then(|fp| node(fp)) {
                *first_hops.entry(name).or_default() += 1;
            }
        }
        let guard = first_hops
            .into_iter()
            .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(&a.0)))
            .map(|(name, _)| name);
        let query = onion.to_base32();
        let mut intro_points: Vec<String> = circuits
            .iter()
            .filter(|c| {
                c.status == "BUILT"
                    && c.fields.get("PURPOSE").map(String::as_str) == Some("HS_SERVICE_INTRO")
                    && c.fields.get("HS_STATE").map(String::as_str) == Some("HSSI_ESTABLISHED")
                    && c.fields.get("REND_QUERY") == Some(&query)
            })
            .filter_map(|c| c.path.last().and_then(|fp| node(fp)))
            .collect();
        intro_points.sort();
        intro_points.dedup();
        let hs_dirs: Vec<String> = tor_a
            .hs_dirs(onion)
            .iter()
            .filter_map(|fp| node(fp))
            .collect();
        let mut by_role = HashMap::new();
        by_role.insert(Role::Guard, guard.into_iter().collect());
        by_role.insert(Role::IntroPoint, intro_points);
        by_role.insert(Role::HsDir, hs_dirs);
        Self { by_role }
    }

    fn of_role(&self, role: Role) -> &[String] {
        self.by_role.get(&role).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The other roles `name` plays.
    fn others(&self, name: &str, role: Role) -> Vec<Role> {
        Role::ALL
            .into_iter()
            .filter(|r| *r != role && self.of_role(*r).iter().any(|n| n == name))
            .collect()
    }
}

/// Polls A's tor until it names a relay for every role (A's tor rebuilds circuits and uploads
/// descriptors again after a kill), at most [`STEP`].
async fn roles_now(tor_a: &tor::Tor, onion: &tor::addr::OnionAddress, net: &TestNet) -> Roles {
    let wait = async {
        loop {
            let roles = Roles::of(tor_a, onion, net).await;
            if Role::ALL.iter().all(|r| !roles.of_role(*r).is_empty()) {
                return roles;
            }
            tokio::time::sleep(ROLE_POLL).await;
        }
    };
    tokio::time::timeout(STEP, wait)
        .await
        .expect("A's tor names a guard, an established introduction point and an HSDir")
}

/// The relay to kill for `role`: one that plays no other role for A if there is one, else one
/// that plays the fewest others (and a note says which it plays).
fn pick(roles: &Roles, role: Role) -> (String, Option<String>) {
    let candidates = roles.of_role(role);
    let name = candidates
        .iter()
        .min_by_key(|name| roles.others(name, role).len())
        .expect("roles_now waits for a relay in every role")
        .clone();
    let others = roles.others(&name, role);
    if others.is_empty() {
        return (name, None);
    }
    let others: Vec<&str> = others.into_iter().map(Role::describe).collect();
    let note = format!(
        "{name} is {} and also {} (every relay in that role plays another)",
        role.describe(),
        others.join(" and ")
    );
    (name, Some(note))
}

/// Polls each of `tors` until its consensus no longer lists the relay with `fingerprint`
/// (`GETINFO ns/id/...` is refused), at most [`STEP`].
async fn forgotten(tors: &[&tor::Tor], fingerprint: &str) {
    let key = format!("ns/id/{fingerprint}");
    let wait = async {
        for tor in tors {
            while tor.get_info(&key).await.is_ok() {
                tokio::time::sleep(ROLE_POLL).await;
            }
        }
    };
    tokio::time::timeout(STEP, wait)
        .await
        .expect("the clients fetch a consensus without the dead relay");
}

/// Polls `other`'s swarm (its events only go through the privacy checks) while `future` runs,
/// so that its connections are not stalled by a full event channel.
async fn polling<T>(other: &mut Peer, future: impl Future<Output = T>) -> T {
    let drain = async {
        loop {
            let event = other.swarm.select_next_some().await;
            check_event(Side::B, &event);
        }
    };
    tokio::select! {
        out = future => out,
        _ = drain => unreachable!("polling a swarm never ends"),
    }
}

/// How B got back to pinging A after a kill.
struct Again {
    /// From the kill to B's first successful ping sent after it.
    after: Duration,
    /// Whether its connection broke, so that it redialed.
    redialed: bool,
}

/// What B's connection did first after the kill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum First {
    /// A ping sent after the kill came back.
    Pinged,
    /// The connection closed.
    Closed,
    /// A ping failed (timed out): the connection is stuck.
    PingFailed,
}

/// After a kill at `killed_at`: drives A and B until B has a successful ping to A that it sent
/// after the kill. If B's connection breaks first (it closes, or a ping fails, and then B closes
/// it), B redials as an application would (again on each failure, each typed), within
/// [`LIMIT`].
async fn b_pings_again(
    a: &mut Peer,
    b: &mut Peer,
    addr_a: &libp2p_core::Multiaddr,
    killed_at: Instant,
) -> Again {
    let a_id = a.id;
    let mut first = First::Pinged;
    drive(
        a,
        b,
        "B pings A, or its connection breaks, after the kill",
        |side, e| match e {
            SwarmEvent::Behaviour(BehaviourEvent::Ping(libp2p_ping::Event {
                peer,
                result,
                ..
            })) if side == Side::B && *peer == a_id => match result {
                Ok(rtt) => Instant::now()
                    .checked_sub(*rtt)
                    .is_some_and(|sent| sent >= killed_at),
                Err(_) => {
                    first = First::PingFailed;
                    true
                }
            },
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established: 0,
                ..
            } if side == Side::B && *peer_id == a_id => {
                first = First::Closed;
                true
            }
            _ => false,
        },
    )
    .await;
    if first == First::PingFailed && b.swarm.disconnect_peer_id(a_id).is_ok() {
        drive(a, b, "B closes its stuck connection to A", |side, e| {
            matches!(e, SwarmEvent::ConnectionClosed { peer_id, num_established: 0, .. } if side == Side::B && *peer_id == a_id)
        })
        .await;
    }
    let redialed = first != First::Pinged;
    if redialed {
        if let Err(failures) = try_connect_within(a, b, addr_a, LIMIT).await {
            panic!(
                "B did not reconnect to A within {LIMIT:?} ({first:?} after the kill); {} dials failed:\n{}",
                failures.len(),
                failures.join("\n")
            );
        }
        drive(a, b, "B pings A on its new connection", |side, e| {
            matches!(e, SwarmEvent::Behaviour(BehaviourEvent::Ping(libp2p_ping::Event { peer, result: Ok(_), .. })) if side == Side::B && *peer == a_id)
        })
        .await;
    }
    Again {
        after: killed_at.elapsed(),
        redialed,
    }
}

/// Whether the peers' transports rotate isolation keys after failed dials
/// ([`tor::Config::with_isolation_rotation`], on by default): `TORP2P_ISOLATION_ROTATION=off`
/// turns it off, to compare.
fn rotation() -> bool {
    std::env::var("TORP2P_ISOLATION_ROTATION").as_deref() != Ok("off")
}

/// The transport settings of the test's peers: the harness's, with isolation rotation as
/// [`rotation`] says.
fn config() -> tor::Config {
    test_config().with_isolation_rotation(rotation())
}

/// A test peer on `tor` (see [`config`]).
fn new_peer(name: &'static str, tor: tor::Tor) -> Peer {
    peer_from(
        name,
        tor,
        config(),
        tor::OnionKey::generate(),
        libp2p_identity::Keypair::generate_ed25519(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_killed_in_each_role() {
    init_test_logging();
    let started = Instant::now();
    TestNet::builder()
        .relays(10)
        .run(async |net| {
            let (tor_a, tor_b) = tokio::join!(client_with_info_log(net), client_with_info_log(net));
            let (tor_a, tor_b) = (tor_a?, tor_b?);
            // One onion service of A per scenario (see the module's docs): A's transport holds
            // the three keys.
            let keys: Vec<tor::OnionKey> = Role::ALL.iter().map(|_| tor::OnionKey::generate()).collect();
            let mut a = peer_from(
                "A",
                tor_a.clone(),
                config().with_key(keys[1].clone()).with_key(keys[2].clone()),
                keys[0].clone(),
                libp2p_identity::Keypair::generate_ed25519(),
            );
            let mut b = new_peer("B", tor_b.clone());
            let a_id = a.id;
            let dir = |t: &tor::Tor| t.data_dir().map(|d| d.display().to_string()).unwrap_or_default();
            eprintln!("A's tor in {}, B's in {}", dir(&tor_a), dir(&tor_b));
            let mut listener = None;

            for (role, key) in Role::ALL.into_iter().zip(&keys) {
                // A fresh onion service, and B connected to it and pinging.
                if let Some(old) = listener.take() {
                    if b.swarm.is_connected(&a_id) {
                        b.swarm.disconnect_peer_id(a_id).unwrap();
                    }
                    assert!(a.swarm.remove_listener(old));
                    drive(&mut a, &mut b, "A's last onion service is removed and B disconnected", |side, e| {
                        matches!(e, SwarmEvent::ListenerClosed { listener_id, .. } if side == Side::A && *listener_id == old)
                    })
                    .await;
                }
                a.key = key.clone();
                let (id, addr_a) = listen(&mut a, &mut b, Side::A, 4001).await;
                listener = Some(id);
                reconnect_within(&mut a, &mut b, &addr_a, LIMIT).await;
                drive(&mut a, &mut b, "B pings A's new onion service", |side, e| {
                    matches!(e, SwarmEvent::Behaviour(BehaviourEvent::Ping(libp2p_ping::Event { peer, result: Ok(_), .. })) if side == Side::B && *peer == a_id)
                })
                .await;
                let onion = key.onion_address();

                let roles = polling(&mut b, roles_now(&tor_a, &onion, net)).await;
                let (victim, note) = pick(&roles, role);
                let fingerprint = net.fingerprint(&victim).unwrap().to_string();
                assert_eq!(net.node_with_fingerprint(&fingerprint), Some(victim.as_str()));
                if let Some(note) = note {
                    eprintln!("note: {note}");
                }
                assert!(net.kill_node(&victim).await, "{victim} was running");
                let killed_at = Instant::now();
                assert_eq!(net.node_with_fingerprint(&fingerprint), None);
                eprintln!(
                    "killed {victim} (${fingerprint}), {}; A's roles before: guard {:?}, introduction points {:?}, HSDirs {:?}",
                    role.describe(),
                    roles.of_role(Role::Guard),
                    roles.of_role(Role::IntroPoint),
                    roles.of_role(Role::HsDir),
                );

                let again = b_pings_again(&mut a, &mut b, &addr_a, killed_at).await;

                let tor_c = client_with_info_log(net).await?;
                let mut c = new_peer("C", tor_c.clone());
                let first_dial = killed_at.elapsed();
                eprintln!(
                    "new peer C (tor in {}) dials A {:.1} s after the kill",
                    dir(&tor_c),
                    first_dial.as_secs_f64()
                );
                let connected = polling(&mut b, try_connect_within(&mut a, &mut c, &addr_a, LIMIT))
                    .await
                    .unwrap_or_else(|failures| {
                        panic!(
                            "with {victim} ({}) dead, a new peer C did not connect to A within {LIMIT:?} of its first dial; {} dials failed:\n{}",
                            role.describe(),
                            failures.len(),
                            failures.join("\n")
                        )
                    });
                polling(
                    &mut b,
                    drive(&mut a, &mut c, "C pings A", |side, e| {
                        matches!(e, SwarmEvent::Behaviour(BehaviourEvent::Ping(libp2p_ping::Event { peer, result: Ok(_), .. })) if side == Side::B && *peer == a_id)
                    }),
                )
                .await;

                let b_label = if again.redialed {
                    "B reconnected (its connection broke, from the kill to a ping on the new one)"
                } else {
                    "B kept its connection (from the kill to a ping sent after it)"
                };
                eprintln!(
                    "RECOVERY | relay killed: {} | {b_label}: {:.1} s; new peer connected (from its first dial): {:.1} s",
                    role.describe(),
                    again.after.as_secs_f64(),
                    connected.as_secs_f64()
                );
                drop(c);
                tor_c.shutdown().await;

                // The network notices the death before the next scenario, as the real one
                // does after its reachability test: each scenario has one dead relay that is
                // still listed, as in this one.
                if role != Role::HsDir {
                    let dropping = Instant::now();
                    polling(&mut b, async {
                        net.drop_from_consensus(&fingerprint).await?;
                        forgotten(&[&tor_a, &tor_b], &fingerprint).await;
                        Ok::<(), torp2p_testnet::Error>(())
                    })
                    .await?;
                    eprintln!(
                        "{victim} dropped from the consensus; A's and B's tors had that consensus {:.1} s later",
                        dropping.elapsed().as_secs_f64()
                    );
                }
            }

            drop((a, b));
            for t in [tor_a, tor_b] {
                t.shutdown().await;
            }
            Ok::<(), torp2p_testnet::Error>(())
        })
        .await
        .expect("the private network starts");
    eprintln!(
        "recovery_relays: {:.0} s in all (isolation rotation {})",
        started.elapsed().as_secs_f64(),
        if rotation() { "on" } else { "off" }
    );
}

/// A client tor of `net` that also logs at info level into `info.log` in its data directory
/// (kept with the network's files when the test fails).
async fn client_with_info_log(net: &TestNet) -> Result<tor::Tor, torp2p_testnet::Error> {
    let config = net.client_config();
    let dir = config
        .data_dir()
        .expect("a test network's client has a data directory")
        .to_path_buf();
    let log = dir.join("info.log");
    let node = |source: tor::daemon::Error| torp2p_testnet::Error::Node {
        node: dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        dir: net.dir().to_path_buf(),
        source: Box::new(source),
    };
    let config = config
        .with_torrc_line(format!("Log info file {}", log.display()))
        .with_torrc_line("SafeLogging 0");
    let tor = tor::Tor::spawn(config).await.map_err(node)?;
    tor.wait_bootstrapped(Duration::from_secs(120))
        .await
        .map_err(node)?;
    Ok(tor)
}

#[test]
fn circuit_status_lines_parse() {
    let status = "\
12 BUILT $AAAA~relay1,$BBBB~relay2,$CCCC~relay3 BUILD_FLAGS=IS_INTERNAL,NEED_CAPACITY PURPOSE=HS_SERVICE_INTRO HS_STATE=HSSI_ESTABLISHED REND_QUERY=abcd TIME_CREATED=2026-12-01T09:14:00.000000
13 LAUNCHED BUILD_FLAGS=NEED_CAPACITY PURPOSE=GENERAL TIME_CREATED=2026-12-01T09:14:00.000000
14 EXTENDED $AAAA=relay1 PURPOSE=GENERAL";
    let c = circuits(status);
    assert_eq!(c.len(), 3);
    assert_eq!(c[0].status, "BUILT");
    assert_eq!(c[0].path, ["AAAA", "BBBB", "CCCC"]);
    assert_eq!(c[0].fields["PURPOSE"], "HS_SERVICE_INTRO");
    assert_eq!(c[0].fields["HS_STATE"], "HSSI_ESTABLISHED");
    assert_eq!(c[0].fields["REND_QUERY"], "abcd");
    assert!(c[1].path.is_empty());
    assert_eq!(c[1].fields["PURPOSE"], "GENERAL");
    assert_eq!(c[2].path, ["AAAA"]);
    assert!(circuits("").is_empty());
}
