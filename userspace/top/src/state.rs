//! The one state struct of `fencescope top`: the latest figures the engine
//! gave, the rates derived from the previous ones, and what the user has
//! selected. It never reads probes or files; a source calls [`Top::update`].
use std::collections::{BTreeMap, VecDeque};

use fencescope_engine::{GroupSummary, InFlightFence, Summary, WaitSummary};
use hdrhistogram::Histogram;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

/// The sparkline covers this much of the past.
pub const HISTORY_NS: u64 = 60_000_000_000;

/// Which table the arrows move in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Pane {
    #[default]
    /// Fence lifetimes per driver/timeline.
    Timelines,
    /// Waits per process/thread and style.
    Waits,
}

/// Row order, cycled by `s`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Sort {
    #[default]
    /// By name.
    Name,
    /// By rate, highest first.
    Rate,
    /// By p99, highest first.
    P99,
    /// By fences in flight, most first.
    InFlight,
}

impl Sort {
    fn next(self) -> Sort {
        match self {
            Sort::Name => Sort::Rate,
            Sort::Rate => Sort::P99,
            Sort::P99 => Sort::InFlight,
            Sort::InFlight => Sort::Name,
        }
    }

    /// The order's name on the status line.
    pub fn name(self) -> &'static str {
        match self {
            Sort::Name => "name",
            Sort::Rate => "rate",
            Sort::P99 => "p99",
            Sort::InFlight => "in flight",
        }
    }
}

/// What a key press asks of the loop around the state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Go on.
    Continue,
    /// Leave `top`.
    Quit,
    /// Zero the counters and histograms (the engine's interval restarts).
    Reset,
}

/// A timeline row: the engine's figures and the rate since the last update.
#[derive(Clone, Debug, PartialEq)]
pub struct TimelineRow {
    /// The engine's figures of the timeline.
    pub group: GroupSummary,
    /// Fences per second since the last update.
    pub per_sec: f64,
}

/// A waiter row: the engine's figures and waits per second.
#[derive(Clone, Debug, PartialEq)]
pub struct WaitRow {
    /// The engine's figures of the waiter.
    pub wait: WaitSummary,
    /// Waits per second since the last update.
    pub per_sec: f64,
}

/// What the screen shows and what the user chose.
#[derive(Clone, Debug, Default)]
pub struct Top {
    /// "live 6.12.117, raw-tracepoint" or "replay FILE ×2".
    pub source: String,
    /// Time of the figures, on the kernel's monotonic clock.
    pub now_ns: u64,
    /// When the figures started (the first update, or the last reset).
    pub since_ns: u64,
    /// The engine's summary at `now_ns`.
    pub summary: Summary,
    /// The timelines table, sorted and filtered.
    pub timelines: Vec<TimelineRow>,
    /// The waits table, sorted and filtered.
    pub waits: Vec<WaitRow>,
    /// Stub exports per second since the last update.
    pub stub_exports_per_sec: f64,
    /// Events per second since the last update.
    pub events_per_sec: f64,
    /// (time, real fences/s), the last minute of it.
    pub history: VecDeque<(u64, f64)>,
    /// The oldest unsignalled fences, oldest first.
    pub oldest: Vec<InFlightFence>,
    /// A fence unsignalled for longer than this is drawn as hanging.
    pub hang_ns: u64,
    /// The distribution behind the selected row, when the detail is open.
    pub detail_histogram: Option<Histogram<u64>>,
    /// The table the arrows move in.
    pub pane: Pane,
    /// The selected row of each table.
    pub selected: [usize; 2],
    /// The rows' order.
    pub sort: Sort,
    /// Figures frozen (`p`); a replay's clock stops too.
    pub paused: bool,
    /// The help screen is open (`?`).
    pub help: bool,
    /// The selected row's histogram is open (`Enter`).
    pub detail: bool,
    /// Rows shown must contain this (driver/timeline, process/thread style).
    pub filter: String,
    /// While `/` is being typed: the text so far.
    pub editing: Option<String>,
    /// The previous update's counters, for rates.
    prev: Option<Counters>,
}

/// Cumulative counts at one update, keyed like the rows.
#[derive(Clone, Debug, Default)]
struct Counters {
    at_ns: u64,
    events: u64,
    stub_exports: u64,
    fences: BTreeMap<String, u64>,
    waits: BTreeMap<String, u64>,
}

impl Counters {
    fn of(now_ns: u64, s: &Summary) -> Counters {
        Counters {
            at_ns: now_ns,
            events: s.events,
            stub_exports: s.stub_exports(),
            fences: s.groups.iter().map(|g| (group_key(g), g.fences)).collect(),
            waits: s.waits.iter().map(|w| (w.key(), w.waits + w.zero_waits)).collect(),
        }
    }
}

/// Stubs and real fences of the same names are separate rows.
fn group_key(g: &GroupSummary) -> String {
    if g.stub { format!("{} (stub)", g.key()) } else { g.key() }
}

fn rate(now: u64, before: u64, secs: f64) -> f64 {
    if secs > 0.0 { now.saturating_sub(before) as f64 / secs } else { 0.0 }
}

impl Top {
    /// A screen with no figures yet; `source` names where they come from.
    pub fn new(source: impl Into<String>, hang_ns: u64) -> Top {
        Top { source: source.into(), hang_ns, ..Top::default() }
    }

    /// New figures from the engine (cumulative since the start or the last
    /// reset) at `now_ns`. Ignored while paused, so the screen holds still.
    pub fn update(&mut self, now_ns: u64, summary: Summary, oldest: Vec<InFlightFence>) {
        if self.paused {
            return;
        }
        let now = Counters::of(now_ns, &summary);
        let prev = self.prev.take().filter(|p| p.at_ns <= now_ns && p.events <= now.events);
        let secs = prev.as_ref().map_or(0.0, |p| (now_ns - p.at_ns) as f64 / 1e9);
        let before = |m: &BTreeMap<String, u64>, k: &str| m.get(k).copied().unwrap_or(0);
        if self.since_ns == 0 {
            self.since_ns = now_ns;
        }
        self.timelines = summary
            .groups
            .iter()
            .map(|g| {
                let k = group_key(g);
                let per_sec = match &prev {
                    Some(p) => rate(now.fences[&k], before(&p.fences, &k), secs),
                    None => 0.0,
                };
                TimelineRow { group: g.clone(), per_sec }
            })
            .collect();
        self.waits = summary
            .waits
            .iter()
            .map(|w| {
                let k = w.key();
                let per_sec = match &prev {
                    Some(p) => rate(now.waits[&k], before(&p.waits, &k), secs),
                    None => 0.0,
                };
                WaitRow { wait: w.clone(), per_sec }
            })
            .collect();
        if let Some(p) = &prev {
            self.stub_exports_per_sec = rate(now.stub_exports, p.stub_exports, secs);
            self.events_per_sec = rate(now.events, p.events, secs);
            let real: f64 =
                self.timelines.iter().filter(|r| !r.group.stub).map(|r| r.per_sec).sum();
            self.history.push_back((now_ns, real));
        }
        while self.history.front().is_some_and(|(t, _)| now_ns - t > HISTORY_NS) {
            self.history.pop_front();
        }
        self.now_ns = now_ns;
        self.summary = summary;
        self.oldest = oldest;
        self.prev = Some(now);
        self.clamp_selection();
    }

    /// After the engine's counters restarted (the `z` key).
    pub fn reset(&mut self, now_ns: u64) {
        self.prev = None;
        self.since_ns = now_ns;
        self.history.clear();
    }

    /// The timeline rows the filter lets through, in the chosen order.
    pub fn timeline_rows(&self) -> Vec<&TimelineRow> {
        let mut rows: Vec<&TimelineRow> =
            self.timelines.iter().filter(|r| self.passes(&group_key(&r.group))).collect();
        match self.sort {
            Sort::Name => {}
            Sort::Rate => rows.sort_by(|a, b| b.per_sec.total_cmp(&a.per_sec)),
            Sort::P99 => rows.sort_by_key(|r| std::cmp::Reverse(r.group.lifetime.p99_ns)),
            Sort::InFlight => rows.sort_by_key(|r| std::cmp::Reverse(r.group.in_flight)),
        }
        rows
    }

    /// The waiter rows the filter lets through, in the chosen order.
    pub fn wait_rows(&self) -> Vec<&WaitRow> {
        let mut rows: Vec<&WaitRow> =
            self.waits.iter().filter(|r| self.passes(&r.wait.key())).collect();
        match self.sort {
            Sort::Name => {}
            Sort::Rate => rows.sort_by(|a, b| b.per_sec.total_cmp(&a.per_sec)),
            Sort::P99 => rows.sort_by_key(|r| std::cmp::Reverse(r.wait.latency.p99_ns)),
            Sort::InFlight => rows.sort_by_key(|r| std::cmp::Reverse(r.wait.open)),
        }
        rows
    }

    fn passes(&self, key: &str) -> bool {
        self.filter.is_empty() || key.contains(self.filter.as_str())
    }

    fn rows_in(&self, pane: Pane) -> usize {
        match pane {
            Pane::Timelines => self.timeline_rows().len(),
            Pane::Waits => self.wait_rows().len(),
        }
    }

    fn clamp_selection(&mut self) {
        for pane in [Pane::Timelines, Pane::Waits] {
            let n = self.rows_in(pane);
            let s = &mut self.selected[pane as usize];
            *s = (*s).min(n.saturating_sub(1));
        }
    }

    /// The key of the distribution the detail pane shows: the selected
    /// timeline ("driver/timeline") or waiter ("process/thread style").
    pub fn detail_key(&self) -> Option<(Pane, String)> {
        if !self.detail {
            return None;
        }
        let i = self.selected[self.pane as usize];
        match self.pane {
            Pane::Timelines => {
                self.timeline_rows().get(i).map(|r| (Pane::Timelines, r.group.key()))
            }
            Pane::Waits => self.wait_rows().get(i).map(|r| (Pane::Waits, r.wait.key())),
        }
    }

    /// Fences unsignalled longer than the hang threshold.
    pub fn hanging(&self) -> usize {
        self.oldest.iter().filter(|f| f.age_ns >= self.hang_ns).count()
    }

    /// Handles one key press, saying what the loop around must do.
    pub fn key(&mut self, key: KeyEvent) -> Action {
        if key.kind == KeyEventKind::Release {
            return Action::Continue;
        }
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            return Action::Quit;
        }
        if let Some(text) = self.editing.as_mut() {
            match key.code {
                KeyCode::Enter => {
                    self.filter = self.editing.take().unwrap_or_default();
                    self.clamp_selection();
                }
                KeyCode::Esc => self.editing = None,
                KeyCode::Backspace => {
                    text.pop();
                }
                KeyCode::Char(c) => text.push(c),
                _ => {}
            }
            return Action::Continue;
        }
        match key.code {
            KeyCode::Char('q') => return Action::Quit,
            KeyCode::Esc if self.help || self.detail => (self.help, self.detail) = (false, false),
            KeyCode::Esc => self.filter.clear(),
            KeyCode::Char('?') | KeyCode::F(1) => self.help = !self.help,
            KeyCode::Enter => self.detail = !self.detail,
            KeyCode::Tab | KeyCode::BackTab => {
                self.pane = match self.pane {
                    Pane::Timelines => Pane::Waits,
                    Pane::Waits => Pane::Timelines,
                }
            }
            KeyCode::Down | KeyCode::Char('j') => self.step(1),
            KeyCode::Up | KeyCode::Char('k') => self.step(-1),
            KeyCode::Char('s') => self.sort = self.sort.next(),
            KeyCode::Char('p') | KeyCode::Char(' ') => self.paused = !self.paused,
            KeyCode::Char('/') => self.editing = Some(self.filter.clone()),
            KeyCode::Char('z') => return Action::Reset,
            _ => {}
        }
        Action::Continue
    }

    fn step(&mut self, by: isize) {
        let n = self.rows_in(self.pane);
        let s = &mut self.selected[self.pane as usize];
        *s = s.saturating_add_signed(by).min(n.saturating_sub(1));
    }
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
