//! Tor dies with us: when the application that started tor is killed (SIGKILL: no destructor
//! runs), its tor exits too, because torp2p took ownership of it (`TAKEOWNERSHIP` and
//! `__OwningControllerProcess`). Run on torp2p-ping, a real application, with a real tor.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_torp2p-ping");

/// Whether the process is gone, or a zombie waiting for a reaper.
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

/// The PID of a `tor` process whose parent is `parent`.
fn tor_child_of(parent: u32) -> Option<u32> {
    std::fs::read_dir("/proc").ok()?.find_map(|entry| {
        let pid: u32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let (name, rest) = stat.split_once(") ")?;
        let ppid: u32 = rest.split_whitespace().nth(1)?.parse().ok()?;
        (name.ends_with("(tor") && ppid == parent && !is_dead(pid)).then_some(pid)
    })
}

#[test]
fn tor_exits_when_the_application_is_killed() {
    let dir = tempfile::tempdir().unwrap();
    // Offline: tor starts and is owned, then waits for a network it never gets.
    let torrc = dir.path().join("offline.torrc");
    std::fs::write(&torrc, "DisableNetwork 1\nGeoIPFile\nGeoIPv6File\n").unwrap();
    let mut app = Command::new(BIN)
        .arg("--torrc-extra")
        .arg(&torrc)
        .arg("listen")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let app_pid = app.id();
    // The application reports bootstrap progress only once `Tor::spawn` has returned, i.e.
    // once it has authenticated and taken ownership: wait for that line.
    let stderr = BufReader::new(app.stderr.take().unwrap());
    let mut seen = Vec::new();
    for line in stderr.lines() {
        let line = line.unwrap();
        let owned = line.starts_with("tor bootstrap:");
        seen.push(line);
        if owned {
            break;
        }
    }
    assert!(
        seen.last().is_some_and(|l| l.starts_with("tor bootstrap:")),
        "torp2p-ping did not start tor: {seen:?}"
    );
    let tor = tor_child_of(app_pid).expect("the application's tor is its child");
    assert!(!is_dead(tor), "tor {tor} runs while the application does");
    app.kill().unwrap(); // SIGKILL
    app.wait().unwrap();
    // Polled until tor is gone; a tor that stays hangs here and the guard fails the test.
    let mut gone = false;
    for _ in 0..1200 {
        if is_dead(tor) {
            gone = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    if !gone {
        let _ = Command::new("kill").args(["-9", &tor.to_string()]).status();
        panic!("tor {tor} outlived the application that owned it by a minute");
    }
}
