//! `--backend arti`: torp2p over the embedded arti backend, against raw Tor (the raw SOCKS
//! baseline through a C tor client) and against torp2p over C tor, all three in one run on one
//! private network, sample by sample.
//!
//! Two C tor clients (a listener's and a dialer's) and two arti clients (the same roles, in
//! this process) join the network. Raw Tor and torp2p over C tor ride one circuit, as in the
//! C tor run (the raw streams go to the C tor listener's own onion service with the isolation
//! key of torp2p's dials); arti builds circuits of its own. Circuits differ a lot from one
//! another (round trips of 12 ms on one, 90 ms on another), so the round trips, setups and
//! transfers are spread over `--circuits` listeners per backend, each reached on circuits of
//! its own, and medians are taken over all of them.
//!
//! The phases are in [`mod@phases`], the report in [`mod@report`].

use std::path::Path;
use std::time::Instant;

use libp2p_core::Multiaddr;
use libp2p_identity::PeerId;
use torp2p_addr::{DialTarget, LocalAddr, OnionSocketAddr};
use torp2p_daemon::{Publication, Tor};
use torp2p_testnet::TestNet;
use torp2p_transport as tor;

use crate::STEP;
use crate::local::Local;
use crate::network::on_network;
use crate::options::Opts;
use crate::p2p::TorHandle;
use crate::scale::{self, Measured};
use crate::server::Server;
use crate::stats::Stats;

mod phases;
mod report;

pub(crate) use report::Report;

/// The sides, in the order of every `[_; 3]` here.
pub(crate) const RAW: usize = 0;
pub(crate) const C_TOR: usize = 1;
pub(crate) const ARTI: usize = 2;

/// A torp2p listener to dial: its address (with `/p2p`) and peer id.
#[derive(Debug, Clone)]
pub(crate) struct Listener {
    pub(crate) addr: Multiaddr,
    pub(crate) peer: PeerId,
}

/// One circuit of each side: a C tor listener (which serves the raw streams too) and an arti
/// listener.
#[derive(Debug, Clone)]
pub(crate) struct Circuit {
    pub(crate) c_tor: Listener,
    pub(crate) arti: Listener,
    /// The C tor listener's onion address and port, for raw SOCKS dials.
    pub(crate) raw_target: DialTarget,
    /// The isolation key of torp2p's dials to the C tor listener (its peer id): raw dials
    /// with it share their circuit.
    pub(crate) peer_key: String,
}

/// What the phases share.
pub(crate) struct Bed {
    /// The C tor listener's tor.
    pub(crate) host: Tor,
    /// The C tor dialer's tor, and its SOCKS port (for raw dials).
    pub(crate) client: Tor,
    pub(crate) proxy: LocalAddr,
    /// The dialers' and the listeners' tors as transports take them.
    pub(crate) c_tor: TorHandle,
    pub(crate) arti: TorHandle,
    pub(crate) c_tor_host: TorHandle,
    pub(crate) arti_host: TorHandle,
    pub(crate) circuits: Vec<Circuit>,
    /// The target of the readiness phase's raw onion services (never connected to).
    pub(crate) unused_target: LocalAddr,
    /// Unix sockets or loopback TCP for the C tors and their onion services (`--local-tcp`).
    pub(crate) local: Local,
}

/// Starts the network, its two C tor clients and two arti clients (their state in
/// `storage`), runs the phases and stops every tor again.
pub(crate) async fn arti_bench(o: &Opts, storage: &Path) -> Result<Report, String> {
    let (report, nodes) = on_network(o.local(), async |net, host, client| {
        run(net, host, client, storage, o).await
    })
    .await?;
    Ok(Report { nodes, ..report })
}

/// An arti client joined to `net`, its state in `storage/name`; seconds it took.
async fn bootstrap(
    net: &TestNet,
    storage: &Path,
    name: &str,
) -> Result<(tor::arti::Client, f64), String> {
    let config = tor::arti::Config::new()
        .with_file(net.arti_toml_path())
        .with_storage_dir(storage.join(name))
        .with_bootstrap_timeout(STEP)
        .with_dial_timeout(STEP);
    let t = Instant::now();
    let client = tor::arti::Client::bootstrap(&config)
        .await
        .map_err(|e| format!("arti ({name}) did not bootstrap: {e}"))?;
    Ok((client, t.elapsed().as_secs_f64()))
}

/// The onion address and port of a listen address.
fn onion_target(addr: &Multiaddr) -> Result<DialTarget, String> {
    addr.iter()
        .find_map(|p| match p {
            libp2p_core::multiaddr::Protocol::Onion3(a) => Some(OnionSocketAddr::from_onion3(&a)),
            _ => None,
        })
        .ok_or("the listener reported no /onion3 address")?
        .map(DialTarget::Onion)
        .map_err(|e| e.to_string())
}

async fn run(
    net: &TestNet,
    host: &Tor,
    client: &Tor,
    storage: &Path,
    o: &Opts,
) -> Result<Report, String> {
    eprintln!("torp2p-bench: bootstrapping two arti clients");
    let (arti_host, arti_client) = tokio::join!(
        bootstrap(net, storage, "listener"),
        bootstrap(net, storage, "dialer")
    );
    let ((arti_host, boot_host), (arti_client, boot_client)) = (arti_host?, arti_client?);
    let c_tor_host = TorHandle::CTor(host.clone());
    let arti_host = TorHandle::Arti(arti_host);

    eprintln!(
        "torp2p-bench: {} listeners on C tor and {} on arti",
        o.circuits, o.circuits
    );
    let mut servers = Vec::new();
    let started = async {
        let mut circuits = Vec::new();
        for _ in 0..o.circuits {
            let (c, a) = tokio::join!(
                Server::start(&c_tor_host, o.local()),
                Server::start(&arti_host, o.local())
            );
            let (c, a) = (c?, a?);
            let circuit = Circuit {
                c_tor: Listener {
                    addr: c.addr.clone(),
                    peer: c.peer,
                },
                arti: Listener {
                    addr: a.addr.clone(),
                    peer: a.peer,
                },
                raw_target: onion_target(&c.addr)?,
                peer_key: c.peer.to_string(),
            };
            servers.push(c);
            servers.push(a);
            circuits.push(circuit);
        }
        Ok::<_, String>(circuits)
    }
    .await;
    let result = match started {
        Ok(circuits) => {
            let bed = Bed {
                host: host.clone(),
                client: client.clone(),
                proxy: client
                    .socks_addr()
                    .cloned()
                    .ok_or("the client tor has no SOCKS port")?,
                c_tor: TorHandle::CTor(client.clone()),
                arti: TorHandle::Arti(arti_client),
                c_tor_host,
                arti_host,
                circuits,
                unused_target: o.local().unused_target(net.dir()),
                local: o.local(),
            };
            phases(&bed, o).await
        }
        Err(e) => Err(e),
    };
    for s in servers {
        s.stop();
    }
    result.map(|r| Report {
        bootstrap_s: vec![boot_host, boot_client],
        ..r
    })
}

/// The phases, in order.
async fn phases(bed: &Bed, o: &Opts) -> Result<Report, String> {
    let mut report = Report {
        circuits: o.circuits,
        mib: o.mib,
        dials_tried: o.dials,
        dial_isolation: o.dial_isolation,
        binary_bytes: std::env::current_exe()
            .and_then(std::fs::metadata)
            .map(|m| m.len())
            .unwrap_or(0),
        ..Report::default()
    };

    eprintln!("torp2p-bench: listener readiness ({} each)", o.listen);
    let publication = Publication::default();
    report.publication = format!("{publication:?}");
    let listen = phases::readiness(bed, o.listen, publication).await?;
    report.listen = listen.map(|s| Stats::of(&s));

    eprintln!(
        "torp2p-bench: round trips ({} each, over {} circuits)",
        o.samples, o.circuits
    );
    let rtt = phases::round_trips(bed, o.samples).await?;
    report.rtt = rtt
        .iter()
        .map(|c| c.each_ref().map(|s| Stats::of(s).scaled(1000.0)))
        .collect();

    eprintln!(
        "torp2p-bench: connection setup ({} each on new circuits, {} on warm ones)",
        o.setup,
        2 * o.setup
    );
    report.cold = phases::setups(bed, o.setup, torp2p_socks::Isolation::PerConnection).await?;
    report.warm = phases::setups(bed, 2 * o.setup, torp2p_socks::Isolation::PerPeer).await?;

    eprintln!(
        "torp2p-bench: throughput ({} transfers of {} MiB each, over {} circuits)",
        o.throughput, o.mib, o.circuits
    );
    let tput = phases::throughput(bed, o.throughput, o.mib).await?;
    report.tput = tput
        .iter()
        .map(|c| c.each_ref().map(|s| Stats::of(s)))
        .collect();

    // arti first: the C tor run's freed memory would otherwise be reused by arti's, and
    // arti's growth counted short.
    for (i, side) in [(0, &bed.arti), (1, &bed.c_tor)] {
        eprintln!(
            "torp2p-bench: {} concurrent dials to one listener over {}",
            o.dials,
            if i == 0 { "arti" } else { "C tor" }
        );
        let listener = if i == 0 {
            &bed.circuits[0].arti.addr
        } else {
            &bed.circuits[0].c_tor.addr
        };
        let measured = Measured {
            tor_dialer: &bed.client,
            tor_listener: &bed.host,
        };
        let scale = scale::scale(side, listener, measured, o.dials, o.dial_isolation).await?;
        report.scale[i] = Some(scale);
    }
    Ok(report)
}
