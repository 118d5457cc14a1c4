//! The report as Markdown, for forges: the same figures as the text report,
//! as tables.
use std::fmt::Write as _;

use fencescope_engine::{LatencySummary, Summary};

use crate::units::ms;

/// A pipe table; the first `text` columns are left-aligned, numbers right.
fn table(o: &mut String, head: &[&str], text: usize, rows: Vec<Vec<String>>) {
    let _ = writeln!(o, "| {} |", head.join(" | "));
    let align: Vec<&str> = (0..head.len()).map(|i| if i < text { "---" } else { "---:" }).collect();
    let _ = writeln!(o, "|{}|", align.join("|"));
    for r in rows {
        let _ = writeln!(o, "| {} |", r.join(" | "));
    }
}

fn pcts(l: &LatencySummary) -> [String; 3] {
    [ms(l.p50_ns), ms(l.p99_ns), ms(l.max_ns)]
}

/// The markdown report of a summary from kernel release `kernel`.
pub fn markdown(s: &Summary, kernel: &str) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "## fencescope on {kernel}\n");
    let _ = writeln!(
        o,
        "{} events over {:.2} s; {} records dropped, {} fences evicted, {} unnamed.\n",
        s.events,
        s.span_ns as f64 / 1e9,
        s.dropped,
        s.evicted,
        s.unnamed
    );
    if !s.dropped_by_kind.is_empty() {
        let kinds: Vec<String> =
            s.dropped_by_kind.iter().map(|(k, n)| format!("{k} {n}")).collect();
        let _ = writeln!(o, "Dropped by kind: {}.\n", kinds.join(", "));
    }
    if !s.partial.is_empty() {
        let _ = writeln!(
            o,
            "**Partial:** {}: counts are lower bounds, and a fence whose signal was dropped \
             looks alive.\n",
            s.partial.join(", ")
        );
    }
    let _ = writeln!(o, "### Fence lifetimes, init → signalled (ms)\n");
    let rows = s
        .groups
        .iter()
        .filter(|g| !g.stub)
        .map(|g| {
            let [p50, p99, max] = pcts(&g.lifetime);
            vec![
                format!("{}/{}", g.driver, g.timeline),
                g.fences.to_string(),
                g.signalled.to_string(),
                g.in_flight.to_string(),
                p50,
                p99,
                max,
            ]
        })
        .collect();
    table(
        &mut o,
        &["driver/timeline", "fences", "signalled", "in flight", "p50", "p99", "max"],
        1,
        rows,
    );
    if crate::contract::worth_showing(&s.contract) {
        let _ = writeln!(o);
        crate::contract::markdown(&mut o, &s.contract);
    }
    if !s.waits.is_empty() {
        let _ = writeln!(o, "\n### Waits, ask → signalled (ms)\n");
        let rows = s
            .waits
            .iter()
            .map(|w| {
                let [p50, p99, max] = pcts(&w.latency);
                vec![
                    format!("{}/{}", w.process, w.thread),
                    w.style.clone(),
                    w.waits.to_string(),
                    w.zero_waits.to_string(),
                    w.open.to_string(),
                    p50,
                    p99,
                    max,
                    crate::units::waited_on(&w.on),
                ]
            })
            .collect();
        table(
            &mut o,
            &["process/thread", "style", "waits", "zero-waits", "open", "p50", "p99", "max", "on"],
            2,
            rows,
        );
    }
    let queues = crate::vb2::markdown_rows(s);
    if !queues.is_empty() {
        let _ = writeln!(o, "\n### videobuf2 queues\n");
        table(&mut o, &crate::vb2::MARKDOWN_HEAD, 2, queues);
    }
    if !s.exports.is_empty() {
        let _ = writeln!(o, "\n### EXPORT_SYNC_FILE round trips (ms)\n");
        let rows = s
            .exports
            .iter()
            .map(|e| {
                let [p50, p99, max] = pcts(&e.round_trip);
                vec![
                    format!("{}/{}", e.process, e.thread),
                    e.handed.clone(),
                    e.exports.to_string(),
                    p50,
                    p99,
                    max,
                ]
            })
            .collect();
        table(&mut o, &["process/thread", "handed out", "exports", "p50", "p99", "max"], 2, rows);
        let _ = writeln!(
            o,
            "\nStub exports (the consumer got no real fence): **{}**",
            s.stub_exports()
        );
    }
    o
}
