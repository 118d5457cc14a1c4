//! The units and cut names every report shares, so a figure reads the same
//! in text, markdown and compare.
use fencescope_engine::{GroupSummary, LatencySummary};

/// Nanoseconds as milliseconds with three decimals: every report's unit.
pub(crate) fn ms(ns: u64) -> String {
    format!("{:.3}", ns as f64 / 1e6)
}

pub(crate) fn us(ns: u64) -> String {
    format!("{:.1}", ns as f64 / 1e3)
}

/// `process/thread`, or just the thread where they are the same, cut to fit.
pub(crate) fn who(process: &str, thread: &str, width: usize) -> String {
    let s = if process == thread { thread.to_string() } else { format!("{process}/{thread}") };
    if s.chars().count() <= width { s } else { s.chars().take(width - 1).chain(['~']).collect() }
}

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
