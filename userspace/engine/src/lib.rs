//! fencescope's engine: decoded kernel records in, measurements out.
//!
//! It knows nothing of probes, files or terminals. The live source, capture
//! replay and the tests all feed it the same [`Event`]s, so a figure is
//! computed one way only, whichever way the events arrived.
pub mod arrays;
pub mod contract;
pub mod engine;
pub mod event;
pub mod filter;
pub mod hist;
pub mod stacks;
pub mod stats;
pub mod summary;
pub mod synthetic;
pub mod trace;
pub mod vb2;
pub mod waits;

pub use engine::{Distributions, Engine, Limits};
pub use event::{Body, DecodeError, Event, Meta, Name, Phase};
pub use filter::Filter;
pub use stacks::Stacks;
pub use summary::{
    ArraySummary, ExportSummary, GroupSummary, InFlightFence, LatencySummary, Summary, Totals,
    Vb2Summary, WaitSummary,
};
pub use trace::{FenceSpan, Trace, WaitSpan};
pub use waits::Symbols;
