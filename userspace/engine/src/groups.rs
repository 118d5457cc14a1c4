//! Fences by what the kernel names them: (driver, timeline), stubs apart,
//! and the fences the filter leaves out apart again (followed, never
//! shown). Each group keeps its own counts and distributions.
use rustc_hash::FxHashMap;

use crate::event::FenceName;
pub(crate) use crate::fences::GroupId;
use crate::fences::{Fence, FenceTable};
use crate::hist::Latency;
use crate::summary::GroupSummary;

/// The driver name of fences whose names never came.
pub(crate) const UNNAMED: &str = "?";

#[derive(Clone, Debug)]
pub(crate) struct Group {
    pub driver: String,
    pub timeline: String,
    pub stub: bool,
    /// Fences the filter leaves out: followed, never shown.
    pub hidden: bool,
    pub fences: u64,
    pub signalled: u64,
    pub destroyed_unsignalled: u64,
    /// Destroyed unsignalled before anyone could wait on them.
    pub dropped_unpublished: u64,
    /// Destroyed signalled, its signal record lost.
    pub signal_unseen: u64,
    pub lifetime: Latency,
    /// Fences of this group the arm hook armed: its fences are held to the
    /// arming contract.
    pub armed: u64,
    pub resv_usage: [u64; 4],
    pub attach_to_signal: Latency,
    pub vb2_to_signal: Latency,
}

impl Group {
    fn new(driver: &str, timeline: &str, stub: bool, hidden: bool) -> Self {
        Group {
            driver: driver.to_owned(),
            timeline: timeline.to_owned(),
            stub,
            hidden,
            fences: 0,
            signalled: 0,
            destroyed_unsignalled: 0,
            dropped_unpublished: 0,
            signal_unseen: 0,
            lifetime: Latency::default(),
            armed: 0,
            resv_usage: [0; 4],
            attach_to_signal: Latency::default(),
            vb2_to_signal: Latency::default(),
        }
    }

    /// Files `f` here: counted, with its usage and, if it has signalled
    /// already, its figures.
    pub fn file(&mut self, f: &Fence) {
        self.fences += 1;
        if let Some((_, usage)) = f.resv {
            self.resv_attached(usage);
        }
        self.signalled(f);
    }

    pub fn resv_attached(&mut self, usage: u32) {
        self.resv_usage[(usage as usize).min(3)] += 1;
    }

    /// A signalled fence's figures.
    pub fn signalled(&mut self, f: &Fence) {
        let Some(ns) = f.lifetime_ns else { return };
        self.signalled += 1;
        self.lifetime.record(ns);
        if let Some((at, _)) = f.resv {
            self.attach_to_signal.record(f.signal_ns.saturating_sub(at));
        }
        if let Some(at) = f.vb2_done_ns {
            self.vb2_to_signal.record(f.signal_ns.saturating_sub(at));
        }
    }

    fn summary(&self, in_flight: u64, oldest_in_flight_ns: u64) -> GroupSummary {
        GroupSummary {
            driver: self.driver.clone(),
            timeline: self.timeline.clone(),
            stub: self.stub,
            fences: self.fences,
            signalled: self.signalled,
            in_flight,
            oldest_in_flight_ns,
            destroyed_unsignalled: self.destroyed_unsignalled,
            dropped_unpublished: self.dropped_unpublished,
            signal_unseen: self.signal_unseen,
            lifetime: self.lifetime.summary(),
            resv_usage: self.resv_usage,
            attach_to_signal: self.attach_to_signal.summary(),
            vb2_done_to_signal: self.vb2_to_signal.summary(),
        }
    }

    fn shown(&self) -> bool {
        !self.hidden && !self.stub
    }

    fn label(&self) -> String {
        format!("{}/{}", self.driver, self.timeline)
    }
}

/// Every group seen, found by name.
#[derive(Debug, Default)]
pub(crate) struct Groups {
    list: Vec<Group>,
    ids: FxHashMap<(FenceName, FenceName, bool, bool), GroupId>,
}

impl Groups {
    /// The group of these names, made on first sight.
    pub fn id(&mut self, driver: &str, timeline: &str, stub: bool, hidden: bool) -> GroupId {
        let key = (FenceName::new(driver), FenceName::new(timeline), stub, hidden);
        if let Some(&g) = self.ids.get(&key) {
            return g;
        }
        self.list.push(Group::new(driver, timeline, stub, hidden));
        self.ids.insert(key, self.list.len() - 1);
        self.list.len() - 1
    }

    /// The hidden twin of `g`: where fences the filter leaves out go.
    pub fn hidden_twin(&mut self, g: GroupId) -> GroupId {
        let Group { driver, timeline, stub, .. } = &self.list[g];
        let (d, t, stub) = (driver.clone(), timeline.clone(), *stub);
        self.id(&d, &t, stub, true)
    }

    pub fn get(&self, g: GroupId) -> &Group {
        &self.list[g]
    }

    pub fn get_mut(&mut self, g: GroupId) -> &mut Group {
        &mut self.list[g]
    }

    /// Whether a fence filed under `g` is left out by the filter.
    pub fn hidden(&self, g: Option<GroupId>) -> bool {
        g.is_some_and(|g| self.list[g].hidden)
    }

    /// Whether a fence filed under `g` is of `driver`.
    pub fn is_driver(&self, g: Option<GroupId>, driver: &str) -> bool {
        g.is_some_and(|g| self.list[g].driver == driver)
    }

    /// (driver, timeline) of a fence filed under `g`; "?" when unfiled.
    pub fn names(&self, g: Option<GroupId>) -> (&str, &str) {
        match g {
            Some(g) => (&self.list[g].driver, &self.list[g].timeline),
            None => (UNNAMED, UNNAMED),
        }
    }

    /// Counters and histograms restart; the groups stay.
    pub fn reset_interval(&mut self) {
        for g in &mut self.list {
            let (d, t) = (std::mem::take(&mut g.driver), std::mem::take(&mut g.timeline));
            *g = Group::new(&d, &t, g.stub, g.hidden);
        }
    }

    /// Every shown group's figures, the fences still followed included:
    /// those not filed yet count under "?", and in-flight ages are measured
    /// to `now`. Also returns how many were not filed yet.
    pub fn summaries(&self, fences: &FenceTable, now: u64) -> (Vec<GroupSummary>, u64) {
        let mut groups = self.list.clone();
        let mut unfiled = 0;
        let mut in_flight: Vec<(u64, u64)> = vec![(0, 0); groups.len() + 1];
        let unnamed_key = (FenceName::new(UNNAMED), FenceName::new(UNNAMED), false, false);
        let unnamed_slot = self.ids.get(&unnamed_key).copied().unwrap_or(groups.len());
        for f in fences.values() {
            let slot = match f.group {
                Some(g) => g,
                None => {
                    unfiled += 1;
                    if unnamed_slot == groups.len() {
                        groups.push(Group::new(UNNAMED, UNNAMED, false, false));
                    }
                    // Shown under "?" until filed; its usage counts once
                    // it is (summaries have never counted it before).
                    let g = &mut groups[unnamed_slot];
                    g.fences += 1;
                    g.signalled(f);
                    unnamed_slot
                }
            };
            if f.alive() {
                let (n, oldest) = &mut in_flight[slot];
                *n += 1;
                *oldest = (*oldest).max(now.saturating_sub(f.init_ns));
            }
        }
        let mut out: Vec<GroupSummary> = groups
            .iter()
            .zip(in_flight)
            .filter(|(g, (n, _))| {
                let seen = g.fences
                    + g.signalled
                    + g.destroyed_unsignalled
                    + g.dropped_unpublished
                    + g.signal_unseen;
                !g.hidden && seen + *n > 0
            })
            .map(|(g, (n, oldest))| g.summary(n, oldest))
            .collect();
        out.sort_by(|a, b| (a.stub, &a.driver, &a.timeline).cmp(&(b.stub, &b.driver, &b.timeline)));
        (out, unfiled)
    }

    /// Lifetimes and vb2_buffer_done → signal by "driver/timeline", of the
    /// shown real (not stub) groups.
    pub fn distributions(&self) -> (Named, Named) {
        let of = |pick: fn(&Group) -> &Latency| -> Named {
            let shown = self.list.iter().filter(|g| g.shown() && !pick(g).is_empty());
            shown.map(|g| (g.label(), pick(g).inner().clone())).collect()
        };
        (of(|g| &g.lifetime), of(|g| &g.vb2_to_signal))
    }
}

/// Histograms by label.
pub(crate) type Named = std::collections::BTreeMap<String, hdrhistogram::Histogram<u64>>;
