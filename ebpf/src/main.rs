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
    helpers::{bpf_get_current_pid_tgid, bpf_get_smp_processor_id, bpf_ktime_get_ns, generated},
    macros::map,
    maps::{HashMap, PerCpuArray, RingBuf},
};
use fencescope_schema::{COMM_LEN, Call, DROP_SLOTS, Header, Kind, OFFSET_UNKNOWN, Via};

/// Every record goes through this one ring buffer, so userspace sees them in
/// the order they were reserved across all CPUs.
#[map]
pub(crate) static EVENTS: RingBuf = RingBuf::with_byte_size(1 << 22, 0);

/// Records lost because `EVENTS` was full, per kind.
#[map]
pub(crate) static DROPS: PerCpuArray<u64> = PerCpuArray::with_max_entries(DROP_SLOTS, 0);

// Set by userspace before load; the values here are only defaults.
#[unsafe(no_mangle)]
pub(crate) static FENCE_CONTEXT_OFFSET: u32 = 32;
#[unsafe(no_mangle)]
pub(crate) static FENCE_SEQNO_OFFSET: u32 = 40;
#[unsafe(no_mangle)]
pub(crate) static TP_INIT_DRIVER_OFFSET: u32 = 8;
#[unsafe(no_mangle)]
pub(crate) static TP_INIT_TIMELINE_OFFSET: u32 = 12;
#[unsafe(no_mangle)]
pub(crate) static TP_INIT_CONTEXT_OFFSET: u32 = 16;
#[unsafe(no_mangle)]
pub(crate) static TP_INIT_SEQNO_OFFSET: u32 = 20;
#[unsafe(no_mangle)]
pub(crate) static TP_SIGNALED_CONTEXT_OFFSET: u32 = 16;
#[unsafe(no_mangle)]
pub(crate) static TP_SIGNALED_SEQNO_OFFSET: u32 = 20;
#[unsafe(no_mangle)]
pub(crate) static TP_IOCTL_FD_OFFSET: u32 = 16;
#[unsafe(no_mangle)]
pub(crate) static TP_IOCTL_CMD_OFFSET: u32 = 24;
#[unsafe(no_mangle)]
pub(crate) static TP_IOCTL_RET_OFFSET: u32 = 16;
#[unsafe(no_mangle)]
pub(crate) static VB2_QUEUE_TYPE_OFFSET: u32 = 0;
#[unsafe(no_mangle)]
pub(crate) static VB2_QUEUE_DEV_OFFSET: u32 = 8;
#[unsafe(no_mangle)]
pub(crate) static VB2_QUEUE_OWNER_OFFSET: u32 = OFFSET_UNKNOWN;
#[unsafe(no_mangle)]
pub(crate) static DEVICE_DRIVER_OFFSET: u32 = OFFSET_UNKNOWN;
#[unsafe(no_mangle)]
pub(crate) static V4L2_FH_VDEV_OFFSET: u32 = 16;
#[unsafe(no_mangle)]
pub(crate) static VIDEO_DEVICE_DEV_OFFSET: u32 = OFFSET_UNKNOWN;
#[unsafe(no_mangle)]
pub(crate) static VIDEO_DEVICE_DEV_PARENT_OFFSET: u32 = OFFSET_UNKNOWN;
#[unsafe(no_mangle)]
pub(crate) static FENCE_FLAGS_OFFSET: u32 = 48;
#[unsafe(no_mangle)]
pub(crate) static FENCE_SIGNALED_BIT: u32 = OFFSET_UNKNOWN;
#[unsafe(no_mangle)]
pub(crate) static WAIT_FUNC_DMABUF: u64 = 0;
#[unsafe(no_mangle)]
pub(crate) static WAIT_FUNC_SYNC_FILE: u64 = 0;

/// Threads inside an EXPORT_SYNC_FILE ioctl: only their ioctl return and
/// `sync_file_create` calls are emitted, not every dma-buf ioctl's.
#[map]
pub(crate) static IN_EXPORT: HashMap<u32, u8> = HashMap::with_max_entries(4096, 0);

#[inline(always)]
pub(crate) fn global(v: &'static u32) -> usize {
    // Volatile so the compiler does not fold the default value in: the loader
    // rewrites the .rodata the value lives in.
    unsafe { core::ptr::read_volatile(v) as usize }
}

#[inline(always)]
pub(crate) fn global64(v: &'static u64) -> u64 {
    unsafe { core::ptr::read_volatile(v) }
}

#[inline(always)]
pub(crate) fn current_tid() -> u32 {
    bpf_get_current_pid_tgid() as u32
}

/// Writes the header in place: building it on the stack first costs a
/// byte-by-byte copy of every record (the BPF backend cannot prove the ring
/// slot's alignment), and that copy was most of a program's cost.
#[inline(always)]
unsafe fn stamp(h: *mut Header, kind: Kind, via: Via) {
    let pid_tgid = bpf_get_current_pid_tgid();
    unsafe {
        (*h).kind = kind as u16;
        (*h).via = via as u8;
        (*h)._pad = 0;
        (*h).cpu = bpf_get_smp_processor_id();
        (*h).ts_ns = bpf_ktime_get_ns();
        (*h).tgid = (pid_tgid >> 32) as u32;
        (*h).tid = pid_tgid as u32;
        // Pads with NULs, which the engine's name keys rely on.
        generated::bpf_get_current_comm((*h).comm.as_mut_ptr().cast(), COMM_LEN as u32);
    }
}

/// Wake the reader only once this much is waiting (set by userspace): a
/// wake-up per record costs the traced workload a context switch each
/// (userspace also drains on a timer, so nothing waits long).
#[unsafe(no_mangle)]
pub(crate) static WAKEUP_BYTES: u64 = 256 << 10;
/// 0 for `--emit-nothing` (benchmarks): every program attaches and returns.
#[unsafe(no_mangle)]
pub(crate) static EMIT: u32 = 1;
const BPF_RB_AVAIL_DATA: u64 = 0;
const BPF_RB_NO_WAKEUP: u64 = 1;
const BPF_RB_FORCE_WAKEUP: u64 = 2;

#[inline(always)]
pub(crate) fn wakeup_flag() -> u64 {
    if EVENTS.query(BPF_RB_AVAIL_DATA) >= global64(&WAKEUP_BYTES) {
        BPF_RB_FORCE_WAKEUP
    } else {
        BPF_RB_NO_WAKEUP
    }
}

/// Reserves a `T` (a schema record, its [`Header`] first), stamps the
/// header, lets `fill` write the rest in place, and submits it; a full ring
/// counts a drop of `kind` instead.
#[inline(always)]
pub(crate) fn emit<T: 'static>(kind: Kind, via: Via, fill: impl FnOnce(*mut T)) {
    // Known at load: the verifier removes whichever branch is dead.
    if global(&EMIT) == 0 {
        return;
    }
    match EVENTS.reserve::<T>(0) {
        Some(mut entry) => {
            let rec = entry.as_mut_ptr();
            unsafe { stamp(rec.cast::<Header>(), kind, via) };
            fill(rec);
            entry.submit(wakeup_flag());
        }
        None => diag::dropped(kind),
    }
}

/// Copies a kernel `u64` at `src` into `dst` (ring memory); the helper
/// zeroes `dst` where `src` is unreadable.
#[inline(always)]
pub(crate) unsafe fn read_u64_into(dst: *mut u64, src: *const u8) {
    if unsafe { generated::bpf_probe_read_kernel(dst.cast(), 8, src.cast()) } < 0 {
        diag::failed_read(src as u64);
    }
}

/// Writes `fence->context` and `fence->seqno` into `context` and `seqno`;
/// zero where unreadable.
#[inline(always)]
pub(crate) unsafe fn fence_ids_into(fence: *const u8, context: *mut u64, seqno: *mut u64) {
    unsafe {
        read_u64_into(context, fence.add(global(&FENCE_CONTEXT_OFFSET)));
        read_u64_into(seqno, fence.add(global(&FENCE_SEQNO_OFFSET)));
    }
}

#[inline(always)]
pub(crate) fn call(kind: Kind, via: Via, object: u64, arg: u64, ret: i64, phase: u32) {
    // Volatile: LLVM would merge constant-zero stores into a memset, which
    // the BPF backend emits as a byte loop.
    emit(kind, via, |r: *mut Call| unsafe {
        (&raw mut (*r).object).write_volatile(object);
        (&raw mut (*r).arg).write_volatile(arg);
        (&raw mut (*r).ret).write_volatile(ret);
        (&raw mut (*r).phase).write_volatile(phase);
        (&raw mut (*r)._pad).write_volatile(0);
    });
}

mod calls;
mod diag;
mod fence;
mod vb2;

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
