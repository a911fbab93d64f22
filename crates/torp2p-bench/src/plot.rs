//! SVG plots of a run (plotters, SVG backend only): line charts of named series.

use std::path::Path;

use plotters::prelude::*;

/// One line of a chart: its legend and its points (x ascending).
pub(crate) struct Series<'a> {
    pub(crate) name: &'a str,
    pub(crate) points: Vec<(f64, f64)>,
}

/// What a chart shows.
pub(crate) struct Chart<'a> {
    pub(crate) title: &'a str,
    pub(crate) x: &'a str,
    pub(crate) y: &'a str,
    pub(crate) series: Vec<Series<'a>>,
}

/// The colours of the series, in order: the baseline first, torp2p second.
const COLOURS: [RGBColor; 6] = [
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x8c, 0x56, 0x4b),
];

/// The empirical distribution of `samples`: (value, fraction of samples at or below it), for
/// a step-like line from the smallest to the largest.
pub(crate) fn cdf(samples: &[f64]) -> Vec<(f64, f64)> {
    let mut v: Vec<f64> = samples.iter().copied().filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    let n = v.len() as f64;
    v.iter()
        .enumerate()
        .map(|(i, &x)| (x, (i + 1) as f64 / n))
        .collect()
}

/// Writes `chart` to `path` as an SVG of 720×420.
pub(crate) fn write(path: &Path, chart: &Chart) -> Result<(), String> {
    let err = |e: &dyn std::fmt::Display| format!("plotting {}: {e}", path.display());
    let all = chart.series.iter().flat_map(|s| s.points.iter());
    let (mut x_max, mut y_max) = (0f64, 0f64);
    let mut x_min = f64::INFINITY;
    for &(x, y) in all {
        x_max = x_max.max(x);
        x_min = x_min.min(x);
        y_max = y_max.max(y);
    }
    if !x_min.is_finite() {
        return Err(format!("plotting {}: no points", path.display()));
    }
    // From 0 unless the values are far from it (a latency distribution), with some room.
    let x_lo = if x_min > 0.5 * x_max {
        x_min * 0.95
    } else {
        0.0
    };
    let x_hi = if x_max > x_lo {
        x_max * 1.05
    } else {
        x_lo + 1.0
    };
    let y_hi = if y_max > 0.0 { y_max * 1.1 } else { 1.0 };

    let root = SVGBackend::new(path, (720, 420)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let mut c = ChartBuilder::on(&root)
        .caption(chart.title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(42)
        .y_label_area_size(60)
        .build_cartesian_2d(x_lo..x_hi, 0f64..y_hi)
        .map_err(|e| err(&e))?;
    c.configure_mesh()
        .x_desc(chart.x)
        .y_desc(chart.y)
        .draw()
        .map_err(|e| err(&e))?;
    for (i, s) in chart.series.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        c.draw_series(LineSeries::new(
            s.points.iter().copied(),
            colour.stroke_width(2),
        ))
        .map_err(|e| err(&e))?
        .label(s.name)
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2)));
        if s.points.len() <= 12 {
            c.draw_series(s.points.iter().map(|&p| Circle::new(p, 3, colour.filled())))
                .map_err(|e| err(&e))?;
        }
    }
    c.configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))?;
    Ok(())
}

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

/// Writes `plots` into `dir`: for each, the path written or why not (a chart without
/// points, e.g. of meshes that never formed, is not drawn; the figures are in the JSON).
pub(crate) fn write_all(
    dir: &Path,
    plots: &[(&'static str, Chart<'static>)],
) -> Vec<Result<std::path::PathBuf, String>> {
    plots
        .iter()
        .map(|(name, chart)| {
            let path = dir.join(name);
            write(&path, chart).map(|()| path)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn cdf_counts_each_sample() {
        assert_eq!(
            cdf(&[3.0, 1.0, f64::NAN, 2.0, 2.0]),
            vec![(1.0, 0.25), (2.0, 0.5), (2.0, 0.75), (3.0, 1.0)]
        );
        assert!(cdf(&[]).is_empty());
    }

    #[test]
    fn writes_an_svg_with_its_legend() {
        let path =
            std::env::temp_dir().join(format!("torp2p-bench-plot-{}.svg", std::process::id()));
        let chart = Chart {
            title: "round trips",
            x: "ms",
            y: "fraction of samples",
            series: vec![
                Series {
                    name: "raw Tor",
                    points: cdf(&[10.0, 11.0, 12.0]),
                },
                Series {
                    name: "torp2p",
                    points: cdf(&[10.5, 11.5, 13.0]),
                },
            ],
        };
        write(&path, &chart).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(80)]);
        for text in ["round trips", "raw Tor", "torp2p", "fraction of samples"] {
            assert!(svg.contains(text), "no {text:?} in the SVG");
        }
        let empty = Chart {
            series: vec![],
            ..chart
        };
        assert!(write(&path, &empty).unwrap_err().contains("no points"));
    }
}
