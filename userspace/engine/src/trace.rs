//! Every fence's span and every wait's, for trace viewers (Perfetto).
//! Kept only when asked for ([`crate::Engine::with_trace`]): it grows with
//! the capture, where the summary does not.
use serde::{Deserialize, Serialize};

/// One fence's life. `serial` tells apart fences that reused an address.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FenceSpan {
    pub serial: u64,
    pub driver: String,
    pub timeline: String,
    pub context: u64,
    pub seqno: u64,
    pub init_ns: u64,
    /// None: destroyed, evicted or still alive unsignalled.
    pub signal_ns: Option<u64>,
    /// When it was last seen unsignalled (destroy, or the end of the capture).
    pub end_ns: u64,
    pub tgid: u32,
    pub process: String,
}

/// One wait: who asked, how, from ask to the signal (or wait end).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitSpan {
    pub process: String,
    pub thread: String,
    pub tgid: u32,
    pub tid: u32,
    pub style: String,
    /// The fence waited on, when it was tracked.
    pub fence_serial: Option<u64>,
    pub ask_ns: u64,
    pub end_ns: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trace {
    pub fences: Vec<FenceSpan>,
    pub waits: Vec<WaitSpan>,
}
