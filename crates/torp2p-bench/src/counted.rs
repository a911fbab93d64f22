//! A stream wrapper that counts round trips: how often data came in after we had sent some.
//!
//! On the dialer's side this is the number of times it had to wait for the other end: one per
//! request/response exchange, however many reads or writes each one took, and pipelined
//! messages (sent without waiting) count once.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

const NOTHING: u8 = 0;
const WROTE: u8 = 1;
const READ: u8 = 2;

#[derive(Debug)]
pub(crate) struct Flights {
    last: AtomicU8,
    round_trips: AtomicU32,
    created: Instant,
    /// The first reads and writes: (ms since creation, 'r' or 'w', bytes).
    log: Mutex<Vec<(f64, char, usize)>>,
}

impl Default for Flights {
    fn default() -> Self {
        Self {
            last: AtomicU8::new(NOTHING),
            round_trips: AtomicU32::new(0),
            created: Instant::now(),
            log: Mutex::new(Vec::new()),
        }
    }
}

impl Flights {
    fn note(&self, dir: char, n: usize) {
        if let Ok(mut log) = self.log.lock()
            && log.len() < 64
        {
            log.push((self.created.elapsed().as_secs_f64() * 1000.0, dir, n));
        }
    }

    fn wrote(&self, n: usize) {
        if n > 0 {
            self.note('w', n);
            self.last.store(WROTE, Ordering::Relaxed);
        }
    }

    fn read(&self, n: usize) {
        if n > 0 {
            self.note('r', n);
            if self.last.swap(READ, Ordering::Relaxed) == WROTE {
                self.round_trips.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// The reads and writes so far, one line: `+12.3ms w80 +30.1ms r93 ...`.
    pub(crate) fn timeline(&self) -> String {
        self.log
            .lock()
            .map(|log| {
                log.iter()
                    .map(|(ms, d, n)| format!("+{ms:.1}ms {d}{n}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default()
    }

    /// Milliseconds since the stream was wrapped (just after the SOCKS reply).
    pub(crate) fn since_created_ms(&self) -> f64 {
        self.created.elapsed().as_secs_f64() * 1000.0
    }

    /// When the stream was wrapped: just after the SOCKS reply, or when arti's stream opened.
    pub(crate) fn created(&self) -> Instant {
        self.created
    }

    pub(crate) fn round_trips(&self) -> u32 {
        self.round_trips.load(Ordering::Relaxed)
    }

    /// Whether anything went either way.
    pub(crate) fn is_used(&self) -> bool {
        self.last.load(Ordering::Relaxed) != NOTHING
    }
}

#[cfg(test)]
mod tests {
    use super::Flights;

    #[test]
    fn round_trips_are_data_read_after_data_written() {
        let f = Flights::default();
        // Pipelined writes and a reply in pieces: one round trip.
        f.wrote(28);
        f.wrote(34);
        f.read(1);
        f.read(202);
        assert_eq!(f.round_trips(), 1);
        // Empty reads and writes do not count.
        f.wrote(0);
        f.read(5);
        assert_eq!(f.round_trips(), 1);
        f.wrote(170);
        f.read(0);
        f.read(290);
        assert_eq!(f.round_trips(), 2);
        assert!(f.is_used());
        assert_eq!(f.timeline().matches(" r").count() + 1, 5);
    }
}

#[derive(Debug)]
pub(crate) struct Counted<S> {
    inner: S,
    flights: Arc<Flights>,
}

impl<S> Counted<S> {
    pub(crate) fn new(inner: S, flights: Arc<Flights>) -> Self {
        Self { inner, flights }
    }
}

impl<S: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Counted<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let r = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = r {
            this.flights.read(buf.filled().len() - before);
        }
        r
    }
}

impl<S: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for Counted<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = r {
            this.flights.wrote(n);
        }
        r
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

impl<S: futures::io::AsyncRead + Unpin> futures::io::AsyncRead for Counted<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(n)) = r {
            this.flights.read(n);
        }
        r
    }
}

impl<S: futures::io::AsyncWrite + Unpin> futures::io::AsyncWrite for Counted<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = r {
            this.flights.wrote(n);
        }
        r
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = r {
            this.flights.wrote(n);
        }
        r
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_close(cx)
    }
}
