//! The SVG plots of a run: which charts each kind of run draws (torp2p-plot draws them).

use torp2p_plot::{Chart, Series, cdf};

/// The plots of a run of the usual phases: the distribution of round trips.
pub(crate) fn of_report(r: &crate::report::Report) -> Vec<(&'static str, Chart<'static>)> {
    let title = if r.delay_ms > 0 {
        "round trips on a warm connection, loopback delayed"
    } else {
        "round trips on a warm connection"
    };
    vec![(
        "rtt.svg",
        Chart {
            title,
            x: "round trip, ms (64-byte echo / libp2p ping)",
            y: "fraction of samples at or below",
            series: vec![
                Series {
                    name: "raw Tor (SOCKS stream)",
                    points: cdf(&r.rtt_samples.0),
                },
                Series {
                    name: "torp2p (libp2p ping)",
                    points: cdf(&r.rtt_samples.1),
                },
            ],
        },
    )]
}

/// The plots of a `--scale` run: publication time and memory by number of services, memory
/// and opening time by number of inbound connections.
pub(crate) fn of_growth(g: &crate::growth::Growth) -> Vec<(&'static str, Chart<'static>)> {
    let services = |f: fn(&crate::growth::ServicesPoint) -> f64| {
        g.services
            .iter()
            .map(|p| (p.services as f64, f(p)))
            .collect::<Vec<_>>()
    };
    let inbound = |f: fn(&crate::growth::InboundPoint) -> f64| {
        g.inbound
            .iter()
            .map(|p| (p.connections as f64, f(p)))
            .collect::<Vec<_>>()
    };
    vec![
        (
            "scale-services-time.svg",
            Chart {
                title: "onion services added at once on one tor: time until published",
                x: "onion services",
                y: "seconds",
                series: vec![
                    Series {
                        name: "raw Tor (ADD_ONION), all",
                        points: services(|p| p.raw_seconds),
                    },
                    Series {
                        name: "torp2p (listen_on), all",
                        points: services(|p| p.p2p_seconds),
                    },
                    Series {
                        name: "raw Tor, the median service",
                        points: services(|p| p.raw_median),
                    },
                    Series {
                        name: "torp2p, the median service",
                        points: services(|p| p.p2p_median),
                    },
                ],
            },
        ),
        (
            "scale-services-memory.svg",
            Chart {
                title: "onion services on one tor: memory per service",
                x: "onion services",
                y: "KiB per service (VmRSS growth)",
                series: vec![
                    Series {
                        name: "tor, raw",
                        points: services(|p| p.raw_tor_kib_each),
                    },
                    Series {
                        name: "tor, torp2p",
                        points: services(|p| p.p2p_tor_kib_each),
                    },
                    Series {
                        name: "this process, torp2p",
                        points: services(|p| p.p2p_process_kib_each),
                    },
                ],
            },
        ),
        (
            "scale-inbound-memory.svg",
            Chart {
                title: "inbound connections to one listener: memory per connection",
                x: "open connections",
                y: "KiB per connection (VmRSS growth)",
                series: vec![
                    Series {
                        name: "listener's tor, raw",
                        points: inbound(|p| p.raw.listener_tor),
                    },
                    Series {
                        name: "listener's tor, torp2p",
                        points: inbound(|p| p.p2p.listener_tor),
                    },
                    Series {
                        name: "this process (both ends), torp2p",
                        points: inbound(|p| p.p2p.process),
                    },
                    Series {
                        name: "dialers' tors, torp2p",
                        points: inbound(|p| p.p2p.dialer_tors),
                    },
                ],
            },
        ),
    ]
}

/// The plots of a `--mesh` run: mesh formation and propagation by mesh size, TCP against
/// onion services.
pub(crate) fn of_mesh(r: &crate::mesh::Report) -> Vec<(&'static str, Chart<'static>)> {
    use crate::mesh::Figures;
    use crate::stats::quantile;
    let by_n = |f: &dyn Fn(&Figures) -> f64, tor: bool| {
        r.sizes
            .iter()
            .map(|s| (s.n as f64, f(if tor { &s.tor } else { &s.tcp })))
            .filter(|(_, y)| y.is_finite())
            .collect::<Vec<_>>()
    };
    let p = |q: f64| move |f: &Figures| quantile(&f.propagation_ms, q);
    vec![
        (
            "mesh-formation.svg",
            Chart {
                title: "gossipsub + Kademlia: time until every peer has its mesh",
                x: "peers",
                y: "seconds",
                series: vec![
                    Series {
                        name: "TCP on loopback",
                        points: by_n(&|f| f.mesh_s, false),
                    },
                    Series {
                        name: "torp2p, onion services",
                        points: by_n(&|f| f.mesh_s, true),
                    },
                ],
            },
        ),
        (
            "mesh-propagation.svg",
            Chart {
                title: "gossipsub: publish to delivery at every other peer",
                x: "peers",
                y: "ms",
                series: vec![
                    Series {
                        name: "TCP, p50",
                        points: by_n(&p(0.5), false),
                    },
                    Series {
                        name: "torp2p, p50",
                        points: by_n(&p(0.5), true),
                    },
                    Series {
                        name: "TCP, p99",
                        points: by_n(&p(0.99), false),
                    },
                    Series {
                        name: "torp2p, p99",
                        points: by_n(&p(0.99), true),
                    },
                ],
            },
        ),
    ]
}
