//! ftrace's `dma_fence` lines paired into per-driver counts and lifetimes.
//!
//! Pairing is on (context, seqno), the only identity the events print.
//! Fences that share a key (a driver numbering at emit inits them all with
//! seqno 0; private stubs are all (0, 0)) pair first in, first out; an
//! emit with a seqno the key does not have yet renumbers the oldest fence
//! of that context still numbered 0.
//!
//! Memory is bounded for long runs: a finished fence is folded into its
//! driver's figures once it is [`HOLD_NS`] older than the newest line, and
//! only the most recent ones are kept apart until the run's end is known.
use std::collections::VecDeque;

use hdrhistogram::Histogram;
use rustc_hash::FxHashMap;

use crate::parse::{FenceLine, Kind, Line};

/// How long a finished fence is held before it is folded: the run's end
/// (the last event fencescope saw) lies within this of the newest line.
pub const HOLD_NS: u64 = 2_000_000_000;

type DriverId = u32;

#[derive(Clone, Copy, Debug)]
struct Alive {
    driver: DriverId,
    init_ns: u64,
}

#[derive(Clone, Copy, Debug)]
struct Finished {
    driver: DriverId,
    init_ns: u64,
    end_ns: u64,
    signalled: bool,
}

/// One driver's fences as ftrace saw them.
#[derive(Clone, Debug)]
pub struct DriverCount {
    /// The driver's name, as the fence's ops give it.
    pub driver: String,
    /// Fences born in the window.
    pub fences: u64,
    /// Of those, signalled by the window's end.
    pub signalled: u64,
    /// Of those, destroyed without a signal.
    pub destroyed_unsignalled: u64,
    /// Init → signal of the signalled ones, nanoseconds.
    pub lifetime: Histogram<u64>,
}

impl DriverCount {
    fn new(driver: &str) -> Self {
        DriverCount {
            driver: driver.to_owned(),
            fences: 0,
            signalled: 0,
            destroyed_unsignalled: 0,
            lifetime: Histogram::new(3).expect("3 significant digits is valid"),
        }
    }

    fn fold(&mut self, f: &Finished, until_ns: u64) {
        self.fences += 1;
        if f.signalled && f.end_ns <= until_ns {
            self.signalled += 1;
            let _ = self.lifetime.record(f.end_ns.saturating_sub(f.init_ns));
        } else if !f.signalled && f.end_ns <= until_ns {
            self.destroyed_unsignalled += 1;
        }
    }
}

/// What ftrace saw in the window, per driver.
#[derive(Clone, Debug, Default)]
pub struct Witnessed {
    /// Per driver, by name.
    pub drivers: Vec<DriverCount>,
    /// Events the trace ring lost (`[LOST N EVENTS]` lines and the
    /// per-CPU overrun counters): ftrace's own counts are then partial.
    pub lost: u64,
    /// `dma_fence` lines read.
    pub lines: u64,
    /// Signals of fences ftrace never saw born (born before it started).
    pub signals_without_init: u64,
}

/// Pairs lines as they are read; [`Tally::finish`] closes the window.
#[derive(Debug)]
pub struct Tally {
    since_ns: std::sync::Arc<std::sync::atomic::AtomicU64>,
    drivers: Vec<DriverCount>,
    ids: FxHashMap<String, DriverId>,
    alive: FxHashMap<(u64, u64), VecDeque<Alive>>,
    recent: VecDeque<Finished>,
    latest_ns: u64,
    lost: u64,
    lines: u64,
    signals_without_init: u64,
}

impl Tally {
    /// Counts fences born at or after `since_ns` (trace clock); earlier
    /// ones are still paired, so their signals are not taken for others'.
    pub fn new(since_ns: u64) -> Self {
        Self::with_since(std::sync::Arc::new(std::sync::atomic::AtomicU64::new(since_ns)))
    }

    /// As [`Tally::new`], with the window's start shared: it may be set
    /// after the tally started (once the other witness is attached), as
    /// long as it is set before [`HOLD_NS`] have passed.
    pub fn with_since(since_ns: std::sync::Arc<std::sync::atomic::AtomicU64>) -> Self {
        Tally {
            since_ns,
            drivers: Vec::new(),
            ids: FxHashMap::default(),
            alive: FxHashMap::default(),
            recent: VecDeque::new(),
            latest_ns: 0,
            lost: 0,
            lines: 0,
            signals_without_init: 0,
        }
    }

    /// Feeds one parsed line.
    pub fn feed(&mut self, line: &Line) {
        match line {
            Line::Lost(n) => self.lost += n,
            Line::Fence(f) => self.fence(f),
        }
    }

    fn driver(&mut self, name: &str) -> DriverId {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        self.drivers.push(DriverCount::new(name));
        let id = (self.drivers.len() - 1) as DriverId;
        self.ids.insert(name.to_owned(), id);
        id
    }

    fn fence(&mut self, f: &FenceLine) {
        self.lines += 1;
        self.latest_ns = self.latest_ns.max(f.ts_ns);
        let key = (f.context, f.seqno);
        match f.kind {
            Kind::Init => {
                let driver = self.driver(&f.driver);
                let alive = Alive { driver, init_ns: f.ts_ns };
                self.alive.entry(key).or_default().push_back(alive);
            }
            Kind::Emit => {
                if f.seqno != 0 && !self.alive.contains_key(&key) {
                    let zero = (f.context, 0);
                    if let Some(a) = self.take(zero) {
                        self.alive.entry(key).or_default().push_back(a);
                    }
                }
            }
            Kind::Signaled | Kind::Destroy => {
                let signalled = f.kind == Kind::Signaled;
                match self.take(key) {
                    Some(a) => self.finished(Finished {
                        driver: a.driver,
                        init_ns: a.init_ns,
                        end_ns: f.ts_ns,
                        signalled,
                    }),
                    None if signalled => self.signals_without_init += 1,
                    // A destroy of a fence already signalled, or born earlier.
                    None => {}
                }
            }
        }
        self.fold_old();
    }

    fn take(&mut self, key: (u64, u64)) -> Option<Alive> {
        let q = self.alive.get_mut(&key)?;
        let a = q.pop_front();
        if q.is_empty() {
            self.alive.remove(&key);
        }
        a
    }

    fn since(&self) -> u64 {
        self.since_ns.load(std::sync::atomic::Ordering::Acquire)
    }

    fn finished(&mut self, f: Finished) {
        self.recent.push_back(f);
    }

    fn fold_old(&mut self) {
        let horizon = self.latest_ns.saturating_sub(HOLD_NS);
        let since = self.since();
        while self.recent.front().is_some_and(|f| f.end_ns < horizon) {
            let f = self.recent.pop_front().expect("checked");
            if f.init_ns >= since {
                self.drivers[f.driver as usize].fold(&f, u64::MAX);
            }
        }
    }

    /// Adds ring losses counted elsewhere (the per-CPU overrun counters).
    pub fn add_lost(&mut self, n: u64) {
        self.lost += n;
    }

    /// The window ends at `until_ns`: fences born later are left out, and
    /// signals after it do not count.
    pub fn finish(mut self, until_ns: u64) -> Witnessed {
        let since = self.since();
        for f in std::mem::take(&mut self.recent) {
            if f.init_ns >= since && f.init_ns <= until_ns {
                self.drivers[f.driver as usize].fold(&f, until_ns);
            }
        }
        for a in self.alive.values().flatten() {
            if a.init_ns >= since && a.init_ns <= until_ns {
                self.drivers[a.driver as usize].fences += 1;
            }
        }
        let mut drivers = self.drivers;
        drivers.retain(|d| d.fences > 0);
        drivers.sort_by(|a, b| a.driver.cmp(&b.driver));
        Witnessed {
            drivers,
            lost: self.lost,
            lines: self.lines,
            signals_without_init: self.signals_without_init,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(kind: Kind, ts_us: u64, driver: &str, context: u64, seqno: u64) -> Line {
        Line::Fence(FenceLine {
            kind,
            ts_ns: ts_us * 1000,
            driver: driver.into(),
            timeline: "t".into(),
            context,
            seqno,
        })
    }

    #[test]
    fn pairs_per_driver_inside_the_window() {
        let mut t = Tally::new(1_000_000);
        // Born before the window: paired, not counted.
        t.feed(&line(Kind::Init, 500, "vgem", 1, 1));
        t.feed(&line(Kind::Init, 1_000, "vgem", 2, 1));
        t.feed(&line(Kind::Signaled, 1_200, "vgem", 1, 1));
        t.feed(&line(Kind::Init, 1_100, "fencefix", 3, 7));
        t.feed(&line(Kind::Signaled, 6_000, "vgem", 2, 1));
        t.feed(&line(Kind::Destroy, 7_000, "fencefix", 3, 7));
        // Born after the window's end: left out.
        t.feed(&line(Kind::Init, 9_000, "vgem", 4, 1));
        let w = t.finish(8_000_000);
        assert_eq!(w.drivers.len(), 2);
        let (f, v) = (&w.drivers[0], &w.drivers[1]);
        assert_eq!((f.driver.as_str(), f.fences, f.signalled), ("fencefix", 1, 0));
        assert_eq!(f.destroyed_unsignalled, 1);
        assert_eq!((v.driver.as_str(), v.fences, v.signalled), ("vgem", 1, 1));
        let p50 = v.lifetime.value_at_quantile(0.5);
        assert!(p50.abs_diff(5_000_000) <= 50_000, "{p50}");
        assert_eq!(w.signals_without_init, 0);
    }

    #[test]
    fn fences_numbered_at_emit_pair_on_their_emitted_seqno() {
        let mut t = Tally::new(0);
        for i in 0..3 {
            t.feed(&line(Kind::Init, 10 + i, "amdgpu", 5, 0));
        }
        for i in 0..3 {
            t.feed(&line(Kind::Emit, 20 + i, "amdgpu", 5, 100 + i));
        }
        // Signalled out of order: each still finds its own init.
        t.feed(&line(Kind::Signaled, 1_000, "amdgpu", 5, 102));
        t.feed(&line(Kind::Signaled, 2_000, "amdgpu", 5, 100));
        let w = t.finish(u64::MAX);
        let d = &w.drivers[0];
        assert_eq!((d.fences, d.signalled), (3, 2));
        let near = |got: u64, us: u64| got.abs_diff(us * 1000) <= us * 1000 / 100;
        assert!(near(d.lifetime.max(), 1_990), "{}", d.lifetime.max());
        assert!(near(d.lifetime.min(), 988), "{}", d.lifetime.min());
    }

    #[test]
    fn signals_after_the_end_do_not_count_and_old_fences_fold() {
        let mut t = Tally::new(0);
        for i in 0..1000u64 {
            t.feed(&line(Kind::Init, i * 10_000, "vgem", i, 1));
            t.feed(&line(Kind::Signaled, i * 10_000 + 5_000, "vgem", i, 1));
        }
        // Everything but the last HOLD_NS is folded already.
        assert!(t.recent.len() < 250, "{} held", t.recent.len());
        let w = t.finish(9_990_000_000 + 1_000);
        assert_eq!((w.drivers[0].fences, w.drivers[0].signalled), (1000, 999));
        t = Tally::new(0);
        t.feed(&Line::Lost(3));
        t.feed(&line(Kind::Signaled, 5, "vgem", 1, 1));
        let w = t.finish(u64::MAX);
        assert_eq!((w.lost, w.signals_without_init, w.drivers.len()), (3, 1, 0));
    }
}
