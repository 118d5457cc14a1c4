//! The engine's figures: the summary, the distributions behind it, and
//! interval resets; each part gives its own.
use super::*;
use crate::contract::ContractSummary;
use crate::fences::Fence;
use crate::summary::{InFlightFence, Summary};

/// Latency distributions by name: lifetimes by "driver/timeline", waits by
/// "process/thread style", export round trips by "process/thread handed".
#[derive(Clone, Debug, Default)]
pub struct Distributions {
    /// init → signal by "driver/timeline", of the real (not stub) groups the
    /// filter shows.
    pub lifetimes: std::collections::BTreeMap<String, hdrhistogram::Histogram<u64>>,
    /// ask → signal (or wait end) by "process/thread style" (see
    /// [`crate::summary::who_key`]).
    pub waits: std::collections::BTreeMap<String, hdrhistogram::Histogram<u64>>,
    /// EXPORT_SYNC_FILE entry → return by "process/thread handed".
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
        self.groups.reset_interval();
        self.waits.reset_interval();
        self.vb2.reset_interval();
        self.arrays.reset_interval();
        self.contract.reset_interval();
        self.early_signals.reset_interval();
        self.tally.reset_interval();
        s
    }

    /// The distributions behind the summary's percentiles, for tests of
    /// significance between two runs (`compare`).
    pub fn distributions(&self) -> Distributions {
        let (lifetimes, vb2_to_signal) = self.groups.distributions();
        let (waits, exports) = self.waits.distributions();
        let armed = self.contract.unarmed_window();
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
            .filter(|f| f.alive() && f.counted && !self.groups.hidden(f.group))
            .collect();
        open.sort_by_key(|f| (f.init_ns, f.serial));
        open.truncate(n);
        open.into_iter()
            .map(|f| {
                let (driver, timeline) = self.groups.names(f.group);
                InFlightFence {
                    driver: driver.to_owned(),
                    timeline: timeline.to_owned(),
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
        self.tally.last_ns
    }

    /// The latest time any record speaks for (the recorder's own records
    /// included): "now" for a replay.
    pub fn seen_until_ns(&self) -> u64 {
        self.tally.seen_until_ns
    }

    /// The figures so far. In-flight ages are measured to the last event.
    /// Fences whose names have not arrived yet are shown under "?".
    pub fn summary(&self) -> Summary {
        let t = &self.tally;
        let (groups, unfiled) = self.groups.summaries(&self.fences, t.seen_until_ns);
        let (waits, exports) = self.waits.summary(|g| {
            let (driver, timeline) = self.groups.names(g);
            format!("{driver}/{timeline}")
        });
        let never = self.limits.never_signalled_ns;
        let mut s = Summary {
            events: t.events,
            span_ns: t.first_ns.map_or(0, |f| t.last_ns - f),
            groups,
            signals_without_init: self.early_signals.without_init(),
            unnamed: t.unnamed + unfiled,
            dropped: t.dropped,
            dropped_by_kind: dropped_by_kind(&t.dropped_by_kind),
            evicted: t.evicted,
            waits,
            exports,
            vb2: self.vb2.summary(),
            arrays: self.arrays.summary(),
            unpaired: t.unpaired + self.waits.dropped_open(),
            contract: self.contract.summary(seen!(self), t.seen_until_ns, never),
            totals: Default::default(),
            partial: partial(&t.dropped_by_kind),
        };
        s.totals = s.totals();
        s
    }

    /// The checks so far; fences still alive are judged at the last event.
    pub fn contract(&self) -> ContractSummary {
        let now = self.tally.seen_until_ns;
        self.contract.summary(seen!(self), now, self.limits.never_signalled_ns)
    }
}

/// Drops by the name of the record kind, of the kinds that had any.
fn dropped_by_kind(by_slot: &[u64]) -> Vec<(String, u64)> {
    let named = by_slot.iter().enumerate().filter(|(_, n)| **n > 0).map(|(k, n)| {
        let kind = fencescope_schema::Kind::from_u16(k as u16);
        (kind.map_or_else(|| format!("kind {k}"), |k| k.name().into()), *n)
    });
    named.collect()
}

/// The sections the dropped records leave partial, in the summary's order.
fn partial(by_slot: &[u64]) -> Vec<String> {
    const ORDER: [&str; 6] = ["groups", "waits", "exports", "vb2", "arrays", "contract"];
    let hit: Vec<&str> = by_slot
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .filter_map(|(k, _)| fencescope_schema::Kind::from_u16(k as u16))
        .flat_map(|k| crate::summary::partial_sections(k).iter().copied())
        .collect();
    ORDER.iter().filter(|s| hit.contains(s)).map(|s| s.to_string()).collect()
}
