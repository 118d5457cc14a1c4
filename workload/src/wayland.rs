//! A Wayland client whose every frame carries a vgem WRITE fence that it
//! signals a known time after the commit, so that a real compositor's wait
//! on the buffer has a known length.
//!
//! Frames go one at a time: attach a fence to the buffer, attach the buffer,
//! ask for a frame callback, commit, then `wl_display.sync`. The compositor
//! handles requests in order, so when the sync's `done` comes back it has
//! handled the commit, and with it asked for the buffer's fence: that round
//! trip is the hand-off. The fence is signalled `delay` after the commit,
//! so the compositor's wait lasts about `delay` less the hand-off. A frame
//! callback that comes back before the signal means the compositor showed
//! the frame without waiting for it. One unfenced frame goes first, so the
//! compositor's first render is behind it.
//!
//! With a converter as the source (`--source vim2m`, crate::convert) the
//! client fences nothing itself: before each commit it queues a job that
//! writes the buffer, and the series' release fence on the buffer is what
//! the compositor meets, signalled when the job is done.
use std::os::fd::{AsFd, AsRawFd};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::Serialize;
use wayland_client::protocol::wl_buffer::{self, WlBuffer};
use wayland_client::protocol::wl_callback::{self, WlCallback};
use wayland_client::protocol::wl_compositor::WlCompositor;
use wayland_client::protocol::wl_registry::{self, WlRegistry};
use wayland_client::protocol::wl_surface::WlSurface;
use wayland_client::{Connection, Dispatch, EventQueue, QueueHandle, delegate_noop};
use wayland_protocols::wp::linux_dmabuf::zv1::client::zwp_linux_buffer_params_v1::{
    self, ZwpLinuxBufferParamsV1,
};
use wayland_protocols::wp::linux_dmabuf::zv1::client::zwp_linux_dmabuf_v1::{
    self, ZwpLinuxDmabufV1,
};
use wayland_protocols::xdg::shell::client::xdg_surface::{self, XdgSurface};
use wayland_protocols::xdg::shell::client::xdg_toplevel::{self, XdgToplevel};
use wayland_protocols::xdg::shell::client::xdg_wm_base::{self, XdgWmBase};

use crate::clock::Clock;
use crate::convert::{self, Converter};
use crate::vgem::{Device, Dumb};

/// DRM_FORMAT_XRGB8888 ('XR24'): what a 32-bit dumb buffer holds.
const XRGB8888: u32 = 0x3432_5258;
const MOD_LINEAR: u64 = 0;
/// DRM_FORMAT_MOD_INVALID: "the driver's implicit layout", linear for vgem.
const MOD_INVALID: u64 = 0x00ff_ffff_ffff_ffff;

pub struct Plan {
    pub frames: u32,
    /// From each commit to its fence's signal (vgem fences).
    pub delay: Duration,
    /// A mem2mem driver that writes each frame instead (its node found by
    /// driver name); the client then fences nothing itself.
    pub converter: Option<String>,
    pub width: u32,
    pub height: u32,
    pub buffers: u32,
    /// How long to wait for a frame callback before calling the frame lost.
    pub frame_limit: Duration,
}

/// One frame, in CLOCK_MONOTONIC nanoseconds.
#[derive(Serialize, Clone, Debug)]
pub struct Frame {
    /// Right before the commit (and the sync behind it) went to the socket:
    /// the compositor cannot have had it earlier.
    pub commit_ns: u64,
    /// From the commit until the sync's done: by then the compositor had it.
    pub handoff_ns: Option<u64>,
    /// The earliest and the latest the fence can have signalled: right
    /// before and after the signal ioctl; with a converter, its job time
    /// (less a tick) after the CAPTURE buffer's QBUF returned, and when the
    /// buffer came back from the driver.
    pub signal_ns: u64,
    pub signalled_ns: u64,
    /// When the frame callback came back (the frame was shown), if it did.
    pub shown_ns: Option<u64>,
    /// The longest wait the compositor can have had: from the commit to the
    /// latest signal.
    pub wait_bound_ms: f64,
    /// The shortest: from the earliest signal, less the commit and the
    /// hand-off.
    pub wait_floor_ms: f64,
    /// The wait of a compositor that asked for the fence as it had the
    /// commit: the signal (vgem: the ioctl's start; a converter: when its
    /// buffer came back) less the commit and the hand-off.
    pub expected_wait_ms: f64,
}

#[derive(Serialize, Debug)]
pub struct Run {
    /// The injected delay; with a converter, its job time.
    pub delay_ms: f64,
    /// `vgem`, or the converter's driver.
    pub source: String,
    /// The converter's series mode parameter (`none`, `queue`, `run`).
    pub mode: Option<String>,
    /// The linux-dmabuf version the compositor offered.
    pub dmabuf_version: u32,
    pub modifier: String,
    pub frames: Vec<Frame>,
    /// Frames whose callback came back.
    pub shown: u32,
    /// Of those, the ones whose callback came back after the signal.
    pub shown_after_signal: u32,
    /// Frames whose callback never came back.
    pub lost: u32,
    /// Medians over the frames, the way fencescope takes its p50 (the
    /// lower middle of an even count).
    pub expected_wait_p50_ms: f64,
    pub wait_floor_p50_ms: f64,
    pub wait_bound_p50_ms: f64,
    pub handoff_p50_ms: f64,
    /// Why the client could not run SCHED_FIFO, if it could not.
    pub realtime: Option<String>,
}

/// What a callback answers.
#[derive(Clone, Copy)]
enum Callback {
    Warmup,
    Frame(usize),
    Sync(usize),
}

#[derive(Default)]
struct State {
    compositor: Option<WlCompositor>,
    wm_base: Option<XdgWmBase>,
    dmabuf: Option<ZwpLinuxDmabufV1>,
    dmabuf_version: u32,
    /// The modifiers offered for XRGB8888.
    modifiers: Vec<u64>,
    configured: bool,
    closed: bool,
    /// Per buffer: the compositor is done with it.
    released: Vec<bool>,
    /// Per frame: when its callback and its sync came back.
    shown: Vec<Option<u64>>,
    synced: Vec<Option<u64>>,
    failed: bool,
    /// The unfenced first frame was shown.
    warm: bool,
}

fn now_ns() -> u64 {
    Clock::monotonic().now().as_nanos() as u64
}

/// Runs the frames on the compositor of `$WAYLAND_DISPLAY`.
pub fn run(plan: &Plan) -> Result<Run> {
    let device = Device::open()?;
    let conn = Connection::connect_to_env()
        .context("no Wayland compositor: set WAYLAND_DISPLAY and XDG_RUNTIME_DIR")?;
    let mut queue: EventQueue<State> = conn.new_event_queue();
    let qh = queue.handle();
    let display = conn.display();
    display.get_registry(&qh, ());
    let mut state = State {
        shown: vec![None; plan.frames as usize],
        synced: vec![None; plan.frames as usize],
        released: vec![true; plan.buffers as usize],
        ..State::default()
    };
    // Two round trips: the globals, then what the bound ones announce.
    queue.roundtrip(&mut state)?;
    queue.roundtrip(&mut state)?;
    let (Some(compositor), Some(wm_base), Some(dmabuf)) =
        (state.compositor.clone(), state.wm_base.clone(), state.dmabuf.clone())
    else {
        bail!("the compositor lacks wl_compositor, xdg_wm_base or zwp_linux_dmabuf_v1");
    };
    let modifier = pick_modifier(&state.modifiers)?;

    let surface = compositor.create_surface(&qh, ());
    let xdg = wm_base.get_xdg_surface(&surface, &qh, ());
    let toplevel = xdg.get_toplevel(&qh, ());
    toplevel.set_title("fence-workload".into());
    surface.commit();
    let limit = Duration::from_secs(10);
    if !pump(&conn, &mut queue, &mut state, |s| s.configured, limit)? {
        bail!("the compositor never configured the window");
    }

    let buffers = (0..plan.buffers)
        .map(|i| {
            let dumb = device.dumb(plan.width, plan.height)?;
            let buffer = import(&dmabuf, &qh, &dumb, plan, modifier, i as usize);
            Ok((dumb, buffer))
        })
        .collect::<Result<Vec<_>>>()?;
    queue.roundtrip(&mut state)?;
    if state.failed {
        bail!("the compositor refused the dma-buf buffers (zwp_linux_buffer_params_v1.failed)");
    }
    let converter = match &plan.converter {
        Some(driver) => {
            // The converter finishes its job in a kworker on the CPU that
            // queued it; the thread waiting for the buffer (DQBUF) wakes
            // soonest on that CPU too.
            crate::clock::pin(0)?;
            let pitch = buffers[0].0.pitch;
            Some(Converter::open(driver, plan.width, plan.height, pitch, plan.buffers)?)
        }
        None => None,
    };

    // One frame without a fence first: a compositor's first frame compiles
    // its shaders (seconds under emulation), which no measured frame should
    // wait behind.
    surface.attach(Some(&buffers[0].1), 0, 0);
    surface.damage_buffer(0, 0, plan.width as i32, plan.height as i32);
    surface.frame(&qh, Callback::Warmup);
    surface.commit();
    state.released[0] = false;
    if !pump(&conn, &mut queue, &mut state, |s| s.warm, Duration::from_secs(120))? {
        bail!("the compositor never showed the first (unfenced) frame");
    }

    // Nothing of normal priority may run between the client's clock
    // readings and what they time (the commit's send, the signal ioctl).
    crate::clock::tighten_timer_slack();
    let realtime = crate::clock::realtime(10).err();
    let clock = Clock::monotonic();
    let mut frames = Vec::new();
    for i in 0..plan.frames as usize {
        // Buffer 0 showed the warm-up frame, and is the last to be reused.
        let b = (i + 1) % buffers.len();
        if !pump(&conn, &mut queue, &mut state, |s| s.released[b], limit)? {
            bail!("frame {i}: the compositor never released buffer {b}");
        }
        state.released[b] = false;
        let (dumb, buffer) = &buffers[b];
        // The fence goes on before the commit: a vgem fence, or the
        // converter's job (and with the series its release fence).
        let (fence, job) = match &converter {
            None => (Some(device.attach(dumb.handle)?), None),
            Some(c) => {
                // Its job cannot end before its time has run from the QBUF.
                let queued = c.start(b as u32, dumb.dmabuf.as_fd())?;
                (None, Some((queued + c.job, c.finish()?)))
            }
        };
        surface.attach(Some(buffer), 0, 0);
        surface.damage_buffer(0, 0, plan.width as i32, plan.height as i32);
        surface.frame(&qh, Callback::Frame(i));
        surface.commit();
        display.sync(&qh, Callback::Sync(i));
        let commit = clock.now();
        conn.flush().context("sending the commit")?;
        let (signal_ns, signalled_ns, expected_ns) = if let Some(fence) = fence {
            // Wait out the delay, reading events (the sync's done)
            // meanwhile; the last stretch is slept exactly.
            let deadline = commit + plan.delay;
            let coarse = deadline.saturating_sub(Duration::from_millis(2));
            pump(&conn, &mut queue, &mut state, |_| false, coarse.saturating_sub(clock.now()))?;
            clock.sleep_until(deadline);
            let signal_ns = now_ns();
            device.signal(fence)?;
            let signalled_ns = now_ns();
            pump(&conn, &mut queue, &mut state, |s| s.shown[i].is_some(), plan.frame_limit)?;
            (signal_ns, signalled_ns, signal_ns)
        } else {
            let (ends_after, done) = job.expect("a converter's job");
            pump(&conn, &mut queue, &mut state, |s| s.shown[i].is_some(), plan.frame_limit)?;
            let done = done.join().map_err(|_| anyhow::anyhow!("the DQBUF thread panicked"))??;
            let earliest = ends_after.saturating_sub(convert::TICK_SLACK);
            let done_ns = done.as_nanos() as u64;
            (earliest.as_nanos() as u64, done_ns, done_ns)
        };
        if state.closed {
            bail!("the compositor closed the window");
        }
        let commit_ns = commit.as_nanos() as u64;
        let handoff_ns = state.synced[i].map(|t| t.saturating_sub(commit_ns));
        let handoff = handoff_ns.unwrap_or(0);
        let ms = |from: u64, to: u64| to.saturating_sub(from) as f64 / 1e6;
        frames.push(Frame {
            commit_ns,
            handoff_ns,
            signal_ns,
            signalled_ns,
            shown_ns: state.shown[i],
            wait_bound_ms: ms(commit_ns, signalled_ns),
            wait_floor_ms: ms(commit_ns + handoff, signal_ns),
            expected_wait_ms: ms(commit_ns + handoff, expected_ns),
        });
    }
    toplevel.destroy();
    xdg.destroy();
    surface.destroy();
    let _ = conn.flush();
    let mut run = summarise(plan, state.dmabuf_version, modifier, frames);
    run.realtime = realtime;
    if let Some(c) = &converter {
        run.delay_ms = c.job.as_secs_f64() * 1e3;
        run.mode = Some(c.mode.clone());
    }
    Ok(run)
}

fn summarise(plan: &Plan, dmabuf_version: u32, modifier: u64, frames: Vec<Frame>) -> Run {
    let shown = frames.iter().filter(|f| f.shown_ns.is_some()).count() as u32;
    let after = frames.iter().filter(|f| f.shown_ns.is_some_and(|s| s > f.signal_ns)).count();
    let expected = median(frames.iter().map(|f| f.expected_wait_ms).collect());
    let bound = median(frames.iter().map(|f| f.wait_bound_ms).collect());
    let floor = median(frames.iter().map(|f| f.wait_floor_ms).collect());
    let handoff =
        median(frames.iter().filter_map(|f| f.handoff_ns).map(|n| n as f64 / 1e6).collect());
    Run {
        delay_ms: plan.delay.as_secs_f64() * 1e3,
        source: plan.converter.clone().unwrap_or_else(|| "vgem".into()),
        mode: None,
        dmabuf_version,
        modifier: if modifier == MOD_LINEAR { "linear" } else { "invalid" }.into(),
        shown,
        shown_after_signal: after as u32,
        lost: frames.len() as u32 - shown,
        frames,
        expected_wait_p50_ms: expected,
        wait_floor_p50_ms: floor,
        wait_bound_p50_ms: bound,
        handoff_p50_ms: handoff,
        realtime: None,
    }
}

/// The lower middle value, as a histogram's 50th percentile reads.
fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    v[(v.len() - 1) / 2]
}

/// A dumb buffer is linear: LINEAR if offered, else the implicit layout.
fn pick_modifier(offered: &[u64]) -> Result<u64> {
    if offered.contains(&MOD_LINEAR) {
        Ok(MOD_LINEAR)
    } else if offered.is_empty() || offered.contains(&MOD_INVALID) {
        Ok(MOD_INVALID)
    } else {
        bail!("the compositor takes XRGB8888 only with modifiers {offered:#x?}, none linear")
    }
}

fn import(
    dmabuf: &ZwpLinuxDmabufV1,
    qh: &QueueHandle<State>,
    dumb: &Dumb,
    plan: &Plan,
    modifier: u64,
    index: usize,
) -> WlBuffer {
    let params = dmabuf.create_params(qh, ());
    let (hi, lo) = ((modifier >> 32) as u32, modifier as u32);
    params.add(dumb.dmabuf.as_fd(), 0, 0, dumb.pitch, hi, lo);
    let flags = zwp_linux_buffer_params_v1::Flags::empty();
    let buffer =
        params.create_immed(plan.width as i32, plan.height as i32, XRGB8888, flags, qh, index);
    params.destroy();
    buffer
}

/// Reads and dispatches events until `done` holds or `limit` has passed;
/// returns whether `done` held.
fn pump(
    conn: &Connection,
    queue: &mut EventQueue<State>,
    state: &mut State,
    done: impl Fn(&State) -> bool,
    limit: Duration,
) -> Result<bool> {
    let clock = Clock::monotonic();
    let deadline = clock.now() + limit;
    loop {
        queue.dispatch_pending(state)?;
        if done(state) || state.closed {
            return Ok(done(state));
        }
        let now = clock.now();
        if now >= deadline {
            return Ok(false);
        }
        conn.flush()?;
        let Some(guard) = queue.prepare_read() else { continue };
        let mut fd = libc::pollfd {
            fd: guard.connection_fd().as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = (deadline - now).as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd.
        if unsafe { libc::poll(&mut fd, 1, ms) } > 0 {
            guard.read()?;
        }
    }
}

impl Dispatch<WlRegistry, ()> for State {
    fn event(
        state: &mut Self,
        registry: &WlRegistry,
        event: wl_registry::Event,
        _: &(),
        _: &Connection,
        qh: &QueueHandle<Self>,
    ) {
        let wl_registry::Event::Global { name, interface, version } = event else { return };
        match interface.as_str() {
            "wl_compositor" => {
                state.compositor = Some(registry.bind(name, version.min(4), qh, ()));
            }
            "xdg_wm_base" => state.wm_base = Some(registry.bind(name, 1, qh, ())),
            // Version 3 still announces formats and modifiers as events;
            // 4 moves them to feedback objects.
            "zwp_linux_dmabuf_v1" if version >= 3 => {
                state.dmabuf_version = version;
                state.dmabuf = Some(registry.bind(name, 3, qh, ()));
            }
            _ => {}
        }
    }
}

impl Dispatch<ZwpLinuxDmabufV1, ()> for State {
    fn event(
        state: &mut Self,
        _: &ZwpLinuxDmabufV1,
        event: zwp_linux_dmabuf_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let zwp_linux_dmabuf_v1::Event::Modifier { format, modifier_hi, modifier_lo } = event
            && format == XRGB8888
        {
            state.modifiers.push(((modifier_hi as u64) << 32) | modifier_lo as u64);
        }
    }
}

impl Dispatch<ZwpLinuxBufferParamsV1, ()> for State {
    fn event(
        state: &mut Self,
        _: &ZwpLinuxBufferParamsV1,
        event: zwp_linux_buffer_params_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let zwp_linux_buffer_params_v1::Event::Failed = event {
            state.failed = true;
        }
    }
}

impl Dispatch<WlBuffer, usize> for State {
    fn event(
        state: &mut Self,
        _: &WlBuffer,
        event: wl_buffer::Event,
        index: &usize,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let wl_buffer::Event::Release = event {
            state.released[*index] = true;
        }
    }
}

impl Dispatch<WlCallback, Callback> for State {
    fn event(
        state: &mut Self,
        _: &WlCallback,
        event: wl_callback::Event,
        what: &Callback,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        let wl_callback::Event::Done { .. } = event else { return };
        let at = Some(now_ns());
        match *what {
            Callback::Warmup => state.warm = true,
            Callback::Frame(i) => state.shown[i] = state.shown[i].or(at),
            Callback::Sync(i) => state.synced[i] = state.synced[i].or(at),
        }
    }
}

impl Dispatch<XdgWmBase, ()> for State {
    fn event(
        _: &mut Self,
        wm_base: &XdgWmBase,
        event: xdg_wm_base::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let xdg_wm_base::Event::Ping { serial } = event {
            wm_base.pong(serial);
        }
    }
}

impl Dispatch<XdgSurface, ()> for State {
    fn event(
        state: &mut Self,
        xdg: &XdgSurface,
        event: xdg_surface::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let xdg_surface::Event::Configure { serial } = event {
            xdg.ack_configure(serial);
            state.configured = true;
        }
    }
}

impl Dispatch<XdgToplevel, ()> for State {
    fn event(
        state: &mut Self,
        _: &XdgToplevel,
        event: xdg_toplevel::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let xdg_toplevel::Event::Close = event {
            state.closed = true;
        }
    }
}

delegate_noop!(State: ignore WlCompositor);
delegate_noop!(State: ignore WlSurface);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dumb_buffer_takes_linear_or_the_implicit_layout() {
        assert_eq!(pick_modifier(&[MOD_INVALID, MOD_LINEAR]).unwrap(), MOD_LINEAR);
        assert_eq!(pick_modifier(&[MOD_INVALID]).unwrap(), MOD_INVALID);
        assert_eq!(pick_modifier(&[]).unwrap(), MOD_INVALID);
        let tiled = 0x0100_0000_0000_0001;
        assert!(pick_modifier(&[tiled]).unwrap_err().to_string().contains("none linear"));
    }

    #[test]
    fn the_median_is_the_lower_middle_as_in_a_histogram() {
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), 2.0);
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![]), 0.0);
    }
}
