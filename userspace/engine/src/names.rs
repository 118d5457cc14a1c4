//! Joining a fence's names to its init, and keying fences when no record
//! carries an address.
//!
//! Names come from a second record of the same `dma_fence_init` call (the
//! classic tracepoint has the strings, the raw tracepoint or kprobe has the
//! pointer); they are joined on the 32-bit (context, seqno) the classic
//! record carries, in whichever order the two arrive.
use std::collections::VecDeque;

use rustc_hash::FxHashMap;

use crate::fences::{FenceTable, NameKey};
use crate::groups::GroupId;

/// Names that arrive before their init wait here; a handful at most, since
/// both records come from one call on one CPU.
const MAX_EARLY_NAMES: usize = 64;

/// Fences waiting for their names, and names waiting for their fence.
#[derive(Debug, Default)]
pub(crate) struct Names {
    awaiting: FxHashMap<NameKey, VecDeque<u64>>,
    early: VecDeque<(NameKey, GroupId)>,
}

impl Names {
    /// The group of names that came before the init of `key`, taken.
    pub fn take_early(&mut self, key: NameKey) -> Option<GroupId> {
        let i = self.early.iter().position(|(k, _)| *k == key)?;
        self.early.remove(i).map(|(_, g)| g)
    }

    /// The fence at `addr` waits for the names of `key`.
    pub fn await_names(&mut self, key: NameKey, addr: u64) {
        self.awaiting.entry(key).or_default().push_back(addr);
    }

    /// Names of `key` (group `g`) arrived: the fence that waited for them,
    /// if one still followed did; else they wait for their init.
    pub fn arrived(&mut self, key: NameKey, g: GroupId, fences: &FenceTable) -> Option<u64> {
        let waiting = self.awaiting.get_mut(&key).and_then(VecDeque::pop_front);
        if self.awaiting.get(&key).is_some_and(VecDeque::is_empty) {
            self.awaiting.remove(&key);
        }
        if let Some(addr) = waiting.filter(|&a| fences.contains(a)) {
            return Some(addr);
        }
        if self.early.len() >= MAX_EARLY_NAMES {
            self.early.pop_front();
        }
        self.early.push_back((key, g));
        None
    }

    /// The fence at `addr` stops waiting for the names of `key`.
    pub fn unlink(&mut self, addr: u64, key: NameKey) {
        if let Some(q) = self.awaiting.get_mut(&key) {
            q.retain(|&a| a != addr);
            if q.is_empty() {
                self.awaiting.remove(&key);
            }
        }
    }
}

/// The key a fence gets when no address is known (classic tracepoints
/// only, where no record carries one): its 32-bit (context, seqno).
pub(crate) fn pseudo_address(context: u32, seqno: u32) -> u64 {
    (u64::from(context) << 32) | u64::from(seqno)
}

/// Provisional keys of classic-mode fences awaiting their emit.
const PROVISIONAL: u64 = 1 << 63;

/// Keys for sessions that watched classic tracepoints only: a names record
/// is the init, and fences are keyed by their 32-bit (context, seqno).
#[derive(Debug, Default)]
pub(crate) struct ClassicKeys {
    pub on: bool,
    /// Contexts whose fences are numbered at emit (an emit was seen), and
    /// their fences inited with seqno 0 and not emitted yet, oldest first,
    /// under provisional keys.
    emitting: FxHashMap<u32, VecDeque<u64>>,
}

impl ClassicKeys {
    /// The key of a fence inited as (context, seqno). A context numbered at
    /// emit gets a provisional key per seqno-0 fence, so fences waiting for
    /// their emit do not collide.
    pub fn init_key(&self, context: u32, seqno: u32, fences: &FenceTable) -> u64 {
        if seqno == 0 && self.emitting.contains_key(&context) {
            // Above any (context, seqno) a real context reaches (contexts
            // are allocated from 1 upwards); unique by serial.
            PROVISIONAL | fences.next_serial()
        } else {
            pseudo_address(context, seqno)
        }
    }

    /// A fence was inited at `addr`: on a context numbered at emit, a
    /// seqno-0 fence waits for its emit.
    pub fn inited(&mut self, context: u32, seqno: u32, addr: u64, fences: &FenceTable, max: usize) {
        if let Some(q) = self.emitting.get_mut(&context).filter(|_| seqno == 0) {
            q.push_back(addr);
            if q.len() > max {
                q.retain(|&a| fences.contains(a));
            }
        }
    }

    /// The fence a signal of (context, seqno) names. A seqno-0 signal on a
    /// context numbered at emit is its oldest fence not emitted yet
    /// (signalled without an emit).
    pub fn signal_key(&mut self, context: u32, seqno: u32, fences: &FenceTable) -> u64 {
        let q = self.emitting.get_mut(&context).filter(|_| seqno == 0);
        q.and_then(|q| std::iter::from_fn(|| q.pop_front()).find(|&a| fences.contains(a)))
            .unwrap_or_else(|| pseudo_address(context, seqno))
    }

    /// An emit on `context`: from now on it is numbered at emit. The key of
    /// its oldest fence not emitted yet, taken (evicted fences leave their
    /// keys behind: skipped).
    pub fn emitted(&mut self, context: u32, fences: &FenceTable) -> u64 {
        let queue = self.emitting.entry(context).or_default();
        std::iter::from_fn(|| queue.pop_front())
            .find(|&a| fences.contains(a))
            // The first emit of the context: its fence is under (context, 0).
            .unwrap_or_else(|| pseudo_address(context, 0))
    }
}
