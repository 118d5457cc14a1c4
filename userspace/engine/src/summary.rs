//! What the engine reports: plain data, serialisable, shared by every output.
use serde::{Deserialize, Serialize};

/// A latency distribution's figures, in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatencySummary {
    pub count: u64,
    pub min_ns: u64,
    pub mean_ns: u64,
    pub p50_ns: u64,
    pub p90_ns: u64,
    pub p99_ns: u64,
    pub p999_ns: u64,
    pub max_ns: u64,
}

/// Figures for one driver/timeline pair, as the kernel names them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupSummary {
    pub driver: String,
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
    /// Destroyed without ever being signalled.
    pub destroyed_unsignalled: u64,
    /// init → signalled.
    pub lifetime: LatencySummary,
}

/// Everything the engine knows, at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
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
    /// Records the kernel side could not emit (ring buffer full), by kind.
    pub dropped: u64,
    /// In-flight fences forgotten because the tracking table was full.
    pub evicted: u64,
}

impl Summary {
    /// Real (non-stub) fences across all groups.
    pub fn real_fences(&self) -> u64 {
        self.groups
            .iter()
            .filter(|g| !g.stub)
            .map(|g| g.fences)
            .sum()
    }

    /// Stub fences across all groups.
    pub fn stub_fences(&self) -> u64 {
        self.groups
            .iter()
            .filter(|g| g.stub)
            .map(|g| g.fences)
            .sum()
    }

    pub fn group(&self, driver: &str, timeline: &str) -> Option<&GroupSummary> {
        self.groups
            .iter()
            .find(|g| g.driver == driver && g.timeline == timeline)
    }
}
