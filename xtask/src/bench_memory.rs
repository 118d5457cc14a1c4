//! `cargo xtask bench-memory`: fencescope's resident memory through a long
//! live run (ten million vgem fences at the producer's top rate, in the
//! VM), sampled every few seconds. The engine's memory is bounded by the
//! fences alive at once, not by how many went by: the samples after the
//! first stay flat, and the peak stays under the goal.
use anyhow::{Context, Result, bail};

use crate::kernels::{self, Series};
use crate::{Arch, build, scenario};

/// The goal for the peak resident memory of a live run, MiB.
pub const GOAL_MIB: f64 = 64.0;

/// `(seconds since boot, VmRSS kB)` lines, as the guest samples them.
fn samples(text: &str) -> Vec<(f64, f64)> {
    let parse = |l: &str| {
        let (t, kb) = l.split_once(' ')?;
        Some((t.parse().ok()?, kb.trim().parse().ok()?))
    };
    text.lines().filter_map(parse).collect()
}

pub fn bench_memory(fences: u32) -> Result<()> {
    let kernel = kernels::fetch(Series::V6_12, Arch::X86_64)?;
    let bins = build::guest_bins(Arch::X86_64)?;
    let boot = crate::scenario::run(&scenario::live_memory(fences), &kernel, &bins)?;
    if boot.exit != Some(0) {
        bail!("the run failed in the guest:\n{}", crate::qemu::tail(&boot.console, 40));
    }
    let made: serde_json::Value = serde_json::from_str(boot.file("mem.json")?)?;
    let report: fencescope_engine::Summary = serde_json::from_str(boot.file("mem.report")?)?;
    let rss = samples(boot.file("rss.txt")?);
    let hwm_kb: f64 = boot.file("hwm.txt")?.trim().parse().context("VmHWM")?;
    let (Some(first), Some(last)) = (rss.first(), rss.last()) else {
        bail!("no memory samples from the guest");
    };
    let seen = report.group("vgem", "unbound").map_or(0, |g| g.fences);
    println!(
        "{} fences made at {:.0}/s over {:.0} s; fencescope saw {seen}, dropped {}",
        made["fences"],
        made["per_second"].as_f64().unwrap_or(0.0),
        last.0 - first.0,
        report.dropped
    );
    println!("{:>10}{:>12}", "seconds", "VmRSS MiB");
    let step = (rss.len() / 10).max(1);
    for (t, kb) in rss.iter().step_by(step).chain(std::iter::once(last)) {
        println!("{:>10.0}{:>12.1}", t - first.0, kb / 1024.0);
    }
    // Past the first sample the ring and the tables are warm: what grows
    // after it grows with the fences seen.
    let warm = rss.get(1).unwrap_or(first).1;
    let max = rss.iter().map(|s| s.1).fold(0.0, f64::max);
    let peak = hwm_kb / 1024.0;
    println!(
        "peak (VmHWM) {peak:.1} MiB, goal under {GOAL_MIB} MiB: {}; growth after warm-up {:+.1} MiB (max {:.1} against {:.1})",
        if peak < GOAL_MIB { "met" } else { "NOT met" },
        (max - warm) / 1024.0,
        max / 1024.0,
        warm / 1024.0
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn samples_skip_lines_that_are_not_a_sample() {
        let s = super::samples("12.5 3000\n13.0\n\n18.2 3100\nnot 1\n");
        assert_eq!(s, vec![(12.5, 3000.0), (18.2, 3100.0)]);
    }
}
