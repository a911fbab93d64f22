//! `torp2p-sim peer`: the program on each simulated peer host, beside the host's tor.
//!
//! It attaches to its tor over TCP (Shadow has no unix socket paths), runs a torp2p listener
//! (libp2p ping) and a raw echo onion service, and at `--dial-at` dials its peers in turn:
//! each once over raw SOCKS and once with torp2p, alternating which goes first. Everything
//! it measures goes to stdout as JSON lines, in simulated seconds since the simulation began.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::StreamExt;
use libp2p_core::Multiaddr;
use libp2p_swarm::dial_opts::DialOpts;
use libp2p_swarm::{ConnectionId, Swarm, SwarmEvent};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use torp2p_addr::{DialTarget, LocalAddr, OnionSocketAddr};
use torp2p_daemon::{
    AttachConfig, AuthMethod, ListenTarget, OnionKey, OnionServiceOptions, Publication, Tor,
};
use torp2p_socks::Isolation;
use torp2p_transport as tor;

use crate::shadow::{RAW_PORT, TORP2P_PORT};

/// Shadow's simulated clock starts at 2000-01-01 00:00:00 UTC.
pub(crate) const SIMULATION_EPOCH_S: u64 = 946_684_800;
/// The bytes of one round trip, as libp2p ping sends.
const PING_BYTES: usize = 32;

/// One peer to dial.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) index: usize,
    pub(crate) raw: OnionSocketAddr,
    pub(crate) torp2p: Multiaddr,
    pub(crate) raw_first: bool,
}

impl FromStr for Target {
    type Err = String;

    /// `INDEX,RAW_ONION:PORT,MULTIADDR,raw|torp2p`.
    fn from_str(s: &str) -> Result<Self, String> {
        let parts: Vec<&str> = s.split(',').collect();
        let [index, raw, torp2p, first] = parts[..] else {
            return Err(format!(
                "`{s}`: expected INDEX,RAW_ONION:PORT,MULTIADDR,raw|torp2p"
            ));
        };
        Ok(Self {
            index: index.parse().map_err(|e| format!("`{index}`: {e}"))?,
            raw: raw.parse().map_err(|e| format!("`{raw}`: {e}"))?,
            torp2p: torp2p.parse().map_err(|e| format!("`{torp2p}`: {e}"))?,
            raw_first: match first {
                "raw" => true,
                "torp2p" => false,
                other => return Err(format!("`{other}`: expected raw or torp2p")),
            },
        })
    }
}

/// What `torp2p-sim peer` was told.
#[derive(Debug, Clone)]
pub(crate) struct Args {
    pub(crate) control: SocketAddr,
    pub(crate) key: PathBuf,
    pub(crate) raw_key: PathBuf,
    /// Simulated second of the first dial; `None`: only listen.
    pub(crate) dial_at: Option<u64>,
    pub(crate) pings: usize,
    pub(crate) ping_interval: Duration,
    pub(crate) dial_timeout: Duration,
    /// The least time from the start of one dial to the start of the next.
    pub(crate) dial_every: Duration,
    pub(crate) targets: Vec<Target>,
}

/// Seconds since the simulation began (the simulated clock).
pub(crate) fn now_s() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64() - SIMULATION_EPOCH_S as f64)
        .unwrap_or(0.0)
}

pub(crate) fn emit(mut v: Value) {
    use std::io::Write as _;
    v["t"] = json!((now_s() * 1000.0).round() / 1000.0);
    let _ = writeln!(std::io::stdout(), "{v}");
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

/// Runs the peer until the simulation ends it.
pub(crate) async fn run(args: Args) -> Result<(), String> {
    let tor = attach_bootstrapped(args.control).await?;
    let socks = tor
        .socks_addr()
        .cloned()
        .ok_or("the host's tor has no SOCKS port")?;

    // The raw service: an echo server behind an onion service of its own.
    let raw_key = OnionKey::load(&args.raw_key).map_err(|e| format!("--raw-key: {e}"))?;
    let options = OnionServiceOptions::new().with_listen_target(ListenTarget::LoopbackTcp);
    let raw = tor
        .listen(&raw_key, RAW_PORT, &options)
        .await
        .map_err(|e| format!("raw onion service: {e}"))?;
    tokio::spawn(async move {
        match raw
            .wait_published(Publication::default(), Duration::from_secs(600))
            .await
        {
            Ok(_) => emit(json!({ "event": "published", "kind": "raw" })),
            Err(e) => emit(
                json!({ "event": "error", "message": format!("raw service not published: {e}") }),
            ),
        }
        loop {
            match raw.accept().await {
                Ok(s) => {
                    tokio::spawn(echo(s));
                }
                Err(e) => {
                    emit(json!({ "event": "error", "message": format!("raw accept: {e}") }));
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    });

    // torp2p: a libp2p ping swarm on the same tor.
    let key = OnionKey::load(&args.key).map_err(|e| format!("--key: {e}"))?;
    let listen = tor::listen_addr(&key, TORP2P_PORT).map_err(|e| e.to_string())?;
    let config = tor::Config::new()
        .with_key(key.clone())
        .with_listen_target(ListenTarget::LoopbackTcp);
    let transport = tor::Transport::from_tor(tor.clone(), config).map_err(|e| e.to_string())?;
    let keypair = tor::identity_from_key(&key);
    let upgraded = transport.upgraded(&keypair).map_err(|e| e.to_string())?;
    let behaviour =
        libp2p_ping::Behaviour::new(libp2p_ping::Config::new().with_interval(args.ping_interval));
    let mut swarm = Swarm::new(
        upgraded,
        behaviour,
        keypair.public().to_peer_id(),
        libp2p_swarm::Config::with_tokio_executor()
            .with_idle_connection_timeout(Duration::from_secs(24 * 3600)),
    );
    swarm.listen_on(listen).map_err(|e| e.to_string())?;

    let mut queue: VecDeque<(Target, Kind)> = VecDeque::new();
    for t in &args.targets {
        let (a, b) = if t.raw_first {
            (Kind::Raw, Kind::Torp2p)
        } else {
            (Kind::Torp2p, Kind::Raw)
        };
        queue.push_back((t.clone(), a));
        queue.push_back((t.clone(), b));
    }
    let start_in = args
        .dial_at
        .map(|at| Duration::from_secs_f64((at as f64 - now_s()).max(0.0)));
    let mut dialer = Dialer {
        args: &args,
        socks,
        queue,
        current: None,
        raw_done: mpsc::unbounded_channel(),
        first_start: None,
        dials_started: 0,
        wait: None,
    };
    let start = tokio::time::sleep(start_in.unwrap_or(Duration::MAX));
    tokio::pin!(start);
    let mut started = start_in.is_none();
    let mut finished_said = false;
    loop {
        // Only a torp2p dial times out here: a raw dial has its own timeout in its task.
        // (Left armed for a raw dial, a passed deadline made this loop spin without a
        // system call, and a spinning process stops Shadow's clock.)
        let deadline = torp2p_deadline(dialer.current.as_ref(), args.dial_timeout);
        tokio::select! {
            () = &mut start, if !started => {
                started = true;
                dialer.next(&mut swarm);
            }
            ev = swarm.select_next_some() => dialer.on_swarm(&mut swarm, ev),
            Some(r) = dialer.raw_done.1.recv() => {
                emit(r);
                dialer.current = None;
                dialer.next(&mut swarm);
            }
            () = sleep_until_some(dialer.wait), if dialer.wait.is_some() => {
                dialer.wait = None;
                dialer.next(&mut swarm);
            }
            () = sleep_until_some(deadline), if deadline.is_some() => dialer.fail(
                &mut swarm,
                "DialTimeout",
                "the dial and its round trips took longer than --dial-timeout",
            ),
        }
        if started && dialer.current.is_none() && dialer.queue.is_empty() && !finished_said {
            finished_said = true;
            if args.dial_at.is_some() {
                emit(json!({ "event": "dials_done" }));
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Raw,
    Torp2p,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Raw => "raw",
            Kind::Torp2p => "torp2p",
        }
    }
}

/// The dial under way.
struct Current {
    target: usize,
    kind: Kind,
    started: Instant,
    start_t: f64,
    /// torp2p only: the connection, once established, and its round trips.
    connection: Option<ConnectionId>,
    connected: Option<Duration>,
    rtts: Vec<f64>,
}

struct Dialer<'a> {
    args: &'a Args,
    socks: LocalAddr,
    queue: VecDeque<(Target, Kind)>,
    current: Option<Current>,
    raw_done: (mpsc::UnboundedSender<Value>, mpsc::UnboundedReceiver<Value>),
    /// When the first dial started, and how many have.
    first_start: Option<Instant>,
    dials_started: u32,
    /// The next dial waits for this (`--dial-every`).
    wait: Option<tokio::time::Instant>,
}

impl Dialer<'_> {
    /// Starts the next dial, if any, or, if its time (`--dial-every`) has not come, sets
    /// [`Dialer::wait`].
    fn next(&mut self, swarm: &mut Swarm<libp2p_ping::Behaviour>) {
        if self.queue.is_empty() {
            return;
        }
        let now = Instant::now();
        if let Some(first) = self.first_start {
            let due = first + self.args.dial_every * self.dials_started;
            if due > now {
                self.wait = Some(tokio::time::Instant::from_std(due));
                return;
            }
        }
        let Some((target, kind)) = self.queue.pop_front() else {
            return;
        };
        self.first_start.get_or_insert(now);
        self.dials_started += 1;
        let mut current = Current {
            target: target.index,
            kind,
            started: Instant::now(),
            start_t: now_s(),
            connection: None,
            connected: None,
            rtts: Vec::new(),
        };
        match kind {
            Kind::Raw => {
                let tx = self.raw_done.0.clone();
                let socks = self.socks.clone();
                let (pings, interval, timeout) = (
                    self.args.pings,
                    self.args.ping_interval,
                    self.args.dial_timeout,
                );
                let (index, start_t) = (target.index, current.start_t);
                tokio::spawn(async move {
                    let r = tokio::time::timeout(
                        timeout,
                        raw_dial(&socks, &target.raw, pings, interval),
                    )
                    .await;
                    let v = match r {
                        Ok(Ok((connect, rtts))) => json!({
                            "event": "dial", "kind": "raw", "target": index, "start": start_t,
                            "connect_s": connect.as_secs_f64(), "rtt_ms": rtts,
                        }),
                        Ok(Err((reason, message, after))) => json!({
                            "event": "dial_failed", "kind": "raw", "target": index, "start": start_t,
                            "after_s": after, "reason": reason, "error": message,
                        }),
                        Err(_) => json!({
                            "event": "dial_failed", "kind": "raw", "target": index, "start": start_t,
                            "after_s": timeout.as_secs_f64(), "reason": "DialTimeout",
                            "error": "the dial and its round trips took longer than --dial-timeout",
                        }),
                    };
                    let _ = tx.send(v);
                });
            }
            Kind::Torp2p => {
                let opts = DialOpts::unknown_peer_id()
                    .address(target.torp2p.clone())
                    .build();
                current.connection = Some(opts.connection_id());
                if let Err(e) = swarm.dial(opts) {
                    self.current = Some(current);
                    self.fail(swarm, "Refused", &e.to_string());
                    return;
                }
            }
        }
        self.current = Some(current);
    }

    fn on_swarm(
        &mut self,
        swarm: &mut Swarm<libp2p_ping::Behaviour>,
        ev: SwarmEvent<libp2p_ping::Event>,
    ) {
        match ev {
            SwarmEvent::NewListenAddr { .. } => {
                emit(json!({ "event": "published", "kind": "torp2p" }));
            }
            SwarmEvent::ListenerClosed { reason, .. } => {
                emit(
                    json!({ "event": "error", "message": format!("torp2p listener closed: {reason:?}") }),
                );
            }
            SwarmEvent::ConnectionEstablished { connection_id, .. } => {
                if let Some(c) = self.mine(connection_id) {
                    c.connected = Some(c.started.elapsed());
                }
            }
            SwarmEvent::OutgoingConnectionError {
                connection_id,
                error,
                ..
            } if self.is_mine(connection_id) => {
                self.fail(swarm, &dial_reason(&error), &error.to_string());
            }
            SwarmEvent::Behaviour(libp2p_ping::Event {
                connection, result, ..
            }) => {
                let pings = self.args.pings;
                let Some(c) = self.mine(connection) else {
                    return;
                };
                match result {
                    Ok(rtt) => {
                        c.rtts.push(ms(rtt));
                        if c.rtts.len() >= pings {
                            let c = self.current.take().expect("mine");
                            emit(json!({
                                "event": "dial", "kind": "torp2p", "target": c.target, "start": c.start_t,
                                "connect_s": c.connected.unwrap_or_default().as_secs_f64(), "rtt_ms": c.rtts,
                            }));
                            swarm.close_connection(connection);
                            self.next(swarm);
                        }
                    }
                    Err(e) => self.fail(swarm, "PingFailed", &e.to_string()),
                }
            }
            SwarmEvent::ConnectionClosed {
                connection_id,
                cause,
                ..
            } if self.is_mine(connection_id) => {
                let why = cause.map_or_else(|| "closed".to_string(), |e| e.to_string());
                self.fail(swarm, "ConnectionClosed", &why);
            }
            _ => {}
        }
    }

    /// Whether the current dial is torp2p's over `connection`.
    fn is_mine(&self, connection: ConnectionId) -> bool {
        self.current
            .as_ref()
            .is_some_and(|c| c.kind == Kind::Torp2p && c.connection == Some(connection))
    }

    /// The current dial, if it is torp2p's over `connection`.
    fn mine(&mut self, connection: ConnectionId) -> Option<&mut Current> {
        self.current
            .as_mut()
            .filter(|c| c.kind == Kind::Torp2p && c.connection == Some(connection))
    }

    fn fail(&mut self, swarm: &mut Swarm<libp2p_ping::Behaviour>, reason: &str, message: &str) {
        if let Some(c) = self.current.take() {
            emit(json!({
                "event": "dial_failed", "kind": c.kind.name(), "target": c.target, "start": c.start_t,
                "after_s": c.started.elapsed().as_secs_f64(), "reason": reason, "error": message,
            }));
            if let Some(id) = c.connection {
                swarm.close_connection(id);
            }
        }
        self.next(swarm);
    }
}

/// When the torp2p dial under way, if one is, runs out of time.
fn torp2p_deadline(current: Option<&Current>, timeout: Duration) -> Option<tokio::time::Instant> {
    current
        .filter(|c| c.kind == Kind::Torp2p)
        .map(|c| tokio::time::Instant::from_std(c.started + timeout))
}

/// Sleeps until `deadline`, or forever without one.
async fn sleep_until_some(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// Why a swarm's dial failed: the Tor failure of the first of its transport errors that has
/// one (libp2p's `DialError::Transport` has no `source`, so [`tor::Error::dial_failure_in`]
/// must be asked of each error in its list), else libp2p's own kind.
pub(crate) fn dial_reason(e: &libp2p_swarm::DialError) -> String {
    let tor_failure = match e {
        libp2p_swarm::DialError::Transport(errors) => errors.iter().find_map(|(_, e)| match e {
            libp2p_core::transport::TransportError::Other(io) => tor::Error::dial_failure_in(io),
            libp2p_core::transport::TransportError::MultiaddrNotSupported(_) => None,
        }),
        other => tor::Error::dial_failure_in(other),
    };
    tor_failure.map_or_else(|| libp2p_reason(e), |f| format!("{f:?}"))
}

/// The kind of a libp2p dial error that names no Tor failure.
fn libp2p_reason(e: &libp2p_swarm::DialError) -> String {
    use libp2p_swarm::DialError as E;
    match e {
        E::Transport(_) => "Transport",
        E::WrongPeerId { .. } => "WrongPeerId",
        E::Denied { .. } => "Denied",
        E::NoAddresses => "NoAddresses",
        E::Aborted => "Aborted",
        E::DialPeerConditionFalse(_) => "DialPeerConditionFalse",
        E::LocalPeerId { .. } => "LocalPeerId",
    }
    .into()
}

/// A raw SOCKS stream to `target`: the connect time and `pings` round trips of 32 bytes.
async fn raw_dial(
    socks: &LocalAddr,
    target: &OnionSocketAddr,
    pings: usize,
    interval: Duration,
) -> Result<(Duration, Vec<f64>), (String, String, f64)> {
    let started = Instant::now();
    let config = torp2p_socks::Config::new()
        .with_isolation(Isolation::PerConnection)
        .with_timeout(Duration::from_secs(3600));
    let dial_target = DialTarget::Onion(*target);
    let mut s = torp2p_socks::connect(socks, &dial_target, None, &config)
        .await
        .map_err(|e| {
            (
                format!("{:?}", tor::DialFailure::of_socks(&e)),
                e.to_string(),
                started.elapsed().as_secs_f64(),
            )
        })?;
    let connect = started.elapsed();
    let io_err = |e: std::io::Error| {
        (
            "Io".to_string(),
            e.to_string(),
            started.elapsed().as_secs_f64(),
        )
    };
    let mut rtts = Vec::with_capacity(pings);
    let mut buf = [0u8; PING_BYTES];
    for i in 0..pings {
        if i > 0 {
            tokio::time::sleep(interval).await;
        }
        let t = Instant::now();
        s.write_all(&[i as u8; PING_BYTES]).await.map_err(io_err)?;
        s.read_exact(&mut buf).await.map_err(io_err)?;
        rtts.push(ms(t.elapsed()));
    }
    let _ = s.shutdown().await;
    Ok((connect, rtts))
}

async fn echo(s: torp2p_daemon::IncomingStream) {
    match s {
        torp2p_daemon::IncomingStream::Tcp(s) => echo_bytes(s).await,
        torp2p_daemon::IncomingStream::Unix(s) => echo_bytes(s).await,
    }
}

async fn echo_bytes(mut s: impl tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin) {
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if s.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Attaches to the host's tor and waits until it has bootstrapped, which it reports.
pub(crate) async fn attach_bootstrapped(control: SocketAddr) -> Result<Tor, String> {
    let tor = attach(control).await?;
    tor.wait_bootstrapped(Duration::from_secs(600))
        .await
        .map_err(|e| format!("tor did not bootstrap: {e}"))?;
    emit(json!({ "event": "bootstrapped" }));
    Ok(tor)
}

/// Attaches to the host's tor, polling until its control port answers (both start at about
/// the same simulated second).
async fn attach(control: SocketAddr) -> Result<Tor, String> {
    let mut last = String::new();
    for _ in 0..120 {
        let config = AttachConfig::new(LocalAddr::Tcp(control))
            .with_auth(AuthMethod::Auto { password: None });
        match Tor::attach(config).await {
            Ok(tor) => return Ok(tor),
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    Err(format!("cannot attach to the tor at {control}: {last}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_torp2p_dial_has_a_deadline_here() {
        let current = |kind| Current {
            target: 1,
            kind,
            started: Instant::now(),
            start_t: 0.0,
            connection: None,
            connected: None,
            rtts: Vec::new(),
        };
        let timeout = Duration::from_secs(120);
        assert_eq!(torp2p_deadline(None, timeout), None);
        assert_eq!(torp2p_deadline(Some(&current(Kind::Raw)), timeout), None);
        let c = current(Kind::Torp2p);
        assert_eq!(
            torp2p_deadline(Some(&c), timeout),
            Some(tokio::time::Instant::from_std(c.started + timeout))
        );
    }

    #[test]
    fn a_swarm_dial_error_gives_the_tor_failure_inside_it() {
        use libp2p_core::transport::TransportError;
        let target: OnionSocketAddr =
            OnionSocketAddr::new(OnionKey::generate().onion_address(), 4001).unwrap();
        let addr: Multiaddr = target.to_multiaddr();
        let socks = torp2p_socks::DialError::IntroductionFailed {
            target: DialTarget::Onion(target),
        };
        let e = libp2p_swarm::DialError::Transport(vec![
            (
                addr.clone(),
                TransportError::MultiaddrNotSupported(addr.clone()),
            ),
            (addr, TransportError::Other(std::io::Error::other(socks))),
        ]);
        assert_eq!(dial_reason(&e), "IntroductionFailed");
        assert_eq!(dial_reason(&libp2p_swarm::DialError::Aborted), "Aborted");
    }

    #[test]
    fn a_dial_argument_is_read_or_refused_with_what_was_wrong() {
        let key = OnionKey::generate();
        let raw = OnionSocketAddr::new(OnionKey::generate().onion_address(), 5001).unwrap();
        let addr = tor::listen_addr(&key, 4001).unwrap();
        let peer = tor::identity_from_key(&key).public().to_peer_id();
        let t: Target = format!("3,{raw},{addr}/p2p/{peer},torp2p").parse().unwrap();
        assert_eq!((t.index, t.raw_first), (3, false));
        assert_eq!(t.raw, raw);
        for bad in [
            "3".to_string(),
            format!("x,{raw},{addr},raw"),
            format!("3,nope.onion:1,{addr},raw"),
            format!("3,{raw},{addr},first"),
        ] {
            assert!(bad.parse::<Target>().is_err(), "{bad}");
        }
    }
}
