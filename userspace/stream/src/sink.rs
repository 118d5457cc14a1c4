//! The one fan-out sink every command streams into: records are decoded
//! once and fed to the engine, and go on to whichever outputs the command
//! asked for: a capture file, the metrics endpoint, a view (`watch
//! --interval`'s reports, `top`'s screen).
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use fencescope_capture::{Info, Writer};
use fencescope_engine::{Engine, Event};
use fencescope_loader::kernel;
use fencescope_loader::live::{Flow, Session, Sink};

use crate::metrics::Metrics;
use crate::setup::EngineSetup;

/// Something shown from the engine's figures as the stream goes.
pub trait View {
    /// Periodic (twenty times a second), and once more with `force` at the
    /// end; `now_ns` is the stream's clock (the kernel's, or the replay's).
    fn tick(&mut self, engine: &mut Engine, now_ns: u64, force: bool) -> Result<Flow>;
    /// Whether a paced replay's clock stands still.
    fn paused(&self) -> bool {
        false
    }
}

/// No view: the report comes at the end.
impl View for () {
    fn tick(&mut self, _: &mut Engine, _: u64, _: bool) -> Result<Flow> {
        Ok(Flow::Continue)
    }
}

/// A view that may be absent, or already closed.
impl<V: View> View for Option<V> {
    fn tick(&mut self, engine: &mut Engine, now_ns: u64, force: bool) -> Result<Flow> {
        self.as_mut().map_or(Ok(Flow::Continue), |v| v.tick(engine, now_ns, force))
    }

    fn paused(&self) -> bool {
        self.as_ref().is_some_and(View::paused)
    }
}

/// The engine and every output beside it.
pub struct Fanout<V = ()> {
    /// Pairing and statistics: every record goes here first.
    pub engine: Engine,
    /// `--serve`: the figures published for the metrics endpoint.
    pub metrics: Option<Metrics>,
    /// `-o`: the raw records, written as they come.
    pub capture: Option<CaptureFile>,
    /// What shows the figures as they come (`()` for none).
    pub view: V,
    /// Records that did not decode (a schema mismatch between the object
    /// and this binary, which the build prevents).
    malformed: u64,
}

impl Fanout<()> {
    /// `engine` alone: no capture, no endpoint, no view.
    pub fn new(engine: Engine) -> Self {
        Fanout { engine, metrics: None, capture: None, view: (), malformed: 0 }
    }
}

impl<V: View> Fanout<V> {
    /// The same fan-out, showing its figures in `view`.
    pub fn with_view<W: View>(self, view: W) -> Fanout<W> {
        let Fanout { engine, metrics, capture, malformed, .. } = self;
        Fanout { engine, metrics, capture, view, malformed }
    }

    /// Publishes the figures and lets the view show them.
    pub fn tick_at(&mut self, now_ns: u64) -> Result<Flow> {
        if let Some(m) = self.metrics.as_mut() {
            m.publish(&self.engine, false);
        }
        self.view.tick(&mut self.engine, now_ns, false)
    }

    /// The view's last frame, at `now_ns`, whatever the stream's end was.
    pub fn last_tick(&mut self, now_ns: u64) -> Result<Flow> {
        self.view.tick(&mut self.engine, now_ns, true)
    }

    /// Writes the capture's end (if any), saying what was recorded.
    pub fn finish_capture(&mut self, path: Option<&Path>) -> Result<()> {
        if let (Some(c), Some(path)) = (self.capture.take(), path) {
            c.finish(path, self.engine.summary().dropped)?;
        }
        Ok(())
    }

    /// Says on stderr how many records did not decode, if any did not.
    pub fn warn(&self) {
        if self.malformed > 0 {
            eprintln!(
                "fencescope: warning: {} records did not decode and were skipped",
                self.malformed
            );
        }
    }
}

impl<V: View> Sink for Fanout<V> {
    fn record(&mut self, bytes: &[u8]) {
        match Event::decode(bytes) {
            Ok(ev) => self.engine.feed(&ev),
            Err(_) => self.malformed += 1,
        }
        if let Some(c) = self.capture.as_mut() {
            c.push(bytes);
        }
    }

    fn tick(&mut self) -> Result<Flow> {
        if let Some(c) = self.capture.as_mut() {
            c.tick()?;
        }
        self.tick_at(kernel::monotonic_ns())
    }
}

/// A capture being written beside a live view, flushed every second so a
/// killed recorder loses at most the last second.
pub struct CaptureFile {
    writer: Writer,
    error: Option<std::io::Error>,
    next_flush: std::time::Instant,
}

impl CaptureFile {
    /// Fails, before anything attaches, where `path` could not be written:
    /// a user finds out at once, not after every probe loaded.
    pub fn check(path: &Path) -> Result<()> {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        if !dir.is_dir() {
            anyhow::bail!(
                "{}: directory {} does not exist: create it, or give -o a path in an existing one",
                path.display(),
                dir.display()
            );
        }
        if path.is_dir() {
            anyhow::bail!("{} is a directory: give -o a file name", path.display());
        }
        if let Err(e) = rustix::fs::access(dir, rustix::fs::Access::WRITE_OK) {
            anyhow::bail!(
                "{}: cannot write in {}: {}",
                path.display(),
                dir.display(),
                std::io::Error::from(e)
            );
        }
        Ok(())
    }

    /// Starts the capture of `session` at `path`, its header naming the
    /// recording tool's `tool_version`.
    pub fn create(path: &Path, session: &Session, tool_version: &str) -> Result<CaptureFile> {
        let writer = Writer::create(path, &info(session, tool_version)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
        let next_flush = std::time::Instant::now() + Duration::from_secs(1);
        Ok(CaptureFile { writer, error: None, next_flush })
    }

    fn push(&mut self, bytes: &[u8]) {
        if self.error.is_none()
            && let Err(e) = self.writer.push(bytes)
        {
            self.error = Some(e);
        }
    }

    fn tick(&mut self) -> Result<()> {
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
    fn finish(self, path: &Path, dropped: u64) -> Result<()> {
        let stats =
            self.writer.finish().with_context(|| format!("finishing {}", path.display()))?;
        if let Some(e) = self.error {
            return Err(e).context("writing the capture");
        }
        eprintln!("{}", recorded_line(path, &stats, dropped));
        Ok(())
    }
}

fn info(session: &Session, tool_version: &str) -> Result<Info> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    Ok(Info {
        tool_version: tool_version.into(),
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
