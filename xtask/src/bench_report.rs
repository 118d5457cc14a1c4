//! `cargo xtask bench-report`: the time and peak memory of `fencescope
//! report` on a capture of ten million events, against `fencescope dump`
//! (read, decode and print every record) of the same file in the same run.
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use fencescope_capture::{Info, Writer};
use fencescope_engine::synthetic;

use crate::{run, workspace_root};

/// Writes `events` records of a synthetic compositor session (8 drivers,
/// a fence every 20 us, each exported and waited on).
fn write_capture(path: &Path, events: u64) -> Result<u64> {
    let info = Info {
        tool_version: "bench".into(),
        schema_version: fencescope_schema::SCHEMA_VERSION,
        kernel_release: "synthetic".into(),
        machine: std::env::consts::ARCH.into(),
        ..Info::default()
    };
    let mut w = Writer::create(path, &info)?;
    let (fences, batch) = (events / 8, 100_000);
    let mut buf = Vec::new();
    for first in (0..fences).step_by(batch as usize) {
        for ev in synthetic::compositor_session_from(first, batch.min(fences - first), 8, 20_000) {
            buf.clear();
            ev.encode(&mut buf);
            w.push(&buf)?;
        }
    }
    Ok(w.finish()?.file_bytes)
}

/// Wall seconds and peak resident memory (MiB) of one command.
fn measure(cmd: &mut Command) -> Result<(f64, f64)> {
    let start = Instant::now();
    let child = cmd.stdout(Stdio::null()).spawn().context("starting fencescope")?;
    let mut status = 0;
    // SAFETY: plain wait4 on our own child, with owned out-parameters.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    let secs = start.elapsed().as_secs_f64();
    if pid < 0 || !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        bail!("{cmd:?} failed");
    }
    Ok((secs, usage.ru_maxrss as f64 / 1024.0))
}

pub fn bench_report(events: u64) -> Result<()> {
    let root = workspace_root();
    run(Command::new(env!("CARGO")).current_dir(&root).args([
        "build",
        "--release",
        "--bin",
        "fencescope",
    ]))?;
    let bin = root.join("target/release/fencescope");
    let dir = root.join("target/bench");
    std::fs::create_dir_all(&dir)?;
    let file = dir.join(format!("report-{events}.fsc"));
    let bytes = write_capture(&file, events)?;
    let report = measure(Command::new(&bin).arg("report").arg(&file).args(["--format", "json"]))?;
    let dump = measure(Command::new(&bin).arg("dump").arg(&file))?;
    println!(
        "capture: {events} events, {bytes} bytes ({:.1} B/event)",
        bytes as f64 / events as f64
    );
    println!("{:<40}{:>10}{:>14}{:>8}", "", "seconds", "peak RSS MiB", "ratio");
    println!("{:<40}{:>10.2}{:>14.1}{:>8.2}", "fencescope dump (baseline)", dump.0, dump.1, 1.0);
    println!(
        "{:<40}{:>10.2}{:>14.1}{:>8.2}",
        "fencescope report --format json",
        report.0,
        report.1,
        report.0 / dump.0
    );
    std::fs::remove_file(&file)?;
    Ok(())
}
