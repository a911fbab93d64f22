//! Bad input to the daemon crate: malformed or truncated control-port replies (from a scripted
//! fake control port: real tor never sends them), torrc lines tor rejects, a control port used
//! without authentication, and timeouts of any length. Every case must give a clear error,
//! never a panic or a hang. Key and torrc files are in bad_files.rs.
//!
//! 37 cases: 31 control replies, 4 torrc lines tor rejects, 1 unauthenticated command, 1 set
//! of `Duration::MAX` timeouts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixListener;
use torp2p_daemon::{
    AttachConfig, AuthMethod, Config, Error, LocalAddr, OnionKey, OnionServiceOptions, Publication,
    Tor,
};

/// One step of a fake control port's script: after reading a line that starts with
/// `expect`, write `reply`. `None` as reply closes the connection; an empty reply says nothing.
type Step = (&'static str, Option<Vec<u8>>);

/// A fake control port: its socket path, and the task serving it, whose assertions (and their
/// panics) reach the test through [`attach`].
struct FakeControlPort {
    path: PathBuf,
    server: tokio::task::JoinHandle<()>,
}

/// Serves one connection with `script`.
fn fake_control_port(dir: &tempfile::TempDir, script: Vec<Step>) -> FakeControlPort {
    let path = dir.path().join("control.sock");
    let listener = UnixListener::bind(&path).unwrap();
    let server = tokio::spawn(async move {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        let (r, mut w) = stream.into_split();
        let mut lines = BufReader::new(r).lines();
        for (expect, reply) in script {
            let Ok(Some(line)) = lines.next_line().await else {
                return;
            };
            assert!(
                line.starts_with(expect),
                "fake control port got {line:?}, expected {expect}"
            );
            match reply {
                None => return,
                Some(bytes) => {
                    if w.write_all(&bytes).await.is_err() {
                        return;
                    }
                }
            }
        }
        // Keep the connection open (and silent) until the client goes away.
        while let Ok(Some(_)) = lines.next_line().await {}
    });
    FakeControlPort { path, server }
}

fn protocolinfo(methods: &str, cookie: Option<&std::path::Path>) -> Vec<u8> {
    let cookie = cookie
        .map(|p| format!(" COOKIEFILE=\"{}\"", p.display()))
        .unwrap_or_default();
    format!("250-PROTOCOLINFO 1\r\n250-AUTH METHODS={methods}{cookie}\r\n250-VERSION Tor=\"0.4.9.11\"\r\n250 OK\r\n").into_bytes()
}

/// Attaches to `fake`, which must fail; then waits for the fake's task, so that an assertion
/// that failed in it (an unexpected command) fails the test.
async fn attach(fake: FakeControlPort, auth: AuthMethod, command_timeout: Duration) -> Error {
    let config = AttachConfig::new(LocalAddr::Unix(fake.path))
        .with_auth(auth)
        .with_command_timeout(command_timeout);
    let err = tokio::time::timeout(Duration::from_secs(60), Tor::attach(config))
        .await
        .expect("attach hung")
        .expect_err("attach to a broken control port succeeded");
    // The client has dropped its connection: the fake's task ends.
    if let Err(e) = fake.server.await
        && e.is_panic()
    {
        std::panic::resume_unwind(e.into_panic());
    }
    err
}

#[tokio::test]
async fn malformed_control_replies_give_clear_errors() {
    let cookie_dir = tempfile::tempdir().unwrap();
    let cookie = cookie_dir.path().join("cookie");
    std::fs::write(&cookie, [7u8; 32]).unwrap();
    let short_cookie = cookie_dir.path().join("short-cookie");
    std::fs::write(&short_cookie, [7u8; 5]).unwrap();
    let huge_cookie = cookie_dir.path().join("huge-cookie");
    std::fs::write(&huge_cookie, vec![7u8; 1 << 20]).unwrap();
    let fifo_cookie = cookie_dir.path().join("fifo-cookie");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo_cookie)
        .status()
        .unwrap();
    assert!(made.success());
    let dev_zero = std::path::Path::new("/dev/zero");
    let null = || AuthMethod::Null;
    let auto = || AuthMethod::Auto { password: None };

    // (name, script, auth, expected variant, words in the message)
    let cases: Vec<(&str, Vec<Step>, AuthMethod, &str, &str)> = vec![
        (
            "closes at once",
            vec![("PROTOCOLINFO", None)],
            null(),
            "ControlClosed",
            "closed",
        ),
        (
            "not the control protocol",
            vec![("PROTOCOLINFO", Some(b"hello\r\n".to_vec()))],
            null(),
            "Protocol",
            "PROTOCOLINFO",
        ),
        (
            "non-ASCII reply",
            vec![("PROTOCOLINFO", Some(b"250 \xff\xfe\r\n".to_vec()))],
            null(),
            "Protocol",
            "PROTOCOLINFO",
        ),
        (
            "truncated multi-line reply",
            vec![
                ("PROTOCOLINFO", Some(b"250-PROTOCOLINFO 1\r\n".to_vec())),
                ("", None),
            ],
            null(),
            "CommandTimeout",
            "PROTOCOLINFO",
        ),
        (
            "mixed status codes",
            vec![(
                "PROTOCOLINFO",
                Some(b"250-PROTOCOLINFO 1\r\n550 OK\r\n".to_vec()),
            )],
            null(),
            "Protocol",
            "PROTOCOLINFO",
        ),
        (
            "silence",
            vec![("PROTOCOLINFO", Some(Vec::new()))],
            null(),
            "CommandTimeout",
            "did not answer",
        ),
        (
            "oversized reply",
            vec![(
                "PROTOCOLINFO",
                Some([b"250-".to_vec(), vec![b'a'; 1_100_000], b"\r\n".to_vec()].concat()),
            )],
            null(),
            "Protocol",
            "PROTOCOLINFO",
        ),
        (
            "no usable method",
            vec![("PROTOCOLINFO", Some(protocolinfo("MAGIC", None)))],
            auto(),
            "AuthFailed",
            "MAGIC",
        ),
        (
            "password needed",
            vec![("PROTOCOLINFO", Some(protocolinfo("HASHEDPASSWORD", None)))],
            auto(),
            "AuthFailed",
            "password",
        ),
        (
            "method not offered",
            vec![("PROTOCOLINFO", Some(protocolinfo("HASHEDPASSWORD", None)))],
            null(),
            "AuthFailed",
            "does not offer",
        ),
        (
            "cookie file missing",
            vec![(
                "PROTOCOLINFO",
                Some(protocolinfo(
                    "COOKIE",
                    Some(&cookie_dir.path().join("nope")),
                )),
            )],
            AuthMethod::Cookie,
            "AuthFailed",
            "cannot read the cookie file",
        ),
        (
            "cookie of the wrong size",
            vec![(
                "PROTOCOLINFO",
                Some(protocolinfo("COOKIE", Some(&short_cookie))),
            )],
            AuthMethod::Cookie,
            "AuthFailed",
            "5 bytes",
        ),
        (
            "authentication refused",
            vec![
                ("PROTOCOLINFO", Some(protocolinfo("NULL", None))),
                (
                    "AUTHENTICATE",
                    Some(b"515 Authentication failed: nope\r\n".to_vec()),
                ),
            ],
            null(),
            "AuthFailed",
            "515",
        ),
        (
            "forged SERVERHASH",
            vec![
                (
                    "PROTOCOLINFO",
                    Some(protocolinfo("SAFECOOKIE", Some(&cookie))),
                ),
                (
                    "AUTHCHALLENGE",
                    Some(
                        format!(
                            "250 AUTHCHALLENGE SERVERHASH={} SERVERNONCE={}\r\n",
                            "AB".repeat(32),
                            "CD".repeat(32)
                        )
                        .into_bytes(),
                    ),
                ),
            ],
            AuthMethod::SafeCookie,
            "AuthFailed",
            "SERVERHASH does not match",
        ),
        (
            "AUTHCHALLENGE without nonce",
            vec![
                (
                    "PROTOCOLINFO",
                    Some(protocolinfo("SAFECOOKIE", Some(&cookie))),
                ),
                (
                    "AUTHCHALLENGE",
                    Some(
                        format!("250 AUTHCHALLENGE SERVERHASH={}\r\n", "AB".repeat(32))
                            .into_bytes(),
                    ),
                ),
            ],
            AuthMethod::SafeCookie,
            "AuthFailed",
            "SERVERNONCE",
        ),
        (
            "AUTHCHALLENGE with bad hex",
            vec![
                (
                    "PROTOCOLINFO",
                    Some(protocolinfo("SAFECOOKIE", Some(&cookie))),
                ),
                (
                    "AUTHCHALLENGE",
                    Some(b"250 AUTHCHALLENGE SERVERHASH=zz SERVERNONCE=zz\r\n".to_vec()),
                ),
            ],
            AuthMethod::SafeCookie,
            "AuthFailed",
            "SERVERHASH",
        ),
        (
            "garbage SOCKS listener",
            vec![
                ("PROTOCOLINFO", Some(protocolinfo("NULL", None))),
                ("AUTHENTICATE", Some(b"250 OK\r\n".to_vec())),
                (
                    "GETINFO net/listeners/socks",
                    Some(b"250-net/listeners/socks=\"garbage\"\r\n250 OK\r\n".to_vec()),
                ),
            ],
            null(),
            "Protocol",
            "garbage",
        ),
        (
            "closes after authentication",
            vec![
                ("PROTOCOLINFO", Some(protocolinfo("NULL", None))),
                ("AUTHENTICATE", Some(b"250 OK\r\n".to_vec())),
                ("GETINFO", None),
            ],
            null(),
            "ControlClosed",
            "closed",
        ),
        // A cookie file named by the control port is not trusted: nothing that could block
        // or never end is read, and at most 33 bytes are.
        (
            "cookie file is /dev/zero",
            vec![("PROTOCOLINFO", Some(protocolinfo("COOKIE", Some(dev_zero))))],
            AuthMethod::Cookie,
            "AuthFailed",
            "not a regular file",
        ),
        (
            "cookie file is a fifo",
            vec![(
                "PROTOCOLINFO",
                Some(protocolinfo("SAFECOOKIE", Some(&fifo_cookie))),
            )],
            AuthMethod::SafeCookie,
            "AuthFailed",
            "not a regular file",
        ),
        (
            "cookie file is a directory",
            vec![(
                "PROTOCOLINFO",
                Some(protocolinfo("COOKIE", Some(cookie_dir.path()))),
            )],
            auto(),
            "AuthFailed",
            "is this really tor's control port",
        ),
        (
            "cookie file of 1 MiB",
            vec![(
                "PROTOCOLINFO",
                Some(protocolinfo("COOKIE", Some(&huge_cookie))),
            )],
            AuthMethod::Cookie,
            "AuthFailed",
            "1048576 bytes, not 32",
        ),
        (
            "PROTOCOLINFO refused",
            vec![(
                "PROTOCOLINFO",
                Some(b"513 Unrecognized command\r\n".to_vec()),
            )],
            null(),
            "Command",
            "513 Unrecognized command",
        ),
        (
            "LF without CR",
            vec![("PROTOCOLINFO", Some(b"250 OK\n".to_vec()))],
            null(),
            "CommandTimeout",
            "did not answer",
        ),
        (
            "two-digit status code",
            vec![("PROTOCOLINFO", Some(b"25 OK\r\n".to_vec()))],
            null(),
            "Protocol",
            "PROTOCOLINFO",
        ),
        (
            "data reply that never ends",
            vec![
                (
                    "PROTOCOLINFO",
                    Some(b"250+PROTOCOLINFO\r\nAUTH METHODS=NULL\r\n".to_vec()),
                ),
                ("", None),
            ],
            null(),
            "CommandTimeout",
            "PROTOCOLINFO",
        ),
        (
            "no AUTH line",
            vec![(
                "PROTOCOLINFO",
                Some(b"250-PROTOCOLINFO 1\r\n250 OK\r\n".to_vec()),
            )],
            auto(),
            "AuthFailed",
            "names no authentication method",
        ),
        (
            "an event instead of the AUTHENTICATE reply",
            vec![
                ("PROTOCOLINFO", Some(protocolinfo("NULL", None))),
                (
                    "AUTHENTICATE",
                    Some(b"650 STATUS_CLIENT NOTICE CIRCUIT_ESTABLISHED\r\n".to_vec()),
                ),
            ],
            null(),
            "AuthFailed",
            "tor answered 650",
        ),
        (
            "GETINFO refused",
            vec![
                ("PROTOCOLINFO", Some(protocolinfo("NULL", None))),
                ("AUTHENTICATE", Some(b"250 OK\r\n".to_vec())),
                (
                    "GETINFO net/listeners/socks",
                    Some(b"552 Unrecognized key \"net/listeners/socks\"\r\n".to_vec()),
                ),
            ],
            null(),
            "Command",
            "552 Unrecognized key",
        ),
        (
            "SOCKS listener named by host name",
            vec![
                ("PROTOCOLINFO", Some(protocolinfo("NULL", None))),
                ("AUTHENTICATE", Some(b"250 OK\r\n".to_vec())),
                (
                    "GETINFO net/listeners/socks",
                    Some(b"250-net/listeners/socks=\"localhost:9050\"\r\n250 OK\r\n".to_vec()),
                ),
            ],
            null(),
            "Protocol",
            "host names are not looked up",
        ),
        (
            "SOCKS listener with an unmatched quote",
            vec![
                ("PROTOCOLINFO", Some(protocolinfo("NULL", None))),
                ("AUTHENTICATE", Some(b"250 OK\r\n".to_vec())),
                (
                    "GETINFO net/listeners/socks",
                    Some(b"250-net/listeners/socks=\"unix:\"/tmp/x\"\r\n250 OK\r\n".to_vec()),
                ),
            ],
            null(),
            "Protocol",
            "unmatched quote",
        ),
    ];
    assert_eq!(cases.len(), 31, "update the count at the top");
    let mut failures = Vec::new();
    for (name, script, auth, want, words) in cases {
        let dir = tempfile::tempdir().unwrap();
        let fake = fake_control_port(&dir, script);
        // Short for the cases about a silent tor; long for the others, whose replies (1 MB
        // for the oversized one) must not be cut by a timeout on a loaded machine.
        let command_timeout = if want == "CommandTimeout" {
            Duration::from_millis(500)
        } else {
            Duration::from_secs(20)
        };
        let err = attach(fake, auth, command_timeout).await;
        let variant = format!("{err:?}");
        let msg = err.to_string();
        if !variant.starts_with(want) {
            failures.push(format!("{name}: got {variant}, expected {want}"));
        } else if !msg.contains(words) {
            failures.push(format!("{name}: message lacks {words:?}: {msg}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn torrc_lines_tor_rejects_are_reported_with_tors_words() {
    for (line, tor_says) in [
        ("NoSuchOption 1", "NoSuchOption"),
        ("SocksPort notaport", "notaport"),
        ("MaxCircuitDirtiness soon", "soon"),
    ] {
        let err = Tor::spawn(Config::new().with_torrc_lines(["DisableNetwork 1", line]))
            .await
            .expect_err(line);
        assert!(matches!(err, Error::TorExited { .. }), "{line}: {err:?}");
        let log = err.tor_log().expect("tor's log lines");
        assert!(log.contains(tor_says), "{line}: {log}");
        let message = err.to_string();
        assert!(!message.contains('\n'), "one line: {message}");
        assert!(message.contains("tor's last warning"), "{line}: {message}");
    }
    let err = Tor::spawn(Config::new().with_torrc_line("DisableNetwork 1\nControlPort 9051"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::TorrcLine { .. }), "{err:?}");
}

#[tokio::test]
async fn the_control_port_refuses_commands_before_authentication() {
    let tor = Tor::spawn(Config::new().with_torrc_line("DisableNetwork 1"))
        .await
        .unwrap();
    let LocalAddr::Unix(path) = tor.control_addr().clone() else {
        panic!("unix control socket expected")
    };
    let stream = tokio::net::UnixStream::connect(&path).await.unwrap();
    let (r, mut w) = stream.into_split();
    w.write_all(b"GETINFO version\r\n").await.unwrap();
    let mut line = String::new();
    BufReader::new(r).read_line(&mut line).await.unwrap();
    assert!(line.starts_with("514"), "tor answered {line:?}");
    // And only this user may reach the socket at all.
    use std::os::unix::fs::PermissionsExt;
    let dir_mode = std::fs::metadata(path.parent().unwrap())
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(dir_mode, 0o700);
    tor.shutdown().await;
}

/// Any duration is a timeout: one too long to be a point in time (`Duration::MAX`) means no
/// deadline, never a panic on `Instant + timeout` (tor's startup wait used to panic).
#[tokio::test]
async fn duration_max_timeouts_wait_without_a_deadline() {
    let config = Config::new()
        .with_torrc_lines(["DisableNetwork 1", "GeoIPFile", "GeoIPv6File"])
        .with_startup_timeout(Duration::MAX)
        .with_command_timeout(Duration::MAX);
    let tor = Tor::spawn(config).await.unwrap();
    assert!(tor.get_info("version").await.unwrap().starts_with("0.4."));
    let attached = Tor::attach(
        AttachConfig::new(tor.control_addr().clone()).with_command_timeout(Duration::MAX),
    )
    .await
    .unwrap();
    assert!(attached.get_info("version").await.is_ok());
    // Offline, tor never bootstraps and never publishes: the waits go on until stopped.
    let bootstrap = tor.wait_bootstrapped(Duration::MAX);
    let r = tokio::time::timeout(Duration::from_millis(500), bootstrap).await;
    assert!(r.is_err(), "{r:?}");
    let listener = tor
        .listen(&OnionKey::generate(), 80, &OnionServiceOptions::new())
        .await
        .unwrap();
    for policy in [
        Publication::FirstUpload,
        Publication::AllUploads { cap: Duration::MAX },
    ] {
        let published = listener.wait_published(policy, Duration::MAX);
        let r = tokio::time::timeout(Duration::from_millis(500), published).await;
        assert!(r.is_err(), "{r:?}");
    }
    drop(listener);
    drop(attached);
    tor.shutdown().await;
}
