//! What a simulation is made of, decided from its parameters and seed alone: the hosts (which
//! region, which address, how much bandwidth), the onion keys of the peers and who dials whom.

use std::net::Ipv4Addr;

use sha2::{Digest, Sha512};
use torp2p_daemon::OnionKey;

use crate::graph::{PEER_REGIONS, RELAY_REGIONS, Region};

/// The parameters of one simulation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Params {
    /// Relays besides the directory authorities.
    pub(crate) relays: usize,
    /// torp2p peers, each on a host of its own with its own tor.
    pub(crate) peers: usize,
    /// Shadow's seed, and the seed of every choice made here.
    pub(crate) seed: u64,
    /// Distinct peers each peer dials (once with raw SOCKS, once with torp2p).
    pub(crate) dials: usize,
    /// Round trips per connection.
    pub(crate) pings: usize,
    /// Simulated seconds between round trips.
    pub(crate) ping_interval_s: u64,
    /// Simulated second at which the peers start dialing.
    pub(crate) dial_at_s: u64,
    /// Simulated seconds a dial may take, connecting and every round trip included.
    pub(crate) dial_timeout_s: u64,
    /// Ping workload: simulated seconds from the start of one of a peer's dials to the start
    /// of its next, at the least (0: each dial starts when the one before ends). Spreads the
    /// dials over the run, so that churn meets them.
    pub(crate) dial_every_s: u64,
    /// Churn: this fraction (per mille) of the relays, and of the peers, leave and come back.
    pub(crate) churn_permille: u32,
    /// What the peers do.
    pub(crate) workload: Workload,
    /// Mesh workload: gossipsub messages, one every [`MESSAGE_EVERY_S`].
    pub(crate) messages: usize,
}

/// What the peers do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Workload {
    /// Each peer dials `dials` others, raw and with torp2p, and pings.
    Ping,
    /// A gossipsub and Kademlia mesh of all peers; messages from random peers.
    Mesh,
}

/// Mesh workload: seconds from joining to the first message, between messages, and from the
/// last message to the end.
pub(crate) const MESH_SETTLE_S: u64 = 120;
pub(crate) const MESSAGE_EVERY_S: u64 = 10;

impl Params {
    /// Directory authorities: 3 from 20 relays on (the live network has 9), else 1.
    pub(crate) fn authorities(&self) -> usize {
        if self.relays >= 20 { 3 } else { 1 }
    }

    /// The simulated second at which the simulation stops: every dial has had its timeout.
    pub(crate) fn stop_s(&self) -> u64 {
        match self.workload {
            Workload::Ping => {
                self.dial_at_s
                    + (2 * self.dials as u64 + 1) * self.dial_timeout_s.max(self.dial_every_s)
            }
            Workload::Mesh => {
                self.dial_at_s + 2 * MESH_SETTLE_S + self.messages as u64 * MESSAGE_EVERY_S
            }
        }
    }
}

/// What a host runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// A directory authority (and relay).
    Authority,
    /// A relay: guard, middle and HSDir (the network has no exits: onion services need none).
    Relay,
    /// A torp2p peer: a tor (client and onion-service host) and `torp2p-sim peer`.
    Peer,
}

/// One simulated host.
#[derive(Debug, Clone)]
pub(crate) struct Host {
    pub(crate) name: String,
    pub(crate) role: Role,
    /// Index among the hosts of its role.
    pub(crate) index: usize,
    pub(crate) ip: Ipv4Addr,
    pub(crate) region: &'static Region,
    /// Mbit/s down and up.
    pub(crate) bandwidth: (u32, u32),
    /// `Some((leave, back))`: the simulated seconds at which its processes stop and start again.
    pub(crate) churn: Option<(u64, u64)>,
}

/// A peer's dials, in order: the peer dialed and whether the raw stream goes first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Dial {
    pub(crate) target: usize,
    pub(crate) raw_first: bool,
}

/// Everything the seed decides.
#[derive(Debug)]
pub(crate) struct Plan {
    pub(crate) params: Params,
    pub(crate) hosts: Vec<Host>,
    /// Per peer: its onion key (torp2p) and that of its raw service.
    pub(crate) keys: Vec<(OnionKey, OnionKey)>,
    /// Per peer: whom it dials.
    pub(crate) dials: Vec<Vec<Dial>>,
    /// Mesh workload, per peer: the peers it joins through.
    pub(crate) bootstrap: Vec<Vec<usize>>,
    /// Mesh workload: (publisher, simulated second, message number), in time order.
    pub(crate) publish: Vec<(usize, u64, u32)>,
}

/// Relay bandwidths in Mbit/s and how many relays of 20 get each: a coarse picture of the
/// advertised bandwidths on Tor Metrics (a few fast relays, most in the tens of Mbit/s).
const RELAY_BANDWIDTHS: [(u32, u32); 5] = [(10, 4), (25, 6), (50, 5), (100, 3), (250, 2)];
/// A peer's access link in Mbit/s (down, up): a home broadband line.
const PEER_BANDWIDTH: (u32, u32) = (50, 10);
/// An authority's link in Mbit/s.
const AUTHORITY_BANDWIDTH: (u32, u32) = (1000, 1000);

impl Plan {
    /// The plan of `params`; the same parameters always give the same plan.
    pub(crate) fn new(params: Params) -> Result<Self, String> {
        if params.peers < 2 {
            return Err(format!(
                "--peers {}: a simulation needs at least 2 peers to dial each other",
                params.peers
            ));
        }
        if params.relays < 3 {
            return Err(format!(
                "--relays {}: onion services need at least 3 relays (a guard, a middle, an HSDir)",
                params.relays
            ));
        }
        let ping = params.workload == Workload::Ping;
        if ping && (params.dials == 0 || params.dials >= params.peers) {
            return Err(format!(
                "--dials {}: each peer dials between 1 and {} other peers (--peers {} - 1)",
                params.dials,
                params.peers - 1,
                params.peers
            ));
        }
        let mut rng = Rng::new(params.seed);
        let mut hosts = Vec::new();
        for i in 0..params.authorities() {
            hosts.push(Host {
                name: format!("auth{i}"),
                role: Role::Authority,
                index: i,
                ip: Ipv4Addr::new(100, 0, 0, 1 + i as u8),
                region: RELAY_REGIONS[i % RELAY_REGIONS.len()].0,
                bandwidth: AUTHORITY_BANDWIDTH,
                churn: None,
            });
        }
        let churned = |rng: &mut Rng| rng.below(1000) < u64::from(params.churn_permille);
        for i in 0..params.relays {
            let region = pick(&mut rng, &RELAY_REGIONS);
            let bandwidth = *pick(&mut rng, &RELAY_BANDWIDTHS);
            let churn = churned(&mut rng).then(|| churn_times(&mut rng, &params));
            hosts.push(Host {
                name: format!("relay{i}"),
                role: Role::Relay,
                index: i,
                ip: numbered(1, i),
                region,
                bandwidth: (bandwidth, bandwidth),
                churn,
            });
        }
        for i in 0..params.peers {
            let churn = churned(&mut rng).then(|| churn_times(&mut rng, &params));
            hosts.push(Host {
                name: format!("peer{i}"),
                role: Role::Peer,
                index: i,
                ip: numbered(2, i),
                // Round robin, so that even two peers are far apart.
                region: PEER_REGIONS[i % PEER_REGIONS.len()],
                bandwidth: PEER_BANDWIDTH,
                churn,
            });
        }
        let keys = (0..params.peers)
            .map(|i| {
                Ok((
                    onion_key(params.seed, "torp2p", i)?,
                    onion_key(params.seed, "raw", i)?,
                ))
            })
            .collect::<Result<Vec<_>, String>>()?;
        let dials = (0..params.peers)
            .map(|i| {
                let mut others: Vec<usize> = (0..params.peers).filter(|&j| j != i).collect();
                (0..if ping { params.dials } else { 0 })
                    .map(|k| {
                        let pos = rng.below(others.len() as u64) as usize;
                        Dial {
                            target: others.swap_remove(pos),
                            raw_first: (i + k) % 2 == 0,
                        }
                    })
                    .collect()
            })
            .collect();
        let bootstrap = (0..params.peers)
            .map(|i| {
                let mut others: Vec<usize> = (0..params.peers).filter(|&j| j != i).collect();
                (0..others.len().min(2))
                    .map(|_| others.swap_remove(rng.below(others.len() as u64) as usize))
                    .collect()
            })
            .collect();
        let publish = (0..params.messages)
            .map(|k| {
                let at = params.dial_at_s + MESH_SETTLE_S + k as u64 * MESSAGE_EVERY_S;
                (rng.below(params.peers as u64) as usize, at, k as u32)
            })
            .collect();
        Ok(Self {
            params,
            hosts,
            keys,
            dials,
            bootstrap,
            publish,
        })
    }

    /// The hosts of one role.
    pub(crate) fn hosts(&self, role: Role) -> impl Iterator<Item = &Host> {
        self.hosts.iter().filter(move |h| h.role == role)
    }
}

/// 100.`net`.x.y for the `i`-th host of a role (up to 62,500 of each).
fn numbered(net: u8, i: usize) -> Ipv4Addr {
    Ipv4Addr::new(100, net, (i / 250) as u8, 1 + (i % 250) as u8)
}

/// When a churning host leaves and comes back: it leaves in the first half of the dialing
/// phase and is away for one to three dial timeouts.
fn churn_times(rng: &mut Rng, p: &Params) -> (u64, u64) {
    let span = (p.stop_s() - p.dial_at_s) / 2;
    let leave = p.dial_at_s + rng.below(span.max(1));
    let away = p.dial_timeout_s * (1 + rng.below(3));
    (leave, leave + away)
}

/// An item of `items`, drawn with the weights beside them.
fn pick<'a, T>(rng: &mut Rng, items: &'a [(T, u32)]) -> &'a T {
    let total: u64 = items.iter().map(|(_, w)| u64::from(*w)).sum();
    let mut x = rng.below(total);
    for (item, w) in items {
        if x < u64::from(*w) {
            return item;
        }
        x -= u64::from(*w);
    }
    &items[items.len() - 1].0
}

/// The onion key of peer `i` for `what`: an ed25519 key expanded (SHA-512, clamped) from a
/// hash of the seed, so that the same seed gives the same onion addresses.
fn onion_key(seed: u64, what: &str, i: usize) -> Result<OnionKey, String> {
    let mut h = Sha512::new();
    h.update(b"torp2p-sim onion key\0");
    h.update(seed.to_be_bytes());
    h.update(what.as_bytes());
    h.update((i as u64).to_be_bytes());
    let secret = h.finalize();
    let mut expanded: [u8; 64] = Sha512::digest(&secret[..32]).into();
    expanded[0] &= 248;
    expanded[31] &= 63;
    expanded[31] |= 64;
    OnionKey::from_expanded_secret(expanded).map_err(|e| format!("onion key of peer {i}: {e}"))
}

/// SplitMix64: a small generator whose whole state is the seed, so a plan is reproducible
/// from its parameters.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn params() -> Params {
        Params {
            relays: 50,
            peers: 10,
            seed: 7,
            dials: 3,
            pings: 5,
            ping_interval_s: 1,
            dial_at_s: 300,
            dial_timeout_s: 120,
            dial_every_s: 0,
            churn_permille: 0,
            workload: Workload::Ping,
            messages: 20,
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_plan_and_another_seed_another() {
        let a = Plan::new(params()).unwrap();
        let b = Plan::new(params()).unwrap();
        let c = Plan::new(Params {
            seed: 8,
            ..params()
        })
        .unwrap();
        assert_eq!(a.dials, b.dials);
        assert_eq!((&a.bootstrap, &a.publish), (&b.bootstrap, &b.publish));
        assert_eq!(a.publish.len(), 20);
        assert!(
            a.bootstrap
                .iter()
                .enumerate()
                .all(|(i, b)| b.len() == 2 && !b.contains(&i))
        );
        assert_eq!(a.keys, b.keys);
        assert_ne!(a.dials, c.dials);
        assert_ne!(a.keys, c.keys);
        let regions = |p: &Plan| p.hosts.iter().map(|h| h.region.name).collect::<Vec<_>>();
        assert_eq!(regions(&a), regions(&b));
    }

    #[test]
    fn every_peer_dials_distinct_others_and_addresses_are_unique() {
        let p = Plan::new(params()).unwrap();
        for (i, dials) in p.dials.iter().enumerate() {
            let mut targets: Vec<usize> = dials.iter().map(|d| d.target).collect();
            assert_eq!(targets.len(), 3);
            assert!(!targets.contains(&i), "peer {i} dials itself");
            targets.sort_unstable();
            targets.dedup();
            assert_eq!(targets.len(), 3, "peer {i} dials a peer twice");
        }
        let mut ips: Vec<Ipv4Addr> = p.hosts.iter().map(|h| h.ip).collect();
        ips.sort();
        ips.dedup();
        assert_eq!(ips.len(), p.hosts.len());
        assert_eq!(p.hosts(Role::Authority).count(), 3);
        let mut onions: Vec<String> = p
            .keys
            .iter()
            .flat_map(|(a, b)| [a.onion_address().to_string(), b.onion_address().to_string()])
            .collect();
        onions.sort();
        onions.dedup();
        assert_eq!(onions.len(), 20);
    }

    #[test]
    fn impossible_parameters_are_refused_with_the_flag_named() {
        for (p, flag) in [
            (
                Params {
                    peers: 1,
                    ..params()
                },
                "--peers",
            ),
            (
                Params {
                    relays: 2,
                    ..params()
                },
                "--relays",
            ),
            (
                Params {
                    dials: 10,
                    ..params()
                },
                "--dials",
            ),
            (
                Params {
                    dials: 0,
                    ..params()
                },
                "--dials",
            ),
        ] {
            let e = Plan::new(p).unwrap_err();
            assert!(e.starts_with(flag), "{e}");
        }
    }

    #[test]
    fn churn_leaves_during_the_dials_and_comes_back_before_the_end() {
        let p = Plan::new(Params {
            churn_permille: 500,
            ..params()
        })
        .unwrap();
        let churned: Vec<&Host> = p.hosts.iter().filter(|h| h.churn.is_some()).collect();
        assert!(churned.len() > 10, "{}", churned.len());
        for h in churned {
            let (leave, back) = h.churn.unwrap();
            assert!(leave >= p.params.dial_at_s && back > leave && back <= p.params.stop_s());
            assert_ne!(h.role, Role::Authority);
        }
    }
}
