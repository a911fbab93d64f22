//! `cargo xtask leaks`: the ping demo inside a network namespace whose only interface is
//! loopback, every `connect()` of both peers (and of the tors they start) recorded with strace.
//! Fails if anything connects anywhere but 127.0.0.1, ::1 or a unix socket; if an advertised
//! address contains an IP; or if a trace-level log contains the onion service's secret key.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use data_encoding::{BASE64, BASE64_NOPAD, HEXLOWER, HEXUPPER};
use torp2p_testnet::TestNet;

use crate::packages;
use crate::ping_proc::{self, Listener};

pub(crate) fn leaks(args: &[String]) -> Result<(), String> {
    if args.first().map(String::as_str) == Some("--inside") {
        return inside();
    }
    packages::ensure_tor()?;
    packages::ensure(
        "strace",
        "strace",
        "the leak test records every connect() of both peers with it",
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
    ping_proc::build_ping()?;
    let probe = Command::new(&unshare).args(["--net", "true"]).output();
    match probe {
        Ok(o) if o.status.success() => {}
        other => {
            let why = match other {
                Ok(o) => String::from_utf8_lossy(&o.stderr).trim().to_string(),
                Err(e) => e.to_string(),
            };
            eprintln!(
                "\n!!!!!!!!\nxtask leaks: SKIPPED: cannot create a network namespace here ({why}).\nRun it as root (CI does) to check for leaks.\n!!!!!!!!\n"
            );
            return Ok(());
        }
    }
    let exe = std::env::current_exe().map_err(|e| format!("cannot find xtask itself: {e}"))?;
    eprintln!("xtask: running the leak test in a new network namespace (loopback only)");
    let status = Command::new(&unshare)
        .arg("--net")
        .arg("--")
        .arg(&exe)
        .args(["leaks", "--inside"])
        .status()
        .map_err(|e| format!("cannot run unshare: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("the leak test failed ({status})"))
    }
}

/// Runs inside the namespace.
fn inside() -> Result<(), String> {
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
    let ping = ping_proc::build_ping()?;
    let rt = crate::runtime()?;
    rt.block_on(crate::on_testnet(TestNet::builder(), async |net| {
        scenario(net, &ping).await
    }))
}

async fn scenario(net: &TestNet, ping: &Path) -> Result<(), String> {
    let torrc = ping_proc::write_torrc(net)?;
    let dir = net.dir();
    let key = dir.join("leak-listener.key");
    let listen_trace = dir.join("strace-listener.txt");
    let dial_trace = dir.join("strace-dialer.txt");

    let mut cmd = tokio::process::Command::new("strace");
    cmd.args([
        "-f",
        "-qq",
        "-e",
        "trace=socket,connect,sendto,sendmsg",
        "-o",
    ])
    .arg(&listen_trace)
    .arg(ping)
    .arg("-vv")
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

    let mut dialer = tokio::process::Command::new("strace");
    dialer
        .args([
            "-f",
            "-qq",
            "-e",
            "trace=socket,connect,sendto,sendmsg",
            "-o",
        ])
        .arg(&dial_trace)
        .arg(ping)
        .arg("-vv")
        .arg("--torrc-extra")
        .arg(&torrc)
        .args(["dial", &listener.addr, "--count", "3"])
        .env("RUST_LOG", "trace")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let out = ping_proc::Group::spawn(&mut dialer)
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

    // 1. Every connect() went to loopback or a unix socket.
    let mut report = Vec::new();
    for (who, trace) in [("listener", &listen_trace), ("dialer", &dial_trace)] {
        let text = std::fs::read_to_string(trace)
            .map_err(|e| format!("cannot read {}: {e}", trace.display()))?;
        let summary = check_connects(&text).map_err(|bad| {
            format!(
                "{who}: connect() to non-loopback addresses:\n  {}",
                bad.join("\n  ")
            )
        })?;
        report.push(format!("{who}: {summary}"));
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
        "leaks: no connect() outside loopback ({}); no secret key in {} + {} trace log lines; key file mode {mode:03o}; listen address {}",
        report.join("; "),
        listener_log.lines().count(),
        dial_log.lines().count(),
        listen_addr,
    );
    println!("leaks: 1 passed, 0 failed");
    Ok(())
}

/// Checks an strace log of socket/connect/sendto/sendmsg. `Err` lists every call that could
/// send a packet outside loopback. A `connect()` of a UDP socket sends nothing: tor does that
/// to 18.0.0.1:9 (then `getsockname`) to learn its interface address; those are counted apart.
fn check_connects(strace: &str) -> Result<String, Vec<String>> {
    use std::collections::HashSet;
    let (mut inet, mut unix, mut udp_probe, mut other) = (0, 0, 0, 0);
    let mut dgram: HashSet<(String, String)> = HashSet::new();
    let mut bad = Vec::new();
    for line in strace.lines() {
        // strace pads the PID column: "123  connect(..." as well as "12345 connect(...".
        let Some((tid, call)) = line.split_once(' ') else {
            continue;
        };
        let call = call.trim_start();
        if call.starts_with("socket(") {
            if call.contains("SOCK_DGRAM")
                && let Some(fd) = call.rsplit("= ").next()
            {
                dgram.insert((tid.to_string(), fd.trim().to_string()));
            }
            continue;
        }
        let is_connect = call.starts_with("connect(");
        if !(is_connect || call.starts_with("sendto(") || call.starts_with("sendmsg(")) {
            continue;
        }
        let fd = between(call, "(", ",").unwrap_or("").to_string();
        let target = if call.contains("sa_family=AF_UNIX") {
            Target::Unix
        } else if call.contains("sa_family=AF_INET6") {
            Target::Inet(between(call, "inet_pton(AF_INET6, \"", "\"") == Some("::1"))
        } else if call.contains("sa_family=AF_INET") {
            Target::Inet(between(call, "inet_addr(\"", "\"").is_some_and(|a| a.starts_with("127.")))
        } else if call.contains("sa_family=AF_NETLINK") || call.contains("sa_family=AF_UNSPEC") {
            Target::Other
        } else if !is_connect && (call.contains("NULL, 0") || !call.contains("sa_family")) {
            // sendto/sendmsg on a connected socket: its peer was checked at connect().
            continue;
        } else {
            Target::Unknown
        };
        match target {
            Target::Unix => unix += 1,
            Target::Other => other += 1,
            Target::Inet(true) => inet += 1,
            Target::Inet(false) if is_connect && dgram.contains(&(tid.to_string(), fd)) => {
                udp_probe += 1
            }
            Target::Inet(false) | Target::Unknown => bad.push(line.to_string()),
        }
    }
    if inet == 0 || unix == 0 {
        // A trace without tor's relay connections or our control and SOCKS connections did
        // not record what it should have: an empty trace never passes.
        bad.push(format!(
            "the trace recorded {inet} loopback and {unix} unix-socket connections; expected some of each"
        ));
    }
    if bad.is_empty() {
        Ok(format!(
            "{inet} to 127.0.0.1/::1, {unix} to unix sockets, {other} netlink/unspec, {udp_probe} UDP connect() without packets (tor's interface-address probe)"
        ))
    } else {
        Err(bad)
    }
}

enum Target {
    Unix,
    /// Whether it is loopback.
    Inet(bool),
    Other,
    Unknown,
}

fn between<'a>(s: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let i = s.find(start)? + start.len();
    let j = s[i..].find(end)? + i;
    Some(&s[i..j])
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
    fn connect_lines_are_classified() {
        let ok = "1 connect(3, {sa_family=AF_INET, sin_port=htons(5000), sin_addr=inet_addr(\"127.0.0.1\")}, 16) = 0\n\
                  2 connect(4, {sa_family=AF_UNIX, sun_path=\"/tmp/x/socks.sock\"}, 110) = 0\n\
                  3 connect(5, {sa_family=AF_INET6, sin6_port=htons(1), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, \"::1\", &sin6_addr), sin6_scope_id=0}, 28) = 0\n";
        assert!(
            check_connects(ok)
                .unwrap()
                .starts_with("2 to 127.0.0.1/::1, 1 to unix sockets")
        );
        let leak = "9 connect(3, {sa_family=AF_INET, sin_port=htons(443), sin_addr=inet_addr(\"192.0.2.1\")}, 16) = -1 ENETUNREACH\n";
        let errors = check_connects(leak).unwrap_err();
        assert!(errors.iter().any(|l| l.contains("192.0.2.1")), "{errors:?}");
        let leak6 = "9 connect(3, {sa_family=AF_INET6, sin6_port=htons(443), inet_pton(AF_INET6, \"2001:db8::1\", &sin6_addr)}, 28) = -1\n";
        assert!(check_connects(leak6).is_err());
        let probe = "7 socket(AF_INET, SOCK_DGRAM|SOCK_CLOEXEC, IPPROTO_IP) = 14\n\
                     7 connect(14, {sa_family=AF_INET, sin_port=htons(9), sin_addr=inet_addr(\"18.0.0.1\")}, 16) = -1 ENETUNREACH\n";
        let probe = format!("{ok}{probe}");
        assert!(check_connects(&probe).unwrap().contains("1 UDP connect()"));
        // strace pads short PIDs; an empty trace never passes.
        let padded = "12  connect(3, {sa_family=AF_INET, sin_port=htons(5000), sin_addr=inet_addr(\"127.0.0.1\")}, 16) = 0\n\
                      12  connect(4, {sa_family=AF_UNIX, sun_path=\"/tmp/s\"}, 110) = 0\n";
        assert!(
            check_connects(padded)
                .unwrap()
                .starts_with("1 to 127.0.0.1/::1, 1 to unix")
        );
        assert!(check_connects("").is_err());
        let padded_leak = format!(
            "{padded}123  connect(3, {{sa_family=AF_INET, sin_port=htons(443), sin_addr=inet_addr(\"192.0.2.1\")}}, 16) = -1\n"
        );
        assert!(check_connects(&padded_leak).is_err());
        let tcp = "7 socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, IPPROTO_TCP) = 14\n\
                   7 connect(14, {sa_family=AF_INET, sin_port=htons(9), sin_addr=inet_addr(\"18.0.0.1\")}, 16) = -1 ENETUNREACH\n";
        assert!(check_connects(tcp).is_err());
        let send = "7 sendto(3, \"x\", 1, 0, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr(\"192.0.2.53\")}, 16) = 1\n";
        assert!(check_connects(send).is_err());
    }

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
