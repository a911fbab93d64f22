//! `cargo xtask demo [--backend tor|arti]`: two peers ping each other over a private Tor
//! network.

use std::path::Path;

use torp2p_testnet::TestNet;

use crate::ping_proc::{Backend, Listener, build_ping, dial};

/// `cargo xtask demo [--backend tor|arti]`: two `torp2p-ping` processes, each with a tor of
/// its own (default) or an embedded arti, ping each other over a private Tor network.
pub(crate) fn demo(args: &[String]) -> Result<(), String> {
    let backend = match args {
        [] => Backend::Tor,
        [flag, name] if flag == "--backend" => Backend::parse(name, "demo")?,
        other => {
            return Err(format!(
                "demo: unexpected arguments {other:?}; usage: cargo xtask demo [--backend tor|arti]"
            ));
        }
    };
    let bin = build_ping(backend)?;
    let rt = crate::runtime()?;
    rt.block_on(async {
        println!(
            "Starting a private Tor network on 127.0.0.1 (3 directory authorities, 4 relays)..."
        );
        crate::on_testnet(TestNet::builder(), async |net| {
            demo_on(net, &bin, backend).await
        })
        .await
    })
}

async fn demo_on(net: &TestNet, bin: &Path, backend: Backend) -> Result<(), String> {
    let own = match backend {
        Backend::Tor => "its own tor",
        Backend::Arti => "an embedded arti",
    };
    println!("Network ready. Starting the listener ({own}, an onion service)...");
    let listener = Listener::start(
        bin,
        &backend.ping_args(net, "listener")?,
        &net.dir().join("listener.key"),
        net.dir().join("listener.log"),
    )
    .await?;
    println!("Listener reachable at {}", listener.addr);
    println!("Dialing it from a second peer ({own}) and pinging 5 times:\n");
    let out = dial(
        bin,
        &backend.ping_args(net, "dialer")?,
        &listener.addr,
        5,
        true,
    )
    .await?;
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
