//! The fences being followed, by address, and the signals that came before
//! their fence did.
//!
//! Addresses are reused once a fence is freed, so each entry carries a
//! serial number: the eviction order names (address, serial), and an entry
//! whose serial no longer matches is stale and skipped.
use std::collections::VecDeque;

use rustc_hash::FxHashMap;

use crate::event::Comm;
use crate::waits::FenceState;

/// The 32-bit (context, seqno) the classic tracepoint's records carry: what
/// names join on.
pub(crate) type NameKey = (u32, u32);

/// A group's index (see `groups`); groups are never removed.
pub(crate) type GroupId = usize;

/// One fence from its init to its destroy (or eviction).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fence {
    pub serial: u64,
    pub init_ns: u64,
    pub key: NameKey,
    pub group: Option<GroupId>,
    /// init → signal, once signalled.
    pub lifetime_ns: Option<u64>,
    /// First `dma_resv_add_fence`: when, and with which usage.
    pub resv: Option<(u64, u32)>,
    /// Entry of the `vb2_buffer_done` call it signalled in.
    pub vb2_done_ns: Option<u64>,
    pub signal_ns: u64,
    /// Its creator passes the task filter.
    pub counted: bool,
    pub context: u64,
    pub seqno: u64,
    /// The task that initialised it (the one a fence made at QBUF names).
    pub creator_tgid: u32,
    pub creator: Comm,
    /// When the arm hook committed the job that signals it.
    pub armed_ns: Option<u64>,
    /// When, and to whom, it was first handed out unsignalled.
    pub handed: Option<Hand>,
    /// Someone could have waited on it: added to a reservation object,
    /// handed out in a sync_file (itself or an array holding it), polled
    /// or waited on. A driver may init fences and drop them before any of
    /// that; those are no hang.
    pub published: bool,
}

impl Fence {
    /// Not signalled yet.
    pub fn alive(&self) -> bool {
        self.lifetime_ns.is_none()
    }
}

/// A fence handed to userspace: an export gave it, or a poll waits on it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Hand {
    pub at_ns: u64,
    pub tgid: u32,
    pub comm: Comm,
}

/// The fences followed, with their age order for eviction.
#[derive(Debug, Default)]
pub(crate) struct FenceTable {
    by_addr: FxHashMap<u64, Fence>,
    next_serial: u64,
    /// Insertion order for eviction: (address, serial); stale entries are
    /// skipped.
    order: VecDeque<(u64, u64)>,
}

impl FenceTable {
    pub fn get(&self, addr: u64) -> Option<&Fence> {
        self.by_addr.get(&addr)
    }

    pub fn get_mut(&mut self, addr: u64) -> Option<&mut Fence> {
        self.by_addr.get_mut(&addr)
    }

    pub fn contains(&self, addr: u64) -> bool {
        self.by_addr.contains_key(&addr)
    }

    pub fn len(&self) -> usize {
        self.by_addr.len()
    }

    /// The serial the next new fence gets.
    pub fn next_serial(&self) -> u64 {
        self.next_serial
    }

    /// Follows a new fence at `addr` (free: close the old one first), built
    /// by `make` from its serial.
    pub fn insert_new(&mut self, addr: u64, make: impl FnOnce(u64) -> Fence) {
        let serial = self.next_serial;
        self.next_serial += 1;
        self.by_addr.insert(addr, make(serial));
        self.order.push_back((addr, serial));
    }

    /// Moves a fence to `addr` (re-keyed at emit), keeping its serial: the
    /// old order entry goes stale and the fence keeps its age.
    pub fn insert_moved(&mut self, addr: u64, fence: Fence) {
        self.order.push_back((addr, fence.serial));
        self.by_addr.insert(addr, fence);
    }

    pub fn remove(&mut self, addr: u64) -> Option<Fence> {
        self.by_addr.remove(&addr)
    }

    pub fn iter(&self) -> impl Iterator<Item = (u64, &Fence)> {
        self.by_addr.iter().map(|(a, f)| (*a, f))
    }

    pub fn values(&self) -> impl Iterator<Item = &Fence> {
        self.by_addr.values()
    }

    /// What a waiter would find at `addr`.
    pub fn state(&self, addr: u64) -> FenceState {
        match self.by_addr.get(&addr) {
            Some(f) if !f.alive() => FenceState::Signalled,
            Some(_) => FenceState::Unsignalled,
            None => FenceState::Unknown,
        }
    }

    /// The oldest fence still followed, its order entry taken.
    pub fn pop_oldest(&mut self) -> Option<u64> {
        while let Some((addr, serial)) = self.order.pop_front() {
            if self.by_addr.get(&addr).is_some_and(|f| f.serial == serial) {
                return Some(addr);
            }
        }
        None
    }

    /// Entries in the eviction order, stale ones included.
    #[cfg(test)]
    pub fn order_len(&self) -> usize {
        self.order.len()
    }

    /// Destroyed fences leave stale order entries: keep the queue bounded.
    pub fn compact_order(&mut self) {
        if self.order.len() > 2 * self.by_addr.len() + 1024 {
            let by_addr = &self.by_addr;
            self.order.retain(|(a, s)| by_addr.get(a).is_some_and(|f| f.serial == *s));
        }
    }
}

/// Signals whose init has not been seen yet, oldest first. Records of one
/// fence can arrive out of order across CPUs; a signal that waits past the
/// window is of a fence born before the session.
#[derive(Debug, Default)]
pub(crate) struct EarlySignals {
    window_ns: u64,
    /// (address, time), oldest first.
    pending: VecDeque<(u64, u64)>,
    /// Waited past the window: signals of fences never seen.
    expired: u64,
}

impl EarlySignals {
    pub fn new(window_ns: u64) -> Self {
        EarlySignals { window_ns, ..Default::default() }
    }

    pub fn expire(&mut self, now: u64) {
        while let Some(&(_, at)) = self.pending.front() {
            if now.saturating_sub(at) <= self.window_ns {
                break;
            }
            self.pending.pop_front();
            self.expired += 1;
        }
    }

    pub fn push(&mut self, addr: u64, ts: u64) {
        self.expire(ts);
        self.pending.push_back((addr, ts));
    }

    /// The time of a signal of `addr` at or after `since`, taken.
    pub fn take(&mut self, addr: u64, since: u64) -> Option<u64> {
        let i = self.pending.iter().position(|&(a, at)| a == addr && at >= since)?;
        self.pending.remove(i).map(|(_, at)| at)
    }

    /// Signals without an init: expired, and still waiting.
    pub fn without_init(&self) -> u64 {
        self.expired + self.pending.len() as u64
    }

    pub fn reset_interval(&mut self) {
        self.expired = 0;
    }
}
