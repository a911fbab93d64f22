//! `torp2p-sim`: torp2p on a simulated Tor network of hundreds of relays, with
//! [Shadow](https://shadow.github.io), against raw SOCKS streams between the same hosts.
//!
//! ```text
//! cargo xtask sim --relays 50 --peers 10 --seed 1     # generate, run, report
//! cargo xtask sim --smoke                             # the checked-in small configuration
//! cargo run -p torp2p-sim -- report target/sim/r50-n10-s1   # sum up a run again, redraw its plots
//! ```
//!
//! `torp2p-sim run` writes a Shadow configuration (directory authorities, relays in seven
//! regions with realistic latencies, N peers each with its own tor and onion services), runs
//! Shadow on it, and reports in simulated time: bootstrap, publication, first connection and
//! round trips, raw against torp2p, failures by typed reason, the share of successful dials
//! over time (with `--churn`, while relays and peers leave and come back), into `sim.json` and
//! SVG plots beside it. `torp2p-sim peer`
//! is the program on each simulated peer host. The book's chapter "At scale, simulated" has
//! the figures and what Shadow cannot model.

mod graph;
mod keys;
mod mesh;
mod peer;
mod plan;
mod plot;
mod report;
mod run;
mod shadow;

use std::process::ExitCode;

fn main() -> ExitCode {
    let command = match run::Command::parse() {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    // Inside Shadow each host has one simulated CPU: one worker thread.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(if command.is_peer() { 1 } else { 2 })
        .enable_all()
        .build();
    let rt = match rt {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("torp2p-sim: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(command.run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if command.is_peer() {
                println!("{}", serde_json::json!({ "event": "error", "message": e }));
            }
            eprintln!("torp2p-sim: {e}");
            ExitCode::FAILURE
        }
    }
}
