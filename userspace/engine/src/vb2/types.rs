//! What the videobuf2 figures report: the sum of every queue, and each
//! queue apart under who it is.
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::hist::LatencySummary;

/// videobuf2: `vb2_buffer_done` calls (kprobe) and whether a fence
/// signalled inside them; buffers through their queues (tracepoints). The
/// top level sums every queue; [`Vb2Summary::by_queue`] has each apart.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Vb2Summary {
    /// `vb2_buffer_done` calls entered (kprobe).
    pub buffers_done: u64,
    /// Of those, how many signalled at least one fence inside the call.
    pub with_fence: u64,
    /// Distinct queues (`struct vb2_queue *`) seen at the tracepoints. Like
    /// `buffers`, counted since the session began, not per interval.
    pub queues: u64,
    /// Distinct buffers (`struct vb2_buffer *`) seen at the tracepoints, at
    /// most 4096.
    pub buffers: u64,
    /// `vb2_qbuf` tracepoint hits: userspace queued a buffer (QBUF).
    pub qbufs: u64,
    /// `vb2_buf_queue` tracepoint hits: vb2 handed a buffer to the driver,
    /// where the series creates its fence.
    pub buf_queues: u64,
    /// `vb2_buf_done` tracepoint hits: the driver is done with a buffer.
    pub dones: u64,
    /// `vb2_dqbuf` tracepoint hits: userspace dequeued a buffer (DQBUF).
    pub dqbufs: u64,
    /// Dones whose buffer's qbuf was seen: the pairing is by buffer.
    pub done_paired: u64,
    /// A buffer's qbuf → its buf_done, of the paired dones (`done_paired`).
    pub qbuf_to_done: LatencySummary,
    /// A buffer's buf_done → its next dqbuf.
    pub done_to_dqbuf: LatencySummary,
    /// `vb2_buffer_done` entry → each fence signalled inside the call.
    #[serde(default)]
    pub done_to_signal: LatencySummary,
    /// The same figures for each queue apart, under who it is: sorted by
    /// driver, device, node, queue type, process. Queues of one name (a
    /// client that reopens its node) are summed in one row.
    #[serde(default)]
    pub by_queue: Vec<Vb2QueueSummary>,
}

/// One videobuf2 queue's figures, and who it is: what a user with a decoder
/// (OUTPUT and CAPTURE queues) and a 2D engine on one board tells apart.
/// A name the kernel side could not read (or a capture made before
/// fencescope read them) is empty.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Vb2QueueSummary {
    /// The driver bound to the queue's device, e.g. `vim2m`, `hantro-vpu`.
    pub driver: String,
    /// The queue's device, e.g. `vim2m.0`, `fdea0000.video-codec`.
    pub device: String,
    /// The video node of the file handle that owns the queue, e.g. `video0`.
    pub node: String,
    /// `enum v4l2_buf_type` of the queue.
    pub queue_type: u32,
    /// The queue type as V4L2 names it, lower case: `capture`, `output`,
    /// `capture-mplane`, `output-mplane`, … (`type N` for another).
    pub queue: String,
    /// The process that queued on it (its latest QBUF's).
    pub process: String,
    /// That process's pid.
    pub pid: u32,
    /// Queues (`struct vb2_queue *`) under this name.
    pub queues: u64,
    /// Buffers seen on them.
    pub buffers: u64,
    /// Their figures, as in [`Vb2Summary`] (whose `by_queue` is empty here).
    pub figures: Vb2Summary,
}

impl Vb2QueueSummary {
    pub(crate) fn new(who: &super::Who, queues: u64, buffers: u64, figures: Vb2Summary) -> Self {
        Vb2QueueSummary {
            driver: who.driver.clone(),
            device: who.device.clone(),
            node: who.node.clone(),
            queue_type: who.queue_type,
            queue: queue_type_name(who.queue_type),
            process: who.process.clone(),
            pid: who.pid,
            queues,
            buffers,
            figures,
        }
    }

    pub(crate) fn sort_key(&self) -> (&str, &str, &str, u32, &str, u32) {
        (&self.driver, &self.device, &self.node, self.queue_type, &self.process, self.pid)
    }

    /// `driver device node queue`, what a row is called in every output;
    /// `?` for what is unknown.
    pub fn label(&self) -> String {
        let or_q = |s: &str| if s.is_empty() { "?".to_string() } else { s.to_string() };
        format!("{} {} {} {}", or_q(&self.driver), or_q(&self.device), or_q(&self.node), self.queue)
    }
}

/// V4L2's name of an `enum v4l2_buf_type` value.
pub fn queue_type_name(t: u32) -> String {
    let name = match t {
        0 => "?",
        1 => "capture",
        2 => "output",
        3 => "overlay",
        4 => "vbi-capture",
        5 => "vbi-output",
        6 => "sliced-vbi-capture",
        7 => "sliced-vbi-output",
        8 => "output-overlay",
        9 => "capture-mplane",
        10 => "output-mplane",
        11 => "sdr-capture",
        12 => "sdr-output",
        13 => "meta-capture",
        14 => "meta-output",
        _ => return format!("type {t}"),
    };
    name.to_string()
}
