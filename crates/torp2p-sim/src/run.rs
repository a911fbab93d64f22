//! The command line, and `run`: generate a simulation, run Shadow on it, report.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use serde_json::{Value, json};

use crate::peer::{self, Target};
use crate::plan::{Params, Plan, Workload};
use crate::plot;
use crate::report;
use crate::shadow::{self, Programs};

/// The small configuration `--smoke` runs, and what it must come to.
const SMOKE: &str = include_str!("../smoke/smoke.json");

/// Where Shadow's installation guide is.
const SHADOW_GUIDE: &str = "https://shadow.github.io/docs/guide/install_dependencies.html";

#[derive(Debug, Parser)]
#[command(
    name = "torp2p-sim",
    about = "torp2p on a simulated Tor network (Shadow), against raw SOCKS streams",
    disable_version_flag = true
)]
pub(crate) struct Command {
    #[command(subcommand)]
    what: What,
}

#[derive(Debug, Subcommand)]
enum What {
    /// Generate a simulation, run it with Shadow and report (simulated time)
    Run(RunArgs),
    /// Sum up a finished run again from its peers' output: rewrite its sim.json and plots
    Report(ReportArgs),
    /// The program on a simulated peer host (Shadow starts it; not for people)
    #[command(hide = true)]
    Peer(PeerArgs),
    /// The mesh workload's program on a simulated peer host (Shadow starts it)
    #[command(hide = true)]
    Mesh(MeshArgs),
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// relays besides the directory authorities (3 authorities from 20 relays on, else 1)
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(3..=20_000))]
    relays: u32,
    /// torp2p peers, each with its own tor
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(2..=5_000))]
    peers: u32,
    /// Shadow's seed and that of every choice (regions, keys, who dials whom)
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// what the peers do: ping (each dials --dials others, raw and with torp2p) or mesh
    /// (gossipsub and Kademlia among all peers, --messages from random peers)
    #[arg(long, value_enum, default_value_t = Workload::Ping)]
    workload: Workload,
    /// mesh workload: gossipsub messages, one every 10 simulated seconds
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    messages: u32,
    /// distinct peers each peer dials, once raw and once with torp2p
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=1_000))]
    dials: u32,
    /// round trips per connection
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1_000))]
    pings: u32,
    /// the share of relays and of peers that leave during the dials and come back
    /// (0 to 1; their processes are killed and started again)
    #[arg(long, default_value_t = 0.0, value_parser = churn)]
    churn: f64,
    /// simulated seconds a dial may take, round trips included
    #[arg(long, default_value_t = 120, value_parser = clap::value_parser!(u64).range(10..=3_600))]
    dial_timeout: u64,
    /// simulated seconds from the start of one of a peer's dials to the start of its next, at
    /// the least (0: back to back); spreads the dials over the run, e.g. to meet --churn
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=3_600))]
    dial_every: u64,
    /// where to write the configuration, Shadow's data and sim.json (must not exist);
    /// default: a directory in target/sim/ named after the run, e.g. r50-n10-s1, r50-n10-s1-mesh,
    /// r50-n10-s1-churn0.2
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// the shadow binary (default: $SHADOW_BIN, else `shadow` on PATH)
    #[arg(long, value_name = "PATH")]
    shadow: Option<PathBuf>,
    /// the tor binary the simulated hosts run (default: $TOR_BIN, else `tor` on PATH)
    #[arg(long, value_name = "PATH")]
    tor: Option<PathBuf>,
    /// Shadow's worker threads (default: the machine's cores)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=256))]
    parallelism: Option<u32>,
    /// only write the configuration, do not run it (Shadow is still needed: the keys of
    /// the authorities and relays are made in a short simulation)
    #[arg(long)]
    generate_only: bool,
    /// run the small checked-in configuration twice (smoke/smoke.json): its expected outcome
    /// must hold and both runs must give the same results; the other sizes are ignored
    #[arg(long)]
    smoke: bool,
}

#[derive(Debug, clap::Args)]
struct ReportArgs {
    /// the run's directory (the --out of `run`: sim.json and shadow.data in it)
    #[arg(value_name = "DIR")]
    dir: PathBuf,
}

#[derive(Debug, clap::Args)]
struct MeshArgs {
    #[arg(long)]
    control: SocketAddr,
    #[arg(long)]
    key: PathBuf,
    #[arg(long)]
    start_at: u64,
    #[arg(long)]
    bootstrap: Vec<libp2p_core::Multiaddr>,
    #[arg(long)]
    publish: Vec<crate::mesh::Publish>,
}

#[derive(Debug, clap::Args)]
struct PeerArgs {
    #[arg(long)]
    control: SocketAddr,
    #[arg(long)]
    key: PathBuf,
    #[arg(long)]
    raw_key: PathBuf,
    #[arg(long)]
    dial_at: Option<u64>,
    #[arg(long, default_value_t = 5)]
    pings: usize,
    #[arg(long, default_value_t = 1)]
    ping_interval: u64,
    #[arg(long, default_value_t = 120)]
    dial_timeout: u64,
    #[arg(long, default_value_t = 0)]
    dial_every: u64,
    #[arg(long = "dial")]
    dials: Vec<Target>,
}

fn churn(s: &str) -> Result<f64, String> {
    let x: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a number"))?;
    if (0.0..=1.0).contains(&x) {
        Ok(x)
    } else {
        Err(format!("{x} is not between 0 and 1"))
    }
}

impl Command {
    pub(crate) fn parse() -> Result<Self, clap::Error> {
        Self::try_parse()
    }

    pub(crate) fn is_peer(&self) -> bool {
        matches!(self.what, What::Peer(_) | What::Mesh(_))
    }

    pub(crate) async fn run(&self) -> Result<(), String> {
        match &self.what {
            What::Peer(a) => {
                peer::run(peer::Args {
                    control: a.control,
                    key: a.key.clone(),
                    raw_key: a.raw_key.clone(),
                    dial_at: a.dial_at,
                    pings: a.pings.max(1),
                    ping_interval: Duration::from_secs(a.ping_interval),
                    dial_timeout: Duration::from_secs(a.dial_timeout),
                    dial_every: Duration::from_secs(a.dial_every),
                    targets: a.dials.clone(),
                })
                .await
            }
            What::Mesh(a) => {
                crate::mesh::run(crate::mesh::Args {
                    control: a.control,
                    key: a.key.clone(),
                    start_at: a.start_at,
                    bootstrap: a.bootstrap.clone(),
                    publish: a.publish.clone(),
                })
                .await
            }
            What::Report(a) => {
                let sim = report_again(&a.dir)?;
                println!("{}", report::text(&sim["results"]));
                println!("sim.json: {}", a.dir.join("sim.json").display());
                Ok(())
            }
            What::Run(a) if a.smoke => smoke(a).await,
            What::Run(a) => {
                let params = Params {
                    relays: a.relays as usize,
                    peers: a.peers as usize,
                    seed: a.seed,
                    dials: a.dials as usize,
                    pings: a.pings as usize,
                    ping_interval_s: 1,
                    dial_at_s: dial_at(a.relays as usize),
                    dial_timeout_s: a.dial_timeout,
                    dial_every_s: a.dial_every,
                    churn_permille: (a.churn * 1000.0).round() as u32,
                    workload: a.workload,
                    messages: a.messages as usize,
                };
                let out = a.out.clone().unwrap_or_else(|| {
                    let mut name = format!("r{}-n{}-s{}", a.relays, a.peers, a.seed);
                    if a.workload == Workload::Mesh {
                        name.push_str("-mesh");
                    }
                    if a.churn > 0.0 {
                        name.push_str(&format!("-churn{}", a.churn));
                    }
                    Path::new("target").join("sim").join(name)
                });
                let sim = simulate(a, params, &out).await?;
                if let Some(sim) = sim {
                    println!("{}", report::text(&sim["results"]));
                    println!(
                        "wall time {} s; peak memory {} MiB (sum of PSS; of RSS {} MiB)",
                        sim["wall_s"], sim["peak_pss_mib"], sim["peak_rss_mib"]
                    );
                    println!("sim.json: {}", out.join("sim.json").display());
                    let code = sim["shadow_exit"].as_i64();
                    if code != Some(0) {
                        return Err(format!(
                            "shadow exited with {code:?}: see {}",
                            out.join("shadow.log").display()
                        ));
                    }
                }
                Ok(())
            }
        }
    }
}

/// When dialing starts: after every peer could bootstrap and publish (more relays, longer
/// to fetch their descriptors).
fn dial_at(relays: usize) -> u64 {
    shadow::PEERS_START_S + 240 + (relays as u64 / 100) * 60
}

/// Generates the simulation of `params` in `out` and, unless only generating, runs it:
/// `sim.json`'s contents, also written to `out`.
async fn simulate(a: &RunArgs, params: Params, out: &Path) -> Result<Option<Value>, String> {
    if out.exists() {
        return Err(format!(
            "{} exists: remove it, or give another --out",
            out.display()
        ));
    }
    let tor = find_program(a.tor.as_deref(), "TOR_BIN", "tor").ok_or(
        "tor is not on PATH (nor given with --tor or $TOR_BIN): install it (Debian: apt-get install tor)",
    )?;
    // tor-gencert comes with tor (Debian: the same package), beside it or on PATH.
    let gencert = tor
        .parent()
        .map(|d| d.join("tor-gencert"))
        .filter(|p| p.is_file())
        .or_else(|| find_program(None, "TOR_GENCERT", "tor-gencert"))
        .ok_or("tor-gencert is neither beside tor nor on PATH: it comes with tor (Debian: apt-get install tor)")?;
    let shadow = find_program(a.shadow.as_deref(), "SHADOW_BIN", "shadow").ok_or_else(|| {
        format!(
            "shadow is not on PATH (nor given with --shadow or $SHADOW_BIN). Shadow, the \
             network simulator (https://github.com/shadow/shadow), is built from source: \
             install its dependencies and build and install it as its guide says \
             ({SHADOW_GUIDE}, then \"Installing Shadow\"), and put the bin directory of \
             its install prefix on PATH. Writing a configuration needs it too: the directory \
             authorities' keys are made in a short simulation."
        )
    })?;
    let programs = Programs {
        shadow,
        tor,
        gencert,
        sim: std::env::current_exe()
            .and_then(std::fs::canonicalize)
            .map_err(|e| format!("cannot find this program's own path: {e}"))?,
    };
    let plan = Plan::new(params.clone())?;
    std::fs::create_dir_all(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let out = std::fs::canonicalize(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let config = out.join("config");
    shadow::write(&plan, &programs, &config).await?;
    eprintln!(
        "torp2p-sim: {} relays + {} authorities, {} peers, seed {}: configuration in {}",
        params.relays,
        params.authorities(),
        params.peers,
        params.seed,
        config.display()
    );
    if a.generate_only {
        return Ok(None);
    }
    let parallelism = a
        .parallelism
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get() as u32));
    let (wall, (peak_rss, peak_pss), code) =
        run_shadow(&programs.shadow, &config, &out, parallelism).await?;
    let results = report::summarize(&out.join("shadow.data").join("hosts"), &plan)?;
    let sim = json!({
        "params": params_json(&params),
        "shadow_exit": code,
        "wall_s": (wall.as_secs_f64() * 10.0).round() / 10.0,
        "peak_rss_mib": peak_rss / (1024 * 1024),
        "peak_pss_mib": peak_pss / (1024 * 1024),
        "parallelism": parallelism,
        "results": results,
    });
    write_sim(&out, &sim, &plan)?;
    Ok(Some(sim))
}

/// Writes `sim` to `out/sim.json` and its plots beside it (a plot that cannot be drawn is
/// said, not fatal: its figures are in sim.json).
fn write_sim(out: &Path, sim: &Value, plan: &Plan) -> Result<(), String> {
    let text = serde_json::to_string_pretty(sim).map_err(|e| e.to_string())?;
    std::fs::write(out.join("sim.json"), text + "\n")
        .map_err(|e| format!("cannot write {}: {e}", out.join("sim.json").display()))?;
    for written in torp2p_plot::write_all(out, &plot::charts(&sim["results"], plan)) {
        match written {
            Ok(svg) => eprintln!("torp2p-sim: wrote {}", svg.display()),
            Err(e) => eprintln!("torp2p-sim: {e}"),
        }
    }
    Ok(())
}

/// `report DIR`: the results of the run in `dir` summed up again from its peers' output (by
/// this version of the summary), written back into its sim.json with new plots.
fn report_again(dir: &Path) -> Result<Value, String> {
    let path = dir.join("sim.json");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "cannot read {}: {e} (give the directory of a finished `torp2p-sim run`)",
            path.display()
        )
    })?;
    let mut sim: Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: not JSON: {e}", path.display()))?;
    let params = params_of(&sim["params"]).map_err(|e| format!("{}: {e}", path.display()))?;
    let plan = Plan::new(params)?;
    sim["results"] = report::summarize(&dir.join("shadow.data").join("hosts"), &plan)?;
    write_sim(dir, &sim, &plan)?;
    Ok(sim)
}

/// The parameters as sim.json records them (with the authorities and the stop time, for
/// people).
fn params_json(params: &Params) -> Value {
    json!({
        "relays": params.relays, "authorities": params.authorities(), "peers": params.peers,
        "seed": params.seed, "dials": params.dials, "pings": params.pings,
        "churn": f64::from(params.churn_permille) / 1000.0,
        "workload": format!("{:?}", params.workload).to_lowercase(),
        "messages": params.messages,
        "dial_at_s": params.dial_at_s, "dial_timeout_s": params.dial_timeout_s,
        "dial_every_s": params.dial_every_s,
        "stop_s": params.stop_s(),
    })
}

/// The parameters a sim.json records (its `params`), or smoke/smoke.json.
fn params_of(p: &Value) -> Result<Params, String> {
    let n = |k: &str| {
        p[k].as_u64()
            .ok_or_else(|| format!("params.{k} is missing or not a whole number"))
    };
    let churn = p["churn"].as_f64().ok_or("params.churn is missing")?;
    let workload = match p["workload"].as_str() {
        Some("ping") => Workload::Ping,
        Some("mesh") => Workload::Mesh,
        other => {
            return Err(format!(
                "params.workload is {other:?}, not \"ping\" or \"mesh\""
            ));
        }
    };
    Ok(Params {
        relays: n("relays")? as usize,
        peers: n("peers")? as usize,
        seed: n("seed")?,
        dials: n("dials")? as usize,
        pings: n("pings")? as usize,
        ping_interval_s: 1,
        dial_at_s: n("dial_at_s")?,
        dial_timeout_s: n("dial_timeout_s")?,
        // Absent from the sim.json of runs made before it existed: back to back.
        dial_every_s: p.get("dial_every_s").map_or(Ok(0), |_| n("dial_every_s"))?,
        churn_permille: (churn * 1000.0).round() as u32,
        workload,
        messages: n("messages")? as usize,
    })
}

/// Runs Shadow on the configuration in `config`, its data in `out/shadow.data` and its log in
/// `out/shadow.log`: the wall time, the peak memory of Shadow and every simulated process
/// together (bytes, RSS and PSS as [`tree_memory`] sums them, sampled every 5 s), and
/// Shadow's exit code.
async fn run_shadow(
    shadow_bin: &Path,
    config: &Path,
    out: &Path,
    parallelism: u32,
) -> Result<(Duration, (u64, u64), Option<i32>), String> {
    let log = std::fs::File::create(out.join("shadow.log"))
        .map_err(|e| format!("cannot create shadow.log: {e}"))?;
    let err_log = log
        .try_clone()
        .map_err(|e| format!("cannot open shadow.log twice: {e}"))?;
    let started = Instant::now();
    let mut child = tokio::process::Command::new(shadow_bin)
        .arg("--template-directory")
        .arg(config.join("shadow.data.template"))
        .arg("--data-directory")
        .arg(out.join("shadow.data"))
        .args([
            "--use-memory-manager=false",
            "--use-cpu-pinning=false",
            &format!("--parallelism={parallelism}"),
        ])
        .arg(config.join("shadow.yaml"))
        .current_dir(config)
        .stdin(std::process::Stdio::null())
        .stdout(log)
        .stderr(err_log)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", shadow_bin.display()))?;
    let pid = child.id().unwrap_or(0);
    eprintln!(
        "torp2p-sim: shadow runs (pid {pid}); its log: {}",
        out.join("shadow.log").display()
    );
    let mut peak = (0u64, 0u64);
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| format!("cannot watch for SIGTERM: {e}"))?;
    let status = loop {
        tokio::select! {
            s = child.wait() => break s.map_err(|e| format!("waiting for shadow: {e}"))?,
            _ = tick.tick() => {
                let (rss, pss) = tree_memory(pid);
                peak = (peak.0.max(rss), peak.1.max(pss));
            }
            // Stopped (Ctrl-C or SIGTERM): stop Shadow too, which stops every simulated process.
            _ = tokio::signal::ctrl_c() => return Err(stop_shadow(&mut child).await),
            _ = term.recv() => return Err(stop_shadow(&mut child).await),
        }
    };
    Ok((started.elapsed(), peak, status.code()))
}

async fn stop_shadow(child: &mut tokio::process::Child) -> String {
    let _ = child.kill().await;
    "stopped by a signal; Shadow was stopped too".into()
}

/// The memory of `root` and all its descendants, in bytes, from /proc: `(RSS, PSS)`. The sum
/// of RSS counts the pages the processes share (tor's code and libraries) once per process;
/// the sum of PSS divides each shared page among its sharers, which is what they take
/// together.
fn tree_memory(root: u32) -> (u64, u64) {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return (0, 0);
    };
    let mut procs: Vec<(u32, u32, u64)> = Vec::new();
    for e in entries.filter_map(Result::ok) {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        // After the command's closing parenthesis: state, ppid, ... rss (field 24) in pages.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ppid = fields.get(1).and_then(|f| f.parse().ok()).unwrap_or(0);
        let rss_pages: u64 = fields.get(21).and_then(|f| f.parse().ok()).unwrap_or(0);
        procs.push((pid, ppid, rss_pages * 4096));
    }
    let mut tree = vec![root];
    let (mut rss, mut pss) = (0, 0);
    let mut i = 0;
    while i < tree.len() {
        let p = tree[i];
        for (pid, ppid, r) in &procs {
            if *pid == p {
                rss += r;
                pss += pss_of(p);
            }
            if *ppid == p {
                tree.push(*pid);
            }
        }
        i += 1;
    }
    (rss, pss)
}

/// The proportional set size of process `pid` in bytes (0 if it is gone).
fn pss_of(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("Pss:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kib| kib * 1024)
}

/// `given`, else the path in `$env`, else `name` on PATH; made absolute.
fn find_program(given: Option<&Path>, env: &str, name: &str) -> Option<PathBuf> {
    let candidate = given
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os(env).map(PathBuf::from))
        .or_else(|| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|d| d.join(name))
                    .find(|p| p.is_file())
            })
        })?;
    std::fs::canonicalize(candidate)
        .ok()
        .filter(|p| p.is_file())
}

/// `--smoke`: the checked-in configuration, twice; its expectations must hold and the two
/// runs' results must be the same.
async fn smoke(a: &RunArgs) -> Result<(), String> {
    let spec: Value = serde_json::from_str(SMOKE).map_err(|e| format!("smoke/smoke.json: {e}"))?;
    let params = params_of(&spec["params"]).map_err(|e| format!("smoke/smoke.json: {e}"))?;
    let base = a
        .out
        .clone()
        .unwrap_or_else(|| Path::new("target").join("sim").join("smoke"));
    if base.exists() {
        return Err(format!(
            "{} exists: remove it, or give another --out",
            base.display()
        ));
    }
    let mut results = Vec::new();
    for run in ["first", "second"] {
        let out = base.join(run);
        let sim = simulate(a, params.clone(), &out)
            .await?
            .ok_or("--smoke runs the simulation: leave out --generate-only")?;
        println!("{run} run:\n{}", report::text(&sim["results"]));
        if sim["shadow_exit"] != json!(0) {
            return Err(format!(
                "smoke: shadow exited with {}: see {}",
                sim["shadow_exit"],
                out.join("shadow.log").display()
            ));
        }
        check_expected(&spec["expect"], &sim["results"])
            .map_err(|e| format!("smoke ({run} run, {}): {e}", out.display()))?;
        results.push(sim["results"].clone());
    }
    if results[0] != results[1] {
        return Err(format!(
            "smoke: the same configuration and seed gave different results:\n{}\n{}",
            results[0], results[1]
        ));
    }
    println!("smoke: the expected outcome held, and both runs gave the same results");
    Ok(())
}

/// Checks `results` against `expect`: `{"path.to.value": expected}`, each an exact value.
fn check_expected(expect: &Value, results: &Value) -> Result<(), String> {
    let expect = expect
        .as_object()
        .ok_or("smoke/smoke.json: expect is not an object")?;
    let mut wrong = Vec::new();
    for (path, want) in expect {
        let got = path
            .split('.')
            .try_fold(results, |v, k| v.get(k))
            .unwrap_or(&Value::Null);
        if got != want {
            wrong.push(format!("{path} is {got}, expected {want}"));
        }
    }
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(wrong.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_smoke_configuration_parses_and_its_expectations_are_checked() {
        let spec: Value = serde_json::from_str(SMOKE).unwrap();
        let p = params_of(&spec["params"]).unwrap();
        Plan::new(p).unwrap();
        let results = json!({ "raw": { "succeeded": 2 }, "errors": [] });
        let expect = json!({ "raw.succeeded": 2, "errors": [] });
        check_expected(&expect, &results).unwrap();
        let e = check_expected(
            &json!({ "raw.succeeded": 3, "torp2p.succeeded": 2 }),
            &results,
        )
        .unwrap_err();
        assert!(e.contains("raw.succeeded is 2, expected 3"), "{e}");
        assert!(e.contains("torp2p.succeeded is null"), "{e}");
    }

    #[test]
    fn the_parameters_sim_json_records_give_the_same_simulation() {
        let p = Params {
            churn_permille: 200,
            dial_every_s: 60,
            workload: Workload::Mesh,
            messages: 30,
            ..crate::plan::tests::params()
        };
        assert_eq!(params_of(&params_json(&p)), Ok(p.clone()));
        // A sim.json from before --dial-every: back to back.
        let mut old = params_json(&p);
        old.as_object_mut().unwrap().remove("dial_every_s");
        assert_eq!(params_of(&old).map(|p| p.dial_every_s), Ok(0));
        let e = params_of(&json!({ "relays": 4 })).unwrap_err();
        assert!(e.contains("params.churn"), "{e}");
        let mut bad = params_json(&crate::plan::tests::params());
        bad["workload"] = json!("gossip");
        let e = params_of(&bad).unwrap_err();
        assert!(e.contains("\"gossip\""), "{e}");
        bad["workload"] = json!("ping");
        bad["peers"] = json!(-1);
        assert!(params_of(&bad).unwrap_err().contains("params.peers"));
    }

    #[test]
    fn churn_is_a_share() {
        assert_eq!(churn("0.25"), Ok(0.25));
        for bad in ["-0.1", "1.5", "x", "NaN"] {
            assert!(churn(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_memory_of_this_process_tree_is_found() {
        let (rss, pss) = tree_memory(std::process::id());
        assert!(rss > 1 << 20, "{rss}");
        assert!(pss > 1 << 20 && pss <= rss, "{pss} of {rss}");
        assert_eq!(tree_memory(u32::MAX), (0, 0));
    }
}
