//! videobuf2 (the producer's side) and waits inside the kernel.
use aya_ebpf::{
    helpers::{bpf_probe_read_kernel, bpf_probe_read_kernel_str_bytes},
    macros::{kprobe, kretprobe, raw_tracepoint},
    programs::{ProbeContext, RawTracePointContext, RetProbeContext},
};
use fencescope_schema::{
    FenceWait, Kind, NAME_LEN, OFFSET_UNKNOWN, PHASE_ENTRY, PHASE_RETURN, VB2_BUF_DONE,
    VB2_BUF_QUEUE, VB2_DQBUF, VB2_QBUF, Vb2Buf, Vb2Queue, Via,
};

use crate::{
    DEVICE_DRIVER_OFFSET, V4L2_FH_VDEV_OFFSET, VB2_QUEUE_DEV_OFFSET, VB2_QUEUE_OWNER_OFFSET,
    VB2_QUEUE_TYPE_OFFSET, VIDEO_DEVICE_DEV_OFFSET, VIDEO_DEVICE_DEV_PARENT_OFFSET, call, emit,
    global,
};

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

/// The pointer at `base + offset`; None where the offset is unknown on this
/// kernel, `base` is NULL, or the read fails.
#[inline(always)]
fn ptr_at(base: u64, offset: &'static u32) -> Option<u64> {
    let offset = global(offset);
    if base == 0 || offset == OFFSET_UNKNOWN as usize {
        return None;
    }
    // Not counted as a failed read: six chained reads at each QBUF, each
    // with a log call, are more than the verifier takes for this program.
    unsafe { bpf_probe_read_kernel((base as usize + offset) as *const u64) }
        .ok()
        .filter(|p| *p != 0)
}

/// The first word of `struct device` and of `struct device_driver` is the
/// name's pointer (`kobj.name`, `name`): offset 0 on every kernel.
static NAME_FIRST: u32 = 0;

/// Copies the NUL-terminated string at `from` into `dst`, NUL-padded; all
/// zeroes without one.
#[inline(always)]
unsafe fn name_into(dst: *mut [u8; NAME_LEN], from: Option<u64>) {
    let words = dst.cast::<u64>();
    for i in 0..NAME_LEN / 8 {
        // Word stores: a byte array's zeroing would be a byte loop.
        unsafe { words.add(i).write_volatile(0) };
    }
    if let Some(from) = from {
        let _ = unsafe { bpf_probe_read_kernel_str_bytes(from as *const u8, &mut *dst) };
    }
}

/// Who the queue is: a handful of reads once per QBUF (a few hundred a
/// second on a board), so the buffer stages that follow stay small.
#[inline(always)]
fn vb2_queue(ctx: &RawTracePointContext) {
    let queue = ctx.arg::<*const u8>(0) as u64;
    emit(Kind::Vb2Queue, Via::RawTracepoint, |r: *mut Vb2Queue| unsafe {
        (*r).queue = queue;
        let at = (queue as usize).wrapping_add(global(&VB2_QUEUE_TYPE_OFFSET));
        (*r).queue_type = bpf_probe_read_kernel(at as *const u32).unwrap_or(0);
        (*r)._pad = 0;
        // q->owner is the file handle that asked for the buffers (vb2's
        // and the m2m helpers' REQBUFS set it); its video_device embeds
        // the node's struct device, whose first word is the name.
        let vdev =
            ptr_at(queue, &VB2_QUEUE_OWNER_OFFSET).and_then(|fh| ptr_at(fh, &V4L2_FH_VDEV_OFFSET));
        name_into(&raw mut (*r).node, vdev.and_then(|v| ptr_at(v, &VIDEO_DEVICE_DEV_OFFSET)));
        // Allocators that need no device (vmalloc) leave q->dev NULL: the
        // node's parent is then the driver's device.
        let dev = ptr_at(queue, &VB2_QUEUE_DEV_OFFSET)
            .or_else(|| vdev.and_then(|v| ptr_at(v, &VIDEO_DEVICE_DEV_PARENT_OFFSET)));
        name_into(&raw mut (*r).device, dev.and_then(|d| ptr_at(d, &NAME_FIRST)));
        let driver = dev.and_then(|d| ptr_at(d, &DEVICE_DRIVER_OFFSET));
        name_into(&raw mut (*r).driver, driver.and_then(|d| ptr_at(d, &NAME_FIRST)));
    });
}

/// The vb2 tracepoints, `(struct vb2_queue *q, struct vb2_buffer *vb)`: a
/// buffer's trip through the queue, keyed by its address.
#[raw_tracepoint(tracepoint = "vb2_qbuf")]
pub fn vb2_qbuf_raw(ctx: RawTracePointContext) -> i32 {
    vb2_queue(&ctx);
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
