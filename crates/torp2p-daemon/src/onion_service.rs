//! Onion services added over the control port: [`OnionService`] and its options.

use std::sync::Arc;
use std::time::{Duration, Instant};

use data_encoding::{BASE32_NOPAD, BASE64};
use tokio::sync::watch;
use torp2p_addr::OnionAddress;

use torp2p_addr::LocalAddr;

use crate::client_auth::ClientAuthPublicKey;
use crate::error::{Error, Result};
use crate::events::{Followed, UploadState};
use crate::key::OnionKey;
use crate::nudge::{self, CircuitStatus, Nudger};
use crate::shared::Shared;
use crate::wait::until;

/// One virtual port of an onion service and where tor forwards its connections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortMapping {
    /// The port clients connect to (`<address>.onion:<virtual_port>`).
    pub virtual_port: u16,
    /// Where tor connects for each incoming stream: a loopback TCP address or a unix socket.
    pub target: LocalAddr,
}

/// Proof-of-work defenses against introduction floods (tor ≥ 0.4.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PowDefenses {
    /// `PoWQueueRate`: introduction requests per second taken from the priority queue.
    pub queue_rate: u32,
    /// `PoWQueueBurst`: the burst allowed above the rate.
    pub queue_burst: u32,
}

/// Where [`Tor::listen`](crate::Tor::listen) has tor forward an onion service's visitors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ListenTarget {
    /// A unix socket when tor can reach one in a private directory of this user, else a
    /// loopback TCP port. The default.
    ///
    /// tor can if it runs as this user (or as root) and sees this file system: a tor that
    /// torp2p spawned, or one of this user's. The system's tor of a distribution runs as a user
    /// of its own (Debian: `debian-tor`) and gets a TCP port. Decided once per [`Tor`] handle,
    /// from the kernel's word where it has one (the PID behind a unix control socket, then
    /// `/proc/<pid>/status` and `/proc/<pid>/ns/mnt`); whatever cannot be checked (no `/proc`,
    /// a tor in another PID namespace) counts as "cannot reach". The choice and its reason are
    /// logged at info level.
    ///
    /// [`Tor`]: crate::Tor
    #[default]
    Auto,
    /// Always a unix socket in a fresh private directory (mode 0700): only this user, and
    /// root, can connect to it. A tor that cannot reach it accepts the service, and every
    /// visitor's connection then fails.
    UnixSocket,
    /// Always a TCP port on 127.0.0.1 chosen by the system (`bind(127.0.0.1:0)`, never another
    /// address). Any local process can connect to it directly, not through tor: such a
    /// connection is one more incoming connection, which the application's own handshake
    /// (libp2p's noise) authenticates as it does every peer.
    LoopbackTcp,
}

/// Options of an onion service. Defaults: no stream limit, no client authorization, no
/// proof-of-work defenses, the listener's target chosen automatically ([`ListenTarget::Auto`]).
#[derive(Debug, Clone, Default)]
pub struct OnionServiceOptions {
    max_streams: Option<u16>,
    client_auth_v3: Vec<ClientAuthPublicKey>,
    pow: Option<PowDefenses>,
    listen_target: ListenTarget,
}

impl OnionServiceOptions {
    /// The defaults (see the type's docs).
    pub fn new() -> Self {
        Self::default()
    }

    /// At most `n` concurrent streams per rendezvous circuit (`MaxStreams`).
    pub fn with_max_streams(mut self, n: u16) -> Self {
        self.max_streams = Some(n);
        self
    }

    /// Only clients holding the [`ClientAuthKey`](crate::ClientAuthKey) of `public_key` (and
    /// of the others given this way) may connect (`ClientAuthV3`); call once per authorized
    /// client. Others get tor's "client authorization missing" or "wrong" answer.
    pub fn with_authorized_client(mut self, public_key: ClientAuthPublicKey) -> Self {
        self.client_auth_v3.push(public_key);
        self
    }

    /// Enables proof-of-work defenses.
    pub fn with_pow_defenses(mut self, pow: PowDefenses) -> Self {
        self.pow = Some(pow);
        self
    }

    /// Where [`Tor::listen`](crate::Tor::listen) has tor forward visitors (see
    /// [`ListenTarget`]); [`Tor::add_onion_service`](crate::Tor::add_onion_service) forwards to
    /// the ports it is given and ignores this.
    pub fn with_listen_target(mut self, target: ListenTarget) -> Self {
        self.listen_target = target;
        self
    }

    /// The listener's target (see [`with_listen_target`](Self::with_listen_target)).
    pub fn listen_target(&self) -> ListenTarget {
        self.listen_target
    }

    /// The stream limit per rendezvous circuit, if any ([`with_max_streams`](Self::with_max_streams)).
    pub fn max_streams(&self) -> Option<u16> {
        self.max_streams
    }

    /// The clients authorized to connect ([`with_authorized_client`](Self::with_authorized_client));
    /// empty: anyone who knows the address.
    pub fn authorized_clients(&self) -> &[ClientAuthPublicKey] {
        &self.client_auth_v3
    }

    /// The proof-of-work defenses, if on ([`with_pow_defenses`](Self::with_pow_defenses)).
    pub fn pow_defenses(&self) -> Option<PowDefenses> {
        self.pow
    }
}

/// When an onion service counts as published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Publication {
    /// At once, without waiting for any descriptor upload: dials in the next seconds fail.
    Immediately,
    /// When the first HSDir confirmed an upload. Measured on a private network, about one
    /// dial in ten made right then still failed.
    FirstUpload,
    /// When every upload tor started was answered (confirmed or failed), and at least one was
    /// confirmed; but no longer than `cap` after the first confirmation. Dials made then
    /// succeeded in every measured run. The default, with a 10 s cap.
    AllUploads {
        /// The longest wait after the first confirmation.
        cap: Duration,
    },
}

impl Default for Publication {
    fn default() -> Self {
        Publication::AllUploads {
            cap: Duration::from_secs(10),
        }
    }
}

/// An onion service that tor runs for us. Dropping it removes the service (DEL_ONION) in the
/// background; [`OnionService::remove`] does it and waits for tor's answer.
pub struct OnionService {
    address: OnionAddress,
    tor: Arc<Shared>,
    uploads: watch::Receiver<UploadState>,
    removed: bool,
}

impl std::fmt::Debug for OnionService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnionService")
            .field("address", &self.address)
            .field("uploads", &*self.uploads.borrow())
            .finish()
    }
}

impl OnionService {
    /// Sends ADD_ONION and starts following the descriptor uploads.
    pub(crate) async fn add(
        tor: Arc<Shared>,
        key: &OnionKey,
        ports: &[PortMapping],
        options: &OnionServiceOptions,
    ) -> Result<Self> {
        let address = key.onion_address();
        let command = add_onion_command(key, ports, options)?;
        // Follow the uploads before the command, so that no upload event is missed.
        let id = address.to_base32();
        let (state_tx, state_rx) = watch::channel(UploadState::default());
        if let Ok(mut map) = tor.uploads.lock() {
            if map.contains_key(&id) {
                return Err(Error::OnionServiceRejected {
                    reply: format!(
                        "this tor already runs an onion service with the address {address} for us: remove it first"
                    ),
                });
            }
            map.insert(id.clone(), Followed::new(state_tx));
        }
        let unfollow = |tor: &Shared| {
            if let Ok(mut map) = tor.uploads.lock() {
                map.remove(&id);
            }
        };
        let shown = "ADD_ONION ED25519-V3:<redacted> ...";
        let lines = match tor.command(&command, shown).await {
            Ok(lines) => lines,
            Err(Error::Command { code, reply, .. }) => {
                unfollow(&tor);
                return Err(Error::OnionServiceRejected {
                    reply: format!("{code} {reply}"),
                });
            }
            Err(e) => {
                unfollow(&tor);
                return Err(e);
            }
        };
        let service_id = lines.iter().find_map(|l| l.strip_prefix("ServiceID="));
        if service_id != Some(id.as_str()) {
            unfollow(&tor);
            return Err(Error::Protocol {
                command: shown.into(),
                detail: format!(
                    "tor reported ServiceID {service_id:?}, expected our key's address"
                ),
            });
        }
        tracing::debug!(%address, "onion service added");
        Ok(Self {
            address,
            tor,
            uploads: state_rx,
            removed: false,
        })
    }

    /// The service's onion address.
    pub fn address(&self) -> OnionAddress {
        self.address
    }

    /// The upload progress, updated as `HS_DESC` events arrive.
    pub fn upload_state(&self) -> watch::Receiver<UploadState> {
        self.uploads.clone()
    }

    /// Waits until the service counts as published under `policy`, at most `timeout`.
    ///
    /// Meanwhile, if tor has completed no circuit for a few seconds although it has the
    /// directory information to build one, it is asked to fetch this service's descriptor
    /// (`HSFETCH`): until a circuit completes, tor builds no introduction circuit for any
    /// onion service, and one that only runs onion services may build none on its own (seen
    /// after a consensus dropped one of its guards). Logged at info level when it happens.
    pub async fn wait_published(
        &self,
        policy: Publication,
        timeout: Duration,
    ) -> Result<UploadState> {
        let mut rx = self.uploads.clone();
        let mut gone = self.tor.gone.clone();
        let published = async {
            match policy {
                Publication::Immediately => {}
                Publication::FirstUpload => {
                    until(&mut rx, |s| s.uploaded > 0).await;
                }
                Publication::AllUploads { cap } => {
                    until(&mut rx, |s| s.uploaded > 0).await;
                    let _ =
                        tokio::time::timeout(cap, until(&mut rx, UploadState::all_answered)).await;
                }
            }
        };
        let wait = async {
            tokio::select! {
                () = published => {}
                never = self.nudge_while_stalled() => match never {},
            }
        };
        tokio::select! {
            r = tokio::time::timeout(timeout, wait) => {
                let state = *self.uploads.borrow();
                match r {
                    Ok(()) => Ok(state),
                    Err(_) => Err(Error::PublishTimeout {
                        timeout,
                        uploads: state.uploads,
                        uploaded: state.uploaded,
                        failed: state.failed,
                    }),
                }
            }
            _ = until(&mut gone, Option::is_some) => Err(self.tor.gone_error().await),
        }
    }

    /// Asks tor every [`nudge::CHECK_EVERY`] whether it has completed a circuit, and nudges
    /// it when it is stalled (see [`nudge`]); runs until dropped.
    async fn nudge_while_stalled(&self) -> std::convert::Infallible {
        let mut nudger = Nudger::default();
        loop {
            tokio::time::sleep(nudge::CHECK_EVERY).await;
            let command = CircuitStatus::COMMAND;
            let status = match self.tor.command(command, command).await {
                Ok(lines) => CircuitStatus::parse(&lines),
                Err(e) => {
                    tracing::debug!(error = %e, "could not ask tor whether it has a circuit");
                    None
                }
            };
            if !nudger.observe(Instant::now(), status) {
                continue;
            }
            tracing::info!(
                "tor has completed no circuit for {:?} although it has the directory information to build one, so it builds no introduction circuit: asking it to fetch the onion service's descriptor, which builds circuits",
                nudge::NUDGE_AFTER
            );
            let fetch = format!("HSFETCH {}", self.address.to_base32());
            if let Err(e) = self.tor.command(&fetch, "HSFETCH <service>").await {
                tracing::debug!(error = %e, "HSFETCH failed");
            }
        }
    }

    /// How many introduction points of this service tor has established now: its circuits
    /// with `PURPOSE=HS_SERVICE_INTRO HS_STATE=HSSI_ESTABLISHED` for this address in
    /// `GETINFO circuit-status`. tor keeps three and replaces one it loses within seconds; none
    /// for long means that nobody can reach the service.
    pub async fn intro_points(&self) -> Result<usize> {
        let status = self.tor.get_info("circuit-status").await?;
        Ok(established_intro_circuits(
            &status,
            &self.address.to_base32(),
        ))
    }

    /// Stops following this service's uploads.
    fn unfollow(&self) {
        if let Ok(mut map) = self.tor.uploads.lock() {
            map.remove(&self.address.to_base32());
        }
    }

    /// Removes the service (DEL_ONION) and waits for tor's answer.
    pub async fn remove(mut self) -> Result<()> {
        self.removed = true;
        self.unfollow();
        let id = self.address.to_base32();
        self.tor
            .command(&format!("DEL_ONION {id}"), "DEL_ONION <service>")
            .await
            .map(drop)
    }
}

impl Drop for OnionService {
    fn drop(&mut self) {
        self.unfollow();
        if self.removed || self.tor.is_gone() {
            return;
        }
        let tor = self.tor.clone();
        let id = self.address.to_base32();
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                if let Err(e) = tor
                    .command(&format!("DEL_ONION {id}"), "DEL_ONION <service>")
                    .await
                {
                    tracing::debug!(error = %e, "DEL_ONION on drop failed");
                }
            });
        }
    }
}

/// The circuits in a `circuit-status` value that are established introduction points of the
/// service `address` (base32, no `.onion`).
fn established_intro_circuits(status: &str, address: &str) -> usize {
    status
        .lines()
        .filter(|line| {
            let mut purpose = false;
            let mut established = false;
            let mut ours = false;
            for word in line.split_whitespace() {
                match word.split_once('=') {
                    Some(("PURPOSE", v)) => purpose = v == "HS_SERVICE_INTRO",
                    Some(("HS_STATE", v)) => established = v == "HSSI_ESTABLISHED",
                    Some(("REND_QUERY", v)) => {
                        ours = v
                            .strip_suffix(".onion")
                            .unwrap_or(v)
                            .eq_ignore_ascii_case(address)
                    }
                    _ => {}
                }
            }
            purpose && established && ours
        })
        .count()
}

/// `ADD_ONION ED25519-V3:<key> Flags=DiscardPK[,V3Auth] [MaxStreams=] [PoW...] Port=...
/// [ClientAuthV3=...]`
fn add_onion_command(
    key: &OnionKey,
    ports: &[PortMapping],
    options: &OnionServiceOptions,
) -> Result<String> {
    if ports.is_empty() {
        return Err(Error::NoPorts);
    }
    let mut cmd = format!(
        "ADD_ONION ED25519-V3:{} Flags=DiscardPK",
        BASE64.encode(key.expanded_secret())
    );
    if !options.client_auth_v3.is_empty() {
        cmd.push_str(",V3Auth");
    }
    if let Some(n) = options.max_streams {
        cmd.push_str(&format!(" MaxStreams={n}"));
    }
    if let Some(p) = options.pow {
        cmd.push_str(&format!(
            " PoWDefensesEnabled=1 PoWQueueRate={} PoWQueueBurst={}",
            p.queue_rate, p.queue_burst
        ));
    }
    for p in ports {
        if p.virtual_port == 0 {
            return Err(Error::VirtualPortZero);
        }
        let target = match &p.target {
            LocalAddr::Tcp(a) => a.to_string(),
            LocalAddr::Unix(path) => {
                let s = path
                    .to_str()
                    .filter(|s| !s.contains([' ', '"', '\r', '\n']))
                    .ok_or_else(|| Error::UnsupportedPath { path: path.clone() })?;
                format!("unix:{s}")
            }
        };
        cmd.push_str(&format!(" Port={},{target}", p.virtual_port));
    }
    for k in &options.client_auth_v3 {
        cmd.push_str(&format!(
            " ClientAuthV3={}",
            BASE32_NOPAD.encode(&k.to_bytes())
        ));
    }
    Ok(cmd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intro_circuits_counted() {
        let ours = "sqbhexutqt2qyu6q3armsbts7uiudgunsktlkvuhprcpwemgzaf5hvad";
        let status = format!(
            "5 BUILT $A~relay1,$B~relay2,$C~relay3 BUILD_FLAGS=IS_INTERNAL,NEED_CAPACITY,NEED_UPTIME PURPOSE=HS_SERVICE_INTRO HS_STATE=HSSI_ESTABLISHED REND_QUERY={ours} TIME_CREATED=2026-12-01T11:00:00.000000\r\n\
             6 BUILT $A~relay1,$D~relay4 PURPOSE=HS_SERVICE_INTRO HS_STATE=HSSI_CONNECTING REND_QUERY={ours}\r\n\
             7 BUILT $A~relay1,$E~relay5 PURPOSE=HS_SERVICE_INTRO HS_STATE=HSSI_ESTABLISHED REND_QUERY=someoneelse\r\n\
             8 BUILT $A~relay1,$F~relay6 PURPOSE=HS_SERVICE_REND HS_STATE=HSSR_JOINED REND_QUERY={ours}\r\n\
             9 EXTENDED $A~relay1 PURPOSE=HS_SERVICE_INTRO HS_STATE=HSSI_ESTABLISHED REND_QUERY={}\r\n",
            ours.to_uppercase()
        );
        assert_eq!(established_intro_circuits(&status, ours), 2);
        assert_eq!(established_intro_circuits("", ours), 0);
        assert_eq!(established_intro_circuits("garbage = = PURPOSE", ours), 0);
    }

    #[test]
    fn add_onion_command_shape() {
        let key = OnionKey::generate();
        let ports = [PortMapping {
            virtual_port: 80,
            target: LocalAddr::Unix("/tmp/x/s.sock".into()),
        }];
        let opts = OnionServiceOptions::new()
            .with_max_streams(8)
            .with_authorized_client(ClientAuthPublicKey::from_bytes([1; 32]))
            .with_pow_defenses(PowDefenses {
                queue_rate: 100,
                queue_burst: 200,
            });
        let cmd = add_onion_command(&key, &ports, &opts).unwrap();
        assert!(cmd.starts_with("ADD_ONION ED25519-V3:"));
        assert!(cmd.contains(" Flags=DiscardPK,V3Auth MaxStreams=8 PoWDefensesEnabled=1 PoWQueueRate=100 PoWQueueBurst=200 Port=80,unix:/tmp/x/s.sock ClientAuthV3="));
        assert!(matches!(
            add_onion_command(&key, &[], &opts),
            Err(Error::NoPorts)
        ));
        let zero = [PortMapping {
            virtual_port: 0,
            target: LocalAddr::Unix("/tmp/x/s.sock".into()),
        }];
        assert!(matches!(
            add_onion_command(&key, &zero, &opts),
            Err(Error::VirtualPortZero)
        ));
        let spaced = [PortMapping {
            virtual_port: 80,
            target: LocalAddr::Unix("/tmp/a b/s.sock".into()),
        }];
        assert!(matches!(
            add_onion_command(&key, &spaced, &opts),
            Err(Error::UnsupportedPath { .. })
        ));
    }
}
