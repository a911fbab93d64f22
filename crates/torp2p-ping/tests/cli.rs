//! Bad command lines: each gives a non-zero exit and a message that names what was wrong.
//!
//! Exit code 2: the command line itself is wrong (checked by the parser, before anything
//! runs). Exit code 1: something it names failed (a key file, a torrc file, tor, its control
//! port). Every case runs with `TOR_BIN` naming no file, so that a case that wrongly passes
//! the checks fails at once instead of starting a tor that joins the real network; the one
//! case that needs tor names it with `--tor-bin` and a torrc tor refuses.
//!
//! 86 cases, and one more for a closed stderr (`a_closed_stderr_loses_the_message_without_a_panic`);
//! the flags of one backend refused with the other, and (feature `arti`) what the arti
//! backend cannot do, refused before it bootstraps.
#![allow(clippy::unwrap_used)]

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_torp2p-ping");
/// A valid v3 onion address (tor-generated) and peer id.
const GOOD: &str = "sqbhexutqt2qyu6q3armsbts7uiudgunsktlkvuhprcpwemgzaf5hvad";
const PEER: &str = "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA";

fn run(args: &[OsString], tor_bin_env: &OsStr) -> (i32, String) {
    let out = Command::new(BIN)
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("TORP2P_CONTROL_PASSWORD")
        .env("TOR_BIN", tor_bin_env)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

/// The real tor, for the one case that needs it.
fn real_tor() -> PathBuf {
    std::env::var_os("PATH")
        .and_then(|path| {
            std::env::split_paths(&path)
                .map(|d| d.join("tor"))
                .find(|p| p.is_file())
        })
        .unwrap_or_else(|| "/usr/sbin/tor".into())
}

/// [`run`] with text arguments and no tor binary (every case below fails before tor starts).
fn run_str(args: &[&str]) -> (i32, String) {
    let args: Vec<OsString> = args.iter().map(os).collect();
    run(&args, OsStr::new("/nonexistent/tor-for-tests"))
}

fn os(s: impl AsRef<OsStr>) -> OsString {
    s.as_ref().to_os_string()
}

#[test]
fn bad_command_lines_say_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let open_key = path("open.key");
    std::fs::write(&open_key, [0u8; 96]).unwrap();
    std::fs::set_permissions(&open_key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let short_key = path("short.key");
    std::fs::write(&short_key, [0u8; 50]).unwrap();
    std::fs::set_permissions(&short_key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let public_key = path("hs_ed25519_public_key");
    std::fs::write(&public_key, b"== ed25519v1-public: type0 ==\0\0\0").unwrap();
    std::fs::set_permissions(&public_key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let fifo = path("fifo");
    assert!(
        Command::new("mkfifo")
            .args(["-m", "600", &fifo])
            .status()
            .unwrap()
            .success()
    );
    let dangling = path("dangling");
    std::os::unix::fs::symlink(path("nowhere"), &dangling).unwrap();
    let bad_torrc = path("bad.torrc");
    std::fs::write(&bad_torrc, "DisableNetwork 1\nNoSuchOption 1\n").unwrap();
    let nul_torrc = path("nul.torrc");
    std::fs::write(&nul_torrc, b"DisableNetwork 1\n\0\0\0").unwrap();
    let latin1_torrc = path("latin1.torrc");
    std::fs::write(&latin1_torrc, b"DisableNetwork 1\nNickname caf\xe9\n").unwrap();
    let dir_path = dir.path().to_str().unwrap().to_string();
    let missing = path("missing");
    let good = format!("/onion3/{GOOD}:4001/p2p/{PEER}");
    let bad_sum =
        format!("/onion3/sqbhexutqt3qyu6q3armsbts7uiudgunsktlkvuhprcpwemgzaf5hvad:4001/p2p/{PEER}");
    let port_zero = format!("/onion3/{GOOD}:0");
    let non_utf8 = OsStr::from_bytes(b"/onion3/\xff\xfe").to_os_string();
    let non_utf8_path = dir.path().join(OsStr::from_bytes(b"no-such-dir-\xff/key"));
    let tor = real_tor();
    let no_tor = OsString::from("/nonexistent/tor-for-tests");

    let d = |extra: &[&str]| -> Vec<OsString> {
        let mut v = vec![os("dial"), os(&good)];
        v.extend(extra.iter().map(os));
        v
    };
    let a = |args: &[&str]| -> Vec<OsString> { args.iter().map(os).collect() };

    // (arguments, expected exit code, words the output must contain)
    let mut cases: Vec<(Vec<OsString>, i32, &str)> = vec![
        // Commands and arguments.
        (a(&[]), 2, "Usage"),
        (a(&["fly"]), 2, "unrecognized subcommand"),
        (a(&["dial"]), 2, "<MULTIADDR>"),
        (a(&["dial", &good, &good]), 2, "unexpected argument"),
        (
            a(&["--frobnicate", "dial", &good]),
            2,
            "unexpected argument '--frobnicate'",
        ),
        (
            a(&["listen", "--interval", "1"]),
            2,
            "unexpected argument '--interval'",
        ),
        (
            a(&["listen", "--count", "1"]),
            2,
            "unexpected argument '--count'",
        ),
        (
            d(&["--count", "1", "--count", "2"]),
            2,
            "cannot be used multiple times",
        ),
        // The address to dial.
        (
            a(&["dial", "/onion3/expyuzz4wqqyqhjn:80"]),
            2,
            "v2 onion address",
        ),
        (a(&["dial", &bad_sum]), 2, "checksum"),
        (
            a(&["dial", "/ip4/192.0.2.1/tcp/80"]),
            2,
            "not an onion address",
        ),
        (
            a(&["dial", "/dns4/example.org/tcp/80"]),
            2,
            "torp2p-ping only dials /onion3",
        ),
        (a(&["dial", "not-a-multiaddr"]), 2, "not a valid multiaddr"),
        (a(&["dial", &port_zero]), 2, "port 0"),
        (a(&["dial", ""]), 2, "empty input"),
        (a(&["dial", &format!(" {good}")]), 2, "white space"),
        (
            a(&["dial", &format!("/onion3/{GOOD}.onion:4001")]),
            2,
            "without `.onion`",
        ),
        (
            a(&["dial", &format!("/onion3/{GOOD}:4001/ws")]),
            2,
            "plain TCP",
        ),
        (vec![os("dial"), non_utf8.clone()], 2, "invalid UTF-8"),
        // --count.
        (d(&["--count", "0"]), 2, "--count"),
        (d(&["--count", "many"]), 2, "--count"),
        (d(&["--count", "-1"]), 2, "-1 is not in 1..=4294967295"),
        (d(&["--count", "4294967296"]), 2, "--count"),
        (d(&["--count", "1.5"]), 2, "--count"),
        (d(&["--count", ""]), 2, "--count"),
        (d(&["--count"]), 2, "a value is required for '--count"),
        // --interval: every value that is no duration, or too long or short to be useful.
        (
            d(&["--interval", "1e20"]),
            2,
            "--interval must be from 0.001 to 86400 seconds",
        ),
        (d(&["--interval", "NaN"]), 2, "--interval must be from"),
        (d(&["--interval", "inf"]), 2, "not inf"),
        (d(&["--interval=-inf"]), 2, "not -inf"),
        (d(&["--interval", "-1"]), 2, "--interval must be from 0.001"),
        (d(&["--interval", "0"]), 2, "--interval must be from 0.001"),
        (d(&["--interval", "-0"]), 2, "not -0"),
        (d(&["--interval", "1e-320"]), 2, "not 1e-320"),
        (d(&["--interval", "0.0001"]), 2, "0.001 to 86400"),
        (d(&["--interval", "86401"]), 2, "0.001 to 86400"),
        (d(&["--interval", "1s"]), 2, "takes a number of seconds"),
        (d(&["--interval", ""]), 2, "takes a number of seconds"),
        (d(&["-i", "0x10"]), 2, "takes a number of seconds"),
        (d(&["--interval"]), 2, "a value is required for '--interval"),
        // --timeout.
        (
            d(&["--timeout", "1e20"]),
            2,
            "--timeout must be from 0.001 to 31536000 seconds",
        ),
        (d(&["--timeout", "nan"]), 2, "--timeout must be from"),
        (d(&["--timeout", "-5"]), 2, "not -5"),
        (d(&["--timeout", "0"]), 2, "--timeout must be from"),
        (d(&["--timeout", "3.2e7"]), 2, "31536000"),
        (
            d(&["--timeout", "18446744073709551616"]),
            2,
            "--timeout must be from",
        ),
        (d(&["--timeout", "soon"]), 2, "takes a number of seconds"),
        // --bootstrap-timeout (global: before or after the subcommand).
        (
            a(&["--bootstrap-timeout", "1e300", "dial", &good]),
            2,
            "--bootstrap-timeout must be from",
        ),
        (
            a(&["--bootstrap-timeout", "-1", "dial", &good]),
            2,
            "--bootstrap-timeout must be from",
        ),
        (d(&["--bootstrap-timeout", "inf"]), 2, "--bootstrap-timeout"),
        (
            a(&["listen", "--bootstrap-timeout"]),
            2,
            "a value is required",
        ),
        // listen's --port and --exit-after.
        (a(&["listen", "--port", "0"]), 2, "--port"),
        (a(&["listen", "--port", "70000"]), 2, "--port"),
        (a(&["listen", "--port", "-1"]), 2, "-1 is not in 1..=65535"),
        (a(&["listen", "--port", "http"]), 2, "--port"),
        (a(&["listen", "--port", ""]), 2, "--port"),
        (
            a(&["listen", "--exit-after", "0"]),
            2,
            "0 is not in 1..=4294967295",
        ),
        (a(&["listen", "--exit-after", "-3"]), 2, "--exit-after"),
        (
            a(&["listen", "--exit-after", "99999999999"]),
            2,
            "--exit-after",
        ),
        // --key-file.
        (
            a(&["listen", "--key-file"]),
            2,
            "a value is required for '--key-file",
        ),
        (a(&["listen", "--key-file", &open_key]), 1, "chmod 600"),
        (
            a(&["listen", "--key-file", ""]),
            2,
            "a value is required for '--key-file",
        ),
        (a(&["listen", "--key-file", &dir_path]), 1, "is a directory"),
        (a(&["listen", "--key-file", &fifo]), 1, "not a regular file"),
        (a(&["listen", "--key-file", &dangling]), 1, "symbolic link"),
        (a(&["listen", "--key-file", &short_key]), 1, "has 50 bytes"),
        (
            a(&["listen", "--key-file", &public_key]),
            1,
            "public key file",
        ),
        (
            vec![os("listen"), os("--key-file"), os(&non_utf8_path)],
            1,
            "No such file or directory",
        ),
        // --torrc-extra and --tor-bin.
        (
            a(&["--torrc-extra", &missing, "listen"]),
            1,
            "--torrc-extra: cannot read the torrc file",
        ),
        (
            a(&["--torrc-extra", &dir_path, "listen"]),
            1,
            "Is a directory",
        ),
        (
            a(&["--torrc-extra", "/dev/zero", "listen"]),
            1,
            "larger than 1048576 bytes",
        ),
        (
            a(&["--torrc-extra", &nul_torrc, "listen"]),
            1,
            "line 2 has a NUL byte",
        ),
        (
            a(&["--torrc-extra", &latin1_torrc, "listen"]),
            1,
            "line 2 is not UTF-8",
        ),
        (a(&["--tor-bin", &missing, "listen"]), 1, "was not found"),
        // --tor-control.
        (
            a(&["--tor-control", "nowhere", "dial", &good]),
            2,
            "--tor-control",
        ),
        (a(&["--tor-control", "", "dial", &good]), 2, "empty address"),
        (
            a(&["--tor-control", "localhost:9051", "dial", &good]),
            2,
            "host names are not looked up",
        ),
        (
            a(&["--tor-control", "127.0.0.1", "dial", &good]),
            2,
            "has no port",
        ),
        (
            a(&["--tor-control", "::1:9051", "dial", &good]),
            2,
            "brackets",
        ),
        (
            a(&["--tor-control", "127.0.0.1:0", "dial", &good]),
            2,
            "port 0",
        ),
        (
            a(&["--tor-control", "unix:", "dial", &good]),
            2,
            "no unix socket path",
        ),
        (
            vec![
                os("--tor-control"),
                OsStr::from_bytes(b"127.0.0.1:\xff").to_os_string(),
                os("dial"),
                os(&good),
            ],
            2,
            "invalid UTF-8",
        ),
        (
            a(&["--tor-control", &missing, "dial", &good]),
            1,
            "could not connect",
        ),
        (
            a(&[
                "--tor-control",
                "127.0.0.1:9051",
                "--tor-bin",
                "/x",
                "listen",
            ]),
            2,
            "cannot be used with",
        ),
        (
            a(&[
                "--tor-control",
                "127.0.0.1:9051",
                "--torrc-extra",
                &bad_torrc,
                "listen",
            ]),
            2,
            "cannot be used with",
        ),
    ];
    let n = cases.len();
    // The one case that runs tor: it refuses the torrc before it touches any network.
    cases.push((
        vec![
            os("--tor-bin"),
            os(&tor),
            os("--torrc-extra"),
            os(&bad_torrc),
            os("listen"),
        ],
        1,
        "NoSuchOption",
    ));
    assert_eq!(n + 1, 86, "update the count at the top");
    let mut failures = Vec::new();
    for (args, code, words) in &cases {
        let (got, text) = run(args, &no_tor);
        if got != *code || !text.contains(words) {
            failures.push(format!(
                "{args:?}: exit {got} (want {code}), want {words:?} in:\n{text}"
            ));
        }
        if text.contains("panicked") {
            failures.push(format!("{args:?}: panicked:\n{text}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n---\n"));
}

/// `client-auth-keygen` writes tor's two files (the secret one 0600) and refuses to overwrite;
/// `--authorized-client` and `--client-auth` refuse what is not a key for them, before tor
/// starts.
#[test]
fn client_authorization_flags() {
    let dir = tempfile::tempdir().unwrap();
    let name = dir.path().join("alice");
    let name = name.to_str().unwrap();
    let (code, text) = run_str(&["client-auth-keygen", &format!("{GOOD}.onion"), name]);
    assert_eq!(code, 0, "{text}");
    let public = format!("{name}.auth");
    let private = format!("{name}.auth_private");
    let public_text = std::fs::read_to_string(&public).unwrap();
    assert!(
        public_text.starts_with("descriptor:x25519:"),
        "{public_text}"
    );
    let private_text = std::fs::read_to_string(&private).unwrap();
    assert!(
        private_text.starts_with(&format!("{GOOD}:descriptor:x25519:")),
        "{private_text}"
    );
    let mode = std::fs::metadata(&private).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    let other = "2gzyxa5ihm7nsggfxnu52rck2vv4rvmdlkiu3zzui5du4xyclen53wid";
    let good_addr = format!("/onion3/{GOOD}:4001/p2p/{PEER}");
    let other_addr = format!("/onion3/{other}:4001/p2p/{PEER}");
    let cases: Vec<(Vec<&str>, i32, &str)> = vec![
        // The files exist: not overwritten.
        (
            vec!["client-auth-keygen", GOOD, name],
            1,
            "exists: choose another NAME",
        ),
        (vec!["client-auth-keygen", "nope", name], 1, "bad address"),
        // A private key where a public one belongs, and the other way round.
        (
            vec!["listen", "--authorized-client", &private],
            1,
            "not a tor client authorization file",
        ),
        (
            vec!["listen", "--authorized-client", "TOOSHORT"],
            1,
            "--authorized-client",
        ),
        (
            vec!["dial", "--client-auth", &public, &good_addr],
            1,
            "not a tor client authorization private-key file",
        ),
        // A key for another service.
        (
            vec!["dial", "--client-auth", &private, &other_addr],
            1,
            "not for the address dialed",
        ),
    ];
    for (args, expected_code, words) in &cases {
        let (code, text) = run_str(args);
        assert_eq!(code, *expected_code, "{args:?}: {text}");
        assert!(
            text.contains(words),
            "{args:?}: expected {words:?} in {text}"
        );
    }
    // A secret key file others can read is refused.
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, text) = run_str(&[
        "dial",
        "--client-auth",
        &private,
        &format!("/onion3/{GOOD}:4001/p2p/{PEER}"),
    ]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("chmod 600"), "{text}");
}

/// A closed stderr or stdout (e.g. `torp2p-ping dial ... | head -1`) loses the lines written
/// to it; it is not a panic (exit 101). Here the error message of a bad torrc file goes to a
/// pipe whose reading end is already closed.
#[test]
fn a_closed_stderr_loses_the_message_without_a_panic() {
    let mut child = Command::new(BIN)
        .args(["--torrc-extra", "/dev/zero", "listen"])
        .env("TOR_BIN", "/nonexistent/tor-for-tests")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    drop(child.stderr.take());
    assert_eq!(child.wait().unwrap().code(), Some(1));
}

/// `--backend` and the flags of one backend only: C tor's flags with `--backend arti`, and
/// `--arti-*` without it, are refused by the parser (exit code 2, both flags named), before or
/// after the subcommand; in a build without arti, `--backend arti` is refused with the command
/// that builds it. A control password from the environment is no conflict.
#[test]
fn flags_of_the_other_backend_are_refused_by_the_parser() {
    let good = format!("/onion3/{GOOD}:4001/p2p/{PEER}");
    let arti_refuses = |flag: &str| -> String {
        if cfg!(feature = "arti") {
            format!("the argument '{flag}' cannot be used with '--backend arti'")
        } else {
            "built without the arti backend; build it with `cargo build -p torp2p-ping --features arti`".into()
        }
    };
    let cases: Vec<(Vec<&str>, String)> =
        vec![
        (
            vec!["--backend", "arti", "--tor-bin", "/usr/bin/tor", "listen"],
            arti_refuses("--tor-bin <PATH>"),
        ),
        (
            vec!["--backend", "arti", "dial", &good, "--tor-control", "127.0.0.1:9051"],
            arti_refuses("--tor-control <ADDR|PATH>"),
        ),
        (
            vec!["listen", "--torrc-extra", "x.torrc", "--backend=arti"],
            arti_refuses("--torrc-extra <FILE>"),
        ),
        (
            vec!["--backend", "arti", "--tor-control-password", "pw", "listen"],
            arti_refuses("--tor-control-password <TOR_CONTROL_PASSWORD>"),
        ),
        (
            vec!["--arti-config", "arti.toml", "listen"],
            "the argument '--arti-config <FILE>' cannot be used without '--backend arti'".into(),
        ),
        (
            vec!["--backend", "tor", "dial", &good, "--arti-storage", "dir"],
            "the argument '--arti-storage <DIR>' cannot be used without '--backend arti'".into(),
        ),
        // Both kinds at once: clap's own conflict, whatever the backend.
        (
            vec!["--arti-config", "arti.toml", "--tor-control", "127.0.0.1:9051", "listen"],
            "the argument '--arti-config <FILE>' cannot be used with '--tor-control <ADDR|PATH>'"
                .into(),
        ),
        (
            vec!["--backend", "c-tor", "listen"],
            "invalid value 'c-tor' for '--backend <BACKEND>'".into(),
        ),
    ];
    let mut failures = Vec::new();
    for (args, words) in &cases {
        let (code, text) = run_str(args);
        if code != 2 || !text.contains(words.as_str()) || text.contains("panicked") {
            failures.push(format!(
                "{args:?}: exit {code} (want 2), want {words:?} in:\n{text}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n---\n"));
}

/// A loopback-only arti configuration for tests that must never bootstrap: one made-up
/// authority and cache at 127.0.0.1:9 (discard; nothing listens there), so that a refusal
/// that came too late would fail on loopback, never reach a real network.
#[cfg(feature = "arti")]
fn nowhere_arti_toml(dir: &std::path::Path) -> String {
    let path = dir.join("nowhere-arti.toml");
    let hex = "AB".repeat(20);
    std::fs::write(
        &path,
        format!(
            "[tor_network.authorities]\nv3idents = [\"{hex}\"]\nuploads = [[\"127.0.0.1:9\"]]\n\
             downloads = [[\"127.0.0.1:9\"]]\nvotes = [[\"127.0.0.1:9\"]]\n\n\
             [[tor_network.fallback_caches]]\nrsa_identity = \"{hex}\"\n\
             ed_identity = \"{}\"\norports = [\"127.0.0.1:9\"]\n",
            "A".repeat(43)
        ),
    )
    .unwrap();
    path.to_str().unwrap().to_string()
}

/// What arti cannot do is refused with the transport's error (exit 1), naming the flag to
/// leave out, before arti bootstraps (the configuration points nowhere, and the bootstrap
/// timeout is short: a refusal after bootstrap would fail differently). An arti configuration
/// file that cannot be read is an error naming it. A control password in the environment
/// does not stop `--backend arti`.
#[cfg(feature = "arti")]
#[test]
fn what_arti_cannot_do_is_refused_with_the_transports_error() {
    let dir = tempfile::tempdir().unwrap();
    let toml = nowhere_arti_toml(dir.path());
    let name = dir.path().join("alice");
    let name = name.to_str().unwrap();
    let (code, text) = run_str(&["client-auth-keygen", GOOD, name]);
    assert_eq!(code, 0, "{text}");
    let public = format!("{name}.auth");
    let private = format!("{name}.auth_private");
    let good = format!("/onion3/{GOOD}:4001/p2p/{PEER}");
    let missing = dir.path().join("missing.toml");
    let missing = missing.to_str().unwrap();
    let arti = |rest: &[&str]| -> Vec<OsString> {
        let mut v: Vec<OsString> = ["--backend", "arti", "--bootstrap-timeout", "5"]
            .iter()
            .map(os)
            .collect();
        v.extend(rest.iter().map(os));
        v
    };
    let cases: Vec<(Vec<OsString>, Vec<&str>)> = vec![
        (
            arti(&[
                "--arti-config",
                &toml,
                "listen",
                "--authorized-client",
                &public,
            ]),
            vec![
                "torp2p-ping: the embedded arti backend cannot restrict an onion service to authorized clients",
                "(torp2p-ping: --authorized-client needs --backend tor)",
            ],
        ),
        (
            arti(&[
                "--arti-config",
                &toml,
                "dial",
                &good,
                "--client-auth",
                &private,
            ]),
            vec![
                "torp2p-ping: the embedded arti backend cannot dial onion services with client authorization",
                "(torp2p-ping: --client-auth needs --backend tor)",
            ],
        ),
        (
            arti(&["--arti-config", missing, "listen"]),
            vec!["torp2p-ping: arti is not usable: ", missing],
        ),
    ];
    let mut failures = Vec::new();
    for (args, words) in &cases {
        let out = Command::new(BIN)
            .args(args)
            .env_remove("RUST_LOG")
            .env("TOR_BIN", "/nonexistent/tor-for-tests")
            .env("TORP2P_CONTROL_PASSWORD", "from-the-environment")
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let code = out.status.code().unwrap_or(-1);
        if code != 1 || !words.iter().all(|w| text.contains(w)) || text.contains("panicked") {
            failures.push(format!(
                "{args:?}: exit {code} (want 1), want {words:?} in:\n{text}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n---\n"));
}
