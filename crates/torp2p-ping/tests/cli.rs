//! Bad command lines: each gives a non-zero exit and a message that names what was wrong.
//! Cases that reach tor use the real tor binary (offline, it fails before needing a network).
#![allow(clippy::unwrap_used)]

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_torp2p-ping");
/// A valid v3 onion address (tor-generated) and peer id.
const GOOD: &str = "sqbhexutqt2qyu6q3armsbts7uiudgunsktlkvuhprcpwemgzaf5hvad";
const PEER: &str = "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA";

fn run(args: &[&str]) -> (i32, String) {
    let out = Command::new(BIN)
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn bad_command_lines_say_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let open_key = dir.path().join("open.key");
    std::fs::write(&open_key, [0u8; 96]).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&open_key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let bad_torrc = dir.path().join("bad.torrc");
    std::fs::write(&bad_torrc, "NoSuchOption 1\n").unwrap();
    let good = format!("/onion3/{GOOD}:4001/p2p/{PEER}");
    let bad_sum =
        format!("/onion3/sqbhexutqt3qyu6q3armsbts7uiudgunsktlkvuhprcpwemgzaf5hvad:4001/p2p/{PEER}");
    let port_zero = format!("/onion3/{GOOD}:0");
    let missing = dir.path().join("missing");
    let missing = missing.to_str().unwrap();
    let open_key = open_key.to_str().unwrap();
    let bad_torrc = bad_torrc.to_str().unwrap();

    // (arguments, expected exit code, words the output must contain)
    let cases: Vec<(Vec<&str>, i32, &str)> = vec![
        (vec![], 2, "Usage"),
        (vec!["fly"], 2, "unrecognized subcommand"),
        (vec!["dial"], 2, "<MULTIADDR>"),
        (
            vec!["dial", "/onion3/expyuzz4wqqyqhjn:80"],
            1,
            "v2 onion address",
        ),
        (vec!["dial", &bad_sum], 1, "checksum"),
        (
            vec!["dial", "/ip4/192.0.2.1/tcp/80"],
            1,
            "not an onion address",
        ),
        (vec!["dial", "not-a-multiaddr"], 1, "not a valid multiaddr"),
        (vec!["dial", &port_zero], 1, "port 0"),
        (vec!["dial", &good, "--count", "0"], 2, "--count"),
        (vec!["dial", &good, "--count", "many"], 2, "--count"),
        (vec!["dial", &good, "--interval", "-1"], 2, "-1"),
        (
            vec!["dial", &good, "--interval", "0"],
            1,
            "--interval must be a positive",
        ),
        (vec!["listen", "--port", "0"], 2, "--port"),
        (vec!["listen", "--port", "70000"], 2, "--port"),
        (vec!["listen", "--key-file", open_key], 1, "chmod 600"),
        (
            vec!["--torrc-extra", missing, "listen"],
            1,
            "--torrc-extra: cannot read the torrc file",
        ),
        (vec!["--tor-bin", missing, "listen"], 1, "was not found"),
        (
            vec!["--torrc-extra", bad_torrc, "listen"],
            1,
            "NoSuchOption",
        ),
        (
            vec!["--tor-control", "nowhere", "dial", &good],
            1,
            "--tor-control",
        ),
        (
            vec!["--tor-control", missing, "dial", &good],
            1,
            "could not connect",
        ),
        (
            vec![
                "--tor-control",
                "127.0.0.1:9051",
                "--tor-bin",
                "/x",
                "listen",
            ],
            2,
            "cannot be used with",
        ),
    ];
    let mut failures = Vec::new();
    for (args, code, words) in &cases {
        let (got, text) = run(args);
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
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let name = dir.path().join("alice");
    let name = name.to_str().unwrap();
    let (code, text) = run(&["client-auth-keygen", &format!("{GOOD}.onion"), name]);
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
        let (code, text) = run(args);
        assert_eq!(code, *expected_code, "{args:?}: {text}");
        assert!(
            text.contains(words),
            "{args:?}: expected {words:?} in {text}"
        );
    }
    // A secret key file others can read is refused.
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, text) = run(&[
        "dial",
        "--client-auth",
        &private,
        &format!("/onion3/{GOOD}:4001/p2p/{PEER}"),
    ]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("chmod 600"), "{text}");
}
