//! One control-port connection: torut's reply framing with a small typed layer of ours
//! (authentication, commands with timeouts, reply parsing).

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use data_encoding::HEXUPPER;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::io::{AsyncRead, AsyncWrite, BufReader};
use torut::control::{Conn, ConnError};

use torp2p_addr::LocalAddr;

use crate::config::AuthMethod;
use crate::error::{Error, Result};

/// Anything we can speak the control protocol over.
pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// An authenticated (or about to be) control connection.
pub(crate) struct ControlConn {
    /// `None` once [`ControlConn::close`]d.
    conn: Option<Conn<BufReader<Box<dyn Io>>>>,
    addr: LocalAddr,
    timeout: Duration,
    /// Replies tor still owes for commands that timed out; read and dropped before the next
    /// command, so that replies and commands stay paired.
    owed: usize,
    /// The PID of the process behind a unix control socket, as the kernel tells it
    /// (`SO_PEERCRED`, in our PID namespace: 0 if that process is not visible in it).
    peer_pid: Option<u32>,
    /// Whether this connection asked for events (`SETEVENTS` with a list): tor's asynchronous
    /// replies (`6xx`) may then come before a command's reply, and are not that reply.
    subscribed: bool,
}

impl ControlConn {
    /// Connects to tor's control port.
    pub(crate) async fn connect(addr: &LocalAddr, timeout: Duration) -> Result<Self> {
        let connect = async {
            let io: (Box<dyn Io>, Option<u32>) = match addr {
                LocalAddr::Tcp(a) => (Box::new(tokio::net::TcpStream::connect(a).await?), None),
                #[cfg(unix)]
                LocalAddr::Unix(p) => {
                    let stream = tokio::net::UnixStream::connect(p).await?;
                    let pid = stream
                        .peer_cred()
                        .ok()
                        .and_then(|c| c.pid())
                        .and_then(|pid| u32::try_from(pid).ok());
                    (Box::new(stream), pid)
                }
                #[cfg(not(unix))]
                LocalAddr::Unix(_) => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::Unsupported,
                        "unix sockets are not available on this platform",
                    ));
                }
            };
            Ok::<_, std::io::Error>(io)
        };
        let (io, peer_pid) = tokio::time::timeout(timeout, connect)
            .await
            .map_err(|_| Error::ControlConnect {
                addr: addr.clone(),
                source: std::io::ErrorKind::TimedOut.into(),
            })?
            .map_err(|source| Error::ControlConnect {
                addr: addr.clone(),
                source,
            })?;
        Ok(Self {
            conn: Some(Conn::new(BufReader::new(io))),
            addr: addr.clone(),
            timeout,
            owed: 0,
            peer_pid,
            subscribed: false,
        })
    }

    /// A connection over `io` (for tests: a scripted or random "tor").
    #[cfg(test)]
    pub(crate) fn from_io(io: Box<dyn Io>, addr: LocalAddr, timeout: Duration) -> Self {
        Self {
            conn: Some(Conn::new(BufReader::new(io))),
            addr,
            timeout,
            owed: 0,
            peer_pid: None,
            subscribed: false,
        }
    }

    /// The PID of the process behind a unix control socket (`SO_PEERCRED`: 0 if it is not
    /// visible in our PID namespace); `None` over TCP or if the kernel did not say.
    pub(crate) fn peer_pid(&self) -> Option<u32> {
        self.peer_pid
    }

    /// The address this connection goes to.
    pub(crate) fn addr(&self) -> &LocalAddr {
        &self.addr
    }

    /// Closes the connection: tor forgets what it added (onion services without `Detach`).
    /// Commands after this fail with [`Error::ControlClosed`].
    pub(crate) fn close(&mut self) {
        self.conn = None;
    }

    /// Sends `command` and returns the reply lines of a 250 reply. `shown` is how the command
    /// appears in errors and logs (without secrets).
    pub(crate) async fn command(&mut self, command: &str, shown: &str) -> Result<Vec<String>> {
        let (code, lines) = self.exchange(command, shown).await?;
        if code == 250 {
            Ok(lines)
        } else {
            Err(Error::Command {
                command: shown.to_string(),
                code,
                reply: lines.join(" "),
            })
        }
    }

    /// Sends `command`, returns the status code and lines, whatever the code.
    ///
    /// If tor does not answer in time, the reply it still owes is remembered and skipped
    /// before the next command.
    pub(crate) async fn exchange(
        &mut self,
        command: &str,
        shown: &str,
    ) -> Result<(u16, Vec<String>)> {
        tracing::trace!(command = shown, "control command");
        let timeout = self.timeout;
        let addr = self.addr.clone();
        let Some(conn) = self.conn.as_mut() else {
            return Err(Error::ControlClosed { addr });
        };
        let subscribed = self.subscribed;
        while self.owed > 0 {
            match tokio::time::timeout(timeout, receive_reply(conn, subscribed)).await {
                Ok(Ok(_late)) => self.owed -= 1,
                Ok(Err(e)) => return Err(map_err(e, &addr, shown)),
                Err(_) => {
                    return Err(Error::CommandTimeout {
                        command: format!("{shown} (tor has not answered an earlier command yet)"),
                        timeout,
                    });
                }
            }
        }
        match tokio::time::timeout(
            timeout,
            conn.write_data(format!("{command}\r\n").as_bytes()),
        )
        .await
        {
            Err(_) => {
                return Err(Error::CommandTimeout {
                    command: shown.to_string(),
                    timeout,
                });
            }
            Ok(Err(e)) => return Err(map_err(e, &addr, shown)),
            Ok(Ok(())) => {}
        }
        match tokio::time::timeout(timeout, receive_reply(conn, subscribed)).await {
            Err(_) => {
                // The request went out: its reply will come, and must not be taken for the
                // reply to the next command.
                self.owed += 1;
                Err(Error::CommandTimeout {
                    command: shown.to_string(),
                    timeout,
                })
            }
            Ok(Err(e)) => Err(map_err(e, &addr, shown)),
            Ok(Ok(reply)) => {
                if reply.0 == 250 && command.starts_with("SETEVENTS") {
                    // `SETEVENTS` alone unsubscribes from everything.
                    self.subscribed = command.split_whitespace().nth(1).is_some();
                }
                Ok(reply)
            }
        }
    }

    /// Reads one reply, events included (for the event connection: no timeout, events come
    /// when they come).
    pub(crate) async fn read_reply(&mut self) -> Result<(u16, Vec<String>)> {
        let addr = self.addr.clone();
        let Some(conn) = self.conn.as_mut() else {
            return Err(Error::ControlClosed { addr });
        };
        conn.receive_data()
            .await
            .map_err(|e| map_err(e, &addr, "(event)"))
    }

    /// Authenticates with `method` (see [`AuthMethod`]), reading PROTOCOLINFO first.
    pub(crate) async fn authenticate(&mut self, method: &AuthMethod) -> Result<()> {
        let info = ProtocolInfo::parse(&self.command("PROTOCOLINFO 1", "PROTOCOLINFO 1").await?);
        if info.methods.iter().all(String::is_empty) {
            return Err(Error::AuthFailed {
                method: "none",
                reason: "tor's PROTOCOLINFO reply names no authentication method (no AUTH METHODS=...): is this tor's control port?".into(),
            });
        }
        let offered = |m: &str| info.methods.iter().any(|x| x == m);
        let chosen = match method {
            AuthMethod::Auto { password } => {
                if offered("SAFECOOKIE") && info.cookie_file.is_some() {
                    AuthMethod::SafeCookie
                } else if offered("COOKIE") && info.cookie_file.is_some() {
                    AuthMethod::Cookie
                } else if let (true, Some(p)) = (offered("HASHEDPASSWORD"), password) {
                    AuthMethod::HashedPassword(p.clone())
                } else if offered("NULL") {
                    AuthMethod::Null
                } else {
                    return Err(Error::AuthFailed {
                        method: "none",
                        reason: format!(
                            "tor offers {} and none of them can be used{}",
                            info.methods.join(", "),
                            if offered("HASHEDPASSWORD") {
                                ": give the control password"
                            } else {
                                ""
                            }
                        ),
                    });
                }
            }
            other => other.clone(),
        };
        let name = method_name(&chosen);
        if !offered(name) {
            return Err(Error::AuthFailed {
                method: name,
                reason: format!(
                    "tor does not offer it (it offers {})",
                    info.methods.join(", ")
                ),
            });
        }
        let secret = match &chosen {
            AuthMethod::Null | AuthMethod::Auto { .. } => String::new(),
            AuthMethod::HashedPassword(p) => format!(" {}", quote(p)),
            AuthMethod::Cookie => format!(" {}", HEXUPPER.encode(&info.read_cookie(name)?)),
            AuthMethod::SafeCookie => {
                let cookie = info.read_cookie(name)?;
                format!(" {}", self.safecookie_response(&cookie).await?)
            }
        };
        let (code, lines) = self
            .exchange(&format!("AUTHENTICATE{secret}"), "AUTHENTICATE <redacted>")
            .await?;
        if code != 250 {
            return Err(Error::AuthFailed {
                method: name,
                reason: format!("tor answered {code} {}", lines.join(" ")),
            });
        }
        tracing::debug!(method = name, addr = %self.addr, "authenticated to tor's control port");
        Ok(())
    }

    /// AUTHCHALLENGE SAFECOOKIE: checks tor's proof that it knows the cookie, returns ours.
    async fn safecookie_response(&mut self, cookie: &[u8]) -> Result<String> {
        const SERVER_KEY: &[u8] = b"Tor safe cookie authentication server-to-controller hash";
        const CLIENT_KEY: &[u8] = b"Tor safe cookie authentication controller-to-server hash";
        let mut client_nonce = [0u8; 32];
        getrandom::fill(&mut client_nonce).map_err(|e| Error::AuthFailed {
            method: "SAFECOOKIE",
            reason: format!("no randomness for the client nonce: {e}"),
        })?;
        let cmd = format!(
            "AUTHCHALLENGE SAFECOOKIE {}",
            HEXUPPER.encode(&client_nonce)
        );
        let lines = self.command(&cmd, "AUTHCHALLENGE SAFECOOKIE").await?;
        let fail = |reason: String| Error::AuthFailed {
            method: "SAFECOOKIE",
            reason,
        };
        let kv = parse_kv(lines.first().map(String::as_str).unwrap_or(""));
        let hex = |k: &str| {
            kv.get(k)
                .and_then(|v| HEXUPPER.decode(v.to_ascii_uppercase().as_bytes()).ok())
                .ok_or_else(|| fail(format!("AUTHCHALLENGE reply lacks a valid {k}")))
        };
        let server_hash = hex("SERVERHASH")?;
        let server_nonce = hex("SERVERNONCE")?;
        let mut message = Vec::with_capacity(cookie.len() + 64);
        message.extend_from_slice(cookie);
        message.extend_from_slice(&client_nonce);
        message.extend_from_slice(&server_nonce);
        let mac = |key: &[u8]| -> Result<Hmac<Sha256>> {
            let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key)
                .map_err(|e| fail(format!("hmac: {e}")))?;
            m.update(&message);
            Ok(m)
        };
        mac(SERVER_KEY)?
            .verify_slice(&server_hash)
            .map_err(|_| fail("tor's SERVERHASH does not match the cookie: the cookie file belongs to another tor".into()))?;
        Ok(HEXUPPER.encode(&mac(CLIENT_KEY)?.finalize().into_bytes()))
    }
}

/// The next reply that answers a command: on a connection `subscribed` to events, the
/// asynchronous ones (`6xx`, e.g. a `650 STATUS_CLIENT` between a `GETINFO` and its reply) are
/// passed over. (Before a `SETEVENTS` tor sends none: a `650` there is taken for what it is,
/// a reply that is not `250`.)
async fn receive_reply(
    conn: &mut Conn<BufReader<Box<dyn Io>>>,
    subscribed: bool,
) -> std::result::Result<(u16, Vec<String>), ConnError> {
    loop {
        let (code, lines) = conn.receive_data().await?;
        if subscribed && (600..700).contains(&code) {
            tracing::trace!(
                code,
                first = lines.first().map(String::as_str),
                "event before a reply"
            );
            continue;
        }
        return Ok((code, lines));
    }
}

/// A broken connection (to `addr`) is a closed one; anything else tor sent is a protocol error.
fn map_err(e: ConnError, addr: &LocalAddr, shown: &str) -> Error {
    match e {
        ConnError::IOError(_) => Error::ControlClosed { addr: addr.clone() },
        other => Error::Protocol {
            command: shown.to_string(),
            detail: format!("{other:?}"),
        },
    }
}

fn method_name(m: &AuthMethod) -> &'static str {
    match m {
        AuthMethod::SafeCookie => "SAFECOOKIE",
        AuthMethod::Cookie => "COOKIE",
        AuthMethod::HashedPassword(_) => "HASHEDPASSWORD",
        AuthMethod::Null | AuthMethod::Auto { .. } => "NULL",
    }
}

/// What PROTOCOLINFO told us.
#[derive(Debug, Default)]
pub(crate) struct ProtocolInfo {
    methods: Vec<String>,
    cookie_file: Option<PathBuf>,
}

impl ProtocolInfo {
    pub(crate) fn parse(lines: &[String]) -> Self {
        let mut info = ProtocolInfo::default();
        for line in lines {
            if let Some(rest) = line.strip_prefix("AUTH ") {
                let kv = parse_kv(rest);
                if let Some(m) = kv.get("METHODS") {
                    info.methods = m.split(',').map(str::to_string).collect();
                }
                info.cookie_file = kv.get("COOKIEFILE").map(PathBuf::from);
            }
        }
        info
    }

    /// Reads the cookie file tor named. The name comes from the control port, so nothing is
    /// trusted: a pipe or a device (which could block, or never end) is refused, and at most 33
    /// bytes are read.
    fn read_cookie(&self, method: &'static str) -> Result<Vec<u8>> {
        use std::io::Read;
        let path = self.cookie_file.as_ref().ok_or(Error::AuthFailed {
            method,
            reason: "tor named no cookie file".into(),
        })?;
        let cannot_read = |e: std::io::Error| Error::AuthFailed {
            method,
            reason: format!(
                "cannot read the cookie file {}: {e} (is this user allowed to read it? Debian: add it to the debian-tor group)",
                path.display()
            ),
        };
        let meta = std::fs::metadata(path).map_err(cannot_read)?;
        if !meta.is_file() {
            return Err(Error::AuthFailed {
                method,
                reason: format!(
                    "the cookie file {} that tor named is not a regular file: is this really tor's control port?",
                    path.display()
                ),
            });
        }
        let mut cookie = Vec::with_capacity(COOKIE_LEN + 1);
        std::fs::File::open(path)
            .and_then(|f| f.take(COOKIE_LEN as u64 + 1).read_to_end(&mut cookie))
            .map_err(cannot_read)?;
        if cookie.len() != COOKIE_LEN {
            return Err(Error::AuthFailed {
                method,
                reason: format!(
                    "the cookie file {} has {} bytes, not {COOKIE_LEN}",
                    path.display(),
                    meta.len().max(cookie.len() as u64)
                ),
            });
        }
        Ok(cookie)
    }
}

/// The length of tor's control cookie.
const COOKIE_LEN: usize = 32;

/// Quotes a string for the control protocol.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Parses `KEY=value KEY="quoted value"` pairs; words without `=` are skipped.
pub(crate) fn parse_kv(line: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.peek() == Some(&' ') {
            chars.next();
        }
        if chars.peek().is_none() {
            break;
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c == ' ' {
                break;
            }
            key.push(c);
            chars.next();
        }
        if chars.peek() != Some(&'=') {
            continue;
        }
        chars.next();
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        if let Some(n) = chars.next() {
                            value.push(n);
                        }
                    }
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ' ' {
                    break;
                }
                value.push(c);
                chars.next();
            }
        }
        out.insert(key, value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kv_parses_quoted_and_plain_values() {
        let kv = parse_kv(
            r#"NOTICE BOOTSTRAP PROGRESS=75 TAG=enough_dirinfo SUMMARY="Loaded \"enough\" directory info" X="a\\b""#,
        );
        assert_eq!(kv["PROGRESS"], "75");
        assert_eq!(kv["TAG"], "enough_dirinfo");
        assert_eq!(kv["SUMMARY"], "Loaded \"enough\" directory info");
        assert_eq!(kv["X"], "a\\b");
        assert!(!kv.contains_key("NOTICE"));
    }

    #[test]
    fn kv_survives_truncated_input() {
        for s in ["A=\"unterminated", "=", "A=", "A=\"\\", "  ", "\"=\""] {
            let _ = parse_kv(s);
        }
        assert_eq!(parse_kv("A=\"unterminated")["A"], "unterminated");
    }

    #[test]
    fn protocolinfo_lines() {
        let info = ProtocolInfo::parse(&[
            "PROTOCOLINFO 1".into(),
            r#"AUTH METHODS=COOKIE,SAFECOOKIE COOKIEFILE="/var/run/tor/control.authcookie""#.into(),
            r#"VERSION Tor="0.4.9.11""#.into(),
            "OK".into(),
        ]);
        assert_eq!(info.methods, ["COOKIE", "SAFECOOKIE"]);
        assert_eq!(
            info.cookie_file.as_deref(),
            Some(std::path::Path::new("/var/run/tor/control.authcookie"))
        );
    }

    /// A reply that comes after its command timed out is skipped, not taken as the reply to
    /// the next command.
    #[tokio::test]
    async fn late_replies_stay_paired_with_their_commands() {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.sock");
        let listener = tokio::net::UnixListener::bind(&path).unwrap();
        tokio::spawn(async move {
            let (s, _) = listener.accept().await.unwrap();
            let (r, mut w) = s.into_split();
            let mut lines = tokio::io::BufReader::new(r).lines();
            assert_eq!(lines.next_line().await.unwrap().unwrap(), "GETINFO a");
            // A slow tor: the answer comes after the client gave up waiting.
            tokio::time::sleep(Duration::from_millis(300)).await;
            w.write_all(b"250-a=1\r\n250 OK\r\n").await.unwrap();
            assert_eq!(lines.next_line().await.unwrap().unwrap(), "GETINFO b");
            w.write_all(b"250-b=2\r\n250 OK\r\n").await.unwrap();
            let _ = lines.next_line().await;
        });
        let addr = LocalAddr::Unix(path);
        let mut conn = ControlConn::connect(&addr, Duration::from_millis(200))
            .await
            .unwrap();
        let err = conn.command("GETINFO a", "GETINFO a").await.unwrap_err();
        assert!(matches!(err, Error::CommandTimeout { .. }), "{err:?}");
        let lines = conn.command("GETINFO b", "GETINFO b").await.unwrap();
        assert_eq!(lines.first().map(String::as_str), Some("b=2"));
    }

    #[test]
    fn quoting() {
        assert_eq!(quote(r#"a"b\c"#), r#""a\"b\\c""#);
    }
}
