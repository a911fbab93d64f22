//! Command-line arguments.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// libp2p ping between onion services, over Tor.
#[derive(Debug, Parser)]
#[command(name = "torp2p-ping", version, about)]
pub(crate) struct Cli {
    /// More logs (-v: debug for torp2p, -vv: trace). RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub(crate) verbose: u8,

    /// The tor binary to run (default: $TOR_BIN, or `tor` on PATH).
    #[arg(long, global = true, value_name = "PATH")]
    pub(crate) tor_bin: Option<PathBuf>,

    /// Use a running tor through its control port (`127.0.0.1:9051` or a unix socket path)
    /// instead of starting one.
    #[arg(long, global = true, value_name = "ADDR|PATH", conflicts_with_all = ["tor_bin", "torrc_extra"])]
    pub(crate) tor_control: Option<String>,

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

    /// How long to wait for tor to bootstrap, in seconds.
    #[arg(long, global = true, default_value_t = 180, value_name = "SECS")]
    pub(crate) bootstrap_timeout: u64,

    #[command(subcommand)]
    pub(crate) command: Command,
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
        #[arg(long, default_value_t = 4001, value_parser = clap::value_parser!(u16).range(1..))]
        port: u16,
        /// Stop after answering this many pings (default: run until Ctrl-C).
        #[arg(long, value_name = "N")]
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
        multiaddr: String,
        /// How many pings.
        #[arg(short, long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
        count: u32,
        /// Seconds between pings.
        #[arg(short, long, default_value_t = 1.0)]
        interval: f64,
        /// Give up after this many seconds in all (connecting included).
        #[arg(long, default_value_t = 180, value_name = "SECS")]
        timeout: u64,
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
