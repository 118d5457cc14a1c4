//! fencescope's engine: decoded kernel records in, measurements out.
//!
//! It knows nothing of probes, files or terminals. The live source, capture
//! replay and the tests all feed it the same [`Event`]s, so a figure is
//! computed one way only, whichever way the events arrived.
//!
//! Each part owns its state and is told what happened: the fences followed
//! (`fences`), their groups by name (`groups`), the name join (`names`),
//! waits and exports (`waits`), videobuf2 (`vb2`), fence arrays (`arrays`)
//! and the contract checks ([`contract`]). [`Engine`] routes events to them
//! and asks each for its figures.
#![deny(missing_docs)]

mod arrays;
pub mod contract;
mod engine;
pub mod event;
mod fences;
pub mod filter;
mod groups;
pub mod hist;
mod names;
pub mod stacks;
pub mod stats;
pub mod summary;
pub mod synthetic;
pub mod trace;
mod vb2;
mod waits;

pub use engine::{Distributions, Engine, Limits};
pub use event::{Body, DecodeError, Event, Meta, Name, Phase};
pub use filter::Filter;
pub use stacks::Stacks;
pub use summary::{
    ArraySummary, ExportSummary, GroupSummary, InFlightFence, LatencySummary, Summary, Totals,
    Vb2QueueSummary, Vb2Summary, WaitSummary, queue_type_name,
};
pub use trace::{FenceSpan, Trace, WaitSpan};
pub use waits::Symbols;
