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
        push(t + 600_000, 10, "producer", Body::FenceDestroy { fence, signalled: Some(true) });
    }
    out
}

/// A stateful decoder's session: per frame a bitstream buffer through the
/// OUTPUT queue and a frame through the CAPTURE queue, whose fence (the
/// series') signals inside `vb2_buffer_done`; 4 buffers per queue, one
/// frame a `gap_ns`, each decoded in 5 ms.
pub fn decoder_session(frames: u64, gap_ns: u64) -> Vec<Event> {
    use fencescope_schema::{VB2_BUF_DONE, VB2_BUF_QUEUE, VB2_DQBUF, VB2_QBUF};
    let mut out = Vec::with_capacity(frames as usize * 16);
    let mut push = |ts: u64, tid: u32, body: Body| {
        let comm = if tid == 30 { "chromium" } else { "hantro-irq" };
        let meta = Meta { ts_ns: ts, cpu: 0, tgid: tid, tid, comm: Name::new(comm), via: None };
        out.push(Event { meta, body });
    };
    let (bitstream, frames_q) = (0xffff_8881_0000_0000u64, 0xffff_8881_0001_0000u64);
    for (queue, queue_type) in [(bitstream, 10), (frames_q, 9)] {
        push(
            0,
            30,
            Body::Vb2Queue {
                queue,
                queue_type,
                device: Name::new("fdea0000.video-codec"),
                driver: Name::new("hantro-vpu"),
                node: Name::new("video1"),
            },
        );
    }
    for i in 0..frames {
        let t = i * gap_ns + 1;
        let done = t + 5_000_000;
        for queue in [bitstream, frames_q] {
            let vb = queue + 0x100 * (i % 4);
            push(t, 30, Body::Vb2Buf { queue, vb, stage: VB2_QBUF });
            push(t, 30, Body::Vb2Buf { queue, vb, stage: VB2_BUF_QUEUE });
            push(done, 40, Body::Vb2Done { phase: Phase::Entry, vb, state: 2 });
            if queue == frames_q {
                let fence = 0xffff_8882_0000_0000 + (i % 4) * 256;
                let (context, seqno) = (7, i + 1);
                push(t, 30, Body::FenceInit { fence, context, seqno });
                push(done + 2_000, 40, Body::FenceSignaled { fence, context, seqno });
            }
            push(done + 3_000, 40, Body::Vb2Done { phase: Phase::Return, vb: 0, state: 0 });
            push(done + 3_000, 40, Body::Vb2Buf { queue, vb, stage: VB2_BUF_DONE });
            push(done + 1_000_000, 30, Body::Vb2Buf { queue, vb, stage: VB2_DQBUF });
        }
    }
    out.sort_by_key(|e| e.meta.ts_ns);
    out
}
