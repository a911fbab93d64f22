//! `--delay-ms D`: the whole run (the private network, both client tors and this process) in a
//! new network namespace whose loopback delays every packet by D ms, as `cargo xtask leaks`
//! runs its programs in a loopback-only namespace.
//!
//! The process re-runs itself as `unshare --net -- <this binary> <its arguments>
//! --in-namespace`; the copy inside brings loopback up, adds `tc qdisc add dev lo root netem
//! delay <D>ms limit <LIMIT>`, checks that the qdisc is there and runs the benchmark. Every
//! packet between two tors, and between this process and its tors, crosses loopback once: one
//! tor-to-tor hop costs D ms each way, a TCP round trip 2·D. The SOCKS and control connections
//! are on that loopback too and delayed the same way, for raw Tor and torp2p alike.
//!
//! Needs root (or CAP_SYS_ADMIN and CAP_NET_ADMIN) for the namespace and the qdisc, `unshare`
//! (util-linux), `ip` and `tc` (iproute2) and the kernel's netem qdisc (`sch_netem`). On a
//! kernel without netem (this project's machines: `# CONFIG_NET_SCH_NETEM is not set`, and no
//! fq either) it delays from user space instead, with `iptables`' NFQUEUE target and a thread
//! of this process ([`nfqueue`]); the table and `delay_via` in the JSON say which. It never
//! falls back to an undelayed run: it fails and says what is missing.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

mod nfqueue;

/// netem's queue limit in packets (its default is 1000). Every packet waits D ms in that one
/// queue, which all the tors' connections share, so the limit caps loopback at `LIMIT` packets
/// per D ms; beyond it netem drops packets, and TCP's retransmissions would be measured
/// instead of the delay. Ten times the default leaves room for every transfer of the bench;
/// the memory it can hold is bounded by the TCP windows, not by this limit.
pub(crate) const LIMIT: u32 = 10_000;

/// Runs this binary again inside a new network namespace with `--in-namespace`, and waits for
/// it. Fails, saying what to do, if the namespace cannot be made.
pub(crate) fn rerun_inside(args: &[String], delay_ms: u32) -> Result<(), String> {
    let unshare = need("unshare", "util-linux", "to create a network namespace")?;
    // Fail here, before anything starts, if a namespace cannot be made (not root).
    let probe = Command::new(&unshare)
        .args(["--net", "true"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", unshare.display()))?;
    if !probe.status.success() {
        return Err(format!(
            "--delay-ms needs a network namespace of its own, and `unshare --net true` failed \
             ({}: {}). Run it as root (or with CAP_SYS_ADMIN and CAP_NET_ADMIN): `sudo -E cargo \
             xtask bench --delay-ms {delay_ms}`; in a container, run it with `--privileged` (or \
             `--cap-add SYS_ADMIN --cap-add NET_ADMIN`)",
            probe.status,
            String::from_utf8_lossy(&probe.stderr).trim()
        ));
    }
    need("ip", "iproute2", "to bring loopback up in the namespace")?;
    need("tc", "iproute2", "to delay loopback with netem")?;
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this binary: {e}"))?;
    eprintln!(
        "torp2p-bench: running in a new network namespace whose loopback delays every packet by \
         {delay_ms} ms"
    );
    let status = Command::new(&unshare)
        .args(["--net", "--"])
        .arg(&exe)
        .args(args)
        .arg("--in-namespace")
        .status()
        .map_err(|e| format!("cannot run {}: {e}", unshare.display()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "the run in the network namespace failed ({status})"
        ))
    }
}

/// Inside the namespace: loopback up, with netem's `delay_ms` on it, or, on a kernel without
/// netem, the NFQUEUE stand-in ([`nfqueue`]) if iptables is there. Refuses to run in a
/// namespace that has more than loopback (the host's, if `--in-namespace` was given by hand).
/// What delays: `"netem"` or `"nfqueue"`.
pub(crate) fn delay_loopback(delay_ms: u32) -> Result<&'static str, String> {
    let ip = need("ip", "iproute2", "to bring loopback up in the namespace")?;
    let tc = need("tc", "iproute2", "to delay loopback with netem")?;
    let links = output(Command::new(&ip).args(["-o", "link"]))?;
    if links.lines().count() != 1 || !links.contains(": lo:") {
        return Err(format!(
            "--in-namespace is for the copy of the bench that --delay-ms starts in a new network \
             namespace (with loopback only); this one has:\n{links}"
        ));
    }
    output(Command::new(&ip).args(["link", "set", "lo", "up"]))?;
    let delay = format!("{delay_ms}ms");
    let limit = LIMIT.to_string();
    let add = [
        "qdisc", "add", "dev", "lo", "root", "netem", "delay", &delay, "limit", &limit,
    ];
    if let Err(e) = output(Command::new(&tc).args(add)) {
        if !e.contains("qdisc kind is unknown") {
            return Err(e);
        }
        return nfqueue_delay(delay_ms).map_err(|why| {
            format!(
                "{e}\nThe kernel's netem qdisc (module sch_netem, CONFIG_NET_SCH_NETEM) seems to be \
                 missing: load it with `modprobe sch_netem` (Debian and Ubuntu ship it in the package \
                 linux-modules-extra-$(uname -r); in a container, the host must load it).\nThe \
                 user-space stand-in (NFQUEUE) did not work either: {why}"
            )
        });
    }
    let shown = output(Command::new(&tc).args(["qdisc", "show", "dev", "lo"]))?;
    if !shown.contains("netem") || !shown.contains(&format!("delay {delay}")) {
        return Err(format!(
            "tc accepted the netem qdisc but loopback does not show it:\n{shown}"
        ));
    }
    eprintln!("torp2p-bench: loopback: {}", shown.trim());
    Ok("netem")
}

/// No netem: every packet leaving on loopback goes to NFQUEUE, and a thread of this process
/// accepts it `delay_ms` later ([`nfqueue`]).
fn nfqueue_delay(delay_ms: u32) -> Result<&'static str, String> {
    let iptables = need(
        "iptables",
        "iptables",
        "to queue loopback's packets to NFQUEUE",
    )?;
    let ip6tables = need(
        "ip6tables",
        "iptables",
        "to queue loopback's packets to NFQUEUE",
    )?;
    // Bound before any rule sends packets to the queue (unbound, they would be dropped).
    let delayer = nfqueue::Delayer::bind()
        .map_err(|e| format!("cannot bind NFQUEUE {}: {e}", nfqueue::QUEUE))?;
    let delay = Duration::from_millis(u64::from(delay_ms));
    std::thread::Builder::new()
        .name("nfqueue-delay".into())
        .spawn(move || {
            let e = delayer.run(delay);
            // Unbound, the queue drops loopback's packets: the run fails on its timeouts.
            eprintln!("torp2p-bench: the NFQUEUE delay stopped: {e}");
        })
        .map_err(|e| format!("cannot start the NFQUEUE thread: {e}"))?;
    let queue = nfqueue::QUEUE.to_string();
    for table in [&iptables, &ip6tables] {
        let rule = [
            "-t",
            "raw",
            "-A",
            "OUTPUT",
            "-j",
            "NFQUEUE",
            "--queue-num",
            &queue,
        ];
        output(Command::new(table).args(rule))?;
    }
    eprintln!(
        "torp2p-bench: no netem in this kernel: loopback's packets go through NFQUEUE {queue}, \
         accepted {delay_ms} ms later by this process (a user-space stand-in for netem)"
    );
    Ok("nfqueue")
}

/// Runs `cmd`: its stdout, or an error with its stderr.
fn output(cmd: &mut Command) -> Result<String, String> {
    let shown = format!(
        "{} {}",
        cmd.get_program().to_string_lossy(),
        cmd.get_args()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ")
    );
    match cmd.stdin(Stdio::null()).output() {
        Ok(o) if o.status.success() => Ok(String::from_utf8_lossy(&o.stdout).into_owned()),
        Ok(o) => Err(format!(
            "`{shown}` failed ({}): {}",
            o.status,
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(e) => Err(format!("cannot run `{shown}`: {e}")),
    }
}

/// `program` on PATH or in /usr/sbin and /sbin (where Debian puts `ip` and `tc`, and where a
/// non-root PATH may not look), or an error naming the package to install.
fn need(program: &str, package: &str, why: &str) -> Result<PathBuf, String> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            format!(
                "--delay-ms needs `{program}` {why}, and it is not installed: `sudo apt-get \
                 install {package}` (or your platform's package for it); `cargo xtask bench` \
                 installs it itself when run as root"
            )
        })
}
