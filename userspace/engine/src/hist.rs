//! Latency histograms: hdrhistogram in nanoseconds, 3 significant digits.
use hdrhistogram::Histogram;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A latency distribution's figures, in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LatencySummary {
    /// Values recorded; every other figure is 0 when this is.
    pub count: u64,
    /// The smallest value.
    pub min_ns: u64,
    /// The mean, rounded to the nanosecond.
    pub mean_ns: u64,
    /// The median.
    pub p50_ns: u64,
    /// The 90th percentile.
    pub p90_ns: u64,
    /// The 99th percentile.
    pub p99_ns: u64,
    /// The 99.9th percentile.
    pub p999_ns: u64,
    /// The largest value.
    pub max_ns: u64,
}

/// A latency distribution. Auto-resizing, so a histogram that only ever sees
/// microseconds stays small, and a fence that lives an hour still fits.
#[derive(Clone, Debug)]
pub struct Latency(Histogram<u64>);

impl Default for Latency {
    fn default() -> Self {
        Latency(Histogram::new(3).expect("3 significant digits is valid"))
    }
}

impl Latency {
    /// Adds one value, in nanoseconds.
    pub fn record(&mut self, ns: u64) {
        // Cannot fail with auto-resize on; a value of 0 is fine (lowest 1).
        let _ = self.0.record(ns);
    }

    /// Adds every value of `other`: figures of several sources under one name.
    pub fn merge(&mut self, other: &Latency) {
        // Cannot fail with auto-resize on.
        let _ = self.0.add(&other.0);
    }

    /// Values recorded.
    pub fn len(&self) -> u64 {
        self.0.len()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The histogram itself, for [`log2_buckets`] and [`crate::stats::ks`].
    pub fn inner(&self) -> &Histogram<u64> {
        &self.0
    }

    /// The figures of what was recorded; all zero when nothing was.
    pub fn summary(&self) -> LatencySummary {
        let h = &self.0;
        if h.is_empty() {
            return LatencySummary::default();
        }
        LatencySummary {
            count: h.len(),
            min_ns: h.min(),
            mean_ns: h.mean().round() as u64,
            p50_ns: h.value_at_quantile(0.50),
            p90_ns: h.value_at_quantile(0.90),
            p99_ns: h.value_at_quantile(0.99),
            p999_ns: h.value_at_quantile(0.999),
            max_ns: h.max(),
        }
    }
}

/// `1536` → `1K` style bound (binary prefixes, as bpftrace prints them).
pub fn bucket_bound(v: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1 << 30, "G"), (1 << 20, "M"), (1 << 10, "K")];
    for (size, suffix) in UNITS {
        if v >= size && v.is_multiple_of(size) {
            return format!("{}{suffix}", v / size);
        }
    }
    v.to_string()
}

/// Counts per power-of-two bucket of `value / unit_ns`, from the lowest
/// non-empty bucket to the highest.
pub fn log2_buckets(h: &Histogram<u64>, unit_ns: u64) -> Vec<(u64, u64)> {
    let mut counts: Vec<u64> = Vec::new();
    for v in h.iter_recorded() {
        let x = v.value_iterated_to() / unit_ns.max(1);
        let b = if x == 0 { 0 } else { 64 - x.leading_zeros() as usize };
        if counts.len() <= b {
            counts.resize(b + 1, 0);
        }
        counts[b] += v.count_at_value();
    }
    let first = counts.iter().position(|&c| c > 0).unwrap_or(counts.len());
    counts
        .iter()
        .enumerate()
        .skip(first)
        .map(|(b, &c)| (if b == 0 { 0 } else { 1u64 << (b - 1) }, c))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_within_a_thousandth() {
        let mut l = Latency::default();
        for _ in 0..200 {
            l.record(5_000_000);
        }
        for _ in 0..200 {
            l.record(20_000_000);
        }
        let s = l.summary();
        assert_eq!(s.count, 400);
        assert!((s.p50_ns as f64 - 5e6).abs() / 5e6 < 1e-3, "{s:?}");
        assert!((s.p90_ns as f64 - 2e7).abs() / 2e7 < 1e-3, "{s:?}");
        assert!((s.max_ns as f64 - 2e7).abs() / 2e7 < 1e-3, "{s:?}");
    }

    #[test]
    fn empty_summary_is_all_zero() {
        assert_eq!(Latency::default().summary(), LatencySummary::default());
    }

    #[test]
    fn buckets_are_powers_of_two_and_hold_every_count() {
        let mut h = Histogram::new(3).unwrap();
        for v in [0u64, 1, 2, 3, 4, 1023, 1024, 1_000_000] {
            h.record(v).unwrap();
        }
        let b = log2_buckets(&h, 1);
        assert_eq!(b.iter().map(|r| r.1).sum::<u64>(), 8);
        assert_eq!(&b[..4], &[(0, 1), (1, 1), (2, 2), (4, 1)]);
        assert!(b.iter().all(|(low, _)| *low == 0 || low.is_power_of_two()));
        assert!(log2_buckets(&Histogram::new(3).unwrap(), 1).is_empty());
    }
}
