//! Fence lifetimes: init (three ways), names, signal (two ways), destroy.
use aya_ebpf::{
    EbpfContext,
    helpers::{bpf_probe_read_kernel, bpf_probe_read_kernel_str_bytes},
    macros::{fentry, kprobe, raw_tracepoint, tracepoint},
    programs::{FEntryContext, ProbeContext, RawTracePointContext, TracePointContext},
};
use fencescope_schema::{
    DESTROY_SIGNALLED, DESTROY_UNKNOWN, FenceDestroy, FenceInit, FenceNames, FenceSignaled, Kind,
    NAME_LEN, Via,
};

use crate::{
    FENCE_FLAGS_OFFSET, FENCE_SIGNALED_BIT, TP_INIT_CONTEXT_OFFSET, TP_INIT_DRIVER_OFFSET,
    TP_INIT_SEQNO_OFFSET, TP_INIT_TIMELINE_OFFSET, TP_SIGNALED_CONTEXT_OFFSET,
    TP_SIGNALED_SEQNO_OFFSET, emit, fence_ids_into, global,
};

// Signal and export records share the init record's shape.
const _: () = assert!(DESTROY_SIGNALLED == 1);
const _: () = assert!(size_of::<FenceInit>() == size_of::<FenceSignaled>());

/// A [`FenceInit`]-shaped record (init, signal, export) of a fence whose
/// struct is readable: context and seqno come from the fence itself.
#[inline(always)]
pub(crate) fn fence_from_struct(kind: Kind, fence: *const u8, via: Via) {
    emit(kind, via, |r: *mut FenceInit| unsafe {
        (*r).fence = fence as u64;
        fence_ids_into(fence, &raw mut (*r).context, &raw mut (*r).seqno);
    });
}

#[inline(always)]
fn fence_from_args(fence: *const u8, context: u64, seqno: u64, via: Via) {
    emit(Kind::FenceInit, via, |r: *mut FenceInit| unsafe {
        (*r).fence = fence as u64;
        (*r).context = context;
        (*r).seqno = seqno;
    });
}

/// `trace_dma_fence_init(fence)`, at the end of `dma_fence_init{,64}`: the
/// fence is fully set up, and both init variants pass through here.
#[raw_tracepoint(tracepoint = "dma_fence_init")]
pub fn fence_init_raw(ctx: RawTracePointContext) -> i32 {
    fence_from_struct(Kind::FenceInit, ctx.arg::<*const u8>(0), Via::RawTracepoint);
    0
}

/// `dma_fence_init(fence, ops, lock, context, seqno)` at entry: the fence
/// struct is not written yet, so context and seqno come from the arguments.
#[kprobe]
pub fn fence_init_kprobe(ctx: ProbeContext) -> i32 {
    let fence: *const u8 = ctx.arg(0).unwrap_or(core::ptr::null());
    let context: u64 = ctx.arg(3).unwrap_or(0);
    let seqno: u64 = ctx.arg(4).unwrap_or(0);
    fence_from_args(fence, context, seqno, Via::Kprobe);
    0
}

/// The same as the kprobe, through BTF-typed arguments where fentry loads.
#[fentry(function = "dma_fence_init")]
pub fn fence_init_fentry(ctx: FEntryContext) -> i32 {
    let fence: *const u8 = ctx.arg(0);
    let context: u64 = ctx.arg(3);
    let seqno: u64 = ctx.arg(4);
    fence_from_args(fence, context, seqno, Via::Fentry);
    0
}

/// The classic `dma_fence:dma_fence_init` record carries the driver and
/// timeline names the kernel asked the driver for; nothing else does.
#[tracepoint(category = "dma_fence", name = "dma_fence_init")]
pub fn fence_init_names(ctx: TracePointContext) -> i32 {
    emit(Kind::FenceNames, Via::Tracepoint, |r: *mut FenceNames| unsafe {
        (*r).context = ctx.read_at::<u32>(global(&TP_INIT_CONTEXT_OFFSET)).unwrap_or(0);
        (*r).seqno = ctx.read_at::<u32>(global(&TP_INIT_SEQNO_OFFSET)).unwrap_or(0);
        let base = ctx.as_ptr() as *const u8;
        name_into(&ctx, base, global(&TP_INIT_DRIVER_OFFSET), &raw mut (*r).driver);
        name_into(&ctx, base, global(&TP_INIT_TIMELINE_OFFSET), &raw mut (*r).timeline);
    });
    0
}

/// Copies the `__data_loc` string at field `field` of the record into `dst`,
/// NUL-padded: the engine keys names by all their bytes.
#[inline(always)]
unsafe fn name_into(
    ctx: &TracePointContext,
    base: *const u8,
    field: usize,
    dst: *mut [u8; NAME_LEN],
) {
    let words = dst.cast::<u64>();
    for i in 0..NAME_LEN / 8 {
        // Word stores: a byte array's zeroing would be a byte loop.
        unsafe { words.add(i).write_volatile(0) };
    }
    // __data_loc: low 16 bits offset into the record, high 16 the length.
    if let Ok(loc) = unsafe { ctx.read_at::<u32>(field) } {
        let from = unsafe { base.add((loc & 0xffff) as usize) };
        let _ = unsafe { bpf_probe_read_kernel_str_bytes(from, &mut *dst) };
    }
}

/// `trace_dma_fence_signaled(fence)`: every signalling path ends here, even
/// where `dma_fence_signal_timestamp_locked` is inlined into its callers.
#[raw_tracepoint(tracepoint = "dma_fence_signaled")]
pub fn fence_signaled_raw(ctx: RawTracePointContext) -> i32 {
    fence_from_struct(Kind::FenceSignaled, ctx.arg::<*const u8>(0), Via::RawTracepoint);
    0
}

/// `trace_dma_fence_destroy(fence)`: the last reference went. Its
/// signalled bit says whether a signal record missing by then was lost.
#[raw_tracepoint(tracepoint = "dma_fence_destroy")]
pub fn fence_destroy_raw(ctx: RawTracePointContext) -> i32 {
    let fence = ctx.arg::<*const u8>(0);
    emit(Kind::FenceDestroy, Via::RawTracepoint, |r: *mut FenceDestroy| unsafe {
        (&raw mut (*r).fence).write_volatile(fence as u64);
        (&raw mut (*r).signalled).write_volatile(signalled(fence));
        (&raw mut (*r)._pad).write_volatile(0);
    });
    0
}

/// Whether `fence` had signalled, from its flags: read inside the record's
/// reservation, so a run whose programs emit nothing does not pay for it.
#[inline(always)]
fn signalled(fence: *const u8) -> u32 {
    let bit = global(&FENCE_SIGNALED_BIT);
    if bit >= 64 {
        return DESTROY_UNKNOWN;
    }
    let at = fence.wrapping_add(global(&FENCE_FLAGS_OFFSET));
    match unsafe { bpf_probe_read_kernel(at.cast::<u64>()) } {
        // DESTROY_SIGNALLED is 1, DESTROY_UNSIGNALLED 0: the bit itself.
        Ok(flags) => ((flags >> bit) & 1) as u32,
        Err(_) => {
            crate::diag::failed_read(at as u64);
            DESTROY_UNKNOWN
        }
    }
}

/// Classic `dma_fence:dma_fence_signaled`, for `--attach tracepoint`: no
/// pointer, only the 32-bit context and seqno the engine keys on instead.
#[tracepoint(category = "dma_fence", name = "dma_fence_signaled")]
pub fn fence_signaled_tp(ctx: TracePointContext) -> i32 {
    let (context, seqno) = unsafe {
        (
            ctx.read_at::<u32>(global(&TP_SIGNALED_CONTEXT_OFFSET)).unwrap_or(0),
            ctx.read_at::<u32>(global(&TP_SIGNALED_SEQNO_OFFSET)).unwrap_or(0),
        )
    };
    emit(Kind::FenceSignaled, Via::Tracepoint, |r: *mut FenceSignaled| unsafe {
        (*r).fence = 0;
        (*r).context = context as u64;
        (*r).seqno = seqno as u64;
    });
    0
}
