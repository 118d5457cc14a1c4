//! Log2 histograms in plain text, the way BCC's tools and bpftrace print
//! them, so a distribution reads in a mail as well as its percentiles do.
use std::fmt::Write as _;

use hdrhistogram::Histogram;

/// Bars are this many characters at the fullest bucket (fits 72 columns).
const BAR: u64 = 40;

/// `1536` → `1K` style bound (binary prefixes, as bpftrace prints them).
fn bound(v: u64) -> String {
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
pub fn buckets(h: &Histogram<u64>, unit_ns: u64) -> Vec<(u64, u64)> {
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

/// The histogram under a title line; nothing for an empty histogram.
pub fn log2(title: &str, h: &Histogram<u64>, unit_ns: u64) -> String {
    let rows = buckets(h, unit_ns);
    let mut o = String::new();
    let Some(max) = rows.iter().map(|r| r.1).max().filter(|&m| m > 0) else { return o };
    let _ = writeln!(o, "{title}");
    for (low, count) in rows {
        let high = if low == 0 { 1 } else { low * 2 };
        let range = format!("[{}, {})", bound(low), bound(high));
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

    #[test]
    fn buckets_are_powers_of_two_and_hold_every_count() {
        let mut h = Histogram::new(3).unwrap();
        for v in [0u64, 1, 2, 3, 4, 1023, 1024, 1_000_000] {
            h.record(v).unwrap();
        }
        let b = buckets(&h, 1);
        assert_eq!(b.iter().map(|r| r.1).sum::<u64>(), 8);
        assert_eq!(&b[..4], &[(0, 1), (1, 1), (2, 2), (4, 1)]);
        assert!(b.iter().all(|(low, _)| *low == 0 || low.is_power_of_two()));
        assert!(log2("t", &Histogram::new(3).unwrap(), 1).is_empty());
    }
}
