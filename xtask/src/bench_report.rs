//! `cargo xtask bench-report`: the time and peak memory of every command
//! that replays a capture (`report`, `compare`, `flamegraph`, `top
//! --replay`, `serve --replay`) on a capture of ten million events and on
//! one of a tenth of that, against `fencescope dump` (read, decode and print
//! every record) of the same files in the same run. Memory bounded by the
//! session, not by the capture, shows as the same peak at both sizes.
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
///
/// The peak is the child's own `VmHWM`, read every 2 ms until it exits:
/// `wait4`'s `ru_maxrss` would count the memory of this process, which
/// the child was forked from, before it exec'd (Linux keeps the larger).
fn measure(cmd: &mut Command) -> Result<(f64, f64)> {
    let start = Instant::now();
    let child = cmd.stdout(Stdio::null()).spawn().context("starting fencescope")?;
    let pid = child.id() as i32;
    let status_file = format!("/proc/{pid}/status");
    let mut peak_kb = 0u64;
    let mut status = 0;
    loop {
        if let Some(kb) = std::fs::read_to_string(&status_file).ok().as_deref().and_then(vm_hwm_kb)
        {
            peak_kb = peak_kb.max(kb);
        }
        // SAFETY: a non-blocking wait on our own child.
        let done = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if done == pid {
            break;
        }
        if done < 0 {
            bail!("waiting for {cmd:?}: {}", std::io::Error::last_os_error());
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let secs = start.elapsed().as_secs_f64();
    if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        bail!("{cmd:?} failed");
    }
    Ok((secs, peak_kb as f64 / 1024.0))
}

/// `VmHWM` of a `/proc/PID/status`, kB.
fn vm_hwm_kb(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Every command that replays a capture, as (label, arguments): `{}`
/// stands for the capture, `{out}` for a scratch output file.
const COMMANDS: &[(&str, &[&str])] = &[
    ("dump (baseline)", &["dump", "{}"]),
    ("report --format json", &["report", "{}", "--format", "json"]),
    ("compare (the capture with itself)", &["compare", "{}", "{}"]),
    ("flamegraph", &["flamegraph", "{}", "-o", "{out}"]),
    (
        "top --replay --headless",
        &["top", "--replay", "{}", "--speed", "1e9", "--headless", "100x30"],
    ),
    (
        "serve --replay",
        &["serve", "--replay", "{}", "--listen", "127.0.0.1:0", "--duration", "0.1"],
    ),
];

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
    let out = dir.join("scratch.out");
    let sizes = [events / 10, events];
    let mut rows: Vec<Vec<(f64, f64)>> = vec![Vec::new(); COMMANDS.len()];
    for n in sizes {
        let file = dir.join(format!("report-{n}.fsc"));
        let bytes = write_capture(&file, n)?;
        println!("capture: {n} events, {bytes} bytes ({:.1} B/event)", bytes as f64 / n as f64);
        for (row, (_, args)) in rows.iter_mut().zip(COMMANDS) {
            let mut cmd = Command::new(&bin);
            for a in *args {
                match *a {
                    "{}" => cmd.arg(&file),
                    "{out}" => cmd.arg(&out),
                    a => cmd.arg(a),
                };
            }
            row.push(measure(&mut cmd)?);
        }
        std::fs::remove_file(&file)?;
    }
    let _ = std::fs::remove_file(&out);
    let [small, large] = sizes;
    println!(
        "{:<36}{:>10}{:>10}{:>10}{:>10}{:>10}{:>10}",
        "",
        format!("s {}M", small as f64 / 1e6),
        "MiB",
        format!("s {}M", large as f64 / 1e6),
        "MiB",
        "time x",
        "MiB x"
    );
    let base = rows[0][1].0;
    for ((label, _), r) in COMMANDS.iter().zip(&rows) {
        let (a, b) = (r[0], r[1]);
        println!(
            "{label:<36}{:>10.2}{:>10.1}{:>10.2}{:>10.1}{:>10.2}{:>10.2}",
            a.0,
            a.1,
            b.0,
            b.1,
            b.0 / base,
            b.1 / a.1
        );
    }
    println!(
        "time x: seconds on the large capture against dump of it; MiB x: peak RSS on the \
         large capture against the small one (1.0: bounded by the session, not the capture)"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_peak_is_read_from_vm_hwm() {
        let status = "Name:\tfencescope\nVmPeak:\t  20000 kB\nVmHWM:\t    6144 kB\n";
        assert_eq!(super::vm_hwm_kb(status), Some(6144));
        assert_eq!(super::vm_hwm_kb("Name:\tzombie\n"), None);
    }
}
