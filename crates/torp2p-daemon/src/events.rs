//! The event connection: `SETEVENTS STATUS_CLIENT HS_DESC` on a connection of its own, read by
//! a task that turns events into bootstrap progress and descriptor-upload notices.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use crate::control::{ControlConn, parse_kv};
use crate::error::{Error, Result};

/// Bootstrap progress as tor reports it (`STATUS_CLIENT ... BOOTSTRAP`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BootstrapStatus {
    /// Percent done, 0 to 100.
    pub progress: u8,
    /// The phase tag, e.g. `conn_done` or `done`.
    pub tag: String,
    /// tor's summary of the phase, e.g. `Done`.
    pub summary: String,
    /// tor's last bootstrap warning (`STATUS_CLIENT WARN BOOTSTRAP ... WARNING=...`), if any.
    pub warning: Option<String>,
}

impl BootstrapStatus {
    /// Whether tor is fully bootstrapped.
    pub fn is_done(&self) -> bool {
        self.progress >= 100
    }

    /// Parses the text after `STATUS_CLIENT` (or a `status/bootstrap-phase` value): e.g.
    /// `NOTICE BOOTSTRAP PROGRESS=100 TAG=done SUMMARY="Done"`. `None` if it is not a
    /// bootstrap status.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let mut words = text.split_whitespace();
        let severity = words.next()?;
        if words.next()? != "BOOTSTRAP" {
            return None;
        }
        let kv = parse_kv(text);
        let progress = kv.get("PROGRESS")?.parse::<u8>().ok()?.min(100);
        let warning = (severity == "WARN").then(|| {
            let w = kv.get("WARNING").cloned().unwrap_or_default();
            match kv.get("REASON") {
                Some(r) => format!("{w} (reason: {r})"),
                None => w,
            }
        });
        Some(Self {
            progress,
            tag: kv.get("TAG").cloned().unwrap_or_default(),
            summary: kv.get("SUMMARY").cloned().unwrap_or_default(),
            warning,
        })
    }
}

/// What an `HS_DESC` event says happened to a descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HsDescAction {
    Upload,
    Uploaded,
    Failed,
}

/// One `HS_DESC` event about one of our uploads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HsDescEvent {
    pub(crate) action: HsDescAction,
    /// The onion address without `.onion`, lower case.
    pub(crate) address: String,
    /// The HSDir's identity, as tor writes it.
    pub(crate) hs_dir: String,
}

impl HsDescEvent {
    /// Parses the text after `HS_DESC `: `Action HSAddress AuthType HsDir ...`.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let mut w = text.split_whitespace();
        let action = match w.next()? {
            "UPLOAD" => HsDescAction::Upload,
            "UPLOADED" => HsDescAction::Uploaded,
            "FAILED" => HsDescAction::Failed,
            _ => return None,
        };
        let address = w.next()?.to_ascii_lowercase();
        let _auth = w.next()?;
        let hs_dir = w.next()?.to_string();
        Some(Self {
            action,
            address,
            hs_dir,
        })
    }
}

/// How the uploads of a service's descriptors went so far (from `HS_DESC` events).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UploadState {
    /// Uploads tor started (one per descriptor and HSDir).
    pub uploads: usize,
    /// Uploads an HSDir confirmed.
    pub uploaded: usize,
    /// Uploads that failed.
    pub failed: usize,
    /// Uploads started since the last confirmed one (all of them, if none was confirmed).
    pub started_since_uploaded: usize,
    /// Uploads that failed since the last confirmed one (of those started since).
    pub failed_since_uploaded: usize,
}

impl UploadState {
    /// Whether every started upload was answered and at least one was confirmed.
    pub fn all_answered(&self) -> bool {
        self.uploaded > 0 && self.uploaded + self.failed >= self.uploads
    }

    /// Whether tor started uploads since the last confirmed one and every one of them failed:
    /// the HSDirs do not have the current descriptor. (Uploads that failed in a round where
    /// another HSDir confirmed do not count: tor starts a round's uploads together.)
    pub fn is_failing(&self) -> bool {
        self.started_since_uploaded > 0 && self.failed_since_uploaded >= self.started_since_uploaded
    }

    /// Counts one `HS_DESC` event.
    fn count(&mut self, action: HsDescAction) {
        match action {
            HsDescAction::Upload => {
                self.uploads += 1;
                if self.started_since_uploaded == 0 {
                    // A new round: failures left from the confirmed one do not count.
                    self.failed_since_uploaded = 0;
                }
                self.started_since_uploaded += 1;
            }
            HsDescAction::Uploaded => {
                self.uploaded += 1;
                self.started_since_uploaded = 0;
                self.failed_since_uploaded = 0;
            }
            HsDescAction::Failed => {
                self.failed += 1;
                self.failed_since_uploaded += 1;
            }
        }
    }
}

/// The most HSDirs remembered per onion service (the oldest is forgotten first). A service's
/// two descriptors go to a few HSDirs each (`hsdir_spread_store`, 4 by default), and tor
/// uploads again to new ones as the hash ring moves.
pub(crate) const MAX_HS_DIRS: usize = 32;

/// What the event reader keeps for one onion service being followed.
#[derive(Debug)]
pub(crate) struct Followed {
    /// The upload counts.
    pub(crate) state: watch::Sender<UploadState>,
    /// The HSDirs that confirmed an upload (`HS_DESC UPLOADED`), oldest first, each once:
    /// fingerprints of 40 upper-case hex digits; at most [`MAX_HS_DIRS`].
    pub(crate) hs_dirs: Vec<String>,
}

impl Followed {
    pub(crate) fn new(state: watch::Sender<UploadState>) -> Self {
        Self {
            state,
            hs_dirs: Vec::new(),
        }
    }

    /// Takes note of an `HS_DESC` event about this service.
    fn see(&mut self, ev: &HsDescEvent) {
        self.state.send_modify(|s| s.count(ev.action));
        if ev.action == HsDescAction::Uploaded
            && let Some(fingerprint) = hs_dir_fingerprint(&ev.hs_dir)
        {
            self.hs_dirs.retain(|f| *f != fingerprint);
            if self.hs_dirs.len() >= MAX_HS_DIRS {
                self.hs_dirs.remove(0);
            }
            self.hs_dirs.push(fingerprint);
        }
    }
}

/// The identity fingerprint in an HSDir as tor names it in events (`$<40 hex>~nickname`,
/// `$<40 hex>=nickname` or `$<40 hex>`), upper case; `None` for anything else.
pub(crate) fn hs_dir_fingerprint(hs_dir: &str) -> Option<String> {
    let rest = hs_dir.strip_prefix('$')?;
    let hex = rest.split(['~', '=']).next()?;
    (hex.len() == 40 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| hex.to_ascii_uppercase())
}

/// What is known of each onion service being followed, by address (base32, no `.onion`).
/// The event reader updates it directly: no queue that could overflow and lose an event.
pub(crate) type Uploads = Arc<Mutex<HashMap<String, Followed>>>;

/// Why the event reader stopped: tor went away.
pub(crate) type Gone = Option<String>;

/// The channels the event reader feeds.
pub(crate) struct EventChannels {
    pub(crate) bootstrap: watch::Sender<BootstrapStatus>,
    pub(crate) uploads: Uploads,
    /// Set (once) when the event connection closes.
    pub(crate) closed: watch::Sender<Gone>,
}

/// Subscribes `conn` to our events and reads the current bootstrap phase.
pub(crate) async fn subscribe(conn: &mut ControlConn) -> Result<BootstrapStatus> {
    conn.command(
        "SETEVENTS STATUS_CLIENT HS_DESC",
        "SETEVENTS STATUS_CLIENT HS_DESC",
    )
    .await?;
    let lines = conn
        .command(
            "GETINFO status/bootstrap-phase",
            "GETINFO status/bootstrap-phase",
        )
        .await?;
    let value = lines
        .iter()
        .find_map(|l| l.strip_prefix("status/bootstrap-phase="))
        .ok_or_else(|| Error::Protocol {
            command: "GETINFO status/bootstrap-phase".into(),
            detail: format!("no status/bootstrap-phase in {lines:?}"),
        })?;
    Ok(BootstrapStatus::parse(value).unwrap_or_default())
}

/// Reads events until the connection closes, then marks `closed`.
pub(crate) async fn run_reader(mut conn: ControlConn, ch: EventChannels) {
    let reason = loop {
        match conn.read_reply().await {
            Ok((650, lines)) => {
                let Some(first) = lines.first() else { continue };
                if let Some(rest) = first.strip_prefix("STATUS_CLIENT ") {
                    if let Some(mut status) = BootstrapStatus::parse(rest) {
                        tracing::debug!(progress = status.progress, tag = %status.tag, "tor bootstrap");
                        ch.bootstrap.send_modify(|old| {
                            if status.warning.is_none() {
                                status.warning = old.warning.take();
                            }
                            // A warning event repeats the current progress; keep the max.
                            status.progress = status.progress.max(old.progress);
                            *old = status;
                        });
                    }
                } else if let Some(ev) = first.strip_prefix("HS_DESC ").and_then(HsDescEvent::parse)
                {
                    tracing::trace!(action = ?ev.action, hs_dir = %ev.hs_dir, "HS_DESC");
                    if let Ok(mut map) = ch.uploads.lock()
                        && let Some(followed) = map.get_mut(&ev.address)
                    {
                        followed.see(&ev);
                    }
                }
            }
            Ok((code, lines)) => {
                tracing::debug!(code, ?lines, "unexpected reply on the event connection");
            }
            Err(e) => break e.to_string(),
        }
    };
    tracing::debug!(%reason, "tor event connection closed");
    ch.closed.send_replace(Some(reason));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An event that tor sends between `GETINFO status/bootstrap-phase` and its reply (seen on
    /// a private network: `650 STATUS_CLIENT NOTICE CONSENSUS_ARRIVED`) is an event, not the
    /// reply.
    #[tokio::test]
    async fn an_event_before_the_reply_is_not_the_reply() {
        use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _};

        let (ours, theirs) = tokio::io::duplex(4096);
        let tor = tokio::spawn(async move {
            let (r, mut w) = tokio::io::split(theirs);
            let mut lines = tokio::io::BufReader::new(r).lines();
            let setevents = lines.next_line().await.unwrap().unwrap();
            assert_eq!(setevents, "SETEVENTS STATUS_CLIENT HS_DESC");
            w.write_all(b"250 OK\r\n").await.unwrap();
            let getinfo = lines.next_line().await.unwrap().unwrap();
            assert_eq!(getinfo, "GETINFO status/bootstrap-phase");
            w.write_all(
                b"650 STATUS_CLIENT NOTICE CONSENSUS_ARRIVED\r\n\
                  250-status/bootstrap-phase=NOTICE BOOTSTRAP PROGRESS=100 TAG=done SUMMARY=\"Done\"\r\n\
                  250 OK\r\n",
            )
            .await
            .unwrap();
            // Keep the connection open until the client is done.
            while let Ok(Some(_)) = lines.next_line().await {}
        });
        let mut conn = ControlConn::from_io(
            Box::new(ours),
            torp2p_addr::LocalAddr::Tcp(([127, 0, 0, 1], 9051).into()),
            std::time::Duration::from_secs(10),
        );
        let status = subscribe(&mut conn).await.unwrap();
        assert!(status.is_done(), "{status:?}");
        drop(conn);
        tor.await.unwrap();
    }

    #[test]
    fn bootstrap_notice() {
        let s = BootstrapStatus::parse(r#"NOTICE BOOTSTRAP PROGRESS=100 TAG=done SUMMARY="Done""#)
            .unwrap();
        assert!(s.is_done());
        assert_eq!((s.tag.as_str(), s.summary.as_str()), ("done", "Done"));
        assert_eq!(s.warning, None);
    }

    #[test]
    fn bootstrap_warning() {
        let s = BootstrapStatus::parse(
            r#"WARN BOOTSTRAP PROGRESS=5 TAG=conn SUMMARY="Connecting to a relay" WARNING="Connection refused" REASON=CONNECTREFUSED COUNT=3 RECOMMENDATION=ignore HOSTID="X" HOSTADDR="127.0.0.1:1""#,
        )
        .unwrap();
        assert_eq!(s.progress, 5);
        assert_eq!(
            s.warning.as_deref(),
            Some("Connection refused (reason: CONNECTREFUSED)")
        );
    }

    #[test]
    fn not_bootstrap() {
        assert_eq!(BootstrapStatus::parse("NOTICE CIRCUIT_ESTABLISHED"), None);
        assert_eq!(BootstrapStatus::parse("NOTICE BOOTSTRAP PROGRESS=x"), None);
        assert_eq!(BootstrapStatus::parse(""), None);
        assert_eq!(
            BootstrapStatus::parse("NOTICE BOOTSTRAP PROGRESS=250").map(|s| s.progress),
            Some(100)
        );
    }

    #[test]
    fn upload_state() {
        let mut s = UploadState::default();
        assert!(!s.all_answered());
        s.uploads = 4;
        s.uploaded = 1;
        assert!(!s.all_answered());
        s.failed = 3;
        assert!(s.all_answered());
    }

    #[test]
    fn uploads_failing() {
        use HsDescAction::*;
        let state = |events: &[HsDescAction]| {
            let mut s = UploadState::default();
            events.iter().for_each(|a| s.count(*a));
            s
        };
        // A round where one HSDir failed among confirmations: not failing.
        let partial = state(&[Upload, Upload, Upload, Uploaded, Uploaded, Failed]);
        assert!(!partial.is_failing());
        assert_eq!(
            (partial.uploads, partial.uploaded, partial.failed),
            (3, 2, 1)
        );
        // A new round whose every upload failed: failing.
        let mut failing = partial;
        [Upload, Upload, Failed]
            .iter()
            .for_each(|a| failing.count(*a));
        assert!(!failing.is_failing(), "one upload still unanswered");
        failing.count(Failed);
        assert!(failing.is_failing());
        // One confirmation ends it.
        failing.count(Uploaded);
        assert!(!failing.is_failing());
        // Nothing started yet: not failing.
        assert!(!UploadState::default().is_failing());
        assert!(state(&[Upload, Failed]).is_failing());
    }

    #[test]
    fn hs_desc_events() {
        let up = HsDescEvent::parse("UPLOAD sqbhexutqt2qyu6q3armsbts7uiudgunsktlkvuhprcpwemgzaf5hvad UNKNOWN $AAAA~relay1 Xj0kBzq HSDIR_INDEX=1234").unwrap();
        assert_eq!(up.action, HsDescAction::Upload);
        assert_eq!(up.hs_dir, "$AAAA~relay1");
        let ok = HsDescEvent::parse("UPLOADED sqbhexutqt2qyu6q3armsbts7uiudgunsktlkvuhprcpwemgzaf5hvad UNKNOWN $AAAA~relay1").unwrap();
        assert_eq!(ok.action, HsDescAction::Uploaded);
        let failed = HsDescEvent::parse("FAILED abc UNKNOWN $B REASON=UPLOAD_REJECTED").unwrap();
        assert_eq!(failed.action, HsDescAction::Failed);
        assert_eq!(HsDescEvent::parse("CREATED abc UNKNOWN UNKNOWN x"), None);
        assert_eq!(HsDescEvent::parse("UPLOAD abc"), None);
    }

    #[test]
    fn hs_dir_fingerprints() {
        let fp = "C4E5D845BB7787E9CAA781B53D9ABBB9D6C6E0D7";
        for name in [
            format!("${fp}~relay0"),
            format!("${fp}=relay0"),
            format!("${fp}"),
            format!("${}~relay0", fp.to_ascii_lowercase()),
        ] {
            assert_eq!(hs_dir_fingerprint(&name).as_deref(), Some(fp), "{name}");
        }
        for bad in ["", "$", "UNKNOWN", fp, "$C4E5~relay0", &format!("${fp}0~x")] {
            assert_eq!(hs_dir_fingerprint(bad), None, "{bad}");
        }
        let mut z = fp.to_string();
        z.replace_range(0..1, "Z");
        assert_eq!(hs_dir_fingerprint(&format!("${z}")), None);
    }

    #[test]
    fn followed_services_remember_the_hs_dirs_that_confirmed() {
        let (tx, rx) = watch::channel(UploadState::default());
        let mut f = Followed::new(tx);
        let event = |action, n: usize| HsDescEvent {
            action,
            address: "abc".into(),
            hs_dir: format!("${n:040X}~relay{n}"),
        };
        f.see(&event(HsDescAction::Upload, 1));
        f.see(&event(HsDescAction::Upload, 2));
        f.see(&event(HsDescAction::Uploaded, 1));
        f.see(&event(HsDescAction::Failed, 2));
        assert_eq!(f.hs_dirs, [format!("{:040X}", 1)], "only confirmed uploads");
        assert_eq!(
            *rx.borrow(),
            UploadState {
                uploads: 2,
                uploaded: 1,
                failed: 1,
                started_since_uploaded: 0,
                failed_since_uploaded: 1,
            }
        );
        // Each HSDir once, most recent last; at most MAX_HS_DIRS, the oldest forgotten.
        f.see(&event(HsDescAction::Uploaded, 2));
        f.see(&event(HsDescAction::Uploaded, 1));
        assert_eq!(f.hs_dirs, [format!("{:040X}", 2), format!("{:040X}", 1)]);
        for n in 3..MAX_HS_DIRS + 5 {
            f.see(&event(HsDescAction::Uploaded, n));
        }
        assert_eq!(f.hs_dirs.len(), MAX_HS_DIRS);
        assert_eq!(f.hs_dirs[0], format!("{:040X}", 5));
        assert_eq!(f.hs_dirs.last(), Some(&format!("{:040X}", MAX_HS_DIRS + 4)));
    }
}
