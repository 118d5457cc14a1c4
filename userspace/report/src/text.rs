//! The plain-text report: tables that fit 72 columns, since it goes into
//! mail (a cover letter, a review reply).
use std::fmt::Write as _;

use fencescope_engine::{GroupSummary, Summary};

use crate::units::{cut, ms, ms_cell, name, percentiles, us_cell, waited_on, who};

/// The text report. Columns: 20 + 7 + 6 + 6 + 4 x 8 = 71.
pub fn text(s: &Summary, kernel: &str) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "fencescope: {} events over {:.2} s on {kernel}",
        s.events,
        s.span_ns as f64 / 1e9
    );
    let _ = writeln!(
        o,
        "lost: {} records dropped, {} fences evicted, {} unnamed",
        s.dropped, s.evicted, s.unnamed
    );
    if !s.dropped_by_kind.is_empty() {
        let kinds: Vec<String> =
            s.dropped_by_kind.iter().map(|(k, n)| format!("{k} {n}")).collect();
        let _ = writeln!(o, "  dropped: {}", kinds.join(", "));
    }
    if !s.partial.is_empty() {
        let _ = writeln!(o, "  PARTIAL: {} (counts are lower bounds;", s.partial.join(", "));
        let _ = writeln!(o, "  a fence whose signal was dropped looks alive: a larger --ring-mb)");
    }
    let _ = writeln!(o);
    let _ = writeln!(o, "fence lifetimes, init -> signalled (ms)");
    let _ = writeln!(
        o,
        "{:<20}{:>7}{:>6}{:>6}{:>8}{:>8}{:>8}{:>8}",
        "driver/timeline", "fences", "sig'd", "live", "p50", "p90", "p99", "max"
    );
    let real: Vec<&GroupSummary> = s.groups.iter().filter(|g| !g.stub).collect();
    if real.is_empty() {
        let _ = writeln!(o, "(no real fences seen)");
    }
    for g in real {
        let l = &g.lifetime;
        let _ = writeln!(
            o,
            "{:<20}{:>7}{:>6}{:>6}{:>8}{:>8}{:>8}{:>8}",
            name(g, 19),
            g.fences,
            g.signalled,
            g.in_flight,
            ms_cell(l.p50_ns),
            ms_cell(l.p90_ns),
            ms_cell(l.p99_ns),
            ms_cell(l.max_ns)
        );
    }
    let never: u64 = s.groups.iter().map(|g| g.destroyed_unsignalled).sum();
    let live: Vec<&GroupSummary> = s.groups.iter().filter(|g| g.in_flight > 0).collect();
    if never > 0 || !live.is_empty() {
        let _ = writeln!(o);
        let _ = writeln!(o, "never signalled: {never} destroyed unsignalled");
        for g in live {
            let _ = writeln!(
                o,
                "  {}: {} still unsignalled, oldest {} ms",
                name(g, 40),
                g.in_flight,
                ms(g.oldest_in_flight_ns)
            );
        }
    }
    let unseen = s.totals.signal_unseen;
    if unseen > 0 {
        let _ =
            writeln!(o, "signal unseen: {unseen} destroyed signalled, the record of it dropped");
    }
    crate::contract::text(&mut o, &s.contract);
    waits_and_exports(&mut o, s);
    buffers(&mut o, s);
    let _ = writeln!(o);
    let stubs: Vec<String> = s
        .groups
        .iter()
        .filter(|g| g.stub)
        .map(|g| format!("{} {}", g.fences, name(g, 40)))
        .collect();
    let _ = writeln!(
        o,
        "stub fences (context 0) initialised: {}",
        if stubs.is_empty() { "none".to_string() } else { stubs.join(", ") }
    );
    if s.signals_without_init > 0 {
        let _ =
            writeln!(o, "signals of fences created before the session: {}", s.signals_without_init);
    }
    o
}

fn waits_and_exports(o: &mut String, s: &Summary) {
    if !s.waits.is_empty() {
        let _ = writeln!(o);
        let _ = writeln!(o, "waits, ask -> signalled (ms; zero: found it signalled)");
        let _ = writeln!(
            o,
            "{:<16}{:<15}{:>6}{:>5}{:>5}{:>8}{:>8}{:>8}",
            "process/thread", "style", "waits", "zero", "open", "p50", "p99", "max"
        );
        for w in &s.waits {
            let _ = writeln!(
                o,
                "{:<16}{:<15}{:>6}{:>5}{:>5}{}",
                who(&w.process, &w.thread, 15),
                w.style,
                w.waits,
                w.zero_waits,
                w.open,
                percentiles(&w.latency, ms_cell)
            );
            if !w.on.is_empty() {
                let on = waited_on(&w.on);
                let _ = writeln!(o, "  on {}", cut(&on, 66));
            }
        }
    }
    if !s.exports.is_empty() {
        let _ = writeln!(o);
        let _ = writeln!(o, "EXPORT_SYNC_FILE round trips (us), by what they handed out");
        let _ = writeln!(
            o,
            "{:<22}{:<14}{:>7}{:>8}{:>8}{:>8}",
            "process/thread", "handed", "calls", "p50", "p99", "max"
        );
        for e in &s.exports {
            let _ = writeln!(
                o,
                "{:<22}{:<14}{:>7}{}",
                who(&e.process, &e.thread, 21),
                e.handed,
                e.exports,
                percentiles(&e.round_trip, us_cell)
            );
        }
        let _ = writeln!(o, "stub exports (the consumer got no real fence): {}", s.stub_exports());
    }
    let a = &s.arrays;
    if a.arrays > 0 {
        let held: Vec<String> =
            a.member_groups.iter().map(|(d, t, n)| format!("{n} {d}/{t}")).collect();
        let _ = writeln!(o);
        let _ = writeln!(
            o,
            "fence arrays: {} made, holding {} fences: {}",
            a.arrays,
            a.members,
            held.join(", ")
        );
    }
}

fn buffers(o: &mut String, s: &Summary) {
    let attached: Vec<&GroupSummary> =
        s.groups.iter().filter(|g| g.resv_usage.iter().sum::<u64>() > 0).collect();
    if !attached.is_empty() {
        let _ = writeln!(o);
        let _ = writeln!(o, "fences added to buffers (dma_resv_add_fence), attach -> signal (ms)");
        let _ = writeln!(
            o,
            "{:<20}{:>6}{:>6}{:>6}{:>6}{:>8}{:>8}{:>8}",
            "driver/timeline", "kern", "write", "read", "bkkp", "p50", "p99", "max"
        );
        for g in attached {
            let u = g.resv_usage;
            let _ = writeln!(
                o,
                "{:<20}{:>6}{:>6}{:>6}{:>6}{}",
                name(g, 19),
                u[0],
                u[1],
                u[2],
                u[3],
                percentiles(&g.attach_to_signal, ms_cell)
            );
        }
    }
    let v = &s.vb2;
    if v.buffers_done > 0 || v.dones > 0 {
        let _ = writeln!(o);
        let _ = writeln!(
            o,
            "videobuf2: {} queues, {} buffers; qbuf {} done {} dqbuf {}",
            v.queues, v.buffers, v.qbufs, v.dones, v.dqbufs
        );
        let _ = writeln!(o, "  dones paired with their buffer's qbuf: {}", v.done_paired);
        let _ = writeln!(o, "  {:<19}{:>8}{:>8}{:>8}", "", "p50", "p99", "max");
        let _ =
            writeln!(o, "  {:<19}{}", "qbuf -> done (ms)", percentiles(&v.qbuf_to_done, ms_cell));
        let _ =
            writeln!(o, "  {:<19}{}", "done -> dqbuf (ms)", percentiles(&v.done_to_dqbuf, ms_cell));
        if v.buffers_done > 0 {
            let _ = writeln!(
                o,
                "  vb2_buffer_done calls: {}, {} signalled a fence inside",
                v.buffers_done, v.with_fence
            );
        }
        for g in s.groups.iter().filter(|g| g.vb2_done_to_signal.count > 0) {
            let _ = writeln!(
                o,
                "  {}: done -> signal (us) {}",
                name(g, 30),
                percentiles(&g.vb2_done_to_signal, us_cell)
            );
        }
        crate::vb2::text(o, s);
    }
}
