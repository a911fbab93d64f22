#![doc = include_str!("../README.md")]

use std::path::{Path, PathBuf};

use plotters::prelude::*;

/// Why a chart was not written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The chart has no point to draw (its figures are in the report's JSON).
    #[error("plotting {}: no points", path.display())]
    NoPoints {
        /// The SVG that was not written.
        path: PathBuf,
    },
    /// plotters could not draw or write the SVG (the directory missing, say).
    #[error("plotting {}: {message}", path.display())]
    Draw {
        /// The SVG being written.
        path: PathBuf,
        /// What plotters said.
        message: String,
    },
}

/// One line of a chart: its legend and its points (x ascending).
#[derive(Debug, Clone, PartialEq)]
pub struct Series<'a> {
    /// The legend.
    pub name: &'a str,
    /// (x, y), x ascending.
    pub points: Vec<(f64, f64)>,
}

/// What a chart shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart<'a> {
    /// The caption above the chart.
    pub title: &'a str,
    /// The x axis' description.
    pub x: &'a str,
    /// The y axis' description.
    pub y: &'a str,
    /// The lines, drawn in [`COLOURS`]' order.
    pub series: Vec<Series<'a>>,
}

/// The colours of the series, in order: the baseline first, torp2p second.
pub const COLOURS: [RGBColor; 6] = [
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x8c, 0x56, 0x4b),
];

/// The empirical distribution of `samples`: (value, fraction of samples at or below it), for
/// a step-like line from the smallest to the largest.
pub fn cdf(samples: &[f64]) -> Vec<(f64, f64)> {
    let mut v: Vec<f64> = samples.iter().copied().filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    let n = v.len() as f64;
    v.iter()
        .enumerate()
        .map(|(i, &x)| (x, (i + 1) as f64 / n))
        .collect()
}

/// Writes `chart` to `path` as an SVG of 720×420.
pub fn write(path: &Path, chart: &Chart) -> Result<(), Error> {
    let err = |e: &dyn std::fmt::Display| Error::Draw {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let all = chart.series.iter().flat_map(|s| s.points.iter());
    let (mut x_max, mut y_max) = (0f64, 0f64);
    let mut x_min = f64::INFINITY;
    for &(x, y) in all {
        x_max = x_max.max(x);
        x_min = x_min.min(x);
        y_max = y_max.max(y);
    }
    if !x_min.is_finite() {
        return Err(Error::NoPoints {
            path: path.to_path_buf(),
        });
    }
    // From 0 unless the values are far from it (a latency distribution, or simulated time
    // from the first dial on), with some room.
    let x_lo = if x_min > 0.3 * x_max {
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
        .position(legend_corner(chart, (x_lo, x_hi), y_hi))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))?;
    Ok(())
}

/// Where the legend covers the fewest points: the corner (a third of the width, a quarter of
/// the height) with the fewest, lower right first on a tie.
fn legend_corner(chart: &Chart, (x_lo, x_hi): (f64, f64), y_hi: f64) -> SeriesLabelPosition {
    let points = chart.series.iter().flat_map(|s| s.points.iter());
    let (w, h) = ((x_hi - x_lo) / 3.0, y_hi / 4.0);
    let covered = |right: bool, upper: bool| {
        points
            .clone()
            .filter(|&&(x, y)| {
                let in_x = if right { x >= x_hi - w } else { x <= x_lo + w };
                let in_y = if upper { y >= y_hi - h } else { y <= h };
                in_x && in_y
            })
            .count()
    };
    [
        (SeriesLabelPosition::LowerRight, covered(true, false)),
        (SeriesLabelPosition::UpperLeft, covered(false, true)),
        (SeriesLabelPosition::LowerLeft, covered(false, false)),
        (SeriesLabelPosition::UpperRight, covered(true, true)),
    ]
    .into_iter()
    .min_by_key(|(_, n)| *n)
    .map_or(SeriesLabelPosition::LowerRight, |(corner, _)| corner)
}

/// Writes `plots` into `dir`: for each, the path written or why not (a chart without
/// points, e.g. of meshes that never formed, is not drawn; the figures are in the JSON).
pub fn write_all(dir: &Path, plots: &[(&str, Chart)]) -> Vec<Result<PathBuf, Error>> {
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
    fn the_legend_goes_where_the_lines_are_not() {
        let chart = |points: Vec<(f64, f64)>| Chart {
            title: "t",
            x: "x",
            y: "y",
            series: vec![Series { name: "s", points }],
        };
        let at = |c: &Chart| format!("{:?}", legend_corner(c, (0.0, 10.0), 1.0));
        // A distribution rises to the upper right: the lower right is free.
        assert_eq!(
            at(&chart(vec![(1.0, 0.1), (5.0, 0.5), (9.0, 1.0)])),
            "LowerRight"
        );
        // A share near 1 that falls at the end, and a line near 0 on the right.
        let falls = chart(vec![(1.0, 1.0), (5.0, 1.0), (8.0, 0.1), (9.0, 0.0)]);
        assert_eq!(at(&falls), "LowerLeft");
        let high = chart(vec![(0.5, 0.1), (1.0, 0.9), (9.0, 0.1)]);
        assert_eq!(at(&high), "UpperRight");
    }

    #[test]
    fn writes_an_svg_with_its_legend() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chart.svg");
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
        assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(80)]);
        for text in ["round trips", "raw Tor", "torp2p", "fraction of samples"] {
            assert!(svg.contains(text), "no {text:?} in the SVG");
        }
        let empty = Chart {
            series: vec![],
            ..chart
        };
        let e = write(&dir.path().join("empty.svg"), &empty).unwrap_err();
        assert!(matches!(e, Error::NoPoints { .. }), "{e}");
        assert!(e.to_string().ends_with("empty.svg: no points"), "{e}");
        let e = write(&dir.path().join("no-such-dir").join("x.svg"), &chart).unwrap_err();
        assert!(matches!(e, Error::Draw { .. }), "{e}");
    }
}
