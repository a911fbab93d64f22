//! `cargo xtask demo`: two peers ping each other over a private Tor network.

use std::path::Path;

use torp2p_testnet::TestNet;

use crate::ping_proc::{Listener, build_ping, dial, write_torrc};

/// `cargo xtask demo`: two peers ping each other over a private Tor network.
pub(crate) fn demo() -> Result<(), String> {
    let bin = build_ping()?;
    let rt = crate::runtime()?;
    rt.block_on(async {
        println!(
            "Starting a private Tor network on 127.0.0.1 (3 directory authorities, 4 relays)..."
        );
        crate::on_testnet(TestNet::builder(), async |net| demo_on(net, &bin).await).await
    })
}

async fn demo_on(net: &TestNet, bin: &Path) -> Result<(), String> {
    let torrc = write_torrc(net)?;
    println!("Network ready. Starting the listener (its own tor, an onion service)...");
    let listener = Listener::start(
        bin,
        &torrc,
        &net.dir().join("listener.key"),
        net.dir().join("listener.log"),
    )
    .await?;
    println!("Listener reachable at {}", listener.addr);
    println!("Dialing it from a second peer (its own tor) and pinging 5 times:\n");
    let out = dial(bin, &torrc, &listener.addr, 5, true).await?;
    listener.stop().await;
    if out.status.success() {
        println!(
            "\nDone: two peers pinged each other over onion services, nobody learned an IP address."
        );
        Ok(())
    } else {
        Err(format!("the dialer failed ({})", out.status))
    }
}
