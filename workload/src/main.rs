//! `fence-workload`: runs inside the test VM and produces fences whose
//! timings are known, then prints that truth as JSON on stdout.
mod clock;
mod uapi;
mod vgem;

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
        /// LIFETIME_MS:COUNT, repeatable; fences of each are interleaved.
        #[arg(long = "fences", value_parser = parse_lifetime, required = true)]
        fences: Vec<(Duration, u32)>,
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
}

fn parse_lifetime(s: &str) -> Result<(Duration, u32), String> {
    let (ms, n) = s.split_once(':').ok_or("expected LIFETIME_MS:COUNT")?;
    let ms: f64 = ms.parse().map_err(|e| format!("lifetime: {e}"))?;
    let n: u32 = n.parse().map_err(|e| format!("count: {e}"))?;
    Ok((Duration::from_secs_f64(ms / 1e3), n))
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
        Cmd::Vgem { fences, stub_exports, waiter_comm, delay, precision_ms } => {
            std::thread::sleep(Duration::from_secs_f64(delay));
            let precision = Duration::from_secs_f64(precision_ms / 1e3);
            vgem::run(&vgem::Plan { lifetimes: fences, stub_exports, waiter_comm, precision })
                .and_then(|t| Ok(serde_json::to_string(&t)?))
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
