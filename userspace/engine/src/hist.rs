//! Latency histograms: hdrhistogram in nanoseconds, 3 significant digits.
use hdrhistogram::Histogram;

use crate::summary::LatencySummary;

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
    pub fn record(&mut self, ns: u64) {
        // Cannot fail with auto-resize on; a value of 0 is fine (lowest 1).
        let _ = self.0.record(ns);
    }

    pub fn len(&self) -> u64 {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn inner(&self) -> &Histogram<u64> {
        &self.0
    }

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
}
