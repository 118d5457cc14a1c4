//! Log2 histograms in plain text, the way BCC's tools and bpftrace print
//! them, so a distribution reads in a mail as well as its percentiles do.
use std::fmt::Write as _;

use fencescope_engine::hist::{bucket_bound, log2_buckets};
use hdrhistogram::Histogram;

/// Bars are this many characters at the fullest bucket (fits 72 columns).
const BAR: u64 = 40;

/// The histogram under a title line; nothing for an empty histogram.
pub fn log2(title: &str, h: &Histogram<u64>, unit_ns: u64) -> String {
    let rows = log2_buckets(h, unit_ns);
    let mut o = String::new();
    let Some(max) = rows.iter().map(|r| r.1).max().filter(|&m| m > 0) else { return o };
    let _ = writeln!(o, "{title}");
    for (low, count) in rows {
        let high = if low == 0 { 1 } else { low * 2 };
        let range = format!("[{}, {})", bucket_bound(low), bucket_bound(high));
        let bar = "@".repeat((count * BAR).div_ceil(max) as usize);
        let _ = writeln!(o, "{range:<16}{count:>9} |{bar:<40}|");
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log2_snapshot() {
        let mut h = Histogram::new(3).unwrap();
        for _ in 0..200 {
            h.record(5_000_000).unwrap();
        }
        for _ in 0..200 {
            h.record(20_000_000).unwrap();
        }
        h.record(300_000).unwrap();
        let text = log2("lifetime of vgem/unbound, us", &h, 1_000);
        for line in text.lines() {
            assert!(line.chars().count() <= 72, "{line:?}");
        }
        insta::assert_snapshot!(text);
    }
}
