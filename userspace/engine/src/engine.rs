//! Pairing fence events into lifetimes.
//!
//! A fence is keyed by its address. Addresses are reused once a fence is
//! freed, so each tracked fence also carries a serial number, and a new init
//! at an address still in the table closes the old entry first.
//!
//! Names come from a second record of the same `dma_fence_init` call (the
//! classic tracepoint has the strings, the raw tracepoint or kprobe has the
//! pointer); they are joined on the 32-bit (context, seqno) the classic
//! record carries, in whichever order the two arrive.
use std::collections::VecDeque;

use rustc_hash::FxHashMap;

use crate::arrays::Arrays;
use crate::contract::Contract;
use crate::event::{Body, Event, FenceName, Meta, Phase};
use crate::filter::Filter;
use crate::hist::Latency;
use crate::stacks::{Marks, Stacks};
use crate::summary::{GroupSummary, InFlightFence, Summary, Vb2Summary};
use crate::trace::{FenceSpan, Trace, WaitSpan};
use crate::vb2::Vb2Bufs;
use crate::waits::{FenceState, Symbols, Waits};

/// Bounds on the engine's memory: it runs for hours on a board.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Fences tracked at once; beyond it the oldest entry is evicted.
    pub max_fences: usize,
    /// How long (event time) a signal whose init has not been seen waits for
    /// it before it is counted as a signal of a fence born before the session.
    pub early_signal_window_ns: u64,
    /// A fence unsignalled this long is counted as never signalled.
    pub never_signalled_ns: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_fences: 1 << 16,
            early_signal_window_ns: 1_000_000_000,
            never_signalled_ns: 1_000_000_000,
        }
    }
}

type GroupId = usize;
type NameKey = (u32, u32);

/// Names that arrive before their init wait here; a handful at most, since
/// both records come from one call on one CPU.
const MAX_EARLY_NAMES: usize = 64;

#[derive(Clone, Debug)]
struct Group {
    driver: String,
    timeline: String,
    stub: bool,
    /// Fences the filter leaves out: followed, never shown.
    hidden: bool,
    fences: u64,
    signalled: u64,
    destroyed_unsignalled: u64,
    /// Destroyed unsignalled before anyone could wait on them.
    dropped_unpublished: u64,
    lifetime: Latency,
    /// Fences of this group the arm hook armed: its fences are held to the
    /// arming contract.
    armed: u64,
    resv_usage: [u64; 4],
    attach_to_signal: Latency,
    vb2_to_signal: Latency,
}

impl Group {
    fn new(driver: &str, timeline: &str, stub: bool, hidden: bool) -> Self {
        Group {
            driver: driver.to_owned(),
            timeline: timeline.to_owned(),
            stub,
            hidden,
            fences: 0,
            signalled: 0,
            destroyed_unsignalled: 0,
            dropped_unpublished: 0,
            lifetime: Latency::default(),
            armed: 0,
            resv_usage: [0; 4],
            attach_to_signal: Latency::default(),
            vb2_to_signal: Latency::default(),
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Fence {
    serial: u64,
    init_ns: u64,
    key: NameKey,
    group: Option<GroupId>,
    /// init → signal, once signalled.
    lifetime_ns: Option<u64>,
    /// First `dma_resv_add_fence`: when, and with which usage.
    resv: Option<(u64, u32)>,
    /// Entry of the `vb2_buffer_done` call it signalled in.
    vb2_done_ns: Option<u64>,
    signal_ns: u64,
    /// Its creator passes the task filter.
    counted: bool,
    context: u64,
    seqno: u64,
    /// The task that initialised it (the one a fence made at QBUF names).
    creator_tgid: u32,
    creator: crate::event::Comm,
    /// When the arm hook committed the job that signals it.
    armed_ns: Option<u64>,
    /// When, and to whom, it was first handed out unsignalled.
    handed: Option<Hand>,
    /// Someone could have waited on it: added to a reservation object,
    /// handed out in a sync_file (itself or an array holding it), polled
    /// or waited on. A driver may init fences and drop them before any of
    /// that; those are no hang.
    published: bool,
}

/// A fence handed to userspace: an export gave it, or a poll waits on it.
#[derive(Clone, Copy, Debug)]
struct Hand {
    at_ns: u64,
    tgid: u32,
    comm: crate::event::Comm,
}

/// Events in, measurements out. Feed it in ring-buffer order.
#[derive(Debug)]
pub struct Engine {
    limits: Limits,
    groups: Vec<Group>,
    group_ids: FxHashMap<(FenceName, FenceName, bool, bool), GroupId>,
    fences: FxHashMap<u64, Fence>,
    next_serial: u64,
    /// Insertion order of `fences` for eviction; stale entries are skipped.
    order: VecDeque<(u64, u64)>,
    awaiting_names: FxHashMap<NameKey, VecDeque<u64>>,
    early_names: VecDeque<(NameKey, GroupId)>,
    /// Signals whose init has not been seen yet: (address, time), oldest first.
    early_signals: VecDeque<(u64, u64)>,
    events: u64,
    first_ns: Option<u64>,
    last_ns: u64,
    /// The latest time any record speaks for, userspace's `Drops` records
    /// included (the recorder writes one when it stops): how long a fence
    /// still unsignalled at the end had been alive.
    seen_until_ns: u64,
    signals_without_init: u64,
    unnamed: u64,
    dropped: u64,
    /// The last `Drops` record: cumulative drops by record kind (the slot).
    dropped_by_kind: [u64; fencescope_schema::DROP_SLOTS as usize],
    evicted: u64,
    waits: Waits,
    /// Threads inside `vb2_buffer_done`: entry time, whether a fence
    /// signalled in the call yet.
    vb2_calls: FxHashMap<u32, (u64, bool)>,
    vb2: Vb2Summary,
    vb2_bufs: Vb2Bufs,
    arrays: Arrays,
    /// Members of the arrays being tracked, by the array's address: an
    /// export of the array publishes them.
    array_members: FxHashMap<u64, Vec<u64>>,
    unpaired: u64,
    /// Classic tracepoints only: a names record is the init, and fences are
    /// keyed by their 32-bit (context, seqno).
    names_are_inits: bool,
    /// Classic tracepoints only: contexts whose fences are numbered at
    /// emit (an emit was seen), and their fences inited with seqno 0 and
    /// not emitted yet, oldest first, under provisional keys.
    emitting: FxHashMap<u32, VecDeque<u64>>,
    filter: Filter,
    /// Folded stacks for flamegraphs, when asked for.
    stacks: Option<Stacks>,
    /// Every fence's and wait's span, when asked for.
    trace: Option<Trace>,
    contract: Contract,
    /// Reservation objects seen, by what guards them (foreign fences).
    resvs: crate::contract::Resvs,
    /// `with_stage_log`: the stages of the first fences that signal.
    stage_log: Option<(usize, Vec<crate::contract::Stages>)>,
}

/// The key a fence gets when no address is known (classic tracepoints
/// only, where no record carries one): its 32-bit (context, seqno).
fn pseudo_address(context: u32, seqno: u32) -> u64 {
    (u64::from(context) << 32) | u64::from(seqno)
}

/// Provisional keys of classic-mode fences awaiting their emit.
const PROVISIONAL: u64 = 1 << 63;

impl Default for Engine {
    fn default() -> Self {
        Engine::new(Limits::default())
    }
}

impl Engine {
    pub fn new(limits: Limits) -> Self {
        Engine {
            limits,
            groups: Vec::new(),
            group_ids: FxHashMap::default(),
            fences: FxHashMap::default(),
            next_serial: 0,
            order: VecDeque::new(),
            awaiting_names: FxHashMap::default(),
            early_names: VecDeque::new(),
            early_signals: VecDeque::new(),
            events: 0,
            first_ns: None,
            last_ns: 0,
            seen_until_ns: 0,
            signals_without_init: 0,
            unnamed: 0,
            dropped: 0,
            dropped_by_kind: [0; fencescope_schema::DROP_SLOTS as usize],
            evicted: 0,
            waits: Waits::default(),
            vb2_calls: FxHashMap::default(),
            vb2: Vb2Summary::default(),
            vb2_bufs: Vb2Bufs::default(),
            arrays: Arrays::default(),
            array_members: FxHashMap::default(),
            unpaired: 0,
            names_are_inits: false,
            emitting: FxHashMap::default(),
            filter: Filter::default(),
            stacks: None,
            trace: None,
            contract: Contract::default(),
            resvs: Default::default(),
            stage_log: None,
        }
    }

    /// Counts only what `filter` selects (see [`Filter`]).
    pub fn with_filter(mut self, filter: Filter) -> Self {
        self.waits.set_filter(filter.clone());
        self.filter = filter;
        self
    }

    /// For sessions that watched classic tracepoints only.
    pub fn with_names_as_inits(mut self, yes: bool) -> Self {
        self.names_are_inits = yes;
        self
    }

    /// Kernel addresses for classifying waits and stubs (from kallsyms
    /// live, from the capture on replay).
    pub fn with_symbols(mut self, symbols: Symbols) -> Self {
        let keep_closed = self.waits.keep_closed;
        self.waits = Waits::new(symbols);
        self.waits.keep_closed = keep_closed;
        self.waits.set_filter(self.filter.clone());
        self
    }

    pub fn feed(&mut self, ev: &Event) {
        self.events += 1;
        let ts = ev.meta.ts_ns;
        if !matches!(ev.body, Body::Drops { .. }) {
            self.first_ns.get_or_insert(ts);
            self.last_ns = self.last_ns.max(ts);
        }
        self.seen_until_ns = self.seen_until_ns.max(ts);
        let m = &ev.meta;
        match ev.body {
            Body::FenceInit { fence, context, seqno } => self.init(fence, context, seqno, m),
            Body::FenceNames { context, seqno, driver, timeline } => {
                if self.names_are_inits {
                    let addr = self.classic_key(context, seqno);
                    self.init(addr, u64::from(context), u64::from(seqno), m);
                    if let Some(q) = self.emitting.get_mut(&context).filter(|_| seqno == 0) {
                        q.push_back(addr);
                        if q.len() > self.limits.max_fences {
                            let fences = &self.fences;
                            q.retain(|a| fences.contains_key(a));
                        }
                    }
                }
                self.names((context, seqno), driver, timeline)
            }
            Body::FenceSignaled { fence: 0, context, seqno } if self.names_are_inits => {
                let addr = self.classic_signal_key(context as u32, seqno as u32);
                self.signal(addr, ts, Some(m.tid))
            }
            Body::FenceSignaled { fence, .. } => self.signal(fence, ts, Some(m.tid)),
            Body::FenceDestroy { fence } => self.destroy(fence),
            // Cumulative since the session began: the latest is the total.
            Body::Drops { by_kind } => {
                self.dropped = by_kind.iter().sum();
                self.dropped_by_kind = by_kind;
            }
            Body::ResvAdd { resv, fence, usage } => {
                self.resv_add(fence, usage, ts);
                self.resv_guarded(resv, fence, m.tid);
            }
            Body::Export { phase, object, ret } => {
                let fences = &self.fences;
                self.waits.export(m, phase, object, ret, |f| fence_state(fences, f));
            }
            Body::SyncFile { fence, context, .. } => {
                self.publish(fence);
                let array = self.is_array(fence);
                if array && let Some(members) = self.array_members.get(&fence).cloned() {
                    members.into_iter().for_each(|m| self.publish(m));
                }
                self.waits.sync_file(m, fence, context, array);
                self.hand(fence, m);
            }
            Body::DmaBufPoll { phase, file, mask } => self.waits.poll(m, phase, file, mask),
            Body::AddCallback { fence, func } => {
                self.publish(fence);
                let state = fence_state(&self.fences, fence);
                self.waits.add_callback(m, fence, func, state);
                let s = self.waits.symbols;
                if func != 0 && (func == s.dma_buf_poll_cb || func == s.fence_check_cb_func) {
                    self.hand(fence, m);
                }
            }
            Body::Arm { arg0 } => self.arm(arg0, ts),
            Body::Vb2Done { phase, .. } => self.vb2_done(m, phase),
            Body::FenceWait { phase, fence } => {
                self.publish(fence);
                self.waits.kernel_wait(m, phase, fence)
            }
            Body::Vb2Buf { queue, vb, stage } => {
                self.vb2_bufs.stage(queue, vb, stage, ts);
                self.buffer_queued(m.tid, queue, stage);
            }
            Body::ArrayCreate { count, members } => self.arrays.created(m.tid, count, &members),
        }
        if !self.waits.closed.is_empty() {
            self.stack_closed_waits();
        }
    }

    /// A fence of `context` numbered `seqno` at emit (the `dma_fence_emit`
    /// tracepoint): some drivers init their fences with seqno 0 and number
    /// them only then. Classic tracepoints only, where a fence is known by
    /// its (context, seqno), this re-keys the context's oldest fence not
    /// emitted yet, so its signal (which carries the emitted seqno) finds
    /// it; from then on that context's seqno-0 inits are queued until their
    /// emit instead of colliding on one key. With addresses it changes
    /// nothing: fences are keyed by address and names joined at init.
    pub fn fence_emitted(&mut self, context: u32, seqno: u32) {
        if !self.names_are_inits {
            return;
        }
        let queue = self.emitting.entry(context).or_default();
        // Evicted fences leave their keys behind: skip them.
        let fences = &self.fences;
        let old = std::iter::from_fn(|| queue.pop_front())
            .find(|a| fences.contains_key(a))
            // The first emit of the context: its fence is under (context, 0).
            .unwrap_or_else(|| pseudo_address(context, 0));
        let Some(mut fence) = self.fences.remove(&old) else { return };
        let new = pseudo_address(context, seqno);
        if self.fences.contains_key(&new) {
            self.close(new);
        }
        fence.seqno = u64::from(seqno);
        fence.key = (context, seqno);
        let serial = fence.serial;
        self.fences.insert(new, fence);
        // The old order entry goes stale (skipped); the fence keeps its age.
        self.order.push_back((new, serial));
        self.waits.forget(old);
    }

    /// Classic tracepoints only: the key of a fence inited as (context,
    /// seqno). A context numbered at emit gets a provisional key per
    /// seqno-0 fence, so fences waiting for their emit do not collide.
    fn classic_key(&mut self, context: u32, seqno: u32) -> u64 {
        if seqno == 0 && self.emitting.contains_key(&context) {
            // Above any (context, seqno) a real context reaches (contexts
            // are allocated from 1 upwards); unique by serial.
            PROVISIONAL | self.next_serial
        } else {
            pseudo_address(context, seqno)
        }
    }

    /// Classic tracepoints only: the fence a signal of (context, seqno)
    /// names. A seqno-0 signal on a context numbered at emit is its oldest
    /// fence not emitted yet (signalled without an emit).
    fn classic_signal_key(&mut self, context: u32, seqno: u32) -> u64 {
        let fences = &self.fences;
        let q = self.emitting.get_mut(&context).filter(|_| seqno == 0);
        q.and_then(|q| std::iter::from_fn(|| q.pop_front()).find(|a| fences.contains_key(a)))
            .unwrap_or_else(|| pseudo_address(context, seqno))
    }

    fn group_id(&mut self, driver: &str, timeline: &str, stub: bool) -> GroupId {
        self.group_id_of(driver, timeline, stub, false)
    }

    fn group_id_of(&mut self, driver: &str, timeline: &str, stub: bool, hidden: bool) -> GroupId {
        let key = (FenceName::new(driver), FenceName::new(timeline), stub, hidden);
        if let Some(&g) = self.group_ids.get(&key) {
            return g;
        }
        self.groups.push(Group::new(driver, timeline, stub, hidden));
        self.group_ids.insert(key, self.groups.len() - 1);
        self.groups.len() - 1
    }

    fn init(&mut self, addr: u64, context: u64, seqno: u64, m: &Meta) {
        let ts = m.ts_ns;
        if self.fences.contains_key(&addr) {
            // The address was freed and reused, and its destroy was not seen.
            self.close(addr);
        }
        let key = (context as u32, seqno as u32);
        let group = self
            .early_names
            .iter()
            .position(|(k, _)| *k == key)
            .and_then(|i| self.early_names.remove(i))
            .map(|(_, g)| g);
        let serial = self.next_serial;
        self.next_serial += 1;
        let fence = Fence {
            serial,
            init_ns: ts,
            key,
            group: None,
            lifetime_ns: None,
            resv: None,
            vb2_done_ns: None,
            signal_ns: 0,
            counted: self.filter.task(m.tgid, &m.comm) && ts >= self.filter.since_ns,
            context,
            seqno,
            creator_tgid: m.tgid,
            creator: m.comm,
            armed_ns: None,
            handed: None,
            published: false,
        };
        let (fences, groups) = (&self.fences, &self.groups);
        let members = self.arrays.born(m.tid, |member| {
            let g = &groups[fences.get(&member)?.group?];
            Some((g.driver.clone(), g.timeline.clone()))
        });
        if let Some(members) = members {
            self.array_members.insert(addr, members);
        }
        self.fences.insert(addr, fence);
        match group {
            Some(g) => self.file(addr, g),
            None => self.awaiting_names.entry(key).or_default().push_back(addr),
        }
        self.order.push_back((addr, serial));
        self.evict_if_full();
        self.expire_early_signals(ts);
        if let Some(i) = self.early_signals.iter().position(|&(a, at)| a == addr && at >= ts) {
            let (_, at) = self.early_signals.remove(i).expect("index from position");
            self.signal(addr, at, None);
        }
    }

    fn names(&mut self, key: NameKey, driver: FenceName, timeline: FenceName) {
        // Context 0 is never handed out by dma_fence_context_alloc: stubs.
        let g = self.group_id(&driver.as_str(), &timeline.as_str(), key.0 == 0);
        let waiting = self.awaiting_names.get_mut(&key).and_then(VecDeque::pop_front);
        if self.awaiting_names.get(&key).is_some_and(VecDeque::is_empty) {
            self.awaiting_names.remove(&key);
        }
        if let Some(addr) = waiting.filter(|a| self.fences.contains_key(a)) {
            self.file(addr, g);
            return;
        }
        if self.early_names.len() >= MAX_EARLY_NAMES {
            self.early_names.pop_front();
        }
        self.early_names.push_back((key, g));
    }

    /// Files a tracked fence under its group, with its lifetime if it has
    /// already signalled (a signal can beat the names when events reorder).
    fn file(&mut self, addr: u64, g: GroupId) {
        let Some(&f) = self.fences.get(&addr) else {
            return;
        };
        let shown = &self.groups[g];
        let g = if !shown.hidden && !(f.counted && self.filter.driver(&shown.driver)) {
            let (d, t, stub) = (shown.driver.clone(), shown.timeline.clone(), shown.stub);
            self.group_id_of(&d, &t, stub, true)
        } else {
            g
        };
        if let Some(fence) = self.fences.get_mut(&addr) {
            fence.group = Some(g);
        }
        let group = &mut self.groups[g];
        group.fences += 1;
        if let Some((_, usage)) = f.resv {
            group.resv_usage[(usage as usize).min(3)] += 1;
        }
        record_signal(group, &f);
    }

    /// The fence's group, filing it under "?" if its names never came.
    fn resolve(&mut self, addr: u64) -> Option<GroupId> {
        let fence = *self.fences.get(&addr)?;
        if let Some(g) = fence.group {
            return Some(g);
        }
        self.unlink_awaiting(addr, fence.key);
        let g = self.group_id("?", "?", false);
        self.unnamed += 1;
        self.file(addr, g);
        Some(g)
    }

    fn unlink_awaiting(&mut self, addr: u64, key: NameKey) {
        if let Some(q) = self.awaiting_names.get_mut(&key) {
            q.retain(|&a| a != addr);
            if q.is_empty() {
                self.awaiting_names.remove(&key);
            }
        }
    }

    fn signal(&mut self, addr: u64, ts: u64, tid: Option<u32>) {
        // Inside vb2_buffer_done on this thread: the producer's done.
        let vb2 = tid.and_then(|t| self.vb2_calls.get_mut(&t)).map(|(at, any)| {
            *any = true;
            *at
        });
        self.waits.signalled(addr, ts);
        let Some(fence) = self.fences.get_mut(&addr) else {
            self.expire_early_signals(ts);
            self.early_signals.push_back((addr, ts));
            return;
        };
        if fence.lifetime_ns.is_some() {
            return;
        }
        fence.lifetime_ns = Some(ts.saturating_sub(fence.init_ns));
        fence.signal_ns = ts;
        fence.vb2_done_ns = vb2;
        let f = *fence;
        self.contract_on_signal(&f, ts);
        self.trace_fence(&f, ts);
        if let Some(g) = f.group {
            record_signal(&mut self.groups[g], &f);
            let g = &self.groups[g];
            if let Some(stacks) = self.stacks.as_mut().filter(|_| f.counted && !g.hidden) {
                let marks = Marks {
                    init: f.init_ns,
                    resv_attach: f.resv.map(|r| r.0),
                    vb2_done: f.vb2_done_ns,
                    signal: ts,
                };
                stacks.lifetime(&g.driver, &g.timeline, marks);
            }
        }
    }

    fn resv_add(&mut self, addr: u64, usage: u32, ts: u64) {
        let Some(fence) = self.fences.get_mut(&addr) else {
            self.unpaired += 1;
            return;
        };
        fence.published = true;
        if fence.resv.is_some() {
            return;
        }
        fence.resv = Some((ts, usage));
        if let Some(g) = fence.group {
            self.groups[g].resv_usage[(usage as usize).min(3)] += 1;
        }
    }

    fn vb2_done(&mut self, m: &Meta, phase: Phase) {
        match phase {
            Phase::Entry => {
                self.vb2.buffers_done += 1;
                self.vb2_calls.insert(m.tid, (m.ts_ns, false));
            }
            Phase::Return => match self.vb2_calls.remove(&m.tid) {
                Some((_, true)) => self.vb2.with_fence += 1,
                Some(_) => {}
                None => self.unpaired += 1,
            },
        }
    }

    /// Someone could wait on `addr` from now on.
    fn publish(&mut self, addr: u64) {
        if let Some(f) = self.fences.get_mut(&addr) {
            f.published = true;
        }
    }

    fn is_array(&self, addr: u64) -> bool {
        self.fences
            .get(&addr)
            .and_then(|f| f.group)
            .is_some_and(|g| self.groups[g].driver == "dma_fence_array")
    }

    fn destroy(&mut self, addr: u64) {
        if self.fences.contains_key(&addr) {
            self.close(addr);
        }
    }

    /// Removes a tracked fence, counting it if it never signalled.
    fn close(&mut self, addr: u64) -> Option<Fence> {
        let g = self.resolve(addr)?;
        let fence = self.fences.remove(&addr)?;
        self.waits.forget(addr);
        self.array_members.remove(&addr);
        if fence.lifetime_ns.is_none() {
            if fence.published {
                self.groups[g].destroyed_unsignalled += 1;
                self.contract_on_destroy(&fence);
            } else {
                // Nobody could have waited on it: no hang, whatever it was.
                self.groups[g].dropped_unpublished += 1;
            }
            self.trace_fence(&fence, self.last_ns);
        }
        Some(fence)
    }

    fn evict_if_full(&mut self) {
        while self.fences.len() > self.limits.max_fences {
            let Some((addr, serial)) = self.order.pop_front() else {
                break;
            };
            if self.fences.get(&addr).is_some_and(|f| f.serial == serial) {
                // Filed under its group before it goes, so it is still counted.
                self.resolve(addr);
                let fence = self.fences.remove(&addr).expect("fence is tracked");
                self.waits.forget(addr);
                self.array_members.remove(&addr);
                if fence.lifetime_ns.is_none() {
                    self.evicted += 1;
                }
            }
        }
        // Destroyed fences leave stale order entries; keep the queue bounded.
        if self.order.len() > 2 * self.fences.len() + 1024 {
            let fences = &self.fences;
            self.order.retain(|(a, s)| fences.get(a).is_some_and(|f| f.serial == *s));
        }
    }

    fn expire_early_signals(&mut self, now: u64) {
        while let Some(&(_, at)) = self.early_signals.front() {
            if now.saturating_sub(at) <= self.limits.early_signal_window_ns {
                break;
            }
            self.early_signals.pop_front();
            self.signals_without_init += 1;
        }
    }
}

/// A signalled fence's figures, into its group.
fn record_signal(group: &mut Group, f: &Fence) {
    let Some(ns) = f.lifetime_ns else { return };
    group.signalled += 1;
    group.lifetime.record(ns);
    if let Some((at, _)) = f.resv {
        group.attach_to_signal.record(f.signal_ns.saturating_sub(at));
    }
    if let Some(at) = f.vb2_done_ns {
        group.vb2_to_signal.record(f.signal_ns.saturating_sub(at));
    }
}

fn fence_state(fences: &FxHashMap<u64, Fence>, addr: u64) -> FenceState {
    match fences.get(&addr) {
        Some(f) if f.lifetime_ns.is_some() => FenceState::Signalled,
        Some(_) => FenceState::Unsignalled,
        None => FenceState::Unknown,
    }
}

#[path = "engine_summary.rs"]
mod summary_impl;
pub use summary_impl::Distributions;

#[path = "engine_contract.rs"]
mod contract_impl;

#[path = "engine_outputs.rs"]
mod outputs_impl;

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
