//! The benchmark's torp2p listener: serves ping and the sink on every connection, and the
//! raw baseline's streams, told apart by their first byte before the libp2p upgrade.

use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::Poll;

use futures::{AsyncReadExt, AsyncWriteExt};
use libp2p_core::muxing::SubstreamBox;
use libp2p_core::transport::{ListenerId, TransportEvent, upgrade::Version};
use libp2p_core::{Multiaddr, Transport as _};
use libp2p_identity::{Keypair, PeerId};
use tokio::sync::oneshot;
use torp2p_addr::{DialTarget, OnionSocketAddr};
use torp2p_daemon::OnionKey;
use torp2p_transport as tor;

use crate::local::Local;
use crate::network::within;
use crate::p2p::{PING, PING_SIZE, SINK, SOURCE, TorHandle, Upgraded, drive, upgrade};
use crate::{PORT, RAW_ECHO, RAW_SINK, RAW_SOURCE, STEP, raw};

/// The benchmark's torp2p listener: serves ping and the sink on every connection.
pub(crate) struct Server {
    pub(crate) addr: Multiaddr,
    pub(crate) peer: PeerId,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    /// Listens on a fresh onion address on `tor` (its target as `local` says); returns once
    /// the address is reported.
    pub(crate) async fn start(tor: &TorHandle, local: Local) -> Result<Server, String> {
        let keypair = Keypair::generate_ed25519();
        let peer = keypair.public().to_peer_id();
        let key = OnionKey::generate();
        let listen = tor::listen_addr(&key, PORT).map_err(|e| e.to_string())?;
        let mut transport = upgrade(
            tor.transport(local.listener().with_key(key))?
                .and_then(demux),
            &keypair,
            Version::V1Lazy,
        )?;
        transport
            .listen_on(ListenerId::next(), listen)
            .map_err(|e| format!("torp2p listener: {e}"))?;
        let (ready_tx, ready_rx) = oneshot::channel();
        let task = tokio::spawn(accept(transport, ready_tx));
        let addr = within(STEP, "torp2p listener publication", async {
            ready_rx
                .await
                .map_err(|_| "the torp2p listener closed before it was published".to_string())?
        })
        .await?;
        let addr = addr.with(libp2p_core::multiaddr::Protocol::P2p(peer));
        Ok(Server { addr, peer, task })
    }

    /// The listener's onion address and port, for raw SOCKS dials to its onion service.
    pub(crate) fn raw_target(&self) -> Result<DialTarget, String> {
        let onion = self
            .addr
            .iter()
            .find_map(|p| match p {
                libp2p_core::multiaddr::Protocol::Onion3(a) => {
                    Some(OnionSocketAddr::from_onion3(&a))
                }
                _ => None,
            })
            .ok_or("the listener reported no /onion3 address")?
            .map_err(|e| e.to_string())?;
        Ok(DialTarget::Onion(onion))
    }

    pub(crate) fn stop(self) {
        self.task.abort();
    }
}

/// Tells raw benchmark streams from libp2p connections by their first byte: serves the
/// former (and fails their libp2p upgrade, which the listener ignores), hands the latter
/// on, first byte included, to the upgrade.
fn demux(
    mut stream: tor::Stream,
    _: libp2p_core::ConnectedPoint,
) -> futures::future::BoxFuture<'static, io::Result<Prefixed>> {
    Box::pin(async move {
        let mut first = [0u8; 1];
        stream.read_exact(&mut first).await?;
        match first[0] {
            RAW_ECHO => {
                tokio::spawn(raw::serve_echo(stream));
                Err(io::Error::other("a raw benchmark stream (served)"))
            }
            RAW_SINK => {
                tokio::spawn(raw::serve_sink(stream));
                Err(io::Error::other("a raw benchmark stream (served)"))
            }
            RAW_SOURCE => {
                tokio::spawn(raw::serve_source(stream));
                Err(io::Error::other("a raw benchmark stream (served)"))
            }
            byte => Ok(Prefixed {
                first: Some(byte),
                inner: stream,
            }),
        }
    })
}

/// A stream whose first byte was read already: it is read again first.
struct Prefixed {
    first: Option<u8>,
    inner: tor::Stream,
}

impl futures::io::AsyncRead for Prefixed {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Some(byte) = this.first
            && let Some(slot) = buf.first_mut()
        {
            *slot = byte;
            this.first = None;
            return Poll::Ready(Ok(1));
        }
        futures::io::AsyncRead::poll_read(Pin::new(&mut this.inner), cx, buf)
    }
}

impl futures::io::AsyncWrite for Prefixed {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        futures::io::AsyncWrite::poll_write(Pin::new(&mut self.get_mut().inner), cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        futures::io::AsyncWrite::poll_write_vectored(Pin::new(&mut self.get_mut().inner), cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<io::Result<()>> {
        futures::io::AsyncWrite::poll_flush(Pin::new(&mut self.get_mut().inner), cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<io::Result<()>> {
        futures::io::AsyncWrite::poll_close(Pin::new(&mut self.get_mut().inner), cx)
    }
}

async fn accept(mut transport: Upgraded, ready: oneshot::Sender<Result<Multiaddr, String>>) {
    let mut ready = Some(ready);
    let mut connections = Vec::new();
    loop {
        match poll_fn(|cx| Pin::new(&mut transport).poll(cx)).await {
            TransportEvent::NewAddress { listen_addr, .. } => {
                if let Some(r) = ready.take() {
                    let _ = r.send(Ok(listen_addr));
                }
            }
            TransportEvent::Incoming { upgrade, .. } => {
                connections.retain(|t: &tokio::task::JoinHandle<()>| !t.is_finished());
                connections.push(tokio::spawn(async move {
                    if let Ok((_, muxer)) = upgrade.await {
                        drive(muxer, None).await;
                    }
                }));
            }
            TransportEvent::ListenerClosed { reason, .. } => {
                if let Some(r) = ready.take() {
                    let _ = r.send(Err(format!("torp2p listener closed: {reason:?}")));
                }
                break;
            }
            _ => {}
        }
    }
    // Aborting this task drops the connections' tasks' handles only; end them too.
    for c in connections {
        c.abort();
    }
}

/// The listener's side of a substream: libp2p ping (echo 32-byte payloads, as
/// `libp2p-ping` does), the sink or the source.
pub(crate) async fn serve(s: SubstreamBox) -> io::Result<()> {
    let (protocol, mut s) = multistream_select::listener_select_proto(s, [PING, SINK, SOURCE])
        .await
        .map_err(io::Error::other)?;
    if protocol == SOURCE {
        let mut len = [0u8; 8];
        s.read_exact(&mut len).await?;
        let chunk = vec![0x5au8; 256 * 1024];
        let mut left = u64::from_be_bytes(len);
        while left > 0 {
            let n = chunk.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            s.write_all(&chunk[..n]).await?;
            left -= n as u64;
        }
        s.flush().await?;
        return s.close().await;
    }
    if protocol == PING {
        let mut payload = [0u8; PING_SIZE];
        loop {
            match s.read_exact(&mut payload).await {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
                Err(e) => return Err(e),
            }
            s.write_all(&payload).await?;
            s.flush().await?;
        }
    }
    let mut len = [0u8; 8];
    s.read_exact(&mut len).await?;
    let mut left = u64::from_be_bytes(len);
    let mut buf = vec![0u8; 256 * 1024];
    while left > 0 {
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        match s.read(&mut buf[..want]).await? {
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            n => left -= n as u64,
        }
    }
    s.write_all(&[1]).await?;
    s.flush().await?;
    s.close().await
}
