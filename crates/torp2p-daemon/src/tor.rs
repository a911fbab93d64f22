//! [`Tor`]: a handle on a tor daemon, started by us or attached to.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use data_encoding::BASE64;
use tokio::sync::watch;
use torp2p_addr::{LocalAddr, LocalAddrError, OnionAddress};

use crate::client_auth::ClientAuthKey;
use crate::config::{AttachConfig, AuthMethod, Config};
use crate::control::ControlConn;
use crate::error::{Error, Result};
use crate::events::{self, BootstrapStatus, EventChannels};
use crate::key::OnionKey;
use crate::listener::OnionListener;
use crate::onion_service::{OnionService, OnionServiceOptions, PortMapping};
use crate::process::{LogTail, TorProcess};
use crate::reach;
use crate::shared::Shared;
use crate::wait::until;

/// A tor daemon: one that torp2p started and owns ([`Tor::spawn`]), or a running one it
/// attached to ([`Tor::attach`]).
///
/// Cloning is cheap and shares the daemon. When the last clone (and the last
/// [`OnionService`] of it) is dropped, a spawned tor is killed and reaped and its temporary
/// data directory deleted; an attached tor is left running.
#[derive(Clone)]
pub struct Tor {
    inner: Arc<Shared>,
}

impl std::fmt::Debug for Tor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tor")
            .field("pid", &self.inner.pid)
            .field("control", &self.inner.control_addr)
            .field("socks", &self.inner.socks_addr)
            .finish()
    }
}

impl Tor {
    /// Starts a tor of our own (see [`Config`] for the defaults), authenticates with its cookie,
    /// takes ownership of it (tor exits when our control connection closes) and subscribes to
    /// its events. Returns once the control port answers; call [`Tor::wait_bootstrapped`] to
    /// wait for the network.
    ///
    /// If tor exits before its control port is up, the error carries its last log lines (a bad
    /// torrc line shows tor's own complaint).
    pub async fn spawn(config: Config) -> Result<Self> {
        let started = TorProcess::start(&config).await?;
        let process = started.process;
        let timeout = config.command_timeout;
        let result = async {
            let mut control = ControlConn::connect(&started.control, timeout).await?;
            control
                .authenticate(&AuthMethod::Auto { password: None })
                .await?;
            control.command("TAKEOWNERSHIP", "TAKEOWNERSHIP").await?;
            let socks = if config.socks {
                socks_listener(&mut control).await?
            } else {
                None
            };
            Ok::<_, Error>((control, socks))
        }
        .await;
        let (control, socks) = match result {
            Ok(v) => v,
            // The control connection failing during startup usually means tor died: say so.
            Err(e) if e.is_tor_gone() || process.exited().borrow().is_some() => {
                let mut exited = process.exited();
                let _ = tokio::time::timeout(
                    Duration::from_secs(2),
                    until(&mut exited, Option::is_some),
                )
                .await;
                return Err(process.exit_error());
            }
            Err(e) => return Err(e),
        };
        let log = process.log().clone();
        let exited = process.exited();
        let pid = process.pid();
        let data_dir = config
            .data_dir
            .is_some()
            .then(|| process.data_dir().to_path_buf());
        Self::finish(
            control,
            socks,
            timeout,
            Some(process),
            pid,
            data_dir,
            Some(exited),
            Some(log),
            &AuthMethod::Auto { password: None },
        )
        .await
    }

    /// Attaches to a running tor (e.g. the system's) through its control port. Never takes
    /// ownership: the tor keeps running when this handle is dropped. The SOCKS address is
    /// learned from `GETINFO net/listeners/socks`.
    pub async fn attach(config: AttachConfig) -> Result<Self> {
        let mut control = ControlConn::connect(&config.control, config.command_timeout).await?;
        control.authenticate(&config.auth).await?;
        let socks = socks_listener(&mut control).await?;
        Self::finish(
            control,
            socks,
            config.command_timeout,
            None,
            None,
            None,
            None,
            None,
            &config.auth,
        )
        .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn finish(
        mut control: ControlConn,
        socks_addr: Option<LocalAddr>,
        timeout: Duration,
        process: Option<TorProcess>,
        pid: Option<u32>,
        data_dir: Option<PathBuf>,
        exited: Option<watch::Receiver<Option<String>>>,
        log: Option<LogTail>,
        auth: &AuthMethod,
    ) -> Result<Self> {
        let facts = reach::facts(&mut control, pid).await;
        let reach = reach::decide(&facts);
        tracing::debug!(?facts, unix = reach.unix, reason = %reach.reason, "can tor reach our unix sockets?");
        let control_addr = control.addr().clone();
        let mut event_conn = ControlConn::connect(&control_addr, timeout).await?;
        event_conn.authenticate(auth).await?;
        let initial = events::subscribe(&mut event_conn).await?;
        let (bootstrap_tx, bootstrap) = watch::channel(initial);
        let uploads = events::Uploads::default();
        let (closed_tx, gone) = watch::channel(None);
        let gone_tx = closed_tx.clone();
        let event_task = tokio::spawn(events::run_reader(
            event_conn,
            EventChannels {
                bootstrap: bootstrap_tx,
                uploads: uploads.clone(),
                closed: closed_tx,
            },
        ));
        tracing::debug!(control = %control_addr, socks = ?socks_addr, pid, "tor ready");
        Ok(Self {
            inner: Arc::new(Shared {
                process: Mutex::new(process),
                pid,
                data_dir,
                exited,
                log,
                control: tokio::sync::Mutex::new(control),
                control_addr,
                socks_addr,
                reach,
                bootstrap,
                uploads,
                gone,
                gone_tx,
                event_task,
            }),
        })
    }

    /// tor's SOCKS address (`None` if tor has no SOCKS port, e.g. with `DisableNetwork 1`).
    pub fn socks_addr(&self) -> Option<&LocalAddr> {
        self.inner.socks_addr.as_ref()
    }

    /// tor's control address.
    pub fn control_addr(&self) -> &LocalAddr {
        &self.inner.control_addr
    }

    /// The PID of a tor we spawned.
    pub fn pid(&self) -> Option<u32> {
        self.inner.pid
    }

    /// The persistent data directory of a spawned tor, if one was configured.
    pub fn data_dir(&self) -> Option<&Path> {
        self.inner.data_dir.as_deref()
    }

    /// The last lines a spawned tor logged (empty for an attached tor).
    pub fn last_log(&self) -> String {
        self.inner
            .log
            .as_ref()
            .map(LogTail::text)
            .unwrap_or_default()
    }

    /// Bootstrap progress: the current value, and `changed().await` for each update (from
    /// `STATUS_CLIENT` events).
    pub fn bootstrap_status(&self) -> watch::Receiver<BootstrapStatus> {
        self.inner.bootstrap.clone()
    }

    /// Waits until tor reports 100% bootstrap. On timeout the error names the last phase and
    /// tor's last warning.
    pub async fn wait_bootstrapped(&self, timeout: Duration) -> Result<()> {
        let mut rx = self.inner.bootstrap.clone();
        let mut gone = self.inner.gone.clone();
        tokio::select! {
            r = tokio::time::timeout(timeout, until(&mut rx, BootstrapStatus::is_done)) => match r {
                Ok(true) => Ok(()),
                Ok(false) => Err(self.inner.gone_error().await),
                Err(_) => {
                    let s = self.inner.bootstrap.borrow().clone();
                    Err(Error::BootstrapTimeout {
                        timeout,
                        progress: s.progress,
                        tag: s.tag,
                        summary: s.summary,
                        last_warning: s.warning.or_else(|| self.inner.log.as_ref().and_then(LogTail::last_warning)),
                    })
                }
            },
            _ = until(&mut gone, Option::is_some) => Err(self.inner.gone_error().await),
        }
    }

    /// `GETINFO key`: the value (a multi-line value comes back whole).
    pub async fn get_info(&self, key: &str) -> Result<String> {
        self.inner.get_info(key).await
    }

    /// `SIGNAL RELOAD`: tor reads its configuration again, as on SIGHUP (a directory authority
    /// also reads its `approved-routers` file again). Options given on tor's command line or
    /// set over the control port stay as they are.
    pub async fn reload(&self) -> Result<()> {
        let cmd = "SIGNAL RELOAD";
        self.inner.command(cmd, cmd).await.map(drop)
    }

    /// The HSDirs that confirmed an upload of a descriptor of our onion service at `address`
    /// (tor's `HS_DESC UPLOADED` events): their identity fingerprints, 40 upper-case hex digits,
    /// each once, in the order of their latest confirmation (oldest first), at most 32.
    ///
    /// Empty until the first upload is confirmed, and for a service that was not added through
    /// this daemon's handles ([`Tor::listen`], [`Tor::add_onion_service`]) or was removed. An
    /// HSDir stays listed after tor uploaded newer descriptors elsewhere (as the hash ring
    /// moves), so it may no longer be one of the service's HSDirs.
    pub fn hs_dirs(&self, address: &OnionAddress) -> Vec<String> {
        self.inner
            .uploads
            .lock()
            .ok()
            .and_then(|map| map.get(&address.to_base32()).map(|f| f.hs_dirs.clone()))
            .unwrap_or_default()
    }

    /// Adds an onion service run with `key`, forwarding `ports` (ADD_ONION; the key is sent,
    /// never generated or kept by tor: `DiscardPK`). Wait for publication with
    /// [`OnionService::wait_published`].
    pub async fn add_onion_service(
        &self,
        key: &OnionKey,
        ports: &[PortMapping],
        options: &OnionServiceOptions,
    ) -> Result<OnionService> {
        OnionService::add(self.inner.clone(), key, ports, options).await
    }

    /// Listens on an onion service run with `key` at `virtual_port`: binds a socket for tor
    /// to forward visitors to, adds the onion service forwarding to it, and returns the
    /// [`OnionListener`] that hands out the connections tor makes for each visitor.
    ///
    /// The socket is a unix socket in a fresh private directory (mode 0700, so only this user,
    /// root and a tor running as either can connect to it) when this tor can reach it, else a
    /// TCP port on 127.0.0.1 (the system's tor of a distribution runs as a user of its own);
    /// [`OnionServiceOptions::with_listen_target`] can force either. See
    /// [`ListenTarget`](crate::ListenTarget) for how the choice is made; it is logged at info
    /// level, and [`OnionListener::target`] tells it.
    ///
    /// The caller binds nothing: the socket, its directory and the service all belong to the
    /// listener and go with it.
    ///
    /// # Errors
    ///
    /// [`Error::VirtualPortZero`] for port 0; [`Error::Io`] if the directory or unix socket
    /// cannot be made, [`Error::ListenerTcp`] if the TCP port cannot be bound;
    /// [`Error::OnionServiceRejected`] if tor refuses the service (e.g. it already runs one
    /// with this key for us).
    pub async fn listen(
        &self,
        key: &OnionKey,
        virtual_port: u16,
        options: &OnionServiceOptions,
    ) -> Result<OnionListener> {
        OnionListener::start(self.inner.clone(), key, virtual_port, options).await
    }

    /// Lets this tor reach an onion service that requires client authorization
    /// (`ONION_CLIENT_AUTH_ADD`), with the client's key. Adding a key again for the same
    /// address replaces it.
    pub async fn add_client_auth(&self, address: &OnionAddress, key: &ClientAuthKey) -> Result<()> {
        let cmd = format!(
            "ONION_CLIENT_AUTH_ADD {} x25519:{}",
            address.to_base32(),
            BASE64.encode(key.secret_bytes())
        );
        match self
            .inner
            .command(&cmd, "ONION_CLIENT_AUTH_ADD <service> x25519:<redacted>")
            .await
        {
            // 251: "Client for onion existed and replaced"; 252: "Registered client and
            // decrypted desc" (control-spec): successes too.
            Ok(_)
            | Err(Error::Command {
                code: 251 | 252, ..
            }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Whether this tor holds a client authorization key for the onion service at `address`
    /// (`ONION_CLIENT_AUTH_VIEW`; the key itself is neither returned nor logged).
    pub async fn has_client_auth(&self, address: &OnionAddress) -> Result<bool> {
        let id = address.to_base32();
        let lines = self
            .inner
            .command(
                &format!("ONION_CLIENT_AUTH_VIEW {id}"),
                "ONION_CLIENT_AUTH_VIEW <service>",
            )
            .await?;
        let client = format!("CLIENT {id} ");
        Ok(lines.iter().any(|l| l.starts_with(&client)))
    }

    /// Turns tor's network off or on (`SETCONF DisableNetwork=1` / `0`), as a mobile
    /// application does when the device goes offline or to the background. Off, tor closes
    /// every connection and circuit and builds none: onion services lose their introduction
    /// points and dials fail; on again, tor reconnects and re-publishes its onion services.
    pub async fn set_network_enabled(&self, enabled: bool) -> Result<()> {
        let cmd = format!("SETCONF DisableNetwork={}", u8::from(!enabled));
        self.inner.command(&cmd, &cmd).await.map(drop)
    }

    /// Whether tor has gone away (exited, or one of its control connections closed: this
    /// handle has two, one for commands and one for events).
    pub fn is_gone(&self) -> bool {
        self.inner.is_gone()
    }

    /// Resolves when tor goes away, with the reason ([`Error::TorExited`] or
    /// [`Error::ControlClosed`]): tor exited, the event connection closed, a command found the
    /// command connection closed (nothing reads it between commands), or
    /// [`shutdown`](Self::shutdown) was called.
    pub async fn gone(&self) -> Error {
        self.inner.gone().await
    }

    /// Stops a spawned tor (SIGKILL) and waits until it is reaped; detaches from an attached
    /// one, which keeps running: closes this handle's control connections (the command
    /// connection once a command in flight, if any, is answered or timed out), so that tor
    /// removes the onion services they added and the same keys can be added again. Other
    /// clones of this handle see tor as gone.
    pub async fn shutdown(self) {
        let process = self.inner.process.lock().ok().and_then(|mut p| p.take());
        if let Some(mut p) = process {
            p.kill_and_wait().await;
        }
        self.inner.detach().await;
    }
}

/// The first SOCKS listener from `GETINFO net/listeners/socks`.
async fn socks_listener(control: &mut ControlConn) -> Result<Option<LocalAddr>> {
    let cmd = "GETINFO net/listeners/socks";
    let lines = control.command(cmd, cmd).await?;
    let value = lines
        .iter()
        .find_map(|l| l.strip_prefix("net/listeners/socks="))
        .unwrap_or("");
    first_listener(value)
        .transpose()
        .map_err(|e| Error::Protocol {
            command: cmd.into(),
            detail: e.to_string(),
        })
}

/// The first address of a `GETINFO net/listeners/*` value, a space-separated list of quoted
/// addresses; `None` if the list is empty.
pub(crate) fn first_listener(value: &str) -> Option<Result<LocalAddr, LocalAddrError>> {
    let first = value.split_whitespace().next()?;
    let unquoted = first
        .strip_prefix('"')
        .and_then(|f| f.strip_suffix('"'))
        .unwrap_or(first);
    Some(unquoted.parse::<LocalAddr>())
}
