//! `fencescope top`: feeds the screen state of `fencescope-top` from a live
//! session or from a capture, and draws it. The state and the drawing live
//! in their own crate; this file only moves figures and keys.
use std::io::IsTerminal as _;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use fencescope_engine::{Engine, Event};
use fencescope_top::{Action, Top, draw, state::Pane};
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{self, Event as TermEvent, KeyEvent};
use ratatui::{DefaultTerminal, Terminal};

use crate::cli::TopArgs;
use crate::metrics::Metrics;
use crate::report;
use crate::session::{self, Capture, EngineSetup, EngineSink};
use fencescope_loader::kernel;
use fencescope_loader::live::{Flow, Sink};

/// The oldest unsignalled fences listed.
const OLDEST: usize = 8;

pub fn run(a: &TopArgs, use_btf: bool) -> Result<i32> {
    if a.interval == 0 {
        bail!("--interval must be at least 1 ms");
    }
    if !(a.speed.is_finite() && a.speed > 0.0) {
        bail!("--speed must be a positive number, not {}", a.speed);
    }
    if a.headless.is_none() && !std::io::stdout().is_terminal() {
        bail!("fencescope top needs a terminal; give --headless COLSxROWS to run without one");
    }
    match &a.replay {
        Some(path) => replay(a, path),
        None => live(a, use_btf),
    }
}

/// Where frames go: the user's terminal, or an in-memory one.
enum Screen {
    Real(DefaultTerminal),
    Headless(Terminal<TestBackend>),
}

impl Screen {
    fn open(headless: Option<(u16, u16)>) -> Result<Screen> {
        Ok(match headless {
            Some((w, h)) => Screen::Headless(Terminal::new(TestBackend::new(w, h))?),
            // Raw mode and the alternate screen, and a panic hook that gives
            // the terminal back before the message prints.
            None => Screen::Real(ratatui::try_init().context("setting up the terminal")?),
        })
    }

    fn draw(&mut self, top: &Top) -> Result<()> {
        match self {
            Screen::Real(t) => t.draw(|f| draw(f, top)).map(|_| ()).context("drawing the screen"),
            Screen::Headless(t) => t.draw(|f| draw(f, top)).map(|_| ()).map_err(|e| match e {}),
        }
    }

    /// Keys pressed since the last call, without waiting.
    fn keys(&mut self) -> Result<Vec<KeyEvent>> {
        let mut keys = Vec::new();
        if let Screen::Real(_) = self {
            while event::poll(Duration::ZERO)? {
                if let TermEvent::Key(k) = event::read()? {
                    keys.push(k);
                }
            }
        }
        Ok(keys)
    }

    /// The last screen as text (headless), after giving the terminal back.
    fn close(self) -> Option<String> {
        match &self {
            Screen::Real(_) => None,
            Screen::Headless(t) => Some(fencescope_top::screen_text(t.backend().buffer())),
        }
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        // Every way out (error, signal, the end) leaves a usable terminal.
        if let Screen::Real(_) = self {
            ratatui::restore();
        }
    }
}

/// The state, the screen and when the figures are next due.
struct Ui {
    top: Top,
    screen: Screen,
    every: Duration,
    next: Instant,
}

impl Ui {
    fn new(a: &TopArgs, source: String) -> Result<Ui> {
        Ok(Ui {
            top: Top::new(source, a.hang_ms.saturating_mul(1_000_000)),
            screen: Screen::open(a.headless)?,
            every: Duration::from_millis(a.interval),
            next: Instant::now(),
        })
    }

    fn figures(&mut self, engine: &Engine, now_ns: u64) {
        self.top.update(now_ns, engine.summary(), engine.oldest_in_flight(now_ns, OLDEST));
    }

    /// Handles keys and, when due (or `force`), takes new figures; draws
    /// whenever something changed.
    fn tick(&mut self, engine: &mut Engine, now_ns: u64, force: bool) -> Result<Flow> {
        let mut dirty = false;
        for key in self.screen.keys()? {
            match self.top.key(key) {
                Action::Quit => return Ok(Flow::Stop),
                Action::Reset => {
                    engine.take_interval();
                    self.top.reset(now_ns);
                    self.figures(engine, now_ns);
                }
                Action::Continue => {}
            }
            dirty = true;
        }
        if force || Instant::now() >= self.next {
            self.next = Instant::now() + self.every;
            self.figures(engine, now_ns);
            dirty = true;
        }
        if dirty {
            self.top.detail_histogram = self.top.detail_key().and_then(|(pane, key)| {
                let mut d = engine.distributions();
                match pane {
                    Pane::Timelines => d.lifetimes.remove(&key),
                    Pane::Waits => d.waits.remove(&key),
                }
            });
            self.screen.draw(&self.top)?;
        }
        Ok(Flow::Continue)
    }

    fn close(self) {
        if let Some(text) = self.screen.close() {
            print!("{text}");
        }
    }
}

/// The live session's sink: the engine, the screen, perhaps a capture.
struct TopSink {
    live: EngineSink,
    capture: Option<Capture>,
    ui: Ui,
}

impl Sink for TopSink {
    fn record(&mut self, bytes: &[u8]) {
        self.live.feed(bytes);
        if let Some(c) = self.capture.as_mut() {
            c.push(bytes);
        }
    }

    fn tick(&mut self) -> Result<Flow> {
        if let Some(c) = self.capture.as_mut() {
            c.tick()?;
        }
        self.live.publish();
        self.ui.tick(&mut self.live.engine, kernel::monotonic_ns(), false)
    }
}

fn live(a: &TopArgs, use_btf: bool) -> Result<i32> {
    let (metrics, listener) = Metrics::from_args(&a.metrics)?.unzip();
    let session = session::open(&a.live, use_btf)?;
    let capture = match &a.output {
        Some(path) => Some(Capture::create(path, &session)?),
        None => None,
    };
    let source = format!("live {}, {}", kernel::release(), session.attached.mode);
    let mut live = EngineSink::new(EngineSetup::of(&session), a.live.filter.filter());
    live.metrics = metrics;
    let mut sink = TopSink { live, capture, ui: Ui::new(a, source)? };
    let streamed = EngineSink::stream(session, a.live.duration, &mut sink, listener, |s| {
        s.live.metrics.as_ref()
    });
    let TopSink { mut live, capture, mut ui } = sink;
    let last = ui.tick(&mut live.engine, kernel::monotonic_ns(), true);
    ui.close();
    // Whatever happened, keep what was recorded.
    if let (Some(c), Some(path)) = (capture, &a.output) {
        c.finish(path, live.engine.summary().dropped)?;
    }
    streamed?;
    last?;
    live.warn();
    Ok(0)
}

/// A capture's events, decoded, and the engine set up as its run's was.
fn load(a: &TopArgs, path: &Path) -> Result<(Vec<Event>, Engine, String)> {
    let (cap, setup) = report::open_capture(path)?;
    let mut events = Vec::new();
    let cut = report::decode_each(&cap, "showing", |ev| events.push(ev));
    let mut source = format!("replay {} ×{}", cap.name(), a.speed);
    if cut {
        source += " (cut short)";
    }
    Ok((events, setup.engine(a.live.filter.filter()), source))
}

/// Feeds the capture at its recorded pace (times --speed) on a clock that
/// stops while the screen is paused. Headless, it ends with the capture;
/// on a terminal the last screen stays until `q`.
fn replay(a: &TopArgs, path: &Path) -> Result<i32> {
    let (mut metrics, listener) = Metrics::from_args(&a.metrics)?.unzip();
    let (events, mut engine, source) = load(a, path)?;
    let mut ui = Ui::new(a, source)?;
    let first = events.first().map_or(0, |e| e.meta.ts_ns);
    let last = events.last().map_or(0, |e| e.meta.ts_ns);
    let headless = a.headless.is_some();
    let run = async {
        if let (Some(l), Some(m)) = (listener, &metrics) {
            m.spawn(l);
        }
        let stop = session::stop(a.live.duration);
        tokio::pin!(stop);
        let mut tick = tokio::time::interval(Duration::from_millis(50));
        let (mut clock, mut at, mut next) = (first as f64, Instant::now(), 0usize);
        loop {
            tokio::select! {
                _ = &mut stop => return Ok(()),
                _ = tick.tick() => {
                    let elapsed = at.elapsed().as_nanos() as f64;
                    at = Instant::now();
                    if !ui.top.paused {
                        clock += elapsed * a.speed;
                    }
                    while next < events.len() && (events[next].meta.ts_ns as f64) <= clock {
                        engine.feed(&events[next]);
                        next += 1;
                    }
                    let now_ns = (clock as u64).min(last);
                    if let Some(m) = metrics.as_mut() {
                        m.publish(&engine, false);
                    }
                    if ui.tick(&mut engine, now_ns, false)? == Flow::Stop {
                        return Ok(());
                    }
                    if headless && next == events.len() {
                        return Ok(());
                    }
                }
            }
        }
    };
    let done: Result<()> = session::runtime()?.block_on(run);
    let now_ns = engine.seen_until_ns().max(first);
    let finished = ui.tick(&mut engine, now_ns, true);
    ui.close();
    done?;
    finished?;
    Ok(0)
}
