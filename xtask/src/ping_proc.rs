//! The demo programs as real processes, for `cargo xtask demo`, `e2e` and `leaks`: build
//! them, start a listener and wait for its address, run a dialer, each in a process group of
//! its own.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use torp2p_testnet::TestNet;

/// How long a listener may take to bootstrap and publish.
const LISTEN_TIMEOUT: Duration = Duration::from_secs(180);

/// Which Tor the `torp2p-ping` processes use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    /// C tor: each process starts a tor of its own (`--torrc-extra client.torrc`).
    Tor,
    /// An arti embedded in each process (`--backend arti --arti-config arti.toml`).
    Arti,
}

impl Backend {
    /// Both, in the order `cargo xtask test` runs them.
    pub(crate) const ALL: [Backend; 2] = [Backend::Tor, Backend::Arti];

    /// Its name on the command line (`--backend <name>`).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Backend::Tor => "tor",
            Backend::Arti => "arti",
        }
    }

    /// `tor` or `arti`.
    pub(crate) fn parse(text: &str, command: &str) -> Result<Self, String> {
        match text {
            "tor" => Ok(Backend::Tor),
            "arti" => Ok(Backend::Arti),
            other => Err(format!(
                "{command}: --backend takes `tor` or `arti`, not `{other}`"
            )),
        }
    }

    /// The flags with which a `torp2p-ping` process joins `net`: its own tor with the
    /// network's torrc lines, or an embedded arti with the network's `arti.toml` and a storage
    /// directory `arti-<role>` in the network's directory (arti locks it: one process at a
    /// time per role; kept with the network's logs).
    pub(crate) fn ping_args(self, net: &TestNet, role: &str) -> Result<Vec<OsString>, String> {
        Ok(match self {
            Backend::Tor => vec!["--torrc-extra".into(), write_torrc(net)?.into()],
            Backend::Arti => vec![
                "--backend".into(),
                "arti".into(),
                "--arti-config".into(),
                net.arti_toml_path().into(),
                "--arti-storage".into(),
                net.dir().join(format!("arti-{role}")).into(),
            ],
        })
    }
}

/// Builds `torp2p-ping` (with its feature `arti` for the arti backend) and returns its path.
pub(crate) fn build_ping(backend: Backend) -> Result<PathBuf, String> {
    let mut what = vec!["--package", "torp2p-ping", "--bin", "torp2p-ping"];
    if backend == Backend::Arti {
        what.extend(["--features", "arti"]);
    }
    build(&what, Path::new("torp2p-ping"))
}

/// Builds the binary `name` of the package of the same name and returns its path.
pub(crate) fn build_bin(name: &str) -> Result<PathBuf, String> {
    build(&["--package", name, "--bin", name], Path::new(name))
}

/// Builds cargo example `example` of `package` (`cargo build --package <package> --example
/// <example>`, debug profile) and returns its path, `target/debug/examples/<example>`.
pub(crate) fn build_example(package: &str, example: &str) -> Result<PathBuf, String> {
    build(
        &["--package", package, "--example", example],
        &Path::new("examples").join(example),
    )
}

/// Whether the binaries are built as the tests' build made them (see [`build_like_the_tests`]).
static LIKE_THE_TESTS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// From now on, [`build_ping`] and [`build_example`] build the workspace's targets with every
/// feature, as `cargo xtask test` built them for the tests, instead of one package with
/// its own features: after the tests that is nearly free, where `--package torp2p-ping
/// [--features arti]` resolves other features (no dev-dependencies, another feature set of
/// tokio and of the transport) and builds the transport, and arti, again.
pub(crate) fn build_like_the_tests() {
    LIKE_THE_TESTS.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// `cargo build --quiet <what>` (or, after [`build_like_the_tests`], the tests' build, once),
/// then the path of the artifact at `debug/<artifact>` in the target directory.
fn build(what: &[&str], artifact: &Path) -> Result<PathBuf, String> {
    static UNIFIED: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // What `cargo test` (and nextest) build: libraries, binaries, tests and examples, not the
    // benchmarks; and not xtask itself: it runs, and `leaks` starts its own binary again in a
    // network namespace, which must still be there (a CI dry run failed with "failed to
    // execute .../target/debug/xtask (deleted)" when this build had replaced it).
    let unified = [
        "build",
        "--quiet",
        "--workspace",
        "--exclude",
        "xtask",
        "--all-features",
        "--lib",
        "--bins",
        "--tests",
        "--examples",
        "--locked",
    ];
    let args: Vec<&str> = if LIKE_THE_TESTS.load(std::sync::atomic::Ordering::Relaxed) {
        UNIFIED
            .get_or_init(|| crate::run(&cargo, &unified))
            .clone()?;
        unified.to_vec()
    } else {
        let args: Vec<&str> = ["build", "--quiet"].iter().chain(what).copied().collect();
        crate::run(&cargo, &args)?;
        args
    };
    let path = crate::target_dir().join("debug").join(artifact);
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "`cargo {}` succeeded but {} is missing",
            args.join(" "),
            path.display()
        ))
    }
}

/// Writes the network's client torrc lines where `--torrc-extra` can read them.
pub(crate) fn write_torrc(net: &TestNet) -> Result<PathBuf, String> {
    let path = net.dir().join("client.torrc");
    std::fs::write(&path, net.client_torrc().join("\n") + "\n")
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

/// A child started in a process group of its own (the group's id is the child's PID), so
/// that whatever it starts (the program under strace, the tor it spawns) is stopped with it,
/// on every path: [`Group::stop`], a timeout, an error, a panic (drop).
pub(crate) struct Group {
    child: Child,
    pid: Option<u32>,
    /// Set once the child exited by itself: its group is then gone too.
    done: bool,
}

impl Group {
    /// Spawns `cmd` as the leader of a new process group.
    pub(crate) fn spawn(cmd: &mut Command) -> std::io::Result<Self> {
        let child = cmd.process_group(0).kill_on_drop(true).spawn()?;
        let pid = child.id();
        Ok(Self {
            child,
            pid,
            done: false,
        })
    }

    /// The leader.
    pub(crate) fn child(&mut self) -> &mut Child {
        &mut self.child
    }

    /// Waits for the leader to exit, at most `limit`, with its output if it was piped.
    pub(crate) async fn output_within(
        mut self,
        limit: Duration,
    ) -> Result<std::process::Output, String> {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let mut stdout = self.child.stdout.take();
        let mut stderr = self.child.stderr.take();
        let run = async {
            use tokio::io::AsyncReadExt;
            let read_out = async {
                if let Some(s) = stdout.as_mut() {
                    let _ = s.read_to_end(&mut out).await;
                }
            };
            let read_err = async {
                if let Some(s) = stderr.as_mut() {
                    let _ = s.read_to_end(&mut err).await;
                }
            };
            let ((), (), status) = tokio::join!(read_out, read_err, self.child.wait());
            status
        };
        let status = tokio::time::timeout(limit, run)
            .await
            .map_err(|_| format!("did not finish within {limit:?}"))?
            .map_err(|e| format!("cannot wait for the process: {e}"))?;
        self.done = true;
        Ok(std::process::Output {
            status,
            stdout: out,
            stderr: err,
        })
    }

    /// Kills the whole group (SIGKILL, by the group's id) and reaps the leader.
    pub(crate) async fn stop(mut self) {
        self.kill_group();
        let _ = self.child.wait().await;
        self.done = true;
    }

    fn kill_group(&self) {
        if let Some(pid) = self.pid {
            let _ = std::process::Command::new("kill")
                .args(["-9", "--", &format!("-{pid}")])
                .stderr(Stdio::null())
                .status();
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        if !self.done {
            self.kill_group();
        }
    }
}

/// A running `torp2p-ping listen`.
pub(crate) struct Listener {
    group: Group,
    /// Its `/onion3/.../p2p/...` address.
    pub(crate) addr: String,
    /// Where its stderr goes.
    pub(crate) log: PathBuf,
    /// How long it took to print its address.
    pub(crate) ready_after: Duration,
}

impl Listener {
    /// Starts a `torp2p-ping` listener, joined to the network with `net_args` (see
    /// [`Backend::ping_args`]), and waits for its address (printed once the service is
    /// published).
    pub(crate) async fn start(
        bin: &Path,
        net_args: &[OsString],
        key_file: &Path,
        log: PathBuf,
    ) -> Result<Self, String> {
        let mut cmd = Command::new(bin);
        cmd.args(net_args)
            .arg("listen")
            .arg("--key-file")
            .arg(key_file);
        Self::start_command(cmd, log).await
    }

    /// Starts any program that prints its `/onion3/...` address on stdout once reachable.
    pub(crate) async fn start_command(mut cmd: Command, log: PathBuf) -> Result<Self, String> {
        let log_file = std::fs::File::create(&log)
            .map_err(|e| format!("cannot create {}: {e}", log.display()))?;
        let started = Instant::now();
        let program = format!("{:?}", cmd.as_std().get_program());
        let mut group = Group::spawn(
            cmd.stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::from(log_file)),
        )
        .map_err(|e| format!("cannot start {program}: {e}"))?;
        let stdout = group.child().stdout.take().ok_or("no stdout pipe")?;
        let mut lines = BufReader::new(stdout).lines();
        let addr = tokio::time::timeout(LISTEN_TIMEOUT, async {
            while let Ok(Some(line)) = lines.next_line().await {
                if line.starts_with("/onion3/") {
                    return Some(line);
                }
            }
            None
        })
        .await;
        let addr = match addr {
            Ok(Some(a)) => a,
            Ok(None) => {
                return Err(format!(
                    "the listener exited without an address; its log:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                ));
            }
            Err(_) => {
                return Err(format!(
                    "the listener printed no address within {LISTEN_TIMEOUT:?}; its log: {}",
                    log.display()
                ));
            }
        };
        // Keep draining stdout so the listener never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Self {
            group,
            addr,
            log,
            ready_after: started.elapsed(),
        })
    }

    /// Stops the listener and everything it started (SIGKILL to its process group) and reaps
    /// it.
    pub(crate) async fn stop(self) {
        self.group.stop().await;
    }
}

/// What a `torp2p-ping dial` printed.
pub(crate) struct DialOutcome {
    pub(crate) status: ExitStatus,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
    pub(crate) elapsed: Duration,
}

/// Runs `torp2p-ping <net_args> dial <addr> --count <count>`, capturing or showing its output.
pub(crate) async fn dial(
    bin: &Path,
    net_args: &[OsString],
    addr: &str,
    count: u32,
    show: bool,
) -> Result<DialOutcome, String> {
    let started = Instant::now();
    let mut cmd = Command::new(bin);
    cmd.args(net_args)
        .args([
            "dial",
            addr,
            "--count",
            &count.to_string(),
            "--timeout",
            "120",
        ])
        .stdin(Stdio::null());
    let limit = Duration::from_secs(300);
    let cannot = |e| format!("cannot run {}: {e}", bin.display());
    if !show {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    }
    let out = Group::spawn(&mut cmd)
        .map_err(cannot)?
        .output_within(limit)
        .await
        .map_err(|e| format!("the dialer {e}"))?;
    Ok(DialOutcome {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed: started.elapsed(),
    })
}
