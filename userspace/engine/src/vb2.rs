//! videobuf2 buffers through their queue: qbuf → buf_queue → done → dqbuf,
//! keyed by the buffer's address (vb2 buffers live as long as their queue's
//! allocation, so the address is a stable name while streaming).
use rustc_hash::{FxHashMap, FxHashSet};

use fencescope_schema::{VB2_BUF_DONE, VB2_BUF_QUEUE, VB2_DQBUF, VB2_QBUF};

use crate::hist::Latency;
use crate::summary::Vb2Summary;

/// Buffers tracked at once: a few dozen per queue in practice.
const MAX_BUFFERS: usize = 4096;

#[derive(Clone, Copy, Debug, Default)]
struct Buffer {
    qbuf_ns: Option<u64>,
    done_ns: Option<u64>,
}

#[derive(Debug, Default)]
pub struct Vb2Bufs {
    buffers: FxHashMap<u64, Buffer>,
    queues: FxHashSet<u64>,
    counts: [u64; 4],
    done_paired: u64,
    qbuf_to_done: Latency,
    done_to_dqbuf: Latency,
}

impl Vb2Bufs {
    pub fn stage(&mut self, queue: u64, vb: u64, stage: u32, ts: u64) {
        if let Some(c) = self.counts.get_mut(stage as usize) {
            *c += 1;
        }
        if self.queues.len() < MAX_BUFFERS {
            self.queues.insert(queue);
        }
        if !self.buffers.contains_key(&vb) && self.buffers.len() >= MAX_BUFFERS {
            return;
        }
        let b = self.buffers.entry(vb).or_default();
        match stage {
            VB2_QBUF => *b = Buffer { qbuf_ns: Some(ts), done_ns: None },
            VB2_BUF_QUEUE => {}
            VB2_BUF_DONE => {
                if let Some(q) = b.qbuf_ns.take() {
                    self.done_paired += 1;
                    self.qbuf_to_done.record(ts.saturating_sub(q));
                }
                b.done_ns = Some(ts);
            }
            VB2_DQBUF => {
                if let Some(d) = b.done_ns.take() {
                    self.done_to_dqbuf.record(ts.saturating_sub(d));
                }
            }
            _ => {}
        }
    }

    pub fn reset_interval(&mut self) {
        self.counts = [0; 4];
        self.done_paired = 0;
        self.qbuf_to_done = Latency::default();
        self.done_to_dqbuf = Latency::default();
    }

    /// Fills the tracepoint half of the vb2 summary.
    pub fn fill(&self, s: &mut Vb2Summary) {
        s.queues = self.queues.len() as u64;
        s.buffers = self.buffers.len() as u64;
        [s.qbufs, s.buf_queues, s.dones, s.dqbufs] = self.counts;
        s.done_paired = self.done_paired;
        s.qbuf_to_done = self.qbuf_to_done.summary();
        s.done_to_dqbuf = self.done_to_dqbuf.summary();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_cycle_and_dones_pair_with_their_qbuf() {
        let mut v = Vb2Bufs::default();
        let q = 0x10;
        // Four buffers queued, then each done 10 ms apart and re-queued.
        for b in 0..4u64 {
            v.stage(q, 0x100 + b, VB2_QBUF, 0);
            v.stage(q, 0x100 + b, VB2_BUF_QUEUE, 0);
        }
        let mut t = 0;
        for frame in 0..12u64 {
            t += 10_000_000;
            let vb = 0x100 + frame % 4;
            v.stage(q, vb, VB2_BUF_DONE, t);
            v.stage(q, vb, VB2_DQBUF, t + 1_000_000);
            v.stage(q, vb, VB2_QBUF, t + 2_000_000);
            v.stage(q, vb, VB2_BUF_QUEUE, t + 2_000_000);
        }
        let mut s = Vb2Summary::default();
        v.fill(&mut s);
        assert_eq!((s.queues, s.buffers, s.dones, s.done_paired), (1, 4, 12, 12));
        assert_eq!((s.qbufs, s.dqbufs), (16, 12));
        assert_eq!(s.done_to_dqbuf.count, 12);
        assert!(s.done_to_dqbuf.max_ns.abs_diff(1_000_000) < 1_000);
        // The first round waited 10..40 ms, later ones 38 ms (4 buffers).
        assert!(s.qbuf_to_done.max_ns.abs_diff(40_000_000) < 40_000);
    }

    #[test]
    fn a_done_without_its_qbuf_is_not_paired() {
        let mut v = Vb2Bufs::default();
        v.stage(1, 2, VB2_BUF_DONE, 5);
        let mut s = Vb2Summary::default();
        v.fill(&mut s);
        assert_eq!((s.dones, s.done_paired), (1, 0));
    }
}
