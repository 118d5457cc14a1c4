//! fencescope's figures beside ftrace's, per driver: counts must be equal
//! and lifetime percentiles agree within [`tolerance_ns`].
use std::fmt::Write;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::tally::Witnessed;

/// What fencescope measured for one driver, over the same window.
#[derive(Clone, Debug)]
pub struct Observed {
    /// The driver's name.
    pub driver: String,
    /// Fences born in the window.
    pub fences: u64,
    /// Of those, signalled.
    pub signalled: u64,
    /// Their lifetimes (init → signal), nanoseconds.
    pub lifetime: Option<Histogram<u64>>,
}

/// The percentiles compared.
pub const QUANTILES: [(f64, &str); 3] = [(0.5, "p50"), (0.9, "p90"), (0.99, "p99")];

/// How far two percentiles may lie apart: 2 % of the larger, at least
/// 0.3 ms (ftrace prints microseconds and stamps the event a few
/// instructions away from the probe).
pub fn tolerance_ns(a: u64, b: u64) -> u64 {
    (a.max(b) / 50).max(300_000)
}

/// One driver, both witnesses.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agreement {
    /// The driver.
    pub driver: String,
    /// fencescope's count of fences born in the window, and ftrace's.
    pub fences: (u64, u64),
    /// fencescope's count of those signalled, and ftrace's.
    pub signalled: (u64, u64),
    /// Lifetime p50, nanoseconds: fencescope's, ftrace's.
    pub p50_ns: (u64, u64),
    /// Lifetime p99, nanoseconds: fencescope's, ftrace's.
    pub p99_ns: (u64, u64),
    /// What disagrees; empty when the two agree.
    pub mismatches: Vec<String>,
}

/// The whole check.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// Per driver, by name.
    pub drivers: Vec<Agreement>,
    /// Events ftrace's ring lost: its own counts are then partial.
    pub ftrace_lost: u64,
    /// Why the check could not be made, when it could not.
    pub unavailable: Option<String>,
    /// When fencescope's own ring dropped records: its counts are partial,
    /// and what is checked instead is that the drops account for the
    /// difference.
    #[serde(default)]
    pub dropped: Option<DropCheck>,
}

/// fencescope's drops held against ftrace: every fence ftrace saw born is
/// one fencescope saw, or one whose init record its full ring dropped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DropCheck {
    /// Records fencescope's kernel side could not emit, of every kind.
    pub records: u64,
    /// Of those, the records that would have made a fence (its init).
    pub inits: u64,
    /// Fences fencescope saw born in the window, every driver.
    pub seen: u64,
    /// Fences ftrace saw born in the window, every driver.
    pub ftrace: u64,
}

impl DropCheck {
    /// The drops account exactly for the fences fencescope missed.
    pub fn balances(&self) -> bool {
        self.seen + self.inits == self.ftrace
    }
}

impl Verdict {
    /// A check that could not be made, and why.
    pub fn unavailable(why: impl Into<String>) -> Self {
        Verdict { unavailable: Some(why.into()), ..Verdict::default() }
    }

    /// Both witnesses agree on every driver, and ftrace lost nothing.
    pub fn agrees(&self) -> bool {
        self.unavailable.is_none()
            && self.ftrace_lost == 0
            && match self.dropped {
                // Per driver the counts are partial; the drops must balance.
                Some(d) => d.balances(),
                None => self.drivers.iter().all(|d| d.mismatches.is_empty()),
            }
    }

    /// fencescope's ring dropped `records` records, `inits` of them fences'
    /// inits: its per-driver figures are partial, and the check becomes
    /// whether those drops account for what it missed.
    pub fn with_drops(mut self, records: u64, inits: u64) -> Self {
        if records > 0 {
            let seen = self.drivers.iter().map(|d| d.fences.0).sum();
            let ftrace = self.drivers.iter().map(|d| d.fences.1).sum();
            self.dropped = Some(DropCheck { records, inits, seen, ftrace });
        }
        self
    }

    /// ftrace was able to check, and disagrees: a figure is wrong.
    pub fn contradicts(&self) -> bool {
        self.unavailable.is_none() && self.ftrace_lost == 0 && !self.agrees()
    }

    /// The headline, one line.
    pub fn headline(&self) -> String {
        if let Some(why) = &self.unavailable {
            return format!("verify: not checked by ftrace: {why}");
        }
        if self.ftrace_lost > 0 {
            return format!(
                "verify: not checked: ftrace lost {} events (its counts are partial; \
                 a larger trace buffer or fewer fences)",
                self.ftrace_lost
            );
        }
        if let Some(d) = self.dropped {
            let sum = format!("{} fences seen + {} inits dropped", d.seen, d.inits);
            return if d.balances() {
                format!(
                    "verify: fencescope dropped {} records, its figures are partial; \
                     its drops checked by ftrace: {sum} = {} in ftrace",
                    d.records, d.ftrace
                )
            } else {
                format!("verify: MISMATCH with ftrace: {sum} ≠ {} in ftrace", d.ftrace)
            };
        }
        let bad: Vec<&str> = self
            .drivers
            .iter()
            .filter(|d| !d.mismatches.is_empty())
            .map(|d| d.driver.as_str())
            .collect();
        if bad.is_empty() {
            format!("verify: checked by ftrace: {} drivers agree", self.drivers.len())
        } else {
            format!("verify: MISMATCH with ftrace: {}", bad.join(", "))
        }
    }

    /// The headline and a table of driver × (fencescope, ftrace).
    pub fn text(&self) -> String {
        let mut o = self.headline();
        o.push('\n');
        if self.drivers.is_empty() {
            return o;
        }
        let _ = writeln!(
            o,
            "{:<20} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "driver", "fences", "ftrace", "sig'd", "ftrace", "p50 ms", "ftrace"
        );
        for d in &self.drivers {
            let ms = |ns: u64| format!("{:.3}", ns as f64 / 1e6);
            let _ = writeln!(
                o,
                "{:<20} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
                d.driver,
                d.fences.0,
                d.fences.1,
                d.signalled.0,
                d.signalled.1,
                ms(d.p50_ns.0),
                ms(d.p50_ns.1)
            );
            for m in &d.mismatches {
                let _ = writeln!(o, "  {}: {m}", d.driver);
            }
        }
        o
    }
}

/// Holds fencescope's figures against ftrace's.
pub fn compare(ours: &[Observed], ftrace: &Witnessed) -> Verdict {
    let mut names: Vec<&str> = ours.iter().map(|o| o.driver.as_str()).collect();
    names.extend(ftrace.drivers.iter().map(|d| d.driver.as_str()));
    names.sort_unstable();
    names.dedup();
    let empty = Histogram::<u64>::new(3).expect("3 significant digits is valid");
    let drivers = names
        .into_iter()
        .map(|name| {
            let o = ours.iter().find(|o| o.driver == name);
            let t = ftrace.drivers.iter().find(|d| d.driver == name);
            let oh = o.and_then(|o| o.lifetime.as_ref()).unwrap_or(&empty);
            let th = t.map_or(&empty, |t| &t.lifetime);
            let mut a = Agreement {
                driver: name.to_owned(),
                fences: (o.map_or(0, |o| o.fences), t.map_or(0, |t| t.fences)),
                signalled: (o.map_or(0, |o| o.signalled), t.map_or(0, |t| t.signalled)),
                p50_ns: (quantile(oh, 0.5), quantile(th, 0.5)),
                p99_ns: (quantile(oh, 0.99), quantile(th, 0.99)),
                mismatches: Vec::new(),
            };
            if a.fences.0 != a.fences.1 {
                a.mismatches.push(format!("fences {} here, {} in ftrace", a.fences.0, a.fences.1));
            }
            if a.signalled.0 != a.signalled.1 {
                let (x, y) = a.signalled;
                a.mismatches.push(format!("signalled {x} here, {y} in ftrace"));
            }
            for (q, label) in QUANTILES {
                let (x, y) = (quantile(oh, q), quantile(th, q));
                if x.abs_diff(y) > tolerance_ns(x, y) {
                    let ms = |ns: u64| ns as f64 / 1e6;
                    a.mismatches.push(format!(
                        "lifetime {label} {:.3} ms here, {:.3} ms in ftrace",
                        ms(x),
                        ms(y)
                    ));
                }
            }
            a
        })
        .collect();
    Verdict { drivers, ftrace_lost: ftrace.lost, unavailable: None, dropped: None }
}

fn quantile(h: &Histogram<u64>, q: f64) -> u64 {
    if h.is_empty() { 0 } else { h.value_at_quantile(q) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tally::DriverCount;

    fn hist(values_us: &[u64]) -> Histogram<u64> {
        let mut h = Histogram::new(3).unwrap();
        values_us.iter().for_each(|v| h.record(v * 1000).unwrap());
        h
    }

    fn witnessed(fences: u64, signalled: u64, us: &[u64]) -> Witnessed {
        let lifetime = hist(us);
        let d = DriverCount {
            driver: "vgem".into(),
            fences,
            signalled,
            destroyed_unsignalled: 0,
            lifetime,
        };
        Witnessed { drivers: vec![d], ..Witnessed::default() }
    }

    fn ours(fences: u64, signalled: u64, us: &[u64]) -> Vec<Observed> {
        vec![Observed { driver: "vgem".into(), fences, signalled, lifetime: Some(hist(us)) }]
    }

    #[test]
    fn equal_counts_and_close_percentiles_agree() {
        let v = compare(
            &ours(3, 3, &[5_000, 5_010, 20_000]),
            &witnessed(3, 3, &[5_001, 5_009, 20_100]),
        );
        assert!(v.agrees(), "{}", v.text());
        assert_eq!(v.headline(), "verify: checked by ftrace: 1 drivers agree");
    }

    #[test]
    fn a_missing_fence_or_a_far_percentile_is_named() {
        let v = compare(&ours(2, 2, &[5_000, 5_000]), &witnessed(3, 3, &[5_000, 5_000, 5_000]));
        assert!(!v.agrees());
        assert_eq!(
            v.drivers[0].mismatches,
            ["fences 2 here, 3 in ftrace", "signalled 2 here, 3 in ftrace"]
        );
        let v = compare(&ours(1, 1, &[5_000]), &witnessed(1, 1, &[5_400]));
        let m = &v.drivers[0].mismatches;
        assert!(m[0].starts_with("lifetime p50 5.00") && m[0].contains("ms here, 5.40"), "{m:?}");
        assert!(v.headline().starts_with("verify: MISMATCH with ftrace: vgem"));
        // 2 % of 50 ms is 1 ms: 0.8 ms apart agrees there.
        assert!(compare(&ours(1, 1, &[50_000]), &witnessed(1, 1, &[50_800])).agrees());
    }

    #[test]
    fn a_driver_only_one_side_saw_and_lost_events_do_not_pass() {
        let only_ftrace = compare(&[], &witnessed(1, 1, &[1]));
        assert_eq!(only_ftrace.drivers[0].fences, (0, 1));
        assert!(!only_ftrace.agrees());
        let mut w = witnessed(1, 1, &[1_000]);
        w.lost = 4;
        let v = compare(&ours(1, 1, &[1_000]), &w);
        assert!(!v.agrees());
        assert!(v.headline().contains("ftrace lost 4 events"));
        assert!(Verdict::unavailable("no tracefs").headline().contains("no tracefs"));
    }

    #[test]
    fn drops_that_account_for_the_missing_fences_pass_as_partial() {
        let v = compare(&ours(7, 6, &[5_000]), &witnessed(10, 10, &[5_000])).with_drops(9, 3);
        assert!(v.agrees() && !v.contradicts(), "{}", v.text());
        assert_eq!(
            v.headline(),
            "verify: fencescope dropped 9 records, its figures are partial; its drops checked \
             by ftrace: 7 fences seen + 3 inits dropped = 10 in ftrace"
        );
        // One fence neither seen nor dropped: the drop count is wrong.
        let v = compare(&ours(6, 6, &[5_000]), &witnessed(10, 10, &[5_000])).with_drops(9, 3);
        assert!(v.contradicts());
        assert!(v.headline().contains("6 fences seen + 3 inits dropped ≠ 10"), "{}", v.headline());
        // No drops: the exact check, unchanged.
        let v = compare(&ours(7, 7, &[5_000]), &witnessed(10, 10, &[5_000])).with_drops(0, 0);
        assert!(v.dropped.is_none() && v.contradicts());
    }
}
