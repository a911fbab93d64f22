//! The simulated Internet: seven regions, the round-trip times between them, and Shadow's
//! network graph (GML) made of them.
//!
//! The round-trip times are typical ping times between a representative city of each region,
//! rounded, as public latency tables list them (WonderNetwork's global ping statistics,
//! <https://wondernetwork.com/pings>, and Verizon's IP latency statistics give figures of
//! the same size: New York–London about 75 ms, New York–Los Angeles about 65 ms,
//! London–Frankfurt about 15 ms, Los Angeles–Tokyo about 105 ms, London–Sydney about 260 ms).
//! Within a region, hosts are 10 to 30 ms apart. The graph's edges carry one-way latencies:
//! half of these. There is no packet loss and no jitter: the simulation's variance comes from
//! Tor's path choices, not from the links.
//!
//! Where relays are comes from Tor Metrics' relays by country (most in Germany, the United
//! States, France and the Netherlands): see [`RELAY_REGIONS`]. Peers are spread evenly over
//! the regions where people run such applications ([`PEER_REGIONS`]).

use std::fmt::Write as _;

/// A region of the simulated Internet: one node of Shadow's graph.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Region {
    /// The graph node's id.
    pub(crate) id: usize,
    pub(crate) name: &'static str,
}

/// The regions, in the order of [`RTT_MS`].
pub(crate) const REGIONS: [Region; 7] = [
    Region {
        id: 0,
        name: "north-america-east",
    },
    Region {
        id: 1,
        name: "north-america-west",
    },
    Region {
        id: 2,
        name: "europe-west",
    },
    Region {
        id: 3,
        name: "europe-central",
    },
    Region {
        id: 4,
        name: "asia-east",
    },
    Region {
        id: 5,
        name: "oceania",
    },
    Region {
        id: 6,
        name: "south-america",
    },
];

/// Round-trip times in ms between the regions (symmetric; the diagonal is within a region).
pub(crate) const RTT_MS: [[u32; 7]; 7] = [
    // NA-E NA-W EU-W EU-C ASIA OCEA S-AM
    [20, 65, 75, 90, 170, 200, 120], // north-america-east (New York)
    [65, 20, 140, 150, 105, 140, 170], // north-america-west (Los Angeles)
    [75, 140, 15, 15, 220, 260, 190], // europe-west (London, Paris, Amsterdam)
    [90, 150, 15, 15, 230, 270, 200], // europe-central (Frankfurt)
    [170, 105, 220, 230, 30, 110, 260], // asia-east (Tokyo, Singapore)
    [200, 140, 260, 270, 110, 20, 300], // oceania (Sydney)
    [120, 170, 190, 200, 260, 300, 25], // south-america (São Paulo)
];

/// Where relays are, with weights in percent (Tor Metrics, relays by country, rounded: about
/// 60 % in Europe, 25 % in North America).
pub(crate) const RELAY_REGIONS: [(&Region, u32); 7] = [
    (&REGIONS[3], 35),
    (&REGIONS[2], 25),
    (&REGIONS[0], 15),
    (&REGIONS[1], 10),
    (&REGIONS[4], 8),
    (&REGIONS[5], 4),
    (&REGIONS[6], 3),
];

/// Where peers are, in turn.
pub(crate) const PEER_REGIONS: [&Region; 6] = [
    &REGIONS[0],
    &REGIONS[3],
    &REGIONS[4],
    &REGIONS[2],
    &REGIONS[1],
    &REGIONS[6],
];

/// Shadow's network graph: a complete graph of the regions (self-loops included: hosts in one
/// region reach each other over it), with one-way latencies. Host bandwidths are set per host
/// in the configuration, so the nodes' bandwidth is only a ceiling.
pub(crate) fn gml() -> String {
    let mut g = String::from("graph [\n  directed 0\n");
    for r in &REGIONS {
        let _ = writeln!(
            g,
            "  node [\n    id {}\n    label \"{}\"\n    host_bandwidth_down \"10 Gbit\"\n    host_bandwidth_up \"10 Gbit\"\n  ]",
            r.id, r.name
        );
    }
    for (a, row) in RTT_MS.iter().enumerate() {
        for (b, rtt) in row.iter().enumerate().skip(a) {
            // Half the round trip, in microseconds so that odd round trips stay exact.
            let one_way_us = rtt * 1000 / 2;
            let _ = writeln!(
                g,
                "  edge [\n    source {a}\n    target {b}\n    latency \"{one_way_us} us\"\n    jitter \"0 ms\"\n    packet_loss 0.0\n  ]"
            );
        }
    }
    g.push_str("]\n");
    g
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::needless_range_loop)]
    fn round_trips_are_symmetric_and_nearer_within_a_region() {
        for a in 0..REGIONS.len() {
            assert_eq!(REGIONS[a].id, a);
            for b in 0..REGIONS.len() {
                assert_eq!(RTT_MS[a][b], RTT_MS[b][a], "{a}-{b}");
                if a != b {
                    assert!(RTT_MS[a][a] <= RTT_MS[a][b], "{a}-{b}");
                }
            }
        }
        let weights: u32 = RELAY_REGIONS.iter().map(|(_, w)| w).sum();
        assert_eq!(weights, 100);
    }

    #[test]
    fn the_graph_has_every_edge_once() {
        let g = gml();
        assert_eq!(g.matches("node [").count(), 7);
        assert_eq!(g.matches("edge [").count(), 7 * 8 / 2);
        // New York - London: 75 ms round trip, 37.5 ms one way.
        assert!(
            g.contains("source 0\n    target 2\n    latency \"37500 us\""),
            "{g}"
        );
    }
}
