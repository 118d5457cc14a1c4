//! The event schema shared by the eBPF programs and userspace.
//!
//! Every record the kernel side emits starts with [`Header`]; `Header::kind`
//! says which struct follows. Records are plain `#[repr(C)]` data with
//! explicit padding so the byte image is the same on every architecture the
//! tool targets (x86_64, aarch64) and can be written to a capture file as is.
//!
//! Bump [`SCHEMA_VERSION`] whenever a layout or a meaning changes: captures
//! carry it, and readers refuse versions they do not know.
#![deny(missing_docs)]
#![no_std]

use bytemuck::{Pod, Zeroable};
use num_enum::TryFromPrimitive;

/// Version of the record layouts below.
pub const SCHEMA_VERSION: u32 = 5;

/// Length of the driver and timeline name buffers (NUL padded).
pub const NAME_LEN: usize = 32;
/// Length of a task's `comm` as the kernel keeps it.
pub const COMM_LEN: usize = 16;

/// What kind of record follows a [`Header`].
#[repr(u16)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, TryFromPrimitive)]
pub enum Kind {
    /// A fence was initialised ([`FenceInit`]).
    FenceInit = 1,
    /// Driver and timeline names of a fence being initialised ([`FenceNames`]).
    FenceNames = 2,
    /// A fence was signalled ([`FenceSignaled`]).
    FenceSignaled = 3,
    /// A fence's last reference went ([`FenceDestroy`]).
    FenceDestroy = 4,
    /// `dma_resv_add_fence`: a fence guards a buffer ([`ResvAdd`]).
    ResvAdd = 5,
    /// `DMA_BUF_IOCTL_EXPORT_SYNC_FILE` entry or return ([`Call`]).
    Export = 6,
    /// `sync_file_create` inside an export: the fence handed out ([`FenceInit`] layout).
    SyncFile = 7,
    /// `dma_buf_poll` entry or return ([`Call`]).
    DmaBufPoll = 8,
    /// `dma_fence_add_callback`: someone will wait for this fence ([`AddCallback`]).
    AddCallback = 9,
    /// `vb2_buffer_done` entry or return ([`Call`]).
    Vb2Done = 10,
    /// In-kernel `dma_fence_wait` start or end ([`FenceWait`]).
    FenceWait = 11,
    /// A videobuf2 buffer moved: qbuf, buf_queue, buf_done, dqbuf ([`Vb2Buf`]).
    Vb2Buf = 12,
    /// `dma_fence_array_create`: the fences an array will hold ([`ArrayCreate`]).
    ArrayCreate = 13,
    /// The arm hook (a driver's device_run, `--arm-hook`) was called: the
    /// job that signals a fence is committed ([`Arm`]). Since version 3.
    Arm = 14,
    /// Who a videobuf2 queue is, at each QBUF: its type, device, driver and
    /// video node ([`Vb2Queue`]). Since version 4.
    Vb2Queue = 15,
    /// Written by userspace, not the kernel: cumulative records the kernel
    /// side could not emit because the ring buffer was full ([`Drops`]).
    Drops = 100,
}

impl Kind {
    /// The kind of a `Header::kind` value; None for one this schema does not know.
    pub fn from_u16(v: u16) -> Option<Kind> {
        Kind::try_from(v).ok()
    }

    /// What a report calls records of this kind.
    pub const fn name(self) -> &'static str {
        match self {
            Kind::FenceInit => "fence init",
            Kind::FenceNames => "fence names",
            Kind::FenceSignaled => "fence signalled",
            Kind::FenceDestroy => "fence destroy",
            Kind::ResvAdd => "resv add",
            Kind::Export => "export",
            Kind::SyncFile => "sync_file",
            Kind::DmaBufPoll => "dma-buf poll",
            Kind::AddCallback => "add callback",
            Kind::Vb2Done => "vb2 done",
            Kind::FenceWait => "fence wait",
            Kind::Vb2Buf => "vb2 buffer",
            Kind::ArrayCreate => "array create",
            Kind::Arm => "arm",
            Kind::Vb2Queue => "vb2 queue",
            Kind::Drops => "drops",
        }
    }

    /// Size in bytes of the whole record (header included) of this kind.
    pub const fn record_len(self) -> usize {
        match self {
            Kind::FenceInit => core::mem::size_of::<FenceInit>(),
            Kind::FenceNames => core::mem::size_of::<FenceNames>(),
            Kind::FenceSignaled => core::mem::size_of::<FenceSignaled>(),
            Kind::FenceDestroy => core::mem::size_of::<FenceDestroy>(),
            Kind::ResvAdd => core::mem::size_of::<ResvAdd>(),
            Kind::Export | Kind::DmaBufPoll | Kind::Vb2Done => core::mem::size_of::<Call>(),
            Kind::SyncFile => core::mem::size_of::<FenceInit>(),
            Kind::AddCallback => core::mem::size_of::<AddCallback>(),
            Kind::FenceWait => core::mem::size_of::<FenceWait>(),
            Kind::Vb2Buf => core::mem::size_of::<Vb2Buf>(),
            Kind::ArrayCreate => core::mem::size_of::<ArrayCreate>(),
            Kind::Arm => core::mem::size_of::<Arm>(),
            Kind::Vb2Queue => core::mem::size_of::<Vb2Queue>(),
            Kind::Drops => core::mem::size_of::<Drops>(),
        }
    }
}

/// Which kind of attachment produced a record: the same hook can be watched
/// several ways, and the figures may differ between them.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, TryFromPrimitive)]
pub enum Via {
    /// A classic tracepoint (perf event).
    Tracepoint = 1,
    /// A raw tracepoint.
    RawTracepoint = 2,
    /// A kprobe or kretprobe.
    Kprobe = 3,
    /// An fentry program.
    Fentry = 4,
}

impl Via {
    /// The attachment of a `Header::via` value; None where unknown.
    pub fn from_u8(v: u8) -> Option<Via> {
        Via::try_from(v).ok()
    }
}

/// Common prefix of every record: when, where and who.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct Header {
    /// A [`Kind`] value.
    pub kind: u16,
    /// A [`Via`] value.
    pub via: u8,
    /// Padding, always zero: the layout is the same on both sides.
    pub _pad: u8,
    /// CPU the hook ran on.
    pub cpu: u32,
    /// `bpf_ktime_get_ns()`: CLOCK_MONOTONIC, nanoseconds.
    pub ts_ns: u64,
    /// Thread group id (the process).
    pub tgid: u32,
    /// Thread id.
    pub tid: u32,
    /// The current task's name.
    pub comm: [u8; COMM_LEN],
}

/// `dma_fence_init`: a fence is born. Keyed by its address.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct FenceInit {
    /// When, where and who.
    pub header: Header,
    /// `struct dma_fence *`.
    pub fence: u64,
    /// `fence->context` (the timeline's context id; 0 for stubs).
    pub context: u64,
    /// `fence->seqno`.
    pub seqno: u64,
}

/// Names from the classic `dma_fence_init` tracepoint, which has the driver
/// and timeline strings but only 32-bit context and seqno and no pointer. The
/// engine joins it to the [`FenceInit`] of the same call.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct FenceNames {
    /// When, where and who.
    pub header: Header,
    /// `fence->context`, cut to 32 bits by the tracepoint.
    pub context: u32,
    /// `fence->seqno`, cut to 32 bits by the tracepoint.
    pub seqno: u32,
    /// The driver's name, NUL-terminated (cut to fit).
    pub driver: [u8; NAME_LEN],
    /// The timeline's name, NUL-terminated (cut to fit).
    pub timeline: [u8; NAME_LEN],
}

/// `dma_fence_signaled`: the fence's end of life as its waiters see it.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct FenceSignaled {
    /// When, where and who.
    pub header: Header,
    /// `struct dma_fence *`.
    pub fence: u64,
    /// `fence->context`.
    pub context: u64,
    /// `fence->seqno`.
    pub seqno: u64,
}

/// `dma_fence_destroy`: the last reference to the fence went.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct FenceDestroy {
    /// When, where and who.
    pub header: Header,
    /// `struct dma_fence *`.
    pub fence: u64,
    /// Whether the fence had signalled, from its flags at destroy:
    /// [`DESTROY_UNSIGNALLED`], [`DESTROY_SIGNALLED`] or
    /// [`DESTROY_UNKNOWN`]. A signalled fence whose signal record never
    /// arrived lost it to a full ring: it is not a hang. Since version 5.
    pub signalled: u32,
    /// Zero.
    pub _pad: u32,
}

/// [`FenceDestroy::signalled`]: the fence had not signalled.
pub const DESTROY_UNSIGNALLED: u32 = 0;
/// [`FenceDestroy::signalled`]: the fence had signalled.
pub const DESTROY_SIGNALLED: u32 = 1;
/// [`FenceDestroy::signalled`]: the kernel's signalled bit is not known.
pub const DESTROY_UNKNOWN: u32 = 2;
/// The length of a [`FenceDestroy`] before version 5, which had no
/// `signalled`: captures of then still read.
pub const FENCE_DESTROY_V4_LEN: usize = 48;

/// The arm hook's call: its first argument, which is the fence when the
/// hook takes one (fencefix_arm), else the driver's job context.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct Arm {
    /// When, where and who.
    pub header: Header,
    /// The hook's first argument.
    pub arg0: u64,
}

/// `dma_resv_add_fence(resv, fence, usage)`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct ResvAdd {
    /// When, where and who.
    pub header: Header,
    /// `struct dma_resv *`: the buffer's reservation object.
    pub resv: u64,
    /// `struct dma_fence *`.
    pub fence: u64,
    /// `enum dma_resv_usage`: 0 KERNEL, 1 WRITE, 2 READ, 3 BOOKKEEP.
    pub usage: u32,
    /// Padding, always zero: the layout is the same on both sides.
    pub _pad: u32,
}

/// Entry or return of a kernel function the tool brackets.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct Call {
    /// When, where and who.
    pub header: Header,
    /// The object the call is about: `struct file *` (export, poll; the fd
    /// where only the syscall tracepoint saw it), `struct vb2_buffer *`.
    pub object: u64,
    /// ioctl cmd, vb2 buffer state, …
    pub arg: u64,
    /// Return value (on return only).
    pub ret: i64,
    /// [`PHASE_ENTRY`] or [`PHASE_RETURN`].
    pub phase: u32,
    /// Padding, always zero: the layout is the same on both sides.
    pub _pad: u32,
}

/// [`Call::phase`] of a function's entry.
pub const PHASE_ENTRY: u32 = 0;
/// [`Call::phase`] of a function's return.
pub const PHASE_RETURN: u32 = 1;

/// `dma_fence_add_callback(fence, cb, func)`: `func` says who waits.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct AddCallback {
    /// When, where and who.
    pub header: Header,
    /// `struct dma_fence *` waited on.
    pub fence: u64,
    /// The callback's function: who waits (dma-buf poll, sync_file poll).
    pub func: u64,
}

/// `dma_fence_wait_start`/`_end`: a wait inside the kernel.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct FenceWait {
    /// When, where and who.
    pub header: Header,
    /// `struct dma_fence *`.
    pub fence: u64,
    /// [`PHASE_ENTRY`] at the wait's start, [`PHASE_RETURN`] at its end.
    pub phase: u32,
    /// Padding, always zero: the layout is the same on both sides.
    pub _pad: u32,
}

/// A videobuf2 tracepoint: the buffer and its queue.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct Vb2Buf {
    /// When, where and who.
    pub header: Header,
    /// `struct vb2_queue *`.
    pub queue: u64,
    /// `struct vb2_buffer *`.
    pub vb: u64,
    /// One of the `VB2_*` stages below.
    pub stage: u32,
    /// Padding, always zero: the layout is the same on both sides.
    pub _pad: u32,
}

/// Who a videobuf2 queue is: read at QBUF from the `struct vb2_queue`, so
/// that two producers on one board (a decoder's OUTPUT and CAPTURE queues,
/// a 2D engine beside it) come out apart. A name the kernel side could not
/// read (its offset unknown on this kernel, a NULL pointer) is all zeroes.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct Vb2Queue {
    /// When, where and who: the process that queued.
    pub header: Header,
    /// `struct vb2_queue *`, as in [`Vb2Buf::queue`].
    pub queue: u64,
    /// `vb2_queue.type`: the `enum v4l2_buf_type` (1 capture, 2 output, 9
    /// capture multiplanar, 10 output multiplanar, …).
    pub queue_type: u32,
    /// Padding, always zero: the layout is the same on both sides.
    pub _pad: u32,
    /// `dev_name(q->dev)`: the device the driver bound, e.g. `vim2m.0` or
    /// `fdea0000.video-codec` (NUL padded); the node's parent device where
    /// the driver leaves `q->dev` NULL.
    pub device: [u8; NAME_LEN],
    /// `q->dev->driver->name`, e.g. `vim2m`, `hantro-vpu` (NUL padded).
    pub driver: [u8; NAME_LEN],
    /// The video node of the file handle that owns the queue
    /// (`q->owner`'s `vdev`), e.g. `video0` (NUL padded).
    pub node: [u8; NAME_LEN],
}

/// Members an [`ArrayCreate`] carries at most; larger arrays say how many
/// they hold and list the first ones.
pub const ARRAY_MEMBERS: usize = 16;

/// `dma_fence_array_create(num, fences, …)` on entry: what the array (whose
/// init follows on the same thread) will hold.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct ArrayCreate {
    /// When, where and who.
    pub header: Header,
    /// How many fences the array holds (more than listed when over [`ARRAY_MEMBERS`]).
    pub count: u32,
    /// Padding, always zero: the layout is the same on both sides.
    pub _pad: u32,
    /// The first members' `struct dma_fence *`.
    pub members: [u64; ARRAY_MEMBERS],
}

/// Userspace queued the buffer (`vb2_qbuf`).
pub const VB2_QBUF: u32 = 0;
/// vb2 handed it to the driver (`vb2_buf_queue`): where the series creates
/// its fence.
pub const VB2_BUF_QUEUE: u32 = 1;
/// The driver is done with it (`vb2_buf_done`).
pub const VB2_BUF_DONE: u32 = 2;
/// Userspace dequeued it (`vb2_dqbuf`).
pub const VB2_DQBUF: u32 = 3;

/// `DMA_BUF_IOCTL_EXPORT_SYNC_FILE`, `_IOWR('b', 2, struct dma_buf_export_sync_file)`.
pub const EXPORT_SYNC_FILE_CMD: u32 = 0xc008_6202;

/// Indexes into the eBPF `DROPS` per-CPU array: records lost because the ring
/// buffer was full, by kind (index 0 is unused).
pub const DROP_SLOTS: u32 = 16;

/// Cumulative drop counts since the start of the session, summed over CPUs,
/// indexed by [`Kind`] value (0 unused). Userspace writes one whenever the
/// counts change, so a capture keeps its losses beside its events.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct Drops {
    /// When, where and who.
    pub header: Header,
    /// Drops so far, indexed by [`Kind`] value.
    pub by_kind: [u64; DROP_SLOTS as usize],
}

/// Names of the eBPF globals userspace sets before load.
pub mod globals {
    /// Byte offset of `context` in `struct dma_fence`.
    pub const FENCE_CONTEXT_OFFSET: &str = "FENCE_CONTEXT_OFFSET";
    /// Byte offset of `seqno` in `struct dma_fence`.
    pub const FENCE_SEQNO_OFFSET: &str = "FENCE_SEQNO_OFFSET";
    /// Offsets of the classic `dma_fence_init` tracepoint record's fields,
    /// read from its tracefs `format` file.
    pub const TP_INIT_DRIVER_OFFSET: &str = "TP_INIT_DRIVER_OFFSET";
    /// Offset of the timeline's `__data_loc` word.
    pub const TP_INIT_TIMELINE_OFFSET: &str = "TP_INIT_TIMELINE_OFFSET";
    /// Offset of the context.
    pub const TP_INIT_CONTEXT_OFFSET: &str = "TP_INIT_CONTEXT_OFFSET";
    /// Offset of the seqno.
    pub const TP_INIT_SEQNO_OFFSET: &str = "TP_INIT_SEQNO_OFFSET";
    /// Offsets of the classic `dma_fence_signaled` record's context, seqno.
    pub const TP_SIGNALED_CONTEXT_OFFSET: &str = "TP_SIGNALED_CONTEXT_OFFSET";
    /// Offset of the seqno in `dma_fence_signaled`.
    pub const TP_SIGNALED_SEQNO_OFFSET: &str = "TP_SIGNALED_SEQNO_OFFSET";
    /// Offsets of `cmd` in `sys_enter_ioctl` and `ret` in `sys_exit_ioctl`.
    pub const TP_IOCTL_CMD_OFFSET: &str = "TP_IOCTL_CMD_OFFSET";
    /// Offset of `fd` in `sys_enter_ioctl`.
    pub const TP_IOCTL_FD_OFFSET: &str = "TP_IOCTL_FD_OFFSET";
    /// Offset of `ret` in `sys_exit_ioctl`.
    pub const TP_IOCTL_RET_OFFSET: &str = "TP_IOCTL_RET_OFFSET";
    /// Addresses of `dma_buf_poll_cb` and `fence_check_cb_func`: the
    /// callbacks of a dma-buf poll and of a sync_file poll (0: unknown).
    pub const WAIT_FUNC_DMABUF: &str = "WAIT_FUNC_DMABUF";
    /// Address of `fence_check_cb_func` (a sync_file poll's callback).
    pub const WAIT_FUNC_SYNC_FILE: &str = "WAIT_FUNC_SYNC_FILE";
    /// Wake the reader once this many bytes wait in the ring buffer.
    pub const WAKEUP_BYTES: &str = "WAKEUP_BYTES";
    /// 0: programs emit nothing (a benchmark's measure of the hooks alone).
    pub const EMIT: &str = "EMIT";
    /// Byte offset of `type` in `struct vb2_queue`.
    pub const VB2_QUEUE_TYPE_OFFSET: &str = "VB2_QUEUE_TYPE_OFFSET";
    /// Byte offset of `dev` in `struct vb2_queue`.
    pub const VB2_QUEUE_DEV_OFFSET: &str = "VB2_QUEUE_DEV_OFFSET";
    /// Byte offset of `owner` (the owning `struct v4l2_fh *`) in `struct
    /// vb2_queue`; [`super::OFFSET_UNKNOWN`] where not known.
    pub const VB2_QUEUE_OWNER_OFFSET: &str = "VB2_QUEUE_OWNER_OFFSET";
    /// Byte offset of `driver` in `struct device`; [`super::OFFSET_UNKNOWN`]
    /// without BTF.
    pub const DEVICE_DRIVER_OFFSET: &str = "DEVICE_DRIVER_OFFSET";
    /// Byte offset of `vdev` in `struct v4l2_fh`.
    pub const V4L2_FH_VDEV_OFFSET: &str = "V4L2_FH_VDEV_OFFSET";
    /// Byte offset of `dev` in `struct video_device`;
    /// [`super::OFFSET_UNKNOWN`] without its BTF.
    pub const VIDEO_DEVICE_DEV_OFFSET: &str = "VIDEO_DEVICE_DEV_OFFSET";
    /// Byte offset of `dev_parent` in `struct video_device`: the device for
    /// drivers that leave `vb2_queue.dev` NULL (vim2m, vicodec);
    /// [`super::OFFSET_UNKNOWN`] without its BTF.
    pub const VIDEO_DEVICE_DEV_PARENT_OFFSET: &str = "VIDEO_DEVICE_DEV_PARENT_OFFSET";
    /// `offsetof(struct dma_fence, flags)`.
    pub const FENCE_FLAGS_OFFSET: &str = "FENCE_FLAGS_OFFSET";
    /// `DMA_FENCE_FLAG_SIGNALED_BIT` (its place moved between kernels);
    /// `OFFSET_UNKNOWN` where it is not known.
    pub const FENCE_SIGNALED_BIT: &str = "FENCE_SIGNALED_BIT";
}

/// A struct offset global's value when the offset is not known on this
/// kernel: the kernel side then leaves what it would have read zeroed.
pub const OFFSET_UNKNOWN: u32 = u32::MAX;

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::{align_of, size_of};

    // The byte image is part of the capture format: a layout change must be
    // a deliberate schema bump, not an accident.
    #[test]
    fn layouts_are_fixed() {
        assert_eq!(size_of::<Header>(), 40);
        assert_eq!(size_of::<FenceInit>(), 64);
        assert_eq!(size_of::<FenceNames>(), 112);
        assert_eq!(size_of::<FenceSignaled>(), 64);
        assert_eq!(size_of::<FenceDestroy>(), 56);
        assert_eq!(size_of::<Arm>(), 48);
        assert_eq!(size_of::<Drops>(), 168);
        assert_eq!(size_of::<ResvAdd>(), 64);
        assert_eq!(size_of::<Call>(), 72);
        assert_eq!(size_of::<AddCallback>(), 56);
        assert_eq!(size_of::<FenceWait>(), 56);
        assert_eq!(size_of::<Vb2Buf>(), 64);
        assert_eq!(size_of::<Vb2Queue>(), 152);
        assert_eq!(size_of::<ArrayCreate>(), 176);
        assert_eq!(align_of::<FenceInit>(), 8);
    }

    #[test]
    fn kinds_round_trip() {
        for k in [
            Kind::FenceInit,
            Kind::FenceNames,
            Kind::FenceSignaled,
            Kind::FenceDestroy,
            Kind::ResvAdd,
            Kind::Export,
            Kind::SyncFile,
            Kind::DmaBufPoll,
            Kind::AddCallback,
            Kind::Vb2Done,
            Kind::FenceWait,
            Kind::Vb2Buf,
            Kind::ArrayCreate,
            Kind::Arm,
            Kind::Vb2Queue,
            Kind::Drops,
        ] {
            assert_eq!(Kind::from_u16(k as u16), Some(k));
        }
        assert_eq!(Kind::from_u16(0), None);
        assert_eq!(Kind::from_u16(99), None);
    }
}
