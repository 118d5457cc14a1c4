//! The units and cut names every report shares, so a figure reads the same
//! in text, markdown and compare.
use fencescope_engine::{GroupSummary, LatencySummary};

/// Nanoseconds as milliseconds with three decimals: every report's unit.
pub(crate) fn ms(ns: u64) -> String {
    format!("{:.3}", ns as f64 / 1e6)
}

/// What waits were on: `driver/timeline N`, most waited on first.
pub(crate) fn waited_on(on: &[(String, u64)]) -> String {
    on.iter().map(|(g, n)| format!("{g} {n}")).collect::<Vec<_>>().join(", ")
}

/// A table cell: `value` with as many of `decimals` decimals as fit in
/// seven characters, so that the tables' eight-wide columns always keep a
/// space between figures (a lifetime of seconds would otherwise run into
/// the next).
fn cell(value: f64, decimals: usize) -> String {
    (0..=decimals)
        .rev()
        .map(|d| format!("{value:.d$}"))
        .find(|s| s.len() <= 7)
        .unwrap_or_else(|| format!("{value:.0}"))
}

/// Milliseconds for a table cell: [`ms`] until it no longer fits.
pub(crate) fn ms_cell(ns: u64) -> String {
    cell(ns as f64 / 1e6, 3)
}

/// Microseconds for a table cell: [`us`] until it no longer fits.
pub(crate) fn us_cell(ns: u64) -> String {
    cell(ns as f64 / 1e3, 1)
}

/// Nanoseconds as microseconds, one decimal.
pub(crate) fn us(ns: u64) -> String {
    format!("{:.1}", ns as f64 / 1e3)
}

/// `process/thread`, or just the thread where they are the same, cut to fit.
pub(crate) fn who(process: &str, thread: &str, width: usize) -> String {
    let s = if process == thread { thread.to_string() } else { format!("{process}/{thread}") };
    cut(&s, width)
}

/// `s` cut to `width` characters, the cut marked with '~'.
pub(crate) fn cut(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        s.into()
    } else {
        s.chars().take(width - 1).chain(['~']).collect()
    }
}

/// p50, p99 and max as three table cells (`unit`: [`ms_cell`] or [`us_cell`]).
pub(crate) fn percentiles(l: &LatencySummary, unit: fn(u64) -> String) -> String {
    format!("{:>8}{:>8}{:>8}", unit(l.p50_ns), unit(l.p99_ns), unit(l.max_ns))
}

pub(crate) fn name(g: &GroupSummary, width: usize) -> String {
    let full = format!("{}/{}", g.driver, g.timeline);
    if full.chars().count() <= width {
        return full;
    }
    // Cut both halves, marking each cut with '~': the driver's start and the
    // timeline's end say the most.
    let cut_start = |s: &str, n: usize| -> String {
        if s.chars().count() <= n {
            s.to_string()
        } else {
            s.chars().take(n - 1).chain(['~']).collect()
        }
    };
    let driver = cut_start(&g.driver, (width / 2).max(2));
    let room = width - driver.chars().count() - 1;
    let tail: String = {
        let t: Vec<char> = g.timeline.chars().collect();
        if t.len() <= room {
            g.timeline.clone()
        } else {
            std::iter::once('~').chain(t[t.len() - (room - 1)..].iter().copied()).collect()
        }
    };
    format!("{driver}/{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_keep_a_space_in_an_eight_wide_column() {
        let cases = [
            (ms_cell(999_999_499), "999.999"),
            (ms_cell(1_004_536_000), "1004.54"),
            (ms_cell(12_345_678_000), "12345.7"),
            (ms_cell(999_000_000_000), "999000"),
            (us_cell(71_700), "71.7"),
            (us_cell(123_456_700), "123457"),
        ];
        for (got, want) in cases {
            assert_eq!(got, want);
        }
        // Prose keeps every decimal.
        assert_eq!(ms(1_004_536_000), "1004.536");
    }
}
