//! The engine's side of the contract checks (see `contract`): arming,
//! handing out, and the checks as fences signal, die or stay alive.
use super::*;
use crate::contract::{Contract, ContractSummary, Stages, Worst};

/// The driver name the videobuf2 release-fence series gives its fences:
/// an arm hook that does not take the fence arms the oldest of these.
pub const SERIES_DRIVER: &str = "videobuf2";

impl Engine {
    /// The arm hook ran with `arg0`: arm that fence if it is one we follow,
    /// else (a driver's device_run takes its job context) the oldest
    /// unarmed, unsignalled fence of the series' driver — m2m drivers run
    /// their jobs in queue order.
    pub(super) fn arm(&mut self, arg0: u64, ts: u64) {
        self.contract.arms += 1;
        let unarmed = |f: &Fence| f.lifetime_ns.is_none() && f.armed_ns.is_none();
        let target = match self.fences.get(&arg0) {
            Some(f) if unarmed(f) => Some(arg0),
            _ => self
                .fences
                .iter()
                .filter(|(_, f)| unarmed(f))
                .filter(|(_, f)| f.group.is_some_and(|g| self.groups[g].driver == SERIES_DRIVER))
                .min_by_key(|(_, f)| (f.init_ns, f.serial))
                .map(|(a, _)| *a),
        };
        let Some(f) = target.and_then(|a| self.fences.get_mut(&a)) else {
            self.contract.arms_unmatched += 1;
            return;
        };
        f.armed_ns = Some(ts);
        self.contract.armed += 1;
        self.contract.unarmed_window.record(ts.saturating_sub(f.init_ns));
        if let Some(g) = f.group {
            self.groups[g].armed += 1;
        }
    }

    /// `fence` was added to `resv`. Another driver's fence on a buffer the
    /// series' fences guard is foreign (counted whichever came first).
    pub(super) fn resv_guarded(&mut self, resv: u64, fence: u64, tid: u32) {
        let Some(f) = self.fences.get(&fence).copied() else { return };
        let Some(g) = f.group else { return };
        let series = self.groups[g].driver == SERIES_DRIVER;
        // A series fence attached inside buf_queue: that buffer got one.
        if series && let Some(queue) = self.contract.queueing.remove(&tid) {
            self.contract.queued.entry(queue).or_default().0 += 1;
        }
        if !self.resvs.by_resv.contains_key(&resv) {
            if self.resvs.order.len() >= crate::contract::MAX_RESVS
                && let Some(old) = self.resvs.order.pop_front()
            {
                self.resvs.by_resv.remove(&old);
            }
            self.resvs.order.push_back(resv);
        }
        let state = self.resvs.by_resv.entry(resv).or_default();
        let earlier: Vec<u64> = if series {
            state.vb2 = true;
            std::mem::take(&mut state.others)
        } else if state.vb2 {
            vec![fence]
        } else {
            if state.others.len() < 8 {
                state.others.push(fence);
            }
            Vec::new()
        };
        for other in earlier {
            let Some(o) = self.fences.get(&other).copied() else { continue };
            let Some(og) = o.group else { continue };
            if self.groups[og].hidden || !o.counted {
                continue;
            }
            self.contract.foreign += 1;
            let name = format!("{}/{}", self.groups[og].driver, self.groups[og].timeline);
            *self.contract.foreign_drivers.entry(name).or_default() += 1;
            // Examples in the order seen: their lives are not over yet.
            let key = u64::MAX - self.contract.foreign;
            self.offer(|c| &mut c.foreign_worst, key, &o, self.seen_until_ns);
        }
    }

    /// A vb2 buffer stage on `tid`. buf_queue opens a window in which the
    /// driver may attach the buffer's fence (on this thread, v1 of the
    /// series); the thread's next vb2 stage closes it without one.
    pub(super) fn buffer_queued(&mut self, tid: u32, queue: u64, stage: u32) {
        if let Some(q) = self.contract.queueing.remove(&tid) {
            self.contract.queued.entry(q).or_default().1 += 1;
        }
        if stage == fencescope_schema::VB2_BUF_QUEUE && self.contract.queueing.len() < 4096 {
            self.contract.queueing.insert(tid, queue);
        }
    }

    /// `fence` went to userspace (an export's sync_file, or a poll's wait).
    pub(super) fn hand(&mut self, fence: u64, m: &Meta) {
        let Some(f) = self.fences.get_mut(&fence) else { return };
        if f.handed.is_some() || f.lifetime_ns.is_some() {
            return;
        }
        f.handed = Some(Hand { at_ns: m.ts_ns, tgid: m.tgid, comm: m.comm });
        if f.counted {
            self.contract.handed_out += 1;
        }
    }

    /// Whether `f` is held to the arming contract: its timeline's fences
    /// get armed (or it is the series' own).
    fn armable(&self, f: &Fence) -> bool {
        f.group.is_some_and(|g| {
            let g = &self.groups[g];
            !g.hidden && (g.armed > 0 || g.driver == SERIES_DRIVER)
        })
    }

    /// Handed out before it was armed: how long it then stayed unarmed.
    fn unarmed_after_hand(&self, f: &Fence, now: u64) -> Option<u64> {
        let hand = f.handed?.at_ns;
        let armed = f.armed_ns.unwrap_or(u64::MAX);
        (self.armable(f) && f.counted && hand < armed).then(|| armed.min(now).saturating_sub(hand))
    }

    /// A fence of the series that ended guarding no buffer.
    fn unattached(&mut self, f: &Fence, now: u64) {
        let series = f.group.is_some_and(|g| self.groups[g].driver == SERIES_DRIVER);
        if series && f.resv.is_none() && f.counted {
            self.contract.unattached += 1;
            let key = u64::MAX - self.contract.unattached;
            self.offer(|c| &mut c.unattached_worst, key, f, now);
        }
    }

    pub(super) fn contract_on_signal(&mut self, f: &Fence, ts: u64) {
        self.unattached(f, ts);
        let shown = f.counted && !f.group.is_some_and(|g| self.groups[g].hidden);
        if shown && self.stage_log.as_ref().is_some_and(|(n, v)| v.len() < *n) {
            let stages = self.stages(f, ts);
            self.stage_log.as_mut().expect("checked").1.push(stages);
        }
        self.judge_hand_out(f, ts);
    }

    /// Counts `f` if it was handed out before it was armed (judged at `now`).
    fn judge_hand_out(&mut self, f: &Fence, now: u64) {
        if let Some(key) = self.unarmed_after_hand(f, now) {
            self.contract.handed_out_unarmed += 1;
            self.offer(|c| &mut c.handed_unarmed_worst, key, f, now);
        }
    }

    /// Offers `f` to one of the contract's worst-example lists, building
    /// its stages only when the list keeps it.
    fn offer(&mut self, list: fn(&mut Contract) -> &mut Worst, key: u64, f: &Fence, now: u64) {
        if list(&mut self.contract).wants(key) {
            let stages = self.stages(f, now);
            list(&mut self.contract).keep(key, stages);
        }
    }

    pub(super) fn contract_on_destroy(&mut self, f: &Fence) {
        if !f.counted || f.group.is_some_and(|g| self.groups[g].hidden) {
            return;
        }
        let now = self.seen_until_ns;
        self.contract.destroyed_unsignalled += 1;
        self.offer(|c| &mut c.destroyed_worst, now.saturating_sub(f.init_ns), f, now);
        self.judge_hand_out(f, now);
    }

    /// `f`'s stages, relative to its creation, seen at `now`.
    pub(super) fn stages(&self, f: &Fence, now: u64) -> Stages {
        let (driver, timeline) = match f.group {
            Some(g) => (self.groups[g].driver.clone(), self.groups[g].timeline.clone()),
            None => ("?".into(), "?".into()),
        };
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

    /// The checks so far; fences still alive are judged at the last event.
    pub fn contract(&self) -> ContractSummary {
        let now = self.seen_until_ns;
        let limit = self.limits.never_signalled_ns;
        let c = &self.contract;
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
        for f in self.fences.values().filter(|f| f.lifetime_ns.is_none() && f.counted) {
            if let Some(key) = self.unarmed_after_hand(f, now) {
                out.handed_out_unarmed += 1;
                if unarmed.wants(key) {
                    unarmed.keep(key, self.stages(f, now));
                }
            }
            let age = now.saturating_sub(f.init_ns);
            if age >= limit && !f.group.is_some_and(|g| self.groups[g].hidden) {
                out.never_signalled += 1;
                if hung.wants(age) {
                    hung.keep(age, self.stages(f, now));
                }
            }
        }
        out.unfenced_queues = c
            .queued
            .iter()
            .filter(|(_, (fenced, not))| *fenced > 0 && *not > 0)
            .map(|(q, (fenced, not))| (format!("{q:#x}"), *fenced, *not))
            .collect();
        out.unattached_fences = c.unattached;
        out.unattached_worst = c.unattached_worst.merged(&Default::default());
        out.foreign_fences = c.foreign;
        out.foreign_drivers = c.foreign_drivers.iter().map(|(k, v)| (k.clone(), *v)).collect();
        out.foreign_worst = c.foreign_worst.merged(&Default::default());
        out.handed_out_unarmed_worst = c.handed_unarmed_worst.merged(&unarmed);
        out.never_signalled_worst = c.destroyed_worst.merged(&hung);
        out
    }
}
