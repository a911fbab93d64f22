//! The raw baseline: its server side (streams the torp2p listener hands over before the libp2p
//! upgrade) and its client side, plain tokio I/O on a SOCKS stream.

use std::sync::Arc;
use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use torp2p_addr::DialTarget;
use torp2p_addr::LocalAddr;
use torp2p_socks::Isolation;

use crate::counted::{Counted, Flights};
use crate::{RAW_ECHO, RAW_SINK, RAW_SOURCE};

/// Echoes everything back.
pub(crate) async fn serve_echo(s: torp2p_transport::Stream) {
    let (mut r, mut w) = tokio::io::split(s);
    let _ = tokio::io::copy(&mut r, &mut w).await;
}

/// Reads an 8-byte big-endian length and that many bytes, then answers one byte.
pub(crate) async fn serve_sink(mut s: torp2p_transport::Stream) {
    let mut len = [0u8; 8];
    if s.read_exact(&mut len).await.is_err() {
        return;
    }
    let mut left = u64::from_be_bytes(len);
    let mut buf = vec![0u8; 256 * 1024];
    while left > 0 {
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        match s.read(&mut buf[..want]).await {
            Ok(0) | Err(_) => return,
            Ok(n) => left -= n as u64,
        }
    }
    let _ = s.write_all(&[1]).await;
}

/// Reads an 8-byte big-endian length, then sends that many bytes and closes.
pub(crate) async fn serve_source(mut s: torp2p_transport::Stream) {
    let mut len = [0u8; 8];
    if s.read_exact(&mut len).await.is_err() {
        return;
    }
    let chunk = vec![0x5au8; 256 * 1024];
    let mut left = u64::from_be_bytes(len);
    while left > 0 {
        let n = chunk.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        if s.write_all(&chunk[..n]).await.is_err() {
            return;
        }
        left -= n as u64;
    }
    let _ = s.flush().await;
    let _ = s.shutdown().await;
}

pub(crate) fn config(isolation: Isolation) -> torp2p_socks::Config {
    torp2p_socks::Config::new()
        .with_isolation(isolation)
        .with_timeout(crate::STEP)
}

/// A raw stream: a SOCKS stream through tor whose first write starts with the marker byte
/// the listener expects, with its round trips counted from the SOCKS reply on.
pub(crate) struct RawStream {
    s: Counted<torp2p_socks::Stream>,
    marker: Option<u8>,
    pub(crate) flights: Arc<Flights>,
}

impl RawStream {
    async fn write(&mut self, data: &[u8]) -> std::io::Result<()> {
        match self.marker.take() {
            Some(m) => {
                let mut first = Vec::with_capacity(data.len() + 1);
                first.push(m);
                first.extend_from_slice(data);
                self.s.write_all(&first).await
            }
            None => self.s.write_all(data).await,
        }
    }
}

/// Connects to the listener through tor; `key` is the isolation key (the per-peer key
/// torp2p uses is the listener's peer id).
pub(crate) async fn connect(
    proxy: &LocalAddr,
    target: &DialTarget,
    key: &str,
    isolation: Isolation,
    marker: u8,
) -> Result<RawStream, String> {
    let s = torp2p_socks::connect(proxy, target, Some(key), &config(isolation))
        .await
        .map_err(|e| format!("raw SOCKS connect: {e}"))?;
    let flights = Arc::new(Flights::default());
    Ok(RawStream {
        s: Counted::new(s, flights.clone()),
        marker: Some(marker),
        flights,
    })
}

/// A raw echo stream.
pub(crate) async fn connect_echo(
    proxy: &LocalAddr,
    target: &DialTarget,
    key: &str,
    isolation: Isolation,
) -> Result<RawStream, String> {
    connect(proxy, target, key, isolation, RAW_ECHO).await
}

/// One 64-byte echo; seconds.
pub(crate) async fn echo(s: &mut RawStream, i: u8) -> Result<f64, String> {
    let msg = [i; 64];
    let mut back = [0u8; 64];
    let t = Instant::now();
    s.write(&msg)
        .await
        .map_err(|e| format!("echo write: {e}"))?;
    s.s.read_exact(&mut back)
        .await
        .map_err(|e| format!("echo read: {e}"))?;
    let d = t.elapsed().as_secs_f64();
    if back != msg {
        return Err("the echo returned other bytes".into());
    }
    Ok(d)
}

/// `mib` MiB to the sink on a fresh stream (connected before the clock starts); MiB/s.
pub(crate) async fn transfer(
    proxy: &LocalAddr,
    target: &DialTarget,
    key: &str,
    mib: usize,
) -> Result<f64, String> {
    let mut s = connect(proxy, target, key, Isolation::PerPeer, RAW_SINK).await?;
    let t = Instant::now();
    let len = (mib as u64) << 20;
    s.write(&len.to_be_bytes())
        .await
        .map_err(|e| format!("raw transfer: {e}"))?;
    let chunk = vec![0x5au8; 256 * 1024];
    let mut left = len;
    while left > 0 {
        let n = chunk.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        s.s.write_all(&chunk[..n])
            .await
            .map_err(|e| format!("raw transfer: {e}"))?;
        left -= n as u64;
    }
    s.s.flush()
        .await
        .map_err(|e| format!("raw transfer: {e}"))?;
    let mut ack = [0u8; 1];
    s.s.read_exact(&mut ack)
        .await
        .map_err(|e| format!("raw transfer, waiting for the sink's answer: {e}"))?;
    Ok(mib as f64 / t.elapsed().as_secs_f64())
}

/// `mib` MiB from the source on a fresh stream (connected before the clock starts): from the
/// request to the last byte; MiB/s.
pub(crate) async fn download(
    proxy: &LocalAddr,
    target: &DialTarget,
    key: &str,
    mib: usize,
) -> Result<f64, String> {
    let mut s = connect(proxy, target, key, Isolation::PerPeer, RAW_SOURCE).await?;
    let e = |e: std::io::Error| format!("raw download: {e}");
    let t = Instant::now();
    let len = (mib as u64) << 20;
    s.write(&len.to_be_bytes()).await.map_err(e)?;
    s.s.flush().await.map_err(e)?;
    read_len(&mut s.s, len).await.map_err(e)?;
    Ok(mib as f64 / t.elapsed().as_secs_f64())
}

/// Reads exactly `len` bytes (and drops them).
async fn read_len(s: &mut (impl tokio::io::AsyncRead + Unpin), len: u64) -> std::io::Result<()> {
    let mut buf = vec![0u8; 256 * 1024];
    let mut left = len;
    while left > 0 {
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        match s.read(&mut buf[..want]).await? {
            0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            n => left -= n as u64,
        }
    }
    Ok(())
}
