use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

use crate::{CHUNK_MAGIC, END_MAGIC, FORMAT_VERSION, Info, MAGIC};

/// Raw bytes gathered before a chunk is compressed and written.
const CHUNK_BYTES: usize = 256 << 10;

/// What a finished writer wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Records written.
    pub records: u64,
    /// Chunks written.
    pub chunks: u64,
    /// Record bytes before compression.
    pub raw_bytes: u64,
    /// The file's size.
    pub file_bytes: u64,
}

/// Writes a capture: records buffered into chunks, each compressed and checksummed when flushed.
pub struct Writer {
    file: File,
    buf: Vec<u8>,
    buf_records: u32,
    stats: Stats,
}

impl Writer {
    /// Creates `path` and writes the header with `info`.
    pub fn create(path: &Path, info: &Info) -> io::Result<Writer> {
        let mut file = File::create(path)?;
        let json = serde_json::to_vec(info).map_err(io::Error::other)?;
        let mut head = Vec::with_capacity(16 + json.len());
        head.extend_from_slice(MAGIC);
        head.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        head.extend_from_slice(&(json.len() as u32).to_le_bytes());
        head.extend_from_slice(&json);
        file.write_all(&head)?;
        let stats = Stats { file_bytes: head.len() as u64, ..Stats::default() };
        Ok(Writer { file, buf: Vec::with_capacity(CHUNK_BYTES + 4096), buf_records: 0, stats })
    }

    /// Adds one schema record; writes a chunk when enough have gathered.
    pub fn push(&mut self, record: &[u8]) -> io::Result<()> {
        self.buf.extend_from_slice(record);
        self.buf_records += 1;
        if self.buf.len() >= CHUNK_BYTES {
            self.flush_chunk()?;
        }
        Ok(())
    }

    /// Writes what has gathered as one chunk (the caller also does this on
    /// a timer, so a killed recorder loses at most that interval).
    pub fn flush_chunk(&mut self) -> io::Result<()> {
        if self.buf_records == 0 {
            return Ok(());
        }
        let packed = ruzstd::encoding::compress_to_vec(
            &self.buf[..],
            ruzstd::encoding::CompressionLevel::Fastest,
        );
        let mut chunk = Vec::with_capacity(20 + packed.len());
        chunk.extend_from_slice(CHUNK_MAGIC);
        chunk.extend_from_slice(&(packed.len() as u32).to_le_bytes());
        chunk.extend_from_slice(&(self.buf.len() as u32).to_le_bytes());
        chunk.extend_from_slice(&self.buf_records.to_le_bytes());
        chunk.extend_from_slice(&crc32fast::hash(&packed).to_le_bytes());
        chunk.extend_from_slice(&packed);
        // One write per chunk: a crash leaves whole chunks and one cut tail.
        self.file.write_all(&chunk)?;
        self.stats.records += u64::from(self.buf_records);
        self.stats.chunks += 1;
        self.stats.raw_bytes += self.buf.len() as u64;
        self.stats.file_bytes += chunk.len() as u64;
        self.buf.clear();
        self.buf_records = 0;
        Ok(())
    }

    /// Writes the last chunk and the end marker.
    pub fn finish(mut self) -> io::Result<Stats> {
        self.flush_chunk()?;
        let mut end = END_MAGIC.to_vec();
        end.extend_from_slice(&self.stats.records.to_le_bytes());
        self.file.write_all(&end)?;
        self.stats.file_bytes += end.len() as u64;
        self.file.sync_all()?;
        Ok(self.stats)
    }
}
