//! [`Stream`]: a byte stream over Tor, dialed or accepted.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use arti_client::DataStream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A byte stream to or from an onion service, over a Tor circuit (tokio's `AsyncRead` and
/// `AsyncWrite`). Dropping it closes the stream.
pub struct Stream {
    inner: Pin<Box<DataStream>>,
}

impl Stream {
    pub(crate) fn new(inner: DataStream) -> Self {
        Self {
            inner: Box::pin(inner),
        }
    }
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stream").finish_non_exhaustive()
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.inner.as_mut().poll_read(cx, buf)
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.inner.as_mut().poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.inner.as_mut().poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.inner.as_mut().poll_shutdown(cx)
    }
}
