//! How the engine reads one session's records (the kernel's symbols, how
//! fences are keyed): decided live, kept in the capture, so a replay
//! computes every figure as the live run did.
use fencescope_engine::{Engine, Filter};
use fencescope_loader::live::Session;

/// How the engine must read a session's records; kept in captures so a
/// replay reads them the same way.
#[derive(Clone, Copy, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct EngineSetup {
    /// Which kernel functions the session's wait and arm addresses name.
    pub symbols: fencescope_engine::Symbols,
    /// Whether fences are keyed by (context, seqno) from the classic
    /// tracepoint records rather than by address.
    pub names_are_inits: bool,
}

impl EngineSetup {
    /// How `session`'s records must be read.
    pub fn of(session: &Session) -> Self {
        EngineSetup {
            symbols: session.symbols,
            names_are_inits: session.attached.names_are_inits(),
        }
    }

    /// A fresh engine that reads records this way, keeping what `filter` keeps.
    pub fn engine(&self, filter: Filter) -> Engine {
        Engine::default()
            .with_filter(filter)
            .with_symbols(self.symbols)
            .with_names_as_inits(self.names_are_inits)
    }
}
