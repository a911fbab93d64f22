//! The dial: connect to tor's SOCKS port, hand it the target, retry a transient 0xF0.

use std::hash::{BuildHasher, Hasher};
use std::io;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio::time::Instant;
use tokio_socks::TargetAddr;
use tokio_socks::tcp::Socks5Stream;
use torp2p_addr::DialTarget;
use tracing::debug;

use crate::capture::{Diagnosis, METHOD_NONE, Recorder, diagnose};
use crate::config::{Config, Isolation};
use crate::error::{DialError, Malformed};
use torp2p_addr::LocalAddr;

use crate::stream::{self, Stream};

/// The longest SOCKS5 username (RFC 1929).
const MAX_USERNAME: usize = 255;
/// The prefix of per-peer usernames.
const PEER_PREFIX: &str = "peer:";
/// The longest per-peer isolation key [`connect`] takes, in bytes (the rest of the 255 bytes
/// of a SOCKS5 username is a prefix of ours); a longer one fails with
/// [`DialError::IsolationKeyTooLong`].
pub const MAX_ISOLATION_KEY: usize = MAX_USERNAME - PEER_PREFIX.len();

/// Connects to `target` through tor's SOCKS port at `proxy`.
///
/// The target goes to tor as it is: onion addresses and DNS names as SOCKS domain names, for
/// tor to resolve (never resolved here), IP addresses as IP addresses.
///
/// `peer` is the isolation key for [`Isolation::PerPeer`] (the default): dials with the same
/// key share tor circuits, dials with different keys do not. Pass the peer's identity (for
/// libp2p, the peer id) when known; with `None` the target address is the key. At most 250
/// bytes. Other isolation modes ignore it. See [`Isolation`].
///
/// The whole dial is bounded by [`Config::timeout`]. When tor answers 0xF0 (descriptor not
/// found), the dial is retried as [`Config::with_descriptor_retries`] says (once after 1 s by
/// default), within that timeout.
///
/// # Cancellation
///
/// The returned future may be dropped at any point: the connection to tor is closed with it
/// (tor then abandons the stream), and nothing else is left behind: no task, no socket.
///
/// # Errors
///
/// [`DialError`]: tor's SOCKS port unreachable or misbehaving, one variant per reply code tor
/// may give, the timeout, or a target or isolation key that cannot be sent.
pub async fn connect(
    proxy: &LocalAddr,
    target: &DialTarget,
    peer: Option<&str>,
    config: &Config,
) -> Result<Stream, DialError> {
    let socks_target = socks_target(target)?;
    let credentials = credentials(config.isolation(), peer, target)?;
    let deadline = Instant::now().checked_add(config.timeout());
    let mut retries_left = config.descriptor_retries();
    let mut attempt = 1u32;
    loop {
        debug!(
            proxy = %proxy,
            target = %target,
            attempt,
            isolation = ?config.isolation(),
            "dialing through SOCKS"
        );
        let connected = AtomicBool::new(false);
        let once = attempt_once(
            proxy,
            target,
            &socks_target,
            credentials.as_ref(),
            config.nodelay(),
            &connected,
        );
        let result = match deadline {
            Some(deadline) => tokio::time::timeout_at(deadline, once)
                .await
                .unwrap_or_else(|_elapsed| Err(timed_out(proxy, target, config, &connected))),
            None => once.await,
        };
        match result {
            Ok(stream) => {
                debug!(proxy = %proxy, target = %target, attempt, "connected through SOCKS");
                return Ok(stream);
            }
            Err(DialError::DescriptorNotFound { .. })
                if retries_left > 0 && retry_fits(deadline, config) =>
            {
                debug!(
                    proxy = %proxy,
                    target = %target,
                    attempt,
                    delay = ?config.descriptor_retry_delay(),
                    "descriptor not found (0xF0): retrying"
                );
                tokio::time::sleep(config.descriptor_retry_delay()).await;
                retries_left -= 1;
                attempt += 1;
            }
            Err(error) => {
                debug!(proxy = %proxy, target = %target, attempt, %error, "dial through SOCKS failed");
                return Err(error);
            }
        }
    }
}

/// Whether a retry's delay ends before the deadline.
fn retry_fits(deadline: Option<Instant>, config: &Config) -> bool {
    match deadline {
        None => true,
        Some(deadline) => Instant::now()
            .checked_add(config.descriptor_retry_delay())
            .is_some_and(|after_delay| after_delay < deadline),
    }
}

/// The error for a dial whose timeout ran out.
fn timed_out(
    proxy: &LocalAddr,
    target: &DialTarget,
    config: &Config,
    connected: &AtomicBool,
) -> DialError {
    if connected.load(Ordering::Relaxed) {
        DialError::Timeout {
            proxy: proxy.clone(),
            target: target.clone(),
            timeout: config.timeout(),
        }
    } else {
        DialError::ProxyUnreachable {
            proxy: proxy.clone(),
            source: io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no connection within {:?}", config.timeout()),
            ),
        }
    }
}

/// One connection to the proxy and one SOCKS handshake.
async fn attempt_once(
    proxy: &LocalAddr,
    target: &DialTarget,
    socks_target: &TargetAddr<'static>,
    credentials: Option<&Credentials>,
    nodelay: bool,
    connected: &AtomicBool,
) -> Result<Stream, DialError> {
    let stream =
        stream::open(proxy, nodelay)
            .await
            .map_err(|source| DialError::ProxyUnreachable {
                proxy: proxy.clone(),
                source,
            })?;
    connected.store(true, Ordering::Relaxed);

    let mut recorder = Recorder::new(stream);
    let result = match credentials {
        None => Socks5Stream::connect_with_socket(&mut recorder, socks_target.clone())
            .await
            .map(drop),
        Some(c) => Socks5Stream::connect_with_password_and_socket(
            &mut recorder,
            socks_target.clone(),
            &c.username,
            c.password,
        )
        .await
        .map(drop),
    };
    match result {
        // tokio-socks offers "no authentication" beside username/password; a proxy that picks
        // it would silently drop the isolation credentials.
        Ok(()) if credentials.is_some() && recorder.seen().get(1) == Some(&METHOD_NONE) => {
            Err(DialError::IsolationNotApplied {
                proxy: proxy.clone(),
            })
        }
        Ok(()) => Ok(recorder.into_inner()),
        Err(error) => Err(explain(
            error,
            recorder.seen(),
            credentials.is_some(),
            proxy,
            target,
        )),
    }
}

/// Turns a failed handshake into our error, from the bytes the proxy sent.
fn explain(
    error: tokio_socks::Error,
    seen: &[u8],
    offered_password: bool,
    proxy: &LocalAddr,
    target: &DialTarget,
) -> DialError {
    let malformed = |problem| DialError::MalformedReply {
        proxy: proxy.clone(),
        target: target.clone(),
        problem,
    };
    match diagnose(seen, offered_password) {
        Diagnosis::MethodsRefused => DialError::AuthMethodsRefused {
            proxy: proxy.clone(),
        },
        Diagnosis::AuthRejected(status) => DialError::AuthRejected {
            proxy: proxy.clone(),
            status,
        },
        Diagnosis::Reply(code) => DialError::from_reply(code, target.clone()),
        Diagnosis::Malformed(problem) => malformed(problem),
        Diagnosis::Incomplete(phase) => match error {
            tokio_socks::Error::Io(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                malformed(Malformed::Truncated { phase })
            }
            tokio_socks::Error::Io(source) => DialError::ProxyIo {
                proxy: proxy.clone(),
                target: target.clone(),
                source,
            },
            other => malformed(Malformed::Other {
                message: other.to_string(),
            }),
        },
    }
}

/// The target as tokio-socks sends it: names (onion or DNS) always as domain names.
fn socks_target(target: &DialTarget) -> Result<TargetAddr<'static>, DialError> {
    let invalid = |reason| DialError::InvalidTarget {
        target: target.clone(),
        reason,
    };
    let (host, port) = match target {
        DialTarget::Ip(addr) if addr.port() == 0 => return Err(invalid("port 0")),
        DialTarget::Ip(addr) => return Ok(TargetAddr::Ip(*addr)),
        DialTarget::Onion(onion) => onion.socks_target(),
        DialTarget::Dns { name, port } => (name.clone(), *port),
        _ => return Err(invalid("this kind of target is not supported")),
    };
    if host.is_empty() {
        return Err(invalid("the host name is empty"));
    }
    if host.len() > 255 {
        return Err(invalid(
            "the host name is longer than the 255 bytes SOCKS5 allows",
        ));
    }
    if port == 0 {
        return Err(invalid("port 0"));
    }
    Ok(TargetAddr::Domain(host.into(), port))
}

/// The SOCKS username and password that carry an isolation key.
#[derive(Clone)]
struct Credentials {
    username: String,
    password: &'static str,
}

/// Deliberately says nothing of the key.
impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credentials(..)")
    }
}

/// The credentials for one call to `connect`, or `None` to send none.
fn credentials(
    isolation: Isolation,
    peer: Option<&str>,
    target: &DialTarget,
) -> Result<Option<Credentials>, DialError> {
    let username = match isolation {
        Isolation::Shared => return Ok(None),
        Isolation::PerConnection => {
            static NEXT: AtomicU64 = AtomicU64::new(0);
            format!("conn:{}", NEXT.fetch_add(1, Ordering::Relaxed))
        }
        Isolation::PerPeer => match peer {
            Some(key) if key.len() > MAX_ISOLATION_KEY => {
                return Err(DialError::IsolationKeyTooLong {
                    len: key.len(),
                    max: MAX_ISOLATION_KEY,
                });
            }
            Some(key) => format!("{PEER_PREFIX}{key}"),
            None => {
                let username = format!("target:{target}");
                if username.len() <= MAX_USERNAME {
                    username
                } else {
                    // A long (but valid) DNS name: a digest of it isolates just as well.
                    use std::hash::{Hash, Hasher};
                    let mut h = std::collections::hash_map::DefaultHasher::new();
                    target.to_string().hash(&mut h);
                    format!("target#{:016x}", h.finish())
                }
            }
        },
    };
    Ok(Some(Credentials {
        username,
        password: process_token(),
    }))
}

/// A random token drawn once per process: the SOCKS password of every isolated dial.
fn process_token() -> &'static str {
    static TOKEN: OnceLock<String> = OnceLock::new();
    TOKEN.get_or_init(|| {
        // `RandomState` is seeded from the operating system's randomness: enough for a token
        // that only has to differ between processes (it is no secret: tor sees it, nobody else).
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u32(std::process::id());
        if let Ok(since_epoch) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)
        {
            hasher.write_u128(since_epoch.as_nanos());
        }
        format!("torp2p-{:016x}", hasher.finish())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    fn dns(name: &str, port: u16) -> DialTarget {
        DialTarget::Dns {
            name: name.to_owned(),
            port,
        }
    }

    #[test]
    fn names_are_domains_even_when_they_look_like_ips() {
        assert_eq!(
            socks_target(&dns("10.0.0.1", 80)).unwrap(),
            TargetAddr::Domain("10.0.0.1".into(), 80)
        );
        let ip: SocketAddr = "10.0.0.1:80".parse().unwrap();
        assert_eq!(
            socks_target(&DialTarget::Ip(ip)).unwrap(),
            TargetAddr::Ip(ip)
        );
    }

    #[test]
    fn unsendable_targets_are_refused() {
        for target in [
            dns("", 80),
            dns(&"a".repeat(256), 80),
            dns("example.com", 0),
            DialTarget::Ip("10.0.0.1:0".parse().unwrap()),
        ] {
            assert!(matches!(
                socks_target(&target),
                Err(DialError::InvalidTarget { .. })
            ));
        }
        assert!(socks_target(&dns(&"a".repeat(255), 80)).is_ok());
    }

    #[test]
    fn credentials_follow_the_isolation_mode() {
        let target = dns("example.com", 80);
        assert!(
            credentials(Isolation::Shared, Some("p"), &target)
                .unwrap()
                .is_none()
        );
        let a = credentials(Isolation::PerPeer, Some("p"), &target)
            .unwrap()
            .unwrap();
        assert_eq!(a.username, "peer:p");
        assert_eq!(a.password, process_token());
        let t = credentials(Isolation::PerPeer, None, &target)
            .unwrap()
            .unwrap();
        assert_eq!(t.username, "target:example.com:80");
        let c1 = credentials(Isolation::PerConnection, Some("p"), &target)
            .unwrap()
            .unwrap();
        let c2 = credentials(Isolation::PerConnection, Some("p"), &target)
            .unwrap()
            .unwrap();
        assert_ne!(c1.username, c2.username);
        assert_eq!(format!("{c1:?}"), "Credentials(..)");
    }

    #[test]
    fn isolation_key_length_is_bounded() {
        let target = dns("example.com", 80);
        let longest = "k".repeat(MAX_ISOLATION_KEY);
        let c = credentials(Isolation::PerPeer, Some(&longest), &target)
            .unwrap()
            .unwrap();
        assert_eq!(c.username.len(), MAX_USERNAME);
        let too_long = "k".repeat(MAX_ISOLATION_KEY + 1);
        assert!(matches!(
            credentials(Isolation::PerPeer, Some(&too_long), &target),
            Err(DialError::IsolationKeyTooLong { len, max }) if len == MAX_ISOLATION_KEY + 1 && max == MAX_ISOLATION_KEY
        ));
        // Without a key, a target too long for the username is isolated by a digest.
        let long_target = dns(&"a".repeat(250), 80);
        let c = credentials(Isolation::PerPeer, None, &long_target)
            .unwrap()
            .unwrap();
        assert!(c.username.starts_with("target#") && c.username.len() <= MAX_USERNAME);
        let other = dns(&"b".repeat(250), 80);
        let d = credentials(Isolation::PerPeer, None, &other)
            .unwrap()
            .unwrap();
        assert_ne!(c.username, d.username);
    }
}
