//! A decoder-like client of the fencefix test device (fixtures/fencefix),
//! or with `--driver vim2m` of an upstream single-node mem2mem device (both
//! queues on one video node, its default formats, its `mode` parameter from
//! kernel/patches): it streams OUTPUT → CAPTURE one job at a time and hands each CAPTURE
//! buffer (an EXPBUF dma-buf) to a compositor-like process that waits as
//! KWin does — poll the dma-buf with no timeout; if busy, export a sync
//! file and wait for it.
//!
//! When a buffer is handed over decides what the waiter meets:
//! - by default just after the job is committed (OUTPUT queued, then
//!   `--hand-after-ms`): the wait is the job's remaining time;
//! - with `--starve-ms`, right after the CAPTURE buffer is queued, then the
//!   OUTPUT is held back that long: a fence created at queue time now waits
//!   on userspace, and so does the compositor;
//! - `--style export` exports at once instead of polling first (an export
//!   of a buffer with no fence gets the stub: counted "before the series");
//! - `--style kms` shows the buffer on vkms instead (crate::kms): the
//!   kernel's blocking commit waits on its fences, and the waiter times
//!   each commit;
//! - `--foreign-ms MS`: after each frame a GPU-like producer (vgem, the
//!   buffer imported by PRIME) writes the buffer in place, its own fence on
//!   it for MS: the foreign fence the reviewers raised;
//! - `--export-only N`: only the first N CAPTURE buffers are exported (and
//!   handed over): the others have no dma-buf for a fence to go on;
//! - with `--kill-after N`, frame N is handed over and the client exits
//!   without ever queueing its OUTPUT (a crashed decoder): the waiter, which
//!   still holds the device and the buffer, waits until `--wait-limit-ms`.
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::time::Duration;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::clock::{self, Clock};
use crate::dmabuf::{export_sync_file, readable};
use crate::uapi::{ioctl, owned};
use crate::v4l2::{
    BUF_TYPE_VIDEO_CAPTURE, Buffer, ExportBuffer, MEMORY_MMAP, PixFormat, RequestBuffers,
    VIDIOC_DQBUF, VIDIOC_EXPBUF, VIDIOC_QBUF, VIDIOC_REQBUFS, VIDIOC_STREAMON, find_device,
};
use crate::waiter::spawn_waiter;

const BUF_TYPE_VIDEO_OUTPUT: u32 = 2;
const CAP_VIDEO_OUTPUT: u32 = 0x2;
const CAP_VIDEO_M2M: u32 = 0x8000;

#[derive(Clone, Debug)]
pub struct Plan {
    /// fencefix (two nodes), or a single-node m2m driver (vim2m).
    pub driver: String,
    pub frames: u32,
    pub buffers: u32,
    pub starve: Duration,
    pub hand_after: Duration,
    pub waiter_comm: String,
    pub kill_after: Option<u32>,
    pub wait_limit_ms: i32,
    /// How the waiter asks for each buffer.
    pub ask: Ask,
    /// After each frame, a GPU-like producer (vgem) writes the decoded
    /// buffer in place: its own fence on the V4L2 buffer, this long.
    pub foreign: Option<Duration>,
    /// Export (EXPBUF) only the first N CAPTURE buffers; the others are
    /// decoded but never handed over (a fence has no dma-buf to go on).
    pub export_only: Option<u32>,
}

/// How the waiter asks for a buffer handed to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Ask {
    /// KWin's way: poll the dma-buf; if busy, export a sync file, wait on it.
    PollExport,
    /// Export a sync file at once and wait on it.
    Export,
    /// Commit the buffer to vkms's CRTC: the kernel waits on its fences.
    Kms,
}

#[derive(Serialize)]
pub struct Truth {
    /// The device's driver.
    pub driver: String,
    /// Its mode and job time, as its parameters say.
    pub mode: String,
    pub job_ms: f64,
    pub frames: u32,
    pub starve_ms: f64,
    pub hand_after_ms: f64,
    pub waiter_comm: String,
    /// How the waiter asked.
    pub ask: Ask,
    /// Waits the waiter measured itself (ask → readable), milliseconds;
    /// with `kms`, each commit's whole time (its fence wait, then vkms's
    /// vblank).
    pub waits_ms: Vec<f64>,
    /// Asks that found the buffer idle (no fence, or already signalled).
    pub zero_waits: u32,
    /// Waits given up after `wait_limit_ms` (a fence that never signals).
    pub timeouts: u32,
    /// The frame after whose hand-over the client exited, if it did.
    pub killed_after: Option<u32>,
    /// vgem fences put on V4L2 buffers (`--foreign-ms`).
    pub foreign_fences: u32,
    /// The client ran SCHED_FIFO, or why not.
    pub realtime: Result<(), String>,
}

fn param(driver: &str, name: &str) -> String {
    std::fs::read_to_string(format!("/sys/module/{driver}/parameters/{name}"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

fn buffer(kind: u32, index: u32) -> Buffer {
    Buffer { index, kind, memory: MEMORY_MMAP, bytesused: 4096, ..Default::default() }
}

fn qbuf(dev: &File, kind: u32, index: u32) -> Result<()> {
    ioctl(dev, VIDIOC_QBUF, &mut buffer(kind, index)).context("QBUF")
}

fn dqbuf(dev: &File, kind: u32) -> Result<u32> {
    let mut b = buffer(kind, 0);
    ioctl(dev, VIDIOC_DQBUF, &mut b).context("DQBUF")?;
    Ok(b.index)
}

fn setup(dev: &File, kind: u32, count: u32) -> Result<u32> {
    let mut req = RequestBuffers { count, kind, memory: MEMORY_MMAP, ..Default::default() };
    ioctl(dev, VIDIOC_REQBUFS, &mut req).context("REQBUFS")?;
    Ok(req.count)
}

/// The waiter's answer per hand-over: 'z' idle, 'w' waited (then the wait
/// in ns), 't' gave up.
fn waiter(
    bufs: Vec<OwnedFd>,
    mut tokens: File,
    mut acks: File,
    limit_ms: i32,
    ask: Ask,
    format: PixFormat,
) -> Result<()> {
    let clock = Clock::monotonic();
    let display = match ask {
        Ask::Kms => Some(crate::kms::Display::open(&bufs, format)?),
        _ => None,
    };
    let mut b = [0u8; 4];
    while tokens.read_exact(&mut b).is_ok() {
        let index = u32::from_le_bytes(b) as usize;
        let Some(buf) = bufs.get(index) else { break };
        let asked = clock.now();
        let mut ack = [0u8; 9];
        if let Some(d) = &display {
            d.show(index)?;
            ack[0] = b'w';
            ack[1..].copy_from_slice(&((clock.now() - asked).as_nanos() as u64).to_le_bytes());
        } else if ask == Ask::PollExport && readable(buf, 0)? {
            ack[0] = b'z';
        } else {
            let sync = export_sync_file(buf)?;
            if readable(&sync, 0)? {
                ack[0] = b'z';
            } else if readable(&sync, limit_ms)? {
                ack[0] = b'w';
                ack[1..].copy_from_slice(&((clock.now() - asked).as_nanos() as u64).to_le_bytes());
            } else {
                ack[0] = b't';
            }
        }
        // The client may be gone (--kill-after): nobody to tell.
        let _ = acks.write_all(&ack);
    }
    Ok(())
}

pub fn run(plan: &Plan) -> Result<Truth> {
    clock::tighten_timer_slack();
    let (out, cap) = if plan.driver == "fencefix" {
        let (out, _) = find_device("fencefix", CAP_VIDEO_OUTPUT)
            .context("the fencefix fixture (fixtures/fencefix) is not loaded")?;
        (out, find_device("fencefix", crate::v4l2::CAP_VIDEO_CAPTURE)?.0)
    } else {
        // One node, both queues.
        let (node, _) = find_device(&plan.driver, CAP_VIDEO_M2M)?;
        (node.try_clone()?, node)
    };
    // The job time: fencefix's job_ms, vim2m's default_transtime.
    let job_ms = [param(&plan.driver, "job_ms"), param(&plan.driver, "default_transtime")]
        .iter()
        .find_map(|v| v.parse().ok())
        .unwrap_or(0.0);
    let n = setup(&cap, BUF_TYPE_VIDEO_CAPTURE, plan.buffers)?;
    setup(&out, BUF_TYPE_VIDEO_OUTPUT, plan.buffers)?;
    let mut bufs = Vec::new();
    let mut foreign_fds = Vec::new();
    let exported = plan.export_only.unwrap_or(n).min(n);
    for index in 0..exported {
        let mut e = ExportBuffer { kind: BUF_TYPE_VIDEO_CAPTURE, index, ..Default::default() };
        ioctl(&cap, VIDIOC_EXPBUF, &mut e).context("EXPBUF")?;
        let fd = owned(e.fd);
        if plan.foreign.is_some() {
            foreign_fds.push(fd.try_clone()?);
        }
        bufs.push(fd);
    }
    for (dev, kind) in [(&out, BUF_TYPE_VIDEO_OUTPUT), (&cap, BUF_TYPE_VIDEO_CAPTURE)] {
        let mut k = kind as i32;
        ioctl(dev, VIDIOC_STREAMON, &mut k).context("STREAMON")?;
    }
    let limit = plan.wait_limit_ms;
    let ask = plan.ask;
    let format = crate::v4l2::format(&cap, BUF_TYPE_VIDEO_CAPTURE)?;
    let (pid, mut token_tx, mut ack_rx) = spawn_waiter(&plan.waiter_comm, move |tokens, acks| {
        // SAFETY: ignoring SIGPIPE: a gone client is seen as a write error.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
        waiter(bufs, tokens, acks, limit, ask, format)
    })?;
    let mut truth = Truth {
        driver: plan.driver.clone(),
        mode: param(&plan.driver, "mode"),
        job_ms,
        frames: plan.frames,
        starve_ms: plan.starve.as_secs_f64() * 1e3,
        hand_after_ms: plan.hand_after.as_secs_f64() * 1e3,
        waiter_comm: plan.waiter_comm.clone(),
        ask: plan.ask,
        waits_ms: Vec::new(),
        zero_waits: 0,
        timeouts: 0,
        killed_after: None,
        foreign_fences: 0,
        realtime: clock::realtime(50),
    };
    // The GPU-like producer, and the V4L2 buffers it imported.
    let gpu = match plan.foreign {
        Some(_) => Some(crate::vgem::Device::open()?),
        None => None,
    };
    let imported: Vec<u32> = match &gpu {
        Some(g) => foreign_fds.iter().map(|b| g.import(b)).collect::<Result<_>>()?,
        None => Vec::new(),
    };
    let clock = Clock::monotonic();
    for frame in 0..plan.frames {
        let index = frame % n;
        let handed = index < exported;
        let mut hand = |i: u32| -> Result<()> {
            if handed {
                token_tx.write_all(&i.to_le_bytes()).context("telling the waiter")?;
            }
            Ok(())
        };
        qbuf(&cap, BUF_TYPE_VIDEO_CAPTURE, index)?;
        if plan.kill_after == Some(frame) {
            hand(index)?;
            truth.killed_after = Some(frame);
            println!("{}", serde_json::to_string(&truth)?);
            std::io::stdout().flush()?;
            // SAFETY: a crash, on purpose: no OUTPUT, no clean-up.
            unsafe { libc::_exit(0) };
        }
        if plan.starve.is_zero() {
            qbuf(&out, BUF_TYPE_VIDEO_OUTPUT, index)?;
            // A real sleep, not a spin: the driver's device_run (a kworker)
            // runs meanwhile, so the buffer is handed over once its job is
            // committed, as a decoder hands over a frame being decoded.
            std::thread::sleep(plan.hand_after);
            hand(index)?;
        } else {
            hand(index)?;
            clock.sleep_until(clock.now() + plan.starve);
            qbuf(&out, BUF_TYPE_VIDEO_OUTPUT, index)?;
        }
        dqbuf(&cap, BUF_TYPE_VIDEO_CAPTURE)?;
        dqbuf(&out, BUF_TYPE_VIDEO_OUTPUT)?;
        if !handed {
            continue;
        }
        let mut ack = [0u8; 9];
        ack_rx.read_exact(&mut ack).context("hearing from the waiter")?;
        if let (Some(g), Some(busy)) = (&gpu, plan.foreign) {
            let fence = g.attach(imported[index as usize])?;
            clock.sleep_until(clock.now() + busy);
            g.signal(fence)?;
            truth.foreign_fences += 1;
        }
        match ack[0] {
            b'w' => truth.waits_ms.push(u64::from_le_bytes(ack[1..].try_into()?) as f64 / 1e6),
            b'z' => truth.zero_waits += 1,
            _ => truth.timeouts += 1,
        }
    }
    drop(token_tx);
    let mut status = 0;
    // SAFETY: our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    Ok(truth)
}
