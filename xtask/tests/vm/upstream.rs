//! The source-built kernel (`6.12-src`: kernel/patches, lockdep): probe and
//! truth as on Debian's kernels, and vim2m with the series in each mode.
//! Every boot on it passes the lockdep gate inside `scenario::run`.
use super::*;

#[test]
#[ignore = "boots a VM: run with cargo xtask test"]
fn probe_on_6_12_src_x86_64() {
    probe(Series::V6_12Src, Arch::X86_64);
}

#[test]
#[ignore = "boots a VM: run with cargo xtask test"]
fn truth_on_6_12_src_x86_64() {
    truth(Series::V6_12Src, Arch::X86_64, false);
}

/// vim2m, an upstream mem2mem driver, with the series' fences: none makes
/// none (the compositor gets the stub), queue and run a fence per frame, on
/// the EXPBUF'd MMAP CAPTURE buffers, each armed by vb2_release_fence_arm
/// and signalled inside vb2_buffer_done.
#[test]
#[ignore = "boots a VM: run with cargo xtask test"]
fn vim2m_modes_on_6_12_src_x86_64() {
    use xtask::upstream::{VIM2M_FRAMES, VIM2M_JOB_MS};
    let kernel = kernels::fetch(Series::V6_12Src, Arch::X86_64).expect("kernel");
    let bins = build::guest_bins(Arch::X86_64).expect("guest binaries");
    let boot = scenario::run(&scenario_named("vim2m"), &kernel, &bins).expect("boot");
    assert_eq!(boot.exit, Some(0), "{}", xtask::qemu::tail(&boot.console, 60));
    let n = u64::from(VIM2M_FRAMES);
    let truth = |name: &str| -> serde_json::Value {
        serde_json::from_str(boot.file(&format!("{name}.json")).unwrap()).unwrap()
    };
    let series = |s: &Summary| s.group("videobuf2", "vb2-release-fence").cloned();

    let none = parse(&boot, "none.report.json");
    assert!(series(&none).is_none(), "none made fences: {none:#?}");
    assert_eq!(none.stub_exports(), n);
    assert_eq!(truth("none")["zero_waits"], n);
    assert_eq!(truth("none")["mode"], "none");

    for mode in ["queue", "run"] {
        let s = parse(&boot, &format!("{mode}.report.json"));
        assert_eq!(truth(mode)["mode"], mode);
        assert_eq!(truth(mode)["job_ms"], f64::from(VIM2M_JOB_MS));
        let g = series(&s).unwrap_or_else(|| panic!("{mode}: no vb2 fences: {s:#?}"));
        assert_eq!((g.fences, g.signalled, g.resv_usage[1]), (n, n, n), "{mode}");
        let c = &s.contract;
        assert_eq!((c.arms, c.armed, c.arms_unmatched), (n, n, 0), "{mode}: {c:#?}");
        assert_eq!(c.never_signalled, 0, "{mode}");
        assert_eq!(g.vb2_done_to_signal.count, n, "{mode}: {:#?}", s.vb2);
        let w = s.waits_of(scenario::WAITER, "export").expect("the waiter's exports");
        eprintln!(
            "vim2m {mode}: {} fences, waits {} (p50 {:.3} ms), job {VIM2M_JOB_MS} ms",
            g.fences,
            w.waits,
            w.latency.p50_ns as f64 / 1e6
        );
        assert_eq!(w.waits + w.zero_waits, n, "{mode}: every hand-over asked once");
    }
}
