//! Reading a capture as a stream: the header first, then one chunk at a
//! time, so a capture of any size is replayed in the memory of one chunk,
//! and a file that is not a capture (`/dev/zero`, a pipe of something else)
//! is refused after its first 16 bytes instead of read whole.
use std::fs::File;
use std::io::{BufReader, Cursor, Read};
use std::path::{Path, PathBuf};

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

/// Where a capture's bytes are: a file, read again on each pass, or memory.
enum Bytes {
    File(PathBuf),
    Memory(Vec<u8>),
}

/// An opened capture: its info, and where to read its chunks from.
pub struct Capture {
    /// What the recording says of itself.
    pub info: Info,
    name: String,
    bytes: Bytes,
    /// Where the first chunk starts.
    body: u64,
    /// The file's length when opened (for messages).
    len: u64,
}

/// Opens a capture, checking its header; its chunks are read on each pass.
pub fn read(path: &Path) -> Result<Capture, Error> {
    let name = path.display().to_string();
    let io = |e| Error::Io(name.clone(), e);
    let file = File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    let (info, body) = header(&name, &mut BufReader::new(file))?;
    Ok(Capture { info, name, bytes: Bytes::File(path.to_owned()), body, len })
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("four bytes"))
}

/// Reads up to `buf.len()` bytes, fewer only at the end of the input.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// The header: magic, versions, info. Returns the info and its end.
fn header(name: &str, r: &mut impl Read) -> Result<(Info, u64), Error> {
    let name = name.to_owned();
    let mut head = [0u8; 16];
    let n = read_full(r, &mut head).map_err(|e| Error::Io(name.clone(), e))?;
    if n == 0 {
        return Err(Error::Empty(name));
    }
    let got = &head[..n];
    if n < MAGIC.len() || &got[..MAGIC.len()] != MAGIC {
        return Err(if MAGIC.starts_with(&got[..n.min(MAGIC.len())]) {
            Error::ShortHeader(name, n)
        } else {
            Error::Foreign(name)
        });
    }
    if n < 16 {
        return Err(Error::ShortHeader(name, n));
    }
    let version = u32_at(&head, 8);
    if version > FORMAT_VERSION {
        return Err(Error::NewerFormat(name, version, FORMAT_VERSION));
    }
    if version == 0 {
        return Err(Error::BadInfo(name, "format version 0".into()));
    }
    let info_len = u32_at(&head, 12);
    if info_len > MAX_INFO_LEN {
        return Err(Error::BadInfo(name, format!("header claims {info_len} bytes")));
    }
    let mut info = vec![0u8; info_len as usize];
    let k = read_full(r, &mut info).map_err(|e| Error::Io(name.clone(), e))?;
    if k < info.len() {
        return Err(Error::ShortHeader(name, 16 + k));
    }
    let info: Info =
        serde_json::from_slice(&info).map_err(|e| Error::BadInfo(name.clone(), e.to_string()))?;
    if info.schema_version > SCHEMA_VERSION {
        return Err(Error::NewerSchema(name, info.schema_version, SCHEMA_VERSION));
    }
    Ok((info, 16 + u64::from(info_len)))
}

impl Capture {
    /// Opens a capture already in memory (`name` is what messages call it).
    pub fn from_bytes(name: String, data: Vec<u8>) -> Result<Capture, Error> {
        let (info, body) = header(&name, &mut Cursor::new(&data))?;
        let len = data.len() as u64;
        Ok(Capture { info, name, bytes: Bytes::Memory(data), body, len })
    }

    /// The file's name, as messages give it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Hands every record of every intact chunk to `f`, in order, and says
    /// where the read stopped if it did not reach a clean end. Only one
    /// chunk is in memory at a time.
    pub fn for_each(&self, f: impl FnMut(&[u8])) -> Outcome {
        match &self.bytes {
            Bytes::Memory(d) => {
                let mut c = Cursor::new(d.as_slice());
                c.set_position(self.body);
                self.walk(&mut c, f)
            }
            Bytes::File(path) => {
                let opened = File::open(path).and_then(|mut file| {
                    std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(self.body))?;
                    Ok(file)
                });
                match opened {
                    Ok(file) => self.walk(&mut BufReader::with_capacity(1 << 20, file), f),
                    Err(e) => Outcome {
                        stopped: Some(format!("cannot read {} again: {e}", self.name)),
                        ..Outcome::default()
                    },
                }
            }
        }
    }

    fn walk(&self, r: &mut impl Read, mut f: impl FnMut(&[u8])) -> Outcome {
        let mut out = Outcome::default();
        let mut at = self.body;
        let len = self.len;
        let mut packed = Vec::new();
        let mut raw = Vec::new();
        let mut ended = false;
        loop {
            let stop = |why: String| Some(format!("stopped at byte {at} of {len}: {why}"));
            let mut head = [0u8; 20];
            let n = match read_full(r, &mut head) {
                Ok(n) => n,
                Err(e) => {
                    out.stopped = stop(format!("read error: {e}"));
                    break;
                }
            };
            if n == 0 {
                break;
            }
            if n >= 12 && &head[..4] == END_MAGIC {
                let total = u64::from_le_bytes(head[4..12].try_into().expect("eight bytes"));
                let more = n > 12 || read_full(r, &mut [0u8; 1]).is_ok_and(|k| k > 0);
                if total != out.records {
                    out.stopped = stop(format!(
                        "end marker counts {total} records, chunks held {}",
                        out.records
                    ));
                } else if more {
                    out.stopped = stop("bytes after the end marker (damaged file)".into());
                }
                ended = true;
                break;
            }
            if n < 20 {
                out.stopped = stop("the last chunk is cut short (header)".into());
                break;
            }
            if &head[..4] != CHUNK_MAGIC {
                out.stopped = stop("not a chunk (damaged file)".into());
                break;
            }
            let (packed_len, raw_len, records, crc) =
                (u32_at(&head, 4), u32_at(&head, 8), u32_at(&head, 12), u32_at(&head, 16));
            if packed_len > MAX_CHUNK_LEN || raw_len > MAX_CHUNK_LEN {
                out.stopped = stop("chunk sizes out of range (damaged file)".into());
                break;
            }
            packed.resize(packed_len as usize, 0);
            if read_full(r, &mut packed).ok() != Some(packed.len()) {
                out.stopped =
                    stop("the last chunk is cut short (the recording was killed?)".into());
                break;
            }
            if crc32fast::hash(&packed) != crc {
                out.stopped = stop("chunk checksum mismatch (damaged file)".into());
                break;
            }
            // Decoded into exactly the size the chunk claims: a damaged or
            // hostile frame cannot make the reader allocate more.
            raw.clear();
            raw.resize(raw_len as usize, 0);
            let decoded =
                ruzstd::decoding::FrameDecoder::new().decode_all(packed.as_slice(), &mut raw);
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
            at += 20 + u64::from(packed_len);
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
