//! Every fence's span and every wait's, for trace viewers (Perfetto).
//! Kept only when asked for ([`crate::Engine::with_trace`]): it grows with
//! the capture, where the summary does not.
use serde::{Deserialize, Serialize};

/// One fence's life. `serial` tells apart fences that reused an address.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FenceSpan {
    /// The engine's number for this fence, in init order from 0; a
    /// [`WaitSpan::fence_serial`] names the fence by it.
    pub serial: u64,
    /// The fence's driver name, as `dma_fence_ops.get_driver_name` gives it;
    /// "?" for a fence whose names never arrived.
    pub driver: String,
    /// The fence's timeline name, as `dma_fence_ops.get_timeline_name` gives
    /// it; "?" for a fence whose names never arrived.
    pub timeline: String,
    /// `fence->context`: its timeline's context id.
    pub context: u64,
    /// `fence->seqno`: its place on the timeline.
    pub seqno: u64,
    /// `dma_fence_init`, nanoseconds on the kernel's monotonic clock.
    pub init_ns: u64,
    /// None: destroyed, evicted or still alive unsignalled.
    pub signal_ns: Option<u64>,
    /// When it was last seen unsignalled (destroy, or the end of the capture).
    pub end_ns: u64,
    /// Thread group id of the task that initialised it.
    pub tgid: u32,
    /// `comm` of the task that initialised it: the thread's own name, not its
    /// process's.
    pub process: String,
}

/// One wait: who asked, how, from ask to the signal (or wait end).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitSpan {
    /// The asking thread's process: its main thread's `comm`, or the thread's
    /// own until the main thread has been seen.
    pub process: String,
    /// The asking thread's `comm`.
    pub thread: String,
    /// Thread group id of the asking thread.
    pub tgid: u32,
    /// Thread id of the asking thread.
    pub tid: u32,
    /// How it asked: dmabuf-poll, export, poll+export, sync-file-poll,
    /// kernel-wait.
    pub style: String,
    /// The fence waited on, when it was tracked.
    pub fence_serial: Option<u64>,
    /// The first ask: poll or export entry, the callback hooked, or the
    /// in-kernel wait's start; nanoseconds, monotonic clock.
    pub ask_ns: u64,
    /// The fence's signal (for a kernel-wait, the wait's end); nanoseconds,
    /// monotonic clock.
    pub end_ns: u64,
}

/// Every fence's span and every wait's, in the order they ended (fences
/// still alive last).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trace {
    /// The fences' lives, of those the filter counts.
    pub fences: Vec<FenceSpan>,
    /// The waits that ended, of the threads the filter counts.
    pub waits: Vec<WaitSpan>,
}
