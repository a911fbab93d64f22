//! Making sure the `tor` binary is there before tests that need it run.

use std::path::PathBuf;
use std::process::{Command, Stdio};

/// The Debian packages that the tests need: `tor` (which also brings `tor-gencert`).
const APT_INSTALL: &str = "apt-get install -y tor";

/// Finds `tor` on PATH (or in /usr/sbin, where Debian puts it and where a non-root PATH may not
/// look). If it is missing, installs it with apt-get when that needs no prompt (root, or
/// passwordless sudo); otherwise fails with the exact command to run.
pub(crate) fn ensure_tor() -> Result<(), String> {
    if let Some(path) = find_tor() {
        eprintln!("xtask: tor found at {}", path.display());
        return Ok(());
    }
    let has_apt = which("apt-get").is_some();
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    let sudo_ok = !is_root
        && which("sudo").is_some()
        && Command::new("sudo")
            .args(["-n", "true"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
    if !has_apt || !(is_root || sudo_ok) {
        return Err(format!(
            "the `tor` binary is not installed and xtask cannot install it without a prompt.\n\
             Install it, then run this again:\n    sudo apt-get update && sudo {APT_INSTALL}\n\
             (or your platform's package for Tor, e.g. `brew install tor`)"
        ));
    }
    let prefix: &[&str] = if is_root { &[] } else { &["sudo", "-n"] };
    for args in [
        &["apt-get", "update"][..],
        &["apt-get", "install", "-y", "tor"][..],
    ] {
        let full: Vec<&str> = prefix.iter().chain(args).copied().collect();
        eprintln!("xtask: tor is missing; running `{}`", full.join(" "));
        let status = Command::new(full[0])
            .args(&full[1..])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .map_err(|e| format!("could not run `{}`: {e}", full.join(" ")))?;
        if !status.success() {
            return Err(format!("`{}` failed ({status})", full.join(" ")));
        }
    }
    find_tor()
        .map(|_| ())
        .ok_or_else(|| "apt-get installed tor but `tor` is still not on PATH".to_string())
}

fn find_tor() -> Option<PathBuf> {
    which("tor").or_else(|| {
        let p = PathBuf::from("/usr/sbin/tor");
        p.is_file().then_some(p)
    })
}

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}
