//! The kernel's own ftrace as a second witness, in the same run.
//!
//! fencescope's figures come from eBPF programs it wrote itself; a user
//! quoting them in a cover letter needs to know they are not an artefact of
//! those programs. The `dma_fence` trace events (init, emit, signaled,
//! destroy) are the kernel's own account of the same fences, written by
//! code fencescope does not control. This crate enables them in a private
//! ftrace instance for the run (so the global trace buffer and whatever the
//! user set up in it stay as they were), reads them back, pairs them into
//! lifetimes per driver, and compares those with fencescope's.
//!
//! The parts: [`parse`] reads one line of `trace_pipe`, [`tally`] pairs the
//! lines into per-driver counts and lifetimes (pure, fed by tests and by
//! the live reader alike), [`tracefs`] owns the instance and its reader
//! thread, and [`compare()`] holds the two witnesses side by side.
#![deny(missing_docs)]

pub mod compare;
pub mod parse;
pub mod tally;
pub mod tracefs;

pub use compare::{Agreement, Observed, Verdict, compare};
pub use tally::{Tally, Witnessed};
pub use tracefs::{Unavailable, Witness};
