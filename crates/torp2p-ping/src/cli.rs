//! Command-line arguments, and every check that needs no I/O: a wrong command line is refused
//! by the parser (exit code 2, with the flag named) before tor starts.

use std::ffi::OsString;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use clap::error::ErrorKind;
use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use libp2p_core::Multiaddr;
use torp2p_addr::DialAddr;
use torp2p_daemon::LocalAddr;

/// The shortest duration any flag takes, in seconds: 1 ms.
const MIN_SECS: f64 = 0.001;
/// The longest ping interval, in seconds: a day.
const MAX_INTERVAL_SECS: f64 = 86_400.0;
/// The longest timeout, in seconds: 365 days (any longer is "never").
const MAX_TIMEOUT_SECS: f64 = 31_536_000.0;

/// The flags for C tor only (the ids clap gives them): refused with `--backend arti`.
const C_TOR_FLAGS: [&str; 5] = [
    "tor_bin",
    "tor_control",
    "tor_control_password",
    "torrc_extra",
    "local_tcp",
];
/// The flags for arti only: refused without `--backend arti`.
const ARTI_FLAGS: [&str; 2] = ["arti_config", "arti_storage"];
/// How to get a torp2p-ping that has the arti backend.
pub(crate) const BUILD_WITH_ARTI: &str = "cargo build -p torp2p-ping --features arti";

/// libp2p ping between onion services, over Tor.
#[derive(Debug, Parser)]
#[command(name = "torp2p-ping", version, about)]
pub(crate) struct Cli {
    /// More logs (-v: debug for torp2p, -vv: trace). RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub(crate) verbose: u8,

    /// Which Tor: `tor`, a tor process (one we start, or a running one with --tor-control);
    /// `arti`, an arti client embedded in this process (no tor binary; only in a torp2p-ping
    /// built with `cargo build -p torp2p-ping --features arti`). C tor's flags (--tor-*,
    /// --torrc-extra, --local-tcp) are for `tor` only, --arti-* for `arti` only. arti cannot do client
    /// authorization (--authorized-client, --client-auth).
    #[arg(long, global = true, value_enum, default_value_t = Backend::Tor)]
    pub(crate) backend: Backend,

    /// With --backend arti: arti's configuration file (arti's TOML format), e.g. the
    /// `arti.toml` that `cargo xtask tornet` writes, to join a private network. Without it,
    /// arti joins the public Tor network.
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        conflicts_with_all = ["tor_bin", "tor_control", "torrc_extra"]
    )]
    pub(crate) arti_config: Option<PathBuf>,

    /// With --backend arti: where arti keeps its state (guards, the onion service keys it
    /// stores, locks) and its directory cache, in DIR/state and DIR/cache. One arti at a time
    /// per DIR. Default: a fresh private temporary directory, removed at exit; then arti's
    /// guards and a listener's keys do not persist (only --key-file keeps a listener's address).
    #[arg(
        long,
        global = true,
        value_name = "DIR",
        conflicts_with_all = ["tor_bin", "tor_control", "torrc_extra"]
    )]
    pub(crate) arti_storage: Option<PathBuf>,

    /// The tor binary to run (default: $TOR_BIN, or `tor` on PATH).
    #[arg(long, global = true, value_name = "PATH")]
    pub(crate) tor_bin: Option<PathBuf>,

    /// Use a running tor through its control port (`127.0.0.1:9051` or a unix socket path)
    /// instead of starting one.
    #[arg(
        long,
        global = true,
        value_name = "ADDR|PATH",
        value_parser = tor_control,
        conflicts_with_all = ["tor_bin", "torrc_extra"]
    )]
    pub(crate) tor_control: Option<LocalAddr>,

    /// Control port password, with --tor-control, if that tor uses HashedControlPassword.
    #[arg(
        long,
        global = true,
        env = "TORP2P_CONTROL_PASSWORD",
        hide_env_values = true
    )]
    pub(crate) tor_control_password: Option<String>,

    /// Extra torrc lines for the tor we start, one per line (e.g. to join a private network).
    #[arg(long, global = true, value_name = "FILE")]
    pub(crate) torrc_extra: Option<PathBuf>,

    /// Unix socket paths nowhere: the tor we start gets its control and SOCKS ports on
    /// 127.0.0.1 (ports tor picks), and `listen`'s onion service forwards visitors to a TCP port
    /// on 127.0.0.1 rather than to a unix socket. For a tor, or an environment, that cannot use
    /// unix sockets at file paths (the Shadow simulator). Any local process can then reach
    /// the SOCKS port and the listener's port; libp2p's noise handshake still authenticates
    /// every peer.
    #[arg(long, global = true)]
    pub(crate) local_tcp: bool,

    /// How long to wait for tor (or arti) to bootstrap, in seconds (0.001 to 31536000).
    #[arg(
        long,
        global = true,
        default_value = "180",
        value_name = "SECS",
        value_parser = bootstrap_timeout,
        allow_negative_numbers = true
    )]
    pub(crate) bootstrap_timeout: Duration,

    /// Print one JSON object per line on stdout, for scripts (each has an "event" field:
    /// listening, connection, connected, ping, ping_failed, summary, error). Progress and
    /// notes for people stay on stderr.
    #[arg(long, global = true)]
    pub(crate) json: bool,

    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Which Tor the program uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Backend {
    /// A tor process (C tor).
    Tor,
    /// An arti client in this process (a build with the feature `arti`).
    Arti,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Listen on an onion service, print its address once reachable, and answer pings.
    Listen {
        /// The onion service key (tor's hs_ed25519_secret_key format). Created (mode 0600) if
        /// missing; the same file gives the same address and peer id. Without it, a fresh
        /// address each run.
        #[arg(long, value_name = "PATH")]
        key_file: Option<PathBuf>,
        /// The onion service's virtual port.
        #[arg(
            long,
            default_value_t = 4001,
            value_parser = clap::value_parser!(u16).range(1..),
            allow_negative_numbers = true
        )]
        port: u16,
        /// Stop after answering this many pings (default: run until Ctrl-C).
        #[arg(
            long,
            value_name = "N",
            value_parser = clap::value_parser!(u32).range(1..),
            allow_negative_numbers = true
        )]
        exit_after: Option<u32>,
        /// Let only the clients listed this way in (tor's client authorization): a
        /// `<name>.auth` file as `client-auth-keygen` writes it, or the 52-character public key.
        /// Repeat for each client.
        #[arg(long, value_name = "FILE|KEY")]
        authorized_client: Vec<String>,
    },
    /// Dial a peer by its /onion3/.../p2p/... address and ping it.
    Dial {
        /// The peer's address, e.g. /onion3/<56 characters>:4001/p2p/12D3KooW...
        #[arg(value_parser = dial_addr)]
        multiaddr: Multiaddr,
        /// How many pings.
        #[arg(
            short,
            long,
            default_value_t = 5,
            value_parser = clap::value_parser!(u32).range(1..),
            allow_negative_numbers = true
        )]
        count: u32,
        /// Seconds between pings (0.001 to 86400).
        #[arg(
            short,
            long,
            default_value = "1",
            value_name = "SECS",
            value_parser = interval,
            allow_negative_numbers = true
        )]
        interval: Duration,
        /// Give up after this many seconds in all, connecting included (0.001 to 31536000).
        #[arg(
            long,
            default_value = "180",
            value_name = "SECS",
            value_parser = timeout,
            allow_negative_numbers = true
        )]
        timeout: Duration,
        /// The client authorization key for a listener that requires one: a
        /// `<name>.auth_private` file (mode 0600) as `client-auth-keygen` writes it.
        #[arg(long, value_name = "FILE")]
        client_auth: Option<PathBuf>,
    },
    /// Make a client authorization key for the onion service at ADDRESS: writes NAME.auth (for
    /// the listener's --authorized-client) and NAME.auth_private (mode 0600, for the dialer's
    /// --client-auth). Existing files are not overwritten.
    ClientAuthKeygen {
        /// The listener's onion address (`<56 characters>.onion`, or its /onion3 multiaddr).
        address: String,
        /// Where to write: NAME.auth and NAME.auth_private.
        name: PathBuf,
    },
}

impl Cli {
    /// The command line of this process, checked; a wrong one ends the process as clap does
    /// (the message on stderr, exit code 2).
    pub(crate) fn parse_args() -> Self {
        Self::try_parse_args(std::env::args_os()).unwrap_or_else(|e| e.exit())
    }

    /// Parses `args` (the program name first): clap's checks, then those that depend on the
    /// backend's value, which clap's `conflicts_with` cannot express (it sees whether a flag
    /// is given, not its value): C tor's flags with `--backend arti`, arti's flags without it,
    /// and `--backend arti` in a build without arti. Each is refused as clap refuses a
    /// conflict: exit code 2, the flags named.
    pub(crate) fn try_parse_args<I, T>(args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let mut cmd = Self::command();
        let matches = cmd.try_get_matches_from_mut(args)?;
        let cli = Self::from_arg_matches(&matches).map_err(|e| e.format(&mut cmd))?;
        cli.check_backend(&matches, &mut cmd)?;
        Ok(cli)
    }

    fn check_backend(
        &self,
        matches: &ArgMatches,
        cmd: &mut clap::Command,
    ) -> Result<(), clap::Error> {
        // Given on the command line: a value from the environment (TORP2P_CONTROL_PASSWORD)
        // is no mistake of this command line.
        let given = |id: &str| matches.value_source(id) == Some(ValueSource::CommandLine);
        let shown = |cmd: &clap::Command, id: &str| {
            cmd.get_arguments()
                .find(|a| a.get_id() == id)
                .map_or_else(|| id.to_string(), ToString::to_string)
        };
        match self.backend {
            Backend::Arti => {
                if !cfg!(feature = "arti") {
                    let message = format!(
                        "invalid value 'arti' for '--backend <BACKEND>': this torp2p-ping was built without the arti backend; build it with `{BUILD_WITH_ARTI}`"
                    );
                    return Err(cmd.error(ErrorKind::InvalidValue, message));
                }
                if let Some(id) = C_TOR_FLAGS.iter().find(|id| given(id)) {
                    let message = format!(
                        "the argument '{}' cannot be used with '--backend arti' (it is for C tor: --backend tor)",
                        shown(cmd, id)
                    );
                    return Err(cmd.error(ErrorKind::ArgumentConflict, message));
                }
            }
            Backend::Tor => {
                if let Some(id) = ARTI_FLAGS.iter().find(|id| given(id)) {
                    let message = format!(
                        "the argument '{}' cannot be used without '--backend arti'",
                        shown(cmd, id)
                    );
                    return Err(cmd.error(ErrorKind::ArgumentConflict, message));
                }
            }
        }
        Ok(())
    }

    /// How stdout is written.
    pub(crate) fn output(&self) -> crate::output::Output {
        if self.json {
            crate::output::Output::Json
        } else {
            crate::output::Output::Text
        }
    }
}

/// `text` as a number of seconds from `min` to `max` for `flag`.
pub(crate) fn seconds(text: &str, flag: &str, min: f64, max: f64) -> Result<Duration, String> {
    let range = format!("from {min} to {max} seconds");
    let secs: f64 = text.trim().parse().map_err(|_| {
        format!("{flag} takes a number of seconds {range} (e.g. 1.5), not `{text}`")
    })?;
    if !secs.is_finite() || !(min..=max).contains(&secs) {
        return Err(format!("{flag} must be {range}, not {text}"));
    }
    Duration::try_from_secs_f64(secs).map_err(|e| format!("{flag} must be {range}: {e}"))
}

fn interval(text: &str) -> Result<Duration, String> {
    seconds(text, "--interval", MIN_SECS, MAX_INTERVAL_SECS)
}

fn timeout(text: &str) -> Result<Duration, String> {
    seconds(text, "--timeout", MIN_SECS, MAX_TIMEOUT_SECS)
}

fn bootstrap_timeout(text: &str) -> Result<Duration, String> {
    seconds(text, "--bootstrap-timeout", MIN_SECS, MAX_TIMEOUT_SECS)
}

/// `127.0.0.1:9051`, `unix:/path`, or a path (anything with a `/` that is not `unix:...`).
fn tor_control(text: &str) -> Result<LocalAddr, String> {
    let unix_prefix = text
        .get(..5)
        .is_some_and(|p| p.eq_ignore_ascii_case("unix:"));
    if text.contains('/') && !unix_prefix {
        if text.contains('\0') {
            return Err("a path cannot contain a NUL byte".into());
        }
        return Ok(LocalAddr::Unix(text.into()));
    }
    LocalAddr::from_str(text).map_err(|e| format!("{e} (or give the path of tor's control socket)"))
}

/// A dial address, checked with torp2p-addr so that the error names the part that is wrong;
/// only onion services are dialed.
fn dial_addr(text: &str) -> Result<Multiaddr, String> {
    let parsed = DialAddr::from_str(text).map_err(|e| e.to_string())?;
    if !parsed.target.is_onion() {
        return Err(format!(
            "`{text}` is not an onion address: torp2p-ping only dials /onion3/<address>:<port>/p2p/<peer id>"
        ));
    }
    text.parse().map_err(|e| format!("`{text}`: {e}"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::ffi::OsString;
    use std::os::unix::ffi::OsStringExt;

    use clap::CommandFactory;
    use proptest::prelude::*;

    use super::*;

    const GOOD: &str = "/onion3/sqbhexutqt2qyu6q3armsbts7uiudgunsktlkvuhprcpwemgzaf5hvad:4001/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA";

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_duration_flag_refuses_what_no_duration_is() {
        for bad in [
            "1e20", "NaN", "nan", "inf", "-inf", "infinity", "-1", "0", "-0", "1e-320", "5e-324",
            "0.0009", "86401", "abc", "", " ", "1s", "0x10", "1_000", "1e400",
        ] {
            let e = interval(bad).unwrap_err();
            assert!(
                e.contains("--interval") && e.contains("0.001 to 86400"),
                "{bad}: {e}"
            );
        }
        for bad in [
            "1e20",
            "3.2e7",
            "nan",
            "-5",
            "0",
            "1e-320",
            "1.8446744073709552e19",
        ] {
            let e = timeout(bad).unwrap_err();
            assert!(
                e.contains("--timeout") && e.contains("31536000"),
                "{bad}: {e}"
            );
            let e = bootstrap_timeout(bad).unwrap_err();
            assert!(e.contains("--bootstrap-timeout"), "{bad}: {e}");
        }
        assert_eq!(interval("0.25"), Ok(Duration::from_millis(250)));
        assert_eq!(interval(" 1 "), Ok(Duration::from_secs(1)));
        assert_eq!(timeout("31536000"), Ok(Duration::from_secs(31_536_000)));
        assert_eq!(bootstrap_timeout("180"), Ok(Duration::from_secs(180)));
    }

    #[test]
    fn defaults_are_what_the_help_says() {
        let cli = Cli::try_parse_args(["torp2p-ping", "dial", GOOD]).unwrap();
        assert_eq!(cli.bootstrap_timeout, Duration::from_secs(180));
        assert_eq!(cli.backend, Backend::Tor);
        assert_eq!((cli.arti_config, cli.arti_storage), (None, None));
        assert!(!cli.local_tcp);
        let Command::Dial {
            count,
            interval,
            timeout,
            ..
        } = cli.command
        else {
            panic!("not dial")
        };
        assert_eq!(
            (count, interval, timeout),
            (5, Duration::from_secs(1), Duration::from_secs(180))
        );
    }

    #[test]
    fn local_tcp_goes_with_a_tor_of_ours_or_an_attached_one() {
        for args in [
            &["torp2p-ping", "--local-tcp", "listen"][..],
            &[
                "torp2p-ping",
                "dial",
                GOOD,
                "--local-tcp",
                "--tor-control",
                "127.0.0.1:9051",
            ],
        ] {
            assert!(Cli::try_parse_args(args).unwrap().local_tcp, "{args:?}");
        }
    }

    /// Words of a command line: flags, numbers of every kind, addresses, junk, non-UTF-8.
    fn arg() -> impl Strategy<Value = OsString> {
        let words = prop_oneof![
            Just("dial".to_string()),
            Just("listen".to_string()),
            "--(count|interval|timeout|bootstrap-timeout|port|exit-after|key-file|tor-bin|tor-control|tor-control-password|torrc-extra|local-tcp|backend|arti-config|arti-storage|verbose|help|version)(=.{0,12})?",
            "--backend(=| )?(tor|arti|c-tor|)",
            "-[civhV]{1,3}",
            "-?[0-9]{0,25}(\\.[0-9]{0,5})?(e-?[0-9]{1,4})?",
            "(-)?(nan|NaN|inf|infinity|1e20|1e-320|5e-324|18446744073709551616)",
            "(unix:)?[/.:\\[\\]0-9a-z\"]{0,30}",
            "/onion3/[a-z2-7]{0,60}(:[0-9]{0,6})?(/p2p/[a-zA-Z0-9]{0,60})?",
            Just(GOOD.to_string()),
            "\\PC{0,20}",
        ];
        prop_oneof![
            8 => words.prop_map(OsString::from),
            1 => proptest::collection::vec(any::<u8>(), 0..12).prop_map(OsString::from_vec),
        ]
    }

    proptest! {
        /// Any argv goes through clap and our checks (the value parsers) without a panic:
        /// an error, or a command line whose values are in range.
        #[test]
        fn any_command_line_parses_or_is_refused_without_a_panic(
            args in proptest::collection::vec(arg(), 0..8),
        ) {
            let argv = std::iter::once(OsString::from("torp2p-ping")).chain(args);
            match Cli::try_parse_args(argv) {
                Err(e) => {
                    let _ = e.render().to_string();
                    let _ = e.exit_code();
                }
                Ok(cli) => {
                    prop_assert!(cli.bootstrap_timeout >= Duration::from_millis(1));
                    // The backend and its flags agree.
                    if cli.backend == Backend::Tor {
                        prop_assert!(cli.arti_config.is_none() && cli.arti_storage.is_none());
                    } else {
                        prop_assert!(cfg!(feature = "arti"));
                        prop_assert!(cli.tor_bin.is_none() && cli.tor_control.is_none() && cli.torrc_extra.is_none());
                    }
                    if let Command::Dial { count, interval, timeout, multiaddr, .. } = &cli.command {
                        prop_assert!(*count >= 1);
                        prop_assert!(*interval >= Duration::from_millis(1));
                        prop_assert!(*interval <= Duration::from_secs(86_400));
                        prop_assert!(*timeout <= Duration::from_secs(31_536_000));
                        prop_assert!(DialAddr::from_multiaddr(multiaddr)?.target.is_onion());
                    }
                }
            }
        }

        #[test]
        fn any_text_for_a_duration_flag_gives_a_duration_in_range_or_an_error(text in "\\PC{0,30}", f in any::<f64>()) {
            for t in [text, f.to_string(), format!("{f:e}")] {
                if let Ok(d) = interval(&t) {
                    prop_assert!(d >= Duration::from_millis(1) && d <= Duration::from_secs(86_400));
                }
                if let Ok(d) = timeout(&t) {
                    prop_assert!(d >= Duration::from_millis(1) && d <= Duration::from_secs(31_536_000));
                }
                let _ = tor_control(&t);
                let _ = dial_addr(&t);
            }
        }
    }

    #[test]
    fn a_flag_repeated_many_times_saturates() {
        let mut argv = vec!["torp2p-ping".to_string()];
        argv.extend(std::iter::repeat_n("-v".to_string(), 300));
        argv.extend(["dial".into(), GOOD.into()]);
        assert_eq!(Cli::try_parse_args(argv).unwrap().verbose, u8::MAX);
    }

    /// The checks that depend on `--backend`'s value, before or after the subcommand; a
    /// control password from the environment is no conflict.
    #[test]
    fn the_backend_and_its_flags_agree() {
        let parse = |args: &[&str]| {
            Cli::try_parse_args(std::iter::once("torp2p-ping").chain(args.iter().copied()))
        };
        for args in [
            &["--arti-config", "a.toml", "listen"][..],
            &["--backend", "tor", "--arti-storage", "d", "listen"],
            &["listen", "--arti-storage", "d"],
        ] {
            let e = parse(args).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::ArgumentConflict, "{args:?}");
            assert!(
                e.to_string().contains("without '--backend arti'"),
                "{args:?}: {e}"
            );
        }
        // Both kinds of flags at once: clap's own conflict.
        let e = parse(&["--arti-config", "a.toml", "--tor-bin", "t", "listen"]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ArgumentConflict);
        for args in [
            &["--backend", "arti", "--tor-bin", "t", "listen"][..],
            &[
                "--backend=arti",
                "dial",
                GOOD,
                "--tor-control",
                "127.0.0.1:9051",
            ],
            &["listen", "--torrc-extra", "x", "--backend", "arti"],
            &["--backend", "arti", "listen", "--local-tcp"],
            &[
                "--backend",
                "arti",
                "--tor-control-password",
                "pw",
                "listen",
            ],
        ] {
            let e = parse(args).unwrap_err();
            if cfg!(feature = "arti") {
                assert_eq!(e.kind(), ErrorKind::ArgumentConflict, "{args:?}");
                assert!(
                    e.to_string()
                        .contains("cannot be used with '--backend arti'"),
                    "{args:?}: {e}"
                );
            } else {
                assert_eq!(e.kind(), ErrorKind::InvalidValue, "{args:?}");
                assert!(e.to_string().contains(BUILD_WITH_ARTI), "{args:?}: {e}");
            }
        }
        let ok = parse(&["--backend", "arti", "--arti-config", "a.toml", "listen"]);
        if cfg!(feature = "arti") {
            let cli = ok.unwrap();
            assert_eq!(cli.backend, Backend::Arti);
            assert_eq!(cli.arti_config, Some(PathBuf::from("a.toml")));
        } else {
            assert!(ok.unwrap_err().to_string().contains(BUILD_WITH_ARTI));
        }
        let cli = parse(&["--backend", "tor", "--tor-bin", "t", "listen"]).unwrap();
        assert_eq!(cli.backend, Backend::Tor);
    }
}
