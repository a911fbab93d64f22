//! [`Stream`]: a connection through tor, in either direction.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::ReadBuf;

/// A connection through tor: the transport's `Output`, before libp2p's upgrades (noise,
/// yamux) run on it.
///
/// An outgoing connection is the connection to tor's SOCKS port after the SOCKS handshake; an
/// incoming one is a connection tor made to the listener's socket: its private unix socket, or
/// its loopback TCP port for a tor that cannot reach that (both are [`torp2p_socks::Stream`]s:
/// a TCP or unix byte stream to tor). Either way it is a byte stream to the peer. It implements both the `futures` I/O traits (which libp2p
/// uses) and tokio's.
#[derive(Debug)]
pub struct Stream {
    inner: torp2p_socks::Stream,
    inbound: bool,
}

impl Stream {
    pub(crate) fn outbound(stream: torp2p_socks::Stream) -> Self {
        Stream {
            inner: stream,
            inbound: false,
        }
    }

    pub(crate) fn inbound(stream: torp2p_socks::Stream) -> Self {
        Stream {
            inner: stream,
            inbound: true,
        }
    }

    /// Whether the connection came in through one of our onion services (rather than being
    /// dialed by us).
    pub fn is_inbound(&self) -> bool {
        self.inbound
    }

    fn inner(self: Pin<&mut Self>) -> Pin<&mut torp2p_socks::Stream> {
        Pin::new(&mut self.get_mut().inner)
    }
}

impl tokio::io::AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.inner().poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.inner().poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.inner().poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.inner().poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.inner().poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

impl futures::io::AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut read_buf = ReadBuf::new(buf);
        ready!(tokio::io::AsyncRead::poll_read(self, cx, &mut read_buf))?;
        Poll::Ready(Ok(read_buf.filled().len()))
    }
}

impl futures::io::AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        tokio::io::AsyncWrite::poll_write(self, cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        tokio::io::AsyncWrite::poll_write_vectored(self, cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        tokio::io::AsyncWrite::poll_flush(self, cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        tokio::io::AsyncWrite::poll_shutdown(self, cx)
    }
}
