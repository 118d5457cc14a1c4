//! The engine's optional outputs, kept only when asked for: folded stacks
//! (flamegraphs), every fence's and wait's span (trace export) and the
//! first fences' stage timelines (`report --stages`). Apart from the pairing
//! so each file reads in one go.
use super::*;
use crate::contract::Stages;
use crate::fences::Fence;
use crate::trace::{FenceSpan, WaitSpan};

impl Engine {
    /// Also keeps folded stacks of waits and lifetimes (for flamegraphs).
    pub fn with_stacks(mut self) -> Self {
        self.extras.stacks = Some(Stacks::default());
        self.waits.keep_closed = true;
        self
    }

    /// Also keeps every fence's and wait's span (for trace viewers).
    pub fn with_trace(mut self) -> Self {
        self.extras.trace = Some(Trace::default());
        self.waits.keep_closed = true;
        self
    }

    /// The spans so far, fences still alive included (as unsignalled, to
    /// the last event), if [`Engine::with_trace`] asked for them.
    pub fn trace(&self) -> Option<Trace> {
        let mut t = self.extras.trace.clone()?;
        let mut alive: Vec<&Fence> = self.fences.values().filter(|f| f.alive()).collect();
        alive.sort_by_key(|f| f.serial);
        for f in alive {
            if let Some(span) = self.span(f, self.tally.last_ns) {
                t.fences.push(span);
            }
        }
        Some(t)
    }

    /// With a trace kept: `f`'s span, ended at `end_ns` (its signal, or
    /// when it was last seen unsignalled).
    pub(super) fn trace_fence(&mut self, f: &Fence, end_ns: u64) {
        if self.extras.trace.is_some()
            && let Some(span) = self.span(f, end_ns)
        {
            self.extras.trace.as_mut().expect("checked").fences.push(span);
        }
    }

    fn span(&self, f: &Fence, end_ns: u64) -> Option<FenceSpan> {
        if !f.counted || self.groups.hidden(f.group) {
            return None;
        }
        let (driver, timeline) = self.groups.names(f.group);
        Some(FenceSpan {
            serial: f.serial,
            driver: driver.to_owned(),
            timeline: timeline.to_owned(),
            context: f.context,
            seqno: f.seqno,
            init_ns: f.init_ns,
            signal_ns: f.lifetime_ns.map(|_| f.signal_ns),
            end_ns,
            tgid: f.creator_tgid,
            process: f.creator.to_string(),
        })
    }

    /// Also keeps the stage timelines of the first `n` fences to signal
    /// (`report --stages`).
    pub fn with_stage_log(mut self, n: usize) -> Self {
        self.contract.keep_stage_log(n);
        self
    }

    /// The stage timelines kept by [`Engine::with_stage_log`].
    pub fn stage_log(&self) -> &[Stages] {
        self.contract.stage_log()
    }

    /// The folded stacks, if [`Engine::with_stacks`] asked for them.
    pub fn stacks(&self) -> Option<&Stacks> {
        self.extras.stacks.as_ref()
    }

    /// Files the waits that just ended under the fence they waited on.
    pub(super) fn stack_closed_waits(&mut self) {
        if let Some(trace) = self.extras.trace.as_mut() {
            for c in &self.waits.closed {
                trace.waits.push(WaitSpan {
                    process: c.who.process.clone(),
                    thread: c.who.thread.clone(),
                    tgid: c.tgid,
                    tid: c.tid,
                    style: c.style.name().into(),
                    fence_serial: self.fences.get(c.fence).map(|f| f.serial),
                    ask_ns: c.ask_ns,
                    end_ns: c.end_ns,
                });
            }
        }
        let Some(stacks) = self.extras.stacks.as_mut() else {
            self.waits.closed.clear();
            return;
        };
        for c in self.waits.closed.drain(..) {
            let fence = self.fences.get(c.fence);
            let group = fence.and_then(|f| f.group);
            if self.groups.hidden(group) {
                continue;
            }
            let (driver, timeline) = self.groups.names(group);
            let path = [c.who.process.as_str(), &c.who.thread, c.style.name(), driver, timeline];
            stacks.wait(path, c.ask_ns, fence.and_then(|f| f.vb2_done_ns), c.end_ns);
        }
    }
}
