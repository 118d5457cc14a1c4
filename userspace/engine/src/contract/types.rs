//! What the contract checks report: each fence's stages, the summary, and
//! the worst examples kept for it.
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::hist::LatencySummary;

/// How many worst examples each check keeps.
pub const EXAMPLES: usize = 5;

/// The stages of one fence, nanoseconds after its creation (None: not
/// reached), and who it concerns.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Stages {
    /// The fence's driver name, as `dma_fence_ops.get_driver_name` gives it;
    /// "?" while its names have not arrived.
    pub driver: String,
    /// The fence's timeline name, as `dma_fence_ops.get_timeline_name` gives
    /// it; "?" while its names have not arrived.
    pub timeline: String,
    /// `fence->context`: its timeline's context id.
    pub context: u64,
    /// `fence->seqno`: its place on the timeline.
    pub seqno: u64,
    /// The task that created it (queued the buffer).
    pub created_by: String,
    /// First `dma_resv_add_fence` (it guards a buffer from then on),
    /// nanoseconds after the init; None: never attached.
    pub attached_ns: Option<u64>,
    /// The arm hook committed the job that signals it, nanoseconds after the
    /// init; None: never armed.
    pub armed_ns: Option<u64>,
    /// First handed to userspace unsignalled (an export's sync_file, or a
    /// poll's wait callback), nanoseconds after the init; None: never.
    pub handed_ns: Option<u64>,
    /// Who it was first handed to ("process/thread").
    pub handed_to: Option<String>,
    /// Its signal, nanoseconds after the init (its lifetime); None: not
    /// signalled when last seen.
    pub signalled_ns: Option<u64>,
    /// Alive (unsignalled) this long when last seen.
    pub age_ns: u64,
}

/// The contract checks' figures.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ContractSummary {
    /// Calls of the arm hook seen; none means it was not attached (or the
    /// driver never ran a job) and the armed checks say nothing.
    pub arms: u64,
    /// Arm calls that matched no unarmed fence.
    pub arms_unmatched: u64,
    /// Fences armed, and how long each was unarmed (created → armed).
    pub armed: u64,
    /// Init → the arm hook's call, of every fence armed.
    pub unarmed_window: LatencySummary,
    /// Fences handed out to a waiter: to userspace (an export, a poll) or to
    /// a wait in the kernel (a KMS commit's, say).
    pub handed_out: u64,
    /// Of `handed_out`, the fences held to the contract (their timeline's
    /// fences get armed, or they are the series' own) handed out before they
    /// were armed: they can wait on userspace.
    pub handed_out_unarmed: u64,
    /// Worst first: longest time from hand-out to arming (or to now).
    pub handed_out_unarmed_worst: Vec<Stages>,
    /// Alive past the threshold when the figures were taken, or destroyed
    /// without a signal.
    pub never_signalled: u64,
    /// The threshold: unsignalled this long counts as never signalled
    /// (`Limits::never_signalled_ns`), nanoseconds.
    pub never_signalled_threshold_ns: u64,
    /// Worst first: the longest-lived of them, destroyed ones by their age at
    /// destroy, live ones by their age now.
    pub never_signalled_worst: Vec<Stages>,
    /// Fences of another driver on a buffer the series' fences guard (a
    /// GPU writing a V4L2 buffer): whose they are, and the first seen.
    #[serde(default)]
    pub foreign_fences: u64,
    /// The foreign fences by "driver/timeline", sorted by name.
    #[serde(default)]
    pub foreign_drivers: Vec<(String, u64)>,
    /// The first foreign fences seen, at most five (not the longest-lived:
    /// their lives are not over when they are counted).
    #[serde(default)]
    pub foreign_worst: Vec<Stages>,
    /// The series' fences that guarded no buffer: never added to a
    /// reservation object, so a consumer of the buffer gets the stub.
    #[serde(default)]
    pub unattached_fences: u64,
    /// The longest-lived of them, at most five.
    #[serde(default)]
    pub unattached_worst: Vec<Stages>,
    /// Queues where some buffers got a fence at buf_queue and others did
    /// not: (queue, buffers fenced, buffers not). The queue as its vb2 row
    /// is called (`driver device node queue`), its address if no QBUF named it.
    #[serde(default)]
    pub unfenced_queues: Vec<(String, u64, u64)>,
}

/// Keeps the `EXAMPLES` stages with the largest key.
#[derive(Clone, Debug, Default)]
pub(crate) struct Worst(Vec<(u64, Stages)>);

impl Worst {
    /// Whether an example of `key` would be kept: build its stages only then.
    pub fn wants(&self, key: u64) -> bool {
        self.0.len() < EXAMPLES || self.0.last().is_some_and(|(k, _)| *k < key)
    }

    /// Keeps `stages` if its key is among the largest.
    pub fn keep(&mut self, key: u64, stages: Stages) {
        if !self.wants(key) {
            return;
        }
        self.0.push((key, stages));
        self.0.sort_by_key(|e| std::cmp::Reverse(e.0));
        self.0.truncate(EXAMPLES);
    }

    /// The examples of both lists, largest key first.
    pub fn merged(&self, other: &Worst) -> Vec<Stages> {
        let mut all = self.0.clone();
        all.extend(other.0.iter().cloned());
        all.sort_by_key(|e| std::cmp::Reverse(e.0));
        all.into_iter().take(EXAMPLES).map(|(_, s)| s).collect()
    }
}
