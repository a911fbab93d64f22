//! Configuration of a managed tor ([`Config`]) and of an attached one ([`AttachConfig`]).

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use torp2p_addr::LocalAddr;

use crate::error::{Error, Result, TorrcProblem};

/// The most [`Config::with_torrc_file`] reads: 1 MiB, hundreds of times a real torrc.
pub const MAX_TORRC_FILE_BYTES: u64 = 1 << 20;

/// How a managed tor offers its control and SOCKS ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Listeners {
    /// Unix sockets inside the data directory (mode 0700): only this user can use them.
    /// The default on unix.
    Unix,
    /// TCP ports on 127.0.0.1 chosen by tor (`auto`): any local user can connect to the SOCKS
    /// port (the control port still needs the cookie).
    Tcp,
    /// None of torp2p's: it writes no `ControlPort` or `SocksPort` line, and the torrc lines you
    /// add ([`Config::with_torrc_line`]) or the defaults file ([`Config::with_defaults_torrc`])
    /// name them, as a distribution's service configuration does (Debian:
    /// `ControlSocket /run/tor/control`, `SocksPort unix:/run/tor/socks`, `SocksPort 9050`).
    /// Override every path of such a file that you do not mean to use.
    ///
    /// torp2p connects to the control port that tor writes to its `ControlPortWriteToFile`
    /// file, or to the one named with [`Config::with_control_addr`]. Name it for a tor that
    /// switches user (`User`): tor opens its unix sockets only after the switch, and after it
    /// wrote that file, which then stays empty. [`Config::with_socks`] then only says whether
    /// torp2p asks tor for its SOCKS port.
    Torrc,
}

/// Configuration of a tor that torp2p starts and owns ([`crate::Tor::spawn`]).
#[derive(Debug, Clone)]
pub struct Config {
    pub(crate) tor_bin: Option<PathBuf>,
    pub(crate) data_dir: Option<PathBuf>,
    pub(crate) defaults_torrc: Option<PathBuf>,
    pub(crate) control_addr: Option<LocalAddr>,
    pub(crate) extra_torrc: Vec<String>,
    pub(crate) listeners: Listeners,
    pub(crate) socks: bool,
    pub(crate) startup_timeout: Duration,
    pub(crate) command_timeout: Duration,
    pub(crate) log_level: &'static str,
}

impl Config {
    /// The defaults:
    /// - tor binary: `$TOR_BIN`, else `tor` on `PATH` (or `/usr/sbin/tor`);
    /// - data directory: a fresh temporary directory, deleted when the [`crate::Tor`] is dropped;
    /// - defaults file (`--defaults-torrc`): an empty one, so that no system file is read;
    /// - no extra torrc lines;
    /// - listeners: unix sockets in the data directory ([`Listeners::Unix`]) where the path
    ///   fits a socket address, TCP on 127.0.0.1 otherwise; the control address from tor's
    ///   `ControlPortWriteToFile` file;
    /// - a SOCKS port, with `ExtendedErrors` (so dial errors say why);
    /// - startup timeout (until the control port answers): 30 s;
    /// - timeout of one control-port command: 30 s;
    /// - tor's log level: `notice` (drained into `tracing` under the target `tor`).
    pub fn new() -> Self {
        Self {
            tor_bin: None,
            data_dir: None,
            defaults_torrc: None,
            control_addr: None,
            extra_torrc: Vec::new(),
            listeners: if cfg!(unix) {
                Listeners::Unix
            } else {
                Listeners::Tcp
            },
            socks: true,
            startup_timeout: Duration::from_secs(30),
            command_timeout: Duration::from_secs(30),
            log_level: "notice",
        }
    }

    /// The tor binary to run.
    pub fn with_tor_bin(mut self, path: impl Into<PathBuf>) -> Self {
        self.tor_bin = Some(path.into());
        self
    }

    /// A persistent data directory (created with mode 0700 if missing). tor keeps its consensus
    /// cache there, which makes later starts fast. It is not deleted on drop.
    pub fn with_data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    /// Starts tor with this defaults file (`--defaults-torrc`) instead of an empty one: the way
    /// to run tor with a distribution's service configuration (Debian:
    /// `/usr/share/tor/tor-service-defaults-torrc`, which switches to the user `debian-tor`
    /// and names system paths). Options of the torrc (torp2p's lines and yours) replace the
    /// file's: override each path of it that you do not mean tor to use (`DataDirectory` is
    /// always torp2p's), and see [`Listeners::Torrc`] for its listeners.
    pub fn with_defaults_torrc(mut self, path: impl Into<PathBuf>) -> Self {
        self.defaults_torrc = Some(path.into());
        self
    }

    /// Connects to tor's control port at `addr` once it accepts connections, rather than
    /// reading the address from tor's `ControlPortWriteToFile` file: for a control port named
    /// by the torrc lines ([`Listeners::Torrc`]) that tor opens after it writes that file (a
    /// unix socket of a tor that switches user). With the other [`Listeners`] it is ignored.
    pub fn with_control_addr(mut self, addr: LocalAddr) -> Self {
        self.control_addr = Some(addr);
        self
    }

    /// Adds a torrc line, e.g. `DirAuthority ...` to join a private test network. Lines are
    /// written after torp2p's own, so for single-valued options they win.
    pub fn with_torrc_line(mut self, line: impl Into<String>) -> Self {
        self.extra_torrc.push(line.into());
        self
    }

    /// Adds several torrc lines (see [`Config::with_torrc_line`]).
    pub fn with_torrc_lines<I, S>(mut self, lines: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.extra_torrc.extend(lines.into_iter().map(Into::into));
        self
    }

    /// Adds the options of a torrc file (see [`Config::with_torrc_line`]): every line but blank
    /// ones and `#` comments, as tor itself reads the file. The way to join a private network
    /// from the `client.torrc` that `torp2p-testnet` writes.
    ///
    /// Lines may end in LF, CRLF or a lone CR; a leading UTF-8 byte order mark is skipped. At
    /// most [`MAX_TORRC_FILE_BYTES`] are read, so a pipe (`<(...)`) works and `/dev/zero` does
    /// not hang.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the file cannot be read (the cause is its source);
    /// [`Error::TorrcFile`] if it is larger than [`MAX_TORRC_FILE_BYTES`], is not UTF-8 text,
    /// or has a NUL byte.
    pub fn with_torrc_file(self, path: impl AsRef<Path>) -> Result<Self> {
        use std::io::Read;
        let path = path.as_ref();
        let io = |source| Error::Io {
            what: "cannot read the torrc file",
            path: path.to_path_buf(),
            source,
        };
        let problem = |problem| Error::TorrcFile {
            path: path.to_path_buf(),
            problem,
        };
        let mut data = Vec::new();
        std::fs::File::open(path)
            .and_then(|f| f.take(MAX_TORRC_FILE_BYTES + 1).read_to_end(&mut data))
            .map_err(io)?;
        if data.len() as u64 > MAX_TORRC_FILE_BYTES {
            return Err(problem(TorrcProblem::TooLarge {
                max: MAX_TORRC_FILE_BYTES,
            }));
        }
        let line_of = |at: usize| data[..at].iter().filter(|&&b| b == b'\n').count() + 1;
        if let Some(at) = data.iter().position(|&b| b == 0) {
            return Err(problem(TorrcProblem::Nul { line: line_of(at) }));
        }
        let text = match std::str::from_utf8(&data) {
            Ok(text) => text,
            Err(e) => {
                return Err(problem(TorrcProblem::NotUtf8 {
                    line: line_of(e.valid_up_to()),
                }));
            }
        };
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let lines: Vec<String> = text
            .split(['\n', '\r'])
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(String::from)
            .collect();
        Ok(self.with_torrc_lines(lines))
    }

    /// Unix sockets or TCP for the control and SOCKS ports.
    pub fn with_listeners(mut self, listeners: Listeners) -> Self {
        self.listeners = listeners;
        self
    }

    /// Whether tor opens a SOCKS port (off for relays and directory authorities).
    pub fn with_socks(mut self, socks: bool) -> Self {
        self.socks = socks;
        self
    }

    /// How long to wait for tor to open its control port. Any duration works;
    /// `Duration::MAX` waits without a deadline (until tor opens it or exits).
    pub fn with_startup_timeout(mut self, timeout: Duration) -> Self {
        self.startup_timeout = timeout;
        self
    }

    /// How long one control-port command may take. Any duration works; `Duration::MAX`
    /// waits without a deadline.
    pub fn with_command_timeout(mut self, timeout: Duration) -> Self {
        self.command_timeout = timeout;
        self
    }

    /// tor's log level (`err`, `warn`, `notice`, `info`, `debug`).
    pub fn with_log_level(mut self, level: &'static str) -> Self {
        self.log_level = level;
        self
    }

    /// The extra torrc lines.
    pub fn torrc_lines(&self) -> &[String] {
        &self.extra_torrc
    }

    /// The data directory, if a persistent one was named.
    pub fn data_dir(&self) -> Option<&Path> {
        self.data_dir.as_deref()
    }
}

impl Default for Config {
    fn default() -> Self {
        Self::new()
    }
}

/// How to authenticate to an existing tor's control port.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthMethod {
    /// Choose from what tor offers (PROTOCOLINFO): SAFECOOKIE, then COOKIE, then
    /// HASHEDPASSWORD (if a password was given), then NULL.
    Auto {
        /// The control password, for HASHEDPASSWORD.
        password: Option<String>,
    },
    /// SAFECOOKIE: proves knowledge of the cookie without sending it.
    SafeCookie,
    /// COOKIE: sends the cookie file's contents.
    Cookie,
    /// HASHEDPASSWORD: sends the password.
    HashedPassword(String),
    /// NULL: no authentication (only if tor is configured without any).
    Null,
}

impl fmt::Debug for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthMethod::Auto { password } => f
                .debug_struct("Auto")
                .field("password", &password.as_ref().map(|_| "<redacted>"))
                .finish(),
            AuthMethod::SafeCookie => f.write_str("SafeCookie"),
            AuthMethod::Cookie => f.write_str("Cookie"),
            AuthMethod::HashedPassword(_) => f.write_str("HashedPassword(<redacted>)"),
            AuthMethod::Null => f.write_str("Null"),
        }
    }
}

/// Configuration for [`crate::Tor::attach`]: a tor that is already running (a system tor).
#[derive(Debug, Clone)]
pub struct AttachConfig {
    pub(crate) control: LocalAddr,
    pub(crate) auth: AuthMethod,
    pub(crate) command_timeout: Duration,
}

impl AttachConfig {
    /// Attach to the control port at `control`. Defaults: [`AuthMethod::Auto`] without a
    /// password; 30 s timeout per command.
    pub fn new(control: LocalAddr) -> Self {
        Self {
            control,
            auth: AuthMethod::Auto { password: None },
            command_timeout: Duration::from_secs(30),
        }
    }

    /// The authentication method.
    pub fn with_auth(mut self, auth: AuthMethod) -> Self {
        self.auth = auth;
        self
    }

    /// How long one control-port command may take.
    pub fn with_command_timeout(mut self, timeout: Duration) -> Self {
        self.command_timeout = timeout;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn torrc_file_skips_blank_lines_and_comments() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("client.torrc");
        std::fs::write(
            &file,
            "# joins the network\n\nTestingTorNetwork 1\n  DirAuthority a b  \n\t# indented comment\n",
        )
        .unwrap();
        let c = Config::new().with_torrc_file(&file).unwrap();
        assert_eq!(c.torrc_lines(), ["TestingTorNetwork 1", "DirAuthority a b"]);
        let missing = Config::new().with_torrc_file(dir.path().join("none"));
        assert!(matches!(missing, Err(Error::Io { .. })));
    }

    #[test]
    fn debug_redacts_passwords() {
        let s = format!("{:?}", AuthMethod::HashedPassword("hunter2".into()));
        assert!(!s.contains("hunter2"));
        let s = format!(
            "{:?}",
            AuthMethod::Auto {
                password: Some("hunter2".into())
            }
        );
        assert!(!s.contains("hunter2"));
    }
}
