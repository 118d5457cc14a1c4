//! `fencescope top`: feeds the screen state of `fencescope-top` from a live
//! session or from a capture, and draws it. The state and the drawing live
//! in their own crate; this file only moves figures and keys.
use std::io::IsTerminal as _;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use fencescope_engine::Engine;
use fencescope_top::{Action, Top, draw, state::Pane};
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{self, Event as TermEvent, KeyEvent};
use ratatui::{DefaultTerminal, Terminal};

use fencescope_loader::kernel;
use fencescope_loader::live::Flow;

use crate::cli::TopArgs;
use crate::verify::{self, Verify};
use fencescope_stream::setup::EngineSetup;
use fencescope_stream::sink::{CaptureFile, Fanout, View};
use fencescope_stream::source::{self, Source};

/// The oldest unsignalled fences listed.
const OLDEST: usize = 8;

pub(crate) fn run(a: &TopArgs, use_btf: bool) -> Result<i32> {
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

impl View for Ui {
    fn tick(&mut self, engine: &mut Engine, now_ns: u64, force: bool) -> Result<Flow> {
        Ui::tick(self, engine, now_ns, force)
    }

    fn paused(&self) -> bool {
        self.top.paused
    }
}

fn live(a: &TopArgs, use_btf: bool) -> Result<i32> {
    let (metrics, listener) = super::metrics(&a.metrics)?.unzip();
    if let Some(path) = &a.output {
        CaptureFile::check(path)?;
    }
    let mut verify = Verify::start(&a.live)?;
    let session = super::open(&a.live, use_btf)?;
    if let Some(v) = verify.as_mut() {
        v.attached();
    }
    let capture = match &a.output {
        Some(path) => Some(CaptureFile::create(path, &session, super::TOOL_VERSION)?),
        None => None,
    };
    let title = format!("live {}, {}", kernel::release(), session.attached.mode);
    let filter = a.live.filter.filter();
    let filter = verify.as_ref().map_or(filter.clone(), |v| v.filter(filter));
    let engine = EngineSetup::of(&session).engine(filter.clone());
    let mut fan = Fanout::new(engine).with_view(Some(Ui::new(a, title)?));
    fan.metrics = metrics;
    fan.capture = capture;
    let streamed = Source::Live(Box::new(session)).run(a.live.duration, &mut fan, listener);
    let last = fan.last_tick(kernel::monotonic_ns());
    if let Some(ui) = fan.view.take() {
        ui.close();
    }
    // Whatever happened, keep what was recorded.
    fan.finish_capture(a.output.as_deref())?;
    streamed?;
    last?;
    fan.warn();
    Ok(verify::report(verify.map(|v| v.finish(&fan.engine, &filter))))
}

/// Feeds the capture at its recorded pace (times --speed) on a clock that
/// stops while the screen is paused. Headless, it ends with the capture;
/// on a terminal the last screen stays until `q`.
fn replay(a: &TopArgs, path: &Path) -> Result<i32> {
    let (metrics, listener) = super::metrics(&a.metrics)?.unzip();
    let (cap, setup) = source::open_capture(path)?;
    // A first pass (one chunk at a time, nothing kept) tells whether the
    // capture was cut short and where it starts, for the title.
    let (mut first, mut records) = (None, 0u64);
    let outcome = cap.for_each(|rec| {
        records += 1;
        if first.is_none() {
            first = fencescope_engine::Event::decode(rec).ok().map(|e| e.meta.ts_ns);
        }
    });
    let mut title = format!("replay {} ×{}", cap.name(), a.speed);
    if outcome.stopped.is_some() {
        title += " (cut short)";
    }
    let first = first.unwrap_or(0);
    let engine = setup.engine(a.live.filter.filter());
    let mut fan = Fanout::new(engine).with_view(Some(Ui::new(a, title)?));
    fan.metrics = metrics;
    let events = source::stream_events(cap);
    let paced = Source::Paced { events, speed: a.speed, to_end: a.headless.is_some() };
    let done = paced.run(a.live.duration, &mut fan, listener);
    let now_ns = fan.engine.seen_until_ns().max(first);
    let finished = fan.last_tick(now_ns);
    if let Some(ui) = fan.view.take() {
        ui.close();
    }
    done?;
    finished?;
    Ok(0)
}
