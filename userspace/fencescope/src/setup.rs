//! How the engine reads one session's records (the kernel's symbols, how
//! fences are keyed): decided live, kept in the capture, so a replay
//! computes every figure as the live run did.
use fencescope_engine::{Engine, Filter};
use fencescope_loader::live::Session;

/// How the engine must read a session's records; kept in captures so a
/// replay reads them the same way.
#[derive(Clone, Copy, Debug, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct EngineSetup {
    pub(crate) symbols: fencescope_engine::Symbols,
    pub(crate) names_are_inits: bool,
}

impl EngineSetup {
    pub(crate) fn of(session: &Session) -> Self {
        EngineSetup {
            symbols: session.symbols,
            names_are_inits: session.attached.names_are_inits(),
        }
    }

    pub(crate) fn engine(&self, filter: Filter) -> Engine {
        Engine::default()
            .with_filter(filter)
            .with_symbols(self.symbols)
            .with_names_as_inits(self.names_are_inits)
    }
}
