//! The engine's outputs: the summary, the distributions behind it, and
//! interval resets. Apart from the pairing so each file reads in one go.
use super::*;

/// Latency distributions by name: lifetimes by "driver/timeline", waits by
/// "process/thread style", export round trips by "process/thread handed".
#[derive(Clone, Debug, Default)]
pub struct Distributions {
    pub lifetimes: std::collections::BTreeMap<String, hdrhistogram::Histogram<u64>>,
    pub waits: std::collections::BTreeMap<String, hdrhistogram::Histogram<u64>>,
    pub exports: std::collections::BTreeMap<String, hdrhistogram::Histogram<u64>>,
    /// vb2_buffer_done entry → signal, by "driver/timeline".
    pub vb2_to_signal: std::collections::BTreeMap<String, hdrhistogram::Histogram<u64>>,
    /// Created → armed, of every armed fence.
    pub unarmed_window: Option<hdrhistogram::Histogram<u64>>,
}

impl Engine {
    /// The figures of the interval since the last call (or the start), then
    /// a fresh interval: counters and histograms restart, fences in flight
    /// and open waits carry over. For `watch --interval`.
    pub fn take_interval(&mut self) -> Summary {
        let s = self.summary();
        for g in &mut self.groups {
            let (d, t, stub, hidden) =
                (std::mem::take(&mut g.driver), std::mem::take(&mut g.timeline), g.stub, g.hidden);
            *g = Group::new(&d, &t, stub, hidden);
        }
        self.waits.reset_interval();
        self.vb2_bufs.reset_interval();
        self.arrays.reset_interval();
        self.contract.reset_interval();
        self.vb2 = Vb2Summary::default();
        self.events = 0;
        self.first_ns = None;
        self.signals_without_init = 0;
        self.unnamed = 0;
        self.evicted = 0;
        self.unpaired = 0;
        s
    }

    /// The distributions behind the summary's percentiles, for tests of
    /// significance between two runs (`compare`).
    pub fn distributions(&self) -> Distributions {
        let lifetimes = self
            .groups
            .iter()
            .filter(|g| !g.hidden && !g.stub && !g.lifetime.is_empty())
            .map(|g| (format!("{}/{}", g.driver, g.timeline), g.lifetime.inner().clone()))
            .collect();
        let vb2_to_signal = self
            .groups
            .iter()
            .filter(|g| !g.hidden && !g.stub && !g.vb2_to_signal.is_empty())
            .map(|g| (format!("{}/{}", g.driver, g.timeline), g.vb2_to_signal.inner().clone()))
            .collect();
        let (waits, exports) = self.waits.distributions();
        let armed = &self.contract.unarmed_window;
        Distributions {
            unarmed_window: (!armed.is_empty()).then(|| armed.inner().clone()),
            vb2_to_signal,
            lifetimes,
            waits: waits.into_iter().collect(),
            exports: exports.into_iter().collect(),
        }
    }

    /// The `n` oldest fences still unsignalled at `now_ns`, oldest first.
    /// Fences the filter leaves out and fences without names yet are
    /// included only when counted, so a hang is never hidden by a late name.
    pub fn oldest_in_flight(&self, now_ns: u64, n: usize) -> Vec<InFlightFence> {
        let mut open: Vec<&Fence> = self
            .fences
            .values()
            .filter(|f| f.lifetime_ns.is_none() && f.counted)
            .filter(|f| f.group.is_none_or(|g| !self.groups[g].hidden))
            .collect();
        open.sort_by_key(|f| (f.init_ns, f.serial));
        open.truncate(n);
        open.into_iter()
            .map(|f| {
                let (driver, timeline) = match f.group {
                    Some(g) => (self.groups[g].driver.clone(), self.groups[g].timeline.clone()),
                    None => ("?".into(), "?".into()),
                };
                InFlightFence {
                    driver,
                    timeline,
                    context: f.context,
                    seqno: f.seqno,
                    age_ns: now_ns.saturating_sub(f.init_ns),
                    tgid: f.creator_tgid,
                    process: f.creator.to_string(),
                }
            })
            .collect()
    }

    /// The last kernel event's timestamp.
    pub fn last_ns(&self) -> u64 {
        self.last_ns
    }

    /// The latest time any record speaks for (the recorder's own records
    /// included): "now" for a replay.
    pub fn seen_until_ns(&self) -> u64 {
        self.seen_until_ns
    }

    /// The figures so far. In-flight ages are measured to the last event.
    /// Fences whose names have not arrived yet are shown under "?".
    pub fn summary(&self) -> Summary {
        let mut groups = self.groups.clone();
        let mut unnamed = self.unnamed;
        let mut in_flight: Vec<(u64, u64)> = vec![(0, 0); groups.len() + 1];
        let unnamed_slot =
            match self.group_ids.get(&(FenceName::new("?"), FenceName::new("?"), false, false)) {
                Some(&g) => g,
                None => groups.len(),
            };
        for f in self.fences.values() {
            let slot = match f.group {
                Some(g) => g,
                None => {
                    unnamed += 1;
                    if unnamed_slot == groups.len() {
                        groups.push(Group::new("?", "?", false, false));
                    }
                    let g = &mut groups[unnamed_slot];
                    g.fences += 1;
                    record_signal(g, f);
                    unnamed_slot
                }
            };
            if f.lifetime_ns.is_none() {
                let age = self.seen_until_ns.saturating_sub(f.init_ns);
                let (n, oldest) = &mut in_flight[slot];
                *n += 1;
                *oldest = (*oldest).max(age);
            }
        }
        let mut out: Vec<GroupSummary> = groups
            .iter()
            .zip(in_flight)
            .filter(|(g, (n, _))| {
                !g.hidden
                    && (g.fences
                        + g.signalled
                        + g.destroyed_unsignalled
                        + g.dropped_unpublished
                        + *n
                        > 0)
            })
            .map(|(g, (n, oldest))| GroupSummary {
                driver: g.driver.clone(),
                timeline: g.timeline.clone(),
                stub: g.stub,
                fences: g.fences,
                signalled: g.signalled,
                in_flight: n,
                oldest_in_flight_ns: oldest,
                destroyed_unsignalled: g.destroyed_unsignalled,
                dropped_unpublished: g.dropped_unpublished,
                lifetime: g.lifetime.summary(),
                resv_usage: g.resv_usage,
                attach_to_signal: g.attach_to_signal.summary(),
                vb2_done_to_signal: g.vb2_to_signal.summary(),
            })
            .collect();
        out.sort_by(|a, b| (a.stub, &a.driver, &a.timeline).cmp(&(b.stub, &b.driver, &b.timeline)));
        let (waits, exports) = self.waits.summary();
        let mut vb2 = self.vb2;
        self.vb2_bufs.fill(&mut vb2);
        let mut s = Summary {
            events: self.events,
            span_ns: self.first_ns.map_or(0, |f| self.last_ns - f),
            groups: out,
            signals_without_init: self.signals_without_init + self.early_signals.len() as u64,
            unnamed,
            dropped: self.dropped,
            dropped_by_kind: self
                .dropped_by_kind
                .iter()
                .enumerate()
                .filter(|(_, n)| **n > 0)
                .map(|(k, n)| {
                    let kind = fencescope_schema::Kind::from_u16(k as u16);
                    (kind.map_or_else(|| format!("kind {k}"), |k| k.name().into()), *n)
                })
                .collect(),
            evicted: self.evicted,
            waits,
            exports,
            vb2,
            arrays: self.arrays.summary(),
            unpaired: self.unpaired + self.waits.dropped_open(),
            contract: self.contract(),
            totals: Default::default(),
        };
        s.totals = s.totals();
        s
    }
}
