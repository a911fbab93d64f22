//! `torp2p-bench`: torp2p against raw Tor, side by side, on one private Tor network.
//!
//! Run it as `cargo xtask bench [options]` (which runs this binary with `--release`).
//!
//! The physical limit of a Tor transport is Tor itself: a plain SOCKS stream to the same onion
//! service over the same network. Every figure is therefore taken twice in the same run, once
//! over a raw SOCKS stream (the baseline) and once over torp2p, interleaved sample by sample so
//! that the noise of a shared machine hits both, and reported as a ratio against the baseline.
//! The raw streams go to the torp2p listener's own onion service, with the isolation key of
//! torp2p's dials, so that both ride the same tor circuit (the listener tells them apart by
//! their first byte, before the libp2p upgrade); circuits differ a lot from one another (one
//! 12 ms, another 50 ms or 96 ms per round trip on the same network), so this matters.
//!
//! - round trip: a 64-byte echo on a warm SOCKS stream vs a libp2p ping (`libp2p-ping` in a
//!   swarm) on a warm torp2p connection ([`round_trip`]);
//! - connection setup: SOCKS connect + first echo vs `swarm.dial` → first ping, on new circuits
//!   and on warm ones, for torp2p as it is set up (multistream-select `V1Lazy` for the
//!   connection and for substreams) and for the stock setup of libp2p 0.57's `SwarmBuilder`
//!   (`V1Lazy` for the connection, the swarm's default `V1` for substreams); the round trips
//!   each needs are counted on the stream itself ([`setup`], [`counted`]);
//! - first connection to a fresh onion service (the dialer's tor fetches the descriptor,
//!   introduces itself, builds the rendezvous): SOCKS connect + first echo vs `swarm.dial` →
//!   first ping, each to a listener published just before ([`first`]);
//! - throughput both ways: bytes over a SOCKS stream vs over a yamux substream of a torp2p
//!   connection, dialer to listener (upload) and listener to dialer (download)
//!   ([`throughput`]);
//! - listener readiness: ADD_ONION → descriptors uploaded vs `listen_on` → `NewAddress`
//!   ([`listen`]);
//! - scale: concurrent dials to one listener, with the RSS of this process and of both tors
//!   ([`scale`]);
//! - with `--scale`, instead of all of the above: how cost grows with the number of onion
//!   services on one tor and of inbound connections to one listener, against raw Tor at each
//!   size, written to `target/bench/scale.json` ([`growth`]);
//! - and the criterion micro-benchmarks of the address codecs (`cargo bench -p torp2p-addr`,
//!   [`codecs`]).
//!
//! `--delay-ms D` runs all of it (the private network, both client tors and this process) in a
//! new network namespace whose loopback delays every packet by D ms with netem, so that every
//! tor-to-tor hop costs D ms each way; 25 gives circuit round trips like the live network's
//! (root, `unshare`, `tc` and the netem qdisc needed, or, on a kernel without netem,
//! `iptables` for a user-space stand-in; [`netns`]). **The SOCKS and control
//! connections between this process and its tors are on that loopback too, and delayed the
//! same way, for raw Tor and torp2p alike**: each SOCKS exchange with the local tor (a connect
//! has two) pays 2·D that it would not pay on a real host, where the local tor is not delayed,
//! and so does every control command (ADD_ONION, the publication events); and every byte the
//! bench writes reaches its tor D ms later. The ratios compare like with like; absolute times
//! carry that extra.
//! Without `--delay-ms` (or with 0) nothing changes: no namespace, no delay.
//!
//! `--mesh N[,N...]` (default 5,10,20; `--quick`: 3,5) runs, instead of all of the above, meshes
//! of N peers (one client tor per 5 peers, each peer a transport and an onion service of its
//! own) running gossipsub and Kademlia over onion services, and the same application over TCP
//! on 127.0.0.1 (with `--delay-ms`, on the same delayed loopback) as the baseline: the time
//! until every peer has its gossipsub mesh, message propagation p50 and p99, as ratios
//! torp2p / TCP, and how they, the publication of the onion services and the memory grow with
//! N; written to `target/bench/mesh.json` ([`mesh`]).
//!
//! The figures go to stdout as a table and to `target/bench/latest.json` ([`report`]). Nothing
//! here asserts a time: this is not part of `cargo xtask test`.
//!
//! `--backend arti` (built with the feature `arti`; `cargo xtask bench --backend arti` turns
//! it on) runs torp2p over the embedded arti backend beside torp2p over C tor and raw Tor, all
//! three in turn in one run, and writes `target/bench/latest-arti.json` (`versus`).
//!
//! `--local-tcp` puts every client tor's control and SOCKS ports, and every onion service's
//! target, on TCP 127.0.0.1 instead of unix sockets at file paths (for the Shadow simulator;
//! [`local`]).
//!
//! The rest: [`options`] (the command line), [`stats`] (medians and quartiles), [`network`]
//! (the private network and the order of the phases), [`raw`] (the raw SOCKS baseline),
//! [`p2p`] and [`server`] (the libp2p side).

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

mod codecs;
mod counted;
mod first;
mod growth;
mod listen;
mod local;
mod mesh;
mod netns;
mod network;
mod options;
mod p2p;
mod plot;
mod raw;
mod report;
mod round_trip;
mod scale;
mod server;
mod setup;
mod stats;
mod throughput;
#[cfg(feature = "arti")]
mod versus;

use options::{Backend, Opts};
use report::Report;

/// Whether `--trace` was given.
static TRACE: AtomicBool = AtomicBool::new(false);

/// The longest wait for one step (a dial, a publication, a transfer).
const STEP: Duration = Duration::from_secs(120);
/// The virtual port of the torp2p listener.
const PORT: u16 = 4001;
/// The first byte of a raw benchmark stream that wants an echo. The raw baseline is served by
/// the torp2p listener's own onion service, so that with the same isolation key both use one
/// circuit: its streams start with this byte (or [`RAW_SINK`]), libp2p's with multistream-select's
/// length prefix (0x13), and the listener tells them apart before the libp2p upgrade.
const RAW_ECHO: u8 = b'E';
/// The first byte of a raw benchmark stream to the sink.
const RAW_SINK: u8 = b'S';
/// The first byte of a raw benchmark stream from the source (the download direction).
const RAW_SOURCE: u8 = b'D';

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opts = match Opts::parse(&args) {
        Ok(opts) => opts,
        // `--help` too: clap prints it and exits 0; a bad option exits 2.
        Err(e) => e.exit(),
    };
    match bench(&args, &opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("torp2p-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `cargo xtask bench [options]`.
fn bench(args: &[String], opts: &Opts) -> Result<(), String> {
    if cfg!(debug_assertions) && !opts.unoptimized {
        // noise and yamux run in this process: in a debug build they, not tor, would be measured.
        eprintln!("torp2p-bench: re-running optimized (the libp2p side runs in this process)");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut full = vec!["run", "--release", "--package", "torp2p-bench", "--"];
        full.extend(args.iter().map(String::as_str));
        return run(&cargo, &full);
    }
    if opts.delay_ms > 0 && !opts.in_namespace {
        // The run happens in the copy started inside the namespace; it prints and writes.
        return netns::rerun_inside(args, opts.delay_ms);
    }
    let delay_via = if opts.in_namespace {
        netns::delay_loopback(opts.delay_ms)?
    } else {
        ""
    };
    TRACE.store(opts.trace, Ordering::Relaxed);
    let started = Instant::now();
    let command = std::iter::once("cargo xtask bench".to_string())
        .chain(args.iter().filter(|a| *a != "--in-namespace").cloned())
        .collect::<Vec<_>>()
        .join(" ");
    let mut failed = None;
    let (table, json, file, plots) = match (&opts.mesh, opts.backend) {
        (Some(sizes), _) => {
            let report = mesh::Report {
                delay_via,
                ..mesh_run(opts, sizes)?
            };
            failed = report.failed.clone();
            let plots = if report.sizes.is_empty() {
                Vec::new()
            } else {
                plot::of_mesh(&report)
            };
            (
                report.table(&command),
                report.json(&command),
                "mesh.json",
                plots,
            )
        }
        (None, Backend::Tor) if opts.scale => {
            let g = runtime()?.block_on(async {
                let o = opts.clone();
                tokio::spawn(async move { growth::growth(&o).await })
                    .await
                    .map_err(|e| format!("the benchmark task failed: {e}"))?
            })?;
            let plots = plot::of_growth(&g);
            (g.table(&command), g.json(&command), "scale.json", plots)
        }
        (None, Backend::Tor) => {
            let report = Report {
                delay_via,
                ..c_tor(opts)?
            };
            let plots = plot::of_report(&report);
            (
                report.table(&command),
                report.json(&command),
                "latest.json",
                plots,
            )
        }
        (None, Backend::Arti) => {
            let report = arti(opts)?;
            (
                report.table(&command),
                report.json(&command),
                "latest-arti.json",
                Vec::new(),
            )
        }
    };
    print!("{table}");
    let dir = target_dir().join("bench");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let path = dir.join(file);
    std::fs::write(&path, json).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    for written in torp2p_plot::write_all(&dir, &plots) {
        match written {
            Ok(svg) => println!("wrote {}", svg.display()),
            Err(e) => eprintln!("torp2p-bench: {e}"),
        }
    }
    println!(
        "wrote {} ({:.0} s in all)",
        path.display(),
        started.elapsed().as_secs_f64()
    );
    // A mesh that failed midway still writes the sizes it measured, then fails.
    failed.map_or(Ok(()), Err)
}

/// The meshes of `--mesh` (instead of the phases).
fn mesh_run(opts: &Opts, sizes: &[usize]) -> Result<mesh::Report, String> {
    let rt = runtime()?;
    let o = opts.clone();
    let sizes = sizes.to_vec();
    rt.block_on(async move {
        tokio::spawn(async move { mesh::mesh_bench(&o, &sizes).await })
            .await
            .map_err(|e| format!("the benchmark task failed: {e}"))?
    })
}

/// torp2p over C tor against raw Tor (`--backend tor`).
fn c_tor(opts: &Opts) -> Result<Report, String> {
    let codecs = if opts.criterion {
        codecs::criterion(opts.quick)?
    } else {
        Vec::new()
    };
    let rt = runtime()?;
    // On the runtime's workers, as an application's tasks are (not on this thread).
    let network = opts.clone();
    let report = rt.block_on(async move {
        tokio::spawn(async move { network::network_bench(&network).await })
            .await
            .map_err(|e| format!("the benchmark task failed: {e}"))?
    })?;
    Ok(Report { codecs, ..report })
}

/// torp2p over arti against raw Tor and against torp2p over C tor (`--backend arti`).
#[cfg(feature = "arti")]
fn arti(opts: &Opts) -> Result<versus::Report, String> {
    // arti's tasks run until the runtime ends and save their state then: its storage must
    // outlive the runtime.
    let storage = tempfile::Builder::new()
        .prefix("torp2p-bench-arti-")
        .tempdir()
        .map_err(|e| format!("cannot create arti's storage directory: {e}"))?;
    let rt = runtime()?;
    let network = opts.clone();
    let dir = storage.path().to_path_buf();
    let report = rt.block_on(async move {
        tokio::spawn(async move { versus::arti_bench(&network, &dir).await })
            .await
            .map_err(|e| format!("the benchmark task failed: {e}"))?
    });
    drop(rt);
    drop(storage);
    report
}

#[cfg(not(feature = "arti"))]
fn arti(_: &Opts) -> Result<Report, String> {
    Err(
        "this build has no arti backend: `cargo xtask bench --backend arti` builds it with the \
         feature `arti` (cargo run --release -p torp2p-bench --features arti -- --backend arti)"
            .into(),
    )
}

/// The multi-threaded runtime the benchmark runs on (two workers, as `cargo xtask e2e`).
fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

/// The workspace root: two levels above this crate's manifest directory (`crates/torp2p-bench`).
fn root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .and_then(Path::parent)
        .unwrap_or(manifest)
        .to_path_buf()
}

/// Cargo's target directory: `$CARGO_TARGET_DIR` (relative to the workspace root, as cargo
/// takes it) if set, else `target/` in the workspace root.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(|d| root().join(d))
        .unwrap_or_else(|| root().join("target"))
}

/// Runs a command in the workspace root, echoing it, and fails if it fails.
fn run(program: &str, args: &[&str]) -> Result<(), String> {
    eprintln!("torp2p-bench: running `{program} {}`", args.join(" "));
    let status = Command::new(program)
        .args(args)
        .current_dir(root())
        .status()
        .map_err(|e| format!("could not start `{program}`: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{program} {}` failed ({status})", args.join(" ")))
    }
}
