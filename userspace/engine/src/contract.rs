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
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::hist::{Latency, LatencySummary};

/// How many worst examples each check keeps.
pub const EXAMPLES: usize = 5;

/// The stages of one fence, nanoseconds after its creation (None: not
/// reached), and who it concerns.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Stages {
    pub driver: String,
    pub timeline: String,
    pub context: u64,
    pub seqno: u64,
    /// The task that created it (queued the buffer).
    pub created_by: String,
    pub attached_ns: Option<u64>,
    pub armed_ns: Option<u64>,
    pub handed_ns: Option<u64>,
    /// Who it was first handed to ("process/thread").
    pub handed_to: Option<String>,
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
    pub unarmed_window: LatencySummary,
    /// Fences handed to userspace, and of those, before they were armed.
    pub handed_out: u64,
    pub handed_out_unarmed: u64,
    /// Worst first: longest time from hand-out to arming (or to now).
    pub handed_out_unarmed_worst: Vec<Stages>,
    /// Alive past the threshold when the figures were taken, or destroyed
    /// without a signal.
    pub never_signalled: u64,
    pub never_signalled_threshold_ns: u64,
    pub never_signalled_worst: Vec<Stages>,
    /// Fences of another driver on a buffer the series' fences guard (a
    /// GPU writing a V4L2 buffer): whose they are, and the longest-lived.
    #[serde(default)]
    pub foreign_fences: u64,
    #[serde(default)]
    pub foreign_drivers: Vec<(String, u64)>,
    #[serde(default)]
    pub foreign_worst: Vec<Stages>,
    /// The series' fences that guarded no buffer: never added to a
    /// reservation object, so a consumer of the buffer gets the stub.
    #[serde(default)]
    pub unattached_fences: u64,
    #[serde(default)]
    pub unattached_worst: Vec<Stages>,
    /// Queues where some buffers got a fence at buf_queue and others did
    /// not: (queue, buffers fenced, buffers not).
    #[serde(default)]
    pub unfenced_queues: Vec<(String, u64, u64)>,
}

/// Keeps the `EXAMPLES` stages with the largest key.
#[derive(Clone, Debug, Default)]
pub struct Worst(Vec<(u64, Stages)>);

impl Worst {
    /// Whether an example of `key` would be kept: build its stages only then.
    pub fn wants(&self, key: u64) -> bool {
        self.0.len() < EXAMPLES || self.0.last().is_some_and(|(k, _)| *k < key)
    }

    pub fn keep(&mut self, key: u64, stages: Stages) {
        if !self.wants(key) {
            return;
        }
        self.0.push((key, stages));
        self.0.sort_by_key(|e| std::cmp::Reverse(e.0));
        self.0.truncate(EXAMPLES);
    }

    pub fn merged(&self, other: &Worst) -> Vec<Stages> {
        let mut all = self.0.clone();
        all.extend(other.0.iter().cloned());
        all.sort_by_key(|e| std::cmp::Reverse(e.0));
        all.into_iter().take(EXAMPLES).map(|(_, s)| s).collect()
    }
}

/// Reservation objects by what has guarded them, bounded: the oldest are
/// forgotten first.
#[derive(Clone, Debug, Default)]
pub struct Resvs {
    pub by_resv: rustc_hash::FxHashMap<u64, ResvState>,
    pub order: std::collections::VecDeque<u64>,
}

/// Reservation objects remembered at once.
pub const MAX_RESVS: usize = 4096;

#[derive(Clone, Debug, Default)]
pub struct ResvState {
    /// A fence of the series' driver guarded it: a V4L2 buffer.
    pub vb2: bool,
    /// Fences of other drivers on it, by address, not yet counted (they
    /// came before the first videobuf2 fence); a few at most.
    pub others: Vec<u64>,
}

/// What the engine accumulates as fences finish.
#[derive(Clone, Debug, Default)]
pub struct Contract {
    pub arms: u64,
    pub arms_unmatched: u64,
    pub armed: u64,
    pub unarmed_window: Latency,
    pub handed_out: u64,
    pub handed_out_unarmed: u64,
    pub handed_unarmed_worst: Worst,
    pub destroyed_unsignalled: u64,
    pub destroyed_worst: Worst,
    pub foreign: u64,
    pub foreign_drivers: std::collections::BTreeMap<String, u64>,
    pub foreign_worst: Worst,
    pub unattached: u64,
    pub unattached_worst: Worst,
    /// Buffers queued to the driver (buf_queue) by a thread still inside
    /// the call that may attach their fence: by thread, the queue.
    pub queueing: rustc_hash::FxHashMap<u32, u64>,
    /// By queue: buffers that got a series fence at buf_queue, and not.
    pub queued: std::collections::BTreeMap<u64, (u64, u64)>,
}

impl Contract {
    pub fn reset_interval(&mut self) {
        *self = Contract::default();
    }
}
