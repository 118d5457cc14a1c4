//! `fencescope flamegraph`: the engine's folded stacks drawn by inferno.
//! Waits stack as process → thread → style → driver → timeline → stage,
//! weighted by microseconds waited; `--lifetimes` stacks driver → timeline
//! → stage by microseconds alive; `--diff` colours AFTER by its change.
use anyhow::{Context, Result, bail};
use fencescope_engine::Stacks;
use inferno::flamegraph::{self, Options};

/// The folded stacks to draw: time waited, or with `lifetimes` fence
/// lifetimes.
pub fn folded(stacks: &Stacks, lifetimes: bool) -> Vec<String> {
    Stacks::folded(if lifetimes { &stacks.lifetimes } else { &stacks.waits })
}

/// BEFORE's and AFTER's folded stacks as AFTER's, each with both counts,
/// for a differential graph.
pub fn differential(old: &[String], new: &[String]) -> Result<Vec<String>> {
    let mut diffed = Vec::new();
    inferno::differential::from_readers(
        Default::default(),
        old.join("\n").as_bytes(),
        new.join("\n").as_bytes(),
        &mut diffed,
    )?;
    Ok(String::from_utf8_lossy(&diffed).lines().map(str::to_owned).collect())
}

/// Fails, saying what to try, where there is nothing to draw.
pub fn nothing_to_draw(lines: &[String], source: &str, lifetimes: bool) -> Result<()> {
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
