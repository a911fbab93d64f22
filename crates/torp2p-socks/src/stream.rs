//! The stream a dial returns, and opening the connection to tor's SOCKS port.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
#[cfg(unix)]
use tokio::net::UnixStream;
use torp2p_addr::LocalAddr;

/// Opens a connection to tor's SOCKS port at `proxy` (no SOCKS bytes yet).
pub(crate) async fn open(proxy: &LocalAddr, nodelay: bool) -> io::Result<Stream> {
    match proxy {
        LocalAddr::Tcp(addr) => {
            let tcp = TcpStream::connect(addr).await?;
            tcp.set_nodelay(nodelay)?;
            Ok(Stream(Inner::Tcp(tcp)))
        }
        #[cfg(unix)]
        LocalAddr::Unix(path) => Ok(Stream(Inner::Unix(UnixStream::connect(path).await?))),
        #[cfg(not(unix))]
        LocalAddr::Unix(_) => Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "unix sockets are not supported on this platform",
        )),
    }
}

/// A connection to the target through tor: a byte stream, like a `TcpStream`.
///
/// Underneath it is the connection to tor's SOCKS port (TCP or unix socket), past the SOCKS
/// handshake. Dropping it closes the connection, and tor closes the stream to the target.
#[derive(Debug)]
pub struct Stream(Inner);

#[derive(Debug)]
enum Inner {
    Tcp(TcpStream),
    #[cfg(unix)]
    Unix(UnixStream),
}

impl Stream {
    /// Whether the connection to tor is a unix socket rather than TCP.
    pub fn is_unix(&self) -> bool {
        match &self.0 {
            Inner::Tcp(_) => false,
            #[cfg(unix)]
            Inner::Unix(_) => true,
        }
    }
}

/// A unix-socket connection through tor as a [`Stream`]: for example one that tor made to an
/// onion service whose target is a unix socket.
#[cfg(unix)]
impl From<UnixStream> for Stream {
    fn from(stream: UnixStream) -> Self {
        Stream(Inner::Unix(stream))
    }
}

/// A TCP connection through tor as a [`Stream`]: for example one that tor made to an onion
/// service whose target is a loopback TCP port.
impl From<TcpStream> for Stream {
    fn from(stream: TcpStream) -> Self {
        Stream(Inner::Tcp(stream))
    }
}

/// Forwards one `AsyncRead`/`AsyncWrite` method to the inner stream.
macro_rules! forward {
    ($self:ident, $s:ident => $call:expr) => {
        match &mut $self.get_mut().0 {
            Inner::Tcp($s) => {
                let $s = Pin::new($s);
                $call
            }
            #[cfg(unix)]
            Inner::Unix($s) => {
                let $s = Pin::new($s);
                $call
            }
        }
    };
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        forward!(self, s => s.poll_read(cx, buf))
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        forward!(self, s => s.poll_write(cx, buf))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        forward!(self, s => s.poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        forward!(self, s => s.poll_shutdown(cx))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        forward!(self, s => s.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        match &self.0 {
            Inner::Tcp(s) => s.is_write_vectored(),
            #[cfg(unix)]
            Inner::Unix(s) => s.is_write_vectored(),
        }
    }
}
