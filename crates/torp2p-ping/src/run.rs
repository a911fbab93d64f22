//! The `listen` and `dial` commands.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use futures::StreamExt;
use libp2p_core::Multiaddr;
use libp2p_core::muxing::StreamMuxerBox;
use libp2p_core::transport::{Boxed, TransportError};
use libp2p_core::upgrade::Version;
use libp2p_identity::{Keypair, PeerId};
use libp2p_swarm::{Swarm, SwarmEvent};
use torp2p_addr::{DialAddr, DialTarget, OnionAddress};
use torp2p_daemon::{AttachConfig, AuthMethod, ClientAuthKey, ClientAuthPublicKey, OnionKey, Tor};
use torp2p_transport as tor;

use crate::cli::{Backend, Cli, Command};
use crate::output::Output;
use crate::progress;

pub(crate) async fn run(cli: Cli, storage: &ArtiStorage) -> Result<ExitCode, String> {
    // Check what the user gave before starting tor: a typo should not cost a bootstrap.
    match &cli.command {
        Command::Listen {
            key_file,
            port,
            exit_after,
            authorized_client,
        } => {
            let key = match key_file {
                Some(path) => OnionKey::load_or_generate(path)
                    .map_err(|e| format!("--key-file: {}", chain(&e)))?,
                None => OnionKey::generate(),
            };
            let listen_addr = tor::listen_addr(&key, *port).map_err(|e| e.to_string())?;
            let mut config = tor::Config::new().with_key(key.clone());
            if cli.local_tcp {
                config = config.with_listen_target(tor::ListenTarget::LoopbackTcp);
            }
            for client in authorized_client {
                config = config.with_authorized_client(authorized_client_key(client)?);
            }
            let (transport, tor) = transport(&cli, storage, config, "--authorized-client").await?;
            let out = cli.output();
            let result = listen(transport, &key, listen_addr, *exit_after, out).await;
            if let Some(tor) = tor {
                tor.shutdown().await;
            }
            result
        }
        Command::ClientAuthKeygen { address, name } => client_auth_keygen(address, name),
        Command::Dial {
            multiaddr,
            count,
            interval,
            timeout,
            client_auth,
        } => {
            // The address and the durations were checked by the parser (cli.rs).
            let text = multiaddr.to_string();
            let mut config = tor::Config::new();
            if let Some(file) = client_auth {
                let (service, key) = ClientAuthKey::load(file).map_err(|e| e.to_string())?;
                let dialed = match DialAddr::from_multiaddr(multiaddr).map(|a| a.target) {
                    Ok(DialTarget::Onion(o)) => *o.address(),
                    _ => return Err(format!("`{text}` is not an onion address")),
                };
                if service != dialed {
                    return Err(format!(
                        "--client-auth {}: the key is for {service}, not for the address dialed ({dialed})",
                        file.display()
                    ));
                }
                config = config.with_client_auth(service, key);
            }
            let (transport, tor) = transport(&cli, storage, config, "--client-auth").await?;
            let result = dial(
                transport,
                cli.output(),
                &text,
                multiaddr.clone(),
                *count,
                *interval,
                *timeout,
            )
            .await;
            if let Some(tor) = tor {
                tor.shutdown().await;
            }
            result
        }
    }
}

/// The transport on the backend the command line names, bootstrapped, with progress on
/// stderr; for C tor also its handle, to shut tor down at the end. `auth_flag` is the client
/// authorization flag of the command, named when the backend cannot do it.
async fn transport(
    cli: &Cli,
    storage: &ArtiStorage,
    config: tor::Config,
    auth_flag: &str,
) -> Result<(tor::Transport, Option<Tor>), String> {
    match cli.backend {
        Backend::Tor => {
            let tor = start_tor(cli).await?;
            let transport =
                tor::Transport::from_tor(tor.clone(), config).map_err(|e| e.to_string())?;
            Ok((transport, Some(tor)))
        }
        Backend::Arti => {
            let transport = start_arti(cli, storage, config, auth_flag).await?;
            Ok((transport, None))
        }
    }
}

/// The transport on an embedded arti, bootstrapped (a spinner meanwhile): joined to the
/// network `--arti-config` describes, its state in `storage`.
#[cfg(feature = "arti")]
async fn start_arti(
    cli: &Cli,
    storage: &ArtiStorage,
    config: tor::Config,
    auth_flag: &str,
) -> Result<tor::Transport, String> {
    let mut arti = tor::arti::Config::new();
    if let Some(file) = &cli.arti_config {
        arti = arti.with_file(file);
    }
    if let Some(dir) = storage.path() {
        arti = arti.with_storage_dir(dir);
    }
    let config = config
        .with_tor(arti)
        .with_bootstrap_timeout(cli.bootstrap_timeout);
    progress::arti_bootstrap(tor::Transport::new(config))
        .await
        .map_err(|e| match e {
            // Refused before arti starts: what the command line asked that arti cannot do.
            tor::Error::Unsupported { .. } => {
                format!("{e} (torp2p-ping: {auth_flag} needs --backend tor)")
            }
            e => format!("arti is not usable: {}", chain(&e)),
        })
}

/// Without the feature `arti` the parser refuses `--backend arti` (cli.rs); this is the same
/// refusal, should it get here.
#[cfg(not(feature = "arti"))]
async fn start_arti(
    _cli: &Cli,
    _storage: &ArtiStorage,
    _config: tor::Config,
    _auth_flag: &str,
) -> Result<tor::Transport, String> {
    Err(format!(
        "this torp2p-ping was built without the arti backend; build it with `{}`",
        crate::cli::BUILD_WITH_ARTI
    ))
}

/// arti's storage directory for this run: `--arti-storage`, or a fresh private temporary
/// directory (removed when this is dropped), or none (C tor). It must outlive the async
/// runtime: arti's tasks end with the runtime, and save their state into it then.
#[derive(Debug)]
pub(crate) enum ArtiStorage {
    /// Not arti.
    None,
    /// `--arti-storage DIR`.
    #[cfg_attr(not(feature = "arti"), allow(dead_code))]
    Given(std::path::PathBuf),
    /// A temporary directory (mode 0700), removed on drop.
    #[cfg(feature = "arti")]
    Temporary(tempfile::TempDir),
}

impl ArtiStorage {
    /// The storage the command line asks for.
    pub(crate) fn new(cli: &Cli) -> Result<Self, String> {
        if cli.backend != Backend::Arti {
            return Ok(Self::None);
        }
        if let Some(dir) = &cli.arti_storage {
            return Ok(Self::Given(dir.clone()));
        }
        #[cfg(feature = "arti")]
        {
            tempfile::Builder::new()
                .prefix("torp2p-ping-arti-")
                .tempdir()
                .map(Self::Temporary)
                .map_err(|e| format!("cannot create a temporary directory for arti: {e}"))
        }
        #[cfg(not(feature = "arti"))]
        Ok(Self::None)
    }

    /// The directory, if arti has one.
    #[cfg_attr(not(feature = "arti"), allow(dead_code))]
    fn path(&self) -> Option<&std::path::Path> {
        match self {
            Self::None => None,
            Self::Given(dir) => Some(dir),
            #[cfg(feature = "arti")]
            Self::Temporary(dir) => Some(dir.path()),
        }
    }
}

/// A tor of our own (optionally joined to a private network), or a running one.
async fn start_tor(cli: &Cli) -> Result<Tor, String> {
    let timeout = cli.bootstrap_timeout;
    let tor = if let Some(control) = &cli.tor_control {
        let auth = AuthMethod::Auto {
            password: cli.tor_control_password.clone(),
        };
        Tor::attach(AttachConfig::new(control.clone()).with_auth(auth))
            .await
            .map_err(|e| format!("cannot use the tor at {control}: {e}"))?
    } else {
        let mut config = torp2p_daemon::Config::new();
        if cli.local_tcp {
            config = config.with_listeners(torp2p_daemon::Listeners::Tcp);
        }
        if let Some(bin) = &cli.tor_bin {
            config = config.with_tor_bin(bin);
        }
        if let Some(file) = &cli.torrc_extra {
            config = config
                .with_torrc_file(file)
                .map_err(|e| format!("--torrc-extra: {}", chain(&e)))?;
        }
        Tor::spawn(config).await.map_err(|e| match e.tor_log() {
            Some(log) => format!("cannot start tor: {e}\ntor's last log lines:\n{log}"),
            None => format!("cannot start tor: {e}"),
        })?
    };
    progress::bootstrap(&tor, timeout)
        .await
        .map_err(|e| format!("tor is not usable: {e}"))?;
    Ok(tor)
}

fn swarm(
    transport: tor::Transport,
    keypair: &Keypair,
    interval: Duration,
) -> Result<Swarm<libp2p_ping::Behaviour>, String> {
    let transport: Boxed<(PeerId, StreamMuxerBox)> =
        transport.upgraded(keypair).map_err(|e| e.to_string())?;
    let behaviour = libp2p_ping::Behaviour::new(libp2p_ping::Config::new().with_interval(interval));
    Ok(Swarm::new(
        transport,
        behaviour,
        keypair.public().to_peer_id(),
        // Ping does not keep a connection alive (libp2p-ping marks its streams
        // `ignore_for_keep_alive`): with 120 s, a `dial --count 200` would lose its connection
        // to `KeepAliveTimeout` after two minutes (read in libp2p's code, not run). Connections
        // end when a peer closes them or the process exits.
        libp2p_swarm::Config::with_tokio_executor()
            .with_idle_connection_timeout(Duration::from_secs(24 * 3600))
            // Lazy multistream-select on substreams too: one round trip less per new
            // substream, which over Tor is tens of milliseconds.
            .with_substream_upgrade_protocol_override(Version::V1Lazy),
    ))
}

/// A listener's authorized client: a `<name>.auth` file, or the public key itself.
fn authorized_client_key(given: &str) -> Result<ClientAuthPublicKey, String> {
    if let Ok(key) = given.parse::<ClientAuthPublicKey>() {
        return Ok(key);
    }
    ClientAuthPublicKey::load(given).map_err(|e| format!("--authorized-client: {e}"))
}

/// `client-auth-keygen ADDRESS NAME`.
fn client_auth_keygen(address: &str, name: &std::path::Path) -> Result<ExitCode, String> {
    let service = match address.parse::<OnionAddress>() {
        Ok(a) => a,
        Err(text_error) => match address.parse::<DialAddr>().map(|a| a.target) {
            Ok(DialTarget::Onion(o)) => *o.address(),
            _ => return Err(format!("bad address: {text_error}")),
        },
    };
    let with = |ext: &str| {
        let mut p = name.as_os_str().to_owned();
        p.push(ext);
        std::path::PathBuf::from(p)
    };
    let (public, private) = (with(".auth"), with(".auth_private"));
    for p in [&public, &private] {
        if p.symlink_metadata().is_ok() {
            return Err(format!(
                "{} exists: choose another NAME, or remove it first",
                p.display()
            ));
        }
    }
    let key = ClientAuthKey::generate().map_err(|e| e.to_string())?;
    key.save(&private, &service).map_err(|e| e.to_string())?;
    key.public_key().save(&public).map_err(|e| e.to_string())?;
    eprintln!(
        "wrote {} (for the listener: --authorized-client) and {} (secret, for the dialer: --client-auth)",
        public.display(),
        private.display()
    );
    Ok(ExitCode::SUCCESS)
}

async fn listen(
    transport: tor::Transport,
    key: &OnionKey,
    listen_addr: Multiaddr,
    exit_after: Option<u32>,
    out: Output,
) -> Result<ExitCode, String> {
    // One key file: the identity is derived from the onion service key.
    let keypair = tor::identity_from_key(key);
    let mut swarm = swarm(transport, &keypair, Duration::from_secs(1))?;
    swarm
        .listen_on(listen_addr)
        .map_err(|e| format!("cannot listen: {e}"))?;
    let spinner = progress::spinner("publishing the onion service's descriptor");
    let peer = *swarm.local_peer_id();
    let mut answered = 0u32;
    loop {
        let event = tokio::select! {
            e = swarm.select_next_some() => e,
            _ = tokio::signal::ctrl_c() => {
                note!("stopping");
                return Ok(ExitCode::SUCCESS);
            }
        };
        match event {
            SwarmEvent::NewListenAddr { address, .. } => {
                if let Some(s) = &spinner {
                    s.finish_and_clear();
                }
                // stdout carries the address alone, for scripts; people read stderr.
                out.listening(&format!("{address}/p2p/{peer}"));
                note!("listening; dial with: torp2p-ping dial {address}/p2p/{peer}");
            }
            SwarmEvent::ConnectionEstablished { peer_id, .. } => out.connection(&peer_id),
            SwarmEvent::Behaviour(libp2p_ping::Event { peer, result, .. }) => match result {
                Ok(rtt) => {
                    answered += 1;
                    out.answered(&peer, rtt);
                    if exit_after.is_some_and(|n| answered >= n) {
                        return Ok(ExitCode::SUCCESS);
                    }
                }
                Err(e) => out.ping_failed(Some(&peer), &e.to_string()),
            },
            SwarmEvent::ConnectionClosed { peer_id, cause, .. } => {
                note!(
                    "connection from {peer_id} closed{}",
                    cause.map(|c| format!(": {c}")).unwrap_or_default()
                );
            }
            SwarmEvent::ListenerClosed { reason, .. } => {
                return Err(match reason {
                    Ok(()) => "the listener closed".into(),
                    Err(e) => format!("the listener closed: {}", explain(&e)),
                });
            }
            SwarmEvent::ListenerError { error, .. } => {
                note!("listener error: {}", explain(&error));
            }
            _ => {}
        }
    }
}

async fn dial(
    transport: tor::Transport,
    out: Output,
    text: &str,
    addr: Multiaddr,
    count: u32,
    interval: Duration,
    timeout: Duration,
) -> Result<ExitCode, String> {
    let keypair = Keypair::generate_ed25519();
    let mut swarm = swarm(transport, &keypair, interval)?;
    let started = Instant::now();
    swarm
        .dial(addr.clone())
        .map_err(|e| format!("cannot dial {text}: {e}"))?;
    let spinner = progress::spinner(&format!("connecting to {text}"));
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    let mut rtts = Vec::new();
    let mut failures = 0u32;
    let outcome: Result<(), String> = loop {
        let event = tokio::select! {
            e = swarm.select_next_some() => e,
            () = &mut deadline => break Err(format!("timed out after {}s ({} of {count} pings done)", timeout.as_secs(), rtts.len())),
            _ = tokio::signal::ctrl_c() => break Err("interrupted".into()),
        };
        match event {
            SwarmEvent::ConnectionEstablished { peer_id, .. } => {
                if let Some(s) = &spinner {
                    s.finish_and_clear();
                }
                out.connected(&peer_id, started.elapsed().as_secs_f64());
            }
            SwarmEvent::OutgoingConnectionError { error, .. } => {
                if let Some(s) = &spinner {
                    s.finish_and_clear();
                }
                break Err(format!("cannot connect: {}", explain_dial(&error)));
            }
            SwarmEvent::Behaviour(libp2p_ping::Event { result, .. }) => match result {
                Ok(rtt) => {
                    rtts.push(rtt);
                    out.ping(rtts.len(), rtt);
                    if rtts.len() as u32 >= count {
                        break Ok(());
                    }
                }
                Err(e) => {
                    failures += 1;
                    out.ping_failed(None, &e.to_string());
                    if failures >= count {
                        break Err("every ping failed".into());
                    }
                }
            },
            SwarmEvent::ConnectionClosed { cause, .. } if (rtts.len() as u32) < count => {
                break Err(format!(
                    "the connection closed{}",
                    cause.map(|c| format!(": {c}")).unwrap_or_default()
                ));
            }
            _ => {}
        }
    };
    out.summary(text, count, &rtts);
    match outcome {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => Err(e),
    }
}

/// Why a dial failed: the transport's reason for each address tried ([`explain`]), rather than
/// libp2p's list of whole error chains (its `DialError::Transport` has no `source`, so the
/// reason cannot be found through it).
fn explain_dial(error: &libp2p_swarm::DialError) -> String {
    match error {
        libp2p_swarm::DialError::Transport(errors) if !errors.is_empty() => errors
            .iter()
            .map(|(_, e)| match e {
                TransportError::Other(io) => explain(io),
                e => explain(e),
            })
            .collect::<Vec<_>>()
            .join("; "),
        e => explain(e),
    }
}

/// The most useful message in an error chain: tor's reason for a failed dial (it says what
/// happened and what to do), "tor is gone" when it is, else the whole chain.
fn explain(error: &(dyn std::error::Error + 'static)) -> String {
    if let Some(dial) = tor::Error::dial_error_in(error) {
        return dial.to_string();
    }
    #[cfg(feature = "arti")]
    if let Some(dial) = causes(error).find_map(|e| e.downcast_ref::<tor::arti::DialError>()) {
        return dial.to_string();
    }
    let chain = chain(error);
    if tor::Error::is_tor_gone_in(error) {
        format!("tor is gone: {chain}")
    } else {
        chain
    }
}

/// An error and its causes, looking into `io::Error`s too (which is how the swarm carries a
/// transport's dial error), as torp2p-transport's `Error::find` does.
#[cfg(feature = "arti")]
fn causes<'a>(
    error: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    let mut current = Some(error);
    std::iter::from_fn(move || {
        let e = current?;
        current = match e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => e.source(),
        };
        Some(e)
    })
    .take(64)
}

/// An error and its causes, one after the other (a cause that repeats the error is left out).
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![error.to_string()];
    let mut cur = error.source();
    while let Some(e) = cur {
        let text = e.to_string();
        if !parts.last().is_some_and(|last| last.contains(&text)) {
            parts.push(text);
        }
        cur = e.source();
    }
    parts.join(": ")
}
