//! A vgem fence producer with exact timings, and a separate waiter process
//! that asks for each fence the way a compositor does (export a sync file
//! from the dma-buf, poll it).
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::Serialize;

use crate::clock::{self, Clock};
use crate::dmabuf::{export_sync_file, readable};
use crate::uapi::*;
use crate::waiter::{Style, Token};

pub struct Device {
    card: File,
}

/// A dumb buffer: its GEM handle, row pitch in bytes and dma-buf fd.
pub struct Dumb {
    pub handle: u32,
    pub pitch: u32,
    pub dmabuf: OwnedFd,
}

impl Device {
    /// The first DRM card whose driver is vgem.
    pub fn open() -> Result<Device> {
        Ok(Device { card: crate::kms::open_card("vgem")? })
    }

    /// A small dumb buffer: its GEM handle and a dma-buf fd for it.
    pub fn buffer(&self) -> Result<(u32, OwnedFd)> {
        let b = self.dumb(64, 64)?;
        Ok((b.handle, b.dmabuf))
    }

    /// A 32-bit-per-pixel dumb buffer of the given size, exported with PRIME.
    pub fn dumb(&self, width: u32, height: u32) -> Result<Dumb> {
        let mut d = CreateDumb { width, height, bpp: 32, ..Default::default() };
        ioctl(&self.card, DRM_IOCTL_MODE_CREATE_DUMB, &mut d).context("CREATE_DUMB")?;
        let mut p = PrimeHandle { handle: d.handle, flags: DRM_CLOEXEC | DRM_RDWR, fd: -1 };
        ioctl(&self.card, DRM_IOCTL_PRIME_HANDLE_TO_FD, &mut p).context("PRIME_HANDLE_TO_FD")?;
        Ok(Dumb { handle: d.handle, pitch: d.pitch, dmabuf: owned(p.fd) })
    }

    /// Imports another driver's dma-buf (a V4L2 buffer): the handle's
    /// fences go on that buffer's reservation object.
    pub fn import(&self, dmabuf: &impl AsRawFd) -> Result<u32> {
        let mut p = PrimeHandle { handle: 0, flags: 0, fd: dmabuf.as_raw_fd() };
        ioctl(&self.card, DRM_IOCTL_PRIME_FD_TO_HANDLE, &mut p).context("PRIME_FD_TO_HANDLE")?;
        Ok(p.handle)
    }

    /// Attaches a new write fence to the buffer; returns vgem's fence id.
    pub fn attach(&self, handle: u32) -> Result<u32> {
        let mut a = VgemFenceAttach { handle, flags: VGEM_FENCE_WRITE, ..Default::default() };
        ioctl(&self.card, DRM_IOCTL_VGEM_FENCE_ATTACH, &mut a).context("VGEM_FENCE_ATTACH")?;
        Ok(a.out_fence)
    }

    pub fn signal(&self, fence: u32) -> Result<()> {
        let mut s = VgemFenceSignal { fence, flags: 0 };
        ioctl(&self.card, DRM_IOCTL_VGEM_FENCE_SIGNAL, &mut s).context("VGEM_FENCE_SIGNAL")
    }
}

/// Fences of one lifetime, asked for in one style.
#[derive(Clone, Copy, Debug)]
pub struct Class {
    pub lifetime: Duration,
    pub count: u32,
    pub style: Style,
}

#[derive(Clone, Debug)]
pub struct Plan {
    /// Fence classes, interleaved one of each in turn.
    pub lifetimes: Vec<Class>,
    /// The waiter asks this long after each fence's birth (zero: at once).
    pub ask_after: Duration,
    pub stub_exports: u32,
    pub waiter_comm: String,
    /// How far from the asked lifetime a fence may be before the producer
    /// reports it as imprecise.
    pub precision: Duration,
}

#[derive(Serialize)]
pub struct Truth {
    pub driver: &'static str,
    pub timeline: &'static str,
    /// Per injected lifetime: how many fences, and the producer's own
    /// attach-call → signal-call durations.
    pub lifetimes: Vec<Injected>,
    pub fences: u32,
    pub stub_exports: u32,
    pub waiter_waits: u32,
    pub waiter_comm: String,
    /// The producer ran SCHED_FIFO (precise timings), or why not.
    pub realtime: Result<(), String>,
}

#[derive(Serialize)]
pub struct Injected {
    pub lifetime_ms: f64,
    pub count: u32,
    /// How the waiter asked for these fences.
    pub style: &'static str,
    /// The wait injected, where the waiter asked at a set time.
    pub wait_ms: Option<f64>,
    /// attach-call → signal-call, as the producer measured it.
    pub measured_min_ms: f64,
    pub measured_max_ms: f64,
    /// Longest attach and signal ioctls: the kernel stamps birth and signal
    /// somewhere inside them.
    pub attach_ioctl_max_ms: f64,
    pub signal_ioctl_max_ms: f64,
    /// Fences whose lifetime the producer cannot vouch for within
    /// `precision_ms` (a stall of the machine, not of the tracer).
    pub imprecise: Vec<Imprecise>,
}

#[derive(Serialize)]
pub struct Imprecise {
    pub index: u32,
    pub measured_ms: f64,
    pub attach_ioctl_ms: f64,
    pub signal_ioctl_ms: f64,
}

/// Per fence: attach-call, attach-return, signal-call, signal-return.
#[derive(Default)]
struct Stamps {
    lifetimes: Vec<(f64, f64, f64)>,
}

pub fn run(plan: &Plan) -> Result<Truth> {
    clock::tighten_timer_slack();
    let dev = Device::open()?;
    let (handle, fenced) = dev.buffer()?;
    let (_bare_handle, bare) = dev.buffer()?;
    let comm = plan.waiter_comm.clone();
    let (pid, mut token_tx, mut ack_rx) =
        crate::waiter::spawn_waiter(&comm, move |tokens, acks| {
            // Ahead of the tracers, behind the producer: it asks on time.
            let _ = clock::realtime(40);
            crate::waiter::run(fenced, bare, tokens, acks)
        })?;
    // Only the producer: the waiter is an ordinary compositor-like process.
    let realtime = clock::realtime(50);

    let clock = Clock::monotonic();
    let mut stamps: Vec<Stamps> = plan.lifetimes.iter().map(|_| Stamps::default()).collect();
    let classes = &plan.lifetimes;
    let mut left: Vec<u32> = classes.iter().map(|c| c.count).collect();
    let mut waits = 0;
    let mut ack = [0u8; 1];
    while left.iter().any(|&n| n > 0) {
        for (i, lifetime) in classes.iter().map(|c| c.lifetime).enumerate() {
            if left[i] == 0 {
                continue;
            }
            left[i] -= 1;
            // Stamped before the attach: the kernel stamps the fence's birth
            // inside it, and the signal's on the way into the signal ioctl,
            // so both ends carry one syscall entry and the lifetime the
            // kernel sees is the one asked for (any cost after the birth
            // stamp, such as a tracer's first run, falls inside the wait).
            let born = clock.now();
            let fence = dev.attach(handle)?;
            let attached = clock.now();
            let ask_at =
                if plan.ask_after.is_zero() { Duration::ZERO } else { born + plan.ask_after };
            Token::Fence { style: classes[i].style, ask_at }.send(&mut token_tx)?;
            clock.sleep_until(born + lifetime);
            let at = clock.now();
            dev.signal(fence)?;
            let signalled = clock.now();
            let ms = |d: Duration| d.as_secs_f64() * 1e3;
            stamps[i].lifetimes.push((ms(at - born), ms(attached - born), ms(signalled - at)));
            ack_rx.read_exact(&mut ack)?;
            waits += u32::from(ack[0] == b'w');
        }
    }
    for _ in 0..plan.stub_exports {
        Token::Stub.send(&mut token_tx)?;
        ack_rx.read_exact(&mut ack)?;
        if ack[0] == b'w' {
            bail!("an export of a fence-less buffer was not ready at once");
        }
    }
    Token::Quit.send(&mut token_tx)?;
    let mut status = 0;
    // SAFETY: waiting for our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        bail!("the waiter failed (status {status:#x})");
    }
    Ok(Truth {
        driver: "vgem",
        timeline: "unbound",
        lifetimes: plan
            .lifetimes
            .iter()
            .zip(stamps)
            .map(|(l, s)| injected(l, plan.ask_after, &s, plan.precision))
            .collect(),
        fences: classes.iter().map(|c| c.count).sum(),
        stub_exports: plan.stub_exports,
        waiter_waits: waits,
        waiter_comm: plan.waiter_comm.clone(),
        realtime,
    })
}

fn injected(c: &Class, ask_after: Duration, s: &Stamps, precision: Duration) -> Injected {
    let want = c.lifetime.as_secs_f64() * 1e3;
    let slack = precision.as_secs_f64() * 1e3;
    let max = |f: fn(&(f64, f64, f64)) -> f64| s.lifetimes.iter().map(f).fold(0.0, f64::max);
    Injected {
        lifetime_ms: want,
        count: c.count,
        style: c.style.name(),
        // The waiter asks at birth + ask_after (when set) and the fence
        // signals at birth + lifetime: the wait each of these fences injects.
        wait_ms: (!ask_after.is_zero()).then_some(want - ask_after.as_secs_f64() * 1e3),
        measured_min_ms: s.lifetimes.iter().map(|l| l.0).fold(f64::MAX, f64::min),
        measured_max_ms: max(|l| l.0),
        attach_ioctl_max_ms: max(|l| l.1),
        signal_ioctl_max_ms: max(|l| l.2),
        // The kernel stamps birth inside the attach ioctl and the signal
        // inside the signal ioctl: each may add up to that ioctl's time.
        imprecise: s
            .lifetimes
            .iter()
            .enumerate()
            .filter(|(_, (m, a, sg))| m - want > slack || *a > slack || *sg > slack)
            .map(|(i, &(m, a, sg))| Imprecise {
                index: i as u32,
                measured_ms: m,
                attach_ioctl_ms: a,
                signal_ioctl_ms: sg,
            })
            .collect(),
    }
}

#[derive(Serialize)]
pub struct Rate {
    pub fences: u32,
    pub elapsed_ms: f64,
    pub per_second: f64,
}

/// As many fences as the producer can make: attach, signal, again. The
/// rate with and without a tracer attached is what the tracer costs.
pub fn rate(fences: u32) -> Result<Rate> {
    let dev = Device::open()?;
    let (handle, _fd) = dev.buffer()?;
    let clock = Clock::monotonic();
    let start = clock.now();
    for _ in 0..fences {
        let fence = dev.attach(handle)?;
        dev.signal(fence)?;
    }
    let elapsed = (clock.now() - start).as_secs_f64();
    Ok(Rate { fences, elapsed_ms: elapsed * 1e3, per_second: f64::from(fences) / elapsed })
}

/// What the fence ioctls cost, timed by the caller around each one: the
/// baseline for what a tracer adds to each hooked path.
#[derive(Serialize)]
pub struct IoctlTimes {
    pub rounds: u32,
    /// Medians, ns: attach a WRITE fence, export it (EXPORT_SYNC_FILE of a
    /// busy buffer hands out the fence), signal it.
    pub attach_p50_ns: u64,
    pub export_p50_ns: u64,
    pub signal_p50_ns: u64,
}

pub fn ioctl_times(rounds: u32) -> Result<IoctlTimes> {
    let dev = Device::open()?;
    let (handle, buf) = dev.buffer()?;
    let clock = Clock::monotonic();
    let (mut attach, mut export, mut signal) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let t0 = clock.now();
        let fence = dev.attach(handle)?;
        let t1 = clock.now();
        let sync = export_sync_file(&buf)?;
        let t2 = clock.now();
        drop(sync);
        let t3 = clock.now();
        dev.signal(fence)?;
        let t4 = clock.now();
        attach.push(t1 - t0);
        export.push(t2 - t1);
        signal.push(t4 - t3);
    }
    let p50 = |mut v: Vec<Duration>| {
        v.sort();
        v.get(v.len().saturating_sub(1) / 2).map_or(0, |d| d.as_nanos() as u64)
    };
    Ok(IoctlTimes {
        rounds,
        attach_p50_ns: p50(attach),
        export_p50_ns: p50(export),
        signal_p50_ns: p50(signal),
    })
}

#[derive(Serialize)]
pub struct ArrayRun {
    pub arrays: u32,
    pub members: u32,
    /// Exports that had to wait (the array was unsignalled when handed out).
    pub waited: u32,
}

/// Exports that hand out a `dma_fence_array`: `members` read fences on one
/// buffer (vgem allows any number of readers), then an export for writing,
/// which must wait for all of them; then the fences signal.
pub fn arrays(arrays: u32, members: u32) -> Result<ArrayRun> {
    let dev = Device::open()?;
    let (handle, buf) = dev.buffer()?;
    let mut waited = 0;
    for _ in 0..arrays {
        let mut fences = Vec::new();
        for _ in 0..members {
            let mut a = VgemFenceAttach { handle, flags: 0, ..Default::default() };
            ioctl(&dev.card, DRM_IOCTL_VGEM_FENCE_ATTACH, &mut a)
                .context("VGEM_FENCE_ATTACH (read)")?;
            fences.push(a.out_fence);
        }
        let mut e = ExportSyncFile { flags: DMA_BUF_SYNC_WRITE, fd: -1 };
        ioctl(&buf, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &mut e).context("EXPORT_SYNC_FILE (write)")?;
        let sync = owned(e.fd);
        waited += u32::from(!readable(&sync, 0)?);
        for f in fences {
            dev.signal(f)?;
        }
        if !readable(&sync, 5_000)? {
            bail!("the exported array did not signal after its fences did");
        }
    }
    Ok(ArrayRun { arrays, members, waited })
}
