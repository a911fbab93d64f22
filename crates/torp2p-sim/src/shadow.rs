//! Writes a [`Plan`] as a Shadow simulation: `shadow.yaml`, `graph.gml`, and per host a
//! directory in `shadow.data.template/hosts/` with its torrc and keys, which Shadow copies into
//! `shadow.data/hosts/` when the simulation starts. The authorities' keys come from a first,
//! short simulation (`keygen/`, see the `keys` module).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use torp2p_addr::OnionSocketAddr;

use crate::plan::{Host, Plan, Role};

/// tor's ports on every host (each host has an address of its own).
const OR_PORT: u16 = 9001;
pub(crate) const DIR_PORT: u16 = 9030;
/// A peer's tor: its SOCKS and control ports, on 127.0.0.1 (Shadow has no unix socket paths).
pub(crate) const SOCKS_PORT: u16 = 9050;
pub(crate) const CONTROL_PORT: u16 = 9051;
/// The virtual ports of a peer's two onion services.
pub(crate) const TORP2P_PORT: u16 = 4001;
pub(crate) const RAW_PORT: u16 = 5001;
/// Consensus every minute (the live network: every hour), so that a simulated hour sees
/// many; the first ones come faster.
const VOTING_INTERVAL_S: u64 = 60;
/// When peers start: after two consensuses at the full interval. The consensuses before (at
/// 20, 40 and 60 s) may have only one guard, or none: relays that started a few seconds
/// before their first vote are not yet in them. Measured: a peer started at 60 s on a 4-relay
/// network found one guard, built guard-middle-guard paths, which the guard refused, and
/// took 68 s to bootstrap.
pub(crate) const PEERS_START_S: u64 = 150;

/// The programs a simulation runs.
#[derive(Debug, Clone)]
pub(crate) struct Programs {
    pub(crate) shadow: PathBuf,
    pub(crate) tor: PathBuf,
    pub(crate) gencert: PathBuf,
    /// This binary, for `torp2p-sim peer`.
    pub(crate) sim: PathBuf,
}

/// Writes the simulation of `plan` into `dir` (which must not exist yet, or be empty).
pub(crate) async fn write(plan: &Plan, programs: &Programs, dir: &Path) -> Result<(), String> {
    let hosts_dir = dir.join("shadow.data.template").join("hosts");
    mkdir(&hosts_dir)?;
    let ids = crate::keys::make(plan, programs, &dir.join("keygen"), &hosts_dir).await?;
    let relays: Vec<(&Host, &crate::keys::Ids)> = plan
        .hosts
        .iter()
        .filter(|h| h.role != Role::Peer)
        .zip(&ids)
        .collect();
    let mut common: Vec<String> = relays
        .iter()
        .filter_map(|(h, id)| {
            let v3 = id.v3ident.as_ref()?;
            Some(format!(
                "DirAuthority {} orport={OR_PORT} no-v2 v3ident={v3} {}:{DIR_PORT} {}",
                h.name, h.ip, id.fingerprint
            ))
        })
        .collect();
    // The Guard flag for the relays only, as in torp2p-testnet: with every node a guard, the
    // first consensus made the authority the only guard, and circuits through it failed for a
    // minute.
    let guards: Vec<String> = relays
        .iter()
        .filter(|(h, _)| h.role == Role::Relay)
        .map(|(_, id)| format!("${}", id.fingerprint))
        .collect();
    common.push(format!("TestingDirAuthVoteGuard {}", guards.join(",")));
    common.push("TestingDirAuthVoteGuardIsStrict 1".into());
    // Consensus weights as a bandwidth authority would measure them: each relay's bandwidth
    // (kB/s), dated at the simulation's start.
    let mut bw = format!("{}\n", crate::peer::SIMULATION_EPOCH_S);
    for (h, id) in &relays {
        bw.push_str(&format!(
            "node_id=${} bw={}\n",
            id.fingerprint,
            u64::from(h.bandwidth.1) * 125
        ));
    }
    for h in plan.hosts(Role::Authority) {
        write_file(&hosts_dir.join(&h.name).join("bandwidth"), &bw)?;
    }
    for h in &plan.hosts {
        let host_dir = hosts_dir.join(&h.name);
        mkdir(&host_dir)?;
        write_file(&host_dir.join("torrc"), &torrc(h, &common))?;
        write_file(&host_dir.join("torrc-defaults"), "")?;
        if h.role == Role::Peer {
            let (key, raw) = &plan.keys[h.index];
            key.save(host_dir.join("peer.key"))
                .map_err(|e| format!("{}: cannot write its key: {e}", h.name))?;
            raw.save(host_dir.join("raw.key"))
                .map_err(|e| format!("{}: cannot write its raw key: {e}", h.name))?;
        }
    }
    write_file(&dir.join("graph.gml"), &crate::graph::gml())?;
    write_file(&dir.join("shadow.yaml"), &yaml(plan, programs)?)
}

fn torrc(h: &Host, common: &[String]) -> String {
    let mut lines: Vec<String> = vec![
        "DataDirectory tor".into(),
        "TestingTorNetwork 1".into(),
        // Every relay may be an HSDir, as in torp2p-testnet.
        "TestingDirAuthVoteHSDir *".into(),
        "PathsNeededToBuildCircuits 0.67".into(),
        "V3AuthNIntervalsValid 2".into(),
        "ShutdownWaitLength 0".into(),
        "GeoIPFile".into(),
        "GeoIPv6File".into(),
        // One simulated CPU per host: no worker threads.
        "NumCPUs 1".into(),
        "Log notice stdout".into(),
    ];
    lines.extend(common.iter().cloned());
    match h.role {
        Role::Authority | Role::Relay => {
            let bytes = u64::from(h.bandwidth.1) * 125_000;
            lines.extend([
                format!("Nickname {}", h.name),
                format!("Address {}", h.ip),
                // On the host's address: a bare port would also bind IPv6, which Shadow lacks.
                format!("ORPort {}:{OR_PORT}", h.ip),
                // No SOCKS port: a relay needs none, and tor's default (127.0.0.1:9050) beside
                // an ORPort on 0.0.0.0 fails to bind under Shadow.
                "SocksPort 0".into(),
                "AssumeReachable 1".into(),
                "ExitRelay 0".into(),
                "ExitPolicy reject *:*".into(),
                format!("BandwidthRate {bytes}"),
                format!("BandwidthBurst {bytes}"),
            ]);
            if h.role == Role::Authority {
                lines.extend([
                    format!("DirPort {}:{DIR_PORT}", h.ip),
                    "AuthoritativeDirectory 1".into(),
                    "V3AuthoritativeDirectory 1".into(),
                    "TestingV3AuthInitialVotingInterval 20".into(),
                    "TestingV3AuthInitialVoteDelay 4".into(),
                    "TestingV3AuthInitialDistDelay 4".into(),
                    format!("V3AuthVotingInterval {VOTING_INTERVAL_S}"),
                    "V3AuthVoteDelay 5".into(),
                    "V3AuthDistDelay 5".into(),
                    "AuthDirVoteStableGuaranteeMinUptime 0".into(),
                    "V3BandwidthsFile bandwidth".into(),
                ]);
            }
        }
        Role::Peer => lines.extend([
            format!("SocksPort 127.0.0.1:{SOCKS_PORT} ExtendedErrors"),
            format!("ControlPort 127.0.0.1:{CONTROL_PORT}"),
            "CookieAuthentication 1".into(),
            "ClientOnly 1".into(),
            "FetchDirInfoEarly 1".into(),
        ]),
    }
    lines.join("\n") + "\n"
}

/// Shadow's configuration (YAML written by hand: it is a few fixed shapes).
fn yaml(plan: &Plan, programs: &Programs) -> Result<String, String> {
    let p = &plan.params;
    let mut y = String::new();
    let _ = writeln!(
        y,
        "# Written by torp2p-sim from: --relays {} --peers {} --seed {} --dials {} --pings {} --churn {}",
        p.relays,
        p.peers,
        p.seed,
        p.dials,
        p.pings,
        f64::from(p.churn_permille) / 1000.0
    );
    let _ = writeln!(
        y,
        "general:\n  stop_time: {}s\n  seed: {}\n  model_unblocked_syscall_latency: true\n  progress: false",
        p.stop_s(),
        p.seed
    );
    y.push_str("network:\n  graph:\n    type: gml\n    file:\n      path: graph.gml\n");
    y.push_str("hosts:\n");
    let tor = path_str(&programs.tor)?;
    let sim = path_str(&programs.sim)?;
    for h in &plan.hosts {
        let _ = writeln!(
            y,
            "  {}:\n    network_node_id: {}\n    ip_addr: {}\n    bandwidth_down: \"{} Mbit\"\n    bandwidth_up: \"{} Mbit\"\n    processes:",
            h.name, h.region.id, h.ip, h.bandwidth.0, h.bandwidth.1
        );
        let tor_args = r#"["-f", "torrc", "--defaults-torrc", "torrc-defaults"]"#;
        let start = match h.role {
            Role::Authority => 1,
            Role::Relay => 2 + (h.index as u64 % 10),
            Role::Peer => PEERS_START_S,
        };
        let peer_args = |listen_only: bool| -> Result<String, String> {
            let mut args = vec![
                "peer".to_string(),
                "--control".into(),
                format!("127.0.0.1:{CONTROL_PORT}"),
                "--key".into(),
                "peer.key".into(),
                "--raw-key".into(),
                "raw.key".into(),
            ];
            if !listen_only {
                args.extend([
                    "--dial-at".into(),
                    p.dial_at_s.to_string(),
                    "--pings".into(),
                    p.pings.to_string(),
                    "--ping-interval".into(),
                    p.ping_interval_s.to_string(),
                    "--dial-timeout".into(),
                    p.dial_timeout_s.to_string(),
                ]);
                if p.dial_every_s > 0 {
                    args.extend(["--dial-every".into(), p.dial_every_s.to_string()]);
                }
                for d in &plan.dials[h.index] {
                    args.push("--dial".into());
                    args.push(dial_arg(plan, d.target, d.raw_first)?);
                }
            }
            Ok(yaml_list(&args))
        };
        let mesh_args = || -> Result<String, String> {
            let mut args = vec![
                "mesh".to_string(),
                "--control".into(),
                format!("127.0.0.1:{CONTROL_PORT}"),
                "--key".into(),
                "peer.key".into(),
                "--start-at".into(),
                p.dial_at_s.to_string(),
            ];
            for &j in &plan.bootstrap[h.index] {
                args.extend(["--bootstrap".into(), p2p_addr(&plan.keys[j].0)?]);
            }
            for (publisher, at, n) in &plan.publish {
                if *publisher == h.index {
                    args.extend(["--publish".into(), format!("{at}:{n}")]);
                }
            }
            Ok(yaml_list(&args))
        };
        // (start, stop) of each run of the host's processes: one, or two with churn.
        let runs = match h.churn {
            None => vec![(start, None)],
            Some((leave, back)) => vec![(start, Some(leave)), (back, None)],
        };
        for (n, (from, until)) in runs.iter().enumerate() {
            let end = |y: &mut String| match until {
                Some(t) => {
                    let _ = writeln!(
                        y,
                        "      shutdown_time: {t}s\n      shutdown_signal: SIGKILL\n      expected_final_state: {{signaled: SIGKILL}}"
                    );
                }
                None => y.push_str("      expected_final_state: running\n"),
            };
            let _ = writeln!(
                y,
                "    - path: {tor}\n      args: {tor_args}\n      start_time: {from}s"
            );
            end(&mut y);
            if h.role == Role::Peer {
                let _ = writeln!(
                    y,
                    "    - path: {sim}\n      args: {}\n      environment: {{ RUST_LOG: \"warn\" }}\n      start_time: {}s",
                    match p.workload {
                        crate::plan::Workload::Ping => peer_args(n > 0)?,
                        crate::plan::Workload::Mesh => mesh_args()?,
                    },
                    from + 1
                );
                end(&mut y);
            }
        }
    }
    Ok(y)
}

/// `--dial` of `torp2p-sim peer`: `INDEX,RAW_ONION:PORT,MULTIADDR,raw|torp2p` (which goes first).
fn dial_arg(plan: &Plan, target: usize, raw_first: bool) -> Result<String, String> {
    let (key, raw) = &plan.keys[target];
    let raw_addr =
        OnionSocketAddr::new(raw.onion_address(), RAW_PORT).map_err(|e| e.to_string())?;
    let first = if raw_first { "raw" } else { "torp2p" };
    Ok(format!("{target},{raw_addr},{},{first}", p2p_addr(key)?))
}

/// A peer's full torp2p address, `/onion3/<address>:<port>/p2p/<peer id>`.
fn p2p_addr(key: &torp2p_daemon::OnionKey) -> Result<String, String> {
    let peer = torp2p_transport::identity_from_key(key)
        .public()
        .to_peer_id();
    let addr = torp2p_transport::listen_addr(key, TORP2P_PORT).map_err(|e| e.to_string())?;
    Ok(format!("{addr}/p2p/{peer}"))
}

/// Process arguments as a YAML list of quoted strings.
fn yaml_list(args: &[String]) -> String {
    let quoted: Vec<String> = args.iter().map(|a| format!("\"{a}\"")).collect();
    format!("[{}]", quoted.join(", "))
}

pub(crate) fn path_str(p: &Path) -> Result<String, String> {
    let s = p
        .to_str()
        .ok_or_else(|| format!("{}: not UTF-8", p.display()))?;
    if s.contains(['"', '\n', ':', '#']) || !p.is_absolute() {
        return Err(format!(
            "{s}: Shadow's configuration needs an absolute path without quotes, colons or #"
        ));
    }
    Ok(s.to_string())
}

pub(crate) fn mkdir(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))
}

pub(crate) fn write_file(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Copies the files of `from` into `to`, subdirectories included, keeping their modes (keys
/// stay 0600).
pub(crate) fn copy_dir(from: &Path, to: &Path) -> Result<(), String> {
    mkdir(to)?;
    let entries =
        std::fs::read_dir(from).map_err(|e| format!("cannot read {}: {e}", from.display()))?;
    for e in entries {
        let e = e.map_err(|e| format!("cannot read {}: {e}", from.display()))?;
        let (src, dst) = (e.path(), to.join(e.file_name()));
        if src.is_dir() {
            copy_dir(&src, &dst)?;
        } else {
            std::fs::copy(&src, &dst)
                .map_err(|e| format!("cannot copy {} to {}: {e}", src.display(), dst.display()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Params, Plan};

    fn plan(churn_permille: u32) -> Plan {
        Plan::new(Params {
            relays: 5,
            peers: 3,
            seed: 1,
            dials: 2,
            pings: 3,
            ping_interval_s: 1,
            dial_at_s: 240,
            dial_timeout_s: 120,
            dial_every_s: 0,
            churn_permille,
            workload: crate::plan::Workload::Ping,
            messages: 0,
        })
        .unwrap()
    }

    fn programs() -> Programs {
        Programs {
            shadow: "/opt/shadow/bin/shadow".into(),
            tor: "/usr/sbin/tor".into(),
            gencert: "/usr/bin/tor-gencert".into(),
            sim: "/work/target/torp2p-sim".into(),
        }
    }

    #[test]
    fn every_host_runs_tor_and_peers_run_the_peer_with_their_dials() {
        let p = plan(0);
        let y = yaml(&p, &programs()).unwrap();
        assert_eq!(y.matches("- path: /usr/sbin/tor").count(), 1 + 5 + 3);
        assert_eq!(y.matches("- path: /work/target/torp2p-sim").count(), 3);
        assert_eq!(y.matches("\"--dial\"").count(), 3 * 2);
        assert!(y.contains(&format!("stop_time: {}s", p.params.stop_s())));
        assert!(!y.contains("SIGKILL"));
        let arg = dial_arg(&p, 1, true).unwrap();
        let parts: Vec<&str> = arg.split(',').collect();
        assert_eq!(parts[0], "1");
        assert!(parts[1].ends_with(".onion:5001"), "{arg}");
        assert!(
            parts[2].starts_with("/onion3/") && parts[2].contains("/p2p/12D3KooW"),
            "{arg}"
        );
        assert_eq!(parts[3], "raw");
        // Back to back unless spaced; spaced, the stop waits for the spacing.
        assert!(!y.contains("--dial-every"));
        let mut params = p.params.clone();
        params.dial_every_s = 300;
        let spaced = Plan::new(params).unwrap();
        let y = yaml(&spaced, &programs()).unwrap();
        assert_eq!(y.matches("\"--dial-every\", \"300\"").count(), 3, "{y}");
        assert_eq!(
            spaced.params.stop_s(),
            spaced.params.dial_at_s + (2 * spaced.params.dials as u64 + 1) * 300
        );
    }

    #[test]
    fn a_churning_host_is_killed_and_started_again_listening_only() {
        let p = plan(1000);
        let y = yaml(&p, &programs()).unwrap();
        // Every relay and peer, not the authority.
        assert_eq!(y.matches("shutdown_signal: SIGKILL").count(), 5 + 3 * 2);
        assert_eq!(y.matches("- path: /work/target/torp2p-sim").count(), 6);
        assert_eq!(y.matches("\"--dial\"").count(), 3 * 2);
    }

    #[test]
    fn mesh_peers_join_through_their_bootstrap_peers_and_publish_their_messages() {
        let mut params = plan(0).params;
        params.workload = crate::plan::Workload::Mesh;
        params.messages = 4;
        let p = Plan::new(params).unwrap();
        let y = yaml(&p, &programs()).unwrap();
        assert_eq!(y.matches("[\"mesh\"").count(), 3);
        assert_eq!(y.matches("\"--bootstrap\"").count(), 3 * 2);
        assert_eq!(y.matches("\"--publish\"").count(), 4);
        assert!(!y.contains("\"--dial\""));
    }

    #[test]
    fn a_path_shadow_cannot_read_is_refused() {
        for bad in ["tor", "/a:b/tor", "/a\"b"] {
            assert!(path_str(Path::new(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_peers_tor_has_tcp_ports_and_no_relay() {
        let p = plan(0);
        let peer = p.hosts(Role::Peer).next().unwrap();
        let t = torrc(peer, &["DirAuthority x".into()]);
        assert!(t.contains("SocksPort 127.0.0.1:9050 ExtendedErrors"));
        assert!(t.contains("ControlPort 127.0.0.1:9051"));
        assert!(!t.contains("ORPort"));
        assert!(t.contains("DirAuthority x"));
        let relay = p.hosts(Role::Relay).next().unwrap();
        let t = torrc(relay, &[]);
        assert!(t.contains(&format!("Address {}", relay.ip)) && t.contains("ExitRelay 0"));
    }
}
