use std::collections::BTreeMap;

use super::*;
use fencescope_engine::{Engine, Symbols, synthetic};

/// 300 fences over 3 drivers, one born every 100 us and living 500 us (so
/// about five overlap), each with its own context as vgem's have, each
/// exported (waited on) by kwin_wayland.
fn doc() -> (Trace, Value) {
    let mut e = Engine::default().with_trace().with_symbols(Symbols::default());
    synthetic::compositor_session(300, 3, 100_000).iter().for_each(|ev| e.feed(ev));
    let t = e.trace().unwrap();
    let doc = perfetto_json(&t, "test");
    (t, doc)
}

/// What Perfetto's JSON importer requires of slices and flows: slices on
/// one track never overlap (only perfect nesting is allowed, and we never
/// nest), and each flow has one start and one end, each inside a slice of
/// its own track.
fn check(doc: &Value) -> BTreeMap<(u64, u64), Vec<(f64, f64)>> {
    let events = doc["traceEvents"].as_array().expect("traceEvents");
    let mut tracks: BTreeMap<(u64, u64), Vec<(f64, f64)>> = BTreeMap::new();
    for e in events {
        let ph = e["ph"].as_str().expect("ph");
        let track = (e["pid"].as_u64().expect("pid"), e["tid"].as_u64().expect("tid"));
        if ph == "X" {
            let (ts, dur) = (e["ts"].as_f64().unwrap(), e["dur"].as_f64().unwrap());
            assert!(ts >= 0.0 && dur >= 0.0, "{e}");
            tracks.entry(track).or_default().push((ts, ts + dur));
        }
    }
    for (track, slices) in &mut tracks {
        slices.sort_by(|a, b| a.0.total_cmp(&b.0));
        for pair in slices.windows(2) {
            assert!(pair[1].0 >= pair[0].1, "overlapping slices on {track:?}: {pair:?}");
        }
    }
    let mut flows: BTreeMap<u64, Vec<&str>> = BTreeMap::new();
    for e in events.iter().filter(|e| matches!(e["ph"].as_str(), Some("s" | "f"))) {
        let track = (e["pid"].as_u64().unwrap(), e["tid"].as_u64().unwrap());
        let ts = e["ts"].as_f64().unwrap();
        let inside = tracks.get(&track).is_some_and(|s| s.iter().any(|&(a, b)| a <= ts && ts <= b));
        assert!(inside, "flow end outside any slice: {e}");
        flows.entry(e["id"].as_u64().unwrap()).or_default().push(e["ph"].as_str().unwrap());
    }
    assert!(flows.values().all(|v| v == &["s", "f"]), "unpaired flows");
    tracks
}

#[test]
fn fences_on_timeline_lanes_waits_on_threads_with_flows() {
    let (t, doc) = doc();
    assert_eq!((t.fences.len(), t.waits.len()), (300, 300));
    let tracks = check(&doc);
    let events = doc["traceEvents"].as_array().unwrap();
    let names: Vec<&str> = events
        .iter()
        .filter(|e| e["name"] == "process_name")
        .filter(|e| e["pid"].as_u64().unwrap() >= TIMELINE_PID)
        .map(|e| e["args"]["name"].as_str().unwrap())
        .collect();
    // One process per driver/timeline, not per context (300 of them).
    assert_eq!(names, ["drv0/unbound", "drv1/unbound", "drv2/unbound"]);
    let fence_slices = events.iter().filter(|e| e["cat"] == "fence" && e["ph"] == "X").count();
    assert_eq!(fence_slices, 300);
    // Per timeline, a new fence every 300 us living 500 us: two lanes.
    let lanes = tracks.keys().filter(|(pid, _)| *pid == TIMELINE_PID).count();
    assert_eq!(lanes, 2);
    let flows = events.iter().filter(|e| e["ph"] == "f").count();
    assert_eq!(flows, 300, "every wait points at its fence");
}

#[test]
fn lanes_are_reused_once_free() {
    assert_eq!(lanes(&[(0, 10), (5, 15), (10, 20), (16, 30)]), [0, 1, 0, 1]);
    assert_eq!(lanes(&[]), Vec::<usize>::new());
}

#[test]
fn a_fence_never_signalled_is_drawn_to_the_end() {
    let mut e = Engine::default().with_trace();
    let evs = synthetic::compositor_session(2, 1, 1_000_000);
    // Drop the first fence's signal and destroy: it stays unsignalled.
    let kept: Vec<_> = evs
        .into_iter()
        .enumerate()
        .filter(|(i, _)| !matches!(i, 6 | 7))
        .map(|(_, ev)| ev)
        .collect();
    kept.iter().for_each(|ev| e.feed(ev));
    let doc = perfetto_json(&e.trace().unwrap(), "test");
    check(&doc);
    let hung: Vec<&Value> = doc["traceEvents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["name"].as_str().is_some_and(|n| n.ends_with("(never signalled)")))
        .collect();
    assert_eq!(hung.len(), 1);
    assert_eq!(hung[0]["dur"].as_f64(), Some(1_600.0), "init at 0, last event at 1.6 ms");
}
