//! Starting a tor process of our own, draining its output, reaping it.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;
use tokio::sync::{oneshot, watch};

use torp2p_addr::LocalAddr;

use crate::config::{Config, Listeners};
use crate::control::quote;
use crate::error::{Error, Result};
use crate::fs::{private_temp_dir, set_private_dir, write_private};

/// How many of tor's log lines we keep for error messages.
const LOG_TAIL_LINES: usize = 30;
/// Longest unix socket path we use (sun_path is 108 bytes on Linux, 104 on the BSDs).
const MAX_SOCKET_PATH: usize = 100;
/// How often we look for the control-port file while tor starts.
const STARTUP_POLL: Duration = Duration::from_millis(25);

/// The last lines tor logged.
#[derive(Clone, Default)]
pub(crate) struct LogTail(Arc<Mutex<VecDeque<String>>>);

impl LogTail {
    fn push(&self, line: String) {
        if let Ok(mut q) = self.0.lock() {
            if q.len() == LOG_TAIL_LINES {
                q.pop_front();
            }
            q.push_back(line);
        }
    }

    /// The kept lines, oldest first, one per line.
    pub(crate) fn text(&self) -> String {
        self.0
            .lock()
            .map(|q| q.iter().cloned().collect::<Vec<_>>().join("\n"))
            .unwrap_or_default()
    }

    /// The last line that tor logged at warn or err level.
    pub(crate) fn last_warning(&self) -> Option<String> {
        let q = self.0.lock().ok()?;
        q.iter()
            .rev()
            .find(|l| l.contains("[warn]") || l.contains("[err]"))
            .cloned()
    }
}

/// Where tor keeps its state: a temporary directory (deleted on drop) or the user's.
enum DataDir {
    Temp(tempfile::TempDir),
    Kept(PathBuf),
}

impl DataDir {
    fn path(&self) -> &Path {
        match self {
            DataDir::Temp(t) => t.path(),
            DataDir::Kept(p) => p,
        }
    }
}

/// A running tor that we started. Dropping it kills tor (SIGKILL) and then deletes a
/// temporary data directory; the child is reaped by the runtime.
pub(crate) struct TorProcess {
    pid: Option<u32>,
    kill: Option<oneshot::Sender<()>>,
    exited: watch::Receiver<Option<String>>,
    log: LogTail,
    // Declared last: dropped after the kill request above was sent.
    data_dir: DataDir,
}

/// The result of [`TorProcess::start`]: the process and the control address it wrote.
pub(crate) struct Started {
    pub(crate) process: TorProcess,
    pub(crate) control: LocalAddr,
}

impl TorProcess {
    /// Starts tor as `config` says and waits until it has written its control address.
    pub(crate) async fn start(config: &Config) -> Result<Started> {
        let binary = find_tor(config.tor_bin.as_deref())?;
        let data_dir = prepare_data_dir(config.data_dir.as_deref())?;
        let dir = data_dir.path().to_path_buf();
        let control_file = dir.join("control-port");
        // A stale file from an earlier run would point at a dead socket.
        let _ = std::fs::remove_file(&control_file);

        let torrc = torrc_text(config, &dir)?;
        let torrc_path = dir.join("torrc");
        write_private(&torrc_path, torrc.as_bytes())?;
        let defaults_path = match &config.defaults_torrc {
            Some(path) => path.clone(),
            None => {
                let path = dir.join("torrc-defaults");
                write_private(&path, b"")?;
                path
            }
        };

        let mut child = Command::new(&binary)
            .arg("-f")
            .arg(&torrc_path)
            .arg("--defaults-torrc")
            .arg(&defaults_path)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            // A process group of its own: a terminal's Ctrl-C (SIGINT to the foreground group)
            // is the application's to handle, not tor's. Tor still exits with us: it is owned
            // (`__OwningControllerProcess`) and killed on drop.
            .process_group(0)
            .spawn()
            .map_err(|source| Error::Spawn {
                binary: binary.clone(),
                source,
            })?;
        let pid = child.id();
        tracing::debug!(pid, binary = %binary.display(), data_dir = %dir.display(), "started tor");

        let log = LogTail::default();
        let mut drains = Vec::new();
        if let Some(out) = child.stdout.take() {
            drains.push(tokio::spawn(drain(out, log.clone(), pid)));
        }
        if let Some(err) = child.stderr.take() {
            drains.push(tokio::spawn(drain(err, log.clone(), pid)));
        }

        let (kill_tx, kill_rx) = oneshot::channel::<()>();
        let (exit_tx, exit_rx) = watch::channel(None);
        tokio::spawn(async move {
            let status = tokio::select! {
                s = child.wait() => s,
                _ = kill_rx => {
                    let _ = child.start_kill();
                    child.wait().await
                }
            };
            // Let the drains read tor's last words before we report the exit.
            for d in drains {
                let _ = tokio::time::timeout(Duration::from_secs(2), d).await;
            }
            let text = match status {
                Ok(s) => s.to_string(),
                Err(e) => format!("status unknown: {e}"),
            };
            tracing::debug!(pid, status = %text, "tor exited");
            exit_tx.send_replace(Some(text));
        });

        let process = TorProcess {
            pid,
            kill: Some(kill_tx),
            exited: exit_rx,
            log,
            data_dir,
        };
        let control = match (&config.control_addr, config.listeners) {
            (Some(addr), Listeners::Torrc) => {
                process
                    .wait_control_addr(addr, config.startup_timeout)
                    .await?;
                addr.clone()
            }
            _ => {
                process
                    .wait_control_file(&control_file, config.startup_timeout)
                    .await?
            }
        };
        Ok(Started { process, control })
    }

    /// Between two polls of a startup wait: tor's exit error if it exited, the timeout error
    /// past `deadline`, else a pause until the next poll (cut short if tor exits).
    async fn next_poll(
        &self,
        exited: &mut watch::Receiver<Option<String>>,
        deadline: Option<tokio::time::Instant>,
        timeout: Duration,
    ) -> Result<()> {
        if exited.borrow().is_some() {
            return Err(self.exit_error());
        }
        if deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
            return Err(Error::ControlPortTimeout {
                timeout,
                last_log: self.log.text(),
            });
        }
        tokio::select! {
            _ = tokio::time::sleep(STARTUP_POLL) => {}
            _ = exited.changed() => {}
        }
        Ok(())
    }

    /// Polls until the control port at `addr` accepts a connection (the probe is closed at
    /// once) while watching for tor's exit; `timeout` as for [`Self::wait_control_file`].
    async fn wait_control_addr(&self, addr: &LocalAddr, timeout: Duration) -> Result<()> {
        let mut exited = self.exited.clone();
        let deadline = tokio::time::Instant::now().checked_add(timeout);
        loop {
            let accepted = match addr {
                LocalAddr::Tcp(a) => tokio::net::TcpStream::connect(a).await.is_ok(),
                #[cfg(unix)]
                LocalAddr::Unix(p) => tokio::net::UnixStream::connect(p).await.is_ok(),
                #[cfg(not(unix))]
                LocalAddr::Unix(_) => false,
            };
            if accepted {
                return Ok(());
            }
            self.next_poll(&mut exited, deadline, timeout).await?;
        }
    }

    /// Polls for the `ControlPortWriteToFile` file (it can appear after tor starts) while
    /// watching for tor's exit. Any `timeout` works: one too long to be a point in time (e.g.
    /// `Duration::MAX`) means no deadline.
    async fn wait_control_file(&self, file: &Path, timeout: Duration) -> Result<LocalAddr> {
        let mut exited = self.exited.clone();
        let deadline = tokio::time::Instant::now().checked_add(timeout);
        loop {
            if let Ok(text) = tokio::fs::read_to_string(file).await
                && let Some(addr) = parse_control_file(&text)
            {
                return Ok(addr);
            }
            self.next_poll(&mut exited, deadline, timeout).await?;
        }
    }

    /// tor's PID.
    pub(crate) fn pid(&self) -> Option<u32> {
        self.pid
    }

    /// The data directory.
    pub(crate) fn data_dir(&self) -> &Path {
        self.data_dir.path()
    }

    /// The log tail.
    pub(crate) fn log(&self) -> &LogTail {
        &self.log
    }

    /// A receiver that holds tor's exit status once it has exited.
    pub(crate) fn exited(&self) -> watch::Receiver<Option<String>> {
        self.exited.clone()
    }

    /// [`Error::TorExited`] with the status (if known yet) and the last log lines.
    pub(crate) fn exit_error(&self) -> Error {
        Error::TorExited {
            status: self
                .exited
                .borrow()
                .clone()
                .unwrap_or_else(|| "still exiting".into()),
            last_log: self.log.text(),
        }
    }

    /// Kills tor and waits until it has been reaped.
    pub(crate) async fn kill_and_wait(&mut self) {
        if let Some(k) = self.kill.take() {
            let _ = k.send(());
        }
        let mut exited = self.exited.clone();
        crate::wait::until(&mut exited, Option::is_some).await;
    }
}

impl Drop for TorProcess {
    fn drop(&mut self) {
        // The reaper task kills tor on this signal, or (if the runtime is gone) drops the
        // child, whose kill_on_drop kills it.
        if let Some(k) = self.kill.take() {
            let _ = k.send(());
        }
    }
}

/// Forwards tor's output lines into tracing and the log tail.
async fn drain(stream: impl AsyncRead + Unpin, log: LogTail, pid: Option<u32>) {
    let mut lines = BufReader::new(stream).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if line.contains("[warn]") || line.contains("[err]") {
            tracing::warn!(target: "tor", pid, "{line}");
        } else {
            tracing::debug!(target: "tor", pid, "{line}");
        }
        log.push(line);
    }
}

/// `PORT=127.0.0.1:1234` or `UNIX_PORT=/path` (the first one).
pub(crate) fn parse_control_file(text: &str) -> Option<LocalAddr> {
    text.lines().find_map(|l| {
        if let Some(p) = l.strip_prefix("UNIX_PORT=") {
            Some(LocalAddr::Unix(PathBuf::from(p.trim())))
        } else {
            l.strip_prefix("PORT=")?
                .trim()
                .parse()
                .ok()
                .map(LocalAddr::Tcp)
        }
    })
}

/// The binary to run: the config's, `$TOR_BIN`, `tor` on PATH, or `/usr/sbin/tor`.
pub(crate) fn find_tor(configured: Option<&Path>) -> Result<PathBuf> {
    if let Some(p) = configured {
        return if p.is_file() {
            Ok(p.to_path_buf())
        } else {
            Err(Error::TorNotFound {
                searched: format!("the configured {} does not exist", p.display()),
            })
        };
    }
    if let Some(p) = std::env::var_os("TOR_BIN") {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(Error::TorNotFound {
                searched: format!("TOR_BIN={} does not exist", p.display()),
            })
        };
    }
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|d| d.join("tor"))
            .find(|p| p.is_file())
    });
    on_path
        .or_else(|| {
            let sbin = PathBuf::from("/usr/sbin/tor");
            sbin.is_file().then_some(sbin)
        })
        .ok_or_else(|| Error::TorNotFound {
            searched: "looked for TOR_BIN, `tor` on PATH and /usr/sbin/tor".into(),
        })
}

fn prepare_data_dir(configured: Option<&Path>) -> Result<DataDir> {
    match configured {
        None => Ok(DataDir::Temp(private_temp_dir("torp2p-tor-")?)),
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|source| Error::Io {
                what: "cannot create the data directory",
                path: dir.to_path_buf(),
                source,
            })?;
            set_private_dir(dir)?;
            let dir = dir.canonicalize().map_err(|source| Error::Io {
                what: "cannot resolve the data directory",
                path: dir.to_path_buf(),
                source,
            })?;
            Ok(DataDir::Kept(dir))
        }
    }
}

/// The torrc of a managed tor: our lines, then the user's.
fn torrc_text(config: &Config, dir: &Path) -> Result<String> {
    let path_str = |p: &Path| -> Result<String> {
        let s = p.to_str().ok_or_else(|| Error::UnsupportedPath {
            path: p.to_path_buf(),
        })?;
        Ok(quote(s))
    };
    let socket = |name: &str| -> Option<String> {
        let p = dir.join(name);
        let s = p.to_str()?;
        (config.listeners == Listeners::Unix
            && cfg!(unix)
            && s.len() <= MAX_SOCKET_PATH
            && !s.contains('"'))
        .then(|| format!("unix:\"{s}\""))
    };
    let mut lines = vec![
        format!("DataDirectory {}", path_str(dir)?),
        format!("Log {} stdout", config.log_level),
        "CookieAuthentication 1".to_string(),
        format!(
            "ControlPortWriteToFile {}",
            path_str(&dir.join("control-port"))?
        ),
        format!("__OwningControllerProcess {}", std::process::id()),
    ];
    // With `Listeners::Torrc` the torrc lines (or the defaults file) name them.
    if config.listeners != Listeners::Torrc {
        match socket("control.sock") {
            Some(s) => lines.push(format!("ControlPort {s}")),
            None => lines.push("ControlPort 127.0.0.1:auto".into()),
        }
        if config.socks {
            match socket("socks.sock") {
                Some(s) => lines.push(format!("SocksPort {s} ExtendedErrors")),
                None => lines.push("SocksPort 127.0.0.1:auto ExtendedErrors".into()),
            }
        } else {
            lines.push("SocksPort 0".into());
        }
    }
    for l in &config.extra_torrc {
        if l.contains(['\n', '\r', '\0']) {
            return Err(Error::TorrcLine { line: l.clone() });
        }
        lines.push(l.clone());
    }
    let mut text = lines.join("\n");
    text.push('\n');
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_file_forms() {
        assert_eq!(
            parse_control_file("PORT=127.0.0.1:9051\n"),
            Some(LocalAddr::Tcp("127.0.0.1:9051".parse().unwrap()))
        );
        assert_eq!(
            parse_control_file("UNIX_PORT=/tmp/x/control.sock\n"),
            Some(LocalAddr::Unix("/tmp/x/control.sock".into()))
        );
        assert_eq!(parse_control_file(""), None);
        assert_eq!(parse_control_file("PORT=garbage"), None);
    }

    #[test]
    fn torrc_refuses_line_breaks() {
        let c = Config::new().with_torrc_line("SocksPort 0\nControlPort 9051");
        let e = torrc_text(&c, Path::new("/tmp/x")).unwrap_err();
        assert!(e.to_string().contains("line break"), "{e}");
    }

    #[test]
    fn torrc_has_our_lines_then_users() {
        let c = Config::new()
            .with_listeners(Listeners::Tcp)
            .with_torrc_line("DisableNetwork 1");
        let t = torrc_text(&c, Path::new("/tmp/x")).unwrap();
        assert!(t.contains("ControlPort 127.0.0.1:auto\n"));
        assert!(t.contains("SocksPort 127.0.0.1:auto ExtendedErrors\n"));
        assert!(t.ends_with("DisableNetwork 1\n"));
        let u = torrc_text(&Config::new().with_socks(false), Path::new("/tmp/x")).unwrap();
        assert!(
            u.contains("ControlPort unix:\"/tmp/x/control.sock\"\n"),
            "{u}"
        );
        assert!(u.contains("SocksPort 0\n"));
        let t = torrc_text(
            &Config::new()
                .with_listeners(Listeners::Torrc)
                .with_torrc_line("ControlSocket /x/control"),
            Path::new("/tmp/x"),
        )
        .unwrap();
        assert!(
            !t.contains("ControlPort ") && !t.contains("SocksPort "),
            "{t}"
        );
        assert!(t.ends_with("ControlSocket /x/control\n"));
    }
}
