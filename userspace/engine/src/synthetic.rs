//! A synthetic stream shaped like a compositor session, for benchmarks:
//! per fence an init, its names, a resv add, an export (entry, sync_file,
//! return), a signal and a destroy — eight records, one fence a `gap_ns`.
use crate::event::{Body, Event, Meta, Name, Phase};

/// `fences` fences spread over `timelines` drivers, each living 0.5 ms.
pub fn compositor_session(fences: u64, timelines: u64, gap_ns: u64) -> Vec<Event> {
    compositor_session_from(0, fences, timelines, gap_ns)
}

/// Fences `first..first + fences` of the same session, for streams too
/// long to hold at once.
pub fn compositor_session_from(first: u64, fences: u64, timelines: u64, gap_ns: u64) -> Vec<Event> {
    let mut out = Vec::with_capacity(fences as usize * 8);
    let mut push = |ts: u64, tid: u32, comm: &str, body: Body| {
        let meta = Meta { ts_ns: ts, cpu: 0, tgid: tid, tid, comm: Name::new(comm), via: None };
        out.push(Event { meta, body });
    };
    for i in first..first + fences {
        let t = i * gap_ns;
        // A few hundred live buffers' worth of addresses, reused.
        let fence = 0xffff_8880_0000_0000 + (i % 512) * 256;
        let context = 1000 + i;
        let driver = format!("drv{}", i % timelines.max(1));
        let names = Body::FenceNames {
            context: context as u32,
            seqno: 1,
            driver: Name::new(&driver),
            timeline: Name::new("unbound"),
        };
        push(t, 10, "producer", Body::FenceInit { fence, context, seqno: 1 });
        push(t, 10, "producer", names);
        push(t + 1_000, 10, "producer", Body::ResvAdd { resv: 0x55, fence, usage: 1 });
        let (entry, ret) = (Phase::Entry, Phase::Return);
        push(t + 2_000, 20, "kwin_wayland", Body::Export { phase: entry, object: 0xf1, ret: 0 });
        push(t + 3_000, 20, "kwin_wayland", Body::SyncFile { fence, context, seqno: 1 });
        push(t + 4_000, 20, "kwin_wayland", Body::Export { phase: ret, object: 0, ret: 0 });
        push(t + 500_000, 10, "producer", Body::FenceSignaled { fence, context: 0, seqno: 0 });
        push(t + 600_000, 10, "producer", Body::FenceDestroy { fence });
    }
    out
}
