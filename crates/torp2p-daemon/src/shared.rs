//! [`Shared`]: the state of one tor daemon that every handle on it shares — the [`crate::Tor`]
//! clones, its onion services and listeners — and the one way to send it a command.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use torp2p_addr::LocalAddr;

use crate::control::ControlConn;
use crate::error::{Error, Result};
use crate::events::{self, BootstrapStatus};
use crate::process::{LogTail, TorProcess};
use crate::reach::Reach;
use crate::wait::until;

/// One tor daemon, shared.
pub(crate) struct Shared {
    pub(crate) process: Mutex<Option<TorProcess>>,
    pub(crate) pid: Option<u32>,
    pub(crate) data_dir: Option<PathBuf>,
    pub(crate) exited: Option<watch::Receiver<Option<String>>>,
    pub(crate) log: Option<LogTail>,
    pub(crate) control: tokio::sync::Mutex<ControlConn>,
    pub(crate) control_addr: LocalAddr,
    pub(crate) socks_addr: Option<LocalAddr>,
    /// Whether tor can reach our unix sockets (decided once, when the handle is made).
    pub(crate) reach: Reach,
    pub(crate) bootstrap: watch::Receiver<BootstrapStatus>,
    pub(crate) uploads: events::Uploads,
    pub(crate) gone: watch::Receiver<events::Gone>,
    /// The sender of `gone` (the event reader has another): a closed command connection, or
    /// [`Shared::detach`], marks the daemon gone too.
    pub(crate) gone_tx: watch::Sender<events::Gone>,
    pub(crate) event_task: tokio::task::JoinHandle<()>,
}

impl Shared {
    pub(crate) fn is_gone(&self) -> bool {
        self.gone.borrow().is_some() || self.exited.as_ref().is_some_and(|e| e.borrow().is_some())
    }

    /// Marks the daemon gone (once: the first reason stays).
    fn mark_gone(&self, reason: &str) {
        self.gone_tx.send_if_modified(|gone| {
            let first = gone.is_none();
            if first {
                tracing::debug!(%reason, "tor is gone");
                *gone = Some(reason.to_string());
            }
            first
        });
    }

    /// Closes both control connections (the command connection once a command in flight, if
    /// any, is answered or timed out) and marks the daemon gone: tor forgets the onion
    /// services they added without `Detach`, so the same keys can be added again on another
    /// connection.
    pub(crate) async fn detach(&self) {
        self.event_task.abort();
        self.control.lock().await.close();
        self.mark_gone("detached");
    }

    /// Resolves when tor goes away, with the reason.
    pub(crate) async fn gone(&self) -> Error {
        let mut gone = self.gone.clone();
        until(&mut gone, Option::is_some).await;
        self.gone_error().await
    }

    /// Why tor is gone: a spawned tor's exit status and log, or the closed connection.
    pub(crate) async fn gone_error(&self) -> Error {
        if let Some(exited) = &self.exited {
            let mut exited = exited.clone();
            let _ =
                tokio::time::timeout(Duration::from_secs(2), until(&mut exited, Option::is_some))
                    .await;
            let status = exited.borrow().clone();
            return Error::TorExited {
                status: status.unwrap_or_else(|| "killed or exiting".into()),
                last_log: self.log.as_ref().map(LogTail::text).unwrap_or_default(),
            };
        }
        Error::ControlClosed {
            addr: self.control_addr.clone(),
        }
    }

    /// `GETINFO key`: the value (a multi-line value comes back whole).
    pub(crate) async fn get_info(self: &Arc<Self>, key: &str) -> Result<String> {
        if key.contains(['\r', '\n', ' ']) {
            return Err(Error::InvalidGetInfoKey { key: key.into() });
        }
        let cmd = format!("GETINFO {key}");
        let lines = self.command(&cmd, &cmd).await?;
        let prefix = format!("{key}=");
        lines
            .iter()
            .find_map(|l| l.strip_prefix(&prefix))
            .map(|v| v.strip_prefix("\r\n").unwrap_or(v).to_string())
            .ok_or_else(|| Error::Protocol {
                command: cmd,
                detail: format!("no `{prefix}` in the reply"),
            })
    }

    /// One command on the command connection; a closed connection becomes the gone error.
    ///
    /// The exchange runs on a task of its own: a caller that stops waiting (its future dropped,
    /// e.g. by a timeout or a `select!`) cannot cut a command off between request and reply,
    /// which would leave that reply to be read as the answer to the next command.
    pub(crate) async fn command(
        self: &Arc<Self>,
        command: &str,
        shown: &str,
    ) -> Result<Vec<String>> {
        if self.is_gone() {
            return Err(self.gone_error().await);
        }
        let shared = Arc::clone(self);
        let (command, shown) = (command.to_string(), shown.to_string());
        let task_shown = shown.clone();
        let result = tokio::spawn(async move {
            shared
                .control
                .lock()
                .await
                .command(&command, &task_shown)
                .await
        })
        .await
        .map_err(|e| Error::Protocol {
            command: shown,
            detail: format!("the control-port task failed: {e}"),
        })?;
        match result {
            Err(e) if e.is_tor_gone() => {
                // The command connection closed: whatever it added is gone with it (tor
                // removes its onion services), even if the event connection is still open.
                self.mark_gone("the command connection closed");
                Err(self.gone_error().await)
            }
            other => other,
        }
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.event_task.abort();
    }
}
