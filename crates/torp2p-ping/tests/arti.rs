//! torp2p-ping with `--backend arti` on a private Tor network, beside C tor, as processes: an
//! arti listener answers a C tor dialer (text output), and a C tor listener answers an arti
//! dialer (`--json`, arti's state in the default temporary directory, which is gone after).
//! Each listener is stopped with SIGINT, as Ctrl-C, and must exit cleanly. A dial to an
//! address nobody published fails with the backend's reason alone (not libp2p's list of
//! error chains).
#![cfg(feature = "arti")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_torp2p-ping");
/// A hang guard for each step (a bootstrap and a publication, or a dial).
const STEP: Duration = Duration::from_secs(180);

/// A running `torp2p-ping listen`: its address, and its stderr in a file.
struct Listener {
    child: Child,
    addr: String,
    stderr: std::path::PathBuf,
}

impl Listener {
    /// Starts `torp2p-ping <args> listen <listen_args>` and waits for the address it prints on
    /// stdout once its onion service is reachable.
    async fn start(args: &[&str], listen_args: &[&str], stderr: std::path::PathBuf) -> Self {
        let mut child = Command::new(BIN)
            .args(args)
            .arg("listen")
            .args(listen_args)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = tokio::time::timeout(STEP, lines.next_line()).await;
        let log = || std::fs::read_to_string(&stderr).unwrap_or_default();
        let addr = match first {
            Ok(Ok(Some(line))) => line,
            other => panic!(
                "the listener printed no address ({other:?}); its stderr:\n{}",
                log()
            ),
        };
        assert!(
            addr.starts_with("/onion3/") && addr.contains(":4001/p2p/12D3KooW"),
            "stdout's first line is the address alone: {addr:?}"
        );
        // Keep draining stdout (nothing more is expected in text mode).
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Self {
            child,
            addr,
            stderr,
        }
    }

    /// The peer id at the end of the address.
    fn peer(&self) -> &str {
        self.addr.rsplit('/').next().unwrap()
    }

    /// Stops it as Ctrl-C does (SIGINT to its PID): it must exit 0. Its stderr.
    async fn interrupt(mut self) -> String {
        let pid = self.child.id().expect("the listener is still running");
        let sent = std::process::Command::new("kill")
            .args(["-INT", &pid.to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let status = tokio::time::timeout(Duration::from_secs(60), self.child.wait())
            .await
            .expect("the listener exits within 60 s of SIGINT")
            .unwrap();
        let log = std::fs::read_to_string(&self.stderr).unwrap();
        assert!(
            status.success(),
            "SIGINT stops it cleanly ({status}):\n{log}"
        );
        assert!(!log.contains("panicked"), "{log}");
        log
    }
}

/// Runs `torp2p-ping <args>` to its end (at most [`STEP`]).
async fn run(args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    tokio::time::timeout(STEP, cmd.output())
        .await
        .expect("torp2p-ping ends in time")
        .unwrap()
}

/// A well-formed address nobody published, with the peer id `peer`.
fn unpublished(peer: &str) -> (String, String) {
    let onion = torp2p_daemon::OnionKey::generate()
        .onion_address()
        .to_base32();
    (onion.clone(), format!("/onion3/{onion}:4001/p2p/{peer}"))
}

/// Runs `test` on a private network, on a runtime of its own (as the transport's arti tests
/// do): whatever arti runs in the test process ends with it.
fn on_testnet(test: impl AsyncFnOnce(&torp2p_testnet::TestNet)) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime
        .block_on(torp2p_testnet::TestNet::builder().run(async |net| {
            test(net).await;
            Ok::<(), torp2p_testnet::Error>(())
        }))
        .expect("the private network starts");
}

#[test]
fn an_arti_listener_answers_a_c_tor_dialer() {
    on_testnet(async |net| {
        let dir = tempfile::tempdir().unwrap();
        let storage = dir.path().join("arti");
        let key = dir.path().join("listener.key");
        let toml = net.arti_toml_path();
        let listener = Listener::start(
            &[
                "--backend",
                "arti",
                "--arti-config",
                toml.to_str().unwrap(),
                "--arti-storage",
                storage.to_str().unwrap(),
            ],
            &["--key-file", key.to_str().unwrap()],
            dir.path().join("listener.stderr"),
        )
        .await;

        let torrc = net.client_torrc_path();
        let out = run(
            &[
                "--torrc-extra",
                torrc.to_str().unwrap(),
                "dial",
                &listener.addr,
                "--count",
                "3",
                "--timeout",
                "120",
            ],
            &[],
        )
        .await;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "the C tor dialer succeeds ({}):\n{stdout}{stderr}",
            out.status
        );
        // ping(8)-like lines, in order, and nothing else on stdout.
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(lines.len(), 7, "{stdout}");
        assert!(
            lines[0].starts_with(&format!("connected to {} in ", listener.peer())),
            "{stdout}"
        );
        for (i, line) in lines[1..4].iter().enumerate() {
            assert!(
                line.starts_with(&format!("ping {}: rtt=", i + 1)) && line.ends_with(" ms"),
                "{stdout}"
            );
        }
        assert_eq!(
            lines[4],
            format!("--- {} ping statistics ---", listener.addr)
        );
        assert_eq!(lines[5], "3 pings wanted, 3 answered");
        assert!(lines[6].starts_with("rtt min/median/max = "), "{stdout}");

        // An unpublished address: C tor's reason (0xF0), nothing else.
        let (onion, nobody) = unpublished(listener.peer());
        let args = [
            "--torrc-extra",
            torrc.to_str().unwrap(),
            "dial",
            &nobody,
            "--count",
            "1",
        ];
        let out = run(&args, &[]).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        let reason = format!(
            "torp2p-ping: cannot connect: the onion service's descriptor was not found for {onion}.onion:4001 (SOCKS reply 0xF0): it is offline"
        );
        assert!(
            stderr.lines().any(|l| l.starts_with(&reason)),
            "want `{reason}` in:\n{stderr}"
        );
        assert!(!stderr.contains("Failed to negotiate"), "{stderr}");

        let addr = listener.addr.clone();
        let log = listener.interrupt().await;
        for expected in [
            "arti bootstrap: started (embedded Tor)\n",
            "arti bootstrap: done in ",
            "publishing the onion service's descriptor\n",
            &format!("listening; dial with: torp2p-ping dial {addr}\n"),
            "connection from 12D3KooW",
            ": rtt=",
            "stopping\n",
        ] {
            assert!(
                log.contains(expected),
                "the arti listener's stderr has `{expected}`:\n{log}"
            );
        }
        // arti's state is where --arti-storage said, and outlived the process.
        assert!(storage.join("state").is_dir(), "{}", storage.display());
        assert!(storage.join("cache").is_dir(), "{}", storage.display());
    });
}

#[test]
fn a_c_tor_listener_answers_an_arti_dialer_in_json() {
    on_testnet(async |net| {
        let dir = tempfile::tempdir().unwrap();
        let torrc = net.client_torrc_path();
        let listener = Listener::start(
            &["--torrc-extra", torrc.to_str().unwrap()],
            &[],
            dir.path().join("listener.stderr"),
        )
        .await;

        // No --arti-storage: arti's state goes to a temporary directory in TMPDIR, removed at
        // exit.
        let tmp = dir.path().join("tmp");
        std::fs::create_dir(&tmp).unwrap();
        let toml = net.arti_toml_path();
        let out = run(
            &[
                "--json",
                "--backend",
                "arti",
                "--arti-config",
                toml.to_str().unwrap(),
                "dial",
                &listener.addr,
                "--count",
                "2",
                "--timeout",
                "120",
            ],
            &[("TMPDIR", &tmp)],
        )
        .await;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "the arti dialer succeeds ({}):\n{stdout}{stderr}",
            out.status
        );
        let events: Vec<serde_json::Value> = stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect();
        let kinds: Vec<&str> = events
            .iter()
            .map(|e| e["event"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["connected", "ping", "ping", "summary"], "{stdout}");
        assert_eq!(events[0]["peer"], listener.peer());
        assert_eq!(events[1]["seq"], 1);
        assert_eq!(events[2]["seq"], 2);
        assert!(events[1]["rtt_ms"].as_f64().unwrap() > 0.0, "{stdout}");
        assert_eq!(events[3]["address"], listener.addr.as_str());
        assert_eq!(
            (&events[3]["wanted"], &events[3]["answered"]),
            (&2.into(), &2.into())
        );
        assert!(
            stderr.contains("arti bootstrap: done in "),
            "progress for people on stderr:\n{stderr}"
        );
        let left: Vec<_> = std::fs::read_dir(&tmp)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(
            left.is_empty(),
            "arti's temporary storage is removed at exit: {left:?}"
        );

        // An unpublished address: arti's reason, nothing else.
        let (onion, nobody) = unpublished(listener.peer());
        let args = [
            "--backend",
            "arti",
            "--arti-config",
            toml.to_str().unwrap(),
            "dial",
            &nobody,
            "--count",
            "1",
        ];
        let out = run(&args, &[("TMPDIR", &tmp)]).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        let reason =
            format!("torp2p-ping: cannot connect: descriptor of {onion}.onion:4001 not found: ");
        assert!(
            stderr.lines().any(|l| l.starts_with(&reason)),
            "want `{reason}` in:\n{stderr}"
        );
        assert!(!stderr.contains("Failed to negotiate"), "{stderr}");

        let log = listener.interrupt().await;
        assert!(log.contains("connection from 12D3KooW"), "{log}");
        assert!(log.contains("stopping"), "{log}");
    });
}
