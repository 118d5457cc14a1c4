//! `fencescope record`: live into the engine and a capture file.
use anyhow::Result;
use fencescope_loader::kernel;

use crate::cli::RecordArgs;
use crate::verify::{self, Verify};
use fencescope_stream::setup::EngineSetup;
use fencescope_stream::sink::{CaptureFile, Fanout};
use fencescope_stream::source::Source;

pub(crate) fn run(a: &RecordArgs, use_btf: bool) -> Result<i32> {
    CaptureFile::check(&a.output)?;
    // Bound before attaching: a taken port fails before anything is recorded.
    let (metrics, listener) = super::metrics(&a.metrics)?.unzip();
    let mut verify = Verify::start(&a.live)?;
    let session = super::open(&a.live, use_btf)?;
    if let Some(v) = verify.as_mut() {
        v.attached();
    }
    let capture = CaptureFile::create(&a.output, &session, super::TOOL_VERSION)?;
    let filter = a.live.filter.filter();
    let filter = verify.as_ref().map_or(filter.clone(), |v| v.filter(filter));
    let mut fan = Fanout::new(EngineSetup::of(&session).engine(filter.clone()));
    fan.capture = Some(capture);
    fan.metrics = metrics;
    let streamed = Source::Live(Box::new(session)).run(a.live.duration, &mut fan, listener);
    // Whatever happened, keep what was recorded.
    fan.finish_capture(Some(&a.output))?;
    streamed?;
    fan.warn();
    if let Some(format) = a.report {
        print!(
            "{}",
            fencescope_report::render_engine(&fan.engine, format.into(), &kernel::release())
        );
    }
    Ok(verify::report(verify.map(|v| v.finish(&fan.engine, &filter))))
}
