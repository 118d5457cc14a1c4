//! Fence lifetimes: init (three ways), names, signal (two ways), destroy.
use aya_ebpf::{
    EbpfContext,
    helpers::bpf_probe_read_kernel_str_bytes,
    macros::{fentry, kprobe, raw_tracepoint, tracepoint},
    programs::{FEntryContext, ProbeContext, RawTracePointContext, TracePointContext},
};
use fencescope_schema::{FenceDestroy, FenceInit, FenceNames, FenceSignaled, Kind, NAME_LEN, Via};

use crate::{
    EVENTS, TP_INIT_CONTEXT_OFFSET, TP_INIT_DRIVER_OFFSET, TP_INIT_SEQNO_OFFSET,
    TP_INIT_TIMELINE_OFFSET, TP_SIGNALED_CONTEXT_OFFSET, TP_SIGNALED_SEQNO_OFFSET, dropped, emit,
    fence_ids, global, header, wakeup_flag,
};

#[inline(always)]
fn init_from_struct(fence: *const u8, via: Via) {
    let (context, seqno) = fence_ids(fence);
    emit(
        Kind::FenceInit,
        FenceInit { header: header(Kind::FenceInit, via), fence: fence as u64, context, seqno },
    );
}

/// `trace_dma_fence_init(fence)`, at the end of `dma_fence_init{,64}`: the
/// fence is fully set up, and both init variants pass through here.
#[raw_tracepoint(tracepoint = "dma_fence_init")]
pub fn fence_init_raw(ctx: RawTracePointContext) -> i32 {
    init_from_struct(ctx.arg::<*const u8>(0), Via::RawTracepoint);
    0
}

/// `dma_fence_init(fence, ops, lock, context, seqno)` at entry: the fence
/// struct is not written yet, so context and seqno come from the arguments.
#[kprobe]
pub fn fence_init_kprobe(ctx: ProbeContext) -> i32 {
    let fence: *const u8 = ctx.arg(0).unwrap_or(core::ptr::null());
    let context: u64 = ctx.arg(3).unwrap_or(0);
    let seqno: u64 = ctx.arg(4).unwrap_or(0);
    emit(
        Kind::FenceInit,
        FenceInit {
            header: header(Kind::FenceInit, Via::Kprobe),
            fence: fence as u64,
            context,
            seqno,
        },
    );
    0
}

/// The same as the kprobe, through BTF-typed arguments where fentry loads.
#[fentry(function = "dma_fence_init")]
pub fn fence_init_fentry(ctx: FEntryContext) -> i32 {
    let fence: *const u8 = ctx.arg(0);
    let context: u64 = ctx.arg(3);
    let seqno: u64 = ctx.arg(4);
    emit(
        Kind::FenceInit,
        FenceInit {
            header: header(Kind::FenceInit, Via::Fentry),
            fence: fence as u64,
            context,
            seqno,
        },
    );
    0
}

/// The classic `dma_fence:dma_fence_init` record carries the driver and
/// timeline names the kernel asked the driver for; nothing else does.
#[tracepoint(category = "dma_fence", name = "dma_fence_init")]
pub fn fence_init_names(ctx: TracePointContext) -> i32 {
    let Some(mut entry) = EVENTS.reserve::<FenceNames>(0) else {
        dropped(Kind::FenceNames);
        return 0;
    };
    let rec = entry.as_mut_ptr();
    unsafe {
        (*rec).header = header(Kind::FenceNames, Via::Tracepoint);
        (*rec).context = ctx.read_at::<u32>(global(&TP_INIT_CONTEXT_OFFSET)).unwrap_or(0);
        (*rec).seqno = ctx.read_at::<u32>(global(&TP_INIT_SEQNO_OFFSET)).unwrap_or(0);
        (*rec).driver = [0; NAME_LEN];
        (*rec).timeline = [0; NAME_LEN];
        let base = ctx.as_ptr() as *const u8;
        // __data_loc: low 16 bits offset into the record, high 16 the length.
        if let Ok(loc) = ctx.read_at::<u32>(global(&TP_INIT_DRIVER_OFFSET)) {
            let _ = bpf_probe_read_kernel_str_bytes(
                base.add((loc & 0xffff) as usize),
                &mut (*rec).driver,
            );
        }
        if let Ok(loc) = ctx.read_at::<u32>(global(&TP_INIT_TIMELINE_OFFSET)) {
            let _ = bpf_probe_read_kernel_str_bytes(
                base.add((loc & 0xffff) as usize),
                &mut (*rec).timeline,
            );
        }
    }
    entry.submit(wakeup_flag());
    0
}

/// `trace_dma_fence_signaled(fence)`: every signalling path ends here, even
/// where `dma_fence_signal_timestamp_locked` is inlined into its callers.
#[raw_tracepoint(tracepoint = "dma_fence_signaled")]
pub fn fence_signaled_raw(ctx: RawTracePointContext) -> i32 {
    let fence = ctx.arg::<*const u8>(0);
    let (context, seqno) = fence_ids(fence);
    emit(
        Kind::FenceSignaled,
        FenceSignaled {
            header: header(Kind::FenceSignaled, Via::RawTracepoint),
            fence: fence as u64,
            context,
            seqno,
        },
    );
    0
}

/// `trace_dma_fence_destroy(fence)`: the last reference went.
#[raw_tracepoint(tracepoint = "dma_fence_destroy")]
pub fn fence_destroy_raw(ctx: RawTracePointContext) -> i32 {
    let fence = ctx.arg::<*const u8>(0);
    emit(
        Kind::FenceDestroy,
        FenceDestroy {
            header: header(Kind::FenceDestroy, Via::RawTracepoint),
            fence: fence as u64,
        },
    );
    0
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
    emit(
        Kind::FenceSignaled,
        FenceSignaled {
            header: header(Kind::FenceSignaled, Via::Tracepoint),
            fence: 0,
            context: context as u64,
            seqno: seqno as u64,
        },
    );
    0
}
