//! The arming contract in the text and markdown reports: the counts, the
//! unarmed window's percentiles, and the worst fences' stage timelines —
//! created → attached → handed out → armed → signalled — which answer the
//! review's question in one line per fence.
use std::fmt::Write as _;

use fencescope_engine::contract::{ContractSummary, Stages};

use crate::units::{ms, ms_cell};

/// Whether there is anything to say: an arm hook ran, or a fence broke
/// the contract.
pub fn worth_showing(c: &ContractSummary) -> bool {
    c.arms > 0
        || c.handed_out_unarmed > 0
        || c.never_signalled > 0
        || c.foreign_fences > 0
        || c.unattached_fences > 0
        || !c.unfenced_queues.is_empty()
}

/// One fence's stages in time order, as "name +ms" steps.
pub fn timeline(s: &Stages) -> Vec<String> {
    let mut steps: Vec<(u64, String)> = vec![(0, "created 0".into())];
    let mut at = |t: Option<u64>, what: String| {
        if let Some(t) = t {
            steps.push((t, format!("{what} +{}", ms(t).trim())));
        }
    };
    at(s.attached_ns, "attached".into());
    at(s.armed_ns, "armed".into());
    let to = s.handed_to.as_deref().unwrap_or("?");
    at(s.handed_ns, format!("handed to {to}"));
    at(s.signalled_ns, "signalled".into());
    steps.sort_by_key(|(t, _)| *t);
    let mut out: Vec<String> = steps.into_iter().map(|(_, s)| s).collect();
    if s.signalled_ns.is_none() {
        out.push(format!("unsignalled at +{}", ms(s.age_ns).trim()));
    }
    out
}

/// "driver/timeline context:seqno by creator", then the stages, wrapped
/// to fit 72 columns.
fn example(o: &mut String, s: &Stages) {
    let _ = writeln!(
        o,
        "    {}/{} {}:{} by {}",
        s.driver, s.timeline, s.context, s.seqno, s.created_by
    );
    let mut line = String::from("     ");
    for step in timeline(s) {
        if line.len() + step.len() + 3 > 72 {
            let _ = writeln!(o, "{line}");
            line = String::from("     ");
        }
        line.push_str(if line.trim().is_empty() { " " } else { " -> " });
        line.push_str(&step);
    }
    let _ = writeln!(o, "{line} (ms)");
}

/// `report --stages N`: each fence's whole life, one entry per fence.
pub fn stage_log(fences: &[Stages]) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "\nstage timelines of the first {} fences to signal", fences.len());
    fences.iter().for_each(|s| example(&mut o, s));
    o
}

/// The contract section of the text report, appended to `o` (nothing when not [`worth_showing`]).
pub fn text(o: &mut String, c: &ContractSummary) {
    if !worth_showing(c) {
        return;
    }
    let _ = writeln!(o);
    let _ = writeln!(
        o,
        "arming contract (arm hook called {} times, {} matched no fence)",
        c.arms, c.arms_unmatched
    );
    if c.arms == 0 {
        let _ = writeln!(o, "  no arm hook ran: give --arm-hook to check when fences are armed");
    } else {
        let u = &c.unarmed_window;
        let _ = writeln!(
            o,
            "  fences armed: {}; unarmed window, created -> armed (ms):\n  {:>8}{:>8}{:>8}{:>8}\n  {:>8}{:>8}{:>8}{:>8}",
            c.armed,
            "p50",
            "p90",
            "p99",
            "max",
            ms_cell(u.p50_ns),
            ms_cell(u.p90_ns),
            ms_cell(u.p99_ns),
            ms_cell(u.max_ns)
        );
    }
    let _ = writeln!(
        o,
        "  handed out to waiters: {}; before armed (can wait on userspace): {}",
        c.handed_out, c.handed_out_unarmed
    );
    let _ = writeln!(
        o,
        "  never signalled (alive {} ms or more, or destroyed): {}",
        ms(c.never_signalled_threshold_ns).trim(),
        c.never_signalled
    );
    if c.unattached_fences > 0 {
        let _ = writeln!(
            o,
            "  fences that guarded no buffer (added to no dma-buf): {}",
            c.unattached_fences
        );
    }
    for (queue, fenced, not) in &c.unfenced_queues {
        let _ =
            writeln!(o, "  vb2 queue {queue}: {not} buffers queued with no fence, {fenced} with");
    }
    if c.foreign_fences > 0 {
        let by: Vec<String> = c.foreign_drivers.iter().map(|(d, n)| format!("{n} {d}")).collect();
        let _ = writeln!(
            o,
            "  foreign fences on buffers the series guards: {} ({})",
            c.foreign_fences,
            by.join(", ")
        );
    }
    if !c.handed_out_unarmed_worst.is_empty() {
        let _ = writeln!(o, "  handed out unarmed, longest unarmed after hand-out first:");
        c.handed_out_unarmed_worst.iter().for_each(|s| example(o, s));
    }
    if !c.never_signalled_worst.is_empty() {
        let _ = writeln!(o, "  never signalled, oldest first:");
        c.never_signalled_worst.iter().for_each(|s| example(o, s));
    }
}

/// The contract section of the markdown report, appended to `o`.
pub fn markdown(o: &mut String, c: &ContractSummary) {
    if !worth_showing(c) {
        return;
    }
    let u = &c.unarmed_window;
    let _ = writeln!(o, "### Arming contract\n");
    let _ = writeln!(o, "| check | count | p50 ms | p99 ms | max ms |\n|---|---:|---:|---:|---:|");
    let _ = writeln!(o, "| arm hook calls ({} unmatched) | {} | | | |", c.arms_unmatched, c.arms);
    let _ = writeln!(
        o,
        "| armed (unarmed window) | {} | {} | {} | {} |",
        c.armed,
        ms(u.p50_ns).trim(),
        ms(u.p99_ns).trim(),
        ms(u.max_ns).trim()
    );
    let _ = writeln!(o, "| handed out to waiters | {} | | | |", c.handed_out);
    let _ = writeln!(o, "| handed out unarmed | {} | | | |", c.handed_out_unarmed);
    let _ = writeln!(o, "| never signalled | {} | | | |", c.never_signalled);
    let _ =
        writeln!(o, "| foreign fences on series-guarded buffers | {} | | | |\n", c.foreign_fences);
    for s in c.handed_out_unarmed_worst.iter().chain(&c.never_signalled_worst) {
        let _ = writeln!(
            o,
            "- `{}/{} {}:{}` by {}: {} ms",
            s.driver,
            s.timeline,
            s.context,
            s.seqno,
            s.created_by,
            timeline(s).join(" → ")
        );
    }
    let _ = writeln!(o);
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn starved() -> Stages {
        Stages {
            driver: "videobuf2".into(),
            timeline: "vb2-release-fence".into(),
            context: 3,
            seqno: 7,
            created_by: "fence-workload[45]".into(),
            attached_ns: Some(10_000),
            armed_ns: Some(200_100_000),
            handed_ns: Some(50_000),
            handed_to: Some("kwin_wayland".into()),
            signalled_ns: Some(210_200_000),
            age_ns: 210_200_000,
        }
    }

    #[test]
    fn stages_read_in_time_order() {
        assert_eq!(
            timeline(&starved()),
            [
                "created 0",
                "attached +0.010",
                "handed to kwin_wayland +0.050",
                "armed +200.100",
                "signalled +210.200"
            ]
        );
        let mut hung = starved();
        (hung.armed_ns, hung.signalled_ns, hung.age_ns) = (None, None, 3_000_000_000);
        assert_eq!(timeline(&hung).last().unwrap(), "unsignalled at +3000.000");
    }
}
