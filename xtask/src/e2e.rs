//! `cargo xtask e2e [--runs N] [--backend tor|arti]`: the end-to-end scenario on a private Tor
//! network, with timings.

use std::path::Path;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use torp2p_addr::{DialTarget, OnionSocketAddr};
use torp2p_daemon::{LocalAddr, OnionKey, OnionServiceOptions, PortMapping, Publication};
use torp2p_socks::DialError;
use torp2p_testnet::TestNet;

use crate::ping_proc::{Backend, DialOutcome, Listener, dial};

/// Timings of one run, each from the start of the run.
#[derive(Debug, Clone, Copy)]
struct Timings {
    network_ready: Duration,
    /// The onion service echo through C tor (run with the C tor backend only).
    echo: Option<EchoTimings>,
    /// `torp2p-ping listen` start → address printed (bootstrap + publication).
    listener_ready: Duration,
    /// `torp2p-ping dial` start → exit after 3 pings (bootstrap + connect + pings).
    dialer_done: Duration,
}

/// Timings of the onion service echo through two C tor clients, from the start of the run.
#[derive(Debug, Clone, Copy)]
struct EchoTimings {
    clients_bootstrapped: Duration,
    descriptor_published: Duration,
    first_connection: Duration,
    rtt_median: Duration,
}

use crate::runtime;

/// `[--runs N] [--backend tor|arti]`, in any order.
fn options(args: &[String]) -> Result<(usize, Backend), String> {
    let usage = "usage: cargo xtask e2e [--runs N] [--backend tor|arti]";
    let (mut runs, mut backend) = (1, Backend::Tor);
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .ok_or_else(|| format!("e2e: `{flag}` needs a value; {usage}"))?;
        match flag.as_str() {
            "--runs" => runs = crate::runs(&[flag.clone(), value.clone()], "e2e")?,
            "--backend" => backend = Backend::parse(value, "e2e")?,
            other => return Err(format!("e2e: unexpected argument `{other}`; {usage}")),
        }
    }
    Ok((runs, backend))
}

/// `cargo xtask e2e [--runs N] [--backend tor|arti]`. With C tor (the default): an onion
/// service echo through two C tor clients, then the ping demo and the chat example as
/// processes. With arti: the ping demo as processes, each with an embedded arti.
pub(crate) fn e2e(args: &[String]) -> Result<(), String> {
    let (runs, backend) = options(args)?;
    let ping = crate::ping_proc::build_ping(backend)?;
    let chat = match backend {
        Backend::Tor => Some(crate::ping_proc::build_example("torp2p-transport", "chat")?),
        Backend::Arti => None,
    };
    let rt = runtime()?;
    let mut all = Vec::new();
    for i in 1..=runs {
        eprintln!("xtask e2e: run {i} of {runs} (backend {})", backend.name());
        let t = rt.block_on(onion_echo_run(&ping, chat.as_deref(), backend))?;
        print_timings(&t, backend);
        all.push(t);
    }
    if runs > 1 {
        summarize(&all);
    }
    // The plain closing line CI reads: one word with a colon, no more (the backend is in the
    // timings above).
    println!("e2e: {runs} passed, 0 failed");
    Ok(())
}

fn print_timings(t: &Timings, backend: Backend) {
    let echo = t.echo.map_or_else(String::new, |e| {
        format!(
            " | clients bootstrapped {:>6.1}s | descriptor published {:>6.1}s | first connection {:>6.1}s | echo RTT median {:>6.1}ms",
            e.clients_bootstrapped.as_secs_f64(),
            e.descriptor_published.as_secs_f64(),
            e.first_connection.as_secs_f64(),
            e.rtt_median.as_secs_f64() * 1000.0,
        )
    });
    println!(
        "  network ready {:>6.1}s{echo} | ping ({}) listener ready in {:>5.1}s | ping dialer done in {:>5.1}s",
        t.network_ready.as_secs_f64(),
        backend.name(),
        t.listener_ready.as_secs_f64(),
        t.dialer_done.as_secs_f64(),
    );
}

fn summarize(all: &[Timings]) {
    let stat = |name: &str, f: &dyn Fn(&Timings) -> Option<Duration>| {
        let mut v: Vec<f64> = all
            .iter()
            .filter_map(|t| f(t).map(|d| d.as_secs_f64()))
            .collect();
        if v.is_empty() {
            return;
        }
        v.sort_by(f64::total_cmp);
        println!(
            "  {name:<22} min {:>6.2}s  median {:>6.2}s  max {:>6.2}s",
            v[0],
            v[v.len() / 2],
            v[v.len() - 1]
        );
    };
    println!(
        "summary over {} runs (each from the run's start):",
        all.len()
    );
    stat("network ready", &|t| Some(t.network_ready));
    stat("clients bootstrapped", &|t| {
        t.echo.map(|e| e.clients_bootstrapped)
    });
    stat("descriptor published", &|t| {
        t.echo.map(|e| e.descriptor_published)
    });
    stat("first connection", &|t| t.echo.map(|e| e.first_connection));
    stat("echo RTT median", &|t| t.echo.map(|e| e.rtt_median));
    stat("ping listener ready", &|t| Some(t.listener_ready));
    stat("ping dialer done", &|t| Some(t.dialer_done));
}

/// Starts a network; with C tor, publishes an onion service from one client to a local echo
/// server, connects to it through another client, echoes 64-byte messages, and checks that an
/// unpublished address fails with the descriptor-not-found error; then the ping demo as
/// processes on `backend`, and with C tor the chat example. On failure the network's
/// directory is kept and named.
async fn onion_echo_run(
    ping: &Path,
    chat: Option<&Path>,
    backend: Backend,
) -> Result<Timings, String> {
    let t0 = Instant::now();
    crate::on_testnet(TestNet::builder(), async |net| {
        let network_ready = t0.elapsed();
        let echo = match backend {
            Backend::Tor => Some(scenario(net, t0).await?),
            Backend::Arti => None,
        };
        let (listener_ready, dialer_done) = ping_scenario(net, ping, backend).await?;
        if let Some(chat) = chat {
            chat_scenario(net, chat).await?;
        }
        Ok(Timings {
            network_ready,
            echo,
            listener_ready,
            dialer_done,
        })
    })
    .await
}

async fn scenario(net: &TestNet, t0: Instant) -> Result<EchoTimings, String> {
    let (host, client) = tokio::join!(net.spawn_client(), net.spawn_client());
    let host = host.map_err(|e| e.to_string())?;
    let client = client.map_err(|e| e.to_string())?;
    let clients_bootstrapped = t0.elapsed();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("echo server: {e}"))?;
    let echo = listener.local_addr().map_err(|e| e.to_string())?;
    let server = tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut r, mut w) = s.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });

    let key = OnionKey::generate();
    let service = host
        .add_onion_service(
            &key,
            &[PortMapping {
                virtual_port: 80,
                target: LocalAddr::Tcp(echo),
            }],
            &OnionServiceOptions::new(),
        )
        .await
        .map_err(|e| e.to_string())?;
    service
        .wait_published(Publication::default(), Duration::from_secs(60))
        .await
        .map_err(|e| e.to_string())?;
    let descriptor_published = t0.elapsed();

    let socks = client
        .socks_addr()
        .ok_or("the client tor has no SOCKS port")?
        .clone();
    let config = torp2p_socks::Config::new().with_timeout(Duration::from_secs(60));
    let target = DialTarget::Onion(
        OnionSocketAddr::new(key.onion_address(), 80).map_err(|e| e.to_string())?,
    );
    let mut stream = torp2p_socks::connect(&socks, &target, Some("e2e"), &config)
        .await
        .map_err(|e| format!("first connection failed: {e}"))?;
    let first_connection = t0.elapsed();

    let mut rtts = Vec::new();
    for i in 0..20u8 {
        let msg = [i; 64];
        let t = Instant::now();
        stream
            .write_all(&msg)
            .await
            .map_err(|e| format!("echo write: {e}"))?;
        let mut back = [0u8; 64];
        stream
            .read_exact(&mut back)
            .await
            .map_err(|e| format!("echo read: {e}"))?;
        if back != msg {
            return Err("echo returned other bytes".into());
        }
        rtts.push(t.elapsed());
    }
    rtts.sort();

    let nobody = DialTarget::Onion(
        OnionSocketAddr::new(OnionKey::generate().onion_address(), 80)
            .map_err(|e| e.to_string())?,
    );
    match torp2p_socks::connect(&socks, &nobody, None, &config).await {
        Err(DialError::DescriptorNotFound { .. }) => {}
        other => {
            return Err(format!(
                "dial to an unpublished address: expected descriptor-not-found, got {other:?}"
            ));
        }
    }

    service.remove().await.map_err(|e| e.to_string())?;
    server.abort();
    host.shutdown().await;
    client.shutdown().await;
    Ok(EchoTimings {
        clients_bootstrapped,
        descriptor_published,
        first_connection,
        rtt_median: rtts[rtts.len() / 2],
    })
}

/// The ping demo as processes on `backend`: pings both ways, a dial to an unpublished address
/// fails with the descriptor-not-found message, and a listener restarted with its key file
/// (and, with arti, its storage directory) keeps its address and is reachable again. Returns
/// (listener ready, dialer done).
async fn ping_scenario(
    net: &TestNet,
    ping: &Path,
    backend: Backend,
) -> Result<(Duration, Duration), String> {
    let listener_args = backend.ping_args(net, "listener")?;
    let dialer_args = backend.ping_args(net, "dialer")?;
    let key = net.dir().join("listener.key");
    let listener =
        Listener::start(ping, &listener_args, &key, net.dir().join("listener-1.log")).await?;
    let first_addr = listener.addr.clone();
    let listener_ready = listener.ready_after;

    let out = dial(ping, &dialer_args, &first_addr, 3, false).await?;
    check_pings(&out, 3, "first dial")?;
    let dialer_done = out.elapsed;
    // The listener pings the dialer too (libp2p ping runs both ways on a connection).
    let log = std::fs::read_to_string(&listener.log).unwrap_or_default();
    if !log
        .lines()
        .any(|l| l.starts_with("ping 12D3") && l.contains("rtt="))
    {
        return Err(format!(
            "the listener logged no ping of its own; its log:\n{log}"
        ));
    }
    listener.stop().await;

    // A well-formed address that nobody published.
    let peer = first_addr.rsplit('/').next().unwrap_or_default();
    let nobody = format!(
        "/onion3/{}:4001/p2p/{peer}",
        OnionKey::generate().onion_address().to_base32()
    );
    let out = dial(ping, &dialer_args, &nobody, 1, false).await?;
    // The backend's reason: C tor's "the onion service's descriptor was not found for ...
    // (SOCKS reply 0xF0)", arti's "descriptor of ... not found: ...".
    let found = match backend {
        Backend::Tor => out.stderr.contains("descriptor was not found"),
        Backend::Arti => out.stderr.contains("descriptor of ") && out.stderr.contains(" not found"),
    };
    if out.status.success() || !found {
        return Err(format!(
            "dial to an unpublished address: expected failure with the descriptor-not-found reason, got {} and:\n{}{}",
            out.status, out.stdout, out.stderr
        ));
    }

    // Restart with the same key file: same address, reachable again.
    let again =
        Listener::start(ping, &listener_args, &key, net.dir().join("listener-2.log")).await?;
    if again.addr != first_addr {
        return Err(format!(
            "restarted listener changed address: {first_addr} -> {}",
            again.addr
        ));
    }
    let out = dial(ping, &dialer_args, &again.addr, 2, false).await?;
    again.stop().await;
    check_pings(&out, 2, "dial after restart")?;
    Ok((listener_ready, dialer_done))
}

/// The transport's request-response example (`chat`, built by [`e2e`]) between two onion
/// peers.
async fn chat_scenario(net: &TestNet, chat: &Path) -> Result<(), String> {
    let torrc = crate::ping_proc::write_torrc(net)?;
    let mut cmd = tokio::process::Command::new(chat);
    cmd.arg("listen").env("TORP2P_TORRC_EXTRA", &torrc);
    let listener = Listener::start_command(cmd, net.dir().join("chat-listener.log")).await?;
    let mut send = tokio::process::Command::new(chat);
    send.args(["send", &listener.addr, "hello", "over", "tor"])
        .env("TORP2P_TORRC_EXTRA", &torrc)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let out = crate::ping_proc::Group::spawn(&mut send)
        .map_err(|e| format!("cannot run {}: {e}", chat.display()))?
        .output_within(Duration::from_secs(180))
        .await
        .map_err(|e| format!("chat send {e}"))?;
    listener.stop().await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if out.status.success() && stdout.trim() == "heard you: hello over tor" {
        Ok(())
    } else {
        Err(format!(
            "chat example: expected the answer `heard you: hello over tor`, got {}:\n{stdout}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn check_pings(out: &DialOutcome, count: usize, what: &str) -> Result<(), String> {
    let pings = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("ping ") && l.contains("rtt="))
        .count();
    if out.status.success() && pings == count {
        Ok(())
    } else {
        Err(format!(
            "{what}: expected exit 0 and {count} pings, got {} and {pings}:\n{}{}",
            out.status, out.stdout, out.stderr
        ))
    }
}
