//! Reservation objects by what has guarded them: a buffer the series'
//! fences guard is a V4L2 buffer, and another driver's fence on it is
//! foreign (a GPU writing a V4L2 buffer), whichever came first.
use std::collections::VecDeque;

use rustc_hash::FxHashMap;

/// Reservation objects remembered at once; the oldest are forgotten first.
const MAX_RESVS: usize = 4096;

/// Fences of other drivers remembered per reservation object before its
/// first series fence: a few at most.
const MAX_OTHERS: usize = 8;

#[derive(Clone, Debug, Default)]
struct ResvState {
    /// A fence of the series' driver guarded it: a V4L2 buffer.
    vb2: bool,
    /// Fences of other drivers on it, by address, not yet counted (they
    /// came before the first videobuf2 fence).
    others: Vec<u64>,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct Resvs {
    by_resv: FxHashMap<u64, ResvState>,
    order: VecDeque<u64>,
}

impl Resvs {
    /// `fence` (the series' own if `series`) was added to `resv`: the
    /// fences this makes foreign.
    pub fn added(&mut self, resv: u64, fence: u64, series: bool) -> Vec<u64> {
        if !self.by_resv.contains_key(&resv) {
            if self.order.len() >= MAX_RESVS
                && let Some(old) = self.order.pop_front()
            {
                self.by_resv.remove(&old);
            }
            self.order.push_back(resv);
        }
        let state = self.by_resv.entry(resv).or_default();
        if series {
            state.vb2 = true;
            std::mem::take(&mut state.others)
        } else if state.vb2 {
            vec![fence]
        } else {
            if state.others.len() < MAX_OTHERS {
                state.others.push(fence);
            }
            Vec::new()
        }
    }
}
