//! `fencescope compare BEFORE AFTER`: replays both, prints
//! `fencescope_report::compare`'s table.
use anyhow::Result;
use fencescope_report::compare::render;

use crate::cli::CompareArgs;
use fencescope_stream::source::replay;

pub(crate) fn run(a: &CompareArgs) -> Result<i32> {
    let (before, bi) = replay(&a.before, a.filter.filter())?;
    let (after, ai) = replay(&a.after, a.filter.filter())?;
    let text = render(
        (&before.summary(), &before.distributions(), &bi.kernel_release),
        (&after.summary(), &after.distributions(), &ai.kernel_release),
        a.alpha,
    );
    print!("{text}");
    Ok(0)
}
