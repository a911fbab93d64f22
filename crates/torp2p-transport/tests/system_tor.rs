//! The system's tor, as Debian's service runs it: a real tor started from
//! `/usr/share/tor/tor-service-defaults-torrc` as root, running as `debian-tor`, joined to a
//! private Tor network (torp2p-testnet); an application attaches to it with cookie
//! authentication on its group-writable control socket, and both dials and listens through it.
//!
//! Such a tor cannot enter a unix socket's private directory of ours (mode 0700, root's here):
//! the listener must notice and have tor forward visitors to a loopback TCP port instead. The
//! test checks that choice (the daemon's listener, and the transport's log), proves that the
//! unix socket would not do (forced, a dial to it fails), and runs the swarm scenario through
//! that tor: listen, dial both ways, ping, identify, with the harness's privacy checks on
//! every event.
//!
//! It needs root (CI runs as root), as the service does: without root it fails, saying so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write as _;
use std::os::unix::fs::MetadataExt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use libp2p_identity::Keypair;
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, filter::LevelFilter};

use tor::addr::{DialTarget, LocalAddr, OnionSocketAddr};
use tor::daemon::{AuthMethod, ListenTarget, OnionServiceOptions, Publication};
use torp2p_swarm_test::*;
use torp2p_transport as tor;

/// The log events at info level and above, as text: `target: message field=value ...`.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<String>>>);

impl Captured {
    fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    fn clear(&self) {
        self.0.lock().unwrap().clear();
    }
}

impl<S: tracing::Subscriber> Layer<S> for Captured {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        struct Text(String);
        impl Visit for Text {
            fn record_str(&mut self, field: &Field, value: &str) {
                let _ = write!(self.0, " {}={value}", field.name());
            }
            fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
                let _ = write!(self.0, " {}={value:?}", field.name());
            }
        }
        let mut text = Text(format!(
            "{} {}:",
            event.metadata().level(),
            event.metadata().target()
        ));
        event.record(&mut text);
        self.0.lock().unwrap().push(text.0);
    }
}

/// The test's log (filtered by `RUST_LOG`) to its output, and every event at info and above
/// into the returned capture.
fn init_logging() -> Captured {
    let captured = Captured::default();
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_test_writer()
                .with_filter(EnvFilter::from_default_env()),
        )
        .with(captured.clone().with_filter(LevelFilter::INFO))
        .try_init()
        .expect("the only subscriber of this test binary");
    captured
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swarms_ping_through_the_system_tor_running_as_another_user() {
    let captured = init_logging();
    let started = Instant::now();
    // Timings, in the test's log (`RUST_LOG=system_tor=info`).
    let lap = |what: &str| {
        let secs = started.elapsed().as_secs_f64();
        tracing::info!(target: "system_tor", "{secs:>6.1} s  {what}");
    };

    torp2p_testnet::TestNet::builder()
        .run(async |net| {
            lap("network ready");
            let (systor, tor_b) = tokio::join!(net.spawn_system_tor(), net.spawn_client());
            let systor =
                systor.expect("a tor started as Debian's service starts it, joined to the network");
            let tor_b = tor_b.expect("B's tor joins the network");
            lap("system-style tor and B's tor bootstrapped");

            // 0. It is the seed's setup: tor runs as debian-tor, which is not this process's user;
            //    the cookie is readable and the control socket writable by debian-tor's group,
            //    which is what a user needs to join to attach.
            let pid = systor.pid().expect("we started it");
            let euid = |pid: &str| {
                std::fs::read_to_string(format!("/proc/{pid}/status"))
                    .unwrap()
                    .lines()
                    .find_map(|l| l.strip_prefix("Uid:"))
                    .and_then(|u| u.split_whitespace().nth(1)?.parse::<u32>().ok())
                    .unwrap()
            };
            assert_eq!(systor.user(), "debian-tor");
            assert_eq!(euid(&pid.to_string()), systor.uid(), "tor switched user");
            assert_ne!(
                euid("self"),
                systor.uid(),
                "tor runs as another user than this test"
            );
            let cookie = std::fs::metadata(systor.cookie_file()).unwrap();
            let control = std::fs::metadata(systor.control_socket()).unwrap();
            assert_eq!(cookie.mode() & 0o777, 0o640, "a group-readable cookie");
            assert_eq!(
                control.mode() & 0o777,
                0o660,
                "a group-writable control socket"
            );
            assert_eq!((cookie.uid(), cookie.gid()), (control.uid(), control.gid()));
            assert_eq!(cookie.uid(), systor.uid());

            // 1. The daemon, attached with cookie authentication (COOKIE here, SAFECOOKIE below):
            //    a listener left to choose forwards to a TCP port on 127.0.0.1.
            let attached = tor::Tor::attach(systor.attach_config().with_auth(AuthMethod::Cookie))
                .await
                .expect("attach with the cookie");
            let options = OnionServiceOptions::new();
            let listener = attached
                .listen(&tor::OnionKey::generate(), 80, &options)
                .await
                .unwrap();
            match listener.target() {
                LocalAddr::Tcp(a) => {
                    assert_eq!(a.ip(), std::net::Ipv4Addr::LOCALHOST, "{a}");
                    assert_ne!(a.port(), 0);
                }
                other => panic!("the system's tor gets a loopback TCP port, not {other:?}"),
            }
            assert_eq!(listener.socket_path(), None);
            listener.remove().await.unwrap();

            // 2. Why: forced onto a unix socket, the service is published, but tor cannot
            //    reach the socket, so a dial to it fails and nothing arrives.
            let key = tor::OnionKey::generate();
            let unix = attached
                .listen(
                    &key,
                    80,
                    &options.clone().with_listen_target(ListenTarget::UnixSocket),
                )
                .await
                .unwrap();
            assert!(matches!(unix.target(), LocalAddr::Unix(_)), "{unix:?}");
            unix.wait_published(Publication::default(), STEP)
                .await
                .expect("the unix-socket service is published");
            lap("unix-socket service published");
            let target = DialTarget::Onion(OnionSocketAddr::new(key.onion_address(), 80).unwrap());
            let dial = tor::socks::connect(
                tor_b.socks_addr().expect("B's tor has a SOCKS port"),
                &target,
                None,
                &tor::socks::Config::new()
                    .with_descriptor_retries(0)
                    .with_timeout(DIAL_TIMEOUT),
            )
            .await;
            let err = dial
                .map(drop)
                .expect_err("tor cannot reach a unix socket in root's private directory");
            lap(&format!(
                "dial to the unix-socket service failed: SOCKS reply {:?}",
                err.reply_code()
            ));
            assert!(
                !matches!(err, tor::DialError::Timeout { .. }),
                "tor answers at once: {err}"
            );
            assert!(err.reply_code().is_some(), "tor's reason: {err:?}");
            assert!(
                tokio::time::timeout(Duration::ZERO, unix.accept())
                    .await
                    .is_err(),
                "no connection reached the unix socket"
            );
            unix.remove().await.unwrap();
            attached.shutdown().await;

            // 3. The swarm: A attaches to the system's tor (SAFECOOKIE), B has its own tor.
            //    Each listens, each dials the other, both ping, identify tells the onion
            //    addresses only; `drive` checks every event for addresses that locate a host.
            captured.clear();
            let key_a = tor::OnionKey::generate();
            let mut a = supervised_peer(
                "A",
                test_config().with_tor(systor.attach_config()),
                key_a.clone(),
                Keypair::generate_ed25519(),
            )
            .await;
            let mut b = peer("B", tor_b);
            let (_listener_a, addr_a) = listen(&mut a, &mut b, Side::A, 4001).await;
            let (_listener_b, addr_b) = listen(&mut a, &mut b, Side::B, 4002).await;
            lap("both listen");
            ping_both_ways(&mut a, &mut b, &addr_a, &addr_b).await;
            lap("pinged both ways through the system's tor");

            // 4. A's listener chose the TCP port by itself and said so, with why, at info
            //    level; B's, on a tor of its own, kept the unix socket. No log line at info or
            //    above names an onion address.
            let lines = captured.lines();
            let chosen = |kind: &str| -> Vec<&String> {
                lines
                    .iter()
                    .filter(|l| l.contains(&format!("tor forwards visitors to {kind}")))
                    .collect()
            };
            let tcp = chosen("a loopback TCP port");
            assert_eq!(tcp.len(), 1, "A's listener: {lines:#?}");
            let line = tcp[0];
            assert!(line.starts_with("INFO torp2p_daemon"), "{line}");
            assert!(line.contains("forwards_to=127.0.0.1:"), "{line}");
            assert!(
                line.contains(&format!("tor runs as uid {}", systor.uid())),
                "the reason names tor's user: {line}"
            );
            let unix = chosen("a unix socket");
            assert_eq!(unix.len(), 1, "B's listener: {lines:#?}");
            assert!(unix[0].contains("tor runs as this user"), "{}", unix[0]);
            for addr in [key_a.onion_address(), b.key.onion_address()] {
                let id = addr.to_base32();
                assert!(
                    !lines.iter().any(|l| l.contains(&id)),
                    "an onion address at info level: {lines:#?}"
                );
            }

            drop((a, b));
            systor.shutdown().await;
            Ok::<(), torp2p_testnet::Error>(())
        })
        .await
        .expect("the private Tor network starts");
    lap("done");
}
