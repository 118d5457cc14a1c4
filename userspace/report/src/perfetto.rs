//! `fencescope export --perfetto`: a Chrome-JSON trace that Perfetto (and
//! chrome://tracing) open. Each driver/timeline is one process whose
//! "threads" are lanes: a fence goes on the first lane free at its init, so
//! slices never overlap on a track (the format forbids it) and a timeline
//! whose driver takes a context per fence (vgem) is a few rows, not
//! thousands. Waits sit on the waiter's own thread, with a flow arrow to
//! the fence they waited on.
use std::collections::BTreeMap;

use fencescope_engine::{FenceSpan, Trace, WaitSpan};
use serde_json::{Value, json};

/// Timeline "processes" are numbered above any real pid (at most 2^22).
const TIMELINE_PID: u64 = 1 << 24;
/// Overlapping waits of one thread go on extra lanes, tid + lane × this.
const LANE_TID: u64 = 1 << 24;

/// The lane of each span: the first whose last span ended by its start.
fn lanes(spans: &[(u64, u64)]) -> Vec<usize> {
    let mut ends: Vec<u64> = Vec::new();
    spans
        .iter()
        .map(|&(start, end)| match ends.iter().position(|&e| e <= start) {
            Some(i) => {
                ends[i] = end;
                i
            }
            None => {
                ends.push(end);
                ends.len() - 1
            }
        })
        .collect()
}

fn us(ns: u64, t0: u64) -> f64 {
    ns.saturating_sub(t0) as f64 / 1e3
}

fn meta(kind: &str, pid: u64, tid: u64, name: &str) -> Value {
    json!({"ph": "M", "name": kind, "pid": pid, "tid": tid, "args": {"name": name}})
}

/// Where each fence was drawn: (pid, tid, start, end), by serial.
type Placed = BTreeMap<u64, (u64, u64, u64, u64)>;

fn fence_events(fences: &[FenceSpan], t0: u64, out: &mut Vec<Value>) -> Placed {
    let mut by_timeline: BTreeMap<(&str, &str), Vec<&FenceSpan>> = BTreeMap::new();
    for f in fences {
        by_timeline.entry((&f.driver, &f.timeline)).or_default().push(f);
    }
    let mut placed = Placed::new();
    for (i, ((driver, timeline), mut spans)) in by_timeline.into_iter().enumerate() {
        let pid = TIMELINE_PID + i as u64;
        out.push(meta("process_name", pid, 0, &format!("{driver}/{timeline}")));
        spans.sort_by_key(|f| (f.init_ns, f.serial));
        let ends = |f: &FenceSpan| f.signal_ns.unwrap_or(f.end_ns).max(f.init_ns);
        let bounds: Vec<(u64, u64)> = spans.iter().map(|f| (f.init_ns, ends(f))).collect();
        let lane = lanes(&bounds);
        for l in 0..lane.iter().max().map_or(0, |m| m + 1) {
            out.push(meta("thread_name", pid, l as u64, &format!("{timeline} lane {l}")));
        }
        for (f, l) in spans.iter().zip(lane) {
            let (start, end) = (f.init_ns, ends(f));
            let name = match f.signal_ns {
                Some(_) => format!("fence {}:{}", f.context, f.seqno),
                None => format!("fence {}:{} (never signalled)", f.context, f.seqno),
            };
            out.push(json!({
                "ph": "X", "cat": "fence", "name": name, "pid": pid, "tid": l,
                "ts": us(start, t0), "dur": (end - start) as f64 / 1e3,
                "args": {"context": f.context, "seqno": f.seqno, "signalled": f.signal_ns.is_some(),
                         "created by": format!("{}[{}]", f.process, f.tgid)},
            }));
            placed.insert(f.serial, (pid, l as u64, start, end));
        }
    }
    placed
}

fn wait_events(waits: &[WaitSpan], placed: &Placed, t0: u64, out: &mut Vec<Value>) {
    let mut by_thread: BTreeMap<(u32, u32), Vec<&WaitSpan>> = BTreeMap::new();
    for w in waits {
        by_thread.entry((w.tgid, w.tid)).or_default().push(w);
    }
    let mut flow = 0u64;
    for ((tgid, tid), mut spans) in by_thread {
        let (pid, tid) = (u64::from(tgid), u64::from(tid));
        out.push(meta("process_name", pid, 0, &spans[0].process));
        spans.sort_by_key(|w| w.ask_ns);
        let bounds: Vec<(u64, u64)> =
            spans.iter().map(|w| (w.ask_ns, w.end_ns.max(w.ask_ns))).collect();
        let lane = lanes(&bounds);
        for l in 0..lane.iter().max().map_or(0, |m| m + 1) {
            let name = if l == 0 {
                spans[0].thread.clone()
            } else {
                format!("{} waits {l}", spans[0].thread)
            };
            out.push(meta("thread_name", pid, tid + l as u64 * LANE_TID, &name));
        }
        for (w, l) in spans.iter().zip(lane) {
            let track = tid + l as u64 * LANE_TID;
            let (start, end) = (w.ask_ns, w.end_ns.max(w.ask_ns));
            out.push(json!({
                "ph": "X", "cat": "wait", "name": format!("wait ({})", w.style), "pid": pid, "tid": track,
                "ts": us(start, t0), "dur": (end - start) as f64 / 1e3, "args": {"style": w.style},
            }));
            // An arrow from the wait to its fence, bound to the enclosing
            // slices at both ends: the ask inside the wait, the signal
            // inside the fence (the fence's last instant).
            let Some(&(fpid, flane, fstart, fend)) = w.fence_serial.and_then(|s| placed.get(&s))
            else {
                continue;
            };
            flow += 1;
            let at = |t: u64, lo: u64, hi: u64| us(t.clamp(lo, hi), t0);
            out.push(json!({"ph": "s", "cat": "wait", "name": "waited on", "id": flow,
                             "pid": pid, "tid": track, "ts": us(start, t0)}));
            out.push(json!({"ph": "f", "bp": "e", "cat": "wait", "name": "waited on", "id": flow,
                             "pid": fpid, "tid": flane, "ts": at(end, fstart, fend)}));
        }
    }
}

/// The trace document: metadata, fences on timeline lanes, waits on
/// threads, flows; times in microseconds from the first span.
pub fn perfetto_json(t: &Trace, kernel: &str) -> Value {
    let starts = t.fences.iter().map(|f| f.init_ns).chain(t.waits.iter().map(|w| w.ask_ns));
    let t0 = starts.min().unwrap_or(0);
    let mut events = Vec::new();
    let placed = fence_events(&t.fences, t0, &mut events);
    wait_events(&t.waits, &placed, t0, &mut events);
    json!({
        "traceEvents": events,
        "displayTimeUnit": "ns",
        "metadata": {"source": "fencescope", "kernel": kernel},
    })
}

#[cfg(test)]
#[path = "perfetto_tests.rs"]
mod tests;
