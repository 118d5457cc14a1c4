//! `fence-workload`: runs inside the test VM and produces fences whose
//! timings are known, then prints that truth as JSON on stdout.
mod clock;
mod convert;
mod dmabuf;
mod kms;
mod m2m;
mod smp;
mod uapi;
mod v4l2;
mod vgem;
mod waiter;
mod wayland;

use std::time::Duration;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// vgem fences of given lifetimes, each asked for by a waiter process
    /// (export sync file, poll), then exports of a fence-less buffer (stub).
    Vgem {
        /// `LIFETIME_MS:COUNT[:STYLE]`, repeatable; fences of each class are
        /// interleaved. STYLE is how the waiter asks: export (default),
        /// dmabuf-poll, poll+export.
        #[arg(long = "fences", value_parser = parse_class, required = true)]
        fences: Vec<vgem::Class>,
        /// The waiter asks this many ms after each fence's birth (0: as soon
        /// as it hears of it), so each wait's length is known.
        #[arg(long, default_value_t = 0.0)]
        ask_after_ms: f64,
        /// Exports of a buffer that never had a fence.
        #[arg(long, default_value_t = 0)]
        stub_exports: u32,
        /// The waiter process's name.
        #[arg(long, default_value = "fence-waiter")]
        waiter_comm: String,
        /// Seconds to wait before starting, so a tracer can attach.
        #[arg(long, default_value_t = 0.0)]
        delay: f64,
        /// Report fences whose timing the producer cannot vouch for within
        /// this many milliseconds (a stalled machine, not a wrong tracer).
        #[arg(long, default_value_t = 0.1)]
        precision_ms: f64,
    },
    /// Fences as fast as the producer can make them (no waiter): the rate
    /// with a tracer attached against without is the tracer's cost.
    VgemRate {
        #[arg(long, default_value_t = 20_000)]
        fences: u32,
    },
    /// Each fence ioctl timed by the caller (attach, export of the busy
    /// buffer, signal), ROUNDS times: with and without a tracer attached,
    /// what it adds to each path.
    VgemIoctls {
        #[arg(long, default_value_t = 2_000)]
        rounds: u32,
    },
    /// Exports that hand out fence arrays: MEMBERS read fences on a buffer,
    /// then an export for writing.
    VgemArrays {
        #[arg(long, default_value_t = 10)]
        arrays: u32,
        #[arg(long, default_value_t = 2)]
        members: u32,
    },
    /// Decoder-like jobs on the fencefix test device, each CAPTURE buffer
    /// handed to a KWin-like waiter (see m2m.rs for when).
    M2m {
        /// fencefix (its two video nodes) or a single-node mem2mem driver
        /// such as vim2m.
        #[arg(long, default_value = "fencefix")]
        driver: String,
        #[arg(long, default_value_t = 20)]
        frames: u32,
        #[arg(long, default_value_t = 4)]
        buffers: u32,
        /// Hand the CAPTURE buffer over at once, then hold OUTPUT back this long.
        #[arg(long, default_value_t = 0.0)]
        starve_ms: f64,
        /// Without --starve-ms: hand it over this long after queueing OUTPUT.
        #[arg(long, default_value_t = 1.0)]
        hand_after_ms: f64,
        #[arg(long, default_value = "kwin_wayland")]
        waiter_comm: String,
        /// Exit (like a crash) right after handing over this frame, its
        /// OUTPUT never queued.
        #[arg(long)]
        kill_after: Option<u32>,
        /// The waiter gives up a wait after this long.
        #[arg(long, default_value_t = 3_000)]
        wait_limit_ms: i32,
        /// How the waiter asks: poll+export (KWin: poll, export if busy),
        /// export (always export) or kms (commit the buffer to vkms: the
        /// kernel's commit waits on its fences).
        #[arg(long, default_value = "poll+export")]
        style: String,
        /// After each frame, vgem writes the buffer in place for this long
        /// (a foreign fence on the V4L2 buffer).
        #[arg(long)]
        foreign_ms: Option<f64>,
        /// Export (and hand over) only the first N CAPTURE buffers.
        #[arg(long)]
        export_only: Option<u32>,
    },
    /// vgem fences across CPUs: producers each pinned to a CPU, a signaller
    /// on another signalling each LIFETIME_MS after its birth, a waiter on a
    /// third exporting every buffer's fence.
    VgemSmp {
        #[arg(long, default_value_t = 2)]
        producers: u32,
        /// Fences per producer.
        #[arg(long, default_value_t = 100)]
        fences: u32,
        #[arg(long, default_value_t = 5.0)]
        lifetime_ms: f64,
        /// The first producer's CPU; the others take the next ones.
        #[arg(long, default_value_t = 0)]
        producer_cpu: usize,
        #[arg(long, default_value_t = 2)]
        signal_cpu: usize,
        #[arg(long, default_value_t = 3)]
        waiter_cpu: usize,
        #[arg(long, default_value = "kwin_wayland")]
        waiter_comm: String,
    },
    /// A Wayland client on `$WAYLAND_DISPLAY`: vgem buffers through
    /// linux-dmabuf, each frame's WRITE fence signalled DELAY_MS after its
    /// commit; prints when each frame was committed, signalled and shown.
    Wayland {
        #[arg(long, default_value_t = 12)]
        frames: u32,
        #[arg(long, default_value_t = 300.0)]
        delay_ms: f64,
        #[arg(long, default_value_t = 256)]
        width: u32,
        #[arg(long, default_value_t = 256)]
        height: u32,
        #[arg(long, default_value_t = 3)]
        buffers: u32,
        /// Who writes each frame: `vgem` (a fence of our own, signalled
        /// DELAY_MS after the commit) or a mem2mem driver (`vim2m`) whose
        /// CAPTURE queue imports the buffers: the series' release fence
        /// then guards each one until the driver's job is done.
        #[arg(long, default_value = "vgem")]
        source: String,
        /// A frame whose callback has not come back this long after its
        /// signal is lost.
        #[arg(long, default_value_t = 10_000)]
        frame_limit_ms: u64,
    },
    /// Stream a V4L2 capture device (MMAP buffers exported with EXPBUF).
    V4l2 {
        /// The driver whose capture device to use.
        #[arg(long, default_value = "vivid")]
        driver: String,
        /// Which of the driver's capture nodes (from 0): one client per
        /// instance where the driver has several.
        #[arg(long, default_value_t = 0)]
        nth: usize,
        #[arg(long, default_value_t = 4)]
        buffers: u32,
        #[arg(long, default_value_t = 30)]
        frames: u32,
    },
}

fn parse_class(s: &str) -> Result<vgem::Class, String> {
    let mut parts = s.split(':');
    let (Some(ms), Some(n)) = (parts.next(), parts.next()) else {
        return Err("expected LIFETIME_MS:COUNT[:STYLE]".into());
    };
    let ms: f64 = ms.parse().map_err(|e| format!("lifetime: {e}"))?;
    let count: u32 = n.parse().map_err(|e| format!("count: {e}"))?;
    let style = parts.next().map_or(Ok(waiter::Style::Export), waiter::Style::parse)?;
    Ok(vgem::Class { lifetime: Duration::from_secs_f64(ms / 1e3), count, style })
}

/// Sets this thread's name (the kernel's `comm`), as fencescope sees it.
pub fn set_comm(name: &str) {
    let mut buf = [0u8; 16];
    let n = name.len().min(15);
    buf[..n].copy_from_slice(&name.as_bytes()[..n]);
    // SAFETY: PR_SET_NAME reads a NUL-terminated buffer of up to 16 bytes.
    unsafe { libc::prctl(libc::PR_SET_NAME, buf.as_ptr(), 0, 0, 0) };
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.cmd {
        Cmd::Vgem { fences, ask_after_ms, stub_exports, waiter_comm, delay, precision_ms } => {
            std::thread::sleep(Duration::from_secs_f64(delay));
            let precision = Duration::from_secs_f64(precision_ms / 1e3);
            let ask_after = Duration::from_secs_f64(ask_after_ms / 1e3);
            vgem::run(&vgem::Plan {
                lifetimes: fences,
                ask_after,
                stub_exports,
                waiter_comm,
                precision,
            })
            .and_then(|t| Ok(serde_json::to_string(&t)?))
        }
        Cmd::VgemRate { fences } => vgem::rate(fences).and_then(|t| Ok(serde_json::to_string(&t)?)),
        Cmd::VgemIoctls { rounds } => {
            vgem::ioctl_times(rounds).and_then(|t| Ok(serde_json::to_string(&t)?))
        }
        Cmd::VgemArrays { arrays, members } => {
            vgem::arrays(arrays, members).and_then(|t| Ok(serde_json::to_string(&t)?))
        }
        Cmd::M2m {
            driver,
            frames,
            buffers,
            starve_ms,
            hand_after_ms,
            waiter_comm,
            kill_after,
            wait_limit_ms,
            style,
            foreign_ms,
            export_only,
        } => m2m::run(&m2m::Plan {
            driver,
            export_only,
            foreign: foreign_ms.map(|ms| Duration::from_secs_f64(ms / 1e3)),
            ask: match style.as_str() {
                "export" => m2m::Ask::Export,
                "poll+export" => m2m::Ask::PollExport,
                "kms" => m2m::Ask::Kms,
                other => {
                    eprintln!("fence-workload: --style {other}: want export, poll+export or kms");
                    std::process::exit(2);
                }
            },
            frames,
            buffers,
            starve: Duration::from_secs_f64(starve_ms / 1e3),
            hand_after: Duration::from_secs_f64(hand_after_ms / 1e3),
            waiter_comm,
            kill_after,
            wait_limit_ms,
        })
        .and_then(|t| Ok(serde_json::to_string(&t)?)),
        Cmd::VgemSmp {
            producers,
            fences,
            lifetime_ms,
            producer_cpu,
            signal_cpu,
            waiter_cpu,
            waiter_comm,
        } => smp::run(&smp::Plan {
            producers,
            fences,
            lifetime: Duration::from_secs_f64(lifetime_ms / 1e3),
            producer_cpu,
            signal_cpu,
            waiter_cpu,
            waiter_comm,
        })
        .and_then(|t| Ok(serde_json::to_string(&t)?)),
        Cmd::Wayland { frames, delay_ms, width, height, buffers, source, frame_limit_ms } => {
            wayland::run(&wayland::Plan {
                frames,
                delay: Duration::from_secs_f64(delay_ms / 1e3),
                converter: (source != "vgem").then_some(source),
                width,
                height,
                buffers: buffers.max(2),
                frame_limit: Duration::from_millis(frame_limit_ms),
            })
            .and_then(|t| Ok(serde_json::to_string(&t)?))
        }
        Cmd::V4l2 { driver, nth, buffers, frames } => {
            v4l2::stream(&driver, nth, buffers, frames).and_then(|t| Ok(serde_json::to_string(&t)?))
        }
    };
    match result {
        Ok(json) => println!("{json}"),
        Err(e) => {
            eprintln!("fence-workload: {e:#}");
            std::process::exit(1);
        }
    }
}
