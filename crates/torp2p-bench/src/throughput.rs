//! Throughput: bytes over a raw SOCKS stream vs over yamux substreams of a torp2p connection,
//! both ways: dialer to listener (upload) and listener to dialer (download).

use std::io;
use std::time::Instant;

use futures::{AsyncReadExt, AsyncWriteExt};
use torp2p_socks::Isolation;

use crate::network::{Bed, within};
use crate::p2p::{Conn, SINK, SOURCE, TorHandle, connect, dialer};
use crate::{STEP, raw};

/// The transfers of [`throughput`], MiB/s each.
#[derive(Debug, Default)]
pub(crate) struct Transfers {
    /// Dialer to listener: raw, torp2p over one substream, torp2p over 4 at once.
    pub(crate) raw: Vec<f64>,
    pub(crate) p2p: Vec<f64>,
    pub(crate) p2p_4: Vec<f64>,
    /// Listener to dialer: raw, torp2p over one substream.
    pub(crate) raw_down: Vec<f64>,
    pub(crate) p2p_down: Vec<f64>,
}

/// Transfers of `mib` MiB, interleaved in rotating order: over a raw SOCKS stream and over a
/// yamux substream of one warm torp2p connection (and over 4 at once), to the listener and
/// from it. MiB/s.
pub(crate) async fn throughput(bed: &Bed, n: usize, mib: usize) -> Result<Transfers, String> {
    let mut transport = dialer(&TorHandle::CTor(bed.client.clone()), Isolation::PerPeer)?;
    let conn = within(
        STEP,
        "throughput: dial",
        connect(&mut transport, &bed.listener),
    )
    .await?;
    conn.ping().await?;
    // One small transfer each first (yamux's first window, tor's circuit).
    raw::transfer(&bed.proxy, &bed.raw_target, &bed.peer_key, 1).await?;
    transfer(&conn, 1, 1).await?;
    raw::download(&bed.proxy, &bed.raw_target, &bed.peer_key, 1).await?;
    download(&conn, 1).await?;
    let limit = STEP * 3;
    let mut out = Transfers::default();
    let (proxy, target, key) = (&bed.proxy, &bed.raw_target, bed.peer_key.as_str());
    for i in 0..n {
        for k in 0..5 {
            match (i + k) % 5 {
                0 => out.raw.push(
                    within(
                        limit,
                        "raw transfer",
                        raw::transfer(proxy, target, key, mib),
                    )
                    .await?,
                ),
                1 => out
                    .p2p
                    .push(within(limit, "torp2p transfer", transfer(&conn, mib, 1)).await?),
                2 => out
                    .p2p_4
                    .push(within(limit, "torp2p transfer", transfer(&conn, mib, 4)).await?),
                3 => out.raw_down.push(
                    within(
                        limit,
                        "raw download",
                        raw::download(proxy, target, key, mib),
                    )
                    .await?,
                ),
                _ => out
                    .p2p_down
                    .push(within(limit, "torp2p download", download(&conn, mib)).await?),
            }
        }
    }
    Ok(out)
}

/// `mib` MiB from the source on a new substream of `conn`: from opening it to the last byte;
/// MiB/s.
pub(crate) async fn download(conn: &Conn, mib: usize) -> Result<f64, String> {
    let t = Instant::now();
    let len = (mib as u64) << 20;
    let mut s = conn.open(SOURCE).await?;
    let e = |e: io::Error| format!("torp2p download: {e}");
    s.write_all(&len.to_be_bytes()).await.map_err(e)?;
    s.flush().await.map_err(e)?;
    let mut buf = vec![0u8; 256 * 1024];
    let mut left = len;
    while left > 0 {
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        match s.read(&mut buf[..want]).await.map_err(e)? {
            0 => return Err("torp2p download: the stream ended early".into()),
            n => left -= n as u64,
        }
    }
    let elapsed = t.elapsed().as_secs_f64();
    let _ = s.close().await;
    Ok(mib as f64 / elapsed)
}

/// `mib` MiB over `streams` substreams of `conn` at once; MiB/s.
pub(crate) async fn transfer(conn: &Conn, mib: usize, streams: usize) -> Result<f64, String> {
    let t = Instant::now();
    let total = (mib as u64) << 20;
    let each = total / streams as u64;
    let sends = (0..streams).map(|i| {
        let len = if i == 0 {
            total - each * (streams as u64 - 1)
        } else {
            each
        };
        send(conn, len)
    });
    futures::future::try_join_all(sends).await?;
    Ok(mib as f64 / t.elapsed().as_secs_f64())
}

/// `len` bytes to the sink on a new substream, until it answers.
async fn send(conn: &Conn, len: u64) -> Result<(), String> {
    let mut s = conn.open(SINK).await?;
    let e = |e: io::Error| format!("torp2p transfer: {e}");
    s.write_all(&len.to_be_bytes()).await.map_err(e)?;
    let chunk = vec![0x5au8; 256 * 1024];
    let mut left = len;
    while left > 0 {
        let n = chunk.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        s.write_all(&chunk[..n]).await.map_err(e)?;
        left -= n as u64;
    }
    s.flush().await.map_err(e)?;
    let mut ack = [0u8; 1];
    s.read_exact(&mut ack).await.map_err(e)?;
    let _ = s.close().await;
    Ok(())
}
