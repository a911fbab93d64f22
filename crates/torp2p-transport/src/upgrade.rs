//! The transport upgraded as a libp2p swarm needs it, in one call.

use std::time::Duration;

use libp2p_core::muxing::StreamMuxerBox;
use libp2p_core::transport::Boxed;
use libp2p_core::upgrade::Version;
use libp2p_core::{PeerId, Transport as _};
use libp2p_identity::Keypair;

use crate::error::Error;
use crate::transport::Transport;

/// What the upgrade timeout allows for noise and yamux on top of the dial itself: a few round
/// trips over an onion circuit, at about a second each on the live network.
pub const HANDSHAKE_TIME: Duration = Duration::from_secs(30);

impl Transport {
    /// This transport upgraded as a swarm needs it: multistream-select
    /// ([`Version::V1Lazy`]: one round trip less, which counts over Tor), noise with
    /// `identity`, yamux, and a timeout over the whole outgoing connection that never cuts a
    /// dial short of tor's own answer: twice the dial timeout (a dial may wait its timeout in
    /// line for a slot, see [`Config::with_max_concurrent_dials`](crate::Config), then take its
    /// timeout through tor) plus [`HANDSHAKE_TIME`]. With the default 120 s dial timeout:
    /// 270 s. It is what `SwarmBuilder::with_other_transport` takes:
    ///
    /// ```no_run
    /// use torp2p_transport as tor;
    ///
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let key = tor::OnionKey::load_or_generate("peer.key")?;
    /// let transport = tor::Transport::new(tor::Config::new().with_key(key.clone())).await?;
    /// let mut swarm = libp2p::SwarmBuilder::with_existing_identity(tor::identity_from_key(&key))
    ///     .with_tokio()
    ///     .with_other_transport(|id| Ok(transport.upgraded(id)?))?
    ///     .with_behaviour(|_| libp2p::ping::Behaviour::default())?
    ///     .build();
    /// swarm.listen_on(tor::listen_addr(&key, 4001)?)?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Noise`] if noise cannot be set up with `identity` (it cannot sign its
    /// handshake key).
    pub fn upgraded(self, identity: &Keypair) -> Result<Boxed<(PeerId, StreamMuxerBox)>, Error> {
        let timeout = self.upgrade_timeout();
        let noise = libp2p_noise::Config::new(identity).map_err(Error::Noise)?;
        Ok(self
            .upgrade(Version::V1Lazy)
            .authenticate(noise)
            .multiplex(libp2p_yamux::Config::default())
            .timeout(timeout)
            .boxed())
    }

    /// The timeout [`upgraded`](Self::upgraded) puts over a whole outgoing connection.
    pub fn upgrade_timeout(&self) -> Duration {
        self.dial_timeout() * 2 + HANDSHAKE_TIME
    }
}
