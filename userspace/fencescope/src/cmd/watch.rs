//! `fencescope watch`: live into the engine, the report at the end or one
//! per `--interval`.
use std::time::{Duration, Instant};

use anyhow::Result;
use fencescope_engine::Engine;
use fencescope_loader::kernel;
use fencescope_loader::live::Flow;

use crate::cli::{Format, WatchArgs};
use crate::verify::{self, Verify};
use fencescope_stream::setup::EngineSetup;
use fencescope_stream::sink::{Fanout, View};
use fencescope_stream::source::Source;

/// `--interval`: when the next report is due, how many are left.
struct Interval {
    every: Duration,
    next: Instant,
    left: Option<u64>,
    format: Format,
}

impl View for Interval {
    fn tick(&mut self, engine: &mut Engine, _: u64, _: bool) -> Result<Flow> {
        let iv = self;
        if Instant::now() < iv.next {
            return Ok(Flow::Continue);
        }
        iv.next += iv.every;
        let s = engine.take_interval();
        match iv.format {
            // One object per line, so a script can read the intervals as they come.
            Format::Json => println!("{}", serde_json::to_string(&s)?),
            format => print!(
                "--- interval of {:.1} s\n{}",
                iv.every.as_secs_f64(),
                fencescope_report::render(&s, format.into(), &kernel::release())
            ),
        }
        use std::io::Write as _;
        std::io::stdout().flush()?;
        if let Some(left) = iv.left.as_mut() {
            *left = left.saturating_sub(1);
            if *left == 0 {
                return Ok(Flow::Stop);
            }
        }
        Ok(Flow::Continue)
    }
}

pub(crate) fn run(a: &WatchArgs, use_btf: bool) -> Result<i32> {
    let (metrics, listener) = super::metrics(&a.metrics)?.unzip();
    if a.live.verify && a.interval.is_some() {
        anyhow::bail!(
            "--verify checks the whole run: drop --interval, whose reports restart the counts"
        );
    }
    let mut verify = Verify::start(&a.live)?;
    let session = super::open(&a.live, use_btf)?;
    if let Some(v) = verify.as_mut() {
        v.attached();
    }
    let filter = a.live.filter.filter();
    let filter = verify.as_ref().map_or(filter.clone(), |v| v.filter(filter));
    let engine = EngineSetup::of(&session).engine(filter.clone());
    let mut interval = None;
    if let Some(secs) = a.interval {
        if secs <= 0.0 {
            anyhow::bail!("--interval must be more than 0 seconds");
        }
        let every = Duration::from_secs_f64(secs);
        interval =
            Some(Interval { every, next: Instant::now() + every, left: a.count, format: a.format });
    }
    let mut fan = Fanout::new(engine).with_view(interval);
    fan.metrics = metrics;
    Source::Live(Box::new(session)).run(a.live.duration, &mut fan, listener)?;
    fan.warn();
    if fan.view.is_none() {
        let report =
            fencescope_report::render_engine(&fan.engine, a.format.into(), &kernel::release());
        print!("{report}");
    }
    Ok(verify::report(verify.map(|v| v.finish(&fan.engine, &filter))))
}
