//! The live source: loads the eBPF object, attaches a plan, and hands each
//! ring-buffer record (and periodic drop counts) to a sink. It never
//! interprets records: that is the engine's job.
use std::future::Future;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use aya::maps::{MapData, PerCpuArray, RingBuf};
use aya::programs::{FEntry, KProbe, RawTracePoint, TracePoint};
use aya::{Btf, Ebpf, EbpfLoader, Endianness};
use aya_log::EbpfLogger;
use fencescope_engine::{Body, Event, Meta, Name};
use fencescope_schema::{DROP_SLOTS, OFFSET_UNKNOWN, globals};
use tokio::io::unix::AsyncFd;

use crate::kernel::{self, InitRecordLayout, IoctlLayout, Symbols};
use crate::object::OBJECT;
use crate::plan::{Attached, HOOKS, Mode, Target, Way};

/// Everything attach decisions depend on, read once.
pub struct KernelView {
    /// Where tracefs is mounted.
    pub tracefs: std::path::PathBuf,
    /// The classic `dma_fence_init` record's layout.
    pub layout: InitRecordLayout,
    /// The classic `dma_fence_signaled` record's layout.
    pub signaled_layout: InitRecordLayout,
    /// The syscall ioctl records' layout, where syscall tracepoints exist.
    pub ioctl_layout: Option<IoctlLayout>,
    /// The kernel's function symbols.
    pub symbols: Symbols,
    /// The kernel's BTF, for fentry programs (None without it or with `--no-btf`).
    pub btf: Option<Btf>,
    /// Whether kprobes are available.
    pub kprobes: bool,
    /// Where `struct dma_fence` keeps what the programs read.
    pub fence: crate::layout::FenceLayout,
    /// Where a videobuf2 queue's names are.
    pub vb2: crate::vb2_layout::Vb2Layout,
}

impl KernelView {
    /// Reads every fact; fails where fencescope cannot run at all (privileges, tracefs, an unknown record layout).
    pub fn read(use_btf: bool) -> Result<KernelView> {
        if let Some(problem) = kernel::privilege_problem() {
            bail!("{problem}");
        }
        let tracefs = kernel::tracefs()?;
        let layout = InitRecordLayout::read(&tracefs, "dma_fence_init")?;
        let signaled_layout = InitRecordLayout::read(&tracefs, "dma_fence_signaled")?;
        let ioctl_layout = IoctlLayout::read(&tracefs);
        // Read once for both readers: aya's for fentry, ours for the layout.
        let vmlinux = use_btf.then(|| std::fs::read(kernel::VMLINUX_BTF).ok()).flatten();
        Ok(KernelView {
            ioctl_layout,
            signaled_layout,
            tracefs,
            layout,
            symbols: Symbols::load(),
            btf: vmlinux.as_deref().and_then(|d| Btf::parse(d, Endianness::default()).ok()),
            kprobes: kernel::has_kprobes(),
            fence: crate::layout::resolve(&kernel::release(), vmlinux.as_deref())?,
            vb2: crate::vb2_layout::resolve(vmlinux.as_deref()),
        })
    }
}

impl KernelView {
    /// Addresses the engine classifies waits and stubs by.
    pub fn engine_symbols(&self) -> fencescope_engine::Symbols {
        fencescope_engine::Symbols {
            dma_buf_poll_cb: self.symbols.addr("dma_buf_poll_cb"),
            fence_check_cb_func: self.symbols.addr("fence_check_cb_func"),
            dma_fence_stub: self.symbols.addr("dma_fence_stub"),
        }
    }
}

/// What a benchmark switches off, to measure one part of the cost alone
/// (`cargo xtask bench`); both off in normal use.
#[derive(Clone, Copy, Debug, Default)]
pub struct BenchSwitches {
    /// Read nothing until the session ends: the kernel side without the
    /// reader.
    pub defer_reading: bool,
    /// Attach every program but have none emit a record: what the hooks
    /// alone cost the kernel, before fencescope does any work.
    pub emit_nothing: bool,
}

/// Loads the object with the default 4 MiB ring, for `probe`.
pub fn load(view: &KernelView) -> Result<Ebpf> {
    load_with_ring(view, 4, BenchSwitches::default())
}

/// Loads the object, its globals set from `view` (offsets, symbols) and its ring sized `ring_mb` MiB.
pub fn load_with_ring(view: &KernelView, ring_mb: u32, bench: BenchSwitches) -> Result<Ebpf> {
    // A quarter of the ring: wakes come in batches, well before it fills.
    let wakeup: u64 = if bench.defer_reading { u64::MAX } else { u64::from(ring_mb) << 18 };
    let emit = u32::from(!bench.emit_nothing);
    if !ring_mb.is_power_of_two() || ring_mb > 1024 {
        bail!("--ring-mb must be a power of two up to 1024, not {ring_mb}");
    }
    let l = view.layout;
    let sl = view.signaled_layout;
    let io = view.ioctl_layout.unwrap_or(IoctlLayout { fd: 16, cmd: 24, ret: 16 });
    let syms = view.engine_symbols();
    let signaled_bit = view.fence.signaled_bit.unwrap_or(OFFSET_UNKNOWN);
    // The kernel side's diagnostics are debug lines: off (and dropped by
    // the verifier) unless they would be shown. aya-log numbers its levels
    // as the log crate does, 0 being off.
    let log_level: u8 = if log::log_enabled!(target: "fencescope", log::Level::Debug) {
        log::Level::Debug as u8
    } else {
        0
    };
    EbpfLoader::new()
        .map_max_entries("EVENTS", ring_mb << 20)
        .override_global(aya_log::LEVEL, &log_level, true)
        .override_global(globals::WAKEUP_BYTES, &wakeup, true)
        .override_global(globals::EMIT, &emit, true)
        .override_global(globals::TP_SIGNALED_CONTEXT_OFFSET, &sl.context, true)
        .override_global(globals::TP_SIGNALED_SEQNO_OFFSET, &sl.seqno, true)
        .override_global(globals::TP_IOCTL_FD_OFFSET, &io.fd, true)
        .override_global(globals::TP_IOCTL_CMD_OFFSET, &io.cmd, true)
        .override_global(globals::TP_IOCTL_RET_OFFSET, &io.ret, true)
        .override_global(globals::WAIT_FUNC_DMABUF, &syms.dma_buf_poll_cb, true)
        .override_global(globals::WAIT_FUNC_SYNC_FILE, &syms.fence_check_cb_func, true)
        .override_global(globals::FENCE_CONTEXT_OFFSET, &view.fence.context, true)
        .override_global(globals::FENCE_SEQNO_OFFSET, &view.fence.seqno, true)
        .override_global(globals::TP_INIT_DRIVER_OFFSET, &l.driver, true)
        .override_global(globals::TP_INIT_TIMELINE_OFFSET, &l.timeline, true)
        .override_global(globals::TP_INIT_CONTEXT_OFFSET, &l.context, true)
        .override_global(globals::TP_INIT_SEQNO_OFFSET, &l.seqno, true)
        .override_global(globals::VB2_QUEUE_TYPE_OFFSET, &view.vb2.queue_type, true)
        .override_global(globals::VB2_QUEUE_DEV_OFFSET, &view.vb2.queue_dev, true)
        .override_global(globals::VB2_QUEUE_OWNER_OFFSET, &view.vb2.queue_owner, true)
        .override_global(globals::DEVICE_DRIVER_OFFSET, &view.vb2.device_driver, true)
        .override_global(globals::V4L2_FH_VDEV_OFFSET, &view.vb2.fh_vdev, true)
        .override_global(globals::VIDEO_DEVICE_DEV_OFFSET, &view.vb2.vdev_dev, true)
        .override_global(globals::VIDEO_DEVICE_DEV_PARENT_OFFSET, &view.vb2.vdev_dev_parent, true)
        .override_global(globals::FENCE_FLAGS_OFFSET, &view.fence.flags, true)
        .override_global(globals::FENCE_SIGNALED_BIT, &signaled_bit, true)
        .load(OBJECT)
        .context("loading fencescope's eBPF object")
}

/// Why `target` cannot attach here, known without trying.
pub fn precheck(view: &KernelView, target: Target) -> Option<String> {
    match target {
        Target::Kprobe(f) | Target::Kretprobe(f) if !view.kprobes => Some(format!(
            "kprobes are not available in this kernel (CONFIG_KPROBES off); {f} cannot be probed"
        )),
        Target::Kprobe(f) | Target::Kretprobe(f) | Target::Fentry(f)
            if !view.symbols.is_empty() && !view.symbols.has(f) =>
        {
            Some(format!("{f} is not in /proc/kallsyms (inlined, or its module is not loaded)"))
        }
        Target::Fentry(_) if view.btf.is_none() => {
            Some("no kernel BTF (/sys/kernel/btf/vmlinux)".into())
        }
        Target::Tracepoint(c, n) if !view.tracefs.join("events").join(c).join(n).is_dir() => {
            Some(format!("no tracepoint {c}:{n} in this kernel"))
        }
        Target::RawTracepoint(n) if !raw_tracepoint_exists(&view.tracefs, n) => Some(format!(
            "no tracepoint {n} in this kernel (or its module, e.g. videobuf2-common, is not loaded)"
        )),
        _ => None,
    }
}

/// Raw tracepoints are named without their category: look in every one.
fn raw_tracepoint_exists(tracefs: &std::path::Path, name: &str) -> bool {
    std::fs::read_dir(tracefs.join("events"))
        .map(|dir| dir.flatten().any(|c| c.path().join(name).is_dir()))
        .unwrap_or(true)
}

/// Loads and attaches one program; returns what it attached to.
pub fn attach(ebpf: &mut Ebpf, view: &KernelView, prog: &str, target: Target) -> Result<String> {
    if let Some(why) = precheck(view, target) {
        bail!(why);
    }
    let p = ebpf.program_mut(prog).ok_or_else(|| anyhow!("{prog} is not in the eBPF object"))?;
    let short = |e: aya::programs::ProgramError| anyhow!(first_line(&e));
    match target {
        Target::RawTracepoint(tp) => {
            let p: &mut RawTracePoint = p.try_into()?;
            p.load().map_err(short)?;
            p.attach(tp).map_err(short)?;
            Ok(target.describe())
        }
        Target::Tracepoint(c, n) => {
            let p: &mut TracePoint = p.try_into()?;
            p.load().map_err(short)?;
            p.attach(c, n).map_err(short)?;
            Ok(target.describe())
        }
        Target::Kretprobe(f) => {
            let p: &mut KProbe = p.try_into()?;
            p.load().map_err(short)?;
            p.attach(f, 0).map_err(short)?;
            Ok(target.describe())
        }
        Target::Kprobe(f) => {
            let p: &mut KProbe = p.try_into()?;
            p.load().map_err(short)?;
            p.attach(f, 0).map_err(short)?;
            // 6.17+ has a 64-bit-seqno twin that a kprobe on the first misses.
            let twin = format!("{f}64");
            if f == "dma_fence_init" && view.symbols.has(&twin) {
                p.attach(&twin, 0).map_err(short)?;
                return Ok(format!("{} + {twin}", target.describe()));
            }
            Ok(target.describe())
        }
        Target::Fentry(f) => {
            let btf = view.btf.as_ref().ok_or_else(|| anyhow!("no kernel BTF"))?;
            let p: &mut FEntry = p.try_into()?;
            p.load(f, btf).map_err(short)?;
            p.attach().map_err(short)?;
            Ok(target.describe())
        }
    }
}

/// Detaches and unloads a program (for `probe`, which tries every way).
pub fn unload(ebpf: &mut Ebpf, prog: &str) {
    if let Some(p) = ebpf.program_mut(prog) {
        let _ = match p {
            aya::programs::Program::RawTracePoint(p) => p.unload(),
            aya::programs::Program::TracePoint(p) => p.unload(),
            aya::programs::Program::KProbe(p) => p.unload(),
            aya::programs::Program::FEntry(p) => p.unload(),
            _ => Ok(()),
        };
    }
}

fn first_line(e: &dyn std::fmt::Display) -> String {
    let s = e.to_string();
    // Verifier logs run to pages; the first line says what failed.
    let s = s.split(". Verifier output").next().unwrap_or(&s);
    s.lines().next().unwrap_or("").to_string()
}

/// Attaches every program of one way; on failure, unloads them again.
pub fn attach_way(ebpf: &mut Ebpf, view: &KernelView, way: &Way) -> Result<String> {
    for (prog, target) in way.progs {
        if let Err(e) = attach(ebpf, view, prog, *target) {
            for (p, _) in way.progs {
                unload(ebpf, p);
            }
            return Err(anyhow!("{}: {e:#}", target.describe()));
        }
    }
    Ok(way.describe())
}

/// Attaches every hook the plan wants, the first way that works for each.
pub fn attach_plan(ebpf: &mut Ebpf, view: &KernelView, mode: Mode) -> Result<Attached> {
    let mut attached = Attached { mode: mode.name().into(), ..Default::default() };
    for hook in HOOKS.iter().filter(|h| !h.skipped_in(mode)) {
        let mut tried = Vec::new();
        let mut done = None;
        for way in hook.ways_for(mode) {
            match attach_way(ebpf, view, way) {
                Ok(what) => {
                    done = Some(what);
                    break;
                }
                Err(e) => tried.push(format!("{e:#}")),
            }
        }
        if tried.is_empty() && done.is_none() {
            tried.push(format!("no way to watch it with --attach {}", mode.name()));
        }
        match done {
            Some(what) => attached.hooks.push((hook.name.into(), what)),
            None if hook.required => {
                bail!(
                    "cannot watch {} with --attach {}: {}",
                    hook.name,
                    mode.name(),
                    tried.join("; ")
                )
            }
            None => attached
                .missing
                .push((hook.name.into(), format!("{} (loses {})", tried.join("; "), hook.loses))),
        }
    }
    Ok(attached)
}

/// The program every arm hook attaches (a kprobe), whatever its symbol.
pub const ARM_PROGRAM: &str = "arm_kprobe";

/// Arm hooks tried when none is given: the fixture's, the device_run of
/// the drivers the series changes, and the arm point of our own series
/// (kernel/patches), which vim2m and vicodec call with the fence from their
/// device_run (built in, their device_run symbols are ambiguous).
pub const DEFAULT_ARM_HOOKS: [&str; 4] =
    ["fencefix_arm", "hantro_vpu:device_run", "rockchip_rga:device_run", "vb2_release_fence_arm"];

/// Attaches the arm kprobe to each hook. A hook the user named must attach;
/// a default one that is absent is skipped (its driver is not loaded).
pub fn attach_arm_hooks(
    ebpf: &mut Ebpf,
    view: &KernelView,
    requested: &[String],
    attached: &mut Attached,
) -> Result<()> {
    let defaults: Vec<String> = DEFAULT_ARM_HOOKS.iter().map(|s| s.to_string()).collect();
    let hooks = if requested.is_empty() { &defaults } else { requested };
    let mut loaded = false;
    for sym in hooks {
        let why = if !view.kprobes {
            Some("kprobes are not available in this kernel (CONFIG_KPROBES off)".to_string())
        } else if !view.symbols.is_empty() && !view.symbols.has(sym) {
            Some(format!("{sym} is not in /proc/kallsyms (inlined, or its module is not loaded)"))
        } else {
            None
        };
        if let Some(why) = why {
            if requested.is_empty() {
                continue;
            }
            bail!("cannot watch the arm hook {sym}: {why}");
        }
        let p: &mut KProbe = ebpf
            .program_mut(ARM_PROGRAM)
            .ok_or_else(|| anyhow!("{ARM_PROGRAM} is not in the eBPF object"))?
            .try_into()?;
        if !loaded {
            p.load().map_err(|e| anyhow!(first_line(&e)))?;
            loaded = true;
        }
        match p.attach(sym.as_str(), 0) {
            Ok(_) => attached.hooks.push(("arm".into(), format!("kprobe {sym}"))),
            Err(e) if requested.is_empty() => log::debug!("arm hook {sym}: {e}"),
            Err(e) => bail!("cannot watch the arm hook {sym}: {}", first_line(&e)),
        }
    }
    Ok(())
}

/// Whether a session goes on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Keep streaming.
    Continue,
    /// End the session (its ring is still drained).
    Stop,
}

/// Where a session's records go.
pub trait Sink {
    /// One ring-buffer record, as the kernel side wrote it.
    fn record(&mut self, bytes: &[u8]);
    /// Periodic (twenty times a second): a chance to flush, report, draw or fail.
    fn tick(&mut self) -> Result<Flow> {
        Ok(Flow::Continue)
    }
}

/// An attached session, ready to stream.
pub struct Session {
    _ebpf: Ebpf,
    ring: RingBuf<MapData>,
    drops: PerCpuArray<MapData, u64>,
    /// The kernel side's diagnostics (aya-log), passed on to `log`.
    diagnostics: EbpfLogger<&'static dyn log::Log>,
    /// What each hook attached as.
    pub attached: Attached,
    /// The layouts the programs were loaded with.
    pub layout: Layout,
    /// The kernel addresses the engine classifies waits and stubs by.
    pub symbols: fencescope_engine::Symbols,
    bench: BenchSwitches,
}

/// The layout facts the programs were loaded with (kept in captures).
#[derive(Clone, Debug, serde::Serialize)]
pub struct Layout {
    /// The classic init record's layout.
    pub init_record: InitRecordLayout,
    /// `struct dma_fence`'s layout.
    pub fence: crate::layout::FenceLayout,
    /// Where a videobuf2 queue's names were read.
    pub vb2: crate::vb2_layout::Vb2Layout,
}

impl Session {
    /// Reads the kernel, loads the object and attaches `mode`'s plan and the arm hooks: a session that has not started reading yet.
    pub fn open(
        mode: Mode,
        use_btf: bool,
        ring_mb: u32,
        bench: BenchSwitches,
        arm_hooks: &[String],
    ) -> Result<Session> {
        let view = KernelView::read(use_btf)?;
        let mut ebpf = load_with_ring(&view, ring_mb, bench)?;
        let mut attached = attach_plan(&mut ebpf, &view, mode)?;
        attach_arm_hooks(&mut ebpf, &view, arm_hooks, &mut attached)?;
        let ring = RingBuf::try_from(ebpf.take_map("EVENTS").context("no EVENTS map")?)?;
        let drops = PerCpuArray::try_from(ebpf.take_map("DROPS").context("no DROPS map")?)?;
        let diagnostics = EbpfLogger::init(&mut ebpf).context("reading the kernel side's log")?;
        let layout =
            Layout { init_record: view.layout, fence: view.fence.clone(), vb2: view.vb2.clone() };
        let symbols = view.engine_symbols();
        Ok(Session { _ebpf: ebpf, ring, drops, diagnostics, attached, layout, symbols, bench })
    }

    /// Streams records into `sink` until `stop` resolves, then drains what
    /// the ring still holds. Drop counts go to the sink as `Drops` records
    /// whenever they change (checked four times a second); `tick` is called
    /// every 50 ms.
    pub async fn stream(self, stop: impl Future<Output = ()>, sink: &mut impl Sink) -> Result<()> {
        let Session { _ebpf, ring, drops, mut diagnostics, bench, .. } = self;
        let defer_reading = bench.defer_reading;
        // SAFETY: the ring buffer owns its map fd and moves into the AsyncFd,
        // which keeps it open until it is dropped after deregistering.
        let mut fd = unsafe { AsyncFd::register(ring) }
            .map_err(|e| anyhow!("polling the ring buffer: {}", e.into_parts().1))?;
        let mut last_drops = [0u64; DROP_SLOTS as usize];
        // The kernel side wakes us only when a lot is waiting (see the eBPF
        // emit): drain on this timer too, and tick the sink on it.
        let mut tick = tokio::time::interval(Duration::from_millis(50));
        let mut ticks = 0u32;
        tokio::pin!(stop);
        loop {
            tokio::select! {
                _ = &mut stop => break,
                _ = tick.tick(), if !defer_reading => {
                    let ring = fd.get_mut();
                    while let Some(item) = ring.next() {
                        sink.record(&item);
                    }
                    diagnostics.flush();
                    ticks += 1;
                    if ticks.is_multiple_of(5) {
                        let now = counts(&drops);
                        if now != last_drops {
                            last_drops = now;
                            sink.record(&drops_record(now));
                        }
                    }
                    if sink.tick()? == Flow::Stop {
                        break;
                    }
                }
                guard = fd.readable_mut(), if !defer_reading => {
                    let mut guard = guard?;
                    let ring = guard.get_inner_mut();
                    while let Some(item) = ring.next() {
                        sink.record(&item);
                    }
                    guard.clear_ready();
                }
            }
        }
        let ring = fd.get_mut();
        while let Some(item) = ring.next() {
            sink.record(&item);
        }
        diagnostics.flush();
        // Always, even unchanged: it also says until when the session
        // watched, which is how old a fence still unsignalled had got.
        sink.record(&drops_record(counts(&drops)));
        Ok(())
    }
}

/// A userspace `Drops` record, stamped on the clock the kernel side uses.
fn drops_record(by_kind: [u64; DROP_SLOTS as usize]) -> Vec<u8> {
    let meta = Meta {
        ts_ns: kernel::monotonic_ns(),
        cpu: 0,
        tgid: 0,
        tid: 0,
        comm: Name::new("fencescope"),
        via: None,
    };
    let mut out = Vec::new();
    Event { meta, body: Body::Drops { by_kind } }.encode(&mut out);
    out
}

/// Cumulative drops per record kind, summed over CPUs.
fn counts(drops: &PerCpuArray<MapData, u64>) -> [u64; DROP_SLOTS as usize] {
    let mut out = [0u64; DROP_SLOTS as usize];
    for (i, slot) in out.iter_mut().enumerate() {
        if let Ok(v) = drops.get(&(i as u32), 0) {
            *slot = v.iter().sum();
        }
    }
    out
}
