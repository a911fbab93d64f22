//! `cargo xtask tornet`: a private Tor network in the foreground until Ctrl-C.

use torp2p_testnet::TestNet;

use crate::ping_proc::write_torrc;

/// `cargo xtask tornet`: a network in the foreground until Ctrl-C; its directory is kept.
pub(crate) fn tornet() -> Result<(), String> {
    let rt = crate::runtime()?;
    rt.block_on(crate::on_testnet(
        TestNet::builder().keep_dir(true),
        async |net| {
            let torrc = write_torrc(net)?;
            println!(
                "A private Tor network is running on 127.0.0.1 ({} tors).",
                net.pids().len()
            );
            println!("Files and logs: {}", net.dir().display());
            println!(
                "To join it, add these lines to a tor's torrc (they are in {}):",
                torrc.display()
            );
            for l in net.client_torrc() {
                println!("    {l}");
            }
            println!(
                "The ping demo joins with: --torrc-extra {}",
                torrc.display()
            );
            println!(
                "An arti-based program joins with the configuration in {} (arti's TOML \
                 format; give each arti its own [storage] directories)",
                net.arti_toml_path().display()
            );
            println!(
                "The ping demo with an embedded arti (built with --features arti) joins with: \
                 --backend arti --arti-config {}",
                net.arti_toml_path().display()
            );
            println!("Press Ctrl-C to stop.");
            tokio::signal::ctrl_c()
                .await
                .map_err(|e| format!("cannot wait for Ctrl-C: {e}"))?;
            println!("stopping the network");
            Ok(())
        },
    ))
}
