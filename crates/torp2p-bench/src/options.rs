//! The command line: what to run, and how many samples of each.

use clap::{CommandFactory as _, Parser, ValueEnum};
use torp2p_socks::Isolation;

use crate::local::Local;

/// The command line as clap reads it; [`Opts`] is what the benchmark uses.
#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask bench",
    override_usage = "cargo xtask bench [options]",
    about = "torp2p against raw Tor on a private Tor network, as ratios",
    disable_version_flag = true
)]
struct Cli {
    /// the tor under torp2p: tor (C tor, the default) or arti (the embedded arti backend,
    /// against raw Tor and against torp2p over C tor in the same run; writes
    /// latest-arti.json)
    #[arg(long, value_enum, value_name = "BACKEND")]
    backend: Option<Backend>,
    /// circuits the round trips, setups and transfers are spread over (--backend arti only),
    /// default 6
    #[arg(long, value_name = "N", value_parser = positive)]
    circuits: Option<usize>,
    /// round-trip pairs (raw echo / libp2p ping), default 40
    #[arg(long, value_name = "N", value_parser = positive)]
    samples: Option<usize>,
    /// connection setups per variant on new circuits, default 8 (and 2N on warm ones)
    #[arg(long, value_name = "N", value_parser = positive)]
    setup: Option<usize>,
    /// transfers per side, default 4 (--backend arti: 6)
    #[arg(long, value_name = "N", value_parser = positive)]
    throughput: Option<usize>,
    /// MiB per transfer, default 20 (--backend arti: 10)
    #[arg(long, value_name = "N", value_parser = positive)]
    mib: Option<usize>,
    /// listener readiness pairs, default 5
    #[arg(long, value_name = "N", value_parser = positive)]
    listen: Option<usize>,
    /// first connections to a fresh onion service per side (descriptor fetch, introduction,
    /// rendezvous), default 5
    #[arg(long, value_name = "N", value_parser = positive)]
    first: Option<usize>,
    /// concurrent dials to one listener, default 100
    #[arg(long, value_name = "N", value_parser = positive)]
    dials: Option<usize>,
    /// circuits of the concurrent dials, default per-connection (one each)
    #[arg(long, value_enum, value_name = "ISOLATION")]
    dial_isolation: Option<DialIsolation>,
    /// run the network and the bench in a new network namespace whose loopback delays every
    /// packet by D ms (netem; needs root, unshare and tc); smaller default counts. 25 gives
    /// circuit round trips like the live network's. Default 0: no namespace, no delay
    #[arg(long, value_name = "D", value_parser = delay)]
    delay_ms: Option<u32>,
    /// instead of the phases: meshes of N peers (one client tor per 5) running gossipsub and
    /// Kademlia over onion services, against the same over TCP on 127.0.0.1; writes mesh.json.
    /// Default sizes 5,10,20 (--quick: 3,5)
    #[arg(long, value_name = "N[,N...]", num_args = 0..=1, value_delimiter = ',', value_parser = mesh_size)]
    mesh: Option<Vec<usize>>,
    /// gossipsub messages per mesh (--mesh only), each published by a peer drawn at random,
    /// default 20 (--quick: 5)
    #[arg(long, value_name = "M", value_parser = positive)]
    messages: Option<usize>,
    /// meshes per size and transport (--mesh only), TCP and onion services in turn; the
    /// figures are medians over them, default 3 (--quick: 1)
    #[arg(long, value_name = "R", value_parser = positive)]
    rounds: Option<usize>,
    /// internal: this process was started inside the namespace of --delay-ms
    #[arg(long, hide = true)]
    in_namespace: bool,
    /// skip the codec micro-benchmarks (--backend arti never runs them)
    #[arg(long)]
    no_criterion: bool,
    /// print each connection setup's reads and writes (ms after the SOCKS reply)
    #[arg(long)]
    trace: bool,
    /// small counts everywhere (a smoke run; figures are rough); explicit counts still win
    #[arg(long)]
    quick: bool,
    /// run in this (debug) build instead of re-running with --release
    #[arg(long)]
    unoptimized: bool,
    /// no unix socket paths for the bench's tors: the client tors' control and SOCKS ports and
    /// every onion service's target on TCP 127.0.0.1 (for the Shadow simulator)
    #[arg(long)]
    local_tcp: bool,
    /// instead of the usual phases, measure how cost grows (onion services on one tor,
    /// inbound connections to one listener) against raw Tor; writes scale.json
    #[arg(long, conflicts_with = "mesh")]
    scale: bool,
    /// --scale: the counts of onion services, default 10,50,100 (--quick: 5,10)
    #[arg(long, value_name = "N,N,...", value_parser = positive, value_delimiter = ',', requires = "scale")]
    scale_services: Option<Vec<usize>>,
    /// --scale: the totals of inbound connections, in steps, default 100,500,1000 (--quick:
    /// 20,50)
    #[arg(long, value_name = "N,N,...", value_parser = positive, value_delimiter = ',', requires = "scale")]
    scale_inbound: Option<Vec<usize>>,
    /// --scale: the client tors the inbound connections come from, default 4 (--quick: 2)
    #[arg(long, value_name = "N", value_parser = positive, requires = "scale")]
    scale_dialers: Option<usize>,
}

/// `--backend`: the tor under torp2p.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Backend {
    // C tor (a tor process per peer, dialled through its SOCKS port).
    Tor,
    // The embedded arti client, beside C tor.
    Arti,
}

/// `--dial-isolation`: the circuits of the concurrent dials.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum DialIsolation {
    // Plain comments: doc comments here would turn clap's help into its long layout.
    // One circuit for all of them.
    Shared,
    // One circuit per peer.
    PerPeer,
    // Circuits of its own for each dial.
    PerConnection,
}

impl From<DialIsolation> for Isolation {
    fn from(i: DialIsolation) -> Self {
        match i {
            DialIsolation::Shared => Isolation::Shared,
            DialIsolation::PerPeer => Isolation::PerPeer,
            DialIsolation::PerConnection => Isolation::PerConnection,
        }
    }
}

/// A count: a positive number.
fn positive(v: &str) -> Result<usize, String> {
    v.parse::<usize>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("takes a positive number, not `{v}`"))
}

/// The largest mesh `--mesh` takes: a hundred peers (twenty client tors) is already far
/// beyond what 2 cores measure faithfully.
pub(crate) const MAX_MESH: usize = 100;

/// A mesh size: 2 (a publisher and a receiver) up to [`MAX_MESH`].
fn mesh_size(v: &str) -> Result<usize, String> {
    v.parse::<usize>()
        .ok()
        .filter(|n| (2..=MAX_MESH).contains(n))
        .ok_or_else(|| format!("takes mesh sizes from 2 to {MAX_MESH}, not `{v}`"))
}

/// The longest `--delay-ms`: one second per packet is already far beyond any real network.
pub(crate) const MAX_DELAY_MS: u32 = 1000;

/// A delay in milliseconds: 0 up to [`MAX_DELAY_MS`].
fn delay(v: &str) -> Result<u32, String> {
    v.parse::<u32>()
        .ok()
        .filter(|d| *d <= MAX_DELAY_MS)
        .ok_or_else(|| format!("takes milliseconds from 0 to {MAX_DELAY_MS}, not `{v}`"))
}

/// What to run, from the command line.
#[derive(Debug, Clone)]
pub(crate) struct Opts {
    pub(crate) backend: Backend,
    /// Listeners per backend, each reached on circuits of its own (`--backend arti`; read
    /// only in a build with the feature `arti`).
    #[cfg_attr(not(feature = "arti"), allow(dead_code))]
    pub(crate) circuits: usize,
    pub(crate) samples: usize,
    pub(crate) setup: usize,
    pub(crate) throughput: usize,
    pub(crate) mib: usize,
    pub(crate) listen: usize,
    /// First connections to a fresh onion service, per side.
    pub(crate) first: usize,
    pub(crate) dials: usize,
    pub(crate) dial_isolation: Isolation,
    pub(crate) criterion: bool,
    pub(crate) trace: bool,
    pub(crate) quick: bool,
    pub(crate) unoptimized: bool,
    /// `--delay-ms`: the delay netem adds to every packet on loopback (0: none, no namespace).
    pub(crate) delay_ms: u32,
    /// Whether this process runs inside the namespace `--delay-ms` made.
    pub(crate) in_namespace: bool,
    /// `--local-tcp`: TCP on 127.0.0.1 instead of unix sockets ([`Opts::local`]).
    pub(crate) local_tcp: bool,
    /// `--scale`: how cost grows, instead of the usual phases.
    pub(crate) scale: bool,
    /// `--scale`: the counts of onion services on one tor, ascending.
    pub(crate) scale_services: Vec<usize>,
    /// `--scale`: the totals of inbound connections after each step, ascending.
    pub(crate) scale_inbound: Vec<usize>,
    /// `--scale`: the client tors the inbound connections come from.
    pub(crate) scale_dialers: usize,
    /// `--mesh`: the mesh sizes to run instead of the phases (`None`: the phases).
    pub(crate) mesh: Option<Vec<usize>>,
    /// Gossipsub messages per mesh.
    pub(crate) messages: usize,
    /// Meshes per size and transport.
    pub(crate) rounds: usize,
}

impl Opts {
    /// How the client tors and onion services reach this process (`--local-tcp`).
    pub(crate) fn local(&self) -> Local {
        if self.local_tcp {
            Local::Tcp
        } else {
            Local::Unix
        }
    }

    /// Reads the arguments (without the program name). `--help` comes back as an error too,
    /// the kind clap prints to stdout and exits 0 for.
    pub(crate) fn parse(args: &[String]) -> Result<Self, clap::Error> {
        let cli = Cli::try_parse_from(
            std::iter::once("cargo xtask bench".to_string()).chain(args.iter().cloned()),
        )?;
        let backend = cli.backend.unwrap_or(Backend::Tor);
        if cli.circuits.is_some() && backend != Backend::Arti {
            return Err(Cli::command().error(
                clap::error::ErrorKind::ArgumentConflict,
                "--circuits is for --backend arti",
            ));
        }
        let delay_ms = cli.delay_ms.unwrap_or(0);
        if cli.mesh.is_some() && backend == Backend::Arti {
            return Err(Cli::command().error(
                clap::error::ErrorKind::ArgumentConflict,
                "--mesh is for --backend tor",
            ));
        }
        if (cli.messages.is_some() || cli.rounds.is_some()) && cli.mesh.is_none() {
            return Err(Cli::command().error(
                clap::error::ErrorKind::ArgumentConflict,
                "--messages and --rounds are for --mesh",
            ));
        }
        if delay_ms > 0 && backend == Backend::Arti {
            return Err(Cli::command().error(
                clap::error::ErrorKind::ArgumentConflict,
                "--delay-ms is for --backend tor",
            ));
        }
        let arti = backend == Backend::Arti;
        // The defaults, and `--quick`'s small counts. With arti, the transfers are spread
        // over the circuits (and a third side is measured): more and smaller. With a delay,
        // every exchange takes hundreds of milliseconds and a transfer runs at a fraction of
        // the undelayed rate: fewer samples, smaller transfers (a `--delay-ms 25` run in about
        // a quarter of an hour).
        let (samples, setup, throughput, mib, listen, dials, circuits) =
            match (cli.quick, arti, delay_ms > 0) {
                (true, false, false) => (10, 3, 2, 4, 2, 20, 1),
                (false, false, false) => (40, 8, 4, 20, 5, 100, 1),
                (true, false, true) => (10, 3, 2, 2, 2, 20, 1),
                (false, false, true) => (20, 5, 3, 4, 3, 50, 1),
                (true, true, _) => (10, 3, 2, 4, 2, 20, 2),
                (false, true, _) => (40, 8, 6, 10, 5, 100, 6),
            };
        let first = match (cli.quick, delay_ms > 0) {
            (true, _) => 2,
            (false, false) => 5,
            (false, true) => 4,
        };
        if cli.scale && arti {
            return Err(Cli::command().error(
                clap::error::ErrorKind::ArgumentConflict,
                "--scale is for --backend tor",
            ));
        }
        let ascending = |v: Option<Vec<usize>>, default: &[usize], quick: &[usize]| {
            let mut v = v.unwrap_or_else(|| if cli.quick { quick } else { default }.to_vec());
            v.sort_unstable();
            v.dedup();
            v
        };
        let scale_services = ascending(cli.scale_services, &[10, 50, 100], &[5, 10]);
        let scale_inbound = ascending(cli.scale_inbound, &[100, 500, 1000], &[20, 50]);
        // `--mesh` alone: the default sizes.
        let mesh = cli.mesh.map(|sizes| match (sizes.is_empty(), cli.quick) {
            (false, _) => sizes,
            (true, false) => vec![5, 10, 20],
            (true, true) => vec![3, 5],
        });
        let mesh_run = mesh.is_some();
        Ok(Opts {
            scale: cli.scale,
            scale_services,
            scale_inbound,
            scale_dialers: cli.scale_dialers.unwrap_or(if cli.quick { 2 } else { 4 }),
            backend,
            circuits: cli.circuits.unwrap_or(circuits),
            samples: cli.samples.unwrap_or(samples),
            setup: cli.setup.unwrap_or(setup),
            throughput: cli.throughput.unwrap_or(throughput),
            mib: cli.mib.unwrap_or(mib),
            listen: cli.listen.unwrap_or(listen),
            first: cli.first.unwrap_or(first),
            dials: cli.dials.unwrap_or(dials),
            dial_isolation: cli
                .dial_isolation
                .map_or(Isolation::PerConnection, Isolation::from),
            criterion: !cli.no_criterion && !arti && !mesh_run,
            trace: cli.trace,
            quick: cli.quick,
            unoptimized: cli.unoptimized,
            delay_ms,
            in_namespace: cli.in_namespace,
            local_tcp: cli.local_tcp,
            mesh,
            messages: cli.messages.unwrap_or(if cli.quick { 5 } else { 20 }),
            rounds: cli.rounds.unwrap_or(if cli.quick { 1 } else { 3 }),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn scale_options() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let o = Opts::parse(&args(&["--scale"])).unwrap();
        assert!(o.scale);
        assert_eq!(o.scale_services, vec![10, 50, 100]);
        assert_eq!(o.scale_inbound, vec![100, 500, 1000]);
        assert_eq!(o.scale_dialers, 4);
        let o = Opts::parse(&args(&["--scale", "--quick"])).unwrap();
        assert_eq!(
            (o.scale_services, o.scale_inbound),
            (vec![5, 10], vec![20, 50])
        );
        assert_eq!(o.scale_dialers, 2);
        let o = Opts::parse(&args(&["--scale", "--scale-inbound", "300,100,300"])).unwrap();
        assert_eq!(o.scale_inbound, vec![100, 300], "ascending, each once");
        assert!(!Opts::parse(&args(&[])).unwrap().scale);
        // The counts need --scale, are positive numbers, and --scale is C tor's.
        assert!(Opts::parse(&args(&["--scale-services", "10"])).is_err());
        assert!(Opts::parse(&args(&["--scale", "--scale-services", "0"])).is_err());
        assert!(Opts::parse(&args(&["--scale", "--scale-dialers", "x"])).is_err());
        assert!(Opts::parse(&args(&["--scale", "--backend", "arti"])).is_err());
        assert!(Opts::parse(&args(&["--scale", "--mesh", "5"])).is_err());
    }

    #[test]
    fn options_parse() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let o = Opts::parse(&args(&["--quick", "--samples", "7", "--no-criterion"])).unwrap();
        assert_eq!((o.samples, o.setup, o.dials), (7, 3, 20));
        assert!(!o.criterion && o.quick);
        let o = Opts::parse(&args(&[])).unwrap();
        assert_eq!((o.samples, o.setup, o.throughput, o.mib), (40, 8, 4, 20));
        assert_eq!((o.listen, o.dials), (5, 100));
        assert_eq!(o.dial_isolation, Isolation::PerConnection);
        assert!(o.criterion && !o.quick && !o.trace && !o.unoptimized);
        assert_eq!(
            Opts::parse(&args(&["--dial-isolation", "shared"]))
                .unwrap()
                .dial_isolation,
            Isolation::Shared
        );
        assert_eq!(
            Opts::parse(&args(&["--dial-isolation", "per-peer"]))
                .unwrap()
                .dial_isolation,
            Isolation::PerPeer
        );
        assert!(Opts::parse(&args(&["--dial-isolation", "nobody"])).is_err());
        assert_eq!(o.backend, Backend::Tor);
        let a = Opts::parse(&args(&["--backend", "arti"])).unwrap();
        assert_eq!(a.backend, Backend::Arti);
        assert_eq!((a.circuits, a.throughput, a.mib, a.samples), (6, 6, 10, 40));
        assert!(!a.criterion);
        let a = Opts::parse(&args(&[
            "--backend",
            "arti",
            "--circuits",
            "5",
            "--mib",
            "2",
        ]))
        .unwrap();
        assert_eq!((a.circuits, a.mib), (5, 2));
        assert!(Opts::parse(&args(&["--circuits", "2"])).is_err());
        assert!(Opts::parse(&args(&["--backend", "i2p"])).is_err());
        assert!(Opts::parse(&args(&["--samples", "0"])).is_err());
        assert!(Opts::parse(&args(&["--samples"])).is_err());
        assert!(Opts::parse(&args(&["--frobnicate"])).is_err());
    }

    #[test]
    fn delay_and_first_connections() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let o = Opts::parse(&args(&[])).unwrap();
        assert_eq!((o.delay_ms, o.first), (0, 5));
        assert!(!o.in_namespace);
        // A delay scales the default counts down; explicit counts still win.
        let d = Opts::parse(&args(&["--delay-ms", "25"])).unwrap();
        assert_eq!(d.delay_ms, 25);
        assert_eq!((d.samples, d.setup, d.throughput, d.mib), (20, 5, 3, 4));
        assert_eq!((d.listen, d.first, d.dials), (3, 4, 50));
        let d = Opts::parse(&args(&[
            "--quick",
            "--delay-ms=25",
            "--mib",
            "8",
            "--first",
            "3",
        ]))
        .unwrap();
        assert_eq!((d.samples, d.mib, d.first, d.dials), (10, 8, 3, 20));
        // 0 is today's run: the undelayed counts.
        let z = Opts::parse(&args(&["--delay-ms", "0"])).unwrap();
        assert_eq!((z.delay_ms, z.samples, z.mib), (0, 40, 20));
        assert_eq!(Opts::parse(&args(&["--quick"])).unwrap().first, 2);
        assert!(Opts::parse(&args(&["--delay-ms", "-1"])).is_err());
        assert!(Opts::parse(&args(&["--delay-ms", "1001"])).is_err());
        assert!(Opts::parse(&args(&["--delay-ms", "25ms"])).is_err());
        assert!(Opts::parse(&args(&["--first", "0"])).is_err());
        assert!(Opts::parse(&args(&["--backend", "arti", "--delay-ms", "25"])).is_err());
        assert!(
            Opts::parse(&args(&["--delay-ms", "25", "--in-namespace"]))
                .unwrap()
                .in_namespace
        );
    }

    #[test]
    fn local_tcp() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let o = Opts::parse(&args(&[])).unwrap();
        assert!(!o.local_tcp);
        assert_eq!(o.local(), Local::Unix);
        let o = Opts::parse(&args(&["--quick", "--local-tcp", "--no-criterion"])).unwrap();
        assert!(o.local_tcp && o.quick);
        assert_eq!(o.local(), Local::Tcp);
        // With the other runs too: it only changes how the tors are reached.
        for other in [&["--scale"][..], &["--mesh", "5"], &["--delay-ms", "25"]] {
            let mut a = args(other);
            a.push("--local-tcp".into());
            assert_eq!(Opts::parse(&a).unwrap().local(), Local::Tcp, "{other:?}");
        }
        assert!(Opts::parse(&args(&["--local-tcp=yes"])).is_err());
    }

    #[test]
    fn mesh_sizes() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let o = Opts::parse(&args(&[])).unwrap();
        assert_eq!(o.mesh, None);
        // `--mesh` alone: the default sizes, `--quick`'s smaller ones; no criterion then.
        let m = Opts::parse(&args(&["--mesh"])).unwrap();
        assert_eq!(
            (m.mesh, m.messages, m.criterion),
            (Some(vec![5, 10, 20]), 20, false)
        );
        let m = Opts::parse(&args(&["--mesh", "--quick"])).unwrap();
        assert_eq!((m.mesh, m.messages), (Some(vec![3, 5]), 5));
        let m = Opts::parse(&args(&["--quick", "--mesh"])).unwrap();
        assert_eq!(m.mesh, Some(vec![3, 5]));
        // Explicit sizes win, with `--quick` too, and `--delay-ms` goes with them.
        let m = Opts::parse(&args(&[
            "--mesh",
            "5,10",
            "--unoptimized",
            "--no-criterion",
        ]))
        .unwrap();
        assert_eq!(m.mesh, Some(vec![5, 10]));
        assert!(m.unoptimized);
        let m = Opts::parse(&args(&["--mesh=7", "--quick", "--messages", "3"])).unwrap();
        assert_eq!((m.mesh, m.messages), (Some(vec![7]), 3));
        let m = Opts::parse(&args(&["--mesh", "5,10,20", "--delay-ms", "25"])).unwrap();
        assert_eq!((m.mesh, m.delay_ms), (Some(vec![5, 10, 20]), 25));
        assert!(Opts::parse(&args(&["--mesh", "1"])).is_err());
        assert!(Opts::parse(&args(&["--mesh", "5,0"])).is_err());
        assert!(Opts::parse(&args(&["--mesh", "101"])).is_err());
        assert!(Opts::parse(&args(&["--mesh", "five"])).is_err());
        assert!(Opts::parse(&args(&["--mesh", "5", "--messages", "0"])).is_err());
        assert!(Opts::parse(&args(&["--messages", "5"])).is_err());
        assert!(Opts::parse(&args(&["--rounds", "2"])).is_err());
        assert_eq!(
            Opts::parse(&args(&["--mesh", "--rounds", "2"]))
                .unwrap()
                .rounds,
            2
        );
        assert!(Opts::parse(&args(&["--mesh", "--rounds", "0"])).is_err());
        assert!(Opts::parse(&args(&["--mesh", "--backend", "arti"])).is_err());
    }

    #[test]
    fn help_is_an_exit_0_error() {
        let e = Opts::parse(&["--help".to_string()]).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::DisplayHelp);
        let help = e.to_string();
        for flag in [
            "--backend",
            "--circuits",
            "--samples",
            "--setup",
            "--throughput",
            "--mib",
            "--listen",
            "--first",
            "--delay-ms",
            "--dials",
            "--dial-isolation",
            "--no-criterion",
            "--trace",
            "--quick",
            "--unoptimized",
            "--mesh",
            "--messages",
            "--rounds",
            "--local-tcp",
        ] {
            assert!(help.contains(flag), "{flag} missing from the help");
        }
        assert!(
            !help.contains("--in-namespace"),
            "an internal flag in the help"
        );
    }

    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
