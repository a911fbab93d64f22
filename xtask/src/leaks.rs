//! `cargo xtask leaks`: the programs torp2p ships, run in a network namespace whose only
//! interface is loopback, every socket call of theirs (and of the tors they start) recorded
//! with `strace -f -yy` and judged by [`trace::check`] against what is allowed: the private
//! network's own ports on 127.0.0.1, unix sockets in the program's own temporary directory, and
//! C tor's no-packet interface-address probe (the rules are in `leaks/trace.rs`).
//!
//! For every backend ([`Backend::ALL`]; C tor only, today):
//! - the ping demo, listener and dialer: nothing leaves; no IP address or DNS name in the
//!   listen address; no secret key in trace-level logs; the key file is 0600;
//! - the transport's `clearnet` example dialing `/dns4/example.com/tcp/80` with
//!   `Clearnet::ThroughTor`: the name goes to tor's SOCKS port as a SOCKS domain name and
//!   nowhere else (no resolver, no UDP); the private network has no exit relays, so the dial
//!   must fail with a typed SOCKS reply from tor.
//!
//! Before those, programs that leak on purpose ([`selftest::ALL`]) run the same way: each
//! must be caught, or the checker is broken and the test fails.
//!
//! It never skips: without strace, a network namespace (root, or CAP_SYS_ADMIN) or ptrace, it
//! fails and says what is missing.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use data_encoding::{BASE64, BASE64_NOPAD, HEXLOWER, HEXUPPER};
use torp2p_testnet::TestNet;

use crate::packages;
use crate::ping_proc::{self, Group, Listener};

mod selftest;
mod trace;

use trace::{Allowed, Verdict};

/// The clearnet address the `clearnet` example dials through tor.
const CLEARNET_TARGET: &str = "/dns4/example.com/tcp/80";

/// How long tor waits for a circuit before it answers a SOCKS request with "TTL expired"
/// (`SocksTimeout`, 120 s by default). The private network has no exits, so it waits all of it.
const SOCKS_TIMEOUT_SECS: u32 = 10;

/// The Tor backends the leak test runs on: every backend that exists. Only C tor (torp2p-daemon
/// and torp2p-socks) today; a new backend gets an entry here, and the programs a way to use it.
#[derive(Debug, Clone, Copy)]
enum Backend {
    CTor,
}

impl Backend {
    const ALL: [Backend; 1] = [Backend::CTor];

    fn name(self) -> &'static str {
        match self {
            Backend::CTor => "C tor",
        }
    }

    /// Whether its tor makes C tor's interface-address probe (see `leaks/trace.rs`).
    fn interface_probe(self) -> bool {
        match self {
            Backend::CTor => true,
        }
    }
}

pub(crate) fn leaks(args: &[String]) -> Result<(), String> {
    match args.first().map(String::as_str) {
        Some("--inside") => return inside(&args[1..]),
        Some("--selftest") => return selftest::run(args.get(1).map_or("", String::as_str)),
        None => {}
        Some(other) => return Err(format!("leaks takes no arguments (got `{other}`)")),
    }
    packages::ensure_tor()?;
    let strace = packages::ensure(
        "strace",
        "strace",
        "the leak test records every socket call of the programs it runs with it",
    )?;
    packages::ensure(
        "ip",
        "iproute2",
        "the leak test brings up loopback in its network namespace with it",
    )?;
    let unshare = packages::ensure(
        "unshare",
        "util-linux",
        "the leak test creates a loopback-only network namespace with it",
    )?;
    require(
        Command::new(&unshare).args(["--net", "true"]),
        "cannot create a network namespace",
        "The leak test needs root (or CAP_SYS_ADMIN) to run its programs in a loopback-only \
         network namespace: run `sudo cargo xtask leaks` (CI runs it as root)",
    )?;
    require(
        Command::new(&strace).args(["-f", "-qq", "-yy", "-o", "/dev/null", "--", "true"]),
        "strace cannot trace here",
        "strace needs ptrace: run it as root on a host (CI does), or allow ptrace in the container \
         (e.g. `docker run --cap-add SYS_PTRACE`)",
    )?;
    let ping = ping_proc::build_ping(ping_proc::Backend::Tor)?;
    let clearnet = ping_proc::build_example("torp2p-transport", "clearnet")?;
    let exe = std::env::current_exe().map_err(|e| format!("cannot find xtask itself: {e}"))?;
    eprintln!("xtask: running the leak test in a new network namespace (loopback only)");
    let started = Instant::now();
    let status = Command::new(&unshare)
        .arg("--net")
        .arg("--")
        .arg(&exe)
        .args(["leaks", "--inside"])
        .arg(&strace)
        .arg(&ping)
        .arg(&clearnet)
        .status()
        .map_err(|e| format!("cannot run unshare: {e}"))?;
    if status.success() {
        eprintln!("xtask: the leak test took {:.1?}", started.elapsed());
        Ok(())
    } else {
        Err(format!("the leak test failed ({status})"))
    }
}

/// Runs `cmd`; `Err` saying `what` failed, why, and `fix`, unless it succeeds. The leak test
/// never skips.
fn require(cmd: &mut Command, what: &str, fix: &str) -> Result<(), String> {
    let shown = format!(
        "{} {}",
        cmd.get_program().to_string_lossy(),
        cmd.get_args()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ")
    );
    let why = match cmd.stdin(Stdio::null()).output() {
        Ok(o) if o.status.success() => return Ok(()),
        Ok(o) => format!(
            "{}: {}",
            o.status,
            String::from_utf8_lossy(&o.stderr).trim()
        ),
        Err(e) => e.to_string(),
    };
    Err(format!(
        "{what}: `{shown}` failed ({why}).\n{fix}. The leak test does not skip: it fails when it cannot check."
    ))
}

/// Runs inside the namespace: `xtask leaks --inside <strace> <torp2p-ping> <clearnet example>`.
fn inside(args: &[String]) -> Result<(), String> {
    let [strace, ping, clearnet] = args else {
        return Err("usage: xtask leaks --inside <strace> <torp2p-ping> <clearnet example>".into());
    };
    crate::run("ip", &["link", "set", "lo", "up"])?;
    let links = Command::new("ip")
        .args(["-o", "link"])
        .output()
        .map_err(|e| format!("ip link: {e}"))?;
    let links = String::from_utf8_lossy(&links.stdout).into_owned();
    if links.lines().count() != 1 || !links.contains(": lo:") {
        return Err(format!(
            "the namespace should have only loopback, it has:\n{links}"
        ));
    }
    let programs = Programs {
        strace: PathBuf::from(strace),
        xtask: std::env::current_exe().map_err(|e| format!("cannot find xtask itself: {e}"))?,
        ping: PathBuf::from(ping),
        clearnet: PathBuf::from(clearnet),
    };
    let rt = crate::runtime()?;
    rt.block_on(crate::on_testnet(TestNet::builder(), async |net| {
        scenario(net, &programs).await
    }))
}

/// The programs the leak test runs.
struct Programs {
    strace: PathBuf,
    /// This binary, for the self-tests.
    xtask: PathBuf,
    ping: PathBuf,
    clearnet: PathBuf,
}

async fn scenario(net: &TestNet, programs: &Programs) -> Result<(), String> {
    let tcp: BTreeSet<SocketAddr> = net.ports().into_iter().collect();
    if tcp.is_empty() {
        return Err("the private network lists no ports".into());
    }
    let t = Instant::now();
    let caught = selftests(net, &tcp, programs).await?;
    println!(
        "leaks: the checker caught all {caught} deliberate leaks ({:.1?})",
        t.elapsed()
    );
    let mut passed = 1;
    for backend in Backend::ALL {
        let t = Instant::now();
        demo(net, backend, programs, &tcp).await?;
        println!(
            "leaks: {}: ping demo ok ({:.1?})",
            backend.name(),
            t.elapsed()
        );
        let t = Instant::now();
        clearnet(net, backend, programs, &tcp).await?;
        println!(
            "leaks: {}: clearnet dial through tor ok ({:.1?})",
            backend.name(),
            t.elapsed()
        );
        passed += 2;
    }
    println!("leaks: {passed} passed, 0 failed");
    Ok(())
}

/// A program run under strace, with a temporary directory of its own (`TMPDIR`): its tor's data
/// directory and its onion service sockets go there, and unix sockets anywhere else are not
/// allowed.
struct Traced {
    trace: PathBuf,
    tmp: PathBuf,
}

impl Traced {
    /// `strace ... -o <dir>/strace-<who>.txt -- <program>`, with `TMPDIR=<dir>/<who>`. (Short
    /// names: a unix socket path has at most 107 bytes.)
    fn command(
        strace: &Path,
        dir: &Path,
        who: &str,
        program: &Path,
    ) -> Result<(tokio::process::Command, Traced), String> {
        let tmp = dir.join(who);
        std::fs::create_dir_all(&tmp)
            .map_err(|e| format!("cannot create {}: {e}", tmp.display()))?;
        let trace = dir.join(format!("strace-{who}.txt"));
        let mut cmd = tokio::process::Command::new(strace);
        cmd.args(trace::strace_args())
            .arg("-o")
            .arg(&trace)
            .arg("--")
            .arg(program)
            .env("TMPDIR", &tmp)
            .stdin(Stdio::null());
        Ok((cmd, Traced { trace, tmp }))
    }

    /// Its trace, judged: `tcp` and its own directory allowed.
    fn verdict(
        &self,
        tcp: &BTreeSet<SocketAddr>,
        interface_probe: bool,
    ) -> Result<Verdict, String> {
        let text = std::fs::read_to_string(&self.trace)
            .map_err(|e| format!("cannot read {}: {e}", self.trace.display()))?;
        let allowed = Allowed {
            tcp: tcp.clone(),
            unix_dirs: vec![self.tmp.clone()],
            interface_probe,
        };
        Ok(trace::check(&text, &allowed))
    }

    /// [`Traced::verdict`], which must be clean and must have seen the program's tor at work.
    fn judge(
        &self,
        who: &str,
        tcp: &BTreeSet<SocketAddr>,
        interface_probe: bool,
    ) -> Result<Verdict, String> {
        let verdict = self.verdict(tcp, interface_probe)?;
        let context = |e: String| format!("{who}: {e}\n  (trace: {})", self.trace.display());
        verdict.clean().map_err(context)?;
        verdict.traced_enough().map_err(context)?;
        Ok(verdict)
    }
}

/// Runs every self-test program under strace; `Err` unless the checker reports each one's leak.
async fn selftests(
    net: &TestNet,
    tcp: &BTreeSet<SocketAddr>,
    programs: &Programs,
) -> Result<usize, String> {
    for test in selftest::ALL {
        let who = format!("self-{}", test.name);
        let (mut cmd, traced) =
            Traced::command(&programs.strace, net.dir(), &who, &programs.xtask)?;
        cmd.args(["leaks", "--selftest", test.name])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let out = Group::spawn(&mut cmd)
            .map_err(|e| format!("cannot run self-test `{}` under strace: {e}", test.name))?
            .output_within(Duration::from_secs(60))
            .await
            .map_err(|e| format!("self-test `{}` {e}", test.name))?;
        if !out.status.success() {
            return Err(format!(
                "self-test `{}` failed to run under strace ({}): {}",
                test.name,
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        let verdict = traced.verdict(tcp, true)?;
        match verdict.findings.iter().find(|f| (test.expect)(&f.leak)) {
            Some(f) => println!(
                "leaks: self-test {}: {}: caught: {}\n    {}",
                test.name, test.what, f.leak, f.line
            ),
            None => {
                return Err(format!(
                    "self-test `{}` ({}) was NOT reported as a leak: the checker is broken.\n  its findings: {:?}\n  its trace: {}",
                    test.name,
                    test.what,
                    verdict.findings,
                    traced.trace.display()
                ));
            }
        }
    }
    Ok(selftest::ALL.len())
}

/// The ping demo, listener and dialer, each under strace.
async fn demo(
    net: &TestNet,
    backend: Backend,
    programs: &Programs,
    tcp: &BTreeSet<SocketAddr>,
) -> Result<(), String> {
    let (strace, ping) = (&programs.strace, &programs.ping);
    let torrc = ping_proc::write_torrc(net)?;
    let dir = net.dir();
    let key = dir.join("leak-listener.key");

    let (mut cmd, listen_trace) = Traced::command(strace, dir, "listener", ping)?;
    cmd.arg("-vv")
        .arg("--torrc-extra")
        .arg(&torrc)
        .args(["listen", "--key-file"])
        .arg(&key)
        .env("RUST_LOG", "trace");
    let listener = Listener::start_command(cmd, dir.join("leak-listener.log")).await?;
    if listener.addr.contains("/ip4/")
        || listener.addr.contains("/ip6/")
        || listener.addr.contains("/dns")
    {
        return Err(format!(
            "the listener advertised an address with an IP or DNS name: {}",
            listener.addr
        ));
    }

    let (mut dialer, dial_trace) = Traced::command(strace, dir, "dialer", ping)?;
    dialer
        .arg("-vv")
        .arg("--torrc-extra")
        .arg(&torrc)
        .args(["dial", &listener.addr, "--count", "3"])
        .env("RUST_LOG", "trace")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let out = Group::spawn(&mut dialer)
        .map_err(|e| format!("cannot run the dialer under strace: {e}"))?
        .output_within(Duration::from_secs(300))
        .await
        .map_err(|e| format!("the dialer {e}"))?;
    let dial_log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let listener_log_path = listener.log.clone();
    let listen_addr = listener.addr.clone();
    listener.stop().await;
    if !out.status.success() {
        return Err(format!(
            "the dialer failed inside the namespace ({}):\n{dial_log}",
            out.status
        ));
    }

    // 1. Nothing but the private network, our own unix sockets and tor's probe.
    let probe = backend.interface_probe();
    let mut report = Vec::new();
    for (who, traced) in [("listener", &listen_trace), ("dialer", &dial_trace)] {
        let verdict = traced.judge(who, tcp, probe)?;
        report.push(format!("{who}: {}", verdict.summary()));
        if let Some(line) = verdict.probes.first() {
            report.push(format!("{who}'s first tor probe: {line}"));
        }
    }

    // 2. No secret key material in trace-level logs.
    let key_file =
        std::fs::read(&key).map_err(|e| format!("cannot read {}: {e}", key.display()))?;
    let mode = file_mode(&key)?;
    if mode & 0o077 != 0 {
        return Err(format!("the key file has mode {mode:03o}, expected 0600"));
    }
    let secret = key_file
        .get(32..96)
        .ok_or("the key file is shorter than 96 bytes")?;
    let listener_log = std::fs::read_to_string(&listener_log_path).unwrap_or_default();
    for (who, log) in [("listener", &listener_log), ("dialer", &dial_log)] {
        if log.lines().count() < 20 {
            return Err(format!(
                "the {who}'s trace log is suspiciously short:\n{log}"
            ));
        }
        if let Some(form) = find_secret(log, secret) {
            return Err(format!(
                "the {who}'s trace-level log contains the secret key ({form})"
            ));
        }
    }
    println!(
        "leaks: {}: ping demo: nothing outside the private network and our own unix sockets:\n    {}\n  no secret key in {} + {} trace log lines; key file mode {mode:03o}; listen address {}",
        backend.name(),
        report.join("\n    "),
        listener_log.lines().count(),
        dial_log.lines().count(),
        listen_addr,
    );
    Ok(())
}

/// The `clearnet` example dials [`CLEARNET_TARGET`] with `Clearnet::ThroughTor` under strace.
async fn clearnet(
    net: &TestNet,
    backend: Backend,
    programs: &Programs,
    tcp: &BTreeSet<SocketAddr>,
) -> Result<(), String> {
    let dir = net.dir();
    let torrc = dir.join("clearnet.torrc");
    let mut lines = net.client_torrc().to_vec();
    lines.push(format!("SocksTimeout {SOCKS_TIMEOUT_SECS}"));
    std::fs::write(&torrc, lines.join("\n") + "\n")
        .map_err(|e| format!("cannot write {}: {e}", torrc.display()))?;
    let (mut cmd, traced) = Traced::command(&programs.strace, dir, "clearnet", &programs.clearnet)?;
    cmd.arg(CLEARNET_TARGET)
        .env("TORP2P_TORRC_EXTRA", &torrc)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let out = Group::spawn(&mut cmd)
        .map_err(|e| format!("cannot run the clearnet example under strace: {e}"))?
        .output_within(Duration::from_secs(240))
        .await
        .map_err(|e| format!("the clearnet example {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let shown = || {
        format!(
            "({}):\n{stdout}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )
    };
    // A private network has no exit relays: tor must refuse, with a SOCKS reply of its own.
    let Some(failure) = stdout
        .lines()
        .find(|l| l.starts_with("dial failed: SOCKS reply 0x"))
    else {
        return Err(format!(
            "the clearnet dial of {CLEARNET_TARGET} should fail with a SOCKS reply from tor (the private network has no exits); it said {}",
            shown()
        ));
    };
    if out.status.success() {
        return Err(format!(
            "the clearnet example exited with success {}",
            shown()
        ));
    }
    let verdict = traced.judge("clearnet", tcp, backend.interface_probe())?;
    // The name went to tor's SOCKS port, as a SOCKS domain name.
    let via_socks = verdict.socks.iter().any(|r| {
        r.is_name
            && r.host == "example.com"
            && r.port == 80
            && r.socket
                .as_deref()
                .is_some_and(|p| p.ends_with("/socks.sock"))
    });
    if !via_socks {
        return Err(format!(
            "the trace shows no SOCKS request for example.com:80 on tor's socks.sock (SOCKS requests seen: {:?}); trace: {}",
            verdict.socks,
            traced.trace.display()
        ));
    }
    println!(
        "leaks: {}: clearnet dial of {CLEARNET_TARGET} with Clearnet::ThroughTor: {failure}\n    the name went to tor's SOCKS port only: {:?}\n    {}",
        backend.name(),
        verdict.socks,
        verdict.summary()
    );
    Ok(())
}

/// Which encoding of the secret (or of its scalar half) appears in `log`, if any.
fn find_secret(log: &str, secret: &[u8]) -> Option<&'static str> {
    let scalar = &secret[..32];
    let forms: [(&'static str, String); 8] = [
        ("hex", HEXLOWER.encode(secret)),
        ("HEX", HEXUPPER.encode(secret)),
        ("base64", BASE64.encode(secret)),
        ("base64 without padding", BASE64_NOPAD.encode(secret)),
        ("scalar hex", HEXLOWER.encode(scalar)),
        ("scalar HEX", HEXUPPER.encode(scalar)),
        ("scalar base64", BASE64_NOPAD.encode(scalar)),
        (
            "byte list",
            format!("{:?}", &scalar[..8])
                .replace(' ', "")
                .trim_end_matches(']')
                .to_string(),
        ),
    ];
    let squeezed: String = log.chars().filter(|c| *c != ' ').collect();
    forms
        .into_iter()
        .find(|(_, f)| log.contains(f.as_str()) || squeezed.contains(f.as_str()))
        .map(|(name, _)| name)
}

fn file_mode(p: &Path) -> Result<u32, String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .map(|m| m.permissions().mode() & 0o777)
        .map_err(|e| format!("cannot stat {}: {e}", p.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_found_in_any_common_encoding() {
        let secret: Vec<u8> = (0u8..64).collect();
        assert_eq!(find_secret("nothing here", &secret), None);
        let log = format!(
            "ADD_ONION ED25519-V3:{} Flags=DiscardPK",
            BASE64.encode(&secret)
        );
        assert_eq!(find_secret(&log, &secret), Some("base64"));
        let log = format!("key={}", HEXLOWER.encode(&secret[..32]));
        assert_eq!(find_secret(&log, &secret), Some("scalar hex"));
        let log = format!("{:?}", &secret[..32]);
        assert_eq!(find_secret(&log, &secret), Some("byte list"));
    }
}
