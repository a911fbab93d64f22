//! `Builder::run`: the directory goes on `Ok`, stays on `Err` and on a panic; the scenario's
//! error type takes the network's start error; every tor is reaped on return.
//!
//! These use a network of one authority and no relay: its "consensus lists every relay" as soon
//! as the authority answers, so it starts in about a second. It is a real tor, but no circuit
//! can be built on it (onion services need at least 2 relays): enough for what is tested here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::Duration;

use torp2p_testnet::{Builder, TestNet};

fn tiny() -> Builder {
    TestNet::builder().authorities(1).relays(0)
}

fn is_dead(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .and_then(|rest| rest.split_whitespace().next())
            .is_some_and(|state| state == "Z" || state == "X"),
    }
}

/// A test's own error type: the network's start error converts into it.
#[derive(Debug)]
enum Failure {
    Network(torp2p_testnet::Error),
    Scenario,
}

impl From<torp2p_testnet::Error> for Failure {
    fn from(e: torp2p_testnet::Error) -> Self {
        Failure::Network(e)
    }
}

#[tokio::test]
async fn ok_removes_the_directory_and_reaps_every_tor() {
    let (dir, pids) = tiny()
        .run(async |net| {
            assert!(net.dir().join("auth0").is_dir());
            Ok::<_, Failure>((net.dir().to_path_buf(), net.pids()))
        })
        .await
        .unwrap();
    assert_eq!(pids.len(), 1);
    assert!(!dir.exists(), "{} outlived an Ok scenario", dir.display());
    for pid in pids {
        assert!(is_dead(pid), "tor {pid} outlived the network");
    }
}

#[tokio::test]
async fn err_keeps_the_directory_with_the_logs() {
    let mut seen = None;
    let err = tiny()
        .run(async |net| {
            seen = Some((net.dir().to_path_buf(), net.pids()));
            Err::<(), _>(Failure::Scenario)
        })
        .await
        .unwrap_err();
    assert!(matches!(err, Failure::Scenario), "{err:?}");
    let (dir, pids) = seen.expect("the scenario ran");
    let kept = dir.join("auth0").join("notice.log").is_file();
    for pid in pids {
        assert!(is_dead(pid), "tor {pid} outlived the network");
    }
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(kept, "{} was not kept after an Err", dir.display());
}

#[tokio::test]
async fn a_panic_keeps_the_directory() {
    let (tx, rx) = std::sync::mpsc::channel::<PathBuf>();
    // On a task of its own, so that the panic is caught by the runtime (and the future must be
    // `Send`, as a spawned test's is).
    let task = tokio::spawn(tiny().run(async move |net| {
        tx.send(net.dir().to_path_buf()).unwrap();
        if net.pids().len() == 1 {
            panic!("the scenario panicked");
        }
        Ok::<(), Failure>(())
    }));
    assert!(task.await.unwrap_err().is_panic());
    let dir = rx.recv().unwrap();
    let kept = dir.join("auth0").is_dir();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(kept, "{} was not kept after a panic", dir.display());
}

#[tokio::test]
async fn a_network_that_cannot_start_gives_its_error_and_skips_the_scenario() {
    let mut ran = false;
    let err = TestNet::builder()
        .authorities(1)
        .relays(1)
        .start_timeout(Duration::from_secs(1))
        .run(async |_| {
            ran = true;
            Ok::<(), Failure>(())
        })
        .await
        .unwrap_err();
    assert!(!ran);
    let Failure::Network(torp2p_testnet::Error::ConsensusTimeout { dir, .. }) = err else {
        panic!("expected the network's start error, got {err:?}");
    };
    // As with `Builder::start`, a network that does not start keeps its directory.
    let kept = dir.is_dir();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(kept, "{} was not kept", dir.display());
}

#[tokio::test]
async fn boxed_errors_work_as_the_scenario_error() {
    let dir = tiny()
        .run(async |net| -> Result<PathBuf, Box<dyn std::error::Error>> {
            let n: u32 = "7".parse()?; // any error converts, the network's too
            assert_eq!(n, 7);
            Ok(net.dir().to_path_buf())
        })
        .await
        .unwrap();
    assert!(!dir.exists());
}
