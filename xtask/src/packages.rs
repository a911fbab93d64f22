//! Making sure the programs the tests need (tor, and for the leak test strace and ip) are
//! installed before the tests run.

use std::path::PathBuf;
use std::process::{Command, Stdio};

/// `tor` (the package also brings `tor-gencert`).
pub(crate) fn ensure_tor() -> Result<(), String> {
    ensure("tor", "tor").map(drop)
}

/// Finds `program` on PATH (or in /usr/sbin and /sbin, where Debian puts admin tools and where
/// a non-root PATH may not look). If it is missing, installs Debian's `package` with apt-get
/// when that needs no prompt (root, or passwordless sudo); otherwise fails with the exact
/// command to run.
pub(crate) fn ensure(program: &str, package: &str) -> Result<PathBuf, String> {
    if let Some(path) = find(program) {
        eprintln!("xtask: {program} found at {}", path.display());
        return Ok(path);
    }
    let has_apt = find("apt-get").is_some();
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    let sudo_ok = !is_root
        && find("sudo").is_some()
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
            "`{program}` is not installed and xtask cannot install it without a prompt.\n\
             Install it, then run this again:\n    sudo apt-get update && sudo apt-get install -y {package}\n\
             (or your platform's package for it)"
        ));
    }
    let prefix: &[&str] = if is_root { &[] } else { &["sudo", "-n"] };
    for args in [
        &["apt-get", "update"][..],
        &["apt-get", "install", "-y", package][..],
    ] {
        let full: Vec<&str> = prefix.iter().chain(args).copied().collect();
        eprintln!("xtask: {program} is missing; running `{}`", full.join(" "));
        let status = Command::new(full[0])
            .args(&full[1..])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .map_err(|e| format!("could not run `{}`: {e}", full.join(" ")))?;
        if !status.success() {
            return Err(format!("`{}` failed ({status})", full.join(" ")));
        }
    }
    find(program)
        .ok_or_else(|| format!("apt-get installed {package} but `{program}` is still not found"))
}

fn find(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}
