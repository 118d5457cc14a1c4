//! One fence's life through the engine: init, names, resv, signal, hand-out,
//! destroy or eviction; each step tells the parts that care.
//!
//! A fence is keyed by its address. Addresses are reused once a fence is
//! freed, so a new init at an address still followed closes the old entry
//! first.
use super::*;
use crate::event::{FenceName, Meta};
use crate::fences::{Fence, NameKey};
use crate::groups::{GroupId, UNNAMED};
use crate::names::pseudo_address;
use crate::stacks::Marks;

impl Engine {
    /// A fence of `context` numbered `seqno` at emit (the `dma_fence_emit`
    /// tracepoint): some drivers init their fences with seqno 0 and number
    /// them only then. Classic tracepoints only, where a fence is known by
    /// its (context, seqno), this re-keys the context's oldest fence not
    /// emitted yet, so its signal (which carries the emitted seqno) finds
    /// it; from then on that context's seqno-0 inits are queued until their
    /// emit instead of colliding on one key. With addresses it changes
    /// nothing: fences are keyed by address and names joined at init.
    pub fn fence_emitted(&mut self, context: u32, seqno: u32) {
        if !self.classic.on {
            return;
        }
        let old = self.classic.emitted(context, &self.fences);
        let Some(mut fence) = self.fences.remove(old) else { return };
        let new = pseudo_address(context, seqno);
        if self.fences.contains(new) {
            self.close(new, None);
        }
        fence.seqno = u64::from(seqno);
        fence.key = (context, seqno);
        self.fences.insert_moved(new, fence);
        self.waits.forget(old);
    }

    pub(super) fn init(&mut self, addr: u64, context: u64, seqno: u64, m: &Meta) {
        let ts = m.ts_ns;
        if self.fences.contains(addr) {
            // The address was freed and reused, and its destroy was not seen.
            self.close(addr, None);
        }
        let key = (context as u32, seqno as u32);
        let group = self.names.take_early(key);
        let (fences, groups) = (&self.fences, &self.groups);
        self.arrays.born(m.tid, addr, |member| {
            let g = fences.get(member)?.group?;
            let (driver, timeline) = groups.names(Some(g));
            Some((driver.to_owned(), timeline.to_owned()))
        });
        let counted = self.filter.task(m.tgid, &m.comm) && ts >= self.filter.since_ns;
        self.fences.insert_new(addr, |serial| Fence {
            serial,
            init_ns: ts,
            key,
            group: None,
            lifetime_ns: None,
            resv: None,
            vb2_done_ns: None,
            signal_ns: 0,
            counted,
            context,
            seqno,
            creator_tgid: m.tgid,
            creator: m.comm,
            armed_ns: None,
            handed: None,
            published: false,
        });
        match group {
            Some(g) => self.file(addr, g),
            None => self.names.await_names(key, addr),
        }
        self.evict_if_full();
        self.early_signals.expire(ts);
        if let Some(at) = self.early_signals.take(addr, ts) {
            self.signal(addr, at, None);
        }
    }

    pub(super) fn names(&mut self, key: NameKey, driver: FenceName, timeline: FenceName) {
        // Context 0 is never handed out by dma_fence_context_alloc: stubs.
        let g = self.groups.id(&driver.as_str(), &timeline.as_str(), key.0 == 0, false);
        if let Some(addr) = self.names.arrived(key, g, &self.fences) {
            self.file(addr, g);
        }
    }

    /// Files a followed fence under its group (or the group's hidden twin,
    /// if the filter leaves it out), with its lifetime if it has already
    /// signalled (a signal can beat the names when events reorder).
    fn file(&mut self, addr: u64, g: GroupId) {
        let Some(&f) = self.fences.get(addr) else {
            return;
        };
        let shown = self.groups.get(g);
        let g = if !shown.hidden && !(f.counted && self.filter.driver(&shown.driver)) {
            self.groups.hidden_twin(g)
        } else {
            g
        };
        if let Some(fence) = self.fences.get_mut(addr) {
            fence.group = Some(g);
        }
        self.groups.get_mut(g).file(&f);
    }

    /// The fence's group, filing it under "?" if its names never came.
    fn resolve(&mut self, addr: u64) -> Option<GroupId> {
        let fence = *self.fences.get(addr)?;
        if let Some(g) = fence.group {
            return Some(g);
        }
        self.names.unlink(addr, fence.key);
        let g = self.groups.id(UNNAMED, UNNAMED, false, false);
        self.tally.unnamed += 1;
        self.file(addr, g);
        Some(g)
    }

    pub(super) fn signal(&mut self, addr: u64, ts: u64, tid: Option<u32>) {
        // Inside vb2_buffer_done on this thread: the producer's done.
        let vb2 = tid.and_then(|t| self.vb2.signal_on(t, ts));
        let group = self.fences.get(addr).and_then(|f| f.group);
        self.waits.signalled(addr, ts, group);
        let Some(fence) = self.fences.get_mut(addr) else {
            self.early_signals.push(addr, ts);
            return;
        };
        if !fence.alive() {
            return;
        }
        fence.lifetime_ns = Some(ts.saturating_sub(fence.init_ns));
        fence.signal_ns = ts;
        fence.vb2_done_ns = vb2;
        let f = *fence;
        self.contract.signalled(seen!(self), &f, ts);
        self.trace_fence(&f, ts);
        let Some(g) = f.group else { return };
        self.groups.get_mut(g).signalled(&f);
        let g = self.groups.get(g);
        if let Some(stacks) = self.extras.stacks.as_mut().filter(|_| f.counted && !g.hidden) {
            let marks = Marks {
                init: f.init_ns,
                resv_attach: f.resv.map(|r| r.0),
                vb2_done: f.vb2_done_ns,
                signal: ts,
            };
            stacks.lifetime(&g.driver, &g.timeline, marks);
        }
    }

    pub(super) fn resv_add(&mut self, addr: u64, usage: u32, ts: u64) {
        let Some(fence) = self.fences.get_mut(addr) else {
            self.tally.unpaired += 1;
            return;
        };
        fence.published = true;
        if fence.resv.is_some() {
            return;
        }
        fence.resv = Some((ts, usage));
        if let Some(g) = fence.group {
            self.groups.get_mut(g).resv_attached(usage);
        }
    }

    /// Someone could wait on `addr` from now on.
    pub(super) fn publish(&mut self, addr: u64) {
        if let Some(f) = self.fences.get_mut(addr) {
            f.published = true;
        }
    }

    /// `fence` went to a waiter: userspace (an export's sync_file, a poll's
    /// wait) or the kernel on its behalf (a `dma_fence_wait`).
    pub(super) fn hand(&mut self, fence: u64, m: &Meta) {
        if let Some(f) = self.fences.get_mut(fence) {
            self.contract.hand(f, m);
        }
    }

    pub(super) fn is_array(&self, addr: u64) -> bool {
        let group = self.fences.get(addr).and_then(|f| f.group);
        self.groups.is_driver(group, "dma_fence_array")
    }

    /// `addr` was destroyed; `signalled` is what its flags said then.
    pub(super) fn destroy(&mut self, addr: u64, signalled: Option<bool>) {
        if self.fences.contains(addr) {
            self.close(addr, signalled);
        }
    }

    /// Stops following a fence, counting it if it never signalled.
    fn close(&mut self, addr: u64, signalled: Option<bool>) -> Option<Fence> {
        let g = self.resolve(addr)?;
        let fence = self.forget(addr)?;
        if fence.alive() {
            if signalled == Some(true) {
                // It did signal: the record of it was dropped.
                self.groups.get_mut(g).signal_unseen += 1;
            } else if fence.published {
                self.groups.get_mut(g).destroyed_unsignalled += 1;
                let now = self.tally.seen_until_ns;
                self.contract.destroyed(seen!(self), &fence, now);
            } else {
                // Nobody could have waited on it: no hang, whatever it was.
                self.groups.get_mut(g).dropped_unpublished += 1;
            }
            self.trace_fence(&fence, self.tally.last_ns);
        }
        Some(fence)
    }

    /// Takes the fence at `addr` out of every part that follows it.
    fn forget(&mut self, addr: u64) -> Option<Fence> {
        let fence = self.fences.remove(addr)?;
        self.waits.forget(addr);
        self.arrays.forget(addr);
        Some(fence)
    }

    fn evict_if_full(&mut self) {
        while self.fences.len() > self.limits.max_fences {
            let Some(addr) = self.fences.pop_oldest() else {
                break;
            };
            // Filed under its group before it goes, so it is still counted.
            self.resolve(addr);
            let fence = self.forget(addr).expect("fence is followed");
            if fence.alive() {
                self.tally.evicted += 1;
                // Its span so far stays in the trace, unsignalled.
                self.trace_fence(&fence, self.tally.last_ns);
            }
        }
        self.fences.compact_order();
    }
}
