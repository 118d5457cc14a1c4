//! `--verify`: the kernel's own ftrace counts the same fences as the
//! engine, in the same run, and the two are held side by side at the end.
use anyhow::{Result, bail};
use fencescope_engine::{Engine, Filter};
use fencescope_loader::kernel;
use fencescope_schema::Kind;
use fencescope_verify::{Observed, Verdict, Witness, compare};

use crate::cli::LiveArgs;

/// A second witness started for a live run, or why none could be.
pub(crate) struct Verify {
    witness: Result<Witness, String>,
    since_ns: u64,
}

/// Exit status of a run whose figures ftrace contradicts.
pub(crate) const MISMATCH_EXIT: i32 = 3;

impl Verify {
    /// Starts ftrace witnessing, before fencescope's own hooks attach;
    /// `None` when `--verify` was not asked for. [`Verify::attached`] then
    /// opens the window both count in.
    pub(crate) fn start(a: &LiveArgs) -> Result<Option<Verify>> {
        if !a.verify {
            return Ok(None);
        }
        if a.filter.pid.is_some() || a.filter.comm.is_some() {
            bail!(
                "--verify counts every fence as ftrace does, which names threads, not processes: \
                 drop -p/--comm (--driver is fine)"
            );
        }
        let witness = kernel::tracefs()
            .map_err(|e| format!("{e:#}"))
            .and_then(|t| Witness::start(&t, u64::MAX).map_err(|e| e.to_string()));
        Ok(Some(Verify { witness, since_ns: u64::MAX }))
    }

    /// fencescope's hooks are attached: both witnesses count fences born
    /// from now on.
    pub(crate) fn attached(&mut self) {
        self.since_ns = kernel::monotonic_ns();
        if let Ok(w) = &self.witness {
            w.set_since(self.since_ns);
        }
    }

    /// The engine's filter, counting only fences ftrace saw born too.
    pub(crate) fn filter(&self, mut f: Filter) -> Filter {
        f.since_ns = self.since_ns;
        f
    }

    /// Ends the witness and compares; the window ends at the engine's last
    /// kernel event (or, when records were dropped, at the session's end).
    pub(crate) fn finish(self, engine: &Engine, filter: &Filter) -> Verdict {
        let witness = match self.witness {
            Ok(w) => w,
            Err(why) => return Verdict::unavailable(why),
        };
        let summary = engine.summary();
        // Without drops the window ends at the last record fencescope got;
        // with them, records stopped arriving before the session did, and
        // the window is the whole session (until its last drop count).
        let until = if summary.dropped > 0 { engine.seen_until_ns() } else { engine.last_ns() };
        let mut seen = match witness.finish(until) {
            Ok(seen) => seen,
            Err(e) => return Verdict::unavailable(format!("reading the trace pipe failed: {e}")),
        };
        seen.drivers.retain(|d| filter.driver(&d.driver));
        let verdict = compare(&observed(engine), &seen);
        // The records that make a fence: its init, or its names where the
        // classic tracepoints alone are attached.
        let init = if engine.names_are_inits() { Kind::FenceNames } else { Kind::FenceInit };
        let inits = summary
            .dropped_by_kind
            .iter()
            .filter(|(kind, _)| kind == init.name())
            .map(|(_, n)| n)
            .sum();
        if summary.dropped > 0 && filter.driver.is_some() {
            // Dropped inits are of every driver: nothing to hold them against.
            return Verdict::unavailable(format!(
                "fencescope dropped {} records and --driver leaves the rest out \
                 (run without --driver, or with a larger --ring-mb)",
                summary.dropped
            ));
        }
        verdict.with_drops(summary.dropped, inits)
    }
}

/// The engine's figures per driver (its timelines together), as ftrace
/// counts them.
fn observed(engine: &Engine) -> Vec<Observed> {
    let summary = engine.summary();
    let dists = engine.distributions();
    let mut out: Vec<Observed> = Vec::new();
    for g in &summary.groups {
        let i = match out.iter().position(|o| o.driver == g.driver) {
            Some(i) => i,
            None => {
                out.push(Observed {
                    driver: g.driver.clone(),
                    fences: 0,
                    signalled: 0,
                    lifetime: None,
                });
                out.len() - 1
            }
        };
        let o = &mut out[i];
        o.fences += g.fences;
        o.signalled += g.signalled;
        if let Some(h) = dists.lifetimes.get(&format!("{}/{}", g.driver, g.timeline)) {
            match o.lifetime.as_mut() {
                Some(all) => {
                    let _ = all.add(h);
                }
                None => o.lifetime = Some(h.clone()),
            }
        }
    }
    out
}

/// Prints the verdict and turns a contradiction into the exit status.
pub(crate) fn report(v: Option<Verdict>) -> i32 {
    let Some(v) = v else { return 0 };
    eprint!("{}", v.text());
    if v.contradicts() { MISMATCH_EXIT } else { 0 }
}
