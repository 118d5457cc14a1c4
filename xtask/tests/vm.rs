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
use xtask::scenario::{self, TRUTH_FENCES, WAITS_CLASSES, WAITS_MODES};
use xtask::{Arch, build};

/// One `#[test]` per kernel a check runs on: adding a kernel to a
/// scenario's checks is one line here.
macro_rules! on_kernels {
    ($check:ident: $($test:ident => ($series:ident, $arch:ident)),+ $(,)?) => {
        $(
            #[test]
            #[ignore = "boots a VM: run with cargo xtask test"]
            fn $test() {
                $check(Series::$series, Arch::$arch);
            }
        )+
    };
}

/// A scenario from the registry the CLI and the README use.
fn scenario_named(name: &str) -> scenario::Scenario {
    (scenario::find(name).expect("a registered scenario").make)()
}

/// Boots the registered scenario `name` on `series`/`arch` and checks its
/// script ended well, showing the end of the console if it did not.
fn boot_ok(name: &str, series: Series, arch: Arch) -> xtask::qemu::Boot {
    let kernel = kernels::fetch(series, arch).expect("kernel");
    let bins = build::guest_bins(arch).expect("guest binaries");
    let boot = scenario::run(&scenario_named(name), &kernel, &bins).expect("boot");
    assert_eq!(boot.exit, Some(0), "{name}: {}", xtask::qemu::tail(&boot.console, 80));
    boot
}

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

/// Boots `sc`, once more if the workload could not hold its timings.
fn boot_with_truth(
    sc: &dyn Fn() -> scenario::Scenario,
    series: Series,
    arch: Arch,
) -> xtask::qemu::Boot {
    let kernel = kernels::fetch(series, arch).expect("kernel");
    let bins = build::guest_bins(arch).expect("guest binaries");
    let held = |b: &xtask::qemu::Boot| {
        b.file("truth.json")
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok())
            .map(|t| injection_held(&t))
            .unwrap_or(Ok(()))
    };
    let mut boot = scenario::run(&sc(), &kernel, &bins).expect("boot");
    if let Err(why) = held(&boot) {
        // Not a result either way: boot once more, and say so.
        eprintln!("{}: the injected truth did not hold ({why}); running once more", kernel.release);
        boot = scenario::run(&sc(), &kernel, &bins).expect("boot");
        if let Err(why) = held(&boot) {
            panic!("the machine cannot inject exact timings twice in a row ({why}): no verdict");
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
    // A scenario with several clients writes one account each instead.
    if let Ok(truth) = boot.file("truth.json") {
        eprintln!("workload: {}", truth.trim());
    }
    boot
}

/// A JSON file the guest wrote (a workload's own account, a trace).
fn json(boot: &xtask::qemu::Boot, name: &str) -> serde_json::Value {
    let text = boot.file(name).unwrap_or_else(|e| panic!("{name}: {e}"));
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn parse(boot: &xtask::qemu::Boot, name: &str) -> Summary {
    serde_json::from_str(boot.file(name).unwrap()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// One truth run: raw tracepoint and kprobe figures checked, the replay
/// equal to the live figures, and the layout's source as BTF (or its absence)
/// says. Returns the guest's wall time and the p50/max the raw mode saw.
fn truth(series: Series, arch: Arch, hide_btf: bool) -> (f64, f64, f64) {
    let boot = boot_with_truth(&|| scenario::truth_with("kprobe", hide_btf), series, arch);
    if let Some(line) = boot.file("raw.err").unwrap().lines().find(|l| l.contains("recorded")) {
        eprintln!("{line}");
    }
    let label =
        format!("{} {}{}", series.name(), arch.name(), if hide_btf { " no BTF" } else { "" });
    // The kernel's own ftrace counted the same fences in the same boot.
    let err = boot.file("raw.err").unwrap();
    let verdict = err.find("verify:").map(|i| &err[i..]).unwrap_or("");
    eprintln!("{label}: {verdict}");
    assert!(verdict.starts_with("verify: checked by ftrace"), "{label}: {err}");
    assert!(verdict.contains("vgem"), "{label}: ftrace's table names vgem: {verdict}");
    let raw = parse(&boot, "raw.json");
    let kprobe = parse(&boot, "second.json");
    let replay = parse(&boot, "replay.json");
    check(&format!("{label} raw-tracepoint"), &raw);
    check(&format!("{label} kprobe"), &kprobe);
    assert_eq!(replay, raw, "record -> report must give the live figures exactly");
    let probe = boot.file("probe.txt").unwrap();
    let source = probe.lines().find(|l| l.starts_with("struct dma_fence")).unwrap_or_default();
    let want = if hide_btf { "(from table" } else { "(from BTF)" };
    assert!(source.contains(want), "{label}: layout {source:?}, want {want}");
    let g = raw.group("vgem", "unbound").unwrap();
    (boot.wall.as_secs_f64(), g.lifetime.p50_ns as f64 / 1e6, g.lifetime.max_ns as f64 / 1e6)
}

/// The value at quantile `q` of the injected lifetimes, which must not sit
/// at a class boundary (the test would then not say which class it meant).
fn expected_lifetime(q: f64) -> f64 {
    let mut all: Vec<f64> = Vec::new();
    for (ms, n, _) in WAITS_CLASSES {
        all.extend(std::iter::repeat_n(ms, n as usize));
    }
    all.sort_by(f64::total_cmp);
    let rank = ((q * all.len() as f64).ceil() as usize).clamp(1, all.len());
    let v = all[rank - 1];
    assert!(
        all[rank.saturating_sub(2)] == v && all[rank.min(all.len() - 1)] == v,
        "q {q} at a boundary"
    );
    v
}

fn check_waits(label: &str, s: &Summary, tracepoint_only: bool) {
    let ms = |ns: u64| ns as f64 / 1e6;
    let total: u32 = WAITS_CLASSES.iter().map(|c| c.1).sum();
    let g = s.group("vgem", "unbound").unwrap_or_else(|| panic!("{label}: no vgem group"));
    assert_eq!(
        (g.fences, g.signalled, g.in_flight),
        (u64::from(total), u64::from(total), 0),
        "{label}"
    );
    let l = &g.lifetime;
    for (name, q, v) in [("p50", 0.5, l.p50_ns), ("p90", 0.9, l.p90_ns), ("p99", 0.99, l.p99_ns)] {
        let want = expected_lifetime(q);
        assert!(within(v, want), "{label}: lifetime {name} {:.3} ms, want {want}", ms(v));
    }
    assert_eq!(s.dropped, 0, "{label}: dropped");
    let stubs = u64::from(scenario::TRUTH_STUB_EXPORTS);
    let handed =
        |h: &str| s.exports.iter().filter(|e| e.handed == h).map(|e| e.exports).sum::<u64>();
    if tracepoint_only {
        // The syscall sees every export, not what it handed out.
        let exports: u64 =
            WAITS_CLASSES.iter().filter(|c| c.2 != "dmabuf-poll").map(|c| u64::from(c.1)).sum();
        assert_eq!(handed("unknown"), exports + stubs, "{label}: exports seen at the syscall");
        assert!(s.waits.is_empty(), "{label}: waits without kprobes? {:?}", s.waits);
        eprintln!(
            "{label}: lifetimes p50 {:.3} p99 {:.3}; {} exports (fence unknown)",
            ms(l.p50_ns),
            ms(l.p99_ns),
            handed("unknown")
        );
        return;
    }
    assert_eq!(g.resv_usage, [0, u64::from(total), 0, 0], "{label}: vgem adds WRITE fences");
    for (lifetime, n, style) in WAITS_CLASSES {
        let w = s
            .waits_of(scenario::WAITER, style)
            .unwrap_or_else(|| panic!("{label}: no {style} waits: {:?}", s.waits));
        let want = lifetime - scenario::WAITS_ASK_AFTER_MS;
        let zero = if style == "export" { stubs } else { 0 };
        assert_eq!(
            (w.waits, w.zero_waits, w.open),
            (u64::from(n), zero, 0),
            "{label}: {style} waits"
        );
        for (name, v) in
            [("min", w.latency.min_ns), ("p50", w.latency.p50_ns), ("max", w.latency.max_ns)]
        {
            assert!(within(v, want), "{label}: {style} wait {name} {:.3} ms, want {want}", ms(v));
        }
        eprintln!(
            "{label}: {style}: {} waits, p50 {:.3} max {:.3} ms (injected {want})",
            w.waits,
            ms(w.latency.p50_ns),
            ms(w.latency.max_ns)
        );
    }
    assert_eq!(s.waits.len(), WAITS_CLASSES.len(), "{label}: unexpected waits {:?}", s.waits);
    let exports: u64 =
        WAITS_CLASSES.iter().filter(|c| c.2 != "dmabuf-poll").map(|c| u64::from(c.1)).sum();
    assert_eq!(
        (handed("fence"), handed("stub")),
        (exports, stubs),
        "{label}: exports {:?}",
        s.exports
    );
    assert_eq!(s.stub_exports(), stubs);
}

fn waits(series: Series, arch: Arch) {
    let boot = boot_with_truth(&|| scenario_named("waits"), series, arch);
    for mode in WAITS_MODES {
        let label = format!("{} {} --attach {mode}", series.name(), arch.name());
        let Ok(json) = boot.file(&format!("{mode}.json")) else {
            panic!("{label} did not run: {}", boot.file(&format!("{mode}.err")).unwrap_or("?"));
        };
        let s: Summary = serde_json::from_str(json).unwrap();
        check_waits(&label, &s, mode == "tracepoint");
    }
    let auto = parse(&boot, "auto.json");
    assert_eq!(parse(&boot, "replay.json"), auto, "record -> report must give the live figures");

    // --comm: the compositor creates no fences; its waits and exports are all
    // there, the same as unfiltered.
    let comm = parse(&boot, "comm.json");
    assert_eq!(comm.real_fences(), 0, "--comm {}: fences {:?}", scenario::WAITER, comm.groups);
    // A separate tracer stamps its own times: the same counts, latencies
    // within a microsecond or so.
    let counts = |s: &Summary| -> Vec<(String, String, u64, u64, u64)> {
        s.waits
            .iter()
            .map(|w| (w.thread.clone(), w.style.clone(), w.waits, w.zero_waits, w.open))
            .collect()
    };
    let exports = |s: &Summary| -> Vec<(String, u64)> {
        s.exports.iter().map(|e| (e.handed.clone(), e.exports)).collect()
    };
    assert_eq!((counts(&comm), exports(&comm)), (counts(&auto), exports(&auto)), "--comm");
    for (a, b) in comm.waits.iter().zip(&auto.waits) {
        assert!(a.latency.p50_ns.abs_diff(b.latency.p50_ns) < 50_000, "--comm {a:?} vs {b:?}");
    }
    // --interval: the intervals add up to the whole run.
    let intervals: Vec<Summary> = boot
        .file("interval.jsonl")
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("one summary per line"))
        .collect();
    let fences: u64 = intervals.iter().map(|s| s.real_fences()).sum();
    let signalled: u64 =
        intervals.iter().flat_map(|s| &s.groups).filter(|g| !g.stub).map(|g| g.signalled).sum();
    let total: u64 = WAITS_CLASSES.iter().map(|c| u64::from(c.1)).sum();
    assert!(intervals.len() >= 3, "{} intervals", intervals.len());
    assert_eq!(
        (fences, signalled),
        (total, total),
        "--interval over {} intervals",
        intervals.len()
    );
    eprintln!(
        "{}: --comm and --interval ({} intervals) agree with the whole",
        series.name(),
        intervals.len()
    );
}

/// vivid, a stock vb2 producer, two instances each streamed by its own
/// client at once: every buffer done pairs with its qbuf, no fence signals
/// inside vb2_buffer_done (the state before the series), and each queue is
/// named apart: driver, device, node and the process that queued.
fn vivid(series: Series, arch: Arch) {
    let boot = boot_with_truth(&|| scenario_named("vivid"), series, arch);
    let clients: Vec<serde_json::Value> =
        (0..scenario::VIVID_CLIENTS).map(|n| json(&boot, &format!("truth-{n}.json"))).collect();
    let s = parse(&boot, "vivid.json");
    let v = &s.vb2;
    eprintln!("{} vivid: {v:#?}", series.name());
    let (frames, buffers) = (u64::from(scenario::VIVID_FRAMES), u64::from(scenario::VIVID_BUFFERS));
    assert_eq!(v.by_queue.len(), clients.len(), "one row per client's queue: {v:#?}");
    let mut qbufs = 0;
    for (n, (t, q)) in clients.iter().zip(&v.by_queue).enumerate() {
        let node = t["device"].as_str().unwrap().trim_start_matches("/dev/");
        assert_eq!(t["qbufs"].as_u64(), Some(buffers + frames));
        // vivid's instances share one platform device; their nodes differ.
        let want = (
            "vivid",
            "vivid.0".to_string(),
            node,
            "capture",
            "fence-workload",
            t["pid"].as_u64().unwrap() as u32,
        );
        let got = (&*q.driver, q.device.clone(), &*q.node, &*q.queue, &*q.process, q.pid);
        assert_eq!(got, want, "client {n}'s queue");
        let f = &q.figures;
        assert_eq!((q.queues, q.buffers), (1, buffers));
        assert_eq!((f.qbufs, f.dqbufs), (buffers + frames, frames));
        // Every queued buffer comes back done: by the driver, or at STREAMOFF.
        assert_eq!((f.dones, f.done_paired), (f.qbufs, f.qbufs));
        assert_eq!(f.done_to_dqbuf.count, frames);
        assert_eq!((f.buffers_done, f.with_fence), (f.qbufs, 0));
        qbufs += f.qbufs;
    }
    assert_eq!((v.queues, v.buffers), (clients.len() as u64, clients.len() as u64 * buffers));
    assert_eq!((v.qbufs, v.dones, v.with_fence), (qbufs, qbufs, 0));
    let text = boot.file("vivid.txt").unwrap();
    assert!(text.contains(&format!("vivid vivid.0 {} capture", v.by_queue[1].node)), "{text}");
    assert_eq!(s.real_fences(), 0);
    assert_eq!(s.dropped, 0);
}

/// `probe` on a real kernel: the minimum set attaches, and the layout from
/// the kernel's BTF is the one the table gives when BTF is ignored.
fn probe(series: Series, arch: Arch) {
    let kernel = kernels::fetch(series, arch).expect("kernel");
    let bins = build::guest_bins(arch).expect("guest binaries");
    let boot = scenario::run(&scenario_named("probe"), &kernel, &bins).expect("boot");
    let with = boot.file("probe.txt").unwrap();
    let without = boot.file("probe-nobtf.txt").unwrap();
    // (context, seqno, flags, signalled bit) from the probe's layout line.
    let layout = |text: &str| -> Vec<String> {
        let line =
            text.lines().find(|l| l.starts_with("struct dma_fence:")).expect("a layout line");
        let line = line.split(" (from").next().unwrap();
        line.split([',', ' ']).filter(|w| !w.is_empty()).map(str::to_string).collect()
    };
    eprintln!(
        "{}: {}",
        kernel.release,
        with.lines().find(|l| l.starts_with("struct dma_fence")).unwrap()
    );
    assert!(with.contains("(from BTF)"), "{with}");
    assert!(without.contains("(from table"), "{without}");
    let (btf, table) = (layout(with), layout(without));
    let bit = btf.len() - 1;
    assert_eq!(
        btf[..bit],
        table[..bit],
        "{}: the table's offsets disagree with BTF",
        kernel.release
    );
    // A kernel between the table's rows gets "unknown", never a guess.
    if table[bit] != "unknown" {
        assert_eq!(btf[bit], table[bit], "{}: the table's signalled bit is wrong", kernel.release);
    }
    for text in [with, without] {
        assert!(text.contains("exit 0") && text.contains("ok: the minimum set"), "{text}");
    }
}

/// Exports of busy buffers hand out arrays; each links to the fences it holds.
fn arrays(series: Series, arch: Arch) {
    let boot = boot_with_truth(&|| scenario_named("arrays"), series, arch);
    let s = parse(&boot, "arrays.json");
    let (n, k) = (u64::from(scenario::ARRAYS), u64::from(scenario::ARRAY_MEMBERS));
    eprintln!("{} arrays: {:?}", series.name(), s.arrays);
    assert_eq!((s.arrays.arrays, s.arrays.members, s.arrays.unlisted), (n, n * k, 0));
    assert_eq!(s.arrays.member_groups, [("vgem".to_string(), "unbound".to_string(), n * k)]);
    let handed: u64 = s.exports.iter().filter(|e| e.handed == "array").map(|e| e.exports).sum();
    assert_eq!(handed, n, "exports {:?}", s.exports);
    assert_eq!(s.group("vgem", "unbound").map(|g| g.fences), Some(n * k));
    assert_eq!(
        s.group("dma_fence_array", "unbound").map(|g| (g.fences, g.signalled)),
        Some((n, n))
    );
}

// The board's architecture: the same tests on Debian's arm64 kernel under
// qemu-system-aarch64, with the static aarch64 binaries.

/// The truth test on every kernel × architecture, with BTF and with it
/// hidden (the table's layout, and no fentry); the matrix is printed as a
/// table, then any row that failed fails the test.
#[test]
#[ignore = "boots a VM: run with cargo xtask test"]
fn truth_matrix() {
    let mut rows = Vec::new();
    let mut failed = Vec::new();
    for arch in [Arch::X86_64, Arch::Aarch64] {
        for series in [Series::V6_1, Series::V6_12, Series::V7_2] {
            for hide_btf in [false, true] {
                let run = std::panic::catch_unwind(|| truth(series, arch, hide_btf));
                let btf = if hide_btf { "hidden" } else { "yes" };
                let (verdict, wall, p50, max) = match run {
                    Ok((wall, p50, max)) => ("pass".to_string(), wall, p50, max),
                    Err(e) => {
                        let why = e
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                            .unwrap_or_default();
                        failed.push(format!("{} {} BTF {btf}: {why}", series.name(), arch.name()));
                        ("FAIL".to_string(), 0.0, 0.0, 0.0)
                    }
                };
                rows.push(format!(
                    "| {} | {} | {btf} | {verdict} | {p50:.3} | {max:.3} | {wall:.1} |",
                    series.name(),
                    arch.name()
                ));
            }
        }
    }
    eprintln!(
        "\ntruth matrix (400 vgem fences: 200 x 5 ms, 200 x 20 ms; raw tracepoint and kprobe)"
    );
    eprintln!("| kernel | arch | BTF | result | p50 ms | max ms | wall s |");
    eprintln!("|---|---|---|---|---|---|---|");
    for r in &rows {
        eprintln!("{r}");
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

#[path = "vm/compositor.rs"]
mod compositor;
#[path = "vm/fixture.rs"]
mod fixture;
#[path = "vm/sessions.rs"]
mod sessions;
#[path = "vm/upstream.rs"]
mod upstream;
