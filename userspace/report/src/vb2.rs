//! videobuf2 queues apart: each under who it is (driver, device, video node,
//! queue type) and the process that queues on it, in text, markdown and
//! compare alike.
use std::fmt::Write as _;

use fencescope_engine::{Summary, Vb2QueueSummary};

use crate::units::{ms, ms_cell, percentiles, us, us_cell};

/// The rows worth a line: none when every queue is unnamed and alone (an
/// older capture, or a kernel whose names could not be read), as the totals
/// already say it all.
pub(crate) fn rows(s: &Summary) -> &[Vb2QueueSummary] {
    let q = &s.vb2.by_queue;
    let anonymous = q.len() == 1 && q[0].driver.is_empty() && q[0].device.is_empty();
    if anonymous { &[] } else { q }
}

/// `label (process pid)`: how a row is named where a pid helps (one run).
fn named(q: &Vb2QueueSummary) -> String {
    match q.process.is_empty() {
        true => q.label(),
        false => format!("{} ({} {})", q.label(), q.process, q.pid),
    }
}

/// `s` in at most `width` characters, a cut marked with `~`.
fn cut(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        s.into()
    } else {
        s.chars().take(width - 1).chain(['~']).collect()
    }
}

/// The key rows of two runs are matched by in `compare`: the pid differs
/// between runs, the process's name does not.
pub(crate) fn compare_key(q: &Vb2QueueSummary) -> String {
    match q.process.is_empty() {
        true => q.label(),
        false => format!("{} by {}", q.label(), q.process),
    }
}

/// The text report's block per queue.
pub(crate) fn text(o: &mut String, s: &Summary) {
    for q in rows(s) {
        let f = &q.figures;
        let _ = writeln!(o, "  {}:", cut(&named(q), 69));
        let _ = writeln!(
            o,
            "    {} buffers; qbuf {} done {} dqbuf {}; dones with a fence {} of {}",
            q.buffers, f.qbufs, f.dones, f.dqbufs, f.with_fence, f.buffers_done
        );
        let _ =
            writeln!(o, "    {:<21}{}", "qbuf -> done (ms)", percentiles(&f.qbuf_to_done, ms_cell));
        let _ = writeln!(
            o,
            "    {:<21}{}",
            "done -> dqbuf (ms)",
            percentiles(&f.done_to_dqbuf, ms_cell)
        );
        if f.done_to_signal.count > 0 {
            let _ = writeln!(
                o,
                "    {:<21}{}",
                "done -> signal (us)",
                percentiles(&f.done_to_signal, us_cell)
            );
        }
    }
}

/// The markdown report's table of queues.
pub(crate) fn markdown_rows(s: &Summary) -> Vec<Vec<String>> {
    rows(s)
        .iter()
        .map(|q| {
            let f = &q.figures;
            let or_dash = |n: u64, v: String| if n == 0 { "-".to_string() } else { v };
            vec![
                q.label(),
                format!("{} {}", q.process, q.pid),
                q.buffers.to_string(),
                f.qbufs.to_string(),
                f.dones.to_string(),
                f.dqbufs.to_string(),
                format!("{} of {}", f.with_fence, f.buffers_done),
                or_dash(f.qbuf_to_done.count, ms(f.qbuf_to_done.p50_ns)),
                or_dash(f.done_to_dqbuf.count, ms(f.done_to_dqbuf.p50_ns)),
                or_dash(f.done_to_signal.count, us(f.done_to_signal.p50_ns)),
            ]
        })
        .collect()
}

/// The markdown table's head, for [`markdown_rows`].
pub(crate) const MARKDOWN_HEAD: [&str; 10] = [
    "driver device node queue",
    "process",
    "buffers",
    "qbuf",
    "done",
    "dqbuf",
    "dones with a fence",
    "qbuf → done p50 ms",
    "done → dqbuf p50 ms",
    "done → signal p50 µs",
];
