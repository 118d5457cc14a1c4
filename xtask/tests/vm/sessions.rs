//! Whole sessions on Debian's 6.12: `compare` before and after, a recording
//! killed mid-run, `top` live against its own capture, and four vCPUs run
//! twenty times, and a ring too small for its run.
use super::*;

/// Before (only the stub) against after (real fences): compare says what
/// changed, with the right numbers.
#[test]
#[ignore = "boots a VM: run with cargo xtask test"]
fn compare_on_6_12_x86_64() {
    let boot = boot_ok("compare", Series::V6_12, Arch::X86_64);
    let text = boot.file("compare.txt").unwrap();
    eprintln!("{text}");
    let n = scenario::COMPARE_EXPORTS;
    let row = |section: &str, label: &str| -> Vec<String> {
        let mut lines = text.lines().skip_while(|l| *l != section).skip(1);
        let line = lines
            .find(|l| l.trim_start().starts_with(label))
            .unwrap_or_else(|| panic!("{section} / {label}"));
        line.split_whitespace().map(str::to_string).collect()
    };
    let w = scenario::WAITER;
    assert_eq!(
        row(&format!("waits by {w} export"), "waits")[1..],
        ["0", &n.to_string(), &format!("+{n}"), "new"]
    );
    assert_eq!(
        row("in all", "stub exports")[2..],
        [n.to_string(), "0".into(), format!("-{n}"), "gone".into()]
    );
    assert_eq!(row("vgem/unbound", "fences")[1..], ["0", &n.to_string(), &format!("+{n}"), "new"]);
    let p99: f64 = row(&format!("waits by {w} export"), "wait p99 ms")[4].parse().unwrap();
    assert!((p99 - 4.0).abs() <= 0.3, "wait p99 {p99} ms, injected 4");

    // The differential flamegraph: well-formed SVG whose frames name the
    // waiter, its style and the fence's driver, all new (red) after.
    let svg = boot.file("diff.svg").unwrap();
    let opts = roxmltree::ParsingOptions { allow_dtd: true, ..Default::default() };
    let doc = roxmltree::Document::parse_with_options(svg, opts).expect("well-formed SVG");
    let titles: Vec<&str> =
        doc.descendants().filter(|n| n.has_tag_name("title")).filter_map(|n| n.text()).collect();
    for frame in [w, "export", "vgem", "unbound", "ask→signal"] {
        assert!(titles.iter().any(|t| t.starts_with(frame)), "no {frame} frame in {titles:?}");
    }
    // The Perfetto trace: one fence slice per fence on one vgem/unbound
    // process (vgem takes a context per fence), one wait and one flow each.
    let trace: serde_json::Value = json(&boot, "after.json");
    let events = trace["traceEvents"].as_array().unwrap();
    let count = |f: &dyn Fn(&serde_json::Value) -> bool| events.iter().filter(|e| f(e)).count();
    let n = n as usize;
    assert_eq!(count(&|e| e["cat"] == "fence" && e["ph"] == "X"), n);
    assert_eq!(count(&|e| e["cat"] == "wait" && e["ph"] == "X"), n);
    assert_eq!(count(&|e| e["ph"] == "f"), n);
    let timelines = count(&|e| e["name"] == "process_name" && e["args"]["name"] == "vgem/unbound");
    assert_eq!(timelines, 1);
}

/// `kill -9` of the recorder: the capture still reports what its complete
/// chunks hold, exits 0, and says the recording was interrupted.
#[test]
#[ignore = "boots a VM: run with cargo xtask test"]
fn killed_recording_on_6_12_x86_64() {
    let boot = boot_ok("killed", Series::V6_12, Arch::X86_64);
    let err = boot.file("report.err").unwrap();
    eprintln!("{err}");
    assert!(err.contains("report exit 0"), "{err}");
    assert!(err.contains("interrupted"), "{err}");
    let s = parse(&boot, "killed.json");
    // The workload finished 2 s before the kill: every fence is in a flushed chunk.
    let g = s.group("vgem", "unbound").expect("vgem fences in the capture");
    assert_eq!((g.fences, g.signalled), (200, 200));
    // `record --serve`: its endpoint counted them live.
    let metrics = boot.file("metrics.txt").unwrap();
    let line = "fencescope_fences_total{driver=\"vgem\",timeline=\"unbound\"} 200";
    assert!(metrics.lines().any(|l| l == line), "{line} not in\n{metrics}");
}

/// `top` live on the truth workload: the row its last screen shows for
/// vgem/unbound carries the very figures the report of its own capture
/// gives, and those are the injected ones.
#[test]
#[ignore = "boots a VM: run with cargo xtask test"]
fn top_on_6_12_x86_64() {
    let boot = boot_with_truth(&|| scenario_named("top"), Series::V6_12, Arch::X86_64);
    let screen = boot.file("top.txt").unwrap();
    eprintln!("{screen}");
    let report = parse(&boot, "report.json");
    check("6.12 x86_64 top's capture", &report);
    let g = report.group("vgem", "unbound").unwrap();
    let row: Vec<&str> = screen
        .lines()
        .find(|l| l.contains("│vgem/unbound "))
        .unwrap_or_else(|| panic!("no vgem/unbound row on the screen:\n{screen}"))
        .trim_matches('│')
        .split_whitespace()
        .collect();
    let dur = fencescope_top::view::dur;
    let (l, skew) = (&g.lifetime, dur(g.vb2_done_to_signal.p50_ns));
    let want = [
        g.fences.to_string(),
        g.in_flight.to_string(),
        dur(l.p50_ns),
        dur(l.p99_ns),
        dur(l.max_ns),
        skew,
    ];
    // Columns: name, /s, then the figures the report also has.
    assert_eq!(row[2..], want.iter().map(String::as_str).collect::<Vec<_>>()[..], "{screen}");
    assert!(screen.contains(&format!("{} fences", report.real_fences())), "{screen}");
    let status = screen.lines().rev().find(|l| !l.is_empty()).unwrap();
    assert!(status.starts_with(&format!("drops {} · evicted {}", report.dropped, report.evicted)));
    // The live metrics endpoint, beside top, counts the same fences.
    let metrics = boot.file("metrics.txt").unwrap();
    let line =
        format!("fencescope_fences_total{{driver=\"vgem\",timeline=\"unbound\"}} {}", g.fences);
    assert!(metrics.lines().any(|l| l == line), "{line} not in\n{metrics}");
    let count = format!(
        "fencescope_fence_lifetime_seconds_count{{driver=\"vgem\",timeline=\"unbound\"}} {}",
        g.lifetime.count
    );
    assert!(metrics.lines().any(|l| l == count), "{count} not in\n{metrics}");
}

// The kernel fixture's tests, in a file of their own.
on_kernels!(waits:
    waits_on_6_12_x86_64 => (V6_12, X86_64),
    waits_on_6_1_x86_64 => (V6_1, X86_64),
    waits_on_6_12_aarch64 => (V6_12, Aarch64),
);

on_kernels!(vivid:
    vivid_on_6_12_x86_64 => (V6_12, X86_64),
    vivid_on_6_1_x86_64 => (V6_1, X86_64),
);

on_kernels!(probe:
    probe_on_6_1_x86_64 => (V6_1, X86_64),
    probe_on_6_12_x86_64 => (V6_12, X86_64),
    probe_on_7_2_x86_64 => (V7_2, X86_64),
    probe_on_6_12_aarch64 => (V6_12, Aarch64),
);

on_kernels!(arrays:
    arrays_on_6_12_x86_64 => (V6_12, X86_64),
    arrays_on_6_1_x86_64 => (V6_1, X86_64),
);

/// Four vCPUs, twenty recordings in a row: every fence made on CPUs 0-1,
/// signalled on CPU 2 and exported on CPU 3 is counted, signalled and its
/// export seen, each run exactly, with nothing dropped.
#[test]
#[ignore = "boots a VM: run with cargo xtask test"]
fn smp_runs_on_6_12_x86_64() {
    let boot = boot_ok("smp", Series::V6_12, Arch::X86_64);
    let mut misses = Vec::new();
    for i in 0..scenario::SMP_RUNS {
        let truth: serde_json::Value = json(&boot, &format!("truth-{i}.json"));
        let s = parse(&boot, &format!("smp-{i}.json"));
        let n = truth["fences"].as_u64().unwrap();
        assert_eq!(n, u64::from(scenario::SMP_PRODUCERS * scenario::SMP_FENCES));
        let cpus = |k: &str| -> Vec<u64> {
            truth[k].as_array().unwrap().iter().map(|c| c.as_u64().unwrap()).collect()
        };
        let (made, signalled, waited) =
            (cpus("created_on"), cpus("signalled_on"), cpus("waited_on"));
        assert_eq!(truth["cpus"].as_u64(), Some(u64::from(scenario::SMP_CPUS)));
        assert!(
            made.len() >= 2 && !made.iter().any(|c| signalled.contains(c) || waited.contains(c)),
            "run {i}: made on {made:?}, signalled on {signalled:?}, waited on {waited:?}"
        );
        let g = s.group("vgem", "unbound");
        let (fences, sig, live) = g.map_or((0, 0, 0), |g| (g.fences, g.signalled, g.in_flight));
        let exports: u64 =
            s.exports.iter().filter(|e| e.process == scenario::WAITER).map(|e| e.exports).sum();
        eprintln!(
            "smp run {i}: {fences}/{n} fences, {sig} signalled, {exports} exports, dropped {}",
            s.dropped
        );
        if (fences, sig, live, exports, s.dropped, s.unnamed)
            != (n, n, 0, truth["exports"].as_u64().unwrap(), 0, 0)
        {
            misses.push(format!("run {i}: fences {fences}, signalled {sig}, in flight {live}, exports {exports}, dropped {}, unnamed {}", s.dropped, s.unnamed));
        }
        assert_eq!(s.real_fences(), fences, "run {i}: other real fences appeared");
    }
    assert!(misses.is_empty(), "runs with a count off:\n{}", misses.join("\n"));
}

/// A ring that cannot carry the run: fencescope counts every record it
/// could not emit, and ftrace, in the same boot, holds those drops against
/// the fences it missed: each fence the workload made is one fencescope saw
/// or one whose init it reports dropped, exactly. The capture keeps the
/// drops, and `-v` shows the kernel side's own log of them.
#[test]
#[ignore = "boots a VM: run with cargo xtask test"]
fn overload_on_6_12_x86_64() {
    let boot = boot_ok("overload", Series::V6_12, Arch::X86_64);
    let err = boot.file("over.err").unwrap();
    let truth: serde_json::Value = json(&boot, "truth.json");
    let made = truth["fences"].as_u64().unwrap();
    assert_eq!(made, u64::from(scenario::OVERLOAD_FENCES));
    let s = parse(&boot, "over.json");
    let inits = s.dropped_by_kind.iter().find(|(k, _)| k == "fence init").map_or(0, |(_, n)| *n);
    let g = s.group("vgem", "unbound").expect("vgem fences before the ring filled");
    let t = &s.totals;
    eprintln!(
        "overload: {made} fences made, {} seen, {inits} inits dropped, {} records dropped {:?}; \
         signalled {}, in flight {}, signal unseen {}, never signalled {}, partial {:?}",
        g.fences,
        s.dropped,
        s.dropped_by_kind,
        t.signalled,
        t.in_flight,
        t.signal_unseen,
        t.never_signalled,
        s.partial
    );
    assert!(inits > made / 4, "the ring did not overflow: {inits} inits dropped of {made}");
    assert_eq!(g.fences + inits, made, "seen + dropped inits against the workload's count");
    assert!(s.partial.iter().any(|p| p == "groups"), "fence figures not marked partial");
    let headline = err.lines().find(|l| l.starts_with("verify:")).expect("a verify line");
    let want = format!("{} fences seen + {inits} inits dropped = {made} in ftrace", g.fences);
    assert!(headline.contains(&want), "{headline}\nwanted: {want}");
    // The destroy program read each fence's signalled bit: all had signalled.
    let destroys = boot.file("destroys.txt").unwrap();
    let n: Vec<u64> = destroys.lines().map(|l| l.trim().parse().unwrap()).collect();
    assert!(n[0] > 1000 && n[1] == n[0], "destroys seen, and of those signalled: {n:?}");
    // Nothing the kernel side counted is lost on the way to the capture.
    let replay = parse(&boot, "replay.json");
    assert_eq!((replay.dropped, &replay.dropped_by_kind), (s.dropped, &s.dropped_by_kind));
    assert!(
        err.lines().any(|l| l.contains("ring buffer full") && l.contains("dropped on this CPU")),
        "no kernel-side log of the drops under -v:\n{err}"
    );
}
