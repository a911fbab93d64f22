//! The baseline's transport: libp2p-tcp (tokio) dialling from a new port every time.
//!
//! With `PortUse::Reuse` (what the swarm asks for by default) libp2p-tcp binds each dial to
//! the port it listens on. Two peers that learn of each other at the same moment (Kademlia's
//! answers reach both at once) then dial each other from their listen ports to their listen
//! ports: one 4-tuple, a TCP simultaneous open, one connection on which both sides are the
//! noise initiator, and the handshake fails, every time they retry in step. Seen with
//! `--delay-ms 25` (2 of 5 peers without their mesh after 180 s, though Kademlia bootstrapped
//! every 5 s). A dial from a new port has a 4-tuple of its own; onion services have no ports
//! to reuse, so this is the like-for-like baseline.

use std::pin::Pin;
use std::task::{Context, Poll};

use libp2p_core::Multiaddr;
use libp2p_core::transport::{DialOpts, ListenerId, PortUse, TransportError, TransportEvent};

/// libp2p-tcp's tokio transport whose dials never reuse the listen port.
pub(crate) struct NewPorts(libp2p_tcp::tokio::Transport);

impl NewPorts {
    /// libp2p-tcp with its defaults (`TCP_NODELAY` on).
    pub(crate) fn new() -> Self {
        NewPorts(libp2p_tcp::tokio::Transport::new(libp2p_tcp::Config::new()))
    }
}

impl libp2p_core::Transport for NewPorts {
    type Output = <libp2p_tcp::tokio::Transport as libp2p_core::Transport>::Output;
    type Error = <libp2p_tcp::tokio::Transport as libp2p_core::Transport>::Error;
    type ListenerUpgrade =
        <libp2p_tcp::tokio::Transport as libp2p_core::Transport>::ListenerUpgrade;
    type Dial = <libp2p_tcp::tokio::Transport as libp2p_core::Transport>::Dial;

    fn listen_on(
        &mut self,
        id: ListenerId,
        addr: Multiaddr,
    ) -> Result<(), TransportError<Self::Error>> {
        self.0.listen_on(id, addr)
    }

    fn remove_listener(&mut self, id: ListenerId) -> bool {
        self.0.remove_listener(id)
    }

    fn dial(
        &mut self,
        addr: Multiaddr,
        opts: DialOpts,
    ) -> Result<Self::Dial, TransportError<Self::Error>> {
        self.0.dial(
            addr,
            DialOpts {
                port_use: PortUse::New,
                ..opts
            },
        )
    }

    fn poll(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<TransportEvent<Self::ListenerUpgrade, Self::Error>> {
        Pin::new(&mut self.get_mut().0).poll(cx)
    }
}
