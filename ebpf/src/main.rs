//! fencescope's kernel side. Each program reads what its hook offers, stamps
//! it (time, CPU, task) and emits one record of the shared schema into the
//! `EVENTS` ring buffer. No pairing, no state: that all lives in userspace.
//!
//! Struct offsets and tracepoint field offsets are globals that userspace sets
//! before load from the running kernel (BTF, tracefs, or its version table),
//! never constants baked in here.
// Host builds (clippy over the workspace) type-check the programs as an
// ordinary binary; only the bpf target is the real, no_std object.
#![cfg_attr(target_arch = "bpf", no_std)]
#![cfg_attr(target_arch = "bpf", no_main)]

use aya_ebpf::{
    EbpfContext,
    helpers::{
        bpf_get_current_comm, bpf_get_current_pid_tgid, bpf_get_smp_processor_id, bpf_ktime_get_ns,
        bpf_probe_read_kernel, bpf_probe_read_kernel_str_bytes,
    },
    macros::{fentry, kprobe, kretprobe, map, raw_tracepoint, tracepoint},
    maps::{HashMap, PerCpuArray, RingBuf},
    programs::{
        FEntryContext, ProbeContext, RawTracePointContext, RetProbeContext, TracePointContext,
    },
};
use fencescope_schema::{
    ARRAY_MEMBERS, AddCallback, ArrayCreate, COMM_LEN, Call, DROP_SLOTS, EXPORT_SYNC_FILE_CMD,
    FenceDestroy, FenceInit, FenceNames, FenceSignaled, FenceWait, Header, Kind, NAME_LEN,
    PHASE_ENTRY, PHASE_RETURN, ResvAdd, VB2_BUF_DONE, VB2_BUF_QUEUE, VB2_DQBUF, VB2_QBUF, Vb2Buf,
    Via,
};

/// Every record goes through this one ring buffer, so userspace sees them in
/// the order they were reserved across all CPUs.
#[map]
static EVENTS: RingBuf = RingBuf::with_byte_size(1 << 22, 0);

/// Records lost because `EVENTS` was full, per kind.
#[map]
static DROPS: PerCpuArray<u64> = PerCpuArray::with_max_entries(DROP_SLOTS, 0);

// Set by userspace before load; the values here are only defaults.
#[unsafe(no_mangle)]
static FENCE_CONTEXT_OFFSET: u32 = 32;
#[unsafe(no_mangle)]
static FENCE_SEQNO_OFFSET: u32 = 40;
#[unsafe(no_mangle)]
static TP_INIT_DRIVER_OFFSET: u32 = 8;
#[unsafe(no_mangle)]
static TP_INIT_TIMELINE_OFFSET: u32 = 12;
#[unsafe(no_mangle)]
static TP_INIT_CONTEXT_OFFSET: u32 = 16;
#[unsafe(no_mangle)]
static TP_INIT_SEQNO_OFFSET: u32 = 20;
#[unsafe(no_mangle)]
static TP_SIGNALED_CONTEXT_OFFSET: u32 = 16;
#[unsafe(no_mangle)]
static TP_SIGNALED_SEQNO_OFFSET: u32 = 20;
#[unsafe(no_mangle)]
static TP_IOCTL_FD_OFFSET: u32 = 16;
#[unsafe(no_mangle)]
static TP_IOCTL_CMD_OFFSET: u32 = 24;
#[unsafe(no_mangle)]
static TP_IOCTL_RET_OFFSET: u32 = 16;
#[unsafe(no_mangle)]
static WAIT_FUNC_DMABUF: u64 = 0;
#[unsafe(no_mangle)]
static WAIT_FUNC_SYNC_FILE: u64 = 0;

/// Threads inside an EXPORT_SYNC_FILE ioctl: only their ioctl return and
/// `sync_file_create` calls are emitted, not every dma-buf ioctl's.
#[map]
static IN_EXPORT: HashMap<u32, u8> = HashMap::with_max_entries(4096, 0);

#[inline(always)]
fn global(v: &'static u32) -> usize {
    // Volatile so the compiler does not fold the default value in: the loader
    // rewrites the .rodata the value lives in.
    unsafe { core::ptr::read_volatile(v) as usize }
}

#[inline(always)]
fn global64(v: &'static u64) -> u64 {
    unsafe { core::ptr::read_volatile(v) }
}

#[inline(always)]
fn current_tid() -> u32 {
    bpf_get_current_pid_tgid() as u32
}

#[inline(always)]
fn header(kind: Kind, via: Via) -> Header {
    let pid_tgid = bpf_get_current_pid_tgid();
    Header {
        kind: kind as u16,
        via: via as u8,
        _pad: 0,
        cpu: unsafe { bpf_get_smp_processor_id() },
        ts_ns: unsafe { bpf_ktime_get_ns() },
        tgid: (pid_tgid >> 32) as u32,
        tid: pid_tgid as u32,
        comm: bpf_get_current_comm().unwrap_or([0; COMM_LEN]),
    }
}

#[inline(always)]
fn dropped(kind: Kind) {
    if let Some(slot) = DROPS.get_ptr_mut(kind as u32) {
        unsafe { *slot += 1 };
    }
}

/// Wake the reader only once this much is waiting (set by userspace): a
/// wake-up per record
/// costs the traced workload a context switch each (userspace also drains
/// on a timer, so nothing waits long).
#[unsafe(no_mangle)]
static WAKEUP_BYTES: u64 = 256 << 10;
const BPF_RB_AVAIL_DATA: u64 = 0;
const BPF_RB_NO_WAKEUP: u64 = 1;
const BPF_RB_FORCE_WAKEUP: u64 = 2;

#[inline(always)]
fn wakeup_flag() -> u64 {
    if EVENTS.query(BPF_RB_AVAIL_DATA) >= global64(&WAKEUP_BYTES) {
        BPF_RB_FORCE_WAKEUP
    } else {
        BPF_RB_NO_WAKEUP
    }
}

#[inline(always)]
fn emit<T: 'static>(kind: Kind, record: T) {
    match EVENTS.reserve::<T>(0) {
        Some(mut entry) => {
            entry.write(record);
            entry.submit(wakeup_flag());
        }
        None => dropped(kind),
    }
}

/// Reads `fence->context` and `fence->seqno`; zero where unreadable.
#[inline(always)]
fn fence_ids(fence: *const u8) -> (u64, u64) {
    unsafe {
        let context = bpf_probe_read_kernel(fence.add(global(&FENCE_CONTEXT_OFFSET)).cast::<u64>())
            .unwrap_or(0);
        let seqno = bpf_probe_read_kernel(fence.add(global(&FENCE_SEQNO_OFFSET)).cast::<u64>())
            .unwrap_or(0);
        (context, seqno)
    }
}

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

#[inline(always)]
fn call(kind: Kind, via: Via, object: u64, arg: u64, ret: i64, phase: u32) {
    emit(kind, Call { header: header(kind, via), object, arg, ret, phase, _pad: 0 });
}

#[inline(always)]
fn resv_add(resv: u64, fence: u64, usage: u64, via: Via) {
    emit(
        Kind::ResvAdd,
        ResvAdd { header: header(Kind::ResvAdd, via), resv, fence, usage: usage as u32, _pad: 0 },
    );
}

/// `dma_resv_add_fence` through its BTF trampoline: far cheaper per call
/// than a kprobe's breakpoint, where fentry loads.
#[fentry(function = "dma_resv_add_fence")]
pub fn resv_add_fentry(ctx: FEntryContext) -> i32 {
    resv_add(ctx.arg(0), ctx.arg(1), ctx.arg(2), Via::Fentry);
    0
}

/// `dma_resv_add_fence(obj, fence, usage)`: which buffer a fence guards.
#[kprobe]
pub fn resv_add_kprobe(ctx: ProbeContext) -> i32 {
    let resv: u64 = ctx.arg(0).unwrap_or(0);
    let fence: u64 = ctx.arg(1).unwrap_or(0);
    let usage: u64 = ctx.arg(2).unwrap_or(0);
    resv_add(resv, fence, usage, Via::Kprobe);
    0
}

/// `dma_fence_array_create(num_fences, fences, context, seqno, any)`: the
/// members, read before the array exists; its init follows on this thread.
#[kprobe]
pub fn array_create_kprobe(ctx: ProbeContext) -> i32 {
    let count: u64 = ctx.arg(0).unwrap_or(0);
    let fences: *const u64 = ctx.arg(1).unwrap_or(core::ptr::null());
    let Some(mut entry) = EVENTS.reserve::<ArrayCreate>(0) else {
        dropped(Kind::ArrayCreate);
        return 0;
    };
    let rec = entry.as_mut_ptr();
    unsafe {
        (*rec).header = header(Kind::ArrayCreate, Via::Kprobe);
        (*rec).count = count as u32;
        (*rec)._pad = 0;
        (*rec).members = [0; ARRAY_MEMBERS];
        let n = (count as usize).min(ARRAY_MEMBERS);
        for i in 0..ARRAY_MEMBERS {
            if i >= n {
                break;
            }
            (*rec).members[i] = bpf_probe_read_kernel(fences.add(i)).unwrap_or(0);
        }
    }
    entry.submit(wakeup_flag());
    0
}

/// `dma_buf_ioctl(file, cmd, arg)`: only EXPORT_SYNC_FILE is emitted (the
/// function it would name is inlined into this one on every kernel seen).
#[kprobe]
pub fn dma_buf_ioctl_entry(ctx: ProbeContext) -> i32 {
    let file: u64 = ctx.arg(0).unwrap_or(0);
    let cmd: u64 = ctx.arg(1).unwrap_or(0);
    if cmd as u32 == EXPORT_SYNC_FILE_CMD {
        let _ = IN_EXPORT.insert(&current_tid(), &1, 0);
        call(Kind::Export, Via::Kprobe, file, cmd, 0, PHASE_ENTRY);
    }
    0
}

#[kretprobe]
pub fn dma_buf_ioctl_return(ctx: RetProbeContext) -> i32 {
    let tid = current_tid();
    if unsafe { IN_EXPORT.get(&tid) }.is_some() {
        let _ = IN_EXPORT.remove(&tid);
        let ret: i64 = ctx.ret();
        call(Kind::Export, Via::Kprobe, 0, 0, ret, PHASE_RETURN);
    }
    0
}

/// `sync_file_create(fence)` inside an export: the fence handed out.
#[kprobe]
pub fn sync_file_create_kprobe(ctx: ProbeContext) -> i32 {
    if unsafe { IN_EXPORT.get(&current_tid()) }.is_none() {
        return 0;
    }
    let fence: *const u8 = ctx.arg(0).unwrap_or(core::ptr::null());
    let (context, seqno) = fence_ids(fence);
    emit(
        Kind::SyncFile,
        FenceInit {
            header: header(Kind::SyncFile, Via::Kprobe),
            fence: fence as u64,
            context,
            seqno,
        },
    );
    0
}

/// The export ioctl seen from the syscall tracepoints, where kprobes are
/// missing: its round trip, but not the fence it handed out.
#[tracepoint(category = "syscalls", name = "sys_enter_ioctl")]
pub fn ioctl_enter_tp(ctx: TracePointContext) -> i32 {
    let cmd = unsafe { ctx.read_at::<u64>(global(&TP_IOCTL_CMD_OFFSET)) }.unwrap_or(0);
    if cmd as u32 == EXPORT_SYNC_FILE_CMD {
        let fd = unsafe { ctx.read_at::<u64>(global(&TP_IOCTL_FD_OFFSET)) }.unwrap_or(0);
        let _ = IN_EXPORT.insert(&current_tid(), &1, 0);
        call(Kind::Export, Via::Tracepoint, fd, cmd, 0, PHASE_ENTRY);
    }
    0
}

#[tracepoint(category = "syscalls", name = "sys_exit_ioctl")]
pub fn ioctl_exit_tp(ctx: TracePointContext) -> i32 {
    let tid = current_tid();
    if unsafe { IN_EXPORT.get(&tid) }.is_some() {
        let _ = IN_EXPORT.remove(&tid);
        let ret = unsafe { ctx.read_at::<i64>(global(&TP_IOCTL_RET_OFFSET)) }.unwrap_or(0);
        call(Kind::Export, Via::Tracepoint, 0, 0, ret, PHASE_RETURN);
    }
    0
}

/// `dma_buf_poll(file, poll_table)`: a compositor checking a buffer.
#[kprobe]
pub fn dma_buf_poll_entry(ctx: ProbeContext) -> i32 {
    let file: u64 = ctx.arg(0).unwrap_or(0);
    call(Kind::DmaBufPoll, Via::Kprobe, file, 0, 0, PHASE_ENTRY);
    0
}

#[kretprobe]
pub fn dma_buf_poll_return(ctx: RetProbeContext) -> i32 {
    let mask: u64 = ctx.ret();
    call(Kind::DmaBufPoll, Via::Kprobe, 0, 0, mask as i64, PHASE_RETURN);
    0
}

/// `dma_fence_add_callback(fence, cb, func)`, only for the callbacks of a
/// dma-buf poll or a sync_file poll (all of them when those are unknown).
#[kprobe]
pub fn add_callback_kprobe(ctx: ProbeContext) -> i32 {
    let fence: u64 = ctx.arg(0).unwrap_or(0);
    let func: u64 = ctx.arg(2).unwrap_or(0);
    let (a, b) = (global64(&WAIT_FUNC_DMABUF), global64(&WAIT_FUNC_SYNC_FILE));
    if (a != 0 || b != 0) && func != a && func != b {
        return 0;
    }
    emit(
        Kind::AddCallback,
        AddCallback { header: header(Kind::AddCallback, Via::Kprobe), fence, func },
    );
    0
}

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
    emit(
        Kind::FenceWait,
        FenceWait { header: header(Kind::FenceWait, Via::RawTracepoint), fence, phase, _pad: 0 },
    );
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
    emit(
        Kind::Vb2Buf,
        Vb2Buf { header: header(Kind::Vb2Buf, Via::RawTracepoint), queue, vb, stage, _pad: 0 },
    );
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

#[cfg(target_arch = "bpf")]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[cfg(not(target_arch = "bpf"))]
fn main() {}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";
