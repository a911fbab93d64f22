//! [`Stream`]: a connection through tor, in either direction.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::ReadBuf;

/// A connection through tor: the transport's `Output`, before libp2p's upgrades (noise,
/// yamux) run on it.
///
/// With C tor, an outgoing connection is the connection to tor's SOCKS port after the SOCKS
/// handshake; an incoming one is a connection tor made to the listener's socket: its private
/// unix socket, or its loopback TCP port for a tor that cannot reach that (both are
/// [`torp2p_socks::Stream`]s: a TCP or unix byte stream to tor). With the embedded arti
/// backend it is an arti stream in the process. Either way it is a byte stream to the peer.
/// It implements both the `futures` I/O traits (which libp2p uses) and tokio's.
#[derive(Debug)]
pub struct Stream {
    inner: Inner,
    inbound: bool,
}

/// The byte stream, by backend.
#[derive(Debug)]
enum Inner {
    Socks(torp2p_socks::Stream),
    #[cfg(feature = "arti")]
    Arti(torp2p_arti::Stream),
}

/// Calls `$method` on the stream inside, whichever backend's it is.
macro_rules! inner {
    ($self:ident, $s:ident => $call:expr) => {
        match &mut $self.get_mut().inner {
            Inner::Socks($s) => {
                let $s = Pin::new($s);
                $call
            }
            #[cfg(feature = "arti")]
            Inner::Arti($s) => {
                let $s = Pin::new($s);
                $call
            }
        }
    };
}

impl Stream {
    pub(crate) fn outbound(stream: torp2p_socks::Stream) -> Self {
        Stream {
            inner: Inner::Socks(stream),
            inbound: false,
        }
    }

    pub(crate) fn inbound(stream: torp2p_socks::Stream) -> Self {
        Stream {
            inner: Inner::Socks(stream),
            inbound: true,
        }
    }

    /// A stream of the embedded arti backend, dialed (`inbound == false`) or accepted.
    #[cfg(feature = "arti")]
    pub(crate) fn arti(stream: torp2p_arti::Stream, inbound: bool) -> Self {
        Stream {
            inner: Inner::Arti(stream),
            inbound,
        }
    }

    /// Whether the connection came in through one of our onion services (rather than being
    /// dialed by us).
    pub fn is_inbound(&self) -> bool {
        self.inbound
    }
}

impl tokio::io::AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        inner!(self, s => s.poll_read(cx, buf))
    }
}

impl tokio::io::AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        inner!(self, s => s.poll_write(cx, buf))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        inner!(self, s => s.poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        inner!(self, s => s.poll_shutdown(cx))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        inner!(self, s => s.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        match &self.inner {
            Inner::Socks(s) => s.is_write_vectored(),
            #[cfg(feature = "arti")]
            Inner::Arti(s) => s.is_write_vectored(),
        }
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
