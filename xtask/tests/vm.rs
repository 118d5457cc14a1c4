//! VM tests: real Debian kernels under QEMU, the truth workload, and
//! fencescope's figures checked against what was injected.
//!
//! Tolerance: a percentile is right when within max(2 %, 0.3 ms) of the
//! injected lifetime. Counts are exact. The capture replayed by `report`
//! must give the very figures the live session printed.
//!
//! Run through `cargo xtask test` (they are `#[ignore]`d for plain `cargo
//! test`, which must not boot VMs).
use fencescope_engine::Summary;
use xtask::kernels::{self, Series};
use xtask::scenario::{self, TRUTH_FENCES};
use xtask::{Arch, build};

fn within(got_ns: u64, want_ms: f64) -> bool {
    let want = want_ms * 1e6;
    (got_ns as f64 - want).abs() <= (want * 0.02).max(0.3e6)
}

fn check(label: &str, s: &Summary) {
    let g = s
        .group("vgem", "unbound")
        .unwrap_or_else(|| panic!("{label}: no vgem/unbound group in {s:#?}"));
    let total: u32 = TRUTH_FENCES.iter().map(|f| f.1).sum();
    assert_eq!(g.fences, u64::from(total), "{label}: vgem fences");
    assert_eq!(g.signalled, u64::from(total), "{label}: signalled");
    assert_eq!(g.in_flight, 0, "{label}: in flight");
    let (short, long) = (TRUTH_FENCES[0].0, TRUTH_FENCES[1].0);
    let l = &g.lifetime;
    let ms = |ns: u64| ns as f64 / 1e6;
    eprintln!(
        "{label}: vgem {} fences, p50 {:.3} p90 {:.3} p99 {:.3} max {:.3} ms; stub {}; dropped {}",
        g.fences,
        ms(l.p50_ns),
        ms(l.p90_ns),
        ms(l.p99_ns),
        ms(l.max_ns),
        s.stub_fences(),
        s.dropped
    );
    assert!(within(l.p50_ns, short), "{label}: p50 {:.3} ms, want {short} ms", ms(l.p50_ns));
    for (name, v) in [("p90", l.p90_ns), ("p99", l.p99_ns), ("max", l.max_ns)] {
        assert!(within(v, long), "{label}: {name} {:.3} ms, want {long} ms", ms(v));
    }
    assert_eq!(s.dropped, 0, "{label}: dropped records");
    assert_eq!(s.unnamed, 0, "{label}: fences without names");
    // The stub is initialised at most once, lazily, and never counted as vgem.
    assert!(s.stub_fences() <= 1, "{label}: stub fences {}", s.stub_fences());
    assert_eq!(s.real_fences(), u64::from(total), "{label}: other real fences appeared");
}

/// Whether the workload could hold every lifetime it injected within the
/// tolerance (by its own clock readings around the ioctls). If it could not,
/// the machine stalled the producer and the truth itself is off: that run
/// says nothing about fencescope.
fn injection_held(truth: &serde_json::Value) -> Result<(), String> {
    for l in truth["lifetimes"].as_array().into_iter().flatten() {
        let want = l["lifetime_ms"].as_f64().unwrap_or(0.0);
        let max = l["measured_max_ms"].as_f64().unwrap_or(f64::MAX);
        let slack = (want * 0.02).max(0.3);
        if max - want > slack / 2.0 {
            return Err(format!("a {want} ms fence was held {max:.3} ms by the producer itself"));
        }
    }
    Ok(())
}

fn truth(series: Series) {
    let arch = Arch::X86_64;
    let kernel = kernels::fetch(series, arch).expect("kernel");
    let bins = build::guest_bins(arch).expect("guest binaries");
    let mut boot = scenario::run(&scenario::truth("kprobe"), &kernel, &bins).expect("boot");
    let held = |b: &xtask::qemu::Boot| {
        b.file("truth.json")
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok())
            .map(|t| injection_held(&t))
            .unwrap_or(Ok(()))
    };
    if let Err(why) = held(&boot) {
        // Not a result either way: boot once more, and say so.
        eprintln!(
            "{}: the injected truth did not hold ({why}); running the scenario once more",
            kernel.release
        );
        boot = scenario::run(&scenario::truth("kprobe"), &kernel, &bins).expect("boot");
        if let Err(why) = held(&boot) {
            panic!(
                "the machine cannot inject exact timings twice in a row ({why}): no verdict on fencescope"
            );
        }
    }
    eprintln!(
        "{} {}: guest exit {:?} in {:.1} s wall ({:?}{})",
        kernel.release,
        arch.name(),
        boot.exit,
        boot.wall.as_secs_f64(),
        boot.accel,
        if boot.retried { ", after one boot that never reached /init" } else { "" }
    );
    assert_eq!(boot.exit, Some(0), "scenario failed:\n{}", xtask::qemu::tail(&boot.console, 80));
    eprintln!("workload: {}", boot.file("truth.json").unwrap().trim());
    if let Some(line) = boot.file("raw.err").unwrap().lines().find(|l| l.contains("recorded")) {
        eprintln!("{line}");
    }
    let parse = |name: &str| -> Summary {
        serde_json::from_str(boot.file(name).unwrap()).unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    let raw = parse("raw.json");
    let kprobe = parse("second.json");
    let replay = parse("replay.json");
    check(&format!("{} raw-tracepoint", series.name()), &raw);
    check(&format!("{} kprobe", series.name()), &kprobe);
    assert_eq!(replay, raw, "record -> report must give the live figures exactly");
}

#[test]
#[ignore = "boots a VM: run with cargo xtask test"]
fn truth_on_6_12_x86_64() {
    truth(Series::V6_12);
}

#[test]
#[ignore = "boots a VM: run with cargo xtask test"]
fn truth_on_6_1_x86_64() {
    truth(Series::V6_1);
}
