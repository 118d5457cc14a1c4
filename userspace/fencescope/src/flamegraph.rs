//! `fencescope flamegraph`: the engine's folded stacks drawn by inferno.
//! Waits stack as process → thread → style → driver → timeline → stage,
//! weighted by microseconds waited; `--lifetimes` stacks driver → timeline
//! → stage by microseconds alive; `--diff` colours AFTER by its change.
use std::path::Path;

use anyhow::{Context, Result, bail};
use fencescope_engine::Stacks;
use inferno::flamegraph::{self, Options};

use crate::cli::{FilterArgs, FlamegraphArgs};
use crate::report::replay_into;

pub fn run(a: &FlamegraphArgs) -> Result<i32> {
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
            let mut diffed = Vec::new();
            inferno::differential::from_readers(
                Default::default(),
                old.join("\n").as_bytes(),
                new.join("\n").as_bytes(),
                &mut diffed,
            )?;
            let lines: Vec<String> =
                String::from_utf8_lossy(&diffed).lines().map(str::to_owned).collect();
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
    let (engine, info) = replay_into(path, filter, |e| e.with_stacks())?;
    let stacks = engine.stacks().expect("asked for");
    let map = if lifetimes { &stacks.lifetimes } else { &stacks.waits };
    Ok((Stacks::folded(map), info.kernel_release))
}

fn nothing_to_draw(lines: &[String], source: &str, lifetimes: bool) -> Result<()> {
    if lines.is_empty() {
        let what = if lifetimes { "signalled fences" } else { "waits" };
        let hint = if lifetimes { "" } else { " (try --lifetimes)" };
        bail!("{source}: no {what} to draw{hint}");
    }
    Ok(())
}

/// The SVG of folded `lines` (two counts per line when `differential`).
pub fn render(lines: &[String], title: &str, differential: bool) -> Result<Vec<u8>> {
    let mut opt = Options::default();
    opt.title = title.to_owned();
    opt.count_name = "us".into();
    opt.name_type = "".into();
    // Same input, same picture: colours by name, no random hues.
    opt.hash = true;
    opt.deterministic = true;
    opt.negate_differentials = false;
    if !differential {
        opt.colors = flamegraph::color::Palette::Basic(flamegraph::color::BasicPalette::Aqua);
    }
    let mut svg = Vec::new();
    flamegraph::from_lines(&mut opt, lines.iter().map(String::as_str), &mut svg)
        .context("drawing the flamegraph")?;
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fencescope_engine::{Engine, synthetic};

    fn stacks() -> Stacks {
        let mut e = Engine::default().with_stacks();
        synthetic::compositor_session(50, 3, 1_000_000).iter().for_each(|ev| e.feed(ev));
        e.stacks().cloned().unwrap()
    }

    /// The SVG is well-formed XML, and every frame of the stacks is a
    /// titled rectangle in it.
    fn check_svg(svg: &[u8], want: &[&str]) {
        let text = std::str::from_utf8(svg).unwrap();
        // inferno writes the SVG 1.1 DOCTYPE; allow it, resolve nothing.
        let opts = roxmltree::ParsingOptions { allow_dtd: true, ..Default::default() };
        let doc = roxmltree::Document::parse_with_options(text, opts).expect("well-formed SVG");
        assert_eq!(doc.root_element().tag_name().name(), "svg");
        let titles: Vec<&str> = doc
            .descendants()
            .filter(|n| n.has_tag_name("title"))
            .filter_map(|n| n.text())
            .collect();
        for w in want {
            assert!(titles.iter().any(|t| t.starts_with(w)), "no frame {w:?} in {titles:?}");
        }
    }

    #[test]
    fn waits_svg_has_every_frame() {
        let s = stacks();
        let svg = render(&Stacks::folded(&s.waits), "waits", false).unwrap();
        check_svg(&svg, &["kwin_wayland", "export", "drv0", "drv2", "unbound", "ask→signal"]);
    }

    #[test]
    fn lifetimes_svg_has_every_stage() {
        let s = stacks();
        let svg = render(&Stacks::folded(&s.lifetimes), "lifetimes", false).unwrap();
        check_svg(&svg, &["drv1", "init→resv attach", "resv attach→signal"]);
    }

    #[test]
    fn differential_svg_is_well_formed() {
        let s = stacks();
        let before = Stacks::folded(&s.waits).join("\n");
        let after = before.replace(" ", " 1").replace(";export;", ";dmabuf-poll;");
        let mut diffed = Vec::new();
        inferno::differential::from_readers(
            Default::default(),
            before.as_bytes(),
            after.as_bytes(),
            &mut diffed,
        )
        .unwrap();
        let lines: Vec<String> =
            String::from_utf8(diffed).unwrap().lines().map(str::to_owned).collect();
        assert!(lines.iter().all(|l| l.split(' ').count() >= 3), "{lines:?}");
        let svg = render(&lines, "diff", true).unwrap();
        check_svg(&svg, &["kwin_wayland", "dmabuf-poll"]);
    }
}
