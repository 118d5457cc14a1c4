//! `fencescope flamegraph`: replays captures with their stacks kept and
//! draws them with `fencescope_report::flamegraph`.
use std::path::Path;

use anyhow::{Context, Result, bail};
use fencescope_report::flamegraph::{
    differential, folded as folded_stacks, nothing_to_draw, render,
};

use crate::cli::{FilterArgs, FlamegraphArgs};
use fencescope_stream::source::replay_into;

pub(crate) fn run(a: &FlamegraphArgs) -> Result<i32> {
    let what = if a.lifetimes { "Fence lifetimes" } else { "Time waited on fences" };
    let svg = match (&a.file, a.diff.as_deref()) {
        (Some(file), None) => {
            let (lines, kernel) = folded(file, &a.filter, a.lifetimes)?;
            nothing_to_draw(&lines, &file.display().to_string(), a.lifetimes)?;
            let title = format!("{what}: {} ({kernel})", file.display());
            render(&lines, &title, false)?
        }
        (None, Some([before, after])) => {
            let (old, _) = folded(before, &a.filter, a.lifetimes)?;
            let (new, _) = folded(after, &a.filter, a.lifetimes)?;
            // "Before" often has none (the stub never makes anyone wait).
            let both = [old.clone(), new.clone()].concat();
            let names = format!("{} and {}", before.display(), after.display());
            nothing_to_draw(&both, &names, a.lifetimes)?;
            let lines = differential(&old, &new)?;
            let title = format!(
                "{what}: {} → {} (red grew, blue shrank)",
                before.display(),
                after.display()
            );
            render(&lines, &title, true)?
        }
        _ => bail!("give one capture, or --diff BEFORE AFTER"),
    };
    std::fs::write(&a.output, svg)
        .with_context(|| format!("cannot write {}", a.output.display()))?;
    Ok(0)
}

/// A capture's folded stacks, and the kernel it was recorded on.
fn folded(path: &Path, filter: &FilterArgs, lifetimes: bool) -> Result<(Vec<String>, String)> {
    let (engine, info) = replay_into(path, filter.filter(), |e| e.with_stacks())?;
    let stacks = engine.stacks().expect("asked for");
    Ok((folded_stacks(stacks, lifetimes), info.kernel_release))
}
