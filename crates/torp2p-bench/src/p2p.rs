//! The torp2p side shared by the phases: noise + yamux over the transport, hand-driven
//! connections (a muxer driven by a task of ours, substreams opened on request), and swarms
//! with `libp2p-ping` whose streams count their round trips. The listener is in
//! [`crate::server`].

use std::collections::VecDeque;
use std::future::poll_fn;
use std::io;
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use futures::{AsyncReadExt, AsyncWriteExt, StreamExt};
use libp2p_core::muxing::{StreamMuxerBox, StreamMuxerExt, SubstreamBox};
use libp2p_core::transport::{Boxed, DialOpts as CoreDialOpts, PortUse, upgrade::Version};
use libp2p_core::{Endpoint, Multiaddr, Transport as _};
use libp2p_identity::{Keypair, PeerId};
use libp2p_swarm::{Swarm, SwarmEvent};
use multistream_select::Negotiated;
use tokio::sync::{mpsc, oneshot};
use torp2p_daemon::Tor;
use torp2p_socks::Isolation;
use torp2p_transport as tor;

use crate::STEP;
use crate::counted::{Counted, Flights};
use crate::network::within;
use crate::server::serve;

pub(crate) const PING: &str = "/ipfs/ping/1.0.0";
pub(crate) const SINK: &str = "/torp2p-bench/sink/1.0.0";
/// The listener sends as many bytes as the dialer asks for (the download direction).
pub(crate) const SOURCE: &str = "/torp2p-bench/source/1.0.0";
/// libp2p-ping's payload.
pub(crate) const PING_SIZE: usize = 32;

pub(crate) type Upgraded = Boxed<(PeerId, StreamMuxerBox)>;

/// The tor a torp2p transport of the benchmark runs on: a C tor (its handle, shared by the
/// transports on it) or an embedded arti client (feature `arti`, shared the same way).
#[derive(Debug, Clone)]
pub(crate) enum TorHandle {
    CTor(Tor),
    #[cfg(feature = "arti")]
    Arti(tor::arti::Client),
}

impl TorHandle {
    /// A transport on this tor with `config`.
    pub(crate) fn transport(&self, config: tor::Config) -> Result<tor::Transport, String> {
        match self {
            TorHandle::CTor(t) => tor::Transport::from_tor(t.clone(), config),
            #[cfg(feature = "arti")]
            TorHandle::Arti(c) => tor::Transport::from_arti(c.clone(), config),
        }
        .map_err(|e| e.to_string())
    }
}

/// noise + yamux over `transport`, negotiated with `version`.
pub(crate) fn upgrade<T>(
    transport: T,
    keypair: &Keypair,
    version: Version,
) -> Result<Upgraded, String>
where
    T: libp2p_core::Transport + Send + Unpin + 'static,
    T::Output: futures::AsyncRead + futures::AsyncWrite + Unpin + Send + 'static,
    T::Error: Send + Sync + 'static,
    T::Dial: Send + 'static,
    T::ListenerUpgrade: Send + 'static,
{
    Ok(transport
        .upgrade(version)
        .authenticate(libp2p_noise::Config::new(keypair).map_err(|e| e.to_string())?)
        .multiplex(libp2p_yamux::Config::default())
        .timeout(STEP)
        .boxed())
}

fn dialer_config(isolation: Isolation) -> tor::Config {
    tor::Config::new()
        .with_dial_config(
            tor::socks::Config::new()
                .with_isolation(isolation)
                .with_timeout(STEP),
        )
        // The scale phase measures concurrent dials through tor: none waits in the
        // transport's line (its default of 32 would queue the rest).
        .with_max_concurrent_dials(usize::MAX)
}

type OpenRequest = oneshot::Sender<io::Result<SubstreamBox>>;

/// Drives a connection: its background work, substreams we open (`open`), and, on the
/// listener (`open` is `None`), the substreams the peer opens.
pub(crate) async fn drive(
    mut muxer: StreamMuxerBox,
    mut open: Option<mpsc::Receiver<OpenRequest>>,
) {
    let serving = open.is_none();
    let mut waiting: VecDeque<OpenRequest> = VecDeque::new();
    let mut streams = Vec::new();
    poll_fn(|cx| {
        loop {
            let mut progress = false;
            if let Some(rx) = open.as_mut() {
                match rx.poll_recv(cx) {
                    Poll::Ready(Some(request)) => {
                        waiting.push_back(request);
                        progress = true;
                    }
                    Poll::Ready(None) => return Poll::Ready(()),
                    Poll::Pending => {}
                }
            }
            if !waiting.is_empty()
                && let Poll::Ready(r) = muxer.poll_outbound_unpin(cx)
            {
                if let Some(request) = waiting.pop_front() {
                    let _ = request.send(r);
                }
                progress = true;
            }
            match muxer.poll_inbound_unpin(cx) {
                Poll::Ready(Ok(s)) => {
                    if serving {
                        streams.retain(|t: &tokio::task::JoinHandle<_>| !t.is_finished());
                        streams.push(tokio::spawn(serve(s)));
                    }
                    progress = true;
                }
                Poll::Ready(Err(_)) => return Poll::Ready(()),
                Poll::Pending => {}
            }
            match muxer.poll_unpin(cx) {
                Poll::Ready(Ok(_)) => progress = true,
                Poll::Ready(Err(_)) => return Poll::Ready(()),
                Poll::Pending => {}
            }
            if !progress {
                return Poll::Pending;
            }
        }
    })
    .await;
    for s in streams {
        s.abort();
    }
}

/// A hand-driven connection on the dialer's side; dropping it closes the connection.
pub(crate) struct Conn {
    open: mpsc::Sender<OpenRequest>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Conn {
    pub(crate) fn new(muxer: StreamMuxerBox) -> Self {
        let (open, rx) = mpsc::channel(4);
        let task = tokio::spawn(drive(muxer, Some(rx)));
        Self { open, task }
    }

    /// Opens a substream for `protocol` (multistream-select `V1Lazy`: the proposal goes
    /// with the first data).
    pub(crate) async fn open(
        &self,
        protocol: &'static str,
    ) -> Result<Negotiated<SubstreamBox>, String> {
        let (tx, rx) = oneshot::channel();
        self.open
            .send(tx)
            .await
            .map_err(|_| "the connection is closed".to_string())?;
        let s = rx
            .await
            .map_err(|_| "the connection is closed".to_string())?
            .map_err(|e| format!("cannot open a substream: {e}"))?;
        let (_, s) = multistream_select::dialer_select_proto(s, [protocol], Version::V1Lazy)
            .await
            .map_err(|e| format!("negotiating {protocol}: {e}"))?;
        Ok(s)
    }

    /// One libp2p ping on a new substream.
    pub(crate) async fn ping(&self) -> Result<(), String> {
        let mut s = self.open(PING).await?;
        ping_on(&mut s).await?;
        let _ = s.close().await;
        Ok(())
    }
}

/// One libp2p ping (a 32-byte payload echoed, as `libp2p-ping` sends it) on a ping
/// substream that stays open; seconds.
pub(crate) async fn ping_on(s: &mut Negotiated<SubstreamBox>) -> Result<f64, String> {
    let payload: [u8; PING_SIZE] = std::array::from_fn(|i| i as u8);
    let mut back = [0u8; PING_SIZE];
    let t = std::time::Instant::now();
    s.write_all(&payload)
        .await
        .map_err(|e| format!("ping: {e}"))?;
    s.flush().await.map_err(|e| format!("ping: {e}"))?;
    s.read_exact(&mut back)
        .await
        .map_err(|e| format!("ping: {e}"))?;
    let elapsed = t.elapsed().as_secs_f64();
    if back != payload {
        return Err("ping: other bytes came back".into());
    }
    Ok(elapsed)
}

/// A dialer without a swarm, on `tor`.
pub(crate) fn dialer(tor: &TorHandle, isolation: Isolation) -> Result<Upgraded, String> {
    upgrade(
        tor.transport(dialer_config(isolation))?,
        &Keypair::generate_ed25519(),
        Version::V1Lazy,
    )
}

pub(crate) async fn connect(transport: &mut Upgraded, addr: &Multiaddr) -> Result<Conn, String> {
    let dial = transport
        .dial(
            addr.clone(),
            CoreDialOpts {
                role: Endpoint::Dialer,
                port_use: PortUse::Reuse,
            },
        )
        .map_err(|e| format!("dial: {e}"))?;
    let (_, muxer) = dial.await.map_err(|e| format!("dial: {e}"))?;
    Ok(Conn::new(muxer))
}

/// Which stream the last connection of a swarm's transport got: its round-trip counter.
#[derive(Default)]
pub(crate) struct Slot(Mutex<Option<Arc<Flights>>>);

impl Slot {
    pub(crate) fn take(&self) -> Option<Arc<Flights>> {
        self.0.lock().ok().and_then(|mut s| s.take())
    }
}

/// A swarm with `libp2p-ping` on `tor`: torp2p as the project sets it up (`lazy`:
/// multistream-select `V1Lazy` for the connection upgrade and for substreams, through
/// `with_substream_upgrade_protocol_override`) or stock, as libp2p 0.57's `SwarmBuilder` sets
/// up its transports (`V1Lazy` for the connection upgrade: `.upgrade(Version::V1Lazy)` in its
/// tcp, websocket and relay phases) and its swarm (no override: substreams negotiate with the
/// default, `V1`). Every connection's stream is wrapped to count round trips, the counter put
/// into the slot.
pub(crate) fn ping_swarm(
    tor: &TorHandle,
    isolation: Isolation,
    lazy: bool,
    interval: Duration,
) -> Result<(Swarm<libp2p_ping::Behaviour>, Arc<Slot>), String> {
    let keypair = Keypair::generate_ed25519();
    let slot = Arc::new(Slot::default());
    let counting = slot.clone();
    let transport = tor
        .transport(dialer_config(isolation))?
        .map(move |stream, _| {
            let flights = Arc::new(Flights::default());
            if let Ok(mut s) = counting.0.lock() {
                *s = Some(flights.clone());
            }
            Counted::new(stream, flights)
        });
    // Both variants upgrade the connection with V1Lazy; they differ in substreams only.
    let transport = upgrade(transport, &keypair, Version::V1Lazy)?;
    let mut config = libp2p_swarm::Config::with_tokio_executor()
        .with_idle_connection_timeout(Duration::from_secs(600));
    if lazy {
        config = config.with_substream_upgrade_protocol_override(Version::V1Lazy);
    }
    let swarm = Swarm::new(
        transport,
        libp2p_ping::Behaviour::new(
            libp2p_ping::Config::new()
                .with_interval(interval)
                .with_timeout(STEP),
        ),
        keypair.public().to_peer_id(),
        config,
    );
    Ok((swarm, slot))
}

/// Drives `swarm` until a ping on `connection` (any connection if `None`) succeeds: its
/// RTT in seconds.
pub(crate) async fn next_ping(
    swarm: &mut Swarm<libp2p_ping::Behaviour>,
    connection: Option<libp2p_swarm::ConnectionId>,
) -> Result<f64, String> {
    within(STEP, "a ping", async {
        loop {
            match swarm.select_next_some().await {
                SwarmEvent::Behaviour(libp2p_ping::Event {
                    connection: c,
                    result,
                    ..
                }) if connection.is_none_or(|id| id == c) => {
                    return result
                        .map(|d| d.as_secs_f64())
                        .map_err(|e| format!("ping failed: {e}"));
                }
                SwarmEvent::OutgoingConnectionError {
                    connection_id,
                    error,
                    ..
                } if connection.is_none_or(|id| id == connection_id) => {
                    return Err(format!("dial failed: {error}"));
                }
                SwarmEvent::ConnectionClosed {
                    connection_id,
                    cause,
                    ..
                } if connection.is_none_or(|id| id == connection_id) => {
                    return Err(format!("connection closed: {cause:?}"));
                }
                _ => {}
            }
        }
    })
    .await
}
