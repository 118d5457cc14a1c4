//! The kernel side's rare diagnostics: a record the full ring could not
//! take, a kernel read that failed. Counting them is the hot path's only
//! cost; the message goes out through aya-log from a separate subprogram
//! (never inlined into a program), and only when a per-CPU count reaches a
//! power of two, so even a flood of failures logs a few dozen lines. The
//! loader sets aya-log's level to off unless `-v` asked for debug output,
//! and the verifier then drops the message's code altogether.
use aya_ebpf::{macros::map, maps::PerCpuArray};
use aya_log_ebpf::debug;
use fencescope_schema::Kind;

use crate::DROPS;

/// Kernel reads (`bpf_probe_read_kernel`) that failed, per CPU: a layout
/// that does not match this kernel, or memory already gone. The record
/// carries zeroes where the read failed.
#[map]
static FAILED_READS: PerCpuArray<u64> = PerCpuArray::with_max_entries(1, 0);

/// Counts a record of `kind` the ring could not take.
#[inline(always)]
pub(crate) fn dropped(kind: Kind) {
    if let Some(slot) = DROPS.get_ptr_mut(kind as u32) {
        let n = unsafe { *slot } + 1;
        unsafe { *slot = n };
        if n.is_power_of_two() {
            log_dropped(kind as u32, n);
        }
    }
}

/// Counts a failed read of kernel memory at `addr` (a fence's fields, an
/// array's members, a destroy's flags).
#[inline(always)]
pub(crate) fn failed_read(addr: u64) {
    if let Some(slot) = FAILED_READS.get_ptr_mut(0) {
        let n = unsafe { *slot } + 1;
        unsafe { *slot = n };
        if n.is_power_of_two() {
            log_failed_read(addr, n);
        }
    }
}

#[inline(never)]
fn log_dropped(kind: u32, n: u64) {
    debug!(&(), "ring buffer full: {} records of kind {} dropped on this CPU so far", n, kind);
}

#[inline(never)]
fn log_failed_read(addr: u64, n: u64) {
    debug!(&(), "kernel read at {:x} failed ({} failed reads on this CPU so far)", addr, n);
}
