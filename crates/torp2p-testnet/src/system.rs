//! [`SystemTor`]: a tor run as a distribution runs its tor service, joined to a [`TestNet`].
//!
//! Debian's service starts `tor --defaults-torrc /usr/share/tor/tor-service-defaults-torrc -f
//! /etc/tor/torrc` as root; the defaults file has tor switch to the user `debian-tor`, put its
//! control socket (group-writable) and cookie (group-readable) in `/run/tor`, and listen for
//! SOCKS on `unix:/run/tor/socks` (world-writable) and port 9050. [`TestNet::spawn_system_tor`]
//! starts tor the same way, from the same defaults file, with a torrc of its own in place of
//! `/etc/tor/torrc` that moves every path of the defaults file into a temporary directory and
//! joins the private network: tor still switches to `debian-tor`, and an application attaches
//! to it as to the real service (cookie authentication on the control socket).

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use torp2p_daemon::{AttachConfig, AuthMethod, Config, Listeners, LocalAddr, Tor};

use crate::error::Error;
use crate::net::{Dir, TestNet};
use crate::ports::free_ports;

/// Debian's defaults file for its tor service.
pub const DEBIAN_SERVICE_DEFAULTS: &str = "/usr/share/tor/tor-service-defaults-torrc";

/// Options of a service defaults file that are kept as they are: none names a path.
const KEPT: &[&str] = &[
    "User",
    "ControlSocketsGroupWritable",
    "CookieAuthentication",
    "CookieAuthFileGroupReadable",
];

/// Options of a service defaults file that our torrc replaces (`DataDirectory` is the
/// daemon's own line).
const REPLACED: &[&str] = &[
    "DataDirectory",
    "PidFile",
    "RunAsDaemon",
    "ControlSocket",
    "SocksPort",
    "CookieAuthFile",
    "Log",
];

/// A tor started as a distribution starts its tor service (from the service's defaults file,
/// as root, switching to the service's user), joined to a [`TestNet`]: made by
/// [`TestNet::spawn_system_tor`]. An application attaches to it with
/// [`attach_config`](Self::attach_config), as it would to the system's tor.
///
/// Its files are in a directory of its own (see [`dir`](Self::dir)), laid out as the service's:
/// `lib/` for the data directory (the service user's, mode 0700, like `/var/lib/tor`) and
/// `run/` for the control socket, cookie, SOCKS socket and PID file (the service user's and
/// group's, mode 2755, like `/run/tor`).
///
/// Dropping it kills tor (SIGKILL, by its PID: with `RunAsDaemon 0` the child is tor itself)
/// and deletes the directory, which is kept and printed if a thread is panicking (a failing
/// test); [`shutdown`](Self::shutdown) also waits until tor is reaped. tor also exits if this
/// process dies: its control connection took ownership (`TAKEOWNERSHIP`).
pub struct SystemTor {
    // Dropped first: tor dies before its directory goes.
    tor: Tor,
    user: String,
    uid: u32,
    control: PathBuf,
    cookie: PathBuf,
    socks_socket: PathBuf,
    socks_port: SocketAddr,
    dir: Option<Dir>,
}

impl std::fmt::Debug for SystemTor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SystemTor")
            .field("pid", &self.tor.pid())
            .field("user", &self.user)
            .field("control", &self.control)
            .field("dir", &self.dir())
            .finish_non_exhaustive()
    }
}

impl SystemTor {
    /// The control socket (`run/control`, like `/run/tor/control`): group-writable, so the
    /// service's group (`debian-tor`) may connect.
    pub fn control_socket(&self) -> &Path {
        &self.control
    }

    /// The cookie file (`run/control.authcookie`, like `/run/tor/control.authcookie`):
    /// group-readable, so the service's group may authenticate.
    pub fn cookie_file(&self) -> &Path {
        &self.cookie
    }

    /// The unix SOCKS socket (`run/socks`, like `/run/tor/socks`): world-writable.
    pub fn socks_socket(&self) -> &Path {
        &self.socks_socket
    }

    /// The TCP SOCKS port on 127.0.0.1 (in place of the service's 9050: a free port below the
    /// ephemeral range).
    pub fn socks_port(&self) -> SocketAddr {
        self.socks_port
    }

    /// How an application attaches: the control socket, with SAFECOOKIE authentication (the
    /// cookie read from the file tor names; change it with [`AttachConfig::with_auth`]).
    pub fn attach_config(&self) -> AttachConfig {
        AttachConfig::new(LocalAddr::Unix(self.control.clone())).with_auth(AuthMethod::SafeCookie)
    }

    /// The service's user, which tor runs as (`debian-tor`).
    pub fn user(&self) -> &str {
        &self.user
    }

    /// That user's uid.
    pub fn uid(&self) -> u32 {
        self.uid
    }

    /// tor's PID.
    pub fn pid(&self) -> Option<u32> {
        self.tor.pid()
    }

    /// The handle this helper holds (it owns tor). An application should attach with
    /// [`attach_config`](Self::attach_config) instead, as it would to the system's tor.
    pub fn tor(&self) -> &Tor {
        &self.tor
    }

    /// The directory with tor's files (`lib/notice.log` is its log).
    pub fn dir(&self) -> &Path {
        self.dir.as_ref().map(Dir::path).unwrap_or(Path::new(""))
    }

    /// Kills tor and waits until it is reaped, then deletes the directory.
    pub async fn shutdown(self) {
        self.tor.clone().shutdown().await;
    }
}

impl Drop for SystemTor {
    fn drop(&mut self) {
        if let Some(dir) = self.dir.take()
            && std::thread::panicking()
        {
            let path = dir.persist();
            eprintln!(
                "torp2p-testnet: system-style tor's files kept in {}",
                path.display()
            );
        }
    }
}

impl TestNet {
    /// Starts a tor as Debian starts its tor service (from [`DEBIAN_SERVICE_DEFAULTS`]), joined
    /// to this network, and waits until it has bootstrapped; see
    /// [`spawn_system_tor_from`](Self::spawn_system_tor_from).
    pub async fn spawn_system_tor(&self) -> Result<SystemTor, Error> {
        self.spawn_system_tor_from(Path::new(DEBIAN_SERVICE_DEFAULTS))
            .await
    }

    /// Starts a tor as a distribution starts its tor service, from the service's `defaults`
    /// file, joined to this network, and waits until it has bootstrapped.
    ///
    /// tor is started as root and switches to the user that the file's `User` line names (it
    /// must exist here). Our torrc keeps the file's other settings (cookie authentication with a
    /// group-readable cookie, a group-writable control socket, a world-writable unix SOCKS
    /// socket and a TCP SOCKS port) but moves every path into a temporary directory of its own
    /// (see [`SystemTor`]), keeps the PID (`RunAsDaemon 0`), logs to that directory and to the
    /// test's log, and joins this network ([`client_torrc`](Self::client_torrc)). The system's
    /// own paths (`/var/lib/tor`, `/run/tor`) are never used.
    ///
    /// # Errors
    ///
    /// [`Error::NotRoot`] unless this process runs as root (tor must start as root to switch
    /// user); [`Error::ServiceDefaults`] if the file names no user, a user that does not exist
    /// here, or an option this helper does not know to be harmless or to replace (it could make
    /// tor use a system path); [`Error::NotSwitched`] if tor does not run as that user;
    /// [`Error::Node`] (node `systor`) if tor fails to start or bootstrap; [`Error::Io`] for the
    /// files.
    pub async fn spawn_system_tor_from(&self, defaults: &Path) -> Result<SystemTor, Error> {
        let euid = euid_of("self");
        if euid != Some(0) {
            return Err(Error::NotRoot { euid });
        }
        let text = std::fs::read_to_string(defaults).map_err(|source| Error::Io {
            what: "cannot read the service's defaults file",
            path: defaults.to_path_buf(),
            source,
        })?;
        let user = service_user(&text).map_err(|problem| Error::ServiceDefaults {
            path: defaults.to_path_buf(),
            problem,
        })?;
        let (uid, gid) = lookup_user(&user).ok_or_else(|| Error::ServiceDefaults {
            path: defaults.to_path_buf(),
            problem: format!("names the user {user}, who does not exist here (/etc/passwd)"),
        })?;

        let dir = Dir::Temp(
            tempfile::Builder::new()
                .prefix("torp2p-systor-")
                .tempdir()
                .map_err(|source| Error::Io {
                    what: "cannot create a temporary directory in",
                    path: std::env::temp_dir(),
                    source,
                })?,
        );
        let base = dir.path().to_path_buf();
        let lib = base.join("lib");
        let run = base.join("run");
        // The service's user must pass through the base to its own two directories.
        make_dir(&base, 0o755, None)?;
        make_dir(&lib, 0o700, Some((uid, gid)))?;
        make_dir(&run, 0o2755, Some((uid, gid)))?;
        for p in [&lib, &run] {
            if p.to_str().is_none_or(|s| s.contains(char::is_whitespace)) {
                return Err(Error::Io {
                    what: "the temporary directory's path cannot be written unquoted in a torrc",
                    path: p.clone(),
                    source: std::io::ErrorKind::InvalidInput.into(),
                });
            }
        }
        let control = run.join("control");
        let cookie = run.join("control.authcookie");
        let socks_socket = run.join("socks");
        let socks_port = SocketAddr::from((Ipv4Addr::LOCALHOST, free_ports(1)?[0]));
        let ours = [
            format!("PidFile {}", run.join("tor.pid").display()),
            "RunAsDaemon 0".to_string(),
            format!(
                "ControlSocket {} GroupWritable RelaxDirModeCheck",
                control.display()
            ),
            format!("SocksPort unix:{} WorldWritable", socks_socket.display()),
            format!("SocksPort {socks_port}"),
            format!("CookieAuthFile {}", cookie.display()),
            format!("Log notice file {}", lib.join("notice.log").display()),
        ];
        let mut config = Config::new()
            .with_defaults_torrc(defaults)
            .with_listeners(Listeners::Torrc)
            .with_control_addr(LocalAddr::Unix(control.clone()))
            .with_data_dir(&lib)
            .with_torrc_lines(self.client_torrc().iter().cloned())
            .with_torrc_lines(ours);
        if let Some(bin) = self.tor_bin() {
            config = config.with_tor_bin(bin);
        }

        let fail = |source| Error::Node {
            node: "systor".into(),
            dir: base.clone(),
            source: Box::new(source),
        };
        let result = async {
            let tor = Tor::spawn(config).await.map_err(fail)?;
            let runs_as = tor.pid().and_then(|pid| euid_of(&pid.to_string()));
            if runs_as != Some(uid) {
                tor.shutdown().await;
                return Err(Error::NotSwitched {
                    user: user.clone(),
                    uid,
                    actual: runs_as,
                    dir: base.clone(),
                });
            }
            tor.wait_bootstrapped(self.client_timeout())
                .await
                .map_err(fail)?;
            Ok(tor)
        }
        .await;
        match result {
            Ok(tor) => {
                tracing::debug!(pid = tor.pid(), %user, dir = %base.display(), "system-style tor ready");
                Ok(SystemTor {
                    tor,
                    user,
                    uid,
                    control,
                    cookie,
                    socks_socket,
                    socks_port,
                    dir: Some(dir),
                })
            }
            Err(e) => {
                let path = dir.persist();
                tracing::warn!(dir = %path.display(), "system-style tor failed; files kept");
                Err(e)
            }
        }
    }
}

/// The user a service defaults file switches to, once every option in it is checked to be
/// harmless or replaced by ours (see [`KEPT`] and [`REPLACED`]).
fn service_user(text: &str) -> Result<String, String> {
    let mut user = None;
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (option, value) = line
            .split_once(char::is_whitespace)
            .map(|(o, v)| (o, v.trim()))
            .unwrap_or((line, ""));
        let is = |names: &[&str]| names.iter().any(|n| n.eq_ignore_ascii_case(option));
        if option.eq_ignore_ascii_case("User") {
            user = Some(value.to_string());
        } else if !is(KEPT) && !is(REPLACED) {
            return Err(format!(
                "has the option {option}, which this helper does not know to be harmless or to replace: it could make tor use a system path"
            ));
        }
    }
    match user {
        Some(u) if !u.is_empty() => Ok(u),
        _ => Err("names no User to switch to: is this a service's defaults file?".into()),
    }
}

/// The uid and gid of `name` in `/etc/passwd`.
fn lookup_user(name: &str) -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    parse_passwd(&passwd, name)
}

fn parse_passwd(passwd: &str, name: &str) -> Option<(u32, u32)> {
    passwd.lines().find_map(|l| {
        let mut fields = l.split(':');
        if fields.next()? != name {
            return None;
        }
        let _password = fields.next()?;
        let uid = fields.next()?.parse().ok()?;
        let gid = fields.next()?.parse().ok()?;
        Some((uid, gid))
    })
}

/// The effective uid of `/proc/<pid>` (`self` for this process).
fn euid_of(pid: &str) -> Option<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Creates `path` (if missing) with `mode`, owned by `owner` if given.
fn make_dir(path: &Path, mode: u32, owner: Option<(u32, u32)>) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt;
    let io = |what, source| Error::Io {
        what,
        path: path.to_path_buf(),
        source,
    };
    if !path.is_dir() {
        std::fs::create_dir(path).map_err(|e| io("cannot create", e))?;
    }
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::chown(path, Some(uid), Some(gid))
            .map_err(|e| io("cannot hand over to the service's user", e))?;
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| io("cannot set the mode of", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debians_defaults_file_is_understood() {
        // /usr/share/tor/tor-service-defaults-torrc of tor 0.4.9.11 (Debian).
        let debian = "DataDirectory /var/lib/tor\nPidFile /run/tor/tor.pid\nRunAsDaemon 1\nUser debian-tor\n\nControlSocket /run/tor/control GroupWritable RelaxDirModeCheck\nControlSocketsGroupWritable 1\nSocksPort unix:/run/tor/socks WorldWritable\nSocksPort 9050\n\nCookieAuthentication 1\nCookieAuthFileGroupReadable 1\nCookieAuthFile /run/tor/control.authcookie\n\nLog notice syslog\n";
        assert_eq!(service_user(debian).unwrap(), "debian-tor");
        if let Ok(installed) = std::fs::read_to_string(DEBIAN_SERVICE_DEFAULTS) {
            assert_eq!(service_user(&installed).unwrap(), "debian-tor");
        }
    }

    #[test]
    fn unknown_options_and_no_user_are_refused() {
        let e = service_user("User debian-tor\nHiddenServiceDir /var/lib/tor/hs\n").unwrap_err();
        assert!(e.contains("HiddenServiceDir"), "{e}");
        let e = service_user("User debian-tor\nControlPort 9051\n").unwrap_err();
        assert!(e.contains("ControlPort"), "{e}");
        assert!(service_user("SocksPort 9050\n").is_err());
        assert!(service_user("User\n").is_err());
        // Options are case-insensitive, as tor reads them.
        assert_eq!(
            service_user("user debian-tor\nsocksport 9050\n").unwrap(),
            "debian-tor"
        );
    }

    #[test]
    fn passwd_lines() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\ndebian-tor:x:102:105::/var/lib/tor:/bin/false\nbad:x:y:z\n";
        assert_eq!(parse_passwd(passwd, "debian-tor"), Some((102, 105)));
        assert_eq!(parse_passwd(passwd, "root"), Some((0, 0)));
        assert_eq!(parse_passwd(passwd, "bad"), None);
        assert_eq!(parse_passwd(passwd, "nobody"), None);
        assert_eq!(parse_passwd(passwd, "debian"), None);
    }
}
