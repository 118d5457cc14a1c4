//! The seam between where records come from and where figures go. Every
//! `fencescope` command streams through it: a [`source::Source`] (the live
//! ring buffer of a loader `Session`, or a capture replayed at its recorded
//! pace) feeds one [`sink::Fanout`], which decodes each record once, feeds
//! the engine, and hands the same bytes and figures to whichever outputs the
//! command asked for: a capture file, the metrics endpoint, a live view.
//! Because there is one path, a figure is computed the same way live, from a
//! capture and under `top`.
//!
//! Commands themselves (argument parsing, printing reports) stay in the
//! binary; renderers live in `fencescope-report` and `fencescope-top`.
#![deny(missing_docs)]
pub mod metrics;
pub mod setup;
pub mod sink;
pub mod source;
