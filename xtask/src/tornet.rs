//! `cargo xtask tornet`: a private Tor network in the foreground until Ctrl-C.

use torp2p_testnet::TestNet;

/// `cargo xtask tornet`: a network in the foreground until Ctrl-C.
pub(crate) fn tornet() -> Result<(), String> {
    let rt = crate::runtime()?;
    rt.block_on(async {
        let net = TestNet::builder()
            .keep_dir(true)
            .start()
            .await
            .map_err(|e| format!("network did not start: {e}"))?;
        let torrc = net.dir().join("client.torrc");
        std::fs::write(&torrc, net.client_torrc().join("\n") + "\n")
            .map_err(|e| format!("cannot write {}: {e}", torrc.display()))?;
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
        println!("Press Ctrl-C to stop.");
        tokio::signal::ctrl_c()
            .await
            .map_err(|e| format!("cannot wait for Ctrl-C: {e}"))?;
        println!("stopping the network");
        net.shutdown().await;
        Ok(())
    })
}
