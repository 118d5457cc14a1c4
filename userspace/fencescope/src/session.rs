//! `watch` and `record`: a live session feeding the engine (and a capture).
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use fencescope_capture::{Info, Writer};
use fencescope_engine::{Engine, Event};

use crate::cli::{LiveArgs, RecordArgs, WatchArgs};
use crate::metrics::Metrics;
use fencescope_loader::kernel;
use fencescope_loader::live::{Flow, Session, Sink};

/// How the engine must read a session's records; kept in captures so a
/// replay reads them the same way.
#[derive(Clone, Copy, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct EngineSetup {
    pub symbols: fencescope_engine::Symbols,
    pub names_are_inits: bool,
}

impl EngineSetup {
    pub fn of(session: &Session) -> Self {
        EngineSetup {
            symbols: session.symbols,
            names_are_inits: session.attached.names_are_inits(),
        }
    }

    pub fn engine(&self, filter: fencescope_engine::Filter) -> Engine {
        Engine::default()
            .with_filter(filter)
            .with_symbols(self.symbols)
            .with_names_as_inits(self.names_are_inits)
    }
}

/// Decodes records into the engine; counts any that do not decode (a schema
/// mismatch between the object and this binary, which the build prevents).
pub(crate) struct EngineSink {
    pub(crate) engine: Engine,
    /// `--serve`: the figures published for the metrics endpoint.
    pub(crate) metrics: Option<Metrics>,
    malformed: u64,
    interval: Option<Interval>,
}

/// `watch --interval`: when the next report is due, how many are left.
struct Interval {
    every: Duration,
    next: std::time::Instant,
    left: Option<u64>,
    format: crate::cli::Format,
}

impl EngineSink {
    pub(crate) fn new(setup: EngineSetup, filter: fencescope_engine::Filter) -> Self {
        EngineSink { engine: setup.engine(filter), metrics: None, malformed: 0, interval: None }
    }

    pub(crate) fn feed(&mut self, bytes: &[u8]) {
        match Event::decode(bytes) {
            Ok(ev) => self.engine.feed(&ev),
            Err(_) => self.malformed += 1,
        }
    }

    /// Publishes the figures for `--serve` (once a second).
    pub(crate) fn publish(&mut self) {
        if let Some(m) = self.metrics.as_mut() {
            m.publish(&self.engine, false);
        }
    }

    /// Streams `session` into `sink` until `stop`, serving metrics beside
    /// it when `listener` is given (`--serve`).
    pub(crate) fn stream<S: Sink>(
        session: Session,
        duration: Option<f64>,
        sink: &mut S,
        listener: Option<std::net::TcpListener>,
        metrics: impl Fn(&S) -> Option<&Metrics>,
    ) -> Result<()> {
        runtime()?.block_on(async {
            if let (Some(l), Some(m)) = (listener, metrics(sink)) {
                m.spawn(l);
            }
            session.stream(stop(duration), sink).await
        })
    }

    pub(crate) fn warn(&self) {
        if self.malformed > 0 {
            eprintln!(
                "fencescope: warning: {} records did not decode and were skipped",
                self.malformed
            );
        }
    }
}

impl Sink for EngineSink {
    fn record(&mut self, bytes: &[u8]) {
        self.feed(bytes);
    }

    fn tick(&mut self) -> Result<Flow> {
        self.publish();
        let Some(iv) = self.interval.as_mut() else { return Ok(Flow::Continue) };
        if std::time::Instant::now() < iv.next {
            return Ok(Flow::Continue);
        }
        iv.next += iv.every;
        let s = self.engine.take_interval();
        match iv.format {
            // One object per line, so a script can read the intervals as they come.
            crate::cli::Format::Json => println!("{}", serde_json::to_string(&s)?),
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

/// A capture being written beside a live view, flushed every second so a
/// killed recorder loses at most the last second.
pub(crate) struct Capture {
    writer: Writer,
    error: Option<std::io::Error>,
    next_flush: std::time::Instant,
}

impl Capture {
    pub(crate) fn create(path: &Path, session: &Session) -> Result<Capture> {
        let writer = Writer::create(path, &info(session)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
        let next_flush = std::time::Instant::now() + Duration::from_secs(1);
        Ok(Capture { writer, error: None, next_flush })
    }

    pub(crate) fn push(&mut self, bytes: &[u8]) {
        if self.error.is_none()
            && let Err(e) = self.writer.push(bytes)
        {
            self.error = Some(e);
        }
    }

    pub(crate) fn tick(&mut self) -> Result<()> {
        if let Some(e) = self.error.take() {
            return Err(e).context("writing the capture");
        }
        if std::time::Instant::now() >= self.next_flush {
            self.next_flush += Duration::from_secs(1);
            self.writer.flush_chunk().context("writing the capture")?;
        }
        Ok(())
    }

    /// Writes what is left and the end marker; says what was recorded.
    pub(crate) fn finish(self, path: &Path, dropped: u64) -> Result<()> {
        let stats =
            self.writer.finish().with_context(|| format!("finishing {}", path.display()))?;
        if let Some(e) = self.error {
            return Err(e).context("writing the capture");
        }
        eprintln!("{}", recorded_line(path, &stats, dropped));
        Ok(())
    }
}

/// The engine plus a capture.
struct RecordSink {
    live: EngineSink,
    capture: Capture,
}

impl Sink for RecordSink {
    fn record(&mut self, bytes: &[u8]) {
        self.live.feed(bytes);
        self.capture.push(bytes);
    }

    fn tick(&mut self) -> Result<Flow> {
        self.capture.tick()?;
        self.live.publish();
        Ok(Flow::Continue)
    }
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting tokio")
}

/// Resolves on Ctrl-C, SIGTERM, SIGHUP, or after `duration`.
pub(crate) async fn stop(duration: Option<f64>) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut hup = signal(SignalKind::hangup()).expect("SIGHUP handler");
    let timer = async {
        match duration {
            Some(s) => tokio::time::sleep(Duration::from_secs_f64(s.max(0.0))).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
        _ = hup.recv() => {}
        _ = timer => {}
    }
}

pub(crate) fn open(live: &LiveArgs, use_btf: bool) -> Result<Session> {
    let bench = fencescope_loader::live::BenchSwitches {
        defer_reading: live.defer_reading,
        emit_nothing: live.emit_nothing,
    };
    let session = Session::open(live.attach, use_btf, live.ring_mb, bench, &live.arm_hook)?;
    let hooks: Vec<String> =
        session.attached.hooks.iter().map(|(h, w)| format!("{h}: {w}")).collect();
    eprintln!("fencescope: watching ({}); Ctrl-C to stop", hooks.join(", "));
    for (hook, why) in &session.attached.missing {
        eprintln!("fencescope: warning: not watching {hook}: {why}");
    }
    Ok(session)
}

pub fn watch(a: &WatchArgs, use_btf: bool) -> Result<i32> {
    let (metrics, listener) = Metrics::from_args(&a.metrics)?.unzip();
    let session = open(&a.live, use_btf)?;
    let mut sink = EngineSink::new(EngineSetup::of(&session), a.live.filter.filter());
    sink.metrics = metrics;
    if let Some(secs) = a.interval {
        if secs <= 0.0 {
            anyhow::bail!("--interval must be more than 0 seconds");
        }
        let every = Duration::from_secs_f64(secs);
        sink.interval = Some(Interval {
            every,
            next: std::time::Instant::now() + every,
            left: a.count,
            format: a.format,
        });
    }
    EngineSink::stream(session, a.live.duration, &mut sink, listener, |s| s.metrics.as_ref())?;
    sink.warn();
    if sink.interval.is_none() {
        print!(
            "{}",
            fencescope_report::render_engine(&sink.engine, a.format.into(), &kernel::release())
        );
    }
    Ok(0)
}

fn info(session: &Session) -> Result<Info> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    Ok(Info {
        tool_version: env!("CARGO_PKG_VERSION").into(),
        schema_version: fencescope_schema::SCHEMA_VERSION,
        kernel_release: kernel::release(),
        machine: kernel::machine(),
        attach: serde_json::to_value(&session.attached)?,
        layout: serde_json::to_value(&session.layout)?,
        engine: serde_json::to_value(EngineSetup::of(session))?,
        started_unix_ms: now.as_millis() as u64,
        started_monotonic_ns: kernel::monotonic_ns(),
        command_line: std::env::args().collect(),
    })
}

pub fn record(a: &RecordArgs, use_btf: bool) -> Result<i32> {
    let session = open(&a.live, use_btf)?;
    let capture = Capture::create(&a.output, &session)?;
    let mut sink = RecordSink {
        live: EngineSink::new(EngineSetup::of(&session), a.live.filter.filter()),
        capture,
    };
    let streamed = runtime()?.block_on(session.stream(stop(a.live.duration), &mut sink));
    // Whatever happened, keep what was recorded.
    let RecordSink { live, capture } = sink;
    capture.finish(&a.output, live.engine.summary().dropped)?;
    streamed?;
    live.warn();
    if let Some(format) = a.report {
        print!(
            "{}",
            fencescope_report::render_engine(&live.engine, format.into(), &kernel::release())
        );
    }
    Ok(0)
}

fn recorded_line(path: &Path, s: &fencescope_capture::Stats, dropped: u64) -> String {
    let per = if s.records > 0 { s.file_bytes as f64 / s.records as f64 } else { 0.0 };
    format!(
        "fencescope: recorded {} records ({dropped} dropped) in {} chunks to {}: {} bytes, {per:.1} bytes/record",
        s.records,
        s.chunks,
        path.display(),
        s.file_bytes
    )
}
