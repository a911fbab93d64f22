//! The keys of the directory authorities and relays, made by tor's own tools inside a short
//! Shadow simulation of their own: Shadow's randomness comes from the seed and its clock from
//! 2000-01-01, so the same seed gives the same keys, and the authorities' certificates are
//! valid in simulated time. Knowing every relay's fingerprint beforehand lets the authorities
//! vote the Guard flag for relays only and read the relays' bandwidths from a file, as
//! torp2p-testnet does.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;

use crate::plan::{Plan, Role};
use crate::shadow::{DIR_PORT, Programs, copy_dir, mkdir, write_file};

/// A relay's identities: its relay fingerprint and, for an authority, its v3 identity (the
/// certificate's fingerprint), 40 hex digits each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ids {
    pub(crate) fingerprint: String,
    pub(crate) v3ident: Option<String>,
}

/// Makes the keys of every authority and relay in `work` (a fresh directory) by simulation,
/// and copies them into `hosts_dir/<name>/tor/` (the host's data directory in the template):
/// their identities, in the order of the plan's hosts.
pub(crate) async fn make(
    plan: &Plan,
    programs: &Programs,
    work: &Path,
    hosts_dir: &Path,
) -> Result<Vec<Ids>, String> {
    let template = work.join("template").join("hosts");
    let mut y = format!(
        "# The authorities' keys, made by tor-gencert and tor --list-fingerprint in simulated time.\n\
         general:\n  stop_time: 10s\n  seed: {}\nnetwork:\n  graph:\n    type: 1_gbit_switch\nhosts:\n",
        plan.params.seed
    );
    let gencert = path(&programs.gencert)?;
    let tor = path(&programs.tor)?;
    let relays: Vec<_> = plan.hosts.iter().filter(|h| h.role != Role::Peer).collect();
    for h in &relays {
        let dir = template.join(&h.name);
        mkdir(&dir)?;
        write_file(&dir.join("empty"), "")?;
        let _ = write!(
            y,
            "  {name}:\n    network_node_id: 0\n    ip_addr: {ip}\n    processes:\n",
            name = h.name,
            ip = h.ip,
        );
        if h.role == Role::Authority {
            let dir_addr = SocketAddr::from((h.ip, DIR_PORT));
            let _ = write!(
                y,
                "    - path: {gencert}\n      args: [\"--create-identity-key\", \"--passphrase-fd\", \"0\", \
             \"-i\", \"authority_identity_key\", \"-s\", \"authority_signing_key\", \"-c\", \
             \"authority_certificate\", \"-m\", \"12\", \"-a\", \"{dir_addr}\"]\n      start_time: 1s\n      expected_final_state: {{exited: 0}}\n"
            );
        }
        let _ = write!(
            y,
            "    - path: {tor}\n      args: [\"--ignore-missing-torrc\", \"-f\", \"missing-torrc\", \
             \"--defaults-torrc\", \"empty\", \"--orport\", \"1\", \"--datadirectory\", \"tor\", \
             \"--list-fingerprint\"]\n      start_time: 2s\n      expected_final_state: {{exited: 0}}\n"
        );
    }
    let config = work.join("keys.yaml");
    write_file(&config, &y)?;
    let data = work.join("shadow.data");
    let log = std::fs::File::create(work.join("shadow.log"))
        .map_err(|e| format!("cannot create {}: {e}", work.join("shadow.log").display()))?;
    let status = tokio::process::Command::new(&programs.shadow)
        .arg("--template-directory")
        .arg(work.join("template"))
        .arg("--data-directory")
        .arg(&data)
        .args(["--use-memory-manager=false", "--use-cpu-pinning=false"])
        .arg(&config)
        .current_dir(work)
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().map_err(|e| e.to_string())?)
        .stderr(log)
        .kill_on_drop(true)
        .status()
        .await
        .map_err(|e| format!("cannot start {}: {e}", programs.shadow.display()))?;
    if !status.success() {
        return Err(format!(
            "the simulation that makes the authorities' keys failed ({status}): see {}",
            work.join("shadow.log").display()
        ));
    }
    let mut ids = Vec::new();
    for h in &relays {
        let made = data.join("hosts").join(&h.name);
        let dest = hosts_dir.join(&h.name).join("tor");
        copy_dir(&made.join("tor"), &dest)?;
        let fingerprint_file = read(&made.join("tor").join("fingerprint"))?;
        let fingerprint = relay_fingerprint(&fingerprint_file)
            .ok_or_else(|| format!("{}: no fingerprint in tor's fingerprint file", h.name))?;
        let mut v3ident = None;
        if h.role == Role::Authority {
            for f in [
                "authority_identity_key",
                "authority_signing_key",
                "authority_certificate",
            ] {
                std::fs::copy(made.join(f), dest.join("keys").join(f))
                    .map_err(|e| format!("{}: cannot copy {f}: {e}", h.name))?;
            }
            let cert = read(&made.join("authority_certificate"))?;
            v3ident = Some(
                cert_fingerprint(&cert)
                    .ok_or_else(|| format!("{}: no fingerprint in its certificate", h.name))?,
            );
        }
        ids.push(Ids {
            fingerprint,
            v3ident,
        });
    }
    Ok(ids)
}

fn path(p: &Path) -> Result<String, String> {
    crate::shadow::path_str(p)
}

fn read(p: &Path) -> Result<String, String> {
    std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()))
}

fn hex40(s: &str) -> Option<String> {
    (s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit())).then(|| s.to_ascii_uppercase())
}

/// The `fingerprint` line of an authority certificate.
fn cert_fingerprint(cert: &str) -> Option<String> {
    cert.lines()
        .find_map(|l| l.strip_prefix("fingerprint "))
        .and_then(|f| hex40(f.trim()))
}

/// tor's `fingerprint` file: `<nickname> <40 hex digits>`.
fn relay_fingerprint(file: &str) -> Option<String> {
    let hex: String = file.split_whitespace().skip(1).collect();
    hex40(&hex)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_read_or_refused() {
        let f = "DCE5A3949BA34C123FBAB3817F6610DC216E6C0A";
        assert_eq!(
            cert_fingerprint(&format!("dir-key-certificate-version 3\nfingerprint {f}\n")),
            Some(f.into())
        );
        assert_eq!(cert_fingerprint("fingerprint 12"), None);
        assert_eq!(relay_fingerprint(&format!("Unnamed {f}\n")), Some(f.into()));
        assert_eq!(relay_fingerprint("Unnamed"), None);
    }
}
