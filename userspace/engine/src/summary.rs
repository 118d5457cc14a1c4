//! What the engine reports: plain data, serialisable, shared by every output.
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use crate::hist::LatencySummary;
pub use crate::vb2::{Vb2QueueSummary, Vb2Summary, queue_type_name};

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Figures for one driver/timeline pair, as the kernel names them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct GroupSummary {
    /// The fences' driver name, as `dma_fence_ops.get_driver_name` gives it;
    /// "?" for fences whose names never arrived.
    pub driver: String,
    /// The fences' timeline name, as `dma_fence_ops.get_timeline_name` gives
    /// it; "?" for fences whose names never arrived.
    pub timeline: String,
    /// Context 0: the global stub or a private stub, already signalled when
    /// handed out. Counted apart from real fences.
    pub stub: bool,
    /// Fences initialised.
    pub fences: u64,
    /// Of those, signalled while watched.
    pub signalled: u64,
    /// Initialised and not signalled when the summary was taken.
    pub in_flight: u64,
    /// Age of the oldest of those, nanoseconds.
    pub oldest_in_flight_ns: u64,
    /// Destroyed without ever being signalled, after someone could wait on
    /// them (see `dropped_unpublished`).
    pub destroyed_unsignalled: u64,
    /// Destroyed unsignalled before anyone could wait on them: never added
    /// to a reservation object, handed out in a sync_file (alone or in an
    /// array), polled or waited on. A driver dropping a fence it made is
    /// no hang. Omitted at zero, so reports without it read the same.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub dropped_unpublished: u64,
    /// Destroyed signalled, its signal record never seen: lost to a full
    /// ring. No lifetime, and no hang. Omitted at zero.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub signal_unseen: u64,
    /// init → signalled.
    pub lifetime: LatencySummary,
    /// Fences added to a reservation object, by `enum dma_resv_usage`
    /// (KERNEL, WRITE, READ, BOOKKEEP).
    pub resv_usage: [u64; 4],
    /// First `dma_resv_add_fence` → signalled.
    pub attach_to_signal: LatencySummary,
    /// Signalled inside `vb2_buffer_done`: that call's entry → the signal.
    pub vb2_done_to_signal: LatencySummary,
}

/// Waits of one thread in one style.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct WaitSummary {
    /// The asking thread's process: its main thread's `comm`, or the thread's
    /// own until the main thread has been seen.
    pub process: String,
    /// The asking thread's `comm`.
    pub thread: String,
    /// dmabuf-poll, export, poll+export, sync-file-poll, kernel-wait.
    pub style: String,
    /// Waits on a fence that was not yet signalled, ended by its signal.
    pub waits: u64,
    /// Asks that found the fence signalled (or got the stub).
    pub zero_waits: u64,
    /// Waits whose fence had not signalled when the summary was taken.
    pub open: u64,
    /// ask → signal, of `waits`.
    pub latency: LatencySummary,
    /// What `waits` waited on: the fences' `driver/timeline`, with how many
    /// waits each, most first.
    #[serde(default)]
    pub on: Vec<(String, u64)>,
}

/// EXPORT_SYNC_FILE calls of one thread, by what they handed out.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ExportSummary {
    /// The calling thread's process: its main thread's `comm`, or the thread's
    /// own until the main thread has been seen.
    pub process: String,
    /// The calling thread's `comm`.
    pub thread: String,
    /// fence, array, stub, private-stub, unknown (seen at the syscall only), failed.
    pub handed: String,
    /// EXPORT_SYNC_FILE calls of this thread with this outcome, entry and
    /// return both seen.
    pub exports: u64,
    /// ioctl entry → return.
    pub round_trip: LatencySummary,
}

/// A fence initialised and not signalled yet: what a hang looks like.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct InFlightFence {
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
    /// Since its init, to the time asked about.
    pub age_ns: u64,
    /// The task that initialised it.
    pub tgid: u32,
    /// `comm` of the task that initialised it: the thread's own name, not its
    /// process's.
    pub process: String,
}

/// How waits and export round trips are named in [`crate::Distributions`]:
/// "thread what", or "process/thread what" when the thread has its own name.
pub fn who_key(process: &str, thread: &str, what: &str) -> String {
    if process == thread {
        format!("{thread} {what}")
    } else {
        format!("{process}/{thread} {what}")
    }
}

impl WaitSummary {
    /// This row's key in [`crate::Distributions::waits`].
    pub fn key(&self) -> String {
        who_key(&self.process, &self.thread, &self.style)
    }
}

impl GroupSummary {
    /// This row's key in [`crate::Distributions::lifetimes`].
    pub fn key(&self) -> String {
        format!("{}/{}", self.driver, self.timeline)
    }
}

/// Fence arrays made while watched (exports of busy buffers make them).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ArraySummary {
    /// Arrays born: a `dma_fence_array_create`, then the next fence init on
    /// the same thread.
    pub arrays: u64,
    /// Fences they hold, in all.
    pub members: u64,
    /// Members beyond the 16 per array the kernel side lists.
    pub unlisted: u64,
    /// Listed members by (driver, timeline): whose work the arrays wait on.
    pub member_groups: Vec<(String, String, u64)>,
}

/// Everything the engine knows, at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Summary {
    /// Events fed to the engine.
    pub events: u64,
    /// First to last event timestamp, nanoseconds.
    pub span_ns: u64,
    /// Real fences first, then stubs; each sorted by driver, timeline.
    pub groups: Vec<GroupSummary>,
    /// Signals of fences whose init was not seen (born before the session).
    pub signals_without_init: u64,
    /// Inits whose driver/timeline names never arrived (filed as "?").
    pub unnamed: u64,
    /// Records the kernel side could not emit (ring buffer full).
    pub dropped: u64,
    /// The same, by record kind (only kinds that lost any).
    #[serde(default)]
    pub dropped_by_kind: Vec<(String, u64)>,
    /// In-flight fences forgotten because the tracking table was full.
    pub evicted: u64,
    /// Waits and zero-waits by thread and style, sorted by process and thread.
    pub waits: Vec<WaitSummary>,
    /// EXPORT_SYNC_FILE calls by thread and what they handed out, sorted by
    /// process, thread and `handed`.
    pub exports: Vec<ExportSummary>,
    /// videobuf2: `vb2_buffer_done` calls, and buffers through their queues.
    pub vb2: Vb2Summary,
    /// Fence arrays made while watched, and whose fences they hold.
    pub arrays: ArraySummary,
    /// Records of a kind this engine does not pair yet, or that came out of
    /// order (an export return with no entry, …).
    pub unpaired: u64,
    /// The arming contract: armed, handed out unarmed, never signalled.
    #[serde(default)]
    pub contract: crate::contract::types::ContractSummary,
    /// The headline totals of everything above, summed once (see [`Totals`]).
    #[serde(default)]
    pub totals: Totals,
    /// The sections whose figures are partial because records they are made
    /// of were dropped (see [`partial_sections`]); empty when nothing was.
    #[serde(default)]
    pub partial: Vec<String>,
}

/// The headline figures, summed once here so no output adds them up its
/// own way: the text report's totals, for scripts reading JSON.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Totals {
    /// Real (non-stub) fences initialised.
    pub fences: u64,
    /// Of those, signalled.
    pub signalled: u64,
    /// Of those, unsignalled when the figures were taken.
    pub in_flight: u64,
    /// Exports that handed out a stub, every thread's.
    pub stub_exports: u64,
    /// Asks that found their fence signalled, every thread and style.
    pub zero_waits: u64,
    /// Waits on an unsignalled fence, every thread and style.
    pub waits: u64,
    /// The contract's: alive past the threshold, or destroyed unsignalled
    /// after someone could wait on them.
    pub never_signalled: u64,
    /// Destroyed unsignalled before anyone could wait on them, every group.
    pub dropped_unpublished: u64,
    /// Destroyed unsignalled after someone could wait on them, every group.
    pub destroyed_unsignalled: u64,
    /// Destroyed signalled with their signal record lost, every group.
    #[serde(default)]
    pub signal_unseen: u64,
    /// Records the kernel side could not emit.
    pub dropped_records: u64,
    /// Fences forgotten because the tracking table was full.
    pub evicted: u64,
    /// Fences whose names never arrived.
    pub unnamed: u64,
    /// Signals of fences whose init was not seen.
    pub signals_without_init: u64,
}

impl Summary {
    /// The headline totals, as the text report sums them.
    pub fn totals(&self) -> Totals {
        let real = || self.groups.iter().filter(|g| !g.stub);
        Totals {
            fences: self.real_fences(),
            signalled: real().map(|g| g.signalled).sum(),
            in_flight: real().map(|g| g.in_flight).sum(),
            stub_exports: self.stub_exports(),
            zero_waits: self.waits.iter().map(|w| w.zero_waits).sum(),
            waits: self.waits.iter().map(|w| w.waits).sum(),
            never_signalled: self.contract.never_signalled,
            dropped_unpublished: self.groups.iter().map(|g| g.dropped_unpublished).sum(),
            destroyed_unsignalled: self.groups.iter().map(|g| g.destroyed_unsignalled).sum(),
            signal_unseen: self.groups.iter().map(|g| g.signal_unseen).sum(),
            dropped_records: self.dropped,
            evicted: self.evicted,
            unnamed: self.unnamed,
            signals_without_init: self.signals_without_init,
        }
    }

    /// Real (non-stub) fences across all groups.
    pub fn real_fences(&self) -> u64 {
        self.groups.iter().filter(|g| !g.stub).map(|g| g.fences).sum()
    }

    /// Stub fences across all groups.
    pub fn stub_fences(&self) -> u64 {
        self.groups.iter().filter(|g| g.stub).map(|g| g.fences).sum()
    }

    /// Exports that handed out a stub (global or private).
    pub fn stub_exports(&self) -> u64 {
        self.exports.iter().filter(|e| e.handed.contains("stub")).map(|e| e.exports).sum()
    }

    /// The wait row of the first thread named `thread` (in any process) that
    /// waited in `style` (a [`WaitSummary::style`] name).
    pub fn waits_of(&self, thread: &str, style: &str) -> Option<&WaitSummary> {
        self.waits.iter().find(|w| w.thread == thread && w.style == style)
    }

    /// The real fences' group of these names if there is one, else the stubs'.
    pub fn group(&self, driver: &str, timeline: &str) -> Option<&GroupSummary> {
        self.groups.iter().find(|g| g.driver == driver && g.timeline == timeline)
    }
}

/// The sections of a [`Summary`] a dropped record of `kind` leaves partial,
/// by the field names of the JSON report: `groups` (fence counts and
/// lifetimes: a lost init is a fence missed, a lost signal or destroy a
/// fence that looks alive, or never signalled), `waits` and `exports`,
/// `vb2`, `arrays`, `contract`.
pub fn partial_sections(kind: fencescope_schema::Kind) -> &'static [&'static str] {
    use fencescope_schema::Kind::*;
    match kind {
        FenceInit | FenceNames | FenceSignaled | FenceDestroy => &["groups", "contract"],
        ResvAdd | Arm => &["contract"],
        Export | SyncFile | DmaBufPoll | AddCallback | FenceWait => &["waits", "exports"],
        Vb2Done | Vb2Buf | Vb2Queue => &["vb2"],
        ArrayCreate => &["arrays"],
        Drops => &[],
    }
}
