//! The daemon against a real `tor --DisableNetwork 1`: fast, offline, and no mock.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use torp2p_daemon::{
    AttachConfig, AuthMethod, ClientAuthKey, Config, Error, IncomingStream, ListenTarget,
    LocalAddr, OnionKey, OnionServiceOptions, PortMapping, PowDefenses, Tor,
};

fn offline() -> Config {
    Config::new().with_torrc_lines(["DisableNetwork 1", "GeoIPFile", "GeoIPv6File"])
}

/// Whether the process is gone (reaped) or at least dead (zombie waiting for the reaper).
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

/// Polls until `pid` is dead; fails the test if it is still alive after 10 s.
async fn assert_dies(pid: u32) {
    for _ in 0..400 {
        if is_dead(pid) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("tor {pid} is still running");
}

/// The process group of `pid` (the fifth field of `/proc/<pid>/stat`).
fn process_group(pid: u32) -> u32 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = stat.rsplit(')').next().unwrap();
    rest.split_whitespace().nth(2).unwrap().parse().unwrap()
}

#[tokio::test]
async fn tor_is_out_of_reach_of_the_terminals_ctrl_c() {
    // A terminal sends Ctrl-C (SIGINT) to its whole foreground process group. Tor must not
    // get it: the application decides when to stop, and would otherwise see its tor die
    // (and restart it) while it shuts down. Tor still dies with us (ownership).
    let tor = Tor::spawn(offline()).await.unwrap();
    let pid = tor.pid().unwrap();
    assert_ne!(process_group(pid), process_group(std::process::id()));
    assert_eq!(
        process_group(pid),
        pid,
        "tor leads a process group of its own"
    );
    tor.shutdown().await;
}

fn unix_target(dir: &Path) -> LocalAddr {
    LocalAddr::Unix(dir.join("target.sock"))
}

#[tokio::test]
async fn spawn_authenticate_and_shutdown() {
    let tor = Tor::spawn(offline()).await.unwrap();
    let pid = tor.pid().unwrap();
    assert!(!is_dead(pid));
    assert!(
        matches!(tor.control_addr(), LocalAddr::Unix(_)),
        "{:?}",
        tor.control_addr()
    );
    let version = tor.get_info("version").await.unwrap();
    assert!(version.starts_with("0.4."), "{version}");
    // DisableNetwork: no SOCKS listener is open.
    assert_eq!(tor.socks_addr(), None);
    tor.shutdown().await;
    assert!(is_dead(pid));
}

#[tokio::test]
async fn reload_makes_tor_read_its_configuration_again() {
    let tor = Tor::spawn(offline()).await.unwrap();
    let pid = tor.pid().unwrap();
    tor.reload().await.unwrap();
    // tor says so at notice level, and goes on answering as the same process.
    let mut reloaded = false;
    for _ in 0..200 {
        if tor.last_log().contains("Reloading config") {
            reloaded = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(reloaded, "no reload in tor's log:\n{}", tor.last_log());
    assert!(tor.get_info("version").await.is_ok());
    assert_eq!(tor.pid(), Some(pid));
    tor.shutdown().await;
}

#[tokio::test]
async fn socks_port_is_a_unix_socket_by_default_and_tcp_on_request() {
    // Without DisableNetwork tor opens its SOCKS port. So that it reaches nothing outside
    // this machine, its only directory authority is a closed port on loopback and the
    // built-in fallback directories are off: every connection it tries goes to 127.0.0.1:1.
    let nowhere = || {
        Config::new().with_torrc_lines([
            "GeoIPFile",
            "GeoIPv6File",
            "UseDefaultFallbackDirs 0",
            "DirAuthority nowhere orport=1 no-v2 v3ident=0000000000000000000000000000000000000001 127.0.0.1:1 0000000000000000000000000000000000000001",
        ])
    };
    let tor = Tor::spawn(nowhere()).await.unwrap();
    match tor.socks_addr() {
        Some(LocalAddr::Unix(p)) => assert!(p.exists(), "{}", p.display()),
        other => panic!("expected a unix SOCKS socket, got {other:?}"),
    }
    tor.shutdown().await;
    let tor = Tor::spawn(nowhere().with_listeners(torp2p_daemon::Listeners::Tcp))
        .await
        .unwrap();
    match (tor.socks_addr(), tor.control_addr()) {
        (Some(LocalAddr::Tcp(s)), LocalAddr::Tcp(c)) => {
            assert!(s.ip().is_loopback() && c.ip().is_loopback());
        }
        other => panic!("expected TCP listeners on loopback, got {other:?}"),
    }
    tor.shutdown().await;
}

#[tokio::test]
async fn drop_kills_tor_and_removes_the_temp_dir() {
    let tor = Tor::spawn(offline()).await.unwrap();
    let pid = tor.pid().unwrap();
    let LocalAddr::Unix(sock) = tor.control_addr().clone() else {
        panic!("unix control expected")
    };
    let dir = sock.parent().unwrap().to_path_buf();
    assert!(dir.exists());
    drop(tor);
    assert_dies(pid).await;
    assert!(!dir.exists(), "temp data dir {} was left", dir.display());
}

#[tokio::test]
async fn bad_torrc_line_shows_tors_complaint() {
    let err = Tor::spawn(offline().with_torrc_line("NoSuchOption 1"))
        .await
        .unwrap_err();
    let Error::TorExited { last_log, .. } = &err else {
        panic!("expected TorExited, got {err:?}")
    };
    assert!(last_log.contains("NoSuchOption"), "{last_log}");
    assert_eq!(err.tor_log(), Some(last_log.as_str()));
    let message = err.to_string();
    assert!(
        message.contains("NoSuchOption") && !message.contains('\n'),
        "{message}"
    );
}

#[tokio::test]
async fn missing_binary_is_a_clear_error() {
    let err = Tor::spawn(offline().with_tor_bin("/nonexistent/tor"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::TorNotFound { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("apt-get install tor") && msg.contains("/nonexistent/tor"),
        "{msg}"
    );
}

#[tokio::test]
async fn kill_9_is_reported_as_tor_exited() {
    let tor = Tor::spawn(offline()).await.unwrap();
    let pid = tor.pid().unwrap();
    let status = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let gone = tokio::time::timeout(Duration::from_secs(10), tor.gone())
        .await
        .unwrap();
    assert!(matches!(gone, Error::TorExited { .. }), "{gone:?}");
    assert!(
        gone.to_string().contains("SIGKILL") || gone.to_string().contains("signal"),
        "{gone}"
    );
    let err = tor.get_info("version").await.unwrap_err();
    assert!(err.is_tor_gone(), "{err:?}");
    let err = tor
        .add_onion_service(
            &OnionKey::generate(),
            &[PortMapping {
                virtual_port: 80,
                target: LocalAddr::Tcp("127.0.0.1:9".parse().unwrap()),
            }],
            &OnionServiceOptions::new(),
        )
        .await
        .unwrap_err();
    assert!(err.is_tor_gone(), "{err:?}");
    assert!(is_dead(pid));
}

#[tokio::test]
async fn bootstrap_timeout_names_the_phase() {
    let tor = Tor::spawn(offline()).await.unwrap();
    let err = tor
        .wait_bootstrapped(Duration::from_millis(300))
        .await
        .unwrap_err();
    let Error::BootstrapTimeout { progress, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(*progress < 100);
    assert!(err.to_string().contains("stuck at"), "{err}");
    tor.shutdown().await;
}

#[tokio::test]
async fn add_and_remove_onion_service() {
    let tor = Tor::spawn(offline()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key = OnionKey::generate();
    let service = tor
        .add_onion_service(
            &key,
            &[PortMapping {
                virtual_port: 80,
                target: unix_target(dir.path()),
            }],
            &OnionServiceOptions::new()
                .with_max_streams(4)
                .with_authorized_client(ClientAuthKey::generate().unwrap().public_key())
                .with_pow_defenses(PowDefenses {
                    queue_rate: 100,
                    queue_burst: 200,
                }),
        )
        .await
        .unwrap();
    assert_eq!(service.address(), key.onion_address());
    // Offline: no descriptor upload, so no HSDir holds it.
    assert!(tor.hs_dirs(&key.onion_address()).is_empty());
    let current = tor.get_info("onions/current").await.unwrap();
    assert!(
        current.contains(&key.onion_address().to_base32()),
        "{current}"
    );
    service.remove().await.unwrap();
    let current = tor.get_info("onions/current").await.unwrap();
    assert!(
        !current.contains(&key.onion_address().to_base32()),
        "{current}"
    );

    // Dropping a service removes it too.
    let dropped = tor
        .add_onion_service(
            &key,
            &[PortMapping {
                virtual_port: 81,
                target: unix_target(dir.path()),
            }],
            &OnionServiceOptions::new(),
        )
        .await
        .unwrap();
    drop(dropped);
    let id = key.onion_address().to_base32();
    let mut removed = false;
    for _ in 0..200 {
        if !tor.get_info("onions/current").await.unwrap().contains(&id) {
            removed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(removed, "dropped service still listed");
    tor.shutdown().await;
}

/// Polls `onions/current` until `id` is listed (or not), at most 5 s.
async fn wait_listed(tor: &Tor, id: &str, listed: bool) -> bool {
    for _ in 0..200 {
        if tor.get_info("onions/current").await.unwrap().contains(id) == listed {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    false
}

#[tokio::test]
async fn a_listener_owns_its_service_and_goes_with_it() {
    let tor = Tor::spawn(offline()).await.unwrap();
    let key = OnionKey::generate();
    let id = key.onion_address().to_base32();
    let options = OnionServiceOptions::new();

    let err = tor.listen(&key, 0, &options).await.unwrap_err();
    assert!(matches!(err, Error::VirtualPortZero), "{err:?}");
    assert!(wait_listed(&tor, &id, false).await);

    let listener = tor.listen(&key, 4001, &options).await.unwrap();
    assert_eq!(listener.address(), key.onion_address());
    assert_eq!(listener.virtual_port(), 4001);
    // A tor we spawned runs as this user: the listener is a unix socket.
    let socket = listener.socket_path().unwrap().to_path_buf();
    assert_eq!(listener.target(), &LocalAddr::Unix(socket.clone()));
    let socket_dir = socket.parent().unwrap().to_path_buf();
    assert!(socket.exists(), "{}", socket.display());
    assert_eq!(
        mode(&socket_dir),
        0o700,
        "only this user may reach the socket"
    );
    assert!(wait_listed(&tor, &id, true).await, "the service is added");
    // No visitor (DisableNetwork): accept waits, and giving up on it is harmless.
    let waited = tokio::time::timeout(Duration::from_millis(50), listener.accept()).await;
    assert!(waited.is_err(), "no connection can arrive offline");
    // A second listener with the same key: tor refuses, the first is untouched.
    let err = tor.listen(&key, 4002, &options).await.unwrap_err();
    assert!(matches!(err, Error::OnionServiceRejected { .. }), "{err:?}");
    listener.remove().await.unwrap();
    assert!(wait_listed(&tor, &id, false).await, "remove deletes it");
    assert!(
        !socket_dir.exists(),
        "the socket's directory goes with the listener"
    );

    let dropped = tor.listen(&key, 4001, &options).await.unwrap();
    assert!(wait_listed(&tor, &id, true).await);
    drop(dropped);
    assert!(wait_listed(&tor, &id, false).await, "drop deletes it");
    tor.shutdown().await;
}

/// A tor whose listeners a defaults file names (as a distribution's service configuration
/// does): torp2p writes none of its own, finds the control port in tor's file or where it is
/// told, and learns the SOCKS port from tor.
#[tokio::test]
async fn listeners_named_by_a_defaults_file() {
    let dir = tempfile::tempdir().unwrap();
    // tor puts a control socket only in a directory of this user's alone.
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    let control = dir.path().join("control.sock");
    let defaults = dir.path().join("defaults");
    std::fs::write(
        &defaults,
        format!(
            "ControlPort unix:\"{}\"\nCookieAuthentication 1\n",
            control.display()
        ),
    )
    .unwrap();
    for named in [false, true] {
        let mut config = offline()
            .with_defaults_torrc(&defaults)
            .with_listeners(torp2p_daemon::Listeners::Torrc);
        if named {
            config = config.with_control_addr(LocalAddr::Unix(control.clone()));
        }
        let tor = Tor::spawn(config).await.unwrap();
        assert_eq!(
            tor.control_addr(),
            &LocalAddr::Unix(control.clone()),
            "{named}"
        );
        let listeners = tor.get_info("net/listeners/control").await.unwrap();
        assert_eq!(
            listeners,
            format!("\"unix:{}\"", control.display()),
            "no control port of ours"
        );
        assert_eq!(tor.socks_addr(), None, "DisableNetwork: no SOCKS port");
        tor.shutdown().await;
    }
}

/// A listener forced onto a loopback TCP port: bound on 127.0.0.1 only, handed to tor as the
/// service's target, and (as its docs warn) reachable by any local process directly, which
/// `accept` hands out like a visitor's connection. It goes with the listener.
#[tokio::test]
async fn a_listener_can_be_forced_onto_a_loopback_tcp_port() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let tor = Tor::spawn(offline()).await.unwrap();
    let key = OnionKey::generate();
    let id = key.onion_address().to_base32();
    let options = OnionServiceOptions::new().with_listen_target(ListenTarget::LoopbackTcp);
    let listener = tor.listen(&key, 4001, &options).await.unwrap();
    let addr = match listener.target() {
        LocalAddr::Tcp(a) => *a,
        other => panic!("expected a TCP target, got {other:?}"),
    };
    assert_eq!(addr.ip(), std::net::Ipv4Addr::LOCALHOST, "{addr}");
    assert_ne!(addr.port(), 0);
    assert_eq!(listener.socket_path(), None);
    assert!(wait_listed(&tor, &id, true).await, "the service is added");

    let mut direct = tokio::net::TcpStream::connect(addr).await.unwrap();
    direct.write_all(b"ping").await.unwrap();
    let incoming = tokio::time::timeout(Duration::from_secs(5), listener.accept())
        .await
        .expect("the connection is accepted")
        .unwrap();
    let IncomingStream::Tcp(mut incoming) = incoming else {
        panic!("a unix stream from a TCP listener");
    };
    let mut buf = [0u8; 4];
    incoming.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"ping");

    listener.remove().await.unwrap();
    assert!(wait_listed(&tor, &id, false).await, "remove deletes it");
    let refused = tokio::net::TcpStream::connect(addr).await;
    assert!(refused.is_err(), "the port closes with the listener");
    tor.shutdown().await;
}

#[tokio::test]
async fn tor_refuses_a_duplicate_service() {
    let tor = Tor::spawn(offline()).await.unwrap();
    let key = OnionKey::generate();
    let ports = [PortMapping {
        virtual_port: 80,
        target: LocalAddr::Tcp("127.0.0.1:9".parse().unwrap()),
    }];
    let _first = tor
        .add_onion_service(&key, &ports, &OnionServiceOptions::new())
        .await
        .unwrap();
    let err = tor
        .add_onion_service(&key, &ports, &OnionServiceOptions::new())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::OnionServiceRejected { .. }), "{err:?}");
    assert!(err.to_string().contains("already runs"), "{err}");
    // The refusal did not disturb the first service: it is still listed, and removable.
    let id = key.onion_address().to_base32();
    assert!(tor.get_info("onions/current").await.unwrap().contains(&id));
    _first.remove().await.unwrap();
    assert!(!tor.get_info("onions/current").await.unwrap().contains(&id));
    tor.shutdown().await;

    // tor itself refuses a key it already serves outside our knowledge (here from its torrc):
    // its reply is passed on.
    let dir = tempfile::tempdir().unwrap();
    let hs = dir.path().join("hs");
    std::fs::create_dir(&hs).unwrap();
    set_mode(&hs, 0o700);
    key.save(hs.join("hs_ed25519_secret_key")).unwrap();
    let tor = Tor::spawn(offline().with_torrc_lines([
        format!("HiddenServiceDir {}", hs.display()),
        "HiddenServicePort 80 127.0.0.1:9".into(),
    ]))
    .await
    .unwrap();
    let err = tor
        .add_onion_service(&key, &ports, &OnionServiceOptions::new())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::OnionServiceRejected { .. }), "{err:?}");
    assert!(
        err.to_string().contains("550") || err.to_string().contains("512"),
        "{err}"
    );
    tor.shutdown().await;
}

#[tokio::test]
async fn client_auth_is_accepted_by_tor() {
    let tor = Tor::spawn(offline()).await.unwrap();
    let service = OnionKey::generate().onion_address();
    let other = OnionKey::generate().onion_address();
    assert!(!tor.has_client_auth(&service).await.unwrap());
    let key = ClientAuthKey::generate().unwrap();
    tor.add_client_auth(&service, &key).await.unwrap();
    assert!(
        tor.has_client_auth(&service).await.unwrap(),
        "tor holds the key"
    );
    assert!(
        !tor.has_client_auth(&other).await.unwrap(),
        "for that service only"
    );
    // Again, with another key: tor replaces it and still holds one.
    tor.add_client_auth(&service, &ClientAuthKey::generate().unwrap())
        .await
        .unwrap();
    assert!(tor.has_client_auth(&service).await.unwrap());
    tor.shutdown().await;
}

/// tor itself loads a key file we wrote and reports the same address, and we load a key
/// file tor wrote and compute tor's address.
#[tokio::test]
async fn key_files_are_tors_own_format() {
    let dir = tempfile::tempdir().unwrap();
    let ours = dir.path().join("ours");
    let theirs = dir.path().join("theirs");
    for d in [&ours, &theirs] {
        std::fs::create_dir(d).unwrap();
        set_mode(d, 0o700);
    }
    let key = OnionKey::generate();
    key.save(ours.join("hs_ed25519_secret_key")).unwrap();
    assert_eq!(mode(&ours.join("hs_ed25519_secret_key")), 0o600);
    let tor = Tor::spawn(offline().with_torrc_lines([
        format!("HiddenServiceDir {}", ours.display()),
        "HiddenServicePort 80 127.0.0.1:9".into(),
        format!("HiddenServiceDir {}", theirs.display()),
        "HiddenServicePort 80 127.0.0.1:9".into(),
    ]))
    .await
    .unwrap();
    let hostname_ours = std::fs::read_to_string(ours.join("hostname")).unwrap();
    assert_eq!(hostname_ours.trim(), key.onion_address().to_string());
    let hostname_theirs = std::fs::read_to_string(theirs.join("hostname")).unwrap();
    let loaded = OnionKey::load(theirs.join("hs_ed25519_secret_key")).unwrap();
    assert_eq!(hostname_theirs.trim(), loaded.onion_address().to_string());
    tor.shutdown().await;
}

#[test]
fn key_file_errors_say_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("key");
    let msg = |p: &Path| OnionKey::load(p).unwrap_err().to_string();

    assert!(msg(&path).contains("does not exist"), "{}", msg(&path));
    assert!(msg(dir.path()).contains("is a directory"));

    OnionKey::generate().save(&path).unwrap();
    let good = std::fs::read(&path).unwrap();

    set_mode(&path, 0o644);
    let m = msg(&path);
    assert!(m.contains("chmod 600") && m.contains("644"), "{m}");
    set_mode(&path, 0o600);

    std::fs::write(&path, &good[..50]).unwrap();
    assert!(msg(&path).contains("has 50 bytes"), "{}", msg(&path));

    let mut bad_header = good.clone();
    bad_header[3] = b'X';
    std::fs::write(&path, &bad_header).unwrap();
    assert!(msg(&path).contains("does not start with"), "{}", msg(&path));

    let mut unclamped = good.clone();
    unclamped[32] |= 7;
    std::fs::write(&path, &unclamped).unwrap();
    assert!(msg(&path).contains("clamped"), "{}", msg(&path));

    std::fs::write(&path, &good).unwrap();
    let a = OnionKey::load(&path).unwrap();
    let b = OnionKey::load_or_generate(&path).unwrap();
    assert_eq!(a.onion_address(), b.onion_address());
    // A stale temporary file with a loose mode (e.g. left by a crash) does not loosen the key.
    let stale = dir.path().join("stale");
    std::fs::write(dir.path().join("stale.tmp"), b"old").unwrap();
    set_mode(&dir.path().join("stale.tmp"), 0o644);
    OnionKey::generate().save(&stale).unwrap();
    assert_eq!(mode(&stale), 0o600);
    let fresh = dir.path().join("fresh");
    let c = OnionKey::load_or_generate(&fresh).unwrap();
    assert_eq!(
        OnionKey::load(&fresh).unwrap().onion_address(),
        c.onion_address()
    );
    assert_eq!(mode(&fresh), 0o600);
}

fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn set_mode(p: &Path, m: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
}

fn hash_password(pw: &str) -> String {
    let out = std::process::Command::new("tor")
        .args(["--hash-password", pw, "--quiet"])
        .output()
        .or_else(|_| {
            std::process::Command::new("/usr/sbin/tor")
                .args(["--hash-password", pw, "--quiet"])
                .output()
        })
        .unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_string()
}

#[tokio::test]
async fn attach_with_every_auth_method() {
    let hashed = hash_password("correct horse");
    let owner = Tor::spawn(offline().with_torrc_line(format!("HashedControlPassword {hashed}")))
        .await
        .unwrap();
    let control = owner.control_addr().clone();
    for auth in [
        AuthMethod::Auto { password: None },
        AuthMethod::SafeCookie,
        AuthMethod::Cookie,
        AuthMethod::HashedPassword("correct horse".into()),
    ] {
        let attached = Tor::attach(AttachConfig::new(control.clone()).with_auth(auth.clone()))
            .await
            .unwrap_or_else(|e| panic!("{auth:?}: {e}"));
        assert!(attached.get_info("version").await.is_ok());
        assert_eq!(attached.pid(), None);
        // Dropping an attached handle leaves tor running.
        drop(attached);
    }
    let err = Tor::attach(
        AttachConfig::new(control.clone()).with_auth(AuthMethod::HashedPassword("wrong".into())),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            err,
            Error::AuthFailed {
                method: "HASHEDPASSWORD",
                ..
            }
        ),
        "{err:?}"
    );
    let err = Tor::attach(AttachConfig::new(control.clone()).with_auth(AuthMethod::Null))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::AuthFailed { method: "NULL", .. }),
        "{err:?}"
    );
    assert!(
        owner.get_info("version").await.is_ok(),
        "the owner's tor must still run"
    );
    let pid = owner.pid().unwrap();
    owner.shutdown().await;
    assert!(is_dead(pid));
}

#[tokio::test]
async fn attach_without_authentication() {
    let owner = Tor::spawn(offline().with_torrc_line("CookieAuthentication 0"))
        .await
        .unwrap();
    let attached =
        Tor::attach(AttachConfig::new(owner.control_addr().clone()).with_auth(AuthMethod::Null))
            .await
            .unwrap();
    assert!(attached.get_info("version").await.is_ok());
    let err =
        Tor::attach(AttachConfig::new(owner.control_addr().clone()).with_auth(AuthMethod::Cookie))
            .await
            .unwrap_err();
    assert!(
        matches!(
            err,
            Error::AuthFailed {
                method: "COOKIE",
                ..
            }
        ),
        "{err:?}"
    );
    owner.shutdown().await;
    // The attached handle notices that tor went away.
    let gone = tokio::time::timeout(Duration::from_secs(10), attached.gone())
        .await
        .unwrap();
    assert!(matches!(gone, Error::ControlClosed { .. }), "{gone:?}");
}

#[tokio::test]
async fn attach_to_nothing_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = Tor::attach(AttachConfig::new(LocalAddr::Unix(
        dir.path().join("nothing.sock"),
    )))
    .await
    .unwrap_err();
    assert!(matches!(err, Error::ControlConnect { .. }), "{err:?}");
    assert!(err.to_string().contains("nothing.sock"));
}

/// Every future of the public API can be spawned on a multi-threaded runtime.
#[allow(dead_code, clippy::let_underscore_future)]
fn futures_are_send(tor: Tor, service: torp2p_daemon::OnionService, key: OnionKey) {
    fn send<T: Send>(_: T) {}
    send(Tor::spawn(Config::new()));
    send(Tor::attach(AttachConfig::new(LocalAddr::Unix("/x".into()))));
    send(tor.wait_bootstrapped(Duration::from_secs(1)));
    send(tor.get_info("version"));
    send(tor.add_onion_service(&key, &[], &OnionServiceOptions::new()));
    send(tor.add_client_auth(
        &key.onion_address(),
        &ClientAuthKey::from_secret_bytes([0; 32]),
    ));
    send(tor.gone());
    send(service.wait_published(
        torp2p_daemon::Publication::default(),
        Duration::from_secs(1),
    ));
    send(service.remove());
    send(tor.shutdown());
}
