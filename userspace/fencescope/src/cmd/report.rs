//! `fencescope report` (a capture replayed into the engine, rendered) and
//! `dump` (its records one per line).
use anyhow::Result;
use fencescope_capture as capture;
use fencescope_engine::Event;

use crate::cli::{DumpArgs, Format, ReportArgs};
use fencescope_stream::source::replay_into;

pub(crate) fn run(a: &ReportArgs) -> Result<i32> {
    let n = a.stages.unwrap_or(0);
    let (engine, info) = replay_into(&a.file, a.filter.filter(), |e| e.with_stage_log(n))?;
    print!("{}", fencescope_report::render_engine(&engine, a.format.into(), &info.kernel_release));
    if a.stages.is_some() && a.format == Format::Text {
        print!("{}", fencescope_report::contract::stage_log(engine.stage_log()));
    }
    Ok(0)
}

/// Every event of a capture, one line each, time relative to the first.
pub(crate) fn dump(a: &DumpArgs) -> Result<i32> {
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
