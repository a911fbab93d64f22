//! `cargo xtask`: the project's automation, one binary with subcommands.
//!
//! Run `cargo xtask help` for the list. It finds the workspace root itself, so it works from
//! any folder inside the checkout.

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

mod bench_smoke;
mod demo;
mod docs;
mod e2e;
mod faults;
mod leaks;
mod package;
mod packages;
mod ping_proc;
mod tornet;

const HELP: &str = "\
cargo xtask <command>

commands:
  demo [--backend tor|arti]
                  two peers ping each other over a private Tor network, each with a tor of its
                  own (default) or an embedded arti
  test            everything CI runs: fmt check, clippy (warnings are errors), all tests, package,
                  e2e (both backends), leaks, and a smoke run of the benchmarks (bench --quick)
  e2e [--runs N] [--backend tor|arti]
                  the end-to-end scenario on a private Tor network, with timings (arti: the
                  ping demo as processes with embedded artis)
  faults [--runs N] [--only TEST]
                  the recovery tests (tor killed, hung, offline, its control connection cut,
                  relays killed...) N times, or only the test files named (e.g. --only
                  recovery_offline); medians per scenario; fails unless every run recovers
  bench           torp2p against raw Tor on a private network, as ratios: runs the torp2p-bench
                  package optimized (--help for options; --unoptimized runs its debug build);
                  --backend arti: torp2p over embedded arti against raw Tor and C tor (builds
                  the bench with the feature arti); --delay-ms D: in a network namespace whose
                  loopback delays every packet by D ms (netem, or an NFQUEUE stand-in
                  where the kernel has no netem; needs root); --mesh N[,N...]: meshes of N
                  peers running gossipsub and Kademlia over onion services against the same
                  over TCP on loopback (target/bench/mesh.json); --scale: how cost grows with
                  onion services per tor and inbound connections per listener
                  (target/bench/scale.json); SVG plots beside the JSON
  sim             torp2p on a simulated Tor network of R relays and N peers with realistic
                  latencies (Shadow; needs `shadow` on PATH): runs the torp2p-sim package
                  optimized (--help for options: --relays R --peers N --seed S --churn F);
                  reports bootstrap, publication, first connection, round trips and failures
                  in simulated time, raw SOCKS against torp2p (target/sim/*/sim.json); --smoke:
                  the checked-in small configuration twice, its expected outcome and
                  determinism checked. Not part of `test`
  docs            build the book and the API docs into target/site, check links
  leaks           the ping demo and a clearnet dial through tor in a loopback-only network
                  namespace under strace: only the private network's ports and our own unix
                  sockets, no IP advertised, no secret key in trace logs; programs that leak
                  on purpose must be caught first. Needs root: without it, it fails
  package         every library crate is ready for crates.io: `cargo package` (verified,
                  no warnings), README and license files in each, `cargo doc` of each alone
  tornet          run a private Tor network in the foreground until Ctrl-C
  help    this text
";

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => test(),
        Some("demo") => packages::ensure_tor().and_then(|()| demo::demo(&args[1..])),
        Some("docs") => docs::docs(),
        Some("leaks") => leaks::leaks(&args[1..]),
        Some("e2e") => packages::ensure_tor().and_then(|()| e2e::e2e(&args[1..])),
        Some("faults") => packages::ensure_tor().and_then(|()| faults::faults(&args[1..])),
        Some("bench") => packages::ensure_tor().and_then(|()| bench(&args[1..])),
        Some("sim") => packages::ensure_tor().and_then(|()| sim(&args[1..])),
        Some("package") => package::package(&args[1..]),
        Some("tornet") => packages::ensure_tor().and_then(|()| tornet::tornet()),
        Some("help" | "--help" | "-h") | None => {
            print!("{HELP}");
            Ok(())
        }
        Some(other) => Err(format!("unknown command `{other}`\n\n{HELP}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root: the parent of this crate's manifest directory.
pub(crate) fn root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// Cargo's target directory: `$CARGO_TARGET_DIR` if set (relative to the workspace root, as
/// cargo takes it), else `target/` in the workspace root.
pub(crate) fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(|d| root().join(d))
        .unwrap_or_else(|| root().join("target"))
}

/// The async runtime the scenarios run on: two workers, as on a small CI machine.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

/// Runs `scenario` on a private Tor network started from `builder`, with xtask's errors as
/// text: [`torp2p_testnet::Builder::run`], so that on failure the network's directory is kept
/// and its path printed, and the network is always shut down.
pub(crate) async fn on_testnet<T>(
    builder: torp2p_testnet::Builder,
    scenario: impl AsyncFnOnce(&mut torp2p_testnet::TestNet) -> Result<T, String>,
) -> Result<T, String> {
    builder
        .run(async move |net| scenario(net).await.map_err(Failed))
        .await
        .map_err(|Failed(e)| e)
}

/// A scenario's error inside [`on_testnet`]; a network that did not start says so.
struct Failed(String);

impl From<torp2p_testnet::Error> for Failed {
    fn from(e: torp2p_testnet::Error) -> Self {
        Failed(format!("the network did not start: {e}"))
    }
}

/// The `[--runs N]` arguments of `command` (1 without them).
pub(crate) fn runs(args: &[String], command: &str) -> Result<usize, String> {
    match args {
        [] => Ok(1),
        [flag, n] if flag == "--runs" => n
            .parse::<usize>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("--runs takes a positive number, not `{n}`")),
        other => Err(format!(
            "{command}: unexpected arguments {other:?}; usage: cargo xtask {command} [--runs N]"
        )),
    }
}

/// Runs a command in the workspace root, echoing it, and fails if it fails. It does not
/// inherit the variables cargo set for xtask's own package ([`package_env`]).
pub(crate) fn run(program: &str, args: &[&str]) -> Result<(), String> {
    eprintln!("xtask: running `{program} {}`", args.join(" "));
    let mut command = Command::new(program);
    for name in package_env() {
        command.env_remove(name);
    }
    let status = command
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

/// `cargo xtask sim [options]`: `cargo run --release -p torp2p-sim -- run [options]`, from the
/// workspace root (so its default output is `target/sim/`). Optimized: Shadow's wall time is
/// mostly the simulated programs' CPU time.
fn sim(args: &[String]) -> Result<(), String> {
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut full = vec!["run", "--release", "--package", "torp2p-sim", "--", "run"];
    full.extend(args.iter().map(String::as_str));
    run(&cargo, &full)
}

/// `cargo xtask bench [options]`: `cargo run --release -p torp2p-bench -- [options]`. The
/// benchmarks are a package of their own (`crates/torp2p-bench`); they run optimized because
/// noise and yamux run in their process (in a debug build those, not tor, would be measured),
/// unless `--unoptimized` asks for the debug build. `--backend arti` builds them with the
/// feature `arti` (the embedded arti backend).
fn bench(args: &[String]) -> Result<(), String> {
    if wants_delay(args) {
        // The bench runs itself in a network namespace with a delayed loopback (its
        // `netns` module): install what it needs first, as the leak test does.
        for (program, package, why) in [
            (
                "unshare",
                "util-linux",
                "bench --delay-ms creates a network namespace with it",
            ),
            (
                "ip",
                "iproute2",
                "bench --delay-ms brings up loopback in its namespace with it",
            ),
            (
                "tc",
                "iproute2",
                "bench --delay-ms delays loopback with its netem qdisc",
            ),
            (
                "iptables",
                "iptables",
                "bench --delay-ms queues loopback's packets to NFQUEUE with it where the kernel has no netem",
            ),
        ] {
            packages::ensure(program, package, why)?;
        }
    }
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut full = vec!["run"];
    if !args.iter().any(|a| a == "--unoptimized") {
        full.push("--release");
    }
    full.extend(["--package", "torp2p-bench"]);
    if wants_arti(args) {
        full.extend(["--features", "arti"]);
    }
    full.push("--");
    full.extend(args.iter().map(String::as_str));
    run(&cargo, &full)
}

/// The variables `cargo run` set for xtask's package (`CARGO_MANIFEST_DIR`, `CARGO_PKG_*`,
/// ...): a cargo started from here must not see them. Build scripts that read them (ring's
/// reads `CARGO_MANIFEST_DIR` and `CARGO_PKG_*` with `rerun-if-env-changed`) would otherwise
/// run again whenever one switches between `cargo xtask ...` and plain cargo, and everything
/// above them (ring: rustls, noise, all of arti) be rebuilt.
fn package_env() -> Vec<std::ffi::OsString> {
    env::vars_os()
        .map(|(name, _)| name)
        .filter(|name| {
            name.to_str().is_some_and(|n| {
                n.starts_with("CARGO_PKG_")
                    || matches!(
                        n,
                        "CARGO_MANIFEST_DIR"
                            | "CARGO_MANIFEST_PATH"
                            | "CARGO_MANIFEST_LINKS"
                            | "CARGO_CRATE_NAME"
                            | "CARGO_BIN_NAME"
                            | "CARGO_PRIMARY_PACKAGE"
                    )
            })
        })
        .collect()
}

/// Whether the bench's arguments ask for `--backend arti` (the bench itself checks the rest).
fn wants_arti(args: &[String]) -> bool {
    args.iter().any(|a| a == "--backend=arti")
        || args
            .windows(2)
            .any(|w| w[0] == "--backend" && w[1] == "arti")
}

/// Whether the bench's arguments ask for a delay (`--delay-ms D` with D > 0; the bench itself
/// checks the value).
fn wants_delay(args: &[String]) -> bool {
    let delayed = |v: &str| v.parse::<u64>().map_or(true, |d| d > 0);
    args.iter()
        .any(|a| a.strip_prefix("--delay-ms=").is_some_and(delayed))
        || args
            .windows(2)
            .any(|w| w[0] == "--delay-ms" && delayed(&w[1]))
}

/// `cargo xtask test`: what CI runs.
fn test() -> Result<(), String> {
    packages::ensure_tor()?;
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    run(&cargo, &["fmt", "--all", "--", "--check"])?;
    run(
        &cargo,
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--all-features",
            "--locked",
            "--",
            "-D",
            "warnings",
        ],
    )?;
    tests(&cargo)?;
    ping_proc::build_like_the_tests();
    eprintln!("xtask: checking that the library crates can be published");
    package::package(&[])?;
    for backend in ping_proc::Backend::ALL {
        eprintln!(
            "xtask: running the end-to-end scenario on a private Tor network (backend {})",
            backend.name()
        );
        e2e::e2e(&["--backend".into(), backend.name().into()])?;
    }
    eprintln!("xtask: running the leak test");
    leaks::leaks(&[])?;
    eprintln!(
        "xtask: the benchmarks' smoke run (bench --quick: it must complete; no figure is asserted)"
    );
    bench_smoke::bench_smoke()?;
    eprintln!("xtask: all checks passed");
    Ok(())
}

/// Every test of the workspace with every feature. With cargo-nextest installed (CI's machines
/// have it) the test binaries run side by side (`.config/nextest.toml`), where `cargo test`
/// runs one binary after the other and most of them wait for tor; nextest does not run doc
/// tests, so `cargo test --doc` follows. Without it, `cargo test` runs the same tests.
fn tests(cargo: &str) -> Result<(), String> {
    let features = ["--workspace", "--all-features", "--locked"];
    let nextest = Command::new(cargo)
        .args(["nextest", "--version"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !nextest {
        eprintln!(
            "xtask: cargo-nextest not found (with it, `cargo install --locked cargo-nextest`, \
             the test binaries run side by side); running the tests with `cargo test`"
        );
        return run(cargo, &[&["test"][..], &features].concat());
    }
    run(cargo, &[&["nextest", "run"][..], &features].concat())?;
    run(cargo, &[&["test", "--doc"][..], &features].concat())
}

#[cfg(test)]
mod tests {
    use super::{wants_arti, wants_delay};

    #[test]
    fn a_delay_needs_the_namespace_tools() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(wants_delay(&args(&["--quick", "--delay-ms", "25"])));
        assert!(wants_delay(&args(&["--delay-ms=25"])));
        assert!(!wants_delay(&args(&["--delay-ms", "0"])));
        assert!(!wants_delay(&args(&["--delay-ms=0"])));
        assert!(!wants_delay(&args(&["--quick", "25"])));
        assert!(!wants_delay(&args(&[])));
        // A bad value goes on to the bench, which refuses it.
        assert!(wants_delay(&args(&["--delay-ms", "x"])));
    }

    #[test]
    fn backend_arti_turns_the_feature_on() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(wants_arti(&args(&["--quick", "--backend", "arti"])));
        assert!(wants_arti(&args(&["--backend=arti"])));
        assert!(!wants_arti(&args(&["--backend", "tor"])));
        assert!(!wants_arti(&args(&["--quick", "arti"])));
        assert!(!wants_arti(&args(&[])));
    }
}
