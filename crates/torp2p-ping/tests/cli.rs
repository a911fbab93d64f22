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
