//! One file per command: each parses nothing and computes nothing, only
//! wires a source (live or a capture) to the fan-out and an output.
pub(crate) mod compare;
pub(crate) mod export;
pub(crate) mod flamegraph;
pub(crate) mod probe;
pub(crate) mod record;
pub(crate) mod report;
pub(crate) mod serve;
pub(crate) mod top;
pub(crate) mod watch;
