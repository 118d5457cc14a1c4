//! `fencescope export --perfetto`: replays a capture with its trace kept and
//! writes `fencescope_report::perfetto`'s JSON.
use anyhow::{Context, Result};
use fencescope_report::perfetto::perfetto_json;

use crate::cli::ExportArgs;
use fencescope_stream::source::replay_into;

pub(crate) fn run(a: &ExportArgs) -> Result<i32> {
    let (engine, info) = replay_into(&a.file, a.filter.filter(), |e| e.with_trace())?;
    let trace = engine.trace().expect("asked for");
    let doc = perfetto_json(&trace, &info.kernel_release);
    let file = std::fs::File::create(&a.perfetto)
        .with_context(|| format!("cannot write {}", a.perfetto.display()))?;
    serde_json::to_writer(std::io::BufWriter::new(file), &doc)
        .with_context(|| format!("writing {}", a.perfetto.display()))?;
    eprintln!(
        "fencescope: {} fences and {} waits to {}",
        trace.fences.len(),
        trace.waits.len(),
        a.perfetto.display()
    );
    Ok(0)
}
