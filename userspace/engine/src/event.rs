//! Decoding the schema's byte records into owned, typed events.
use fencescope_schema as schema;
use schema::{COMM_LEN, Kind, NAME_LEN, Via};

/// A fixed-size, NUL-padded kernel name (comm, driver, timeline). Kept as
/// bytes so decoding allocates nothing; shown as lossy UTF-8.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name<const N: usize>(pub [u8; N]);

impl<const N: usize> Name<N> {
    /// `s` as the kernel would keep it: its first `N` bytes, NUL padded. Cut by
    /// bytes, so a character may be split (shown as U+FFFD).
    pub fn new(s: &str) -> Self {
        let mut b = [0u8; N];
        let n = s.len().min(N);
        b[..n].copy_from_slice(&s.as_bytes()[..n]);
        Name(b)
    }

    /// The bytes before the first NUL (all `N` when there is none), as lossy
    /// UTF-8.
    pub fn as_str(&self) -> std::borrow::Cow<'_, str> {
        let end = self.0.iter().position(|&c| c == 0).unwrap_or(N);
        String::from_utf8_lossy(&self.0[..end])
    }
}

impl<const N: usize> std::fmt::Debug for Name<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

impl<const N: usize> std::fmt::Display for Name<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.as_str())
    }
}

/// A task's `comm`: its name as the kernel keeps it (15 bytes and a NUL).
pub type Comm = Name<COMM_LEN>;
/// A fence's driver or timeline name, as the classic `dma_fence_init`
/// tracepoint copies it (cut to fit 32 bytes).
pub type FenceName = Name<NAME_LEN>;

/// When, where and who, common to every event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Meta {
    /// `bpf_ktime_get_ns()` when the hook ran: CLOCK_MONOTONIC, nanoseconds.
    pub ts_ns: u64,
    /// CPU the hook ran on.
    pub cpu: u32,
    /// Thread group id (the process) of the task the hook ran in; 0 in the
    /// `Drops` records userspace writes.
    pub tgid: u32,
    /// Thread id of the task the hook ran in.
    pub tid: u32,
    /// The current task's `comm` (the thread's name, not its process's).
    pub comm: Comm,
    /// Which attachment produced the record; None for records userspace writes
    /// itself (drops, synthetic streams) and for values this schema does not know.
    pub via: Option<Via>,
}

/// What a record says happened: one variant per record kind of the eBPF
/// programs (`fencescope_schema::Kind`), the header's fields apart in [`Meta`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Body {
    /// `dma_fence_init`: a fence is born. Keyed by its address.
    FenceInit {
        /// `struct dma_fence *`: the key the fence is followed by, until its destroy.
        fence: u64,
        /// `fence->context`: the timeline's context id; 0 for stubs.
        context: u64,
        /// `fence->seqno`: the fence's place on its timeline.
        seqno: u64,
    },
    /// Driver and timeline names of a fence being initialised, from the classic
    /// `dma_fence_init` tracepoint, which has no pointer: joined to the
    /// [`Body::FenceInit`] of the same call on the 32-bit (context, seqno). In
    /// sessions that watched classic tracepoints only, it is the init itself.
    FenceNames {
        /// `fence->context`, cut to 32 bits by the tracepoint.
        context: u32,
        /// `fence->seqno`, cut to 32 bits by the tracepoint.
        seqno: u32,
        /// The driver's name, as `dma_fence_ops.get_driver_name` gives it.
        driver: FenceName,
        /// The timeline's name, as `dma_fence_ops.get_timeline_name` gives it.
        timeline: FenceName,
    },
    /// `dma_fence_signaled`: the fence's end of life as its waiters see it.
    FenceSignaled {
        /// `struct dma_fence *`; 0 from the classic tracepoint, which has no
        /// pointer (the fence is then found by its 32-bit context and seqno).
        fence: u64,
        /// `fence->context` (32 bits from the classic tracepoint).
        context: u64,
        /// `fence->seqno` (32 bits from the classic tracepoint).
        seqno: u64,
    },
    /// `dma_fence_destroy`: the last reference to the fence went.
    FenceDestroy {
        /// `struct dma_fence *`; the address may be reused by a later init.
        fence: u64,
        /// Whether it had signalled, from its flags; None where the kernel
        /// side could not tell (or a capture from before it did).
        signalled: Option<bool>,
    },
    /// `dma_resv_add_fence(resv, fence, usage)`: the fence now guards a buffer.
    ResvAdd {
        /// `struct dma_resv *`: the buffer's reservation object.
        resv: u64,
        /// `struct dma_fence *` added.
        fence: u64,
        /// `enum dma_resv_usage`: 0 KERNEL, 1 WRITE, 2 READ, 3 BOOKKEEP.
        usage: u32,
    },
    /// EXPORT_SYNC_FILE: `object` is the `struct file *` (kprobe) or the fd
    /// (syscall tracepoint) on entry; `ret` the ioctl's result on return.
    Export {
        /// Entry or return of the ioctl.
        phase: Phase,
        /// On entry the dma-buf's `struct file *` (kprobe) or its fd (syscall
        /// tracepoint); 0 on return.
        object: u64,
        /// On return the ioctl's result (a negative errno when it failed); 0 on entry.
        ret: i64,
    },
    /// The fence an export handed out.
    SyncFile {
        /// `struct dma_fence *` handed out: the buffer's fence, a `dma_fence_array`
        /// made for the export, or a stub.
        fence: u64,
        /// `fence->context`; 0 for a stub (the global one or a private one).
        context: u64,
        /// `fence->seqno`.
        seqno: u64,
    },
    /// `dma_buf_poll` entry or return: a poll on a dma-buf fd, which hooks
    /// `dma_buf_poll_cb` onto the buffer's fence when it is not signalled.
    DmaBufPoll {
        /// Entry or return of the call.
        phase: Phase,
        /// On entry the dma-buf's `struct file *`; 0 on return.
        file: u64,
        /// On return the `__poll_t` mask it returned (POLLIN set: the buffer's
        /// fences have signalled); 0 on entry.
        mask: u64,
    },
    /// `dma_fence_add_callback(fence, cb, func)`: someone will wait for this
    /// fence, and `func` says who.
    AddCallback {
        /// `struct dma_fence *` waited on.
        fence: u64,
        /// The callback's address: `dma_buf_poll_cb` for a dma-buf poll,
        /// `fence_check_cb_func` for a sync_file poll (see [`crate::Symbols`]).
        func: u64,
    },
    /// `vb2_buffer_done(vb, state)` entry or return: the driver is done with a
    /// buffer; a fence signalled inside the call is the producer's done.
    Vb2Done {
        /// Entry or return of the call.
        phase: Phase,
        /// On entry the `struct vb2_buffer *`; 0 on return.
        vb: u64,
        /// On entry the `enum vb2_buffer_state` it was called with (DONE, ERROR,
        /// …); 0 on return.
        state: u32,
    },
    /// In-kernel `dma_fence_wait`: its start or its end (the
    /// `dma_fence_wait_start`/`_end` tracepoints), on the waiting thread.
    FenceWait {
        /// Entry at the wait's start, return at its end.
        phase: Phase,
        /// `struct dma_fence *` waited on.
        fence: u64,
    },
    /// The members of an array about to be made on this thread (`count` may
    /// exceed the listed ones).
    ArrayCreate {
        /// How many fences the array will hold: more than listed when over
        /// `fencescope_schema::ARRAY_MEMBERS`.
        count: u32,
        /// The first members' `struct dma_fence *`; past `count`, zero.
        members: [u64; schema::ARRAY_MEMBERS],
    },
    /// The arm hook was called with `arg0` (a fence, or a job context).
    Arm {
        /// The hook's first argument: the fence where the hook takes one
        /// (fencefix_arm), else the driver's job context.
        arg0: u64,
    },
    /// Who a vb2 queue is, at a QBUF on it (the meta's process queued).
    Vb2Queue {
        /// `struct vb2_queue *`.
        queue: u64,
        /// `enum v4l2_buf_type`: 1 capture, 2 output, 9/10 their multiplanar forms, ….
        queue_type: u32,
        /// The device the driver bound (`dev_name(q->dev)`); empty where unreadable.
        device: FenceName,
        /// The driver's name; empty where unreadable.
        driver: FenceName,
        /// The video node of the owning file handle (`video0`); empty where unknown.
        node: FenceName,
    },
    /// A vb2 buffer's stage (`fencescope_schema::VB2_*`).
    Vb2Buf {
        /// `struct vb2_queue *`.
        queue: u64,
        /// `struct vb2_buffer *`: a stable name while its queue's buffers are
        /// allocated.
        vb: u64,
        /// `VB2_QBUF`, `VB2_BUF_QUEUE`, `VB2_BUF_DONE` or `VB2_DQBUF`.
        stage: u32,
    },
    /// Cumulative per-kind drop counts (index = kind value).
    Drops {
        /// Records lost so far, summed over CPUs, indexed by `Kind` value (0 unused).
        by_kind: [u64; schema::DROP_SLOTS as usize],
    },
}

/// Entry or return of a bracketed call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// The function was entered (a wait started).
    Entry,
    /// The function returned (a wait ended).
    Return,
}

impl Phase {
    fn from_u32(v: u32) -> Phase {
        if v == schema::PHASE_RETURN { Phase::Return } else { Phase::Entry }
    }

    fn to_u32(self) -> u32 {
        match self {
            Phase::Entry => schema::PHASE_ENTRY,
            Phase::Return => schema::PHASE_RETURN,
        }
    }
}

/// One decoded record: when, where and who, and what happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    /// When, where and who: the record's header.
    pub meta: Meta,
    /// What happened: the record's kind and its fields.
    pub body: Body,
}

/// Why a byte record could not be decoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    /// Fewer bytes than a header: not even the kind can be read.
    #[error("record of {0} bytes is shorter than a header")]
    Short(usize),
    /// A `Header::kind` this schema does not know (a newer kernel side, or a
    /// corrupt capture).
    #[error("unknown record kind {0}")]
    UnknownKind(u16),
    /// The length is not the size of the kind's record.
    #[error("record of kind {kind:?} has {got} bytes, expected {want}")]
    Length {
        /// The kind the header names.
        kind: Kind,
        /// Bytes the record has.
        got: usize,
        /// Bytes a record of that kind has (`Kind::record_len`).
        want: usize,
    },
}

/// A record out of a ring buffer or a capture chunk, at any alignment (the
/// caller has checked the length).
fn read<T: bytemuck::Pod>(bytes: &[u8]) -> T {
    bytemuck::pod_read_unaligned(&bytes[..size_of::<T>()])
}

fn call(header: schema::Header, phase: Phase, object: u64, arg: u64, ret: i64) -> schema::Call {
    schema::Call { header, object, arg, ret, phase: phase.to_u32(), _pad: 0 }
}

impl Event {
    /// Decodes one record. Trailing bytes beyond the kind's size are refused:
    /// the ring buffer and the capture both delimit records exactly.
    pub fn decode(bytes: &[u8]) -> Result<Event, DecodeError> {
        if bytes.len() < size_of::<schema::Header>() {
            return Err(DecodeError::Short(bytes.len()));
        }
        let h: schema::Header = read(bytes);
        let kind = Kind::from_u16(h.kind).ok_or(DecodeError::UnknownKind(h.kind))?;
        let want = kind.record_len();
        let old_destroy = kind == Kind::FenceDestroy && bytes.len() == schema::FENCE_DESTROY_V4_LEN;
        if bytes.len() != want && !old_destroy {
            return Err(DecodeError::Length { kind, got: bytes.len(), want });
        }
        let meta = Meta {
            ts_ns: h.ts_ns,
            cpu: h.cpu,
            tgid: h.tgid,
            tid: h.tid,
            comm: Name(h.comm),
            via: Via::from_u8(h.via),
        };
        let body = match kind {
            Kind::FenceInit => {
                let r: schema::FenceInit = read(bytes);
                Body::FenceInit { fence: r.fence, context: r.context, seqno: r.seqno }
            }
            Kind::FenceNames => {
                let r: schema::FenceNames = read(bytes);
                Body::FenceNames {
                    context: r.context,
                    seqno: r.seqno,
                    driver: Name(r.driver),
                    timeline: Name(r.timeline),
                }
            }
            Kind::FenceSignaled => {
                let r: schema::FenceSignaled = read(bytes);
                Body::FenceSignaled { fence: r.fence, context: r.context, seqno: r.seqno }
            }
            Kind::FenceDestroy if old_destroy => Body::FenceDestroy {
                fence: read::<u64>(&bytes[size_of::<schema::Header>()..]),
                signalled: None,
            },
            Kind::FenceDestroy => {
                let r: schema::FenceDestroy = read(bytes);
                let signalled = match r.signalled {
                    schema::DESTROY_UNSIGNALLED => Some(false),
                    schema::DESTROY_SIGNALLED => Some(true),
                    _ => None,
                };
                Body::FenceDestroy { fence: r.fence, signalled }
            }
            Kind::ResvAdd => {
                let r: schema::ResvAdd = read(bytes);
                Body::ResvAdd { resv: r.resv, fence: r.fence, usage: r.usage }
            }
            Kind::Export | Kind::DmaBufPoll | Kind::Vb2Done => {
                let r: schema::Call = read(bytes);
                let phase = Phase::from_u32(r.phase);
                match kind {
                    Kind::Export => Body::Export { phase, object: r.object, ret: r.ret },
                    Kind::DmaBufPoll => {
                        Body::DmaBufPoll { phase, file: r.object, mask: r.ret as u64 }
                    }
                    _ => Body::Vb2Done { phase, vb: r.object, state: r.arg as u32 },
                }
            }
            Kind::SyncFile => {
                let r: schema::FenceInit = read(bytes);
                Body::SyncFile { fence: r.fence, context: r.context, seqno: r.seqno }
            }
            Kind::AddCallback => {
                let r: schema::AddCallback = read(bytes);
                Body::AddCallback { fence: r.fence, func: r.func }
            }
            Kind::FenceWait => {
                let r: schema::FenceWait = read(bytes);
                Body::FenceWait { phase: Phase::from_u32(r.phase), fence: r.fence }
            }
            Kind::Arm => {
                let r: schema::Arm = read(bytes);
                Body::Arm { arg0: r.arg0 }
            }
            Kind::ArrayCreate => {
                let r: schema::ArrayCreate = read(bytes);
                Body::ArrayCreate { count: r.count, members: r.members }
            }
            Kind::Vb2Queue => {
                let r: schema::Vb2Queue = read(bytes);
                Body::Vb2Queue {
                    queue: r.queue,
                    queue_type: r.queue_type,
                    device: Name(r.device),
                    driver: Name(r.driver),
                    node: Name(r.node),
                }
            }
            Kind::Vb2Buf => {
                let r: schema::Vb2Buf = read(bytes);
                Body::Vb2Buf { queue: r.queue, vb: r.vb, stage: r.stage }
            }
            Kind::Drops => {
                let r: schema::Drops = read(bytes);
                Body::Drops { by_kind: r.by_kind }
            }
        };
        Ok(Event { meta, body })
    }

    /// The schema byte image of this event: what the kernel side would have
    /// emitted. Used to write synthetic streams and userspace records.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let m = &self.meta;
        let header = |kind: Kind| schema::Header {
            kind: kind as u16,
            via: m.via.map_or(0, |v| v as u8),
            _pad: 0,
            cpu: m.cpu,
            ts_ns: m.ts_ns,
            tgid: m.tgid,
            tid: m.tid,
            comm: m.comm.0,
        };
        fn push<T: bytemuck::Pod>(out: &mut Vec<u8>, v: T) {
            out.extend_from_slice(bytemuck::bytes_of(&v));
        }
        match self.body {
            Body::FenceInit { fence, context, seqno } => push(
                out,
                schema::FenceInit { header: header(Kind::FenceInit), fence, context, seqno },
            ),
            Body::FenceNames { context, seqno, driver, timeline } => push(
                out,
                schema::FenceNames {
                    header: header(Kind::FenceNames),
                    context,
                    seqno,
                    driver: driver.0,
                    timeline: timeline.0,
                },
            ),
            Body::FenceSignaled { fence, context, seqno } => push(
                out,
                schema::FenceSignaled {
                    header: header(Kind::FenceSignaled),
                    fence,
                    context,
                    seqno,
                },
            ),
            Body::FenceDestroy { fence, signalled } => {
                let signalled = match signalled {
                    Some(false) => schema::DESTROY_UNSIGNALLED,
                    Some(true) => schema::DESTROY_SIGNALLED,
                    None => schema::DESTROY_UNKNOWN,
                };
                let header = header(Kind::FenceDestroy);
                push(out, schema::FenceDestroy { header, fence, signalled, _pad: 0 })
            }
            Body::ResvAdd { resv, fence, usage } => push(
                out,
                schema::ResvAdd { header: header(Kind::ResvAdd), resv, fence, usage, _pad: 0 },
            ),
            Body::Export { phase, object, ret } => {
                push(out, call(header(Kind::Export), phase, object, 0, ret))
            }
            Body::DmaBufPoll { phase, file, mask } => {
                push(out, call(header(Kind::DmaBufPoll), phase, file, 0, mask as i64))
            }
            Body::Vb2Done { phase, vb, state } => {
                push(out, call(header(Kind::Vb2Done), phase, vb, u64::from(state), 0))
            }
            Body::SyncFile { fence, context, seqno } => push(
                out,
                schema::FenceInit { header: header(Kind::SyncFile), fence, context, seqno },
            ),
            Body::AddCallback { fence, func } => {
                push(out, schema::AddCallback { header: header(Kind::AddCallback), fence, func })
            }
            Body::FenceWait { phase, fence } => push(
                out,
                schema::FenceWait {
                    header: header(Kind::FenceWait),
                    fence,
                    phase: phase.to_u32(),
                    _pad: 0,
                },
            ),
            Body::ArrayCreate { count, members } => push(
                out,
                schema::ArrayCreate { header: header(Kind::ArrayCreate), count, _pad: 0, members },
            ),
            Body::Arm { arg0 } => push(out, schema::Arm { header: header(Kind::Arm), arg0 }),
            Body::Vb2Buf { queue, vb, stage } => push(
                out,
                schema::Vb2Buf { header: header(Kind::Vb2Buf), queue, vb, stage, _pad: 0 },
            ),
            Body::Vb2Queue { queue, queue_type, device, driver, node } => push(
                out,
                schema::Vb2Queue {
                    header: header(Kind::Vb2Queue),
                    queue,
                    queue_type,
                    _pad: 0,
                    device: device.0,
                    driver: driver.0,
                    node: node.0,
                },
            ),
            Body::Drops { by_kind } => {
                push(out, schema::Drops { header: header(Kind::Drops), by_kind })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> Meta {
        Meta {
            ts_ns: 42,
            cpu: 1,
            tgid: 10,
            tid: 11,
            comm: Name::new("vgem-producer"),
            via: Some(Via::Kprobe),
        }
    }

    #[test]
    fn every_body_round_trips_through_bytes() {
        let bodies = [
            Body::FenceInit { fence: 0xffff_8880_0000_1000, context: 7, seqno: 1 },
            Body::FenceNames {
                context: 7,
                seqno: 1,
                driver: Name::new("vgem"),
                timeline: Name::new("unbound"),
            },
            Body::FenceSignaled { fence: 1, context: 2, seqno: 3 },
            Body::FenceDestroy { fence: 9, signalled: Some(true) },
            Body::FenceDestroy { fence: 9, signalled: Some(false) },
            Body::FenceDestroy { fence: 9, signalled: None },
            Body::Drops { by_kind: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15] },
            Body::ResvAdd { resv: 0xaa, fence: 0xbb, usage: 1 },
            Body::Export { phase: Phase::Entry, object: 0xf11e, ret: 0 },
            Body::Export { phase: Phase::Return, object: 0, ret: -22 },
            Body::SyncFile { fence: 5, context: 6, seqno: 7 },
            Body::DmaBufPoll { phase: Phase::Return, file: 0, mask: 1 },
            Body::AddCallback { fence: 5, func: 0xffff_ffff_8100_0000 },
            Body::Vb2Done { phase: Phase::Entry, vb: 0x1234, state: 2 },
            Body::FenceWait { phase: Phase::Return, fence: 9 },
            Body::Vb2Buf { queue: 1, vb: 2, stage: 3 },
            Body::Vb2Queue {
                queue: 1,
                queue_type: 9,
                device: Name::new("fdea0000.video-codec"),
                driver: Name::new("hantro-vpu"),
                node: Name::new("video1"),
            },
            Body::ArrayCreate { count: 17, members: [7; 16] },
            Body::Arm { arg0: 0xffff_8880_0000_1000 },
        ];
        for body in bodies {
            let ev = Event { meta: meta(), body };
            let mut bytes = Vec::new();
            ev.encode(&mut bytes);
            assert_eq!(Event::decode(&bytes), Ok(ev));
        }
    }

    #[test]
    fn bad_records_are_refused() {
        assert_eq!(Event::decode(&[0; 8]), Err(DecodeError::Short(8)));
        let mut bytes = Vec::new();
        Event { meta: meta(), body: Body::FenceDestroy { fence: 1, signalled: None } }
            .encode(&mut bytes);
        // A destroy of schema 4 (no `signalled`) still reads, as unknown.
        let old = &bytes[..fencescope_schema::FENCE_DESTROY_V4_LEN];
        let body = Event::decode(old).map(|e| e.body);
        assert_eq!(body, Ok(Body::FenceDestroy { fence: 1, signalled: None }));
        bytes.push(0);
        assert!(matches!(Event::decode(&bytes), Err(DecodeError::Length { .. })));
        bytes.truncate(40);
        bytes[0] = 77;
        assert_eq!(Event::decode(&bytes), Err(DecodeError::UnknownKind(77)));
    }

    #[test]
    fn names_stop_at_nul_and_truncate() {
        assert_eq!(Name::<4>::new("abcdef").as_str(), "abcd");
        assert_eq!(Name::<8>::new("ab").as_str(), "ab");
    }
}
