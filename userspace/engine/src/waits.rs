//! Who asked for a buffer's fence, how, and how long until it signalled.
//!
//! A compositor asks in one of two ways: it polls the dma-buf
//! fd (`dma_buf_poll`, which hooks `dma_buf_poll_cb` onto the fence if it is
//! not signalled), or it exports a sync file (`EXPORT_SYNC_FILE`, which hands
//! out the fence via `sync_file_create`) and polls that (`fence_check_cb_func`).
//! A wait runs from the first ask of a thread for a fence to the fence's
//! signal; later asks of the same thread for the same fence join it. An ask
//! that finds the fence already signalled, or gets the stub, is a zero-wait.
use rustc_hash::FxHashMap;

use crate::event::{Comm, Meta, Phase};
use crate::fences::GroupId;
use crate::hist::Latency;
use crate::summary::{ExportSummary, WaitSummary};
use hdrhistogram::Histogram;

/// Histograms by name.
pub type Named = Vec<(String, Histogram<u64>)>;

/// Kernel addresses the engine needs to read callbacks and stubs. Captures
/// carry them, so a replay classifies the same way the live run did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Symbols {
    /// `dma_buf_poll_cb`: the callback of a dma-buf poll.
    pub dma_buf_poll_cb: u64,
    /// `fence_check_cb_func`: the callback of a sync_file poll.
    pub fence_check_cb_func: u64,
    /// `dma_fence_stub`: the global stub fence.
    pub dma_fence_stub: u64,
}

/// How a thread waited.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Style {
    /// poll() on the dma-buf fd.
    DmaBufPoll,
    /// EXPORT_SYNC_FILE, then the sync file.
    Export,
    /// A dma-buf poll found it busy, then the thread exported (KWin 6.x).
    PollThenExport,
    /// poll() on a sync file that came from elsewhere.
    SyncFilePoll,
    /// dma_fence_wait inside the kernel.
    KernelWait,
}

impl Style {
    pub fn name(self) -> &'static str {
        match self {
            Style::DmaBufPoll => "dmabuf-poll",
            Style::Export => "export",
            Style::PollThenExport => "poll+export",
            Style::SyncFilePoll => "sync-file-poll",
            Style::KernelWait => "kernel-wait",
        }
    }
}

/// What an export handed out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Handed {
    Fence,
    /// A `dma_fence_array` made for the export (several fences).
    Array,
    /// The global stub: no unsignalled fence (before the series).
    Stub,
    /// A private stub (`dma_fence_allocate_private_stub`).
    PrivateStub,
    /// Seen only at the syscall, so the fence is not known.
    Unknown,
    /// The ioctl failed.
    Failed,
}

impl Handed {
    pub fn name(self) -> &'static str {
        match self {
            Handed::Fence => "fence",
            Handed::Array => "array",
            Handed::Stub => "stub",
            Handed::PrivateStub => "private-stub",
            Handed::Unknown => "unknown",
            Handed::Failed => "failed",
        }
    }
}

/// A thread and its process, as the kernel names them.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Who {
    pub process: String,
    pub thread: String,
}

#[derive(Clone, Copy, Debug)]
struct Ask {
    at_ns: u64,
    tgid: u32,
    style: Style,
    /// The dma-buf file polled, whose next ready poll ends this wait.
    file: u64,
}

/// An export in progress: entry time, the file, what it handed out (and
/// which fence) once `sync_file_create` said.
#[derive(Clone, Copy, Debug)]
struct ExportCall {
    at: u64,
    file: u64,
    handed: Option<(Handed, u64)>,
}

/// A dma-buf poll in progress: entry time, the file, whether it hooked a
/// callback (had to wait).
#[derive(Clone, Copy, Debug)]
struct PollCall {
    at: u64,
    file: u64,
    hooked: bool,
}

#[derive(Clone, Copy, Debug, Default)]
struct ThreadState {
    export: Option<ExportCall>,
    poll: Option<PollCall>,
}

#[derive(Default, Debug, Clone)]
struct WaitFigures {
    latency: Latency,
    zero: u64,
    /// The waits by the group of the fence waited on.
    on: FxHashMap<Option<GroupId>, u64>,
}

/// What the wait tracker needs to know about a fence from the lifetimes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FenceState {
    Unsignalled,
    Signalled,
    /// Not tracked (born before the session, or evicted).
    Unknown,
}

#[derive(Debug, Default)]
pub struct Waits {
    pub symbols: Symbols,
    threads: FxHashMap<u32, ThreadState>,
    /// Open waits by fence: (tid, who, ask).
    open: FxHashMap<u64, Vec<(u32, Who, Ask)>>,
    /// (tid, file) whose wait ended: its next ready poll is the wake-up.
    woken: FxHashMap<(u32, u64), ()>,
    figures: FxHashMap<(Who, Style), WaitFigures>,
    exports: FxHashMap<(Who, Handed), Latency>,
    process_names: FxHashMap<u32, Comm>,
    /// Stub fences seen handed out: always signalled, never tracked.
    stubs: rustc_hash::FxHashSet<u64>,
    open_cap_hit: u64,
    filter: crate::filter::Filter,
    /// Waits closed since the engine last took them (kept only for stacks).
    pub closed: Vec<Closed>,
    pub keep_closed: bool,
}

/// A wait that ended: who, how, on which fence, from ask to end.
#[derive(Clone, Debug)]
pub struct Closed {
    pub who: Who,
    pub tgid: u32,
    pub tid: u32,
    pub style: Style,
    pub fence: u64,
    pub ask_ns: u64,
    pub end_ns: u64,
}

/// Bound on open waits and per-thread state: beyond it the oldest are
/// dropped and counted.
const MAX_OPEN: usize = 1 << 16;

impl Waits {
    pub fn new(symbols: Symbols) -> Self {
        Waits { symbols, ..Default::default() }
    }

    pub fn set_filter(&mut self, filter: crate::filter::Filter) {
        self.filter = filter;
    }

    fn counted(&self, m: &Meta) -> bool {
        self.filter.task(m.tgid, &m.comm)
    }

    /// Names a thread; learns process names from main threads.
    pub fn who(&mut self, m: &Meta) -> Who {
        if m.tid == m.tgid {
            self.process_names.insert(m.tgid, m.comm);
        }
        let thread = m.comm.as_str().into_owned();
        let process = self
            .process_names
            .get(&m.tgid)
            .map(|c| c.as_str().into_owned())
            .unwrap_or(thread.clone());
        Who { process, thread }
    }

    /// "process/thread" (or "thread" when the two are one) of a task seen.
    pub fn process_of(&self, tgid: u32, thread: &Comm) -> String {
        let thread = thread.as_str().into_owned();
        match self.process_names.get(&tgid).map(|c| c.as_str().into_owned()) {
            Some(p) if p != thread => format!("{p}/{thread}"),
            _ => thread,
        }
    }

    fn zero_wait(&mut self, who: Who, style: Style) {
        self.figures.entry((who, style)).or_default().zero += 1;
    }

    fn open_wait(&mut self, fence: u64, tid: u32, who: Who, ask: Ask, state: FenceState) {
        if state == FenceState::Signalled {
            self.zero_wait(who, ask.style);
            return;
        }
        let waits = self.open.entry(fence).or_default();
        if let Some((_, _, existing)) = waits.iter_mut().find(|(t, _, _)| *t == tid) {
            // The same thread asking again for the same fence: one wait.
            if existing.style == Style::DmaBufPoll && ask.style == Style::Export {
                existing.style = Style::PollThenExport;
            }
            if existing.file == 0 {
                existing.file = ask.file;
            }
            return;
        }
        waits.push((tid, who, ask));
        if self.open.len() > MAX_OPEN {
            let victim = *self.open.keys().next().expect("not empty");
            self.open.remove(&victim);
            self.open_cap_hit += 1;
        }
    }

    pub fn export(
        &mut self,
        m: &Meta,
        phase: Phase,
        object: u64,
        ret: i64,
        state: impl Fn(u64) -> FenceState,
    ) {
        let t = self.threads.entry(m.tid).or_default();
        match phase {
            Phase::Entry => t.export = Some(ExportCall { at: m.ts_ns, file: object, handed: None }),
            Phase::Return => {
                let Some(ExportCall { at, file, handed }) = t.export.take() else { return };
                if !self.counted(m) {
                    return;
                }
                let who = self.who(m);
                let (kind, fence) = match (ret, handed) {
                    (r, _) if r < 0 => (Handed::Failed, 0),
                    (_, Some(h)) => h,
                    (_, None) => (Handed::Unknown, 0),
                };
                self.exports
                    .entry((who.clone(), kind))
                    .or_default()
                    .record(m.ts_ns.saturating_sub(at));
                match kind {
                    Handed::Stub | Handed::PrivateStub => self.zero_wait(who, Style::Export),
                    Handed::Fence | Handed::Array => {
                        let ask = Ask { at_ns: at, tgid: m.tgid, style: Style::Export, file };
                        self.open_wait(fence, m.tid, who, ask, state(fence));
                    }
                    Handed::Unknown | Handed::Failed => {}
                }
            }
        }
    }

    /// `sync_file_create` inside an export: what it hands out.
    pub fn sync_file(&mut self, m: &Meta, fence: u64, context: u64, is_array: bool) {
        let stub = self.symbols.dma_fence_stub;
        let Some(t) = self.threads.get_mut(&m.tid) else { return };
        let Some(ExportCall { handed, .. }) = t.export.as_mut() else { return };
        let kind = if stub != 0 && fence == stub {
            Handed::Stub
        } else if context == 0 {
            // Without the stub's address, context 0 is all we can tell.
            if stub == 0 { Handed::Stub } else { Handed::PrivateStub }
        } else if is_array {
            Handed::Array
        } else {
            Handed::Fence
        };
        *handed = Some((kind, fence));
        if matches!(kind, Handed::Stub | Handed::PrivateStub) && self.stubs.len() < 1024 {
            self.stubs.insert(fence);
        }
    }

    pub fn poll(&mut self, m: &Meta, phase: Phase, file: u64, mask: u64) {
        let t = self.threads.entry(m.tid).or_default();
        match phase {
            Phase::Entry => t.poll = Some(PollCall { at: m.ts_ns, file, hooked: false }),
            Phase::Return => {
                let Some(PollCall { file, hooked, .. }) = t.poll.take() else { return };
                const POLLIN: u64 = 0x1;
                if hooked || mask & POLLIN == 0 {
                    return;
                }
                // Ready at once: the wake-up of an earlier wait on this
                // buffer, or a check that found nothing to wait for.
                if self.woken.remove(&(m.tid, file)).is_none() && self.counted(m) {
                    let who = self.who(m);
                    self.zero_wait(who, Style::DmaBufPoll);
                }
            }
        }
    }

    pub fn add_callback(&mut self, m: &Meta, fence: u64, func: u64, state: FenceState) {
        // On a signalled fence dma_fence_add_callback installs nothing
        // (-ENOENT): the poll that called it is about to report ready.
        if state == FenceState::Signalled
            || self.stubs.contains(&fence)
            || (fence == self.symbols.dma_fence_stub && fence != 0)
        {
            return;
        }
        if !self.counted(m) {
            return;
        }
        let s = self.symbols;
        let style = if func == s.dma_buf_poll_cb && func != 0 {
            Style::DmaBufPoll
        } else if func == s.fence_check_cb_func && func != 0 {
            Style::SyncFilePoll
        } else {
            return;
        };
        let (at, file) = match self.threads.get_mut(&m.tid).and_then(|t| t.poll.as_mut()) {
            Some(p) if style == Style::DmaBufPoll => {
                p.hooked = true;
                (p.at, p.file)
            }
            _ => (m.ts_ns, 0),
        };
        let who = self.who(m);
        self.open_wait(fence, m.tid, who, Ask { at_ns: at, tgid: m.tgid, style, file }, state);
    }

    /// In-kernel waits: from wait start to wait end, on the waiting thread.
    /// `group`: the fence's, as the lifetimes filed it.
    pub fn kernel_wait(&mut self, m: &Meta, phase: Phase, fence: u64, group: Option<GroupId>) {
        match phase {
            Phase::Entry if self.counted(m) => {
                let who = self.who(m);
                let ask = Ask { at_ns: m.ts_ns, tgid: m.tgid, style: Style::KernelWait, file: 0 };
                self.open_wait(fence, m.tid, who, ask, FenceState::Unsignalled);
            }
            Phase::Return => {
                let Some(waits) = self.open.get_mut(&fence) else { return };
                if let Some(i) =
                    waits.iter().position(|(t, _, a)| *t == m.tid && a.style == Style::KernelWait)
                {
                    let (tid, who, ask) = waits.swap_remove(i);
                    self.close(tid, who, ask, fence, m.ts_ns, group);
                }
            }
            Phase::Entry => {}
        }
    }

    fn close(&mut self, tid: u32, who: Who, ask: Ask, fence: u64, at: u64, group: Option<GroupId>) {
        if self.keep_closed {
            let c = Closed {
                who: who.clone(),
                tgid: ask.tgid,
                tid,
                style: ask.style,
                fence,
                ask_ns: ask.at_ns,
                end_ns: at,
            };
            self.closed.push(c);
        }
        let f = self.figures.entry((who, ask.style)).or_default();
        f.latency.record(at.saturating_sub(ask.at_ns));
        *f.on.entry(group).or_default() += 1;
    }

    /// The fence signalled: every wait on it ends. `group`: the fence's.
    pub fn signalled(&mut self, fence: u64, at: u64, group: Option<GroupId>) {
        let Some(waits) = self.open.remove(&fence) else { return };
        for (tid, who, ask) in waits {
            if ask.style == Style::KernelWait {
                // Ends at its own wait_end; keep it.
                self.open.entry(fence).or_default().push((tid, who, ask));
                continue;
            }
            if ask.file != 0 {
                self.woken.insert((tid, ask.file), ());
            }
            self.close(tid, who, ask, fence, at, group);
        }
    }

    /// The fence is gone: waits still open on it never saw it signal.
    pub fn forget(&mut self, fence: u64) -> usize {
        self.open.remove(&fence).map_or(0, |w| w.len())
    }

    /// The figures; `name` says what a fence group is called.
    pub fn summary(
        &self,
        name: impl Fn(Option<GroupId>) -> String,
    ) -> (Vec<WaitSummary>, Vec<ExportSummary>) {
        let mut open: FxHashMap<(Who, Style), u64> = FxHashMap::default();
        for (_, who, ask) in self.open.values().flatten() {
            *open.entry((who.clone(), ask.style)).or_default() += 1;
        }
        let mut keys: Vec<(Who, Style)> = self.figures.keys().chain(open.keys()).cloned().collect();
        keys.sort();
        keys.dedup();
        let waits = keys
            .into_iter()
            .map(|k| {
                let f = self.figures.get(&k).cloned().unwrap_or_default();
                let mut on: Vec<(String, u64)> = f.on.iter().map(|(g, n)| (name(*g), *n)).collect();
                on.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                WaitSummary {
                    process: k.0.process.clone(),
                    thread: k.0.thread.clone(),
                    style: k.1.name().into(),
                    waits: f.latency.len(),
                    zero_waits: f.zero,
                    open: open.get(&k).copied().unwrap_or(0),
                    latency: f.latency.summary(),
                    on,
                }
            })
            .collect();
        let mut exports: Vec<ExportSummary> = self
            .exports
            .iter()
            .map(|((who, handed), l)| ExportSummary {
                process: who.process.clone(),
                thread: who.thread.clone(),
                handed: handed.name().into(),
                exports: l.len(),
                round_trip: l.summary(),
            })
            .collect();
        exports.sort_by(|a, b| {
            (&a.process, &a.thread, &a.handed).cmp(&(&b.process, &b.thread, &b.handed))
        });
        (waits, exports)
    }

    /// The latency histograms behind the summary: waits by "process/thread
    /// style", export round trips by "process/thread handed".
    pub fn distributions(&self) -> (Named, Named) {
        let name = |w: &Who, what: &str| crate::summary::who_key(&w.process, &w.thread, what);
        let waits = self
            .figures
            .iter()
            .map(|((w, s), f)| (name(w, s.name()), f.latency.inner().clone()))
            .collect();
        let exports =
            self.exports.iter().map(|((w, h), l)| (name(w, h.name()), l.inner().clone())).collect();
        (waits, exports)
    }

    pub fn reset_interval(&mut self) {
        self.figures.clear();
        self.exports.clear();
    }

    pub fn dropped_open(&self) -> u64 {
        self.open_cap_hit
    }
}

#[cfg(test)]
#[path = "waits_tests.rs"]
mod tests;
