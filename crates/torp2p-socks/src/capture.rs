//! Recovering what the proxy actually answered.
//!
//! tokio-socks 0.5 turns every SOCKS reply code it does not know, tor's extended codes
//! 0xF0–0xF7 among them, into `Error::UnknownAuthMethod`. So the socket handed to it is wrapped
//! in a [`Recorder`] that keeps the bytes read during the handshake, and a failure is explained
//! from those bytes ([`diagnose`]) rather than from tokio-socks' error.
//!
//! tokio-socks reads exactly as many bytes as each step of the handshake needs, so the recorder
//! never holds bytes that belong to the stream after the handshake.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::error::{Malformed, Phase};

/// The most a SOCKS5 handshake reads: method reply (2), auth reply (2), CONNECT reply with a
/// domain name (4 + 1 + 255 + 2). Anything past this is not recorded.
const MAX_RECORDED: usize = 2 + 2 + 4 + 1 + 255 + 2;

/// Method selection reply codes (RFC 1928).
pub(crate) const METHOD_NONE: u8 = 0x00;
const METHOD_PASSWORD: u8 = 0x02;
const METHOD_REFUSED: u8 = 0xFF;

/// A socket that remembers the first bytes read from it.
#[derive(Debug)]
pub(crate) struct Recorder<S> {
    inner: S,
    seen: Vec<u8>,
}

impl<S> Recorder<S> {
    pub(crate) fn new(inner: S) -> Self {
        Self {
            inner,
            seen: Vec::with_capacity(16),
        }
    }

    /// The bytes read so far (at most [`MAX_RECORDED`]).
    pub(crate) fn seen(&self) -> &[u8] {
        &self.seen
    }

    pub(crate) fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Recorder<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let poll = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = poll {
            let new = buf.filled().get(before..).unwrap_or_default();
            let room = MAX_RECORDED.saturating_sub(this.seen.len());
            this.seen.extend(new.iter().take(room));
        }
        poll
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Recorder<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// What a failed handshake's bytes say went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Diagnosis {
    /// The proxy accepted none of the offered methods (method 0xFF).
    MethodsRefused,
    /// The username/password sub-negotiation answered a non-zero status.
    AuthRejected(u8),
    /// The CONNECT reply carried this non-zero reply code.
    Reply(u8),
    /// The reply broke the protocol.
    Malformed(Malformed),
    /// The bytes read are a complete, valid handshake prefix: the failure was not in them
    /// (an I/O error, or a connection closed where no reply was due yet).
    Incomplete(Phase),
}

/// Explains a failed handshake from the bytes the proxy sent, `seen`.
///
/// `offered_password` says whether the greeting offered username/password authentication.
/// Never panics, whatever `seen` holds.
pub(crate) fn diagnose(seen: &[u8], offered_password: bool) -> Diagnosis {
    // Method selection reply: VER METHOD.
    let [version, method, rest @ ..] = seen else {
        return Diagnosis::Incomplete(Phase::Greeting);
    };
    if *version != 0x05 {
        return Diagnosis::Malformed(Malformed::Version {
            phase: Phase::Greeting,
            expected: 0x05,
            found: *version,
        });
    }
    let rest = match *method {
        METHOD_NONE => rest,
        METHOD_PASSWORD if offered_password => {
            // Username/password reply (RFC 1929): VER STATUS.
            let [version, status, rest @ ..] = rest else {
                return Diagnosis::Incomplete(Phase::Authentication);
            };
            if *version != 0x01 {
                return Diagnosis::Malformed(Malformed::Version {
                    phase: Phase::Authentication,
                    expected: 0x01,
                    found: *version,
                });
            }
            if *status != 0x00 {
                return Diagnosis::AuthRejected(*status);
            }
            rest
        }
        METHOD_REFUSED => return Diagnosis::MethodsRefused,
        other => return Diagnosis::Malformed(Malformed::UnofferedMethod { method: other }),
    };
    // CONNECT reply: VER REP RSV ATYP ...
    let [version, reply, reserved, address_type, ..] = rest else {
        return Diagnosis::Incomplete(Phase::Connect);
    };
    if *version != 0x05 {
        return Diagnosis::Malformed(Malformed::Version {
            phase: Phase::Connect,
            expected: 0x05,
            found: *version,
        });
    }
    if *reply != 0x00 {
        return Diagnosis::Reply(*reply);
    }
    if *reserved != 0x00 {
        return Diagnosis::Malformed(Malformed::ReservedByte { found: *reserved });
    }
    if !matches!(address_type, 0x01 | 0x03 | 0x04) {
        return Diagnosis::Malformed(Malformed::AddressType {
            found: *address_type,
        });
    }
    Diagnosis::Incomplete(Phase::Connect)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_reply_codes_after_each_method() {
        assert_eq!(
            diagnose(&[5, 0, 5, 0xF0, 0, 1], false),
            Diagnosis::Reply(0xF0)
        );
        assert_eq!(
            diagnose(&[5, 2, 1, 0, 5, 0xF6, 0, 1], true),
            Diagnosis::Reply(0xF6)
        );
        assert_eq!(diagnose(&[5, 2, 1, 3], true), Diagnosis::AuthRejected(3));
        assert_eq!(diagnose(&[5, 0xFF], true), Diagnosis::MethodsRefused);
    }

    #[test]
    fn method_not_offered_is_malformed() {
        assert_eq!(
            diagnose(&[5, 2, 1, 0], false),
            Diagnosis::Malformed(Malformed::UnofferedMethod { method: 2 })
        );
        assert_eq!(
            diagnose(&[5, 0x80], true),
            Diagnosis::Malformed(Malformed::UnofferedMethod { method: 0x80 })
        );
    }

    #[test]
    fn incomplete_prefixes_name_their_phase() {
        assert_eq!(diagnose(&[], true), Diagnosis::Incomplete(Phase::Greeting));
        assert_eq!(diagnose(&[5], true), Diagnosis::Incomplete(Phase::Greeting));
        assert_eq!(
            diagnose(&[5, 2, 1], true),
            Diagnosis::Incomplete(Phase::Authentication)
        );
        assert_eq!(
            diagnose(&[5, 0, 5, 0, 0], false),
            Diagnosis::Incomplete(Phase::Connect)
        );
    }

    #[test]
    fn never_panics_on_any_short_input() {
        for a in 0..=255u8 {
            for b in [0u8, 1, 2, 3, 5, 0xF0, 0xFF] {
                for len in 0..=6 {
                    let bytes = [5, b, a, b, a, a];
                    let _ = diagnose(&bytes[..len], a % 2 == 0);
                }
            }
        }
    }

    proptest::proptest! {
        /// Whatever a "proxy" sends, the diagnosis never panics.
        #[test]
        fn diagnose_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300), password: bool) {
            let _ = diagnose(&bytes, password);
        }
    }

    #[tokio::test]
    async fn recorder_keeps_bytes_read_and_caps_them() {
        use tokio::io::AsyncReadExt;
        let data = vec![7u8; MAX_RECORDED + 100];
        let mut recorder = Recorder::new(&data[..]);
        let mut out = Vec::new();
        recorder.read_to_end(&mut out).await.unwrap();
        assert_eq!(out.len(), data.len());
        assert_eq!(recorder.seen().len(), MAX_RECORDED);
    }
}
