//! What touches a fence after its birth: reservation objects, exports,
//! arrays, dma-buf polls and wait callbacks.
use aya_ebpf::{
    macros::{fentry, kprobe, kretprobe, tracepoint},
    programs::{FEntryContext, ProbeContext, RetProbeContext, TracePointContext},
};
use fencescope_schema::{
    ARRAY_MEMBERS, AddCallback, Arm, ArrayCreate, EXPORT_SYNC_FILE_CMD, Kind, PHASE_ENTRY,
    PHASE_RETURN, ResvAdd, Via,
};

use crate::{
    IN_EXPORT, TP_IOCTL_CMD_OFFSET, TP_IOCTL_FD_OFFSET, TP_IOCTL_RET_OFFSET, WAIT_FUNC_DMABUF,
    WAIT_FUNC_SYNC_FILE, call, current_tid, emit, fence::fence_from_struct, global, global64,
    read_u64_into,
};

#[inline(always)]
fn resv_add(resv: u64, fence: u64, usage: u64, via: Via) {
    emit(Kind::ResvAdd, via, |r: *mut ResvAdd| unsafe {
        (*r).resv = resv;
        (*r).fence = fence;
        (*r).usage = usage as u32;
        (*r)._pad = 0;
    });
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

/// The arm hook (`--arm-hook`, a driver's device_run): its first argument,
/// the fence where the hook takes one, else the job's context.
#[kprobe]
pub fn arm_kprobe(ctx: ProbeContext) -> i32 {
    let arg0: u64 = ctx.arg(0).unwrap_or(0);
    emit(Kind::Arm, Via::Kprobe, |r: *mut Arm| unsafe { (*r).arg0 = arg0 });
    0
}

/// `dma_fence_array_create(num_fences, fences, context, seqno, any)`: the
/// members, read before the array exists; its init follows on this thread.
#[kprobe]
pub fn array_create_kprobe(ctx: ProbeContext) -> i32 {
    let count: u64 = ctx.arg(0).unwrap_or(0);
    let fences: *const u64 = ctx.arg(1).unwrap_or(core::ptr::null());
    emit(Kind::ArrayCreate, Via::Kprobe, |r: *mut ArrayCreate| unsafe {
        (*r).count = count as u32;
        (*r)._pad = 0;
        let n = (count as usize).min(ARRAY_MEMBERS);
        for i in 0..ARRAY_MEMBERS {
            let member = &raw mut (*r).members[i];
            if i < n {
                read_u64_into(member, fences.add(i).cast());
            } else {
                *member = 0;
            }
        }
    });
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
    fence_from_struct(Kind::SyncFile, fence, Via::Kprobe);
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
    emit(Kind::AddCallback, Via::Kprobe, |r: *mut AddCallback| unsafe {
        (*r).fence = fence;
        (*r).func = func;
    });
    0
}
