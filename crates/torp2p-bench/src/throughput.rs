//! Throughput: bytes over a raw SOCKS stream vs over yamux substreams of a torp2p connection.

use std::io;
use std::time::Instant;

use futures::{AsyncReadExt, AsyncWriteExt};
use torp2p_socks::Isolation;

use crate::network::{Bed, within};
use crate::p2p::{Conn, SINK, TorHandle, connect, dialer};
use crate::{STEP, raw};

/// Transfers of `mib` MiB, interleaved: over a raw SOCKS stream and over a yamux substream
/// of one warm torp2p connection. MiB/s.
pub(crate) async fn throughput(
    bed: &Bed,
    n: usize,
    mib: usize,
) -> Result<(Vec<f64>, Vec<f64>, Vec<f64>), String> {
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
    let limit = STEP * 3;
    let mut raw = Vec::new();
    let mut p2p = Vec::new();
    let mut p2p_4 = Vec::new();
    for i in 0..n {
        for k in 0..3 {
            match (i + k) % 3 {
                0 => raw.push(
                    within(
                        limit,
                        "raw transfer",
                        raw::transfer(&bed.proxy, &bed.raw_target, &bed.peer_key, mib),
                    )
                    .await?,
                ),
                1 => p2p.push(within(limit, "torp2p transfer", transfer(&conn, mib, 1)).await?),
                _ => p2p_4.push(within(limit, "torp2p transfer", transfer(&conn, mib, 4)).await?),
            }
        }
    }
    Ok((raw, p2p, p2p_4))
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
