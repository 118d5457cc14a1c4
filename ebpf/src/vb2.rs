//! videobuf2 (the producer's side) and waits inside the kernel.
use aya_ebpf::{
    macros::{kprobe, kretprobe, raw_tracepoint},
    programs::{ProbeContext, RawTracePointContext, RetProbeContext},
};
use fencescope_schema::{
    FenceWait, Kind, PHASE_ENTRY, PHASE_RETURN, VB2_BUF_DONE, VB2_BUF_QUEUE, VB2_DQBUF, VB2_QBUF,
    Vb2Buf, Via,
};

use crate::{call, emit};

/// `vb2_buffer_done(vb, state)`: the producer's done, whose window holds the
/// signal of the buffer's fence under the series.
#[kprobe]
pub fn vb2_done_entry(ctx: ProbeContext) -> i32 {
    let vb: u64 = ctx.arg(0).unwrap_or(0);
    let state: u64 = ctx.arg(1).unwrap_or(0);
    call(Kind::Vb2Done, Via::Kprobe, vb, state, 0, PHASE_ENTRY);
    0
}

#[kretprobe]
pub fn vb2_done_return(_ctx: RetProbeContext) -> i32 {
    call(Kind::Vb2Done, Via::Kprobe, 0, 0, 0, PHASE_RETURN);
    0
}

#[inline(always)]
fn fence_wait(ctx: &RawTracePointContext, phase: u32) {
    let fence = ctx.arg::<*const u8>(0) as u64;
    emit(Kind::FenceWait, Via::RawTracepoint, |r: *mut FenceWait| unsafe {
        (*r).fence = fence;
        (*r).phase = phase;
        (*r)._pad = 0;
    });
}

/// `dma_fence_wait_start`/`_end`: blocking waits inside the kernel.
#[raw_tracepoint(tracepoint = "dma_fence_wait_start")]
pub fn fence_wait_start_raw(ctx: RawTracePointContext) -> i32 {
    fence_wait(&ctx, PHASE_ENTRY);
    0
}

#[raw_tracepoint(tracepoint = "dma_fence_wait_end")]
pub fn fence_wait_end_raw(ctx: RawTracePointContext) -> i32 {
    fence_wait(&ctx, PHASE_RETURN);
    0
}

#[inline(always)]
fn vb2(ctx: &RawTracePointContext, stage: u32) {
    let queue = ctx.arg::<*const u8>(0) as u64;
    let vb = ctx.arg::<*const u8>(1) as u64;
    emit(Kind::Vb2Buf, Via::RawTracepoint, |r: *mut Vb2Buf| unsafe {
        (*r).queue = queue;
        (*r).vb = vb;
        (*r).stage = stage;
        (*r)._pad = 0;
    });
}

/// The vb2 tracepoints, `(struct vb2_queue *q, struct vb2_buffer *vb)`: a
/// buffer's trip through the queue, keyed by its address.
#[raw_tracepoint(tracepoint = "vb2_qbuf")]
pub fn vb2_qbuf_raw(ctx: RawTracePointContext) -> i32 {
    vb2(&ctx, VB2_QBUF);
    0
}

#[raw_tracepoint(tracepoint = "vb2_buf_queue")]
pub fn vb2_buf_queue_raw(ctx: RawTracePointContext) -> i32 {
    vb2(&ctx, VB2_BUF_QUEUE);
    0
}

#[raw_tracepoint(tracepoint = "vb2_buf_done")]
pub fn vb2_buf_done_raw(ctx: RawTracePointContext) -> i32 {
    vb2(&ctx, VB2_BUF_DONE);
    0
}

#[raw_tracepoint(tracepoint = "vb2_dqbuf")]
pub fn vb2_dqbuf_raw(ctx: RawTracePointContext) -> i32 {
    vb2(&ctx, VB2_DQBUF);
    0
}
