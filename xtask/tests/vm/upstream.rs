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
    use xtask::scenario::{VIM2M_FRAMES, VIM2M_JOB_MS};
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

/// The seed's gate 3 in the VM: KWin shows frames that vim2m writes into
/// the client's buffers. Before the series (`none`) nothing guards them and
/// KWin shows each frame before its job is done; with it (`queue`, `run`)
/// KWin waits on the series' release fence for every frame, and fencescope
/// says so, on KWin's own thread, as long as the client says it can have
/// waited. Each mode on a fresh KWin, one boot.
#[test]
#[ignore = "boots a VM: run with cargo xtask test"]
fn kwin_waits_on_vim2m_release_fences_on_6_12_src_x86_64() {
    use xtask::scenario::KWIN;
    use xtask::scenario::{KWIN_VIM2M_FRAMES, KWIN_VIM2M_JOB_MS};
    let kernel = kernels::fetch(Series::V6_12Src, Arch::X86_64).expect("kernel");
    let bins = build::guest_bins(Arch::X86_64).expect("guest binaries");
    let boot = scenario::run(&scenario_named("kwin-vim2m"), &kernel, &bins).expect("boot");
    let console = xtask::qemu::tail(&boot.console, 80);
    assert_eq!(boot.exit, Some(0), "{console}");
    let n = u64::from(KWIN_VIM2M_FRAMES);
    let client = |mode: &str| -> serde_json::Value {
        serde_json::from_str(boot.file(&format!("{mode}.json")).unwrap()).expect("client JSON")
    };
    let series = |s: &Summary| s.group("videobuf2", "vb2-release-fence").cloned();
    for mode in ["none", "queue", "run"] {
        let (c, s) = (client(mode), parse(&boot, &format!("{mode}.report.json")));
        eprintln!("{mode}:\n{}", boot.file(&format!("{mode}.report.txt")).unwrap());
        assert_eq!((c["source"].as_str(), c["mode"].as_str()), (Some("vim2m"), Some(mode)));
        assert_eq!(c["delay_ms"], f64::from(KWIN_VIM2M_JOB_MS), "{mode}: the job time");
        assert_eq!(c["frames"].as_array().map(Vec::len), Some(n as usize), "{mode}");
        assert_eq!(s.dropped, 0, "{mode}: dropped records");
        if mode == "none" {
            // Correct only by accident: nothing to wait on, every frame
            // on screen before vim2m's job on it was done.
            assert!(series(&s).is_none(), "none made fences: {s:#?}");
            let waits: u64 = s.waits.iter().map(|w| w.waits).sum();
            assert_eq!(waits, 0, "none: waits reported: {:#?}", s.waits);
            assert_eq!(c["lost"], 0, "none: frames never shown: {c:#}");
            assert_eq!(c["shown_after_signal"], 0, "none: KWin waited after all: {c:#}");
            eprintln!("kwin-vim2m none: {n} frames, all shown before their job's end; no waits");
            continue;
        }
        let g = series(&s).unwrap_or_else(|| panic!("{mode}: no vb2 fences: {s:#?}"));
        assert_eq!((g.fences, g.signalled, g.in_flight), (n, n, 0), "{mode}: the series' fences");
        assert_eq!(g.resv_usage[1], n, "{mode}: each added to the buffer's resv as WRITE");
        let k = &s.contract;
        assert_eq!((k.arms, k.armed, k.arms_unmatched), (n, n, 0), "{mode}: {k:#?}");
        super::compositor::shown_after_waits(&format!("kwin-vim2m {mode}"), KWIN, &c, &s, n);
    }
    eprintln!("compare none run:\n{}", boot.file("compare.txt").unwrap());
}
