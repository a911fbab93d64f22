//! [`Client`]: an embedded arti client that dials onion services and runs them.

use std::sync::Arc;
use std::time::Duration;

use arti_client::config::BoolOrAuto;
use arti_client::{HasKind as _, IntoTorAddr as _, StreamPrefs, TorAddr, TorClient};
use futures::StreamExt as _;
use tor_hscrypto::pk::{HsIdKey, HsIdKeypair};
use tor_hsservice::config::OnionServiceConfigBuilder;
use tor_hsservice::{HsNickname, handle_rend_requests};
use tor_llcrypto::pk::ed25519::ExpandedKeypair;
use tor_rtcompat::PreferredRuntime;
use torp2p_addr::{DialTarget, OnionAddress, OnionSocketAddr};

use crate::config::Config;
use crate::error::{ArtiError, DialError, Error};
use crate::isolation::{Isolation, KeyIsolation};
use crate::service::OnionService;
use crate::stream::Stream;

/// An embedded arti client: bootstrapped once, then dials onion services
/// ([`Client::dial`]) and runs them ([`Client::listen`]). Cloning it is cheap and shares the
/// client.
///
/// arti's background tasks (directory updates, circuit and guard upkeep) run on the tokio
/// runtime until that runtime shuts down, even after every clone is dropped (measured with
/// arti 0.47: still running 90 s after the last handle went). They save arti's state when
/// they end: keep the storage directory until the runtime is gone.
#[derive(Clone)]
pub struct Client {
    tor: Arc<TorClient<PreferredRuntime>>,
    dial_timeout: Duration,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("bootstrap", &self.tor.bootstrap_status().to_string())
            .field("dial_timeout", &self.dial_timeout)
            .finish()
    }
}

/// The first pause before a dial that found no path is tried again; it doubles up to
/// [`NO_PATH_LAST_PAUSE`].
const NO_PATH_FIRST_PAUSE: Duration = Duration::from_millis(250);
/// The longest pause between tries of a dial that found no path.
const NO_PATH_LAST_PAUSE: Duration = Duration::from_secs(4);

/// Whether a dial that failed with `kind` is tried again after `pause`: arti says `NoPath` at
/// once, without retrying itself, when its directory does not yet have what a path needs
/// (seen right after bootstrap on a small network: no layer-2 vanguard usable for any
/// HSDir); that changes as descriptors and consensuses arrive. Only while the dial's
/// `deadline` (`None`: none) leaves time for the pause.
fn no_path_yet(
    kind: arti_client::ErrorKind,
    deadline: Option<tokio::time::Instant>,
    pause: Duration,
) -> bool {
    kind == arti_client::ErrorKind::NoPath
        && deadline.is_none_or(|d| tokio::time::Instant::now() + pause < d)
}

impl Client {
    /// Starts arti with `config` and waits until it has bootstrapped (enough directory
    /// information to build circuits). Must run inside a tokio runtime.
    ///
    /// arti's rustls stack needs a process-wide rustls crypto provider: if the application
    /// has installed none, this installs rustls's `ring` provider.
    ///
    /// # Errors
    ///
    /// [`Error::Config`], [`Error::Runtime`], [`Error::Create`], [`Error::Bootstrap`], and
    /// [`Error::BootstrapTimeout`] after [`Config::bootstrap_timeout`].
    pub async fn bootstrap(config: &Config) -> Result<Self, Error> {
        install_crypto_provider();
        let (arti_config, _) = config.resolve()?;
        let runtime = PreferredRuntime::current().map_err(|source| Error::Runtime { source })?;
        let tor = TorClient::with_runtime(runtime)
            .config(arti_config)
            .create_unbootstrapped_async()
            .await
            .map_err(|e| Error::Create {
                source: ArtiError::with_kind(e),
            })?;
        let timeout = config.bootstrap_timeout();
        let bootstrap = tor.bootstrap();
        let done = match tokio::time::Instant::now().checked_add(timeout) {
            Some(deadline) => tokio::time::timeout_at(deadline, bootstrap).await,
            None => Ok(bootstrap.await),
        };
        match done {
            Ok(Ok(())) => {
                tracing::debug!("arti bootstrapped");
                Ok(Self {
                    tor,
                    dial_timeout: config.dial_timeout(),
                })
            }
            Ok(Err(e)) => Err(Error::Bootstrap {
                source: ArtiError::with_kind(e),
            }),
            Err(_) => Err(Error::BootstrapTimeout {
                timeout,
                status: tor.bootstrap_status().to_string(),
            }),
        }
    }

    /// arti's bootstrap status, as it describes it (e.g. "100%: connected to the tor network").
    pub fn bootstrap_status(&self) -> String {
        self.tor.bootstrap_status().to_string()
    }

    /// Opens a stream to `target` over Tor, with circuits shared as `isolation` says, within
    /// the configured dial timeout. No I/O happens before the future is polled.
    ///
    /// An onion service is reached through a rendezvous; a clearnet target (a DNS name,
    /// resolved by the exit relay, never here, or an IP address) through an exit relay. Local
    /// and private IP addresses are refused by arti. Nothing is ever connected to directly.
    ///
    /// A try that fails because arti has no path yet (its directory still filling in, e.g.
    /// right after bootstrap) is made again after a pause (250 ms, doubling up to 4 s) until
    /// the dial timeout; every other failure ends the dial at once.
    ///
    /// # Errors
    ///
    /// A [`DialError`]: the kinds that C tor reports with its extended SOCKS replies, the
    /// timeout, or [`DialError::Other`].
    pub async fn dial(
        &self,
        target: &DialTarget,
        isolation: &Isolation,
    ) -> Result<Stream, DialError> {
        let mut prefs = StreamPrefs::new();
        prefs.connect_to_onion_services(BoolOrAuto::Explicit(true));
        match isolation {
            Isolation::Shared => {}
            Isolation::Key(key) => {
                prefs.set_isolation(KeyIsolation(Arc::from(key.as_slice())));
            }
            Isolation::Fresh => {
                prefs.new_isolation_group();
            }
        }
        let addr = match target {
            DialTarget::Onion(onion) => (onion.address().to_domain(), onion.port()).into_tor_addr(),
            DialTarget::Dns { name, port } => (name.as_str(), *port).into_tor_addr(),
            DialTarget::Ip(ip) => TorAddr::dangerously_from(*ip),
            _ => {
                return Err(DialError::UnsupportedTarget {
                    target: target.clone(),
                });
            }
        };
        let addr = addr.map_err(|e| DialError::from_arti(target.clone(), e.into()))?;
        let timeout = self.dial_timeout;
        let deadline = tokio::time::Instant::now().checked_add(timeout);
        let mut pause = NO_PATH_FIRST_PAUSE;
        loop {
            let connect = self.tor.connect_with_prefs(addr.clone(), &prefs);
            let done = match deadline {
                Some(deadline) => tokio::time::timeout_at(deadline, connect).await,
                None => Ok(connect.await),
            };
            match done {
                Ok(Ok(stream)) => return Ok(Stream::new(stream)),
                Ok(Err(e)) if no_path_yet(e.kind(), deadline, pause) => {
                    tracing::debug!(
                        error = %e,
                        ?pause,
                        "arti has no path for this circuit yet (its directory and vanguards are still filling in); trying again"
                    );
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(NO_PATH_LAST_PAUSE);
                }
                Ok(Err(e)) => return Err(DialError::from_arti(target.clone(), e)),
                Err(_) => {
                    return Err(DialError::Timeout {
                        target: target.clone(),
                        timeout,
                    });
                }
            }
        }
    }

    /// Launches an onion service with the identity key `expanded_secret` (64 bytes: the
    /// clamped scalar, then the hash prefix: the form C tor's `ED25519-V3` keys and
    /// torp2p-daemon's `OnionKey::expanded_secret` have, so that one key gives the same onion
    /// address with either backend), accepting streams to the virtual port `port`. Wait for
    /// [`OnionService::wait_reachable`] before announcing the address.
    ///
    /// arti keeps the key in its keystore (in its state directory) under a name made of the
    /// onion address; a later launch with the same key and state directory uses it again.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidKey`] if the scalar is not clamped; [`Error::KeyMismatch`] if the
    /// keystore holds another key under this address's name; [`Error::Launch`] if arti
    /// refuses to launch the service.
    pub fn listen(&self, expanded_secret: &[u8; 64], port: u16) -> Result<OnionService, Error> {
        let keypair = keypair(expanded_secret)?;
        let address = onion_address_of(&keypair);
        let socket = OnionSocketAddr::new(address, port).map_err(|_| Error::Launch {
            address,
            source: ArtiError::plain(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "virtual port 0",
            )),
        })?;
        let launch_err = |source| Error::Launch { address, source };
        // Slugs are lower case letters, digits, `-` and `_`: the base32 address fits.
        let nickname = HsNickname::new(format!("torp2p-{}", address.to_base32()))
            .map_err(|e| launch_err(ArtiError::plain(e)))?;
        let config = OnionServiceConfigBuilder::default()
            .nickname(nickname)
            .build()
            .map_err(|e| launch_err(ArtiError::plain(e)))?;
        let launched = match self
            .tor
            .launch_onion_service_with_hsid(config.clone(), HsIdKeypair::from(keypair))
        {
            Ok(launched) => launched.map(|(running, requests)| (running, requests.boxed())),
            // arti refuses to insert a key whose name is taken (`KeyAlreadyExists`, kind
            // `BadApiUsage`): launch with the stored key, checked below.
            Err(e) if e.kind() == arti_client::ErrorKind::BadApiUsage => {
                tracing::debug!(error = %e, "onion service key already stored; using it");
                self.tor
                    .launch_onion_service(config)
                    .map_err(|e| launch_err(ArtiError::with_kind(e)))?
                    .map(|(running, requests)| (running, requests.boxed()))
            }
            Err(e) => return Err(launch_err(ArtiError::with_kind(e))),
        };
        let Some((running, rend_requests)) = launched else {
            return Err(launch_err(ArtiError::plain(std::io::Error::other(
                "arti did not launch the service (disabled in its configuration)",
            ))));
        };
        match running.onion_address() {
            Some(id) if <_ as AsRef<[u8; 32]>>::as_ref(&id) == address.public_key() => {}
            _ => return Err(Error::KeyMismatch { address }),
        }
        let requests = handle_rend_requests(rend_requests).boxed();
        tracing::debug!(%socket, "arti onion service launched");
        Ok(OnionService::new(socket, running, requests))
    }
}

/// The onion address of the service whose identity key is `expanded_secret` (see
/// [`Client::listen`]), computed as arti does, offline.
///
/// # Errors
///
/// [`Error::InvalidKey`] if the scalar is not clamped.
pub fn onion_address(expanded_secret: &[u8; 64]) -> Result<OnionAddress, Error> {
    Ok(onion_address_of(&keypair(expanded_secret)?))
}

fn keypair(expanded_secret: &[u8; 64]) -> Result<ExpandedKeypair, Error> {
    // The clamping of RFC 8032: C tor's keys are clamped, and a seed almost never is.
    let b = expanded_secret;
    let clamped = b[0] & 0b111 == 0 && b[31] & 0b1000_0000 == 0 && b[31] & 0b0100_0000 != 0;
    if !clamped {
        return Err(Error::InvalidKey);
    }
    ExpandedKeypair::from_secret_key_bytes(*expanded_secret).ok_or(Error::InvalidKey)
}

fn onion_address_of(keypair: &ExpandedKeypair) -> OnionAddress {
    let id = HsIdKey::from(*keypair.public()).id();
    OnionAddress::from_public_key(*<_ as AsRef<[u8; 32]>>::as_ref(&id))
}

/// Installs rustls's `ring` provider as the process default unless one is installed.
fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // An `Err` means another thread installed one meanwhile: that one is used.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use torp2p_daemon::OnionKey;

    #[tokio::test]
    async fn only_a_missing_path_is_tried_again_and_only_before_the_deadline() {
        use arti_client::ErrorKind as K;
        let soon = Duration::from_millis(250);
        let later = Some(tokio::time::Instant::now() + Duration::from_secs(60));
        assert!(no_path_yet(K::NoPath, later, soon));
        assert!(no_path_yet(K::NoPath, None, soon));
        let now = Some(tokio::time::Instant::now() + Duration::from_millis(100));
        assert!(
            !no_path_yet(K::NoPath, now, soon),
            "the pause outlasts the dial"
        );
        for kind in [
            K::OnionServiceNotFound,
            K::TorNetworkTimeout,
            K::RemoteConnectionRefused,
        ] {
            assert!(!no_path_yet(kind, later, soon), "{kind:?}");
        }
    }

    /// The key C tor would be given (torp2p-daemon's `OnionKey`, 64 expanded bytes) gives the
    /// same onion address in arti.
    #[test]
    fn the_address_of_a_key_is_c_tors() {
        for _ in 0..32 {
            let key = OnionKey::generate();
            assert_eq!(
                onion_address(key.expanded_secret()).unwrap(),
                key.onion_address()
            );
        }
    }

    #[test]
    fn an_unclamped_scalar_is_refused() {
        let mut bytes = *OnionKey::generate().expanded_secret();
        bytes[0] |= 1;
        assert!(matches!(onion_address(&bytes), Err(Error::InvalidKey)));
        let mut bytes = *OnionKey::generate().expanded_secret();
        bytes[31] |= 0b1000_0000;
        assert!(matches!(onion_address(&bytes), Err(Error::InvalidKey)));
        let mut bytes = *OnionKey::generate().expanded_secret();
        bytes[31] &= !0b0100_0000;
        assert!(matches!(onion_address(&bytes), Err(Error::InvalidKey)));
    }
}
