//! Whether a tor can reach a unix socket in a private directory of this user (mode 0700), as
//! [`Tor::listen`](crate::Tor::listen) makes one: who tor runs as, and where.
//!
//! The facts come from the kernel where it can tell: the PID of the process behind a unix
//! control socket (`SO_PEERCRED`, already translated into our PID namespace, 0 if tor's
//! process is not visible in it), or the PID of a tor we spawned; otherwise tor's own
//! `GETINFO process/pid`, checked against its `GETINFO process/uid`. Then `/proc/<pid>/status`
//! (the effective uid tor runs as now, after any `User` switch) and `/proc/<pid>/ns/mnt` (the
//! file system tor sees). A tor can enter the directory if it runs as this user or as root, in
//! our mount namespace; in any other case, or when a fact is missing, it cannot be counted on,
//! and listeners use a loopback TCP port instead.

use std::path::Path;

use crate::control::ControlConn;

/// What we learned about the tor behind a control connection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Facts {
    /// Where the PID came from.
    pub(crate) pid: Option<(u32, PidSource)>,
    /// The PID namespace said tor's process is not visible here (`SO_PEERCRED` gave PID 0).
    pub(crate) pid_hidden: bool,
    /// Whether `/proc` is there at all (Linux).
    pub(crate) proc_available: bool,
    /// tor's effective uid, from `/proc/<pid>/status`.
    pub(crate) tor_uid: Option<u32>,
    /// The uid tor reports itself (`GETINFO process/uid`), if asked.
    pub(crate) reported_uid: Option<u32>,
    /// This process's effective uid.
    pub(crate) our_uid: Option<u32>,
    /// Whether tor's mount namespace is ours (`None`: we may not look, or there is none).
    pub(crate) same_mount_ns: Option<bool>,
}

/// Where a tor's PID came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PidSource {
    /// We spawned it: it is our child.
    Spawned,
    /// The kernel, for the peer of our unix control connection.
    PeerCred,
    /// tor's `GETINFO process/pid` (in tor's PID namespace, which may not be ours).
    GetInfo,
}

/// Whether tor can reach a unix socket in our private directory, and why we think so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reach {
    /// tor can connect to our unix sockets.
    pub(crate) unix: bool,
    /// Why, in words for a log line (no address, no key).
    pub(crate) reason: String,
}

impl Reach {
    fn unix(reason: impl Into<String>) -> Self {
        Self {
            unix: true,
            reason: reason.into(),
        }
    }

    fn tcp(reason: impl Into<String>) -> Self {
        Self {
            unix: false,
            reason: reason.into(),
        }
    }
}

/// Gathers the facts about the tor behind `control` (`spawned`: the PID of our child).
/// Never fails: a fact that cannot be had stays unknown.
pub(crate) async fn facts(control: &mut ControlConn, spawned: Option<u32>) -> Facts {
    let proc_available = Path::new("/proc/self/status").exists();
    let mut facts = Facts {
        proc_available,
        our_uid: proc_available
            .then(|| status_euid(Path::new("/proc/self/status")))
            .flatten(),
        ..Facts::default()
    };
    facts.pid = match (spawned, control.peer_pid()) {
        (Some(pid), _) => Some((pid, PidSource::Spawned)),
        (None, Some(0)) => {
            facts.pid_hidden = true;
            None
        }
        (None, Some(pid)) => Some((pid, PidSource::PeerCred)),
        (None, None) => {
            facts.reported_uid = get_number(control, "process/uid").await;
            get_number(control, "process/pid")
                .await
                .map(|pid| (pid, PidSource::GetInfo))
        }
    };
    if let Some((pid, _)) = facts.pid
        && proc_available
    {
        let dir = Path::new("/proc").join(pid.to_string());
        facts.tor_uid = status_euid(&dir.join("status"));
        facts.same_mount_ns = match (
            std::fs::read_link(dir.join("ns/mnt")),
            std::fs::read_link("/proc/self/ns/mnt"),
        ) {
            (Ok(theirs), Ok(ours)) => Some(theirs == ours),
            _ => None,
        };
    }
    facts
}

/// The decision, from the facts (see the module's docs).
pub(crate) fn decide(f: &Facts) -> Reach {
    if f.pid_hidden {
        return Reach::tcp(
            "tor's process is not in this PID namespace (another container or host): it cannot be counted on to see this file system",
        );
    }
    let Some((pid, source)) = f.pid else {
        return Reach::tcp("tor did not tell its PID: who it runs as is unknown");
    };
    if !f.proc_available {
        return if source == PidSource::Spawned {
            Reach::unix("tor is our own child, running as this user")
        } else {
            Reach::tcp("who tor runs as cannot be looked up on this platform (no /proc)")
        };
    }
    let Some(tor_uid) = f.tor_uid else {
        return Reach::tcp(format!(
            "tor's process {pid} is not visible here (another PID namespace or host?)"
        ));
    };
    if source == PidSource::GetInfo
        && let Some(reported) = f.reported_uid
        && reported != tor_uid
    {
        return Reach::tcp(format!(
            "process {pid} here runs as uid {tor_uid} but tor says it runs as uid {reported}: tor is in another PID namespace"
        ));
    }
    let Some(our_uid) = f.our_uid else {
        return Reach::tcp("this process's own uid is unknown");
    };
    if tor_uid != our_uid && tor_uid != 0 {
        return Reach::tcp(format!(
            "tor runs as uid {tor_uid} and this process as uid {our_uid}: tor cannot enter the listener's private directory"
        ));
    }
    let who = if tor_uid == our_uid {
        format!("tor runs as this user (uid {our_uid})")
    } else {
        "tor runs as root".to_string()
    };
    match f.same_mount_ns {
        Some(true) => Reach::unix(format!("{who} and sees this file system")),
        Some(false) => Reach::tcp(format!(
            "{who} but in another mount namespace (e.g. systemd's PrivateTmp): it does not see the listener's socket"
        )),
        None => Reach::tcp(format!(
            "{who}, but whether it sees this file system cannot be checked"
        )),
    }
}

/// The effective uid in a `/proc/<pid>/status` file (`Uid: real effective saved fs`).
fn status_euid(path: &Path) -> Option<u32> {
    let text = std::fs::read_to_string(path).ok()?;
    parse_status_euid(&text)
}

fn parse_status_euid(text: &str) -> Option<u32> {
    text.lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// `GETINFO key` as a number, or `None` (tor too old, refused, or not a number).
async fn get_number(control: &mut ControlConn, key: &str) -> Option<u32> {
    let cmd = format!("GETINFO {key}");
    let lines = control.command(&cmd, &cmd).await.ok()?;
    let prefix = format!("{key}=");
    lines
        .iter()
        .find_map(|l| l.strip_prefix(&prefix))?
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(pid: (u32, PidSource), tor_uid: u32, our_uid: u32, same: Option<bool>) -> Facts {
        Facts {
            pid: Some(pid),
            pid_hidden: false,
            proc_available: true,
            tor_uid: Some(tor_uid),
            reported_uid: None,
            our_uid: Some(our_uid),
            same_mount_ns: same,
        }
    }

    #[test]
    fn status_uid_is_the_effective_one() {
        let status = "Name:\ttor\nUmask:\t0022\nUid:\t0\t102\t102\t102\nGid:\t105\t105\t105\t105\n";
        assert_eq!(parse_status_euid(status), Some(102));
        assert_eq!(parse_status_euid("Name:\ttor\n"), None);
        assert_eq!(parse_status_euid("Uid:\t0\n"), None);
        assert_eq!(parse_status_euid("Uid:\tx\ty\n"), None);
    }

    #[test]
    fn decisions() {
        use PidSource::*;
        // Same user, same file system: unix, whoever told the PID.
        for source in [Spawned, PeerCred, GetInfo] {
            let r = decide(&facts((7, source), 1000, 1000, Some(true)));
            assert!(r.unix, "{source:?}: {}", r.reason);
        }
        // Root tor can enter anything of ours.
        assert!(decide(&facts((7, PeerCred), 0, 1000, Some(true))).unix);
        // Debian's tor: another user, not root.
        let r = decide(&facts((7, PeerCred), 102, 1000, Some(true)));
        assert!(!r.unix);
        assert!(r.reason.contains("uid 102"), "{}", r.reason);
        // Even when we are root: tor (debian-tor) cannot enter root's 0700 directory.
        assert!(!decide(&facts((7, Spawned), 102, 0, None)).unix);
        // Same user, another mount namespace (PrivateTmp), or one we cannot see.
        assert!(!decide(&facts((7, PeerCred), 1000, 1000, Some(false))).unix);
        assert!(!decide(&facts((7, PeerCred), 0, 1000, None)).unix);
        // A PID tor told us that is another process here.
        let mut f = facts((7, GetInfo), 1000, 1000, Some(true));
        f.reported_uid = Some(1001);
        assert!(!decide(&f).unix);
        f.reported_uid = Some(1000);
        assert!(decide(&f).unix);
        // Not visible at all.
        let mut f = facts((7, GetInfo), 1000, 1000, Some(true));
        f.tor_uid = None;
        assert!(!decide(&f).unix);
        let hidden = Facts {
            pid_hidden: true,
            proc_available: true,
            ..Facts::default()
        };
        assert!(!decide(&hidden).unix);
        assert!(!decide(&Facts::default()).unix);
        // No /proc: only our own child counts as reachable.
        let mut f = facts((7, Spawned), 0, 0, None);
        f.proc_available = false;
        assert!(decide(&f).unix);
        f.pid = Some((7, PeerCred));
        assert!(!decide(&f).unix);
    }

    /// This very process, as if it were tor: same user, same namespace.
    #[test]
    fn this_process_reaches_itself() {
        let pid = std::process::id();
        let dir = Path::new("/proc").join(pid.to_string());
        let f = Facts {
            pid: Some((pid, PidSource::Spawned)),
            pid_hidden: false,
            proc_available: true,
            tor_uid: status_euid(&dir.join("status")),
            reported_uid: None,
            our_uid: status_euid(Path::new("/proc/self/status")),
            same_mount_ns: Some(true),
        };
        let r = decide(&f);
        assert!(r.unix, "{}", r.reason);
    }
}
