//! Making sure the programs the tests need (tor, and for the leak test strace and ip) are
//! installed before the tests run.

use std::path::PathBuf;
use std::process::{Command, Stdio};

/// `tor` (the package also brings `tor-gencert`).
pub(crate) fn ensure_tor() -> Result<(), String> {
    ensure(
        "tor",
        "tor",
        "the demo and the end-to-end tests run real tor processes on a private network",
    )
    .map(drop)
}

/// Finds `program` on PATH (or in /usr/sbin and /sbin, where Debian puts admin tools and where
/// a non-root PATH may not look). If it is missing, installs Debian's `package` with apt-get
/// when that needs no prompt (root, or passwordless sudo); otherwise fails with the exact
/// command to run. `why` says what needs it; before running apt-get or sudo, xtask prints the
/// exact commands and why.
pub(crate) fn ensure(program: &str, package: &str, why: &str) -> Result<PathBuf, String> {
    if let Some(path) = find(program) {
        eprintln!("xtask: {program} found at {}", path.display());
        return Ok(path);
    }
    let manual = format!(
        "`{program}` is not installed ({why}).\n\
         Install it, then run this again:\n    sudo apt-get update && sudo apt-get install -y {package}\n\
         (or your platform's package for it)"
    );
    if find("apt-get").is_none() {
        return Err(manual);
    }
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    let commands = install_commands(package, is_root);
    eprintln!("xtask: {}", announcement(program, package, why, &commands));
    if !is_root {
        if find("sudo").is_none() {
            return Err(manual);
        }
        eprintln!("xtask: not root; checking for passwordless sudo first: running `sudo -n true`");
        let sudo_ok = Command::new("sudo")
            .args(["-n", "true"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !sudo_ok {
            return Err(format!(
                "{manual}\n(xtask installs it only as root or with passwordless sudo)"
            ));
        }
    }
    for full in &commands {
        eprintln!("xtask: running `{}` (to install {package})", full.join(" "));
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

/// The apt-get commands that install `package`, through `sudo -n` unless root.
fn install_commands(package: &str, is_root: bool) -> Vec<Vec<&str>> {
    let prefix: &[&str] = if is_root { &[] } else { &["sudo", "-n"] };
    [
        &["apt-get", "update"][..],
        &["apt-get", "install", "-y", package][..],
    ]
    .iter()
    .map(|args| prefix.iter().chain(*args).copied().collect())
    .collect()
}

/// What xtask says before it installs anything: what is missing, why it is needed, and the
/// exact commands.
fn announcement(program: &str, package: &str, why: &str, commands: &[Vec<&str>]) -> String {
    let shown: Vec<String> = commands
        .iter()
        .map(|c| format!("`{}`", c.join(" ")))
        .collect();
    format!(
        "`{program}` is not installed; {why}. Installing Debian's package `{package}` with {} \
         (DEBIAN_FRONTEND=noninteractive)",
        shown.join(" then ")
    )
}

fn find(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exact_commands_are_announced() {
        let as_user = install_commands("strace", false);
        assert_eq!(
            as_user,
            [
                vec!["sudo", "-n", "apt-get", "update"],
                vec!["sudo", "-n", "apt-get", "install", "-y", "strace"],
            ]
        );
        let said = announcement("strace", "strace", "the leak test needs it", &as_user);
        assert_eq!(
            said,
            "`strace` is not installed; the leak test needs it. Installing Debian's package \
             `strace` with `sudo -n apt-get update` then `sudo -n apt-get install -y strace` \
             (DEBIAN_FRONTEND=noninteractive)"
        );
        assert_eq!(
            install_commands("tor", true)[1],
            ["apt-get", "install", "-y", "tor"]
        );
    }
}
