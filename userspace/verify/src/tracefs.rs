//! The witness's ftrace instance: made for the run, removed after it.
//!
//! A private instance (`instances/fencescope-<pid>`) has its own ring,
//! clock and event switches, so the global trace, its events and whatever
//! the user traces there are left exactly as they were. Its clock is set
//! to `mono`, the clock eBPF's `bpf_ktime_get_ns` reads, so both witnesses'
//! timestamps share one time line.
use std::fs;
use std::io::{ErrorKind, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::parse::{Kind, parse_line};
use crate::tally::{Tally, Witnessed};

/// Why ftrace cannot witness this run.
#[derive(Debug, thiserror::Error)]
pub enum Unavailable {
    /// The kernel has no `dma_fence` trace events (or tracefs lacks them).
    #[error("this kernel has no dma_fence trace events under {0}")]
    NoEvents(PathBuf),
    /// The instance could not be made or set up.
    #[error("cannot set up an ftrace instance at {path}: {err}")]
    Instance {
        /// The instance's directory.
        path: PathBuf,
        /// What failed.
        err: std::io::Error,
    },
}

/// A running witness: the instance and the thread reading its pipe.
#[derive(Debug)]
pub struct Witness {
    dir: PathBuf,
    since_ns: Arc<std::sync::atomic::AtomicU64>,
    stop: Arc<AtomicBool>,
    reader: Option<JoinHandle<std::io::Result<Tally>>>,
    enabled: Vec<Kind>,
}

/// How the instance's ring is sized, per CPU: a few seconds of a busy
/// producer between two reads of the pipe.
pub const BUFFER_KB: u32 = 4096;

impl Witness {
    /// Starts witnessing in a new instance under `tracefs`, counting fences
    /// born at or after `since_ns` (monotonic clock).
    pub fn start(tracefs: &Path, since_ns: u64) -> Result<Witness, Unavailable> {
        let events = tracefs.join("events/dma_fence");
        if !events.join(Kind::Init.event()).is_dir() {
            return Err(Unavailable::NoEvents(tracefs.to_owned()));
        }
        let dir = tracefs.join("instances").join(format!("fencescope-{}", std::process::id()));
        let fail = |err| Unavailable::Instance { path: dir.clone(), err };
        // Left by an earlier run of this pid that was killed: start clean.
        let _ = fs::remove_dir(&dir);
        fs::create_dir(&dir).map_err(fail)?;
        let since = Arc::new(std::sync::atomic::AtomicU64::new(since_ns));
        let mut w = Witness {
            dir: dir.clone(),
            since_ns: since.clone(),
            stop: Arc::new(AtomicBool::new(false)),
            reader: None,
            enabled: Vec::new(),
        };
        fs::write(dir.join("trace_clock"), "mono").map_err(fail)?;
        fs::write(dir.join("buffer_size_kb"), BUFFER_KB.to_string()).map_err(fail)?;
        let pipe = fs::OpenOptions::new()
            .read(true)
            .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
            .open(dir.join("trace_pipe"))
            .map_err(fail)?;
        let stop = w.stop.clone();
        w.reader =
            Some(std::thread::spawn(move || read_pipe(pipe, &stop, Tally::with_since(since))));
        for kind in Kind::ALL {
            let enable = dir.join("events/dma_fence").join(kind.event()).join("enable");
            match fs::write(&enable, "1") {
                Ok(()) => w.enabled.push(kind),
                // Older kernels lack emit: its absence only means no renumbering.
                Err(_) if kind == Kind::Emit => {}
                Err(err) => return Err(fail(err)),
            }
        }
        Ok(w)
    }

    /// Moves the window's start: fences born earlier are not counted. Set
    /// it once the other witness is attached too, so both count the same.
    pub fn set_since(&self, since_ns: u64) {
        self.since_ns.store(since_ns, Ordering::Release);
    }

    /// Stops witnessing; the window ends at `until_ns` (monotonic clock).
    /// The instance is removed.
    pub fn finish(mut self, until_ns: u64) -> std::io::Result<Witnessed> {
        let tally = self.stop_reader()?;
        let lost = self.overruns();
        let mut tally = tally.expect("the reader runs until finish");
        tally.add_lost(lost);
        self.remove();
        Ok(tally.finish(until_ns))
    }

    fn stop_reader(&mut self) -> std::io::Result<Option<Tally>> {
        for kind in std::mem::take(&mut self.enabled) {
            let _ =
                fs::write(self.dir.join("events/dma_fence").join(kind.event()).join("enable"), "0");
        }
        self.stop.store(true, Ordering::Release);
        match self.reader.take() {
            Some(h) => h.join().expect("the pipe reader does not panic").map(Some),
            None => Ok(None),
        }
    }

    /// Events the instance's ring overwrote or dropped, over all CPUs.
    fn overruns(&self) -> u64 {
        let Ok(cpus) = fs::read_dir(self.dir.join("per_cpu")) else { return 0 };
        cpus.flatten()
            .filter_map(|cpu| fs::read_to_string(cpu.path().join("stats")).ok())
            .map(|s| stat_losses(&s))
            .sum()
    }

    fn remove(&mut self) {
        let _ = fs::remove_dir(&self.dir);
    }
}

impl Drop for Witness {
    fn drop(&mut self) {
        // An error or Ctrl-C before finish: still leave tracefs as found.
        let _ = self.stop_reader();
        self.remove();
    }
}

/// Reads the pipe until told to stop and it is empty.
fn read_pipe(mut pipe: fs::File, stop: &AtomicBool, mut tally: Tally) -> std::io::Result<Tally> {
    let mut buf = vec![0u8; 1 << 16];
    let mut partial = Vec::new();
    loop {
        match pipe.read(&mut buf) {
            Ok(0) => {}
            Ok(n) => {
                partial.extend_from_slice(&buf[..n]);
                feed_lines(&mut partial, &mut tally);
                continue;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        if stop.load(Ordering::Acquire) {
            return Ok(tally);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Feeds the complete lines of `partial`, keeping an unfinished last one.
fn feed_lines(partial: &mut Vec<u8>, tally: &mut Tally) {
    let Some(end) = partial.iter().rposition(|&b| b == b'\n') else { return };
    for line in partial[..end].split(|&b| b == b'\n') {
        if let Some(l) = parse_line(&String::from_utf8_lossy(line)) {
            tally.feed(&l);
        }
    }
    partial.drain(..=end);
}

/// The losses a per-CPU `stats` file counts: `overrun`, `commit overrun`
/// and `dropped events`.
fn stat_losses(stats: &str) -> u64 {
    stats
        .lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(k, _)| matches!(k.trim(), "overrun" | "commit overrun" | "dropped events"))
        .filter_map(|(_, v)| v.trim().parse::<u64>().ok())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn losses_from_a_stats_file() {
        let stats = "entries: 10\noverrun: 3\ncommit overrun: 1\nbytes: 4096\n\
                     oldest event ts:  4.1\nnow ts:  9.2\ndropped events: 2\nread events: 7\n";
        assert_eq!(stat_losses(stats), 6);
    }

    #[test]
    fn lines_split_across_reads_are_joined() {
        let mut t = Tally::new(0);
        let mut p =
            b"a-1 [000] ..... 1.000000: dma_fence_init: driver=vgem timeline=u context=1 se"
                .to_vec();
        feed_lines(&mut p, &mut t);
        assert!(!p.is_empty());
        p.extend_from_slice(b"qno=1\na-1 [000] ..... 1.000500: dma_fence_signaled: driver=vgem timeline=u context=1 seqno=1\n");
        feed_lines(&mut p, &mut t);
        assert!(p.is_empty());
        let w = t.finish(u64::MAX);
        assert_eq!((w.drivers[0].fences, w.drivers[0].signalled, w.lines), (1, 1, 2));
    }

    #[test]
    fn a_kernel_without_the_events_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let e = Witness::start(dir.path(), 0).unwrap_err();
        assert!(e.to_string().contains("no dma_fence trace events"), "{e}");
    }
}
