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
mod read;
mod write;

pub use read::{Capture, Outcome, read};
pub use write::{Stats, Writer};

use serde::{Deserialize, Serialize};

pub const MAGIC: &[u8; 8] = b"FNCSCOPE";
pub const CHUNK_MAGIC: &[u8; 4] = b"CHNK";
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
    pub tool_version: String,
    /// `fencescope_schema::SCHEMA_VERSION` of the records.
    pub schema_version: u32,
    pub kernel_release: String,
    pub machine: String,
    /// The attach plan, hook by hook (shape owned by the tool).
    pub attach: serde_json::Value,
    /// Layout facts used (offsets, their source).
    pub layout: serde_json::Value,
    /// What the engine needs to read the records as the live run did
    /// (kernel addresses, keying); shape owned by the tool.
    #[serde(default)]
    pub engine: serde_json::Value,
    pub started_unix_ms: u64,
    pub started_monotonic_ns: u64,
    pub command_line: Vec<String>,
}

/// Why a file cannot be read as a capture at all. Each message is one line
/// that names the file's problem and what to do.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}: cannot read: {1}")]
    Io(String, std::io::Error),
    #[error("{0}: empty file, not a capture (was the recording stopped before it started?)")]
    Empty(String),
    #[error(
        "{0}: not a fencescope capture (no FNCSCOPE header); give a file written by `fencescope record`"
    )]
    Foreign(String),
    #[error(
        "{0}: capture header is cut short ({1} bytes): the file was truncated right at the start"
    )]
    ShortHeader(String, usize),
    #[error(
        "{0}: written by a newer fencescope (capture format {1}, this one reads up to {2}): use a newer fencescope"
    )]
    NewerFormat(String, u32, u32),
    #[error(
        "{0}: records use event schema {1}, this fencescope reads up to {2}: use a newer fencescope"
    )]
    NewerSchema(String, u32, u32),
    #[error("{0}: capture header is damaged: {1}")]
    BadInfo(String, String),
}
