//! `dma_fence_array`s and the fences they hold. An export of a buffer with
//! several unsignalled fences hands out an array made on the spot; its
//! members say whose work the waiter really waits for.
use rustc_hash::FxHashMap;

use crate::summary::ArraySummary;

/// Threads with an array create pending are few; more means lost inits.
const MAX_PENDING: usize = 1024;

#[derive(Debug, Default)]
pub(crate) struct Arrays {
    /// Members announced by `dma_fence_array_create`, by thread, until the
    /// array's own init on that thread.
    pending: FxHashMap<u32, (u32, Vec<u64>)>,
    /// Members of the arrays being followed, by the array's address: an
    /// export of the array publishes them.
    members_of: FxHashMap<u64, Vec<u64>>,
    arrays: u64,
    members: u64,
    unlisted: u64,
    by_group: FxHashMap<(String, String), u64>,
}

impl Arrays {
    /// `dma_fence_array_create` on `tid` announced `count` members.
    pub fn created(&mut self, tid: u32, count: u32, members: &[u64]) {
        if self.pending.len() >= MAX_PENDING {
            self.pending.clear();
        }
        let listed: Vec<u64> = members.iter().copied().take(count as usize).collect();
        self.pending.insert(tid, (count, listed));
    }

    /// A fence was born at `addr` on `tid`: if an array create was pending
    /// there, this is the array, and its listed members are kept until
    /// [`Arrays::forget`]. `group_of` names a member fence (driver,
    /// timeline).
    pub fn born(
        &mut self,
        tid: u32,
        addr: u64,
        group_of: impl Fn(u64) -> Option<(String, String)>,
    ) {
        let Some((count, listed)) = self.pending.remove(&tid) else { return };
        self.arrays += 1;
        self.members += u64::from(count);
        self.unlisted += u64::from(count).saturating_sub(listed.len() as u64);
        for &m in &listed {
            let g = group_of(m).unwrap_or_else(|| ("?".into(), "?".into()));
            *self.by_group.entry(g).or_default() += 1;
        }
        self.members_of.insert(addr, listed);
    }

    /// The listed members of the array at `addr`, if it is one followed.
    pub fn members(&self, addr: u64) -> Option<&[u64]> {
        self.members_of.get(&addr).map(Vec::as_slice)
    }

    /// The fence at `addr` is no longer followed.
    pub fn forget(&mut self, addr: u64) {
        self.members_of.remove(&addr);
    }

    /// Counts restart; arrays pending or followed carry over.
    pub fn reset_interval(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        let members_of = std::mem::take(&mut self.members_of);
        *self = Arrays { pending, members_of, ..Default::default() };
    }

    pub fn summary(&self) -> ArraySummary {
        let mut member_groups: Vec<(String, String, u64)> =
            self.by_group.iter().map(|((d, t), n)| (d.clone(), t.clone(), *n)).collect();
        member_groups.sort();
        ArraySummary {
            arrays: self.arrays,
            members: self.members,
            unlisted: self.unlisted,
            member_groups,
        }
    }
}
