//! `fencescope-loader`: everything between fencescope and the running
//! kernel, kept apart from what the records mean (the engine's job) and how
//! they are shown (the report's), as `aya-obj` is kept apart from `aya`.
//!
//! - [`kernel`]: facts about the running kernel (privileges, tracefs,
//!   kprobes, BTF, kallsyms, tracepoint record layouts), read from files and
//!   parsed by pure functions so they are tested without a kernel.
//! - [`layout`]: where `struct dma_fence` keeps what the programs read, from
//!   BTF or from a table checked against real kernels.
//! - [`vb2_layout`]: where the kernel keeps a videobuf2 queue's names.
//! - [`plan`]: which program watches each hook, in order of preference.
//! - [`object`]: the embedded eBPF object.
//! - [`live`]: loads the object, attaches the plan, and streams the ring
//!   buffer's records (raw bytes, never interpreted) to a [`live::Sink`].
#![deny(missing_docs)]

pub mod kernel;
pub mod layout;
pub mod live;
pub mod object;
pub mod plan;
pub mod vb2_layout;
