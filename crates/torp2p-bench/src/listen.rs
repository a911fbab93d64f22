//! Listener readiness: ADD_ONION → descriptors uploaded (the daemon) vs `listen_on` →
//! `NewAddress` (the transport).

use std::future::poll_fn;
use std::pin::Pin;
use std::time::{Duration, Instant};

use libp2p_core::Transport as _;
use libp2p_core::transport::{ListenerId, TransportEvent};
use torp2p_daemon::{LocalAddr, OnionKey, OnionServiceOptions, PortMapping, Publication, Tor};
use torp2p_transport as tor;

use crate::local::Local;
use crate::network::{Bed, within};
use crate::p2p::TorHandle;
use crate::{PORT, STEP};

/// Listener readiness, interleaved: ADD_ONION → published (the daemon) vs `listen_on` →
/// `NewAddress` (the transport), with the same publication policy. Seconds.
pub(crate) async fn listen_readiness(
    bed: &Bed,
    n: usize,
    publication: Publication,
) -> Result<(Vec<f64>, Vec<f64>), String> {
    let mut raw = Vec::new();
    let mut p2p = Vec::new();
    for i in 0..n {
        for side in [i % 2, (i + 1) % 2] {
            if side == 0 {
                raw.push(raw_once(&bed.host, &bed.unused_target, publication).await?);
            } else {
                let host = TorHandle::CTor(bed.host.clone());
                p2p.push(listen_once(&host, bed.local, publication).await?);
            }
        }
    }
    Ok((raw, p2p))
}

/// One onion service on `tor`: ADD_ONION → published, then removed (its `target` is never
/// connected to). Seconds.
pub(crate) async fn raw_once(
    tor: &Tor,
    target: &LocalAddr,
    publication: Publication,
) -> Result<f64, String> {
    let key = OnionKey::generate();
    let t = Instant::now();
    let service = tor
        .add_onion_service(
            &key,
            &[PortMapping {
                virtual_port: PORT,
                target: target.clone(),
            }],
            &OnionServiceOptions::new(),
        )
        .await
        .map_err(|e| format!("readiness, raw: {e}"))?;
    service
        .wait_published(publication, STEP)
        .await
        .map_err(|e| format!("readiness, raw: {e}"))?;
    let elapsed = t.elapsed().as_secs_f64();
    service
        .remove()
        .await
        .map_err(|e| format!("readiness, raw: {e}"))?;
    Ok(elapsed)
}

/// One listener on `tor` (its target as `local` says): `listen_on` → `NewAddress`, then
/// removed. Seconds.
pub(crate) async fn listen_once(
    tor: &TorHandle,
    local: Local,
    publication: Publication,
) -> Result<f64, String> {
    let key = OnionKey::generate();
    let addr = tor::listen_addr(&key, PORT).map_err(|e| e.to_string())?;
    let mut transport = tor.transport(
        local
            .listener()
            .with_key(key)
            .with_publication(publication)
            .with_publish_timeout(STEP),
    )?;
    let id = ListenerId::next();
    let t = Instant::now();
    transport
        .listen_on(id, addr)
        .map_err(|e| format!("readiness, torp2p: {e}"))?;
    let elapsed = within(STEP, "readiness, torp2p", async {
        loop {
            match poll_fn(|cx| Pin::new(&mut transport).poll(cx)).await {
                TransportEvent::NewAddress { .. } => return Ok(t.elapsed().as_secs_f64()),
                TransportEvent::ListenerClosed { reason, .. } => {
                    return Err(format!("readiness, torp2p: listener closed: {reason:?}"));
                }
                _ => {}
            }
        }
    })
    .await?;
    transport.remove_listener(id);
    within(Duration::from_secs(30), "removing a listener", async {
        loop {
            if let TransportEvent::ListenerClosed { .. } =
                poll_fn(|cx| Pin::new(&mut transport).poll(cx)).await
            {
                return Ok(());
            }
        }
    })
    .await?;
    Ok(elapsed)
}
