//! The capture file (zstd through ruzstd, pure Rust, so static cross builds
//! need no C toolchain): what `fencescope record` writes and everything else
//! replays.
//!
//! ```text
//! "FNCSCOPE"  u32 format version  u32 info length  info (JSON)
//! chunk*:     "CHNK"  u32 compressed length  u32 raw length  u32 records
//!             u32 CRC-32 of the compressed bytes  zstd(records)
//! "DONE"      u64 records in the file (written when recording ends cleanly)
//! ```
//! All integers little-endian. Records are the schema's byte images, back to
//! back; each one's kind says its length. A chunk is written whole with one
//! `write`, so a capture cut by Ctrl-C, SIGKILL or power loss reads up to its
//! last complete chunk; a reader reports where and why it stopped, and a
//! capture without its end marker as interrupted.
#![deny(missing_docs)]
mod read;
mod write;

pub use read::{Capture, Outcome, read};
pub use write::{Stats, Writer};

use serde::{Deserialize, Serialize};

/// The file's first eight bytes.
pub const MAGIC: &[u8; 8] = b"FNCSCOPE";
/// Starts every chunk of records.
pub const CHUNK_MAGIC: &[u8; 4] = b"CHNK";
/// Starts the end marker a finished recording writes.
pub const END_MAGIC: &[u8; 4] = b"DONE";
/// Version of the container layout above (the records have their own).
pub const FORMAT_VERSION: u32 = 1;
/// Headers larger than this are not captures, whatever they claim.
pub const MAX_INFO_LEN: u32 = 1 << 20;
/// Chunks larger than this (either size) are refused as corrupt.
pub const MAX_CHUNK_LEN: u32 = 64 << 20;

/// What a capture says about itself: enough to know what was measured, where
/// and how, without the machine it came from.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Info {
    /// The fencescope version that recorded it.
    pub tool_version: String,
    /// `fencescope_schema::SCHEMA_VERSION` of the records.
    pub schema_version: u32,
    /// `uname -r` of the recording machine.
    pub kernel_release: String,
    /// `uname -m` of the recording machine.
    pub machine: String,
    /// The attach plan, hook by hook (shape owned by the tool).
    pub attach: serde_json::Value,
    /// Layout facts used (offsets, their source).
    pub layout: serde_json::Value,
    /// What the engine needs to read the records as the live run did
    /// (kernel addresses, keying); shape owned by the tool.
    #[serde(default)]
    pub engine: serde_json::Value,
    /// Wall-clock start, milliseconds since the Unix epoch.
    pub started_unix_ms: u64,
    /// CLOCK_MONOTONIC at the start: the clock records are stamped on.
    pub started_monotonic_ns: u64,
    /// The recorder's command line.
    pub command_line: Vec<String>,
}

/// Why a file cannot be read as a capture at all. Each message is one line
/// that names the file's problem and what to do.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}: cannot read: {1}")]
    /// The file could not be read.
    Io(String, std::io::Error),
    #[error("{0}: empty file, not a capture (was the recording stopped before it started?)")]
    /// The file is empty.
    Empty(String),
    #[error(
        "{0}: not a fencescope capture (no FNCSCOPE header); give a file written by `fencescope record`"
    )]
    /// The file is not a capture.
    Foreign(String),
    #[error(
        "{0}: capture header is cut short ({1} bytes): the file was truncated right at the start"
    )]
    /// The header is cut short.
    ShortHeader(String, usize),
    #[error(
        "{0}: written by a newer fencescope (capture format {1}, this one reads up to {2}): use a newer fencescope"
    )]
    /// A newer capture format than this build reads.
    NewerFormat(String, u32, u32),
    #[error(
        "{0}: records use event schema {1}, this fencescope reads up to {2}: use a newer fencescope"
    )]
    /// A newer event schema than this build decodes.
    NewerSchema(String, u32, u32),
    #[error("{0}: capture header is damaged: {1}")]
    /// The header's info does not parse.
    BadInfo(String, String),
}
