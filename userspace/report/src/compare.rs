//! `fencescope compare BEFORE AFTER`: the figures of two captures side by
//! side, with a plain verdict each: counts say new/gone/±%, distributions
//! are tested (two-sample Kolmogorov–Smirnov) so noise is not called a
//! change. Plain text within 72 columns, for a cover letter.
use std::collections::BTreeSet;
use std::fmt::Write as _;

use fencescope_engine::stats::ks;
use fencescope_engine::{Distributions, Summary};
use hdrhistogram::Histogram;

fn count_verdict(b: u64, a: u64) -> String {
    match (b, a) {
        (0, 0) => "none".into(),
        (0, _) => "new".into(),
        (_, 0) => "gone".into(),
        _ if a == b => "same".into(),
        _ => format!("{:+.0}%", (a as f64 - b as f64) * 100.0 / b as f64),
    }
}

fn dist_verdict(b: Option<&Histogram<u64>>, a: Option<&Histogram<u64>>, alpha: f64) -> String {
    match (b.filter(|h| !h.is_empty()), a.filter(|h| !h.is_empty())) {
        (None, None) => "none".into(),
        (None, Some(_)) => "new".into(),
        (Some(_), None) => "gone".into(),
        (Some(b), Some(a)) => match ks(b, a) {
            Some(t) if t.p < alpha => format!("changed p={:.0e}", t.p),
            Some(t) => format!("noise p={:.2}", t.p),
            None => "none".into(),
        },
    }
}

struct Table(String);

impl Table {
    fn row(&mut self, label: &str, before: String, after: String, delta: String, verdict: String) {
        let line = format!("{label:<27}{before:>10}{after:>10}{delta:>10}  {verdict}");
        let _ = writeln!(self.0, "{}", line.trim_end());
    }

    /// A count row: before, after, their difference and new/gone/same/±%.
    fn count(&mut self, label: &str, b: u64, a: u64) {
        self.row(
            label,
            b.to_string(),
            a.to_string(),
            format!("{:+}", a as i64 - b as i64),
            count_verdict(b, a),
        );
    }

    fn section(&mut self, title: &str) {
        let _ = writeln!(self.0, "{title}");
    }
}

fn ms(ns: Option<u64>) -> String {
    ns.map_or("-".into(), crate::units::ms)
}

fn delta_ms(b: Option<u64>, a: Option<u64>) -> String {
    match (b, a) {
        (Some(b), Some(a)) => format!("{:+.3}", (a as f64 - b as f64) / 1e6),
        _ => "-".into(),
    }
}

fn p(h: Option<&Histogram<u64>>, q: f64) -> Option<u64> {
    h.filter(|h| !h.is_empty()).map(|h| h.value_at_quantile(q))
}

/// One capture's figures: its summary, its distributions, its kernel.
pub type Side<'a> = (&'a Summary, &'a Distributions, &'a str);

/// The comparison table of `before` and `after`, a distribution called
/// changed where the KS test's p is under `alpha`.
pub fn render(before: Side, after: Side, alpha: f64) -> String {
    let (bs, bd, bk) = before;
    let (as_, ad, ak) = after;
    let mut t = Table(String::new());
    let _ = writeln!(t.0, "fencescope compare: before on {bk}, after on {ak}");
    let _ = writeln!(t.0, "distributions: two-sample KS test, a change when p < {alpha}");
    let _ = writeln!(t.0);
    let _ =
        writeln!(t.0, "{:<27}{:>10}{:>10}{:>10}  verdict", "figure", "before", "after", "delta");
    // Fence lifetimes, per driver/timeline.
    let fences = |s: &Summary, n: &str| -> u64 {
        let named =
            |g: &&fencescope_engine::GroupSummary| format!("{}/{}", g.driver, g.timeline) == n;
        s.groups.iter().filter(|g| !g.stub).filter(named).map(|g| g.fences).sum()
    };
    for n in bd.lifetimes.keys().chain(ad.lifetimes.keys()).collect::<BTreeSet<_>>() {
        let (b, a) = (bd.lifetimes.get(n), ad.lifetimes.get(n));
        t.section(n);
        t.count("  fences", fences(bs, n), fences(as_, n));
        for (q, label) in [(0.5, "  lifetime p50 ms"), (0.99, "  lifetime p99 ms")] {
            t.row(label, ms(p(b, q)), ms(p(a, q)), delta_ms(p(b, q), p(a, q)), String::new());
        }
        t.row(
            "  lifetime distribution",
            String::new(),
            String::new(),
            String::new(),
            dist_verdict(b, a, alpha),
        );
    }
    // Waits, per waiter and style.
    for k in bd.waits.keys().chain(ad.waits.keys()).collect::<BTreeSet<_>>() {
        let (b, a) = (bd.waits.get(k), ad.waits.get(k));
        t.section(&format!("waits by {k}"));
        t.count("  waits", b.map_or(0, |h| h.len()), a.map_or(0, |h| h.len()));
        let (mb, ma) = (p(b, 0.5), p(a, 0.5));
        t.row("  wait p50 ms", ms(mb), ms(ma), delta_ms(mb, ma), String::new());
        let (pb, pa) = (p(b, 0.99), p(a, 0.99));
        t.row("  wait p99 ms", ms(pb), ms(pa), delta_ms(pb, pa), dist_verdict(b, a, alpha));
    }
    // Export round trips (the series' own gate), per waiter and what it got.
    let us = |v: Option<u64>| v.map_or("-".into(), |v| format!("{:.1}", v as f64 / 1e3));
    for k in bd.exports.keys().chain(ad.exports.keys()).collect::<BTreeSet<_>>() {
        let (b, a) = (bd.exports.get(k), ad.exports.get(k));
        t.section(&format!("exports by {k}"));
        t.count("  exports", b.map_or(0, |h| h.len()), a.map_or(0, |h| h.len()));
        let (pb, pa) = (p(b, 0.99), p(a, 0.99));
        let delta = match (pb, pa) {
            (Some(x), Some(y)) => format!("{:+.1}", (y as f64 - x as f64) / 1e3),
            _ => "-".into(),
        };
        t.row("  round trip p99 us", us(pb), us(pa), delta, dist_verdict(b, a, alpha));
    }
    let (bc, ac) = (&bs.contract, &as_.contract);
    if crate::contract::worth_showing(bc) || crate::contract::worth_showing(ac) {
        t.section("arming contract");
        t.count("  fences armed", bc.armed, ac.armed);
        let (wb, wa) = (bc.unarmed_window.max_ns, ac.unarmed_window.max_ns);
        let some =
            |c: &fencescope_engine::contract::ContractSummary, v: u64| (c.armed > 0).then_some(v);
        let (wb, wa) = (some(bc, wb), some(ac, wa));
        t.row("  unarmed window max ms", ms(wb), ms(wa), delta_ms(wb, wa), String::new());
        t.count("  handed out unarmed", bc.handed_out_unarmed, ac.handed_out_unarmed);
        t.count("  never signalled", bc.never_signalled, ac.never_signalled);
        t.count("  foreign fences", bc.foreign_fences, ac.foreign_fences);
        t.count("  fences on no buffer", bc.unattached_fences, ac.unattached_fences);
        let unfenced = |c: &fencescope_engine::contract::ContractSummary| {
            c.unfenced_queues.iter().map(|q| q.2).sum::<u64>()
        };
        t.count("  buffers without a fence", unfenced(bc), unfenced(ac));
    }
    // videobuf2 queues, by who they are and the process that queues.
    let queues =
        |s: &'_ Summary| -> std::collections::BTreeMap<String, fencescope_engine::Vb2Summary> {
            crate::vb2::rows(s)
                .iter()
                .map(|q| (crate::vb2::compare_key(q), q.figures.clone()))
                .collect()
        };
    let (bq, aq) = (queues(bs), queues(as_));
    for k in bq.keys().chain(aq.keys()).collect::<BTreeSet<_>>() {
        let none = fencescope_engine::Vb2Summary::default();
        let (b, a) = (bq.get(k).unwrap_or(&none), aq.get(k).unwrap_or(&none));
        t.section(&format!("vb2 {k}"));
        t.count("  qbufs", b.qbufs, a.qbufs);
        t.count("  dones with a fence", b.with_fence, a.with_fence);
        let p50 = |l: &fencescope_engine::LatencySummary| (l.count > 0).then_some(l.p50_ns);
        for (label, lb, la) in [
            ("  qbuf -> done p50 ms", &b.qbuf_to_done, &a.qbuf_to_done),
            ("  done -> dqbuf p50 ms", &b.done_to_dqbuf, &a.done_to_dqbuf),
        ] {
            let (x, y) = (p50(lb), p50(la));
            t.row(label, ms(x), ms(y), delta_ms(x, y), String::new());
        }
    }
    t.section("in all");
    t.count("  stub exports", bs.stub_exports(), as_.stub_exports());
    let zero = |s: &Summary| s.waits.iter().map(|w| w.zero_waits).sum::<u64>();
    t.count("  zero-waits", zero(bs), zero(as_));
    t.count("  records dropped", bs.dropped, as_.dropped);
    t.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use fencescope_engine::{Body, Engine, Event, Meta, Name, Phase};

    const MS: u64 = 1_000_000;

    /// A run: `n` vgem fences of `lifetime`; with `fenced` the compositor
    /// exports each while it is busy, else it gets the stub.
    fn run(n: u64, lifetime: u64, fenced: bool) -> Engine {
        let stub = 0xffff_ffff_8000_0000;
        let symbols = fencescope_engine::Symbols { dma_fence_stub: stub, ..Default::default() };
        let mut e = Engine::default().with_symbols(symbols);
        let mut feed = |ts: u64, tid: u32, comm: &str, body: Body| {
            let meta = Meta { ts_ns: ts, cpu: 0, tgid: tid, tid, comm: Name::new(comm), via: None };
            e.feed(&Event { meta, body });
        };
        for i in 0..n {
            let t = i * 100 * MS;
            let fence = 0x1000 + i;
            // A deterministic jitter of up to 2 % of the lifetime.
            let life = lifetime + (i * 7919 % 100) * lifetime / 5000;
            feed(t, 10, "producer", Body::FenceInit { fence, context: 10 + i, seqno: 1 });
            let names = Body::FenceNames {
                context: 10 + i as u32,
                seqno: 1,
                driver: Name::new("videobuf2"),
                timeline: Name::new("vb2-release-fence"),
            };
            feed(t, 10, "producer", names);
            let handed = if fenced { fence } else { stub };
            feed(
                t + MS,
                20,
                "kwin_wayland",
                Body::Export { phase: Phase::Entry, object: 1, ret: 0 },
            );
            feed(
                t + MS,
                20,
                "kwin_wayland",
                Body::SyncFile {
                    fence: handed,
                    context: if fenced { 10 + i } else { 0 },
                    seqno: 1,
                },
            );
            feed(
                t + MS + 20_000,
                20,
                "kwin_wayland",
                Body::Export { phase: Phase::Return, object: 0, ret: 0 },
            );
            feed(t + life, 10, "producer", Body::FenceSignaled { fence, context: 0, seqno: 0 });
        }
        e
    }

    fn side(e: &Engine) -> (Summary, Distributions) {
        (e.summary(), e.distributions())
    }

    #[test]
    fn before_after_table_snapshot() {
        let (bs, bd) = side(&run(300, 20 * MS, false));
        let (a_s, ad) = side(&run(300, 20 * MS, true));
        let text = render((&bs, &bd, "6.12.117"), (&a_s, &ad, "6.12.117+rfc"), 0.01);
        for line in text.lines() {
            assert!(line.chars().count() <= 72, "{line:?}");
        }
        insta::assert_snapshot!(text);
    }

    /// The series on a decoder: the same queues before and after, named,
    /// and only the CAPTURE queue's dones carry a fence after.
    #[test]
    fn vb2_queues_are_compared_by_who_they_are() {
        let session = fencescope_engine::synthetic::decoder_session(10, 33 * MS);
        let fenceless = session
            .iter()
            .filter(|e| !matches!(e.body, Body::FenceInit { .. } | Body::FenceSignaled { .. }));
        let (mut before, mut after) = (Engine::default(), Engine::default());
        fenceless.for_each(|e| before.feed(e));
        session.iter().for_each(|e| after.feed(e));
        let ((bs, bd), (a_s, ad)) = (side(&before), side(&after));
        let text = render((&bs, &bd, "6.12"), (&a_s, &ad, "6.12+rfc"), 0.01);
        let capture = "vb2 hantro-vpu fdea0000.video-codec video1 capture-mplane by chromium";
        let at = text.find(capture).unwrap_or_else(|| panic!("{capture} missing from\n{text}"));
        let section: Vec<&str> = text[at..].lines().take(5).collect();
        assert!(section[1].split_whitespace().eq(["qbufs", "10", "10", "+0", "same"]), "{text}");
        assert!(section[2].starts_with("  dones with a fence") && section[2].contains("new"));
        assert!(text.contains("output-mplane by chromium"), "{text}");
        assert!(text.lines().all(|l| l.chars().count() <= 72), "{text}");
    }

    #[test]
    fn noise_is_not_a_change_and_a_shift_is() {
        let (s1, d1) = side(&run(300, 20 * MS, true));
        let (s2, d2) = side(&run(300, 20 * MS, true));
        let same = render((&s1, &d1, "a"), (&s2, &d2, "b"), 0.01);
        assert!(same.contains("noise p=") && !same.contains("changed"), "{same}");
        let (s3, d3) = side(&run(300, 22 * MS, true));
        let shifted = render((&s1, &d1, "a"), (&s3, &d3, "b"), 0.01);
        assert!(shifted.contains("changed p="), "{shifted}");
    }
}
