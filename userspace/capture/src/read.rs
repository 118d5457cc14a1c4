use std::path::Path;

use fencescope_schema::{Kind, SCHEMA_VERSION};

use crate::{
    CHUNK_MAGIC, END_MAGIC, Error, FORMAT_VERSION, Info, MAGIC, MAX_CHUNK_LEN, MAX_INFO_LEN,
};

/// How far a read got.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Complete chunks read.
    pub chunks: u64,
    /// Records handed out.
    pub records: u64,
    /// Set when the file ends or breaks before its end: what stopped the
    /// read. Everything before it was read.
    pub stopped: Option<String>,
}

/// An opened capture: its info and its bytes.
pub struct Capture {
    /// What the recording says of itself.
    pub info: Info,
    name: String,
    data: Vec<u8>,
    body: usize,
}

/// Opens a capture, checking everything up to the first chunk.
pub fn read(path: &Path) -> Result<Capture, Error> {
    let name = path.display().to_string();
    let data = std::fs::read(path).map_err(|e| Error::Io(name.clone(), e))?;
    Capture::from_bytes(name, data)
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("four bytes"))
}

impl Capture {
    /// Opens a capture already in memory (`name` is what messages call it).
    pub fn from_bytes(name: String, data: Vec<u8>) -> Result<Capture, Error> {
        if data.is_empty() {
            return Err(Error::Empty(name));
        }
        if data.len() < MAGIC.len() || &data[..MAGIC.len()] != MAGIC {
            return Err(if MAGIC.starts_with(&data[..data.len().min(MAGIC.len())]) {
                Error::ShortHeader(name, data.len())
            } else {
                Error::Foreign(name)
            });
        }
        if data.len() < 16 {
            return Err(Error::ShortHeader(name, data.len()));
        }
        let version = u32_at(&data, 8);
        if version > FORMAT_VERSION {
            return Err(Error::NewerFormat(name, version, FORMAT_VERSION));
        }
        if version == 0 {
            return Err(Error::BadInfo(name, "format version 0".into()));
        }
        let info_len = u32_at(&data, 12);
        if info_len > MAX_INFO_LEN {
            return Err(Error::BadInfo(name, format!("header claims {info_len} bytes")));
        }
        let body = 16 + info_len as usize;
        if data.len() < body {
            return Err(Error::ShortHeader(name, data.len()));
        }
        let info: Info = serde_json::from_slice(&data[16..body])
            .map_err(|e| Error::BadInfo(name.clone(), e.to_string()))?;
        if info.schema_version > SCHEMA_VERSION {
            return Err(Error::NewerSchema(name, info.schema_version, SCHEMA_VERSION));
        }
        Ok(Capture { info, name, data, body })
    }

    /// The file's name, as messages give it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Hands every record of every intact chunk to `f`, in order, and says
    /// where the read stopped if it did not reach a clean end.
    pub fn for_each(&self, mut f: impl FnMut(&[u8])) -> Outcome {
        let mut out = Outcome::default();
        let mut at = self.body;
        let d = &self.data;
        let mut raw = Vec::new();
        let mut ended = false;
        while at < d.len() {
            let stop = |why: String| Some(format!("stopped at byte {at} of {}: {why}", d.len()));
            if d.len() - at >= 12 && &d[at..at + 4] == END_MAGIC {
                let total = u64::from_le_bytes(d[at + 4..at + 12].try_into().expect("eight bytes"));
                if total != out.records {
                    out.stopped = stop(format!(
                        "end marker counts {total} records, chunks held {}",
                        out.records
                    ));
                } else if at + 12 != d.len() {
                    out.stopped = stop("bytes after the end marker (damaged file)".into());
                }
                ended = true;
                break;
            }
            if d.len() - at < 20 {
                out.stopped = stop("the last chunk is cut short (header)".into());
                break;
            }
            if &d[at..at + 4] != CHUNK_MAGIC {
                out.stopped = stop("not a chunk (damaged file)".into());
                break;
            }
            let (packed_len, raw_len, records, crc) =
                (u32_at(d, at + 4), u32_at(d, at + 8), u32_at(d, at + 12), u32_at(d, at + 16));
            if packed_len > MAX_CHUNK_LEN || raw_len > MAX_CHUNK_LEN {
                out.stopped = stop("chunk sizes out of range (damaged file)".into());
                break;
            }
            let start = at + 20;
            let end = start + packed_len as usize;
            if end > d.len() {
                out.stopped =
                    stop("the last chunk is cut short (the recording was killed?)".into());
                break;
            }
            let packed = &d[start..end];
            if crc32fast::hash(packed) != crc {
                out.stopped = stop("chunk checksum mismatch (damaged file)".into());
                break;
            }
            // Decoded into exactly the size the chunk claims: a damaged or
            // hostile frame cannot make the reader allocate more.
            raw.clear();
            raw.resize(raw_len as usize, 0);
            let decoded = ruzstd::decoding::FrameDecoder::new().decode_all(packed, &mut raw);
            if decoded.ok() != Some(raw_len as usize) {
                out.stopped = stop("chunk does not decompress (damaged file)".into());
                break;
            }
            match split(&raw, records) {
                Ok(spans) => {
                    for (s, e) in spans {
                        f(&raw[s..e]);
                    }
                }
                Err(why) => {
                    out.stopped = stop(why);
                    break;
                }
            }
            out.chunks += 1;
            out.records += u64::from(records);
            at = end;
        }
        if !ended && out.stopped.is_none() {
            out.stopped = Some(format!(
                "no end marker after {} chunks: the recording was interrupted (all complete chunks were read)",
                out.chunks
            ));
        }
        out
    }
}

/// Record boundaries in a chunk, checked before any is handed out so a chunk
/// is used whole or not at all.
fn split(raw: &[u8], records: u32) -> Result<Vec<(usize, usize)>, String> {
    let mut spans = Vec::with_capacity(records as usize);
    let mut at = 0;
    while at < raw.len() {
        if raw.len() - at < 2 {
            return Err("a record is cut inside a chunk".into());
        }
        let kind = u16::from_le_bytes([raw[at], raw[at + 1]]);
        let kind = Kind::from_u16(kind).ok_or(format!("unknown record kind {kind} in a chunk"))?;
        let end = at + kind.record_len();
        if end > raw.len() {
            return Err("a record is cut inside a chunk".into());
        }
        spans.push((at, end));
        at = end;
    }
    if spans.len() != records as usize {
        return Err(format!("chunk says {records} records, holds {}", spans.len()));
    }
    Ok(spans)
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
