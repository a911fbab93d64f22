//! Statistics: medians and spread of samples, ratios of medians, and counted round trips.

use crate::report::num;

/// Median and spread of some samples.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Stats {
    pub(crate) n: usize,
    pub(crate) median: f64,
    pub(crate) p25: f64,
    pub(crate) p75: f64,
    pub(crate) min: f64,
    pub(crate) max: f64,
}

impl Stats {
    pub(crate) fn of(samples: &[f64]) -> Self {
        let mut v: Vec<f64> = samples.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return Stats::default();
        }
        v.sort_by(f64::total_cmp);
        let q = |p: f64| {
            let pos = p * (v.len() - 1) as f64;
            let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
            v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
        };
        Stats {
            n: v.len(),
            median: q(0.5),
            p25: q(0.25),
            p75: q(0.75),
            min: v[0],
            max: v[v.len() - 1],
        }
    }

    pub(crate) fn scaled(self, k: f64) -> Self {
        Stats {
            median: self.median * k,
            p25: self.p25 * k,
            p75: self.p75 * k,
            min: self.min * k,
            max: self.max * k,
            ..self
        }
    }

    pub(crate) fn show(&self, unit: &str, decimals: usize) -> String {
        format!(
            "{:.d$} {unit} [{:.d$}–{:.d$}]",
            self.median,
            self.p25,
            self.p75,
            d = decimals
        )
    }

    pub(crate) fn json(&self) -> String {
        format!(
            "{{\"n\": {}, \"median\": {}, \"p25\": {}, \"p75\": {}, \"min\": {}, \"max\": {}}}",
            self.n,
            num(self.median),
            num(self.p25),
            num(self.p75),
            num(self.min),
            num(self.max)
        )
    }
}

/// The `p`-quantile (0 ≤ p ≤ 1) of the finite samples, interpolated linearly between the two
/// nearest as [`Stats::of`] takes its quartiles (so `quantile(v, 0.5)` is the median); NaN
/// without samples. With fewer than 100 samples the 0.99-quantile lies between the two largest.
pub(crate) fn quantile(samples: &[f64], p: f64) -> f64 {
    let mut v: Vec<f64> = samples.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let pos = p.clamp(0.0, 1.0) * (v.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
}

/// `a`'s median over `b`'s (NaN when either has no samples).
pub(crate) fn ratio(a: &Stats, b: &Stats) -> f64 {
    if b.median > 0.0 && a.n > 0 {
        a.median / b.median
    } else {
        f64::NAN
    }
}

/// Round trips the dialer waited for after the SOCKS reply, one count per setup sample.
#[derive(Debug, Clone, Default)]
pub(crate) struct RoundTrips(pub(crate) Vec<u32>);

impl RoundTrips {
    /// The count most samples agree on (they all should).
    pub(crate) fn typical(&self) -> Option<u32> {
        let mut v = self.0.clone();
        v.sort_unstable();
        let mut best: Option<(u32, usize)> = None;
        for chunk in v.chunk_by(|a, b| a == b) {
            if best.is_none_or(|(_, n)| chunk.len() > n) {
                best = Some((chunk[0], chunk.len()));
            }
        }
        best.map(|(x, _)| x)
    }

    pub(crate) fn show(&self) -> String {
        match (self.typical(), self.0.iter().min(), self.0.iter().max()) {
            (Some(t), Some(lo), Some(hi)) if lo == hi => t.to_string(),
            (Some(t), Some(lo), Some(hi)) => format!("{t} (seen {lo}–{hi})"),
            _ => "-".into(),
        }
    }

    pub(crate) fn json(&self) -> String {
        self.typical()
            .map(|t| t.to_string())
            .unwrap_or_else(|| "null".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_give_median_and_quartiles() {
        let s = Stats::of(&[5.0, 1.0, 3.0, 2.0, 4.0, f64::NAN]);
        assert_eq!(s.n, 5);
        assert_eq!(s.median, 3.0);
        assert_eq!(s.p25, 2.0);
        assert_eq!(s.p75, 4.0);
        assert_eq!((s.min, s.max), (1.0, 5.0));
        let even = Stats::of(&[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(even.median, 2.5);
        assert_eq!(Stats::of(&[]).n, 0);
        assert!(ratio(&Stats::of(&[]), &even).is_nan());
        assert_eq!(ratio(&Stats::of(&[5.0]), &even), 2.0);
    }

    #[test]
    fn quantiles_interpolate_as_the_quartiles_do() {
        let v: Vec<f64> = (1..=101).map(f64::from).rev().collect();
        assert_eq!(quantile(&v, 0.5), 51.0);
        assert_eq!(quantile(&v, 0.99), 100.0);
        assert_eq!(quantile(&v, 1.0), 101.0);
        assert_eq!(quantile(&v, 0.0), 1.0);
        // Between the two largest of 11: 10 + 0.9 · (11 - 10).
        let few: Vec<f64> = (1..=11).map(f64::from).collect();
        assert!((quantile(&few, 0.99) - 10.9).abs() < 1e-9);
        let s = Stats::of(&few);
        assert_eq!(
            (quantile(&few, 0.25), quantile(&few, 0.5)),
            (s.p25, s.median)
        );
        assert!(quantile(&[], 0.5).is_nan());
        assert_eq!(quantile(&[f64::NAN, 3.0], 0.99), 3.0);
    }

    #[test]
    fn the_typical_round_trip_count_is_the_most_common() {
        let rt = RoundTrips(vec![2, 3, 2, 2, 5]);
        assert_eq!(rt.typical(), Some(2));
        assert_eq!(rt.show(), "2 (seen 2–5)");
        assert_eq!(RoundTrips(vec![1, 1]).show(), "1");
        assert_eq!(RoundTrips::default().json(), "null");
    }
}
