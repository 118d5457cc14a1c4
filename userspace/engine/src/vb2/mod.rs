//! videobuf2 buffers through their queues: qbuf → buf_queue → done → dqbuf,
//! keyed by the buffer's address (vb2 buffers live as long as their queue's
//! allocation, so the address is a stable name while streaming), and each
//! queue's figures apart under who it is: driver, device, video node, queue
//! type and the process that queues on it.
use rustc_hash::FxHashMap;

use fencescope_schema::{VB2_BUF_DONE, VB2_DQBUF, VB2_QBUF};

use crate::event::Phase;
use crate::hist::Latency;

mod types;
pub use types::{Vb2QueueSummary, Vb2Summary, queue_type_name};

/// Buffers tracked at once: a few dozen per queue in practice.
const MAX_BUFFERS: usize = 4096;
/// Queues kept apart; beyond, their figures go to the unnamed row.
const MAX_QUEUES: usize = 256;

#[derive(Clone, Copy, Debug, Default)]
struct Buffer {
    queue: u64,
    qbuf_ns: Option<u64>,
    done_ns: Option<u64>,
}

/// Who a queue is, as its latest QBUF said: the key its figures are shown
/// under. Empty names where the kernel side could not read them (or the
/// capture predates them).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Who {
    pub driver: String,
    pub device: String,
    pub node: String,
    pub queue_type: u32,
    pub process: String,
    pub pid: u32,
}

/// One queue's figures (or several queues' under one name).
#[derive(Clone, Debug, Default)]
struct Figures {
    counts: [u64; 4],
    done_paired: u64,
    qbuf_to_done: Latency,
    done_to_dqbuf: Latency,
    buffers_done: u64,
    with_fence: u64,
    done_to_signal: Latency,
}

impl Figures {
    fn merge(&mut self, o: &Figures) {
        for (a, b) in self.counts.iter_mut().zip(o.counts) {
            *a += b;
        }
        self.done_paired += o.done_paired;
        self.qbuf_to_done.merge(&o.qbuf_to_done);
        self.done_to_dqbuf.merge(&o.done_to_dqbuf);
        self.buffers_done += o.buffers_done;
        self.with_fence += o.with_fence;
        self.done_to_signal.merge(&o.done_to_signal);
    }

    fn fill(&self, s: &mut Vb2Summary) {
        [s.qbufs, s.buf_queues, s.dones, s.dqbufs] = self.counts;
        s.done_paired = self.done_paired;
        s.qbuf_to_done = self.qbuf_to_done.summary();
        s.done_to_dqbuf = self.done_to_dqbuf.summary();
        s.buffers_done = self.buffers_done;
        s.with_fence = self.with_fence;
        s.done_to_signal = self.done_to_signal.summary();
    }
}

#[derive(Clone, Debug, Default)]
struct Queue {
    who: Who,
    figures: Figures,
}

/// A thread inside `vb2_buffer_done`.
#[derive(Clone, Copy, Debug)]
struct DoneCall {
    entry_ns: u64,
    vb: u64,
    with_fence: bool,
}

/// videobuf2 as a whole: its queues and buffers, and the `vb2_buffer_done`
/// calls fences signal in (a fence signalled there is the producer's done).
#[derive(Debug, Default)]
pub(crate) struct Vb2 {
    calls: FxHashMap<u32, DoneCall>,
    buffers: FxHashMap<u64, Buffer>,
    queues: FxHashMap<u64, Queue>,
    /// Figures of buffers whose queue is unknown or not kept apart.
    unnamed: Figures,
}

impl Vb2 {
    /// What a queue is called in every output (`driver device node queue`,
    /// as its row in the vb2 figures), once a QBUF has named it.
    pub fn queue_label(&self, queue: u64) -> Option<String> {
        let who = &self.queues.get(&queue)?.who;
        let named = !who.driver.is_empty();
        named.then(|| types::Vb2QueueSummary::new(who, 1, 0, Default::default()).label())
    }

    /// A QBUF said who `queue` is.
    pub fn named(&mut self, queue: u64, who: Who) {
        if let Some(q) = self.queue_mut(queue) {
            q.who = who;
        }
    }

    /// `vb2_buffer_done(vb)` entered or returned on `tid`; false for a
    /// return whose entry was not seen.
    pub fn done(&mut self, tid: u32, ts: u64, phase: Phase, vb: u64) -> bool {
        match phase {
            Phase::Entry => {
                self.figures_of(vb).buffers_done += 1;
                self.calls.insert(tid, DoneCall { entry_ns: ts, vb, with_fence: false });
            }
            Phase::Return => match self.calls.remove(&tid) {
                Some(c) if c.with_fence => self.figures_of(c.vb).with_fence += 1,
                Some(_) => {}
                None => return false,
            },
        }
        true
    }

    /// A fence signalled on `tid` at `ts`: the entry of the
    /// `vb2_buffer_done` call it signalled in, if it did.
    pub fn signal_on(&mut self, tid: u32, ts: u64) -> Option<u64> {
        let c = self.calls.get_mut(&tid)?;
        c.with_fence = true;
        let c = *c;
        self.figures_of(c.vb).done_to_signal.record(ts.saturating_sub(c.entry_ns));
        Some(c.entry_ns)
    }

    /// A buffer's stage (`VB2_*`) on its queue.
    pub fn stage(&mut self, queue: u64, vb: u64, stage: u32, ts: u64) {
        if !self.buffers.contains_key(&vb) && self.buffers.len() >= MAX_BUFFERS {
            if let Some(c) = self.figures(queue).counts.get_mut(stage as usize) {
                *c += 1;
            }
            return;
        }
        let b = self.buffers.entry(vb).or_default();
        b.queue = queue;
        let b = *b;
        let mut next = b;
        let mut qbuf_to_done = None;
        let mut done_to_dqbuf = None;
        match stage {
            VB2_QBUF => next = Buffer { queue, qbuf_ns: Some(ts), done_ns: None },
            VB2_BUF_DONE => {
                qbuf_to_done = b.qbuf_ns.map(|q| ts.saturating_sub(q));
                next.qbuf_ns = None;
                next.done_ns = Some(ts);
            }
            VB2_DQBUF => {
                done_to_dqbuf = b.done_ns.map(|d| ts.saturating_sub(d));
                next.done_ns = None;
            }
            _ => {}
        }
        self.buffers.insert(vb, next);
        let f = self.figures(queue);
        if let Some(c) = f.counts.get_mut(stage as usize) {
            *c += 1;
        }
        if let Some(ns) = qbuf_to_done {
            f.done_paired += 1;
            f.qbuf_to_done.record(ns);
        }
        if let Some(ns) = done_to_dqbuf {
            f.done_to_dqbuf.record(ns);
        }
    }

    fn queue_mut(&mut self, queue: u64) -> Option<&mut Queue> {
        if !self.queues.contains_key(&queue) && self.queues.len() >= MAX_QUEUES {
            return None;
        }
        Some(self.queues.entry(queue).or_default())
    }

    fn figures(&mut self, queue: u64) -> &mut Figures {
        match self.queues.contains_key(&queue) || self.queues.len() < MAX_QUEUES {
            true => &mut self.queues.entry(queue).or_default().figures,
            false => &mut self.unnamed,
        }
    }

    /// The figures of the queue `vb` was last seen on.
    fn figures_of(&mut self, vb: u64) -> &mut Figures {
        match self.buffers.get(&vb).map(|b| b.queue) {
            Some(q) => self.figures(q),
            None => &mut self.unnamed,
        }
    }

    /// Every queue's figures under who it is (queues of one name merged),
    /// and their sum.
    pub fn summary(&self) -> Vb2Summary {
        let mut rows: FxHashMap<&Who, (Figures, u64, u64)> = FxHashMap::default();
        let mut total = self.unnamed.clone();
        for q in self.queues.values() {
            total.merge(&q.figures);
            let row = rows.entry(&q.who).or_default();
            row.0.merge(&q.figures);
            row.1 += 1;
        }
        let unnamed = Who::default();
        if self.unnamed.counts.iter().any(|&c| c > 0) || self.unnamed.buffers_done > 0 {
            rows.entry(&unnamed).or_default().0.merge(&self.unnamed);
        }
        for b in self.buffers.values() {
            if let Some(q) = self.queues.get(&b.queue) {
                rows.entry(&q.who).or_default().2 += 1;
            }
        }
        let mut by_queue: Vec<Vb2QueueSummary> = rows
            .into_iter()
            .map(|(who, (f, queues, buffers))| {
                let mut s = Vb2Summary::default();
                f.fill(&mut s);
                Vb2QueueSummary::new(who, queues, buffers, s)
            })
            .collect();
        by_queue.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        let mut s = Vb2Summary::default();
        total.fill(&mut s);
        s.queues = self.queues.len() as u64;
        s.buffers = self.buffers.len() as u64;
        s.by_queue = by_queue;
        s
    }

    /// Counts restart; names, buffers and calls in progress carry over.
    pub fn reset_interval(&mut self) {
        for q in self.queues.values_mut() {
            q.figures = Figures::default();
        }
        self.unnamed = Figures::default();
    }
}

/// Whether `name` is what the kernel calls a V4L2 device node (`video0`,
/// `v4l-subdev3`, …): the node is read through a chain of pointers whose
/// offsets may come from a table, and a wrong one reads some other string,
/// which is then shown as unknown rather than as a node.
pub(crate) fn looks_like_a_node(name: &str) -> bool {
    ["video", "vbi", "radio", "swradio", "v4l-touch", "v4l-subdev"].iter().any(|p| {
        name.strip_prefix(p).is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    })
}

#[cfg(test)]
mod tests;
