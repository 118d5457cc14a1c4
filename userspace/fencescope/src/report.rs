//! `fencescope report`, and the rendering every command shares: plain text
//! that fits 72 columns (it goes into mail), or JSON with every figure.
use std::fmt::Write as _;

use anyhow::Result;
use fencescope_capture as capture;
use fencescope_engine::{Engine, Event, GroupSummary, LatencySummary, Summary};

use crate::cli::{DumpArgs, Format, ReportArgs};
use crate::session::EngineSetup;

/// Replays a capture into an engine set up as the live run's was; warns on
/// stderr where the capture stops early.
pub fn replay(
    path: &std::path::Path,
    filter: &crate::cli::FilterArgs,
) -> Result<(Engine, capture::Info)> {
    replay_into(path, filter, |e| e)
}

/// [`replay`] into an engine `setup` adjusts (e.g. to keep stacks).
pub fn replay_into(
    path: &std::path::Path,
    filter: &crate::cli::FilterArgs,
    setup_more: impl FnOnce(Engine) -> Engine,
) -> Result<(Engine, capture::Info)> {
    let (cap, setup) = open_capture(path)?;
    let mut engine = setup_more(setup.engine(filter.filter()));
    decode_each(&cap, "reporting", |ev| engine.feed(&ev));
    Ok((engine, cap.info))
}

/// A capture, and how the engine must read it (as the live run did).
pub fn open_capture(path: &std::path::Path) -> Result<(capture::Capture, EngineSetup)> {
    let cap = capture::read(path)?;
    let setup: EngineSetup = serde_json::from_value(cap.info.engine.clone()).unwrap_or_default();
    Ok((cap, setup))
}

/// Decodes every record of `cap` into `each`; warns on stderr where the
/// capture stops early ("`doing` N records") or records do not decode.
/// Returns whether it was cut short.
pub fn decode_each(cap: &capture::Capture, doing: &str, mut each: impl FnMut(Event)) -> bool {
    let mut malformed = 0u64;
    let outcome = cap.for_each(|rec| match Event::decode(rec) {
        Ok(ev) => each(ev),
        Err(_) => malformed += 1,
    });
    if let Some(why) = &outcome.stopped {
        eprintln!(
            "fencescope: warning: {}: {why}; {doing} {} records",
            cap.name(),
            outcome.records
        );
    }
    if malformed > 0 {
        eprintln!("fencescope: warning: {malformed} records did not decode and were skipped");
    }
    outcome.stopped.is_some()
}

pub fn run(a: &ReportArgs) -> Result<i32> {
    let n = a.stages.unwrap_or(0);
    let (engine, info) = replay_into(&a.file, &a.filter, |e| e.with_stage_log(n))?;
    print!("{}", render_engine(&engine, a.format, &info.kernel_release));
    if a.stages.is_some() && a.format == Format::Text {
        print!("{}", crate::contract_report::stage_log(engine.stage_log()));
    }
    Ok(0)
}

/// Every event of a capture, one line each, time relative to the first.
pub fn dump(a: &DumpArgs) -> Result<i32> {
    use std::io::Write;
    let cap = capture::read(&a.file)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut first = None;
    let mut failed = Ok(());
    let outcome = cap.for_each(|rec| {
        let line = match Event::decode(rec) {
            Ok(ev) => {
                let t0 = *first.get_or_insert(ev.meta.ts_ns);
                let m = &ev.meta;
                format!(
                    "{:>14.6} cpu{} {}/{} {} {:?}",
                    (m.ts_ns.saturating_sub(t0)) as f64 / 1e6,
                    m.cpu,
                    m.tgid,
                    m.tid,
                    m.comm,
                    ev.body
                )
            }
            Err(e) => format!("undecodable record: {e}"),
        };
        if failed.is_ok() {
            failed = writeln!(out, "{line}");
        }
    });
    failed?;
    out.flush()?;
    if let Some(why) = &outcome.stopped {
        eprintln!("fencescope: warning: {}: {why}", cap.name());
    }
    Ok(0)
}

/// The report of an engine: `render` of its summary, and in text the log2
/// histograms of its lifetimes and waits after the tables.
pub fn render_engine(engine: &Engine, format: Format, kernel: &str) -> String {
    let mut out = render(&engine.summary(), format, kernel);
    if format == Format::Text {
        let d = engine.distributions();
        for (name, h) in &d.lifetimes {
            out.push('\n');
            out.push_str(&crate::histogram::log2(&format!("lifetime of {name}, us"), h, 1_000));
        }
        for (name, h) in &d.waits {
            out.push('\n');
            out.push_str(&crate::histogram::log2(&format!("waits of {name}, us"), h, 1_000));
        }
    }
    out
}

pub fn render(s: &Summary, format: Format, kernel: &str) -> String {
    match format {
        Format::Json => serde_json::to_string_pretty(s).expect("summary serialises") + "\n",
        Format::Text => text(s, kernel),
        Format::Markdown => crate::markdown::markdown(s, kernel),
    }
}

/// Nanoseconds as milliseconds with three decimals: every report's unit.
pub(crate) fn ms(ns: u64) -> String {
    format!("{:.3}", ns as f64 / 1e6)
}

fn us(ns: u64) -> String {
    format!("{:.1}", ns as f64 / 1e3)
}

/// `process/thread`, or just the thread where they are the same, cut to fit.
fn who(process: &str, thread: &str, width: usize) -> String {
    let s = if process == thread { thread.to_string() } else { format!("{process}/{thread}") };
    if s.chars().count() <= width { s } else { s.chars().take(width - 1).chain(['~']).collect() }
}

fn percentiles(l: &LatencySummary, unit: fn(u64) -> String) -> String {
    format!("{:>8}{:>8}{:>8}", unit(l.p50_ns), unit(l.p99_ns), unit(l.max_ns))
}

fn name(g: &GroupSummary, width: usize) -> String {
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
            ms(l.p50_ns),
            ms(l.p90_ns),
            ms(l.p99_ns),
            ms(l.max_ns)
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
    crate::contract_report::text(&mut o, &s.contract);
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
                percentiles(&w.latency, ms)
            );
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
                percentiles(&e.round_trip, us)
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
                percentiles(&g.attach_to_signal, ms)
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
        let _ = writeln!(o, "  {:<19}{}", "qbuf -> done (ms)", percentiles(&v.qbuf_to_done, ms));
        let _ = writeln!(o, "  {:<19}{}", "done -> dqbuf (ms)", percentiles(&v.done_to_dqbuf, ms));
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
                percentiles(&g.vb2_done_to_signal, us)
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fencescope_engine::{ExportSummary, GroupSummary, LatencySummary, Vb2Summary, WaitSummary};

    fn sample() -> Summary {
        let lat = |p50, p90, p99, max| LatencySummary {
            count: 400,
            min_ns: 5_000_000,
            mean_ns: 12_500_000,
            p50_ns: p50,
            p90_ns: p90,
            p99_ns: p99,
            p999_ns: max,
            max_ns: max,
        };
        Summary {
            events: 1650,
            span_ns: 10_420_000_000,
            groups: vec![
                GroupSummary {
                    driver: "vgem".into(),
                    timeline: "unbound".into(),
                    fences: 400,
                    signalled: 399,
                    in_flight: 1,
                    oldest_in_flight_ns: 2_500_000_000,
                    lifetime: lat(5_012_000, 20_011_000, 20_054_000, 20_081_000),
                    resv_usage: [0, 400, 0, 0],
                    attach_to_signal: lat(4_990_000, 19_990_000, 20_030_000, 20_060_000),
                    vb2_done_to_signal: lat(3_000, 4_000, 9_000, 12_000),
                    ..Default::default()
                },
                GroupSummary {
                    driver: "a_very_long_driver_name".into(),
                    timeline: "timeline-with-a-long-name".into(),
                    fences: 12,
                    signalled: 12,
                    destroyed_unsignalled: 2,
                    lifetime: lat(1_000, 2_000, 3_000, 123_456_789),
                    ..Default::default()
                },
                GroupSummary {
                    driver: "stub".into(),
                    timeline: "stub".into(),
                    stub: true,
                    fences: 1,
                    signalled: 1,
                    ..Default::default()
                },
            ],
            signals_without_init: 3,
            unnamed: 0,
            dropped: 7,
            dropped_by_kind: vec![("fence init".into(), 5), ("fence signalled".into(), 2)],
            evicted: 0,
            waits: vec![
                WaitSummary {
                    process: "kwin_wayland".into(),
                    thread: "kwin_wayland".into(),
                    style: "poll+export".into(),
                    waits: 398,
                    zero_waits: 2,
                    open: 0,
                    latency: lat(4_010_000, 4_050_000, 4_080_000, 4_100_000),
                },
                WaitSummary {
                    process: "kwin_wayland".into(),
                    thread: "KWinCompositingThread".into(),
                    style: "dmabuf-poll".into(),
                    zero_waits: 20,
                    ..Default::default()
                },
            ],
            exports: vec![
                ExportSummary {
                    process: "kwin_wayland".into(),
                    thread: "kwin_wayland".into(),
                    handed: "fence".into(),
                    exports: 398,
                    round_trip: lat(12_300, 40_100, 50_000, 61_000),
                },
                ExportSummary {
                    process: "kwin_wayland".into(),
                    thread: "kwin_wayland".into(),
                    handed: "stub".into(),
                    exports: 20,
                    round_trip: lat(8_000, 9_000, 9_500, 9_900),
                },
            ],
            arrays: fencescope_engine::ArraySummary {
                arrays: 5,
                members: 10,
                unlisted: 0,
                member_groups: vec![("vgem".into(), "unbound".into(), 10)],
            },
            vb2: Vb2Summary {
                buffers_done: 30,
                with_fence: 28,
                queues: 1,
                buffers: 4,
                qbufs: 34,
                buf_queues: 34,
                dones: 30,
                dqbufs: 30,
                done_paired: 30,
                qbuf_to_done: lat(99_000_000, 100_000_000, 101_000_000, 102_000_000),
                done_to_dqbuf: lat(1_000, 2_000, 3_000, 4_000),
            },
            unpaired: 0,
            contract: fencescope_engine::contract::ContractSummary {
                arms: 20,
                arms_unmatched: 0,
                armed: 20,
                unarmed_window: lat(200_000_000, 200_100_000, 200_300_000, 200_300_000),
                handed_out: 20,
                handed_out_unarmed: 20,
                handed_out_unarmed_worst: vec![crate::contract_report::tests::starved()],
                never_signalled: 1,
                never_signalled_threshold_ns: 1_000_000_000,
                never_signalled_worst: vec![],
                foreign_fences: 5,
                foreign_drivers: vec![("vgem/unbound".into(), 5)],
                foreign_worst: vec![],
                unattached_fences: 0,
                unattached_worst: vec![],
                unfenced_queues: vec![("0xffff888004d2c000".into(), 4, 4)],
            },
        }
    }

    #[test]
    fn text_report_snapshot() {
        insta::assert_snapshot!(text(&sample(), "6.12.117+deb13-amd64"));
    }

    #[test]
    fn markdown_report_snapshot() {
        insta::assert_snapshot!(render(&sample(), Format::Markdown, "6.12.117+deb13-amd64"));
    }

    #[test]
    fn text_report_fits_mail() {
        for line in text(&sample(), "6.12.117+deb13-amd64").lines() {
            assert!(line.chars().count() <= 72, "{line:?}");
        }
    }

    #[test]
    fn json_report_snapshot() {
        // Field names are what scripts read: a rename shows up here.
        insta::assert_snapshot!(render(&sample(), Format::Json, "6.12.117+deb13-amd64"));
    }

    #[test]
    fn json_report_round_trips_every_figure() {
        let s = sample();
        let back: Summary = serde_json::from_str(&render(&s, Format::Json, "k")).unwrap();
        assert_eq!(back, s);
    }
}
