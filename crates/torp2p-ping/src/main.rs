//! `torp2p-ping`: libp2p ping between onion services, the torp2p demo.
//!
//! ```text
//! torp2p-ping listen [--key-file PATH] [--port N]
//! torp2p-ping dial <MULTIADDR> [--count N]
//! ```
//!
//! Tor comes from (`--backend tor`, the default) a tor of our own (joining the real Tor
//! network), a running tor (`--tor-control`), or a tor of our own that joins a private network
//! (`--torrc-extra FILE`, e.g. the `client.torrc` that `cargo xtask tornet` writes); or
//! (`--backend arti`, in a build with `--features arti`) an arti client embedded in the
//! process, joining the real Tor network or the private network an `--arti-config FILE` names
//! (the `arti.toml` that `cargo xtask tornet` writes), its state in `--arti-storage DIR` or a
//! temporary directory.

/// `println!` that never panics: when stdout is closed (`torp2p-ping dial ... | head -1`) the
/// line is lost, and the program goes on.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// `eprintln!` that never panics: when stderr is closed the line is lost.
macro_rules! note {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

mod cli;
mod output;
mod progress;
mod run;

use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cli::Cli::parse_args();
    init_tracing(cli.verbose);
    let output = cli.output();
    // Made before the runtime and dropped after it: arti saves its state as the runtime ends.
    let storage = match run::ArtiStorage::new(&cli) {
        Ok(s) => s,
        Err(e) => {
            output.error(&e);
            note!("torp2p-ping: {e}");
            return ExitCode::FAILURE;
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            note!("torp2p-ping: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(run::run(cli, &storage));
    // arti's tasks end here, and write their state into the storage directory, which goes
    // after them.
    drop(rt);
    drop(storage);
    match result {
        Ok(code) => code,
        Err(e) => {
            output.error(&e);
            note!("torp2p-ping: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `RUST_LOG` wins; otherwise warnings, or debug for our crates with `-v` (trace with `-vv`).
fn init_tracing(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let default = default_filter(verbose);
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// The log filter without `RUST_LOG`. tor's own lines (target `tor`) are off by default, the
/// bar shows its progress. A filter's target is a prefix (`tor` also matches `torp2p_daemon`
/// and arti's `tor_proto`): the longer `torp2p` and `tor_` keep their warnings.
fn default_filter(verbose: u8) -> &'static str {
    match verbose {
        0 => "warn,tor=off,torp2p=warn,tor_=warn",
        1 => {
            "warn,torp2p_transport=debug,torp2p_daemon=debug,torp2p_socks=debug,torp2p_arti=debug,torp2p_ping=debug,tor=info"
        }
        _ => {
            "info,torp2p_transport=trace,torp2p_daemon=trace,torp2p_socks=trace,torp2p_arti=trace,torp2p_ping=trace,tor=debug"
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    /// What a subscriber with `filter` writes for a warning of each target.
    fn written(filter: &str, targets: &[&str]) -> String {
        #[derive(Clone, Default)]
        struct Buffer(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Buffer {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buffer = Buffer::default();
        let out = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_writer(move || out.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            for t in targets {
                // The target must be a constant: one call site per target.
                match *t {
                    "tor" => tracing::warn!(target: "tor", "from tor"),
                    "torp2p_transport" => {
                        tracing::warn!(target: "torp2p_transport", "from torp2p_transport")
                    }
                    "tor_proto" => tracing::warn!(target: "tor_proto", "from tor_proto"),
                    "libp2p_swarm" => tracing::warn!(target: "libp2p_swarm", "from libp2p_swarm"),
                    _ => unreachable!(),
                }
            }
        });
        String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn by_default_warnings_show_except_tors_own_lines() {
        let all = ["tor", "torp2p_transport", "tor_proto", "libp2p_swarm"];
        let text = written(super::default_filter(0), &all);
        assert!(!text.contains("from tor\n"), "{text}");
        for shown in [
            "from torp2p_transport",
            "from tor_proto",
            "from libp2p_swarm",
        ] {
            assert!(text.contains(shown), "{shown} is hidden:\n{text}");
        }
    }
}
