//! `fencescope report` and `dump`, and the capture replay the other
//! commands on captures share.
use anyhow::Result;
use fencescope_capture as capture;
use fencescope_engine::{Engine, Event};

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
    print!("{}", fencescope_report::render_engine(&engine, a.format.into(), &info.kernel_release));
    if a.stages.is_some() && a.format == Format::Text {
        print!("{}", fencescope_report::contract::stage_log(engine.stage_log()));
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
