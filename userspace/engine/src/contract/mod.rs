//! The contract a fence handed to userspace must keep (the review of the
//! videobuf2 release-fence series): it signals in finite time whatever
//! userspace does next. So it must not be handed out before it is *armed*
//! — before the job that signals it is committed to hardware (the arm
//! hook, a driver's device_run) — and it must signal.
//!
//! Each fence's stages are kept: created, attached to a buffer (resv),
//! armed, handed out (an export gave it, or a poll hooked a wait on it),
//! signalled. The checks: the unarmed window (created → armed), fences
//! handed out unarmed (they can wait on userspace), fences never signalled
//! (alive past a threshold, or destroyed unsignalled). Each is a count, a
//! distribution where it has one, and the worst examples with their stages.
//!
//! The contract reads the fences and their groups (`Seen`) but owns only
//! its own figures; the engine tells it what happened to a fence.
mod resvs;
pub(crate) mod types;

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;

use crate::event::Meta;
use crate::fences::{Fence, FenceTable, Hand};
use crate::groups::Groups;
use crate::hist::Latency;
use crate::vb2::Vb2;
use crate::waits::Waits;
use resvs::Resvs;
use types::Worst;
pub use types::{ContractSummary, EXAMPLES, Stages};

/// The driver name the videobuf2 release-fence series gives its fences:
/// an arm hook that does not take the fence arms the oldest of these.
pub const SERIES_DRIVER: &str = "videobuf2";

/// Threads remembered inside buf_queue at once.
const MAX_QUEUEING: usize = 4096;

/// What the contract reads of the rest of the engine.
#[derive(Clone, Copy)]
pub(crate) struct Seen<'a> {
    pub fences: &'a FenceTable,
    pub groups: &'a Groups,
    pub waits: &'a Waits,
    pub vb2: &'a Vb2,
}

impl Seen<'_> {
    /// Whether `f` is held to the arming contract: its timeline's fences
    /// get armed (or it is the series' own).
    fn armable(&self, f: &Fence) -> bool {
        f.group.is_some_and(|g| {
            let g = self.groups.get(g);
            !g.hidden && (g.armed > 0 || g.driver == SERIES_DRIVER)
        })
    }

    /// Handed out before it was armed: how long it then stayed unarmed.
    fn unarmed_after_hand(&self, f: &Fence, now: u64) -> Option<u64> {
        let hand = f.handed?.at_ns;
        let armed = f.armed_ns.unwrap_or(u64::MAX);
        (self.armable(f) && f.counted && hand < armed).then(|| armed.min(now).saturating_sub(hand))
    }

    fn shown(&self, f: &Fence) -> bool {
        f.counted && !self.groups.hidden(f.group)
    }

    /// `f`'s stages, relative to its creation, seen at `now`.
    fn stages(&self, f: &Fence, now: u64) -> Stages {
        let (driver, timeline) = self.groups.names(f.group);
        let (driver, timeline) = (driver.to_owned(), timeline.to_owned());
        let rel = |t: u64| t.saturating_sub(f.init_ns);
        Stages {
            driver,
            timeline,
            context: f.context,
            seqno: f.seqno,
            created_by: format!("{}[{}]", f.creator, f.creator_tgid),
            attached_ns: f.resv.map(|r| rel(r.0)),
            armed_ns: f.armed_ns.map(rel),
            handed_ns: f.handed.map(|h| rel(h.at_ns)),
            handed_to: f.handed.map(|h| self.waits.process_of(h.tgid, &h.comm)),
            signalled_ns: f.lifetime_ns,
            age_ns: f.lifetime_ns.unwrap_or_else(|| rel(now)),
        }
    }
}

/// What accumulates as fences finish; an interval starts it afresh.
#[derive(Clone, Debug, Default)]
struct Counts {
    arms: u64,
    arms_unmatched: u64,
    armed: u64,
    unarmed_window: Latency,
    handed_out: u64,
    handed_out_unarmed: u64,
    handed_unarmed_worst: Worst,
    destroyed_unsignalled: u64,
    destroyed_worst: Worst,
    foreign: u64,
    foreign_drivers: BTreeMap<String, u64>,
    foreign_worst: Worst,
    unattached: u64,
    unattached_worst: Worst,
    /// Buffers queued to the driver (buf_queue) by a thread still inside
    /// the call that may attach their fence: by thread, the queue.
    queueing: FxHashMap<u32, u64>,
    /// By queue: buffers that got a series fence at buf_queue, and not.
    queued: BTreeMap<u64, (u64, u64)>,
}

/// Which worst-example list an example is offered to.
type List = fn(&mut Counts) -> &mut Worst;

/// The contract checks' state.
#[derive(Debug, Default)]
pub(crate) struct Contract {
    counts: Counts,
    resvs: Resvs,
    /// `with_stage_log`: how many, and the stages of the first fences that
    /// signal.
    stage_log: Option<(usize, Vec<Stages>)>,
}

impl Contract {
    /// Also keeps the stages of the first `n` fences to signal.
    pub fn keep_stage_log(&mut self, n: usize) {
        self.stage_log = Some((n, Vec::new()));
    }

    pub fn stage_log(&self) -> &[Stages] {
        self.stage_log.as_ref().map_or(&[], |(_, v)| v.as_slice())
    }

    /// Created → armed, of every armed fence.
    pub fn unarmed_window(&self) -> &Latency {
        &self.counts.unarmed_window
    }

    /// Counts restart; what is known of buffers and the stage log stay.
    pub fn reset_interval(&mut self) {
        self.counts = Counts::default();
    }

    /// The arm hook ran with `arg0`: arm that fence if it is one we follow,
    /// else (a driver's device_run takes its job context) the oldest
    /// unarmed, unsignalled fence of the series' driver — m2m drivers run
    /// their jobs in queue order.
    pub fn arm(&mut self, fences: &mut FenceTable, groups: &mut Groups, arg0: u64, ts: u64) {
        self.counts.arms += 1;
        let unarmed = |f: &Fence| f.alive() && f.armed_ns.is_none();
        let target = match fences.get(arg0) {
            Some(f) if unarmed(f) => Some(arg0),
            _ => fences
                .iter()
                .filter(|(_, f)| unarmed(f) && groups.is_driver(f.group, SERIES_DRIVER))
                .min_by_key(|(_, f)| (f.init_ns, f.serial))
                .map(|(a, _)| a),
        };
        let Some(f) = target.and_then(|a| fences.get_mut(a)) else {
            self.counts.arms_unmatched += 1;
            return;
        };
        f.armed_ns = Some(ts);
        self.counts.armed += 1;
        self.counts.unarmed_window.record(ts.saturating_sub(f.init_ns));
        if let Some(g) = f.group {
            groups.get_mut(g).armed += 1;
        }
    }

    /// `fence` was added to `resv` on `tid`. Another driver's fence on a
    /// buffer the series' fences guard is foreign (counted whichever came
    /// first).
    pub fn resv_added(&mut self, seen: Seen, resv: u64, fence: u64, tid: u32, now: u64) {
        let Some(f) = seen.fences.get(fence) else { return };
        if f.group.is_none() {
            return;
        }
        let series = seen.groups.is_driver(f.group, SERIES_DRIVER);
        // A series fence attached inside buf_queue: that buffer got one.
        if series && let Some(queue) = self.counts.queueing.remove(&tid) {
            self.counts.queued.entry(queue).or_default().0 += 1;
        }
        for other in self.resvs.added(resv, fence, series) {
            let Some(o) = seen.fences.get(other) else { continue };
            if o.group.is_none() || !seen.shown(o) {
                continue;
            }
            let c = &mut self.counts;
            c.foreign += 1;
            let (driver, timeline) = seen.groups.names(o.group);
            *c.foreign_drivers.entry(format!("{driver}/{timeline}")).or_default() += 1;
            // Examples in the order seen: their lives are not over yet.
            let key = u64::MAX - c.foreign;
            self.offer(seen, |c| &mut c.foreign_worst, key, o, now);
        }
    }

    /// A vb2 buffer stage on `tid`. buf_queue opens a window in which the
    /// driver may attach the buffer's fence (on this thread, v1 of the
    /// series); the thread's next vb2 stage closes it without one.
    pub fn buffer_stage(&mut self, tid: u32, queue: u64, stage: u32) {
        let c = &mut self.counts;
        if let Some(q) = c.queueing.remove(&tid) {
            c.queued.entry(q).or_default().1 += 1;
        }
        if stage == fencescope_schema::VB2_BUF_QUEUE && c.queueing.len() < MAX_QUEUEING {
            c.queueing.insert(tid, queue);
        }
    }

    /// `f` went to a waiter: userspace (an export's sync_file, a poll's
    /// wait) or the kernel on its behalf (a `dma_fence_wait`).
    pub fn hand(&mut self, f: &mut Fence, m: &Meta) {
        if f.handed.is_some() || !f.alive() {
            return;
        }
        f.handed = Some(Hand { at_ns: m.ts_ns, tgid: m.tgid, comm: m.comm });
        if f.counted {
            self.counts.handed_out += 1;
        }
    }

    /// `f` signalled at `ts`.
    pub fn signalled(&mut self, seen: Seen, f: &Fence, ts: u64) {
        self.unattached(seen, f, ts);
        if let Some((n, log)) = self.stage_log.as_mut()
            && log.len() < *n
            && seen.shown(f)
        {
            log.push(seen.stages(f, ts));
        }
        self.judge_hand_out(seen, f, ts);
    }

    /// `f`, which someone could have waited on, was destroyed unsignalled
    /// (seen at `now`).
    pub fn destroyed(&mut self, seen: Seen, f: &Fence, now: u64) {
        if !seen.shown(f) {
            return;
        }
        self.counts.destroyed_unsignalled += 1;
        self.offer(seen, |c| &mut c.destroyed_worst, now.saturating_sub(f.init_ns), f, now);
        self.judge_hand_out(seen, f, now);
    }

    /// A fence of the series that ended guarding no buffer: the
    /// longest-lived are kept, as its life is over when it is counted.
    fn unattached(&mut self, seen: Seen, f: &Fence, now: u64) {
        if seen.groups.is_driver(f.group, SERIES_DRIVER) && f.resv.is_none() && seen.shown(f) {
            self.counts.unattached += 1;
            let key = f.lifetime_ns.unwrap_or_else(|| now.saturating_sub(f.init_ns));
            self.offer(seen, |c| &mut c.unattached_worst, key, f, now);
        }
    }

    /// Counts `f` if it was handed out before it was armed (judged at `now`).
    fn judge_hand_out(&mut self, seen: Seen, f: &Fence, now: u64) {
        if let Some(key) = seen.unarmed_after_hand(f, now) {
            self.counts.handed_out_unarmed += 1;
            self.offer(seen, |c| &mut c.handed_unarmed_worst, key, f, now);
        }
    }

    /// Offers `f` to one of the worst-example lists, building its stages
    /// only when the list keeps it.
    fn offer(&mut self, seen: Seen, list: List, key: u64, f: &Fence, now: u64) {
        if list(&mut self.counts).wants(key) {
            list(&mut self.counts).keep(key, seen.stages(f, now));
        }
    }

    /// The checks so far; fences still alive are judged at `now`, and
    /// counted as never signalled past `limit`.
    pub fn summary(&self, seen: Seen, now: u64, limit: u64) -> ContractSummary {
        let c = &self.counts;
        let mut out = ContractSummary {
            arms: c.arms,
            arms_unmatched: c.arms_unmatched,
            armed: c.armed,
            unarmed_window: c.unarmed_window.summary(),
            handed_out: c.handed_out,
            handed_out_unarmed: c.handed_out_unarmed,
            never_signalled: c.destroyed_unsignalled,
            never_signalled_threshold_ns: limit,
            ..ContractSummary::default()
        };
        let mut unarmed = Worst::default();
        let mut hung = Worst::default();
        for f in seen.fences.values().filter(|f| f.alive() && f.counted) {
            if let Some(key) = seen.unarmed_after_hand(f, now) {
                out.handed_out_unarmed += 1;
                if unarmed.wants(key) {
                    unarmed.keep(key, seen.stages(f, now));
                }
            }
            let age = now.saturating_sub(f.init_ns);
            if age >= limit && !seen.groups.hidden(f.group) {
                out.never_signalled += 1;
                if hung.wants(age) {
                    hung.keep(age, seen.stages(f, now));
                }
            }
        }
        out.unfenced_queues = c
            .queued
            .iter()
            .filter(|(_, (fenced, not))| *fenced > 0 && *not > 0)
            .map(|(q, (fenced, not))| {
                let name = seen.vb2.queue_label(*q).unwrap_or_else(|| format!("{q:#x}"));
                (name, *fenced, *not)
            })
            .collect();
        out.unattached_fences = c.unattached;
        out.unattached_worst = c.unattached_worst.merged(&Worst::default());
        out.foreign_fences = c.foreign;
        out.foreign_drivers = c.foreign_drivers.iter().map(|(k, v)| (k.clone(), *v)).collect();
        out.foreign_worst = c.foreign_worst.merged(&Worst::default());
        out.handed_out_unarmed_worst = c.handed_unarmed_worst.merged(&unarmed);
        out.never_signalled_worst = c.destroyed_worst.merged(&hung);
        out
    }
}
