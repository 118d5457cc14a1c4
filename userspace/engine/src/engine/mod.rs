//! Pairing fence events into lifetimes, waits and the contract's checks.
//!
//! The engine routes each event to the parts that own the state it changes
//! — the fences followed ([`FenceTable`]), their groups, the name join,
//! waits, videobuf2, arrays, the contract — and keeps only the session's
//! own counters. The lifecycle of one fence (init, names, signal, destroy)
//! is in `lifecycle.rs`; the figures out in `summary.rs` and `outputs.rs`.
use crate::arrays::Arrays;
use crate::contract::{Contract, Seen};
use crate::event::{Body, Event};
use crate::fences::{EarlySignals, FenceTable};
use crate::filter::Filter;
use crate::groups::Groups;
use crate::names::{ClassicKeys, Names};
use crate::stacks::Stacks;
use crate::trace::Trace;
use crate::vb2::Vb2;
use crate::waits::{Symbols, Waits};

/// What the contract reads of the fences, groups and waits: a macro, not a
/// method, so the borrow is of those fields alone and the contract can be
/// changed beside it.
macro_rules! seen {
    ($engine:expr) => {
        Seen {
            fences: &$engine.fences,
            groups: &$engine.groups,
            waits: &$engine.waits,
            vb2: &$engine.vb2,
        }
    };
}

mod lifecycle;
mod outputs;
mod summary;
pub use summary::Distributions;

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

/// The session's own counters: what no part owns.
#[derive(Debug, Default)]
struct Tally {
    events: u64,
    first_ns: Option<u64>,
    last_ns: u64,
    /// The latest time any record speaks for, userspace's `Drops` records
    /// included (the recorder writes one when it stops): how long a fence
    /// still unsignalled at the end had been alive.
    seen_until_ns: u64,
    /// Fences filed under "?" because their names never came.
    unnamed: u64,
    dropped: u64,
    /// The last `Drops` record: cumulative drops by record kind (the slot).
    dropped_by_kind: [u64; fencescope_schema::DROP_SLOTS as usize],
    /// Fences evicted unsignalled to keep within the limit.
    evicted: u64,
    /// Records whose other half (entry, return, fence) was not seen.
    unpaired: u64,
}

impl Tally {
    fn see(&mut self, ev: &Event) {
        self.events += 1;
        let ts = ev.meta.ts_ns;
        if !matches!(ev.body, Body::Drops { .. }) {
            self.first_ns.get_or_insert(ts);
            self.last_ns = self.last_ns.max(ts);
        }
        self.seen_until_ns = self.seen_until_ns.max(ts);
    }

    /// Counters restart; the clock and the drops (cumulative) carry over.
    fn reset_interval(&mut self) {
        *self = Tally {
            last_ns: self.last_ns,
            seen_until_ns: self.seen_until_ns,
            dropped: self.dropped,
            dropped_by_kind: self.dropped_by_kind,
            ..Tally::default()
        };
    }
}

/// What the engine can keep beyond the summary, when asked for.
#[derive(Debug, Default)]
struct Extras {
    /// Folded stacks for flamegraphs.
    stacks: Option<Stacks>,
    /// Every fence's and wait's span.
    trace: Option<Trace>,
}

/// Events in, measurements out. Feed it in ring-buffer order.
#[derive(Debug)]
pub struct Engine {
    limits: Limits,
    filter: Filter,
    tally: Tally,
    fences: FenceTable,
    early_signals: EarlySignals,
    groups: Groups,
    names: Names,
    classic: ClassicKeys,
    waits: Waits,
    vb2: Vb2,
    arrays: Arrays,
    contract: Contract,
    extras: Extras,
}

impl Default for Engine {
    fn default() -> Self {
        Engine::new(Limits::default())
    }
}

impl Engine {
    /// An engine that keeps within `limits`.
    pub fn new(limits: Limits) -> Self {
        Engine {
            limits,
            filter: Filter::default(),
            tally: Tally::default(),
            fences: FenceTable::default(),
            early_signals: EarlySignals::new(limits.early_signal_window_ns),
            groups: Groups::default(),
            names: Names::default(),
            classic: ClassicKeys::default(),
            waits: Waits::default(),
            vb2: Vb2::default(),
            arrays: Arrays::default(),
            contract: Contract::default(),
            extras: Extras::default(),
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
        self.classic.on = yes;
        self
    }

    /// Whether a fence's names record is its init (classic tracepoints
    /// only): then that is the record a fence is born of.
    pub fn names_are_inits(&self) -> bool {
        self.classic.on
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

    /// One event, in ring-buffer order.
    pub fn feed(&mut self, ev: &Event) {
        self.tally.see(ev);
        let ts = ev.meta.ts_ns;
        let m = &ev.meta;
        match ev.body {
            Body::FenceInit { fence, context, seqno } => self.init(fence, context, seqno, m),
            Body::FenceNames { context, seqno, driver, timeline } => {
                if self.classic.on {
                    let addr = self.classic.init_key(context, seqno, &self.fences);
                    self.init(addr, u64::from(context), u64::from(seqno), m);
                    let max = self.limits.max_fences;
                    self.classic.inited(context, seqno, addr, &self.fences, max);
                }
                self.names((context, seqno), driver, timeline)
            }
            Body::FenceSignaled { fence: 0, context, seqno } if self.classic.on => {
                let addr = self.classic.signal_key(context as u32, seqno as u32, &self.fences);
                self.signal(addr, ts, Some(m.tid))
            }
            Body::FenceSignaled { fence, .. } => self.signal(fence, ts, Some(m.tid)),
            Body::FenceDestroy { fence, signalled } => self.destroy(fence, signalled),
            // Cumulative since the session began: the latest is the total.
            Body::Drops { by_kind } => {
                self.tally.dropped = by_kind.iter().sum();
                self.tally.dropped_by_kind = by_kind;
            }
            Body::ResvAdd { resv, fence, usage } => {
                self.resv_add(fence, usage, ts);
                let now = self.tally.seen_until_ns;
                self.contract.resv_added(seen!(self), resv, fence, m.tid, now);
            }
            Body::Export { phase, object, ret } => {
                let fences = &self.fences;
                self.waits.export(m, phase, object, ret, |f| fences.state(f));
            }
            Body::SyncFile { fence, context, .. } => {
                self.publish(fence);
                let array = self.is_array(fence);
                if array && let Some(members) = self.arrays.members(fence) {
                    for &member in members {
                        if let Some(f) = self.fences.get_mut(member) {
                            f.published = true;
                        }
                    }
                }
                self.waits.sync_file(m, fence, context, array);
                self.hand(fence, m);
            }
            Body::DmaBufPoll { phase, file, mask } => self.waits.poll(m, phase, file, mask),
            Body::AddCallback { fence, func } => {
                self.publish(fence);
                self.waits.add_callback(m, fence, func, self.fences.state(fence));
                let s = self.waits.symbols;
                if func != 0 && (func == s.dma_buf_poll_cb || func == s.fence_check_cb_func) {
                    self.hand(fence, m);
                }
            }
            Body::Arm { arg0 } => self.contract.arm(&mut self.fences, &mut self.groups, arg0, ts),
            Body::Vb2Done { phase, vb, .. } => {
                if !self.vb2.done(m.tid, ts, phase, vb) {
                    self.tally.unpaired += 1;
                }
            }
            Body::FenceWait { phase, fence } => {
                self.publish(fence);
                // A kernel waiter (a KMS commit, say) is one more taker: on
                // an unarmed fence it too waits on userspace.
                if phase == crate::event::Phase::Entry {
                    self.hand(fence, m);
                }
                let group = self.fences.get(fence).and_then(|f| f.group);
                self.waits.kernel_wait(m, phase, fence, group)
            }
            Body::Vb2Queue { queue, queue_type, device, driver, node } => {
                let who = crate::vb2::Who {
                    driver: driver.as_str().into_owned(),
                    device: device.as_str().into_owned(),
                    node: Some(node.as_str())
                        .filter(|n| crate::vb2::looks_like_a_node(n))
                        .map_or(String::new(), |n| n.into_owned()),
                    queue_type,
                    process: m.comm.as_str().into_owned(),
                    pid: m.tgid,
                };
                self.vb2.named(queue, who);
            }
            Body::Vb2Buf { queue, vb, stage } => {
                self.vb2.stage(queue, vb, stage, ts);
                self.contract.buffer_stage(m.tid, queue, stage);
            }
            Body::ArrayCreate { count, members } => self.arrays.created(m.tid, count, &members),
        }
        if !self.waits.closed.is_empty() {
            self.stack_closed_waits();
        }
    }
}

#[cfg(test)]
mod tests;
