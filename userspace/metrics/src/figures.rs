//! Metric families from the engine's results. Histograms use fixed buckets
//! (what Prometheus and Grafana heatmaps expect), filled from the engine's
//! hdrhistograms; label sets beyond the cap fold into one `_other` series.
use std::collections::BTreeMap;

use fencescope_engine::summary::who_key;
use fencescope_engine::{Distributions, Summary};
use hdrhistogram::Histogram;

/// Upper bounds, seconds, of fence lifetimes, waits and skews: around a
/// 60/30 Hz frame (16.7 ms, 33.3 ms) finely, up to hangs of seconds.
pub const LATENCY_BUCKETS: [f64; 19] = [
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.0167, 0.025, 0.0333, 0.05, 0.1,
    0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Upper bounds, seconds, of export round trips (an ioctl: microseconds).
pub const ROUND_TRIP_BUCKETS: [f64; 12] =
    [1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 1e-2, 0.1];

/// The label value of the series that holds everything past the cap.
pub const OVERFLOW: &str = "_other";

/// A series' labels, (name, value), in order.
pub type Labels = Vec<(String, String)>;

/// A histogram as exposed: per-bucket counts (the last is +Inf), sum, count.
#[derive(Clone, Debug, PartialEq)]
pub struct Hist {
    /// (upper bound in seconds, count in that bucket), the last bound +Inf.
    pub buckets: Vec<(f64, u64)>,
    /// The sum of every value, seconds.
    pub sum_seconds: f64,
    /// How many values.
    pub count: u64,
}

impl Hist {
    /// Buckets an hdr histogram (nanoseconds) at `bounds` (seconds, ascending).
    pub fn from_hdr(h: &Histogram<u64>, bounds: &[f64]) -> Hist {
        let mut buckets: Vec<(f64, u64)> =
            bounds.iter().chain([&f64::INFINITY]).map(|&b| (b, 0)).collect();
        for v in h.iter_recorded() {
            // The lowest value of hdr's equivalence range: a value recorded
            // exactly on a bucket's bound stays in that bucket.
            let secs = h.lowest_equivalent(v.value_iterated_to()) as f64 / 1e9;
            let i = bounds.iter().position(|&b| secs <= b).unwrap_or(bounds.len());
            buckets[i].1 += v.count_since_last_iteration();
        }
        Hist { buckets, sum_seconds: h.mean() * h.len() as f64 / 1e9, count: h.len() }
    }

    fn add(&mut self, other: &Hist) {
        for (a, b) in self.buckets.iter_mut().zip(&other.buckets) {
            a.1 += b.1;
        }
        self.sum_seconds += other.sum_seconds;
        self.count += other.count;
    }
}

/// How series of a family fold into the overflow series.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fold {
    /// Counters and histograms: the overflow series is the sum.
    Sum,
    /// Gauges such as an oldest age: the overflow series is the largest.
    Max,
}

/// One metric family: its name (without unit or `_total`), help, and series.
#[derive(Clone, Debug, PartialEq)]
pub struct Family<T> {
    /// The family's name, without unit or `_total`.
    pub name: &'static str,
    /// The HELP text.
    pub help: &'static str,
    /// Whether the unit is seconds (the name gets `_seconds`).
    pub seconds: bool,
    /// Every series: its labels and value.
    pub series: Vec<(Labels, T)>,
}

#[derive(Clone, Debug, Default, PartialEq)]
/// Every family the endpoint exposes, by type.
pub struct Figures {
    /// Counter families.
    pub counters: Vec<Family<u64>>,
    /// Gauge families.
    pub gauges: Vec<Family<f64>>,
    /// Histogram families.
    pub histograms: Vec<Family<Hist>>,
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// Keeps the `max` - 1 largest series (by `weight`) and folds the rest into
/// one whose every label is [`OVERFLOW`]; order is otherwise kept.
fn cap<T: Clone>(
    series: Vec<(Labels, T)>,
    max: usize,
    weight: impl Fn(&T) -> f64,
    fold: impl Fn(&mut T, &T),
) -> Vec<(Labels, T)> {
    if series.len() <= max.max(1) {
        return series;
    }
    let keep = max.max(1) - 1;
    let mut order: Vec<usize> = (0..series.len()).collect();
    order.sort_by(|&a, &b| weight(&series[b].1).total_cmp(&weight(&series[a].1)));
    let kept: std::collections::BTreeSet<usize> = order[..keep].iter().copied().collect();
    let mut out = Vec::new();
    let mut other: Option<(Labels, T)> = None;
    for (i, (l, v)) in series.into_iter().enumerate() {
        if kept.contains(&i) {
            out.push((l, v));
            continue;
        }
        match other.as_mut() {
            Some((_, acc)) => fold(acc, &v),
            None => other = Some((l.into_iter().map(|(k, _)| (k, OVERFLOW.into())).collect(), v)),
        }
    }
    out.extend(other);
    out
}

fn counter(
    name: &'static str,
    help: &'static str,
    series: Vec<(Labels, u64)>,
    max: usize,
) -> Family<u64> {
    let series = cap(series, max, |v| *v as f64, |a, b| *a += b);
    Family { name, help, seconds: false, series }
}

fn gauge(
    name: &'static str,
    help: &'static str,
    seconds: bool,
    series: Vec<(Labels, f64)>,
    (max, fold): (usize, Fold),
) -> Family<f64> {
    let series = cap(
        series,
        max,
        |v| *v,
        |a, b| match fold {
            Fold::Sum => *a += b,
            Fold::Max => *a = a.max(*b),
        },
    );
    Family { name, help, seconds, series }
}

fn histogram(
    name: &'static str,
    help: &'static str,
    series: Vec<(Labels, Hist)>,
    max: usize,
) -> Family<Hist> {
    let series = cap(series, max, |h| h.count as f64, Hist::add);
    Family { name, help, seconds: true, series }
}

/// Every figure the dashboards use, from one moment of the engine. At most
/// `max_series` series per family: beyond, an `_other` series holds the rest.
pub fn figures(s: &Summary, d: &Distributions, max_series: usize) -> Figures {
    let real = || s.groups.iter().filter(|g| !g.stub);
    let tl = |g: &fencescope_engine::GroupSummary| {
        labels(&[("driver", &g.driver), ("timeline", &g.timeline)])
    };
    // Each vb2 queue under who it is; the pid is left out so that series
    // outlive a client's restart.
    let vb2 = |value: &dyn Fn(&fencescope_engine::Vb2Summary) -> u64| -> Vec<(Labels, u64)> {
        s.vb2
            .by_queue
            .iter()
            .map(|q| {
                let l = labels(&[
                    ("driver", &q.driver),
                    ("device", &q.device),
                    ("node", &q.node),
                    ("queue", &q.queue),
                    ("process", &q.process),
                ]);
                (l, value(&q.figures))
            })
            .collect()
    };
    let hist_of = |m: &BTreeMap<String, Histogram<u64>>, key: &str, bounds: &[f64]| {
        m.get(key).map(|h| Hist::from_hdr(h, bounds))
    };
    let wl = |w: &fencescope_engine::WaitSummary| {
        labels(&[("process", &w.process), ("thread", &w.thread), ("style", &w.style)])
    };
    let mut stub_by_process: BTreeMap<&str, u64> = BTreeMap::new();
    for e in s.exports.iter().filter(|e| e.handed.contains("stub")) {
        *stub_by_process.entry(&e.process).or_default() += e.exports;
    }
    let counters = vec![
        counter(
            "fencescope_events",
            "Records fed to the engine.",
            vec![(vec![], s.events)],
            max_series,
        ),
        counter(
            "fencescope_fences",
            "Real (non-stub) fences initialised.",
            real().map(|g| (tl(g), g.fences)).collect(),
            max_series,
        ),
        counter(
            "fencescope_fences_signalled",
            "Fences signalled while watched.",
            real().map(|g| (tl(g), g.signalled)).collect(),
            max_series,
        ),
        counter(
            "fencescope_fences_destroyed_unsignalled",
            "Fences destroyed without ever being signalled.",
            real().map(|g| (tl(g), g.destroyed_unsignalled)).collect(),
            max_series,
        ),
        counter(
            "fencescope_stub_fences",
            "Stub fences (context 0) initialised.",
            vec![(vec![], s.stub_fences())],
            max_series,
        ),
        counter(
            "fencescope_stub_exports",
            "EXPORT_SYNC_FILE calls that handed out a stub: the consumer got no real fence.",
            stub_by_process.into_iter().map(|(p, n)| (labels(&[("process", p)]), n)).collect(),
            max_series,
        ),
        counter(
            "fencescope_waits",
            "Waits on an unsignalled fence, ended by its signal.",
            s.waits.iter().map(|w| (wl(w), w.waits)).collect(),
            max_series,
        ),
        counter(
            "fencescope_zero_waits",
            "Asks that found the fence signalled (or got the stub).",
            s.waits.iter().map(|w| (wl(w), w.zero_waits)).collect(),
            max_series,
        ),
        counter(
            "fencescope_dropped_records",
            "Records the kernel side could not emit (ring buffer full).",
            s.dropped_by_kind.iter().map(|(k, n)| (labels(&[("kind", k)]), *n)).collect(),
            max_series,
        ),
        counter(
            "fencescope_arm_calls",
            "Calls of the arm hook (a driver's device_run): jobs committed.",
            vec![(vec![], s.contract.arms)],
            max_series,
        ),
        counter(
            "fencescope_fences_handed_out_unarmed",
            "Fences handed to userspace before their job was committed: they can wait on userspace.",
            vec![(vec![], s.contract.handed_out_unarmed)],
            max_series,
        ),
        counter(
            "fencescope_fences_on_no_buffer",
            "The series' fences that were added to no dma-buf: consumers get the stub.",
            vec![(vec![], s.contract.unattached_fences)],
            max_series,
        ),
        counter(
            "fencescope_buffers_queued_without_fence",
            "vb2 buffers queued without a fence on a queue whose other buffers got one.",
            vec![(vec![], s.contract.unfenced_queues.iter().map(|q| q.2).sum())],
            max_series,
        ),
        counter(
            "fencescope_foreign_fences",
            "Fences of another driver on a buffer the series' fences guard.",
            s.contract
                .foreign_drivers
                .iter()
                .map(|(d, n)| (labels(&[("fence_driver", d)]), *n))
                .collect(),
            max_series,
        ),
        counter(
            "fencescope_vb2_qbufs",
            "Buffers userspace queued (QBUF), by videobuf2 queue and the process that queued.",
            vb2(&|f| f.qbufs),
            max_series,
        ),
        counter(
            "fencescope_vb2_dones",
            "Buffers the driver completed (vb2_buffer_done), by videobuf2 queue.",
            vb2(&|f| f.buffers_done),
            max_series,
        ),
        counter(
            "fencescope_vb2_dones_with_fence",
            "vb2_buffer_done calls that signalled a fence inside, by videobuf2 queue.",
            vb2(&|f| f.with_fence),
            max_series,
        ),
        counter(
            "fencescope_evicted_fences",
            "In-flight fences forgotten because the tracking table was full.",
            vec![(vec![], s.evicted)],
            max_series,
        ),
    ];
    let gauges = vec![
        gauge(
            "fencescope_fences_in_flight",
            "Fences initialised and not yet signalled.",
            false,
            real().map(|g| (tl(g), g.in_flight as f64)).collect(),
            (max_series, Fold::Sum),
        ),
        gauge(
            "fencescope_oldest_unsignalled_fence_age",
            "Age of the oldest fence not yet signalled (a hang grows here).",
            true,
            real().map(|g| (tl(g), g.oldest_in_flight_ns as f64 / 1e9)).collect(),
            (max_series, Fold::Max),
        ),
    ];
    let never = s.contract.never_signalled as f64;
    let gauges = [
        gauges,
        vec![gauge(
            "fencescope_fences_never_signalled",
            "Fences alive past the threshold, or destroyed unsignalled.",
            false,
            vec![(vec![], never)],
            (max_series, Fold::Sum),
        )],
    ]
    .concat();
    let histograms = vec![
        histogram(
            "fencescope_unarmed_window",
            "Fence created to armed (its job committed to hardware).",
            d.unarmed_window
                .iter()
                .map(|h| (vec![], Hist::from_hdr(h, &LATENCY_BUCKETS)))
                .collect(),
            max_series,
        ),
        histogram(
            "fencescope_fence_lifetime",
            "Fence lifetime, init to signalled.",
            real()
                .filter_map(|g| Some((tl(g), hist_of(&d.lifetimes, &g.key(), &LATENCY_BUCKETS)?)))
                .collect(),
            max_series,
        ),
        histogram(
            "fencescope_wait",
            "Waits, ask to signal, by waiting thread and style.",
            s.waits
                .iter()
                .filter_map(|w| Some((wl(w), hist_of(&d.waits, &w.key(), &LATENCY_BUCKETS)?)))
                .collect(),
            max_series,
        ),
        histogram(
            "fencescope_vb2_done_to_signal",
            "vb2_buffer_done entry to the signal of the fence it completes.",
            real()
                .filter_map(|g| {
                    Some((tl(g), hist_of(&d.vb2_to_signal, &g.key(), &LATENCY_BUCKETS)?))
                })
                .collect(),
            max_series,
        ),
        histogram(
            "fencescope_export_round_trip",
            "EXPORT_SYNC_FILE ioctl, entry to return, by what it handed out.",
            s.exports
                .iter()
                .filter_map(|e| {
                    let key = who_key(&e.process, &e.thread, &e.handed);
                    let l = labels(&[
                        ("process", &e.process),
                        ("thread", &e.thread),
                        ("handed", &e.handed),
                    ]);
                    Some((l, hist_of(&d.exports, &key, &ROUND_TRIP_BUCKETS)?))
                })
                .collect(),
            max_series,
        ),
    ];
    Figures { counters, gauges, histograms }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hdr_values_land_in_their_buckets() {
        let mut h = Histogram::new(3).unwrap();
        for ms in [0.04, 4.0, 4.9, 16.0, 20.0, 20.0, 12_000.0] {
            h.record((ms * 1e6) as u64).unwrap();
        }
        let x = Hist::from_hdr(&h, &LATENCY_BUCKETS);
        let count = |le: f64| x.buckets.iter().find(|b| b.0 == le).unwrap().1;
        assert_eq!((count(0.00005), count(0.005), count(0.0167), count(0.025)), (1, 2, 1, 2));
        assert_eq!(x.buckets.last(), Some(&(f64::INFINITY, 1)));
        assert_eq!(x.count, 7);
        assert!((x.sum_seconds - 12.06494).abs() < 0.02, "{}", x.sum_seconds);
    }

    #[test]
    fn series_past_the_cap_fold_into_other() {
        let s: Vec<(Labels, u64)> =
            (0..5).map(|i| (labels(&[("process", &format!("p{i}"))]), i * 10)).collect();
        let c = counter("x", "x", s, 3);
        let got: Vec<(String, u64)> = c.series.iter().map(|(l, v)| (l[0].1.clone(), *v)).collect();
        assert_eq!(got, [("p3".into(), 30), ("p4".into(), 40), (OVERFLOW.into(), 30)]);
        let g = gauge(
            "y",
            "y",
            true,
            vec![(vec![], 1.0), (vec![], 5.0), (vec![], 2.0)],
            (2, Fold::Max),
        );
        assert_eq!(g.series.iter().map(|s| s.1).collect::<Vec<_>>(), [5.0, 2.0]);
    }
}
