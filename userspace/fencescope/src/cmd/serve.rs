//! `fencescope serve`: the figures on /metrics, live or a capture's. The
//! exposition is re-encoded once a second from the engine's figures.
use anyhow::Result;

use crate::cli::ServeArgs;
use fencescope_stream::metrics::Metrics;
use fencescope_stream::setup::EngineSetup;
use fencescope_stream::sink::Fanout;
use fencescope_stream::source::{self, Source};

pub(crate) fn run(a: &ServeArgs, use_btf: bool) -> Result<i32> {
    let (mut metrics, listener) = Metrics::bind(a.listen, a.max_series)?;
    let (source, engine) = match &a.replay {
        Some(path) => {
            let (engine, _) = source::replay(path, a.live.filter.filter())?;
            metrics.publish(&engine, true);
            (Source::Idle, engine)
        }
        None => {
            let session = super::open(&a.live, use_btf)?;
            let engine = EngineSetup::of(&session).engine(a.live.filter.filter());
            (Source::Live(Box::new(session)), engine)
        }
    };
    let mut fan = Fanout::new(engine);
    fan.metrics = Some(metrics);
    source.run(a.live.duration, &mut fan, Some(listener))?;
    fan.warn();
    Ok(0)
}
