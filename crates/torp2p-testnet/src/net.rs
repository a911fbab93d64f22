//! [`TestNet`] and its [`Builder`].

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use torp2p_daemon::{Config, Tor, keygen};

use crate::arti::{ArtiNode, arti_toml, read_identity};
use crate::consensus;
use crate::error::Error;
use crate::ports::free_ports;

/// How often the authorities' consensus is checked while the network starts.
const CONSENSUS_POLL: Duration = Duration::from_millis(250);
/// How many times [`Builder::start`] starts a network whose port another process took.
const START_ATTEMPTS: usize = 3;

/// The authorities' `V3AuthVotingInterval`, in seconds.
///
/// Under `TestingTorNetwork`, C tor's onion-service time period is 24 voting intervals
/// (tor's `hs_common.c`, `get_time_period_length`, in whole minutes) and starts 12 voting
/// intervals after each multiple of it. arti takes the period from the consensus parameter
/// `hsdir_interval` (whole minutes, at least 5) and the offset from the consensus's voting
/// interval. Both agree only if 24 intervals are at least 5 minutes and 12 intervals are
/// whole minutes: 15 s is the shortest such interval (6-minute periods). With 10 s, C tor's
/// period is 4 minutes, arti's at least 5, and onion services of one cannot be reached by
/// the other.
pub const VOTING_INTERVAL_SECS: u64 = 15;

/// The onion-service time period of the network, in minutes (24 voting intervals): the value
/// of `hsdir_interval` an arti client of this network needs (the `arti.toml` sets it).
pub const HS_TIME_PERIOD_MINUTES: u64 = 24 * VOTING_INTERVAL_SECS / 60;

/// The file, in [`TestNet::dir`], with the torrc lines a tor needs to join the network.
pub const CLIENT_TORRC: &str = "client.torrc";

/// The file, in [`TestNet::dir`], with the configuration an arti client needs to join the
/// network (arti's TOML format).
pub const ARTI_TOML: &str = "arti.toml";

/// Settings of a [`TestNet`]; start it with [`Builder::start`].
#[derive(Debug, Clone)]
pub struct Builder {
    authorities: usize,
    relays: usize,
    base_dir: Option<PathBuf>,
    keep_dir: bool,
    start_timeout: Duration,
    client_timeout: Duration,
    tor_bin: Option<PathBuf>,
}

impl Builder {
    /// The defaults:
    /// - 3 directory authorities and 4 relays (measured on a 2-core machine: 46 of 46 runs
    ///   connected with 4 relays; 1 relay stalls, 0 never works);
    /// - a temporary base directory, deleted on drop unless a thread is panicking (a failing
    ///   test) or [`Builder::keep_dir`] was set; the directory then stays with every node's log;
    /// - 120 s for the consensus to list every relay, 120 s for a client to bootstrap;
    /// - tor from `$TOR_BIN` or `PATH`.
    pub fn new() -> Self {
        Self {
            authorities: 3,
            relays: 4,
            base_dir: None,
            keep_dir: false,
            start_timeout: Duration::from_secs(120),
            client_timeout: Duration::from_secs(120),
            tor_bin: None,
        }
    }

    /// Number of directory authorities (at least 1).
    pub fn authorities(mut self, n: usize) -> Self {
        self.authorities = n.max(1);
        self
    }

    /// Number of relays besides the authorities (at least 2 for onion services to work).
    ///
    /// A network that must keep serving onion services after a relay dies
    /// ([`TestNet::kill_node`]) needs more than the default 4: use 10. Onion service circuits
    /// are up to 4 hops of distinct relays (a client's introduction circuit, a service's
    /// rendezvous circuit, descriptor fetches and uploads), and the authorities hardly count in
    /// path selection (tor 0.4.9 gives them no measured bandwidth: consensus weight 10–20
    /// against 1000 for a relay). With 4 relays every such circuit goes through every relay,
    /// the dead one included, while the consensus still lists it as `Running`: an onion service
    /// cannot build rendezvous circuits, burns its budget of introduction circuits (28 per
    /// 300 s) within seconds, and new clients cannot reach it for minutes. With 10 relays a new
    /// client connected at its first dial in every measured run; see "After a relay dies, new
    /// peers cannot connect" in the book's troubleshooting chapter.
    pub fn relays(mut self, n: usize) -> Self {
        self.relays = n;
        self
    }

    /// Put the network's files under `dir` (created if missing) and keep them.
    pub fn base_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.base_dir = Some(dir.into());
        self.keep_dir = true;
        self
    }

    /// Keep the network's directory (logs, keys, torrcs) after it stops.
    pub fn keep_dir(mut self, keep: bool) -> Self {
        self.keep_dir = keep;
        self
    }

    /// How long [`Builder::start`] waits for a consensus listing every relay. Any duration
    /// works; `Duration::MAX` waits without a deadline.
    pub fn start_timeout(mut self, timeout: Duration) -> Self {
        self.start_timeout = timeout;
        self
    }

    /// How long [`TestNet::spawn_client`] waits for a client to bootstrap. Any duration works;
    /// `Duration::MAX` waits without a deadline.
    pub fn client_timeout(mut self, timeout: Duration) -> Self {
        self.client_timeout = timeout;
        self
    }

    /// The tor binary (tor-gencert is looked for beside it).
    pub fn tor_bin(mut self, path: impl Into<PathBuf>) -> Self {
        self.tor_bin = Some(path.into());
        self
    }

    /// Generates keys, starts every authority and relay, and returns once an authority's
    /// consensus lists every relay with the flags onion services need (HSDir, Guard, Stable,
    /// Fast). On failure all started tors are killed, the directory is kept, and the error
    /// names it.
    pub async fn start(self) -> Result<TestNet, Error> {
        // The ports are chosen free, then bound by the tors a moment later: a network starting
        // beside it (tests run side by side) can take one in between. Such a start is tried
        // again with other ports, a few times.
        let mut attempt = 1;
        loop {
            match self.start_once().await {
                Err(e)
                    if attempt < START_ATTEMPTS && self.base_dir.is_none() && e.is_port_taken() =>
                {
                    tracing::warn!(attempt, error = %e, "a port of the network was taken meanwhile; starting again with other ports");
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    async fn start_once(&self) -> Result<TestNet, Error> {
        let dir = match &self.base_dir {
            Some(d) => {
                std::fs::create_dir_all(d).map_err(|source| Error::Io {
                    what: "cannot create the network directory",
                    path: d.clone(),
                    source,
                })?;
                Dir::Kept(d.clone())
            }
            None => Dir::Temp(
                tempfile::Builder::new()
                    .prefix("torp2p-testnet-")
                    .tempdir()
                    .map_err(|source| Error::Io {
                        what: "cannot create a temporary directory in",
                        path: std::env::temp_dir(),
                        source,
                    })?,
            ),
        };
        let keep = AtomicBool::new(self.keep_dir);
        let result = start_nodes(self, dir.path()).await;
        match result {
            Ok((nodes, client_torrc, arti_toml)) => Ok(TestNet {
                nodes,
                client_torrc,
                arti_toml,
                clients: AtomicUsize::new(0),
                start_timeout: self.start_timeout,
                client_timeout: self.client_timeout,
                tor_bin: self.tor_bin.clone(),
                keep,
                dir: Some(dir),
            }),
            Err(e) => {
                let path = dir.persist();
                tracing::warn!(dir = %path.display(), "test network failed to start; files kept");
                Err(e)
            }
        }
    }

    /// Starts the network, runs `scenario` on it, and shuts it down, whatever the outcome: the
    /// one way to run a test on a private network.
    ///
    /// - If the network does not start, `scenario` is not run and the error is returned
    ///   (converted into `E`); the directory is kept and the error names it, as with
    ///   [`Builder::start`].
    /// - If `scenario` returns `Err`, the network's directory is kept and its path printed on
    ///   stderr (`torp2p-testnet: network files kept in ...`), so that every node's log can be
    ///   read after the failure.
    /// - If `scenario` returns `Ok`, the directory is deleted (unless [`Builder::keep_dir`] or
    ///   [`Builder::base_dir`] asked to keep it).
    /// - If `scenario` panics, the network is dropped while unwinding: its tors are killed and
    ///   its directory kept and printed (see [`TestNet`]).
    ///
    /// Except on a panic, every tor of the network is reaped before this returns
    /// ([`TestNet::shutdown`]). Clients that `scenario` spawned are its own to shut down.
    ///
    /// `E` is the scenario's error type; `Box<dyn std::error::Error>` works, as does any error
    /// type with a `From<torp2p_testnet::Error>` conversion.
    pub async fn run<T, E>(
        self,
        scenario: impl AsyncFnOnce(&mut TestNet) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<Error>,
    {
        let mut net = self.start().await?;
        let result = scenario(&mut net).await;
        if result.is_err() {
            // Printed by the drop at the end of `shutdown`.
            net.keep_dir();
        }
        net.shutdown().await;
        result
    }
}

impl Default for Builder {
    fn default() -> Self {
        Self::new()
    }
}

/// A private Tor network on 127.0.0.1: directory authorities and relays, each a real `tor`
/// process with `TestingTorNetwork 1`. Clients join it with [`TestNet::client_config`] (for a
/// tor your own code spawns) or [`TestNet::spawn_client`]; [`TestNet::spawn_system_tor`] starts
/// one as a distribution's tor service runs (as its own user), for an application to attach to;
/// an arti client with the configuration in [`TestNet::arti_toml_path`].
///
/// Dropping it kills every tor of the network; [`TestNet::shutdown`] also waits until they
/// are reaped.
pub struct TestNet {
    // Dropped first: the tors die before their directory goes.
    nodes: Vec<Node>,
    client_torrc: Vec<String>,
    arti_toml: String,
    clients: AtomicUsize,
    start_timeout: Duration,
    client_timeout: Duration,
    tor_bin: Option<PathBuf>,
    keep: AtomicBool,
    dir: Option<Dir>,
}

struct Node {
    name: String,
    authority: bool,
    /// Its RSA identity fingerprint, 40 upper-case hex digits.
    fingerprint: String,
    tor: Tor,
    /// Where it listens: its ORPort, and its DirPort if it is an authority.
    ports: Vec<u16>,
}

impl std::fmt::Debug for TestNet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestNet")
            .field(
                "nodes",
                &self.nodes.iter().map(|n| &n.name).collect::<Vec<_>>(),
            )
            .field("dir", &self.dir())
            .finish()
    }
}

impl TestNet {
    /// A builder with the defaults (see [`Builder::new`]).
    pub fn builder() -> Builder {
        Builder::new()
    }

    /// The torrc lines a tor needs to join this network as a client or onion service host.
    pub fn client_torrc(&self) -> &[String] {
        &self.client_torrc
    }

    /// The file with the lines of [`TestNet::client_torrc`], one per line:
    /// [`CLIENT_TORRC`] in the network's directory.
    pub fn client_torrc_path(&self) -> PathBuf {
        self.dir().join(CLIENT_TORRC)
    }

    /// An arti configuration (arti's own TOML format) that joins this network: the
    /// authorities, every node as a fallback cache, no subnet families on loopback, the
    /// network's onion-service time period ([`HS_TIME_PERIOD_MINUTES`]), and storage in
    /// `arti/` of the network's directory. Two arti clients need two storage directories.
    pub fn arti_toml(&self) -> &str {
        &self.arti_toml
    }

    /// The file with [`TestNet::arti_toml`]: [`ARTI_TOML`] in the network's directory, beside
    /// [`TestNet::client_torrc_path`]. Any arti-based program joins the network with it (e.g.
    /// `arti proxy -c <file>`).
    pub fn arti_toml_path(&self) -> PathBuf {
        self.dir().join(ARTI_TOML)
    }

    /// A daemon configuration that joins this network (the lines of
    /// [`TestNet::client_torrc`], and a data directory inside the network's directory, so its
    /// log is kept with the others).
    pub fn client_config(&self) -> Config {
        let n = self.clients.fetch_add(1, Ordering::Relaxed);
        let dir = self.dir().join(format!("client{n}"));
        let mut config = Config::new()
            .with_data_dir(&dir)
            .with_torrc_lines(self.client_torrc.iter().cloned())
            .with_torrc_line(format!(
                "Log notice file {}",
                dir.join("notice.log").display()
            ));
        if let Some(bin) = &self.tor_bin {
            config = config.with_tor_bin(bin);
        }
        config
    }

    /// Starts a client tor joined to this network and waits until it has bootstrapped.
    pub async fn spawn_client(&self) -> Result<Tor, Error> {
        let config = self.client_config();
        let name = config
            .data_dir()
            .and_then(Path::file_name)
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "client".into());
        let fail = |source| {
            self.keep.store(true, Ordering::Relaxed);
            Error::Node {
                node: name.clone(),
                dir: self.dir().to_path_buf(),
                source: Box::new(source),
            }
        };
        let tor = Tor::spawn(config).await.map_err(fail)?;
        tor.wait_bootstrapped(self.client_timeout)
            .await
            .map_err(fail)?;
        Ok(tor)
    }

    /// The tor binary the builder named, if any.
    pub(crate) fn tor_bin(&self) -> Option<&Path> {
        self.tor_bin.as_deref()
    }

    /// How long a client may take to bootstrap.
    pub(crate) fn client_timeout(&self) -> Duration {
        self.client_timeout
    }

    /// The network's directory: every node's data directory, torrc and `notice.log`.
    pub fn dir(&self) -> &Path {
        self.dir.as_ref().map(Dir::path).unwrap_or(Path::new(""))
    }

    /// Keep the directory after the network stops.
    pub fn keep_dir(&self) {
        self.keep.store(true, Ordering::Relaxed);
    }

    /// The PIDs of the network's own tors (authorities and relays; not clients).
    pub fn pids(&self) -> Vec<u32> {
        self.nodes.iter().filter_map(|n| n.tor.pid()).collect()
    }

    /// The TCP addresses the network's tors listen on: every node's ORPort and every
    /// authority's DirPort, all on 127.0.0.1, in node order. A client of this network connects
    /// to these and to nothing else (the leak test of `cargo xtask leaks` allows exactly
    /// these). A node stopped with [`TestNet::kill_node`] is no longer listed.
    pub fn ports(&self) -> Vec<SocketAddr> {
        self.nodes
            .iter()
            .flat_map(|n| &n.ports)
            .map(|&p| SocketAddr::from((Ipv4Addr::LOCALHOST, p)))
            .collect()
    }

    /// The names of the network's tors (`auth0`, `relay0`, ...) with their PIDs.
    pub fn nodes(&self) -> Vec<(String, Option<u32>)> {
        self.nodes
            .iter()
            .map(|n| (n.name.clone(), n.tor.pid()))
            .collect()
    }

    /// The RSA identity fingerprint of the running node `name` (`auth0`, `relay3`, ...): 40
    /// upper-case hex digits, as tor writes it in `GETINFO circuit-status`, `entry-guards` and
    /// `HS_DESC` events after the `$`. `None` if there is no such node, or it was stopped with
    /// [`TestNet::kill_node`].
    pub fn fingerprint(&self, name: &str) -> Option<&str> {
        self.nodes
            .iter()
            .find(|n| n.name == name)
            .map(|n| n.fingerprint.as_str())
    }

    /// The name of the running node whose RSA identity fingerprint is `fingerprint`: 40 hex
    /// digits in either case, optionally after a `$` and before tor's `~nickname` or
    /// `=nickname` (so a hop of `GETINFO circuit-status` works as it is). `None` if no running
    /// node has it (a node stopped with [`TestNet::kill_node`] is not found).
    pub fn node_with_fingerprint(&self, fingerprint: &str) -> Option<&str> {
        let fingerprint = fingerprint.strip_prefix('$').unwrap_or(fingerprint);
        let fingerprint = fingerprint.split(['~', '=']).next().unwrap_or(fingerprint);
        self.nodes
            .iter()
            .find(|n| n.fingerprint.eq_ignore_ascii_case(fingerprint))
            .map(|n| n.name.as_str())
    }

    /// Kills a relay (by name, e.g. `relay2`) and waits until it is reaped: for fault tests.
    /// Returns whether such a relay was running.
    ///
    /// The authorities keep listing the dead relay, `Running` included, in every consensus for
    /// as long as a test runs, as the real network does between reachability tests: an
    /// authority tests each relay's ORPort only once per 128 × 10 s (about 21 minutes) and
    /// votes it `Running` for 45 minutes after the last success. Every tor keeps picking it in
    /// paths (as a middle hop, introduction point, HSDir, rendezvous point or layer-2 guard),
    /// and only a tor that failed to reach it as its own first hop skips it, until the next
    /// consensus. See [`TestNet::consensus_flags`], [`TestNet::drop_from_consensus`] to make
    /// the authorities drop it at once, and [`Builder::relays`] for the size of network that
    /// survives this.
    pub async fn kill_node(&mut self, name: &str) -> bool {
        match self.nodes.iter().position(|n| n.name == name) {
            Some(i) => {
                self.nodes.remove(i).tor.shutdown().await;
                true
            }
            None => false,
        }
    }

    /// The flags that the consensus of the network's first running authority gives the node
    /// `nickname` (`relay0`, `auth1`, ...; from `GETINFO ns/all`), or `None` if it is not
    /// listed. A relay killed with [`TestNet::kill_node`] stays listed with `Running`.
    ///
    /// # Errors
    ///
    /// [`Error::NoAuthority`] if every authority was killed; [`Error::Node`] if the authority
    /// cannot answer (e.g. it has no consensus yet).
    pub async fn consensus_flags(&self, nickname: &str) -> Result<Option<Vec<String>>, Error> {
        let authority = self.nodes.iter().find(|n| n.authority);
        let Some(authority) = authority else {
            return Err(Error::NoAuthority {
                dir: self.dir().to_path_buf(),
            });
        };
        let ns = authority
            .tor
            .get_info("ns/all")
            .await
            .map_err(|e| Error::Node {
                node: authority.name.clone(),
                dir: self.dir().to_path_buf(),
                source: Box::new(e),
            })?;
        Ok(consensus::relay_flags(&ns).remove(nickname))
    }

    /// The shared random values of the network's first running authority (`GETINFO
    /// sr/previous` and `sr/current`): `(previous, current)`, each `None` if it has none.
    ///
    /// A new network has both from its first vote on: the authorities start with the same
    /// two random values in their `sr-state` files, as the live network always has two. At
    /// the end of each shared-random protocol run (24 voting intervals, 6 minutes, aligned to
    /// multiples of 6 minutes since the epoch) the current value becomes the previous one and
    /// the authorities compute a new current one. Without them (as on a network started
    /// without the seed) the first value came 3–9 minutes after the start, the second 6
    /// minutes later, and arti reported its onion services reachable only then: it needs
    /// descriptors for two time periods, and places the second with a shared random value
    /// only.
    ///
    /// # Errors
    ///
    /// [`Error::NoAuthority`] if every authority was killed; [`Error::Node`] if the authority
    /// cannot answer.
    pub async fn shared_random_values(&self) -> Result<(Option<String>, Option<String>), Error> {
        let Some(authority) = self.nodes.iter().find(|n| n.authority) else {
            return Err(Error::NoAuthority {
                dir: self.dir().to_path_buf(),
            });
        };
        let mut values = [None, None];
        for (slot, key) in values.iter_mut().zip(["sr/previous", "sr/current"]) {
            let v = authority.tor.get_info(key).await.map_err(|e| Error::Node {
                node: authority.name.clone(),
                dir: self.dir().to_path_buf(),
                source: Box::new(e),
            })?;
            let v = v.trim();
            *slot = (!v.is_empty()).then(|| v.to_string());
        }
        let [previous, current] = values;
        Ok((previous, current))
    }

    /// Makes the directory authorities drop the relay with `fingerprint` (40 hex digits, as
    /// [`TestNet::fingerprint`] gives it, e.g. before [`TestNet::kill_node`]) from the
    /// consensus now, as they would after their reachability test of a dead relay (about 21
    /// minutes on this network): a `!reject` line in every running authority's
    /// `approved-routers`, then `SIGNAL RELOAD`. Returns once the first running authority's
    /// consensus no longer lists the relay (one vote later, about 5–10 s), at most the
    /// builder's start timeout. Clients learn it at their next consensus fetch, within about
    /// 20 s more (`GETINFO ns/id/<fingerprint>` on a client fails once it has).
    ///
    /// # Errors
    ///
    /// [`Error::NoAuthority`] if every authority was killed; [`Error::Io`] if an
    /// `approved-routers` file cannot be written; [`Error::Node`] if an authority refuses the
    /// reload or goes away; [`Error::StillListed`] on the timeout.
    pub async fn drop_from_consensus(&self, fingerprint: &str) -> Result<(), Error> {
        let fingerprint = fingerprint.trim_start_matches('$').to_ascii_uppercase();
        let authorities: Vec<&Node> = self.nodes.iter().filter(|n| n.authority).collect();
        if authorities.is_empty() {
            return Err(Error::NoAuthority {
                dir: self.dir().to_path_buf(),
            });
        }
        let node_err = |node: &Node, e| Error::Node {
            node: node.name.clone(),
            dir: self.dir().to_path_buf(),
            source: Box::new(e),
        };
        for node in &authorities {
            let path = self.dir().join(&node.name).join("approved-routers");
            let mut lines = std::fs::read_to_string(&path).unwrap_or_default();
            lines.push_str(&format!("!reject {fingerprint}\n"));
            std::fs::write(&path, lines).map_err(|source| Error::Io {
                what: "cannot write",
                path: path.clone(),
                source,
            })?;
            node.tor.reload().await.map_err(|e| node_err(node, e))?;
        }
        let authority = authorities[0];
        let deadline = tokio::time::Instant::now().checked_add(self.start_timeout);
        let key = format!("ns/id/{fingerprint}");
        loop {
            match authority.tor.get_info(&key).await {
                // 552: tor does not know the relay (any more).
                Err(torp2p_daemon::Error::Command { code: 552, .. }) => return Ok(()),
                Err(e) if e.is_tor_gone() => return Err(node_err(authority, e)),
                Ok(_) | Err(_) => {}
            }
            if deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
                return Err(Error::StillListed {
                    fingerprint,
                    timeout: self.start_timeout,
                    dir: self.dir().to_path_buf(),
                });
            }
            tokio::time::sleep(CONSENSUS_POLL).await;
        }
    }

    /// Kills every tor of the network and waits until each is reaped.
    pub async fn shutdown(mut self) {
        for node in std::mem::take(&mut self.nodes) {
            node.tor.shutdown().await;
        }
    }
}

impl Drop for TestNet {
    fn drop(&mut self) {
        self.nodes.clear();
        let keep = self.keep.load(Ordering::Relaxed) || std::thread::panicking();
        if let Some(dir) = self.dir.take()
            && keep
        {
            let path = dir.persist();
            eprintln!("torp2p-testnet: network files kept in {}", path.display());
        }
    }
}

/// A directory deleted on drop, or one that is kept.
pub(crate) enum Dir {
    Temp(tempfile::TempDir),
    Kept(PathBuf),
}

impl Dir {
    pub(crate) fn path(&self) -> &Path {
        match self {
            Dir::Temp(t) => t.path(),
            Dir::Kept(p) => p,
        }
    }

    pub(crate) fn persist(self) -> PathBuf {
        match self {
            Dir::Temp(t) => t.keep(),
            Dir::Kept(p) => p,
        }
    }
}

/// Which part a tor plays.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Authority,
    Relay,
}

/// What we know of a node before it starts.
struct Plan {
    name: String,
    role: Role,
    dir: PathBuf,
    or_port: u16,
    dir_port: u16,
    fingerprint: String,
    ed25519: String,
    v3ident: Option<String>,
}

/// The started nodes, the client torrc lines and the `arti.toml` text.
type Started = (Vec<Node>, Vec<String>, String);

async fn start_nodes(b: &Builder, base: &Path) -> Result<Started, Error> {
    let count = b.authorities + b.relays;
    let ports = free_ports(count + b.authorities)?;
    let tor_bin = b.tor_bin.as_deref();
    let node_err = |node: &str, source| Error::Node {
        node: node.to_string(),
        dir: base.to_path_buf(),
        source: Box::new(source),
    };

    // Keys and fingerprints, made by tor's own tools.
    let mut plans = Vec::with_capacity(count);
    for i in 0..count {
        let (name, role) = if i < b.authorities {
            (format!("auth{i}"), Role::Authority)
        } else {
            (format!("relay{}", i - b.authorities), Role::Relay)
        };
        let dir = base.join(&name);
        let or_port = ports[i];
        let dir_port = if role == Role::Authority {
            ports[count + i]
        } else {
            0
        };
        let v3ident = if role == Role::Authority {
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, dir_port));
            Some(
                keygen::create_authority_keys(tor_bin, &dir.join("keys"), addr)
                    .await
                    .map_err(|e| node_err(&name, e))?,
            )
        } else {
            None
        };
        let fingerprint = keygen::relay_fingerprint(tor_bin, &dir)
            .await
            .map_err(|e| node_err(&name, e))?;
        // Written by `tor --list-fingerprint` beside `fingerprint`, from the node's ed25519
        // master identity key, which the node keeps using.
        let ed_file = dir.join("fingerprint-ed25519");
        let ed25519 = read_identity(&ed_file).map_err(|source| Error::Io {
            what: "cannot read the ed25519 identity in",
            path: ed_file.clone(),
            source,
        })?;
        plans.push(Plan {
            name,
            role,
            dir,
            or_port,
            dir_port,
            fingerprint,
            ed25519,
            v3ident,
        });
    }

    // Shared random values from the first vote on, as the live network has them.
    crate::shared_random::seed(
        plans
            .iter()
            .filter(|p| p.role == Role::Authority)
            .map(|p| p.dir.as_path()),
    )?;

    // Consensus weights from a bandwidth file, so that every relay gets Fast and Guard.
    let bw_file = base.join("bandwidth");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut bw = format!("{now}\n");
    for p in &plans {
        bw.push_str(&format!("node_id=${} bw=1000\n", p.fingerprint));
    }
    std::fs::write(&bw_file, bw).map_err(|source| Error::Io {
        what: "cannot write",
        path: bw_file.clone(),
        source,
    })?;

    let mut common: Vec<String> = plans
        .iter()
        .filter_map(|p| {
            let v3 = p.v3ident.as_ref()?;
            Some(format!(
                "DirAuthority {} orport={} no-v2 v3ident={v3} 127.0.0.1:{} {}",
                p.name, p.or_port, p.dir_port, p.fingerprint
            ))
        })
        .collect();
    // The Guard flag for the relays only (for every node if there are none): with it, the
    // authorities, whose weight is tiny, were still some tor's primary guard once in about 30
    // faults runs, and a test that kills "A's guard" among the relays found none.
    let relays: Vec<String> = plans
        .iter()
        .filter(|p| p.role == Role::Relay)
        .map(|p| format!("${}", p.fingerprint))
        .collect();
    if relays.is_empty() {
        common.push("TestingDirAuthVoteGuard *".into());
    } else {
        common.push(format!("TestingDirAuthVoteGuard {}", relays.join(",")));
        common.push("TestingDirAuthVoteGuardIsStrict 1".into());
    }
    common.extend(
        [
            "TestingTorNetwork 1",
            "PathsNeededToBuildCircuits 0.67",
            "TestingDirAuthVoteHSDir *",
            "V3AuthNIntervalsValid 2",
            "TestingMinExitFlagThreshold 0",
            "ShutdownWaitLength 0",
            "GeoIPFile",
            "GeoIPv6File",
        ]
        .map(String::from),
    );

    let mut spawns = Vec::with_capacity(count);
    for p in &plans {
        let mut lines = common.clone();
        lines.extend([
            format!("Nickname {}", p.name),
            format!("Log notice file {}", p.dir.join("notice.log").display()),
            "Address 127.0.0.1".into(),
            format!("ORPort 127.0.0.1:{}", p.or_port),
            "AssumeReachable 1".into(),
            "ExitRelay 0".into(),
            "ExitPolicy reject *:*".into(),
        ]);
        if p.role == Role::Authority {
            lines.extend([
                format!("DirPort 127.0.0.1:{}", p.dir_port),
                "AuthoritativeDirectory 1".into(),
                "V3AuthoritativeDirectory 1".into(),
                "TestingV3AuthInitialVotingInterval 5".into(),
                "TestingV3AuthInitialVoteDelay 2".into(),
                "TestingV3AuthInitialDistDelay 2".into(),
                format!("V3AuthVotingInterval {VOTING_INTERVAL_SECS}"),
                "V3AuthVoteDelay 2".into(),
                "V3AuthDistDelay 2".into(),
                format!("V3BandwidthsFile {}", bw_file.display()),
                "AuthDirVoteStableGuaranteeMinUptime 0".into(),
            ]);
        }
        let mut config = Config::new()
            .with_socks(false)
            .with_data_dir(&p.dir)
            .with_torrc_lines(lines);
        if let Some(bin) = tor_bin {
            config = config.with_tor_bin(bin);
        }
        let name = p.name.clone();
        let fingerprint = p.fingerprint.to_ascii_uppercase();
        let authority = p.role == Role::Authority;
        let ports = if authority {
            vec![p.or_port, p.dir_port]
        } else {
            vec![p.or_port]
        };
        spawns.push(tokio::spawn(async move {
            (
                name,
                authority,
                fingerprint,
                ports,
                Tor::spawn(config).await,
            )
        }));
    }
    let mut nodes = Vec::with_capacity(count);
    let mut first_err = None;
    for s in spawns {
        match s.await {
            Ok((name, authority, fingerprint, ports, Ok(tor))) => nodes.push(Node {
                name,
                authority,
                fingerprint,
                tor,
                ports,
            }),
            Ok((name, _, _, _, Err(e))) => {
                first_err.get_or_insert(node_err(&name, e));
            }
            Err(join) => {
                first_err.get_or_insert(Error::Io {
                    what: "a node's start task failed",
                    path: base.to_path_buf(),
                    source: std::io::Error::other(join.to_string()),
                });
            }
        }
    }
    if let Some(e) = first_err {
        for n in nodes {
            n.tor.shutdown().await;
        }
        return Err(e);
    }
    tracing::debug!(dir = %base.display(), "test network tors started; waiting for a consensus");

    let relays: Vec<String> = plans
        .iter()
        .filter(|p| p.role == Role::Relay)
        .map(|p| p.name.clone())
        .collect();
    if let Err(e) = wait_consensus(&nodes[0].tor, &relays, b.start_timeout, base).await {
        for n in nodes {
            n.tor.shutdown().await;
        }
        return Err(e);
    }

    let mut client = common;
    client.push("FetchDirInfoEarly 1".into());
    let arti_nodes: Vec<ArtiNode> = plans
        .iter()
        .map(|p| ArtiNode {
            rsa: p.fingerprint.clone(),
            ed25519: p.ed25519.clone(),
            or_port: p.or_port,
            authority: p.v3ident.clone().map(|v3| (v3, p.dir_port)),
        })
        .collect();
    let arti = arti_toml(&arti_nodes, HS_TIME_PERIOD_MINUTES, &base.join("arti"));
    for (file, text) in [
        (CLIENT_TORRC, client.join("\n") + "\n"),
        (ARTI_TOML, arti.clone()),
    ] {
        let path = base.join(file);
        if let Err(source) = std::fs::write(&path, text) {
            for n in nodes {
                n.tor.shutdown().await;
            }
            return Err(Error::Io {
                what: "cannot write",
                path,
                source,
            });
        }
    }
    Ok((nodes, client, arti))
}

/// Polls an authority's consensus until it lists every relay with the needed flags.
async fn wait_consensus(
    authority: &Tor,
    relays: &[String],
    timeout: Duration,
    base: &Path,
) -> Result<(), Error> {
    // No deadline for a timeout too long to be a point in time (e.g. `Duration::MAX`).
    let deadline = tokio::time::Instant::now().checked_add(timeout);
    let mut progress = authority.bootstrap_status();
    let mut missing = "no consensus yet".to_string();
    loop {
        match authority.get_info("ns/all").await {
            Ok(ns) => {
                missing = consensus::missing(&ns, relays);
                if missing.is_empty() {
                    // The first consensuses use `TestingV3AuthInitialVotingInterval`, and with
                    // it a shorter onion-service time period for C tor: wait for one made with
                    // the voting interval the `arti.toml` assumes.
                    match consensus_interval(authority).await {
                        Some(VOTING_INTERVAL_SECS) => return Ok(()),
                        other => {
                            missing = format!(
                                "a consensus with a {VOTING_INTERVAL_SECS} s voting interval \
                                 (the current one: {other:?} s)"
                            );
                        }
                    }
                }
            }
            Err(e) if e.is_tor_gone() => {
                return Err(Error::Node {
                    node: "auth0".into(),
                    dir: base.to_path_buf(),
                    source: Box::new(e),
                });
            }
            // No consensus yet: tor answers 551 or an empty value.
            Err(_) => {}
        }
        if deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
            return Err(Error::ConsensusTimeout {
                timeout,
                missing,
                dir: base.to_path_buf(),
            });
        }
        tokio::select! {
            _ = tokio::time::sleep(CONSENSUS_POLL) => {}
            // Bootstrap events often come with a new consensus: look at once.
            _ = progress.changed() => {}
        }
    }
}

/// The voting interval of `authority`'s current consensus (fresh-until minus valid-after), in
/// seconds.
async fn consensus_interval(authority: &Tor) -> Option<u64> {
    let after = authority.get_info("consensus/valid-after").await.ok()?;
    let fresh = authority.get_info("consensus/fresh-until").await.ok()?;
    consensus::seconds_between(&after, &fresh)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A timeout too long to be a point in time (`Duration::MAX`) means no deadline: the wait
    /// goes on until the test stops it, and never panics on `Instant + timeout`. A short one
    /// still ends in `ConsensusTimeout`. The authority is a real `tor --DisableNetwork 1`, which
    /// never has a consensus.
    #[tokio::test]
    async fn wait_consensus_takes_any_timeout() {
        let tor = Tor::spawn(Config::new().with_torrc_lines([
            "DisableNetwork 1",
            "GeoIPFile",
            "GeoIPv6File",
        ]))
        .await
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let relays = vec!["relay0".to_string()];
        let forever = wait_consensus(&tor, &relays, Duration::MAX, dir.path());
        let r = tokio::time::timeout(Duration::from_secs(2), forever).await;
        assert!(r.is_err(), "the wait ended: {r:?}");
        let r = wait_consensus(&tor, &relays, Duration::from_millis(300), dir.path()).await;
        assert!(matches!(r, Err(Error::ConsensusTimeout { .. })), "{r:?}");
        tor.shutdown().await;
    }
}
