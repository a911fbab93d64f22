//! torp2p-ping as a person and a script see it, on a private Tor network: the listener runs in a
//! real terminal (a pty, by util-linux's `script`), where the bootstrap bar must appear, advance
//! and end at 100 %, the address, connections and pings must show, and Ctrl-C must stop it
//! cleanly; a dialer in a terminal
//! prints ping(8)-like lines; a dialer with `--json` prints one JSON object per line, and
//! nothing else, on stdout.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_torp2p-ping");
/// A hang guard for each step.
const STEP: Duration = Duration::from_secs(120);

/// A program running in a pty of its own; what it wrote to the terminal, as it comes.
struct Terminal {
    child: Child,
    seen: Arc<Mutex<Vec<u8>>>,
    /// The thread copying the terminal's output into `seen`; it ends at the terminal's end.
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Terminal {
    fn run(args: &[&str]) -> Self {
        // `exec`: the program takes the shell's place, so that Ctrl-C reaches it alone and
        // `script -e` reports its exit status. (Without it, a shell that forks, as dash does,
        // dies of the SIGINT itself and `script` reports 130: CI's runs had `SHELL` unset.)
        let mut command = vec!["exec".to_string(), format!("'{BIN}'")];
        command.extend(args.iter().map(|a| format!("'{a}'")));
        let mut child = Command::new("script")
            // Quiet, the child's exit code, flushed at once, no typescript file.
            .args(["-q", "-e", "-f", "-c", &command.join(" "), "/dev/null"])
            // The shell `script` runs the command with: the same one wherever the test runs.
            .env("SHELL", "/bin/sh")
            .env("TERM", "xterm-256color")
            .env("COLUMNS", "120")
            .env_remove("RUST_LOG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("util-linux's `script` runs (it gives the program a terminal)");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mut out = child.stdout.take().unwrap();
        let sink = seen.clone();
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Self {
            child,
            seen,
            reader: Some(reader),
        }
    }

    /// The terminal's text so far, escape sequences removed, `\r` kept.
    fn text(&self) -> String {
        strip_escapes(&String::from_utf8_lossy(&self.seen.lock().unwrap()))
    }

    /// Polls the terminal until `done` finds what it wants, at most [`STEP`].
    fn wait_for<T>(&mut self, what: &str, mut done: impl FnMut(&str) -> Option<T>) -> T {
        let started = Instant::now();
        loop {
            if let Some(t) = done(&self.text()) {
                return t;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                if let Some(t) = done(&self.text()) {
                    return t;
                }
                panic!(
                    "{what}: the program exited ({status}); the terminal showed:\n{}",
                    self.text()
                );
            }
            assert!(
                started.elapsed() < STEP,
                "{what}: not within {STEP:?}; the terminal showed:\n{}",
                self.text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Types Ctrl-C in the terminal: SIGINT for the program, as a person stops it.
    fn type_ctrl_c(&mut self) {
        use std::io::Write as _;
        let stdin = self.child.stdin.as_mut().unwrap();
        stdin.write_all(&[0x03]).unwrap();
        stdin.flush().unwrap();
    }

    /// Waits for the program to exit, at most [`STEP`], and for the last of its output; its
    /// exit status.
    fn wait(&mut self) -> std::process::ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // The terminal closes with the program: read what it wrote last (a panic, an
                // error) before anyone looks at the text.
                if let Some(reader) = self.reader.take() {
                    let _ = reader.join();
                }
                return status;
            }
            assert!(
                started.elapsed() < STEP,
                "the program did not exit:\n{}",
                self.text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        // `script` passes the hangup on to the program, whose tor dies with it (ownership).
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Removes ANSI escape sequences (CSI `ESC [ ... final byte`, and two-byte `ESC x`).
fn strip_escapes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        if chars.next_if_eq(&'[').is_some() {
            // Parameters and intermediates, then one final byte in @..~.
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) {
                    break;
                }
            }
        } else {
            chars.next();
        }
    }
    out
}

/// The percentages the bootstrap bar showed, in order (each redraw is a `\r`- or
/// line-separated segment `tor bootstrap [====>   ]  42% ...`).
fn bar_percentages(text: &str) -> Vec<u8> {
    text.split(['\r', '\n'])
        .filter_map(|segment| {
            let rest = segment.trim_start().strip_prefix("tor bootstrap [")?;
            let (_, after) = rest.split_once(']')?;
            after.trim_start().split('%').next()?.trim().parse().ok()
        })
        .collect()
}

/// The first line that is a listen address with a peer id.
fn address(text: &str) -> Option<String> {
    text.split(['\r', '\n'])
        .map(str::trim)
        .find(|l| l.starts_with("/onion3/") && l.contains("/p2p/"))
        .map(str::to_string)
}

#[test]
fn the_bar_the_pings_and_json_lines() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime
        .block_on(torp2p_testnet::TestNet::builder().run(async |net| {
            let dir = tempfile::tempdir().unwrap();
            let torrc = dir.path().join("client.torrc");
            std::fs::write(&torrc, net.client_torrc().join("\n")).unwrap();
            let torrc = torrc.to_str().unwrap().to_string();

            // The listener, in a terminal: the bar, then the address.
            let mut listener = Terminal::run(&["--torrc-extra", &torrc, "listen"]);
            let addr = listener.wait_for("the listener prints its address", address);
            let bar = bar_percentages(&listener.text());
            assert!(
                bar.len() >= 2 && bar.windows(2).all(|w| w[0] <= w[1]),
                "the bar appears and advances: {bar:?}\n{}",
                listener.text()
            );
            assert!(bar.first() < bar.last(), "the bar advances: {bar:?}");
            assert_eq!(bar.last(), Some(&100), "the bar ends at 100 %: {bar:?}");

            // A dialer in a terminal: ping(8)-like lines.
            let mut dialer =
                Terminal::run(&["--torrc-extra", &torrc, "dial", &addr, "--count", "2"]);
            let status = dialer.wait();
            assert!(
                status.success(),
                "the dialer succeeds ({status}):\n{}",
                dialer.text()
            );
            let text = dialer.text();
            for expected in [
                "connected to ",
                "ping 1: rtt=",
                "ping 2: rtt=",
                "2 pings wanted, 2 answered",
                "rtt min/median/max = ",
            ] {
                assert!(
                    text.contains(expected),
                    "the dialer's terminal shows `{expected}`:\n{text}"
                );
            }

            // A dialer with --json, for a script: every stdout line is a JSON object.
            let out = tokio::process::Command::new(BIN)
                .args([
                    "--json",
                    "--torrc-extra",
                    &torrc,
                    "dial",
                    &addr,
                    "--count",
                    "1",
                ])
                .env_remove("RUST_LOG")
                .stdin(Stdio::null())
                .output()
                .await
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let stdout = String::from_utf8(out.stdout).unwrap();
            let events: Vec<serde_json::Value> = stdout
                .lines()
                .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
                .collect();
            let kinds: Vec<&str> = events
                .iter()
                .map(|e| e["event"].as_str().unwrap())
                .collect();
            assert_eq!(kinds, ["connected", "ping", "summary"], "{stdout}");
            assert!(events[1]["rtt_ms"].as_f64().unwrap() > 0.0);
            assert_eq!(events[2]["answered"], 1);
            assert_eq!(events[2]["wanted"], 1);

            // The listener's terminal shows each connection and its pings; Ctrl-C in the
            // terminal stops it cleanly.
            listener.type_ctrl_c();
            let status = listener.wait();
            assert!(
                status.success(),
                "Ctrl-C stops the listener cleanly ({status}):\n{}",
                listener.text()
            );
            let text = listener.text();
            let connections = text
                .split(['\r', '\n'])
                .filter(|l| l.starts_with("connection from ") && !l.contains(" closed"))
                .count();
            assert_eq!(connections, 2, "both dialers' connections show:\n{text}");
            assert!(
                text.contains(": rtt="),
                "the listener's pings show:\n{text}"
            );
            assert!(text.contains("stopping"), "{text}");
            Ok::<(), torp2p_testnet::Error>(())
        }))
        .expect("the private network starts");
}

#[test]
fn escapes_are_removed_and_the_bar_is_read() {
    let drawn = "\u{1b}[2K\rtor bootstrap [====>     ]  10% Connecting\r\u{1b}[2Ktor bootstrap [==========] 100% Done\n";
    let text = strip_escapes(drawn);
    assert_eq!(bar_percentages(&text), [10, 100]);
    assert_eq!(
        address("x\r\n/onion3/abc:4001/p2p/12D3\r\n"),
        Some("/onion3/abc:4001/p2p/12D3".into())
    );
    assert_eq!(address("tor bootstrap"), None);
}
