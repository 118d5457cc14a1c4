//! The series' world on the fencefix kernel fixture: each mode, a starved
//! queue, a crashed client, foreign fences, and compare of none against run.
use super::*;

/// The series' world on the fencefix fixture (bookworm-backports' 6.12,
/// whose headers build it): the same client and KWin-like waiter under each
/// mode, a starved queue, a crashed client, and compare of none against run.
#[test]
#[ignore = "boots a VM: run with cargo xtask test"]
fn fixture_modes_on_6_12_bpo_x86_64() {
    fixture_modes(Arch::X86_64);
}

/// The same on arm64, the fixture cross-built with Debian's compiler.
#[test]
#[ignore = "boots a VM: run with cargo xtask test"]
fn fixture_modes_on_6_12_bpo_aarch64() {
    fixture_modes(Arch::Aarch64);
}

fn fixture_modes(arch: Arch) {
    use scenario::{M2M_FRAMES, M2M_JOB_MS, M2M_STARVE_MS};
    let (kernel, _) = xtask::fixtures::build("fencefix", arch).expect("fixture");
    let bins = build::guest_bins(arch).expect("guest binaries");
    let boot = scenario::run(&scenario_named("m2m"), &kernel, &bins).expect("boot");
    assert_eq!(boot.exit, Some(0), "{}", xtask::qemu::tail(&boot.console, 60));
    let truth = |name: &str| -> serde_json::Value { json(&boot, &format!("{name}.json")) };
    let report = |name: &str| parse(&boot, &format!("{name}.report.json"));
    let series = |s: &Summary| s.group("videobuf2", "vb2-release-fence").cloned();
    let kwin = |s: &Summary, style: &str| s.waits_of(scenario::WAITER, style).cloned();
    let job = f64::from(M2M_JOB_MS);
    let n = u64::from(M2M_FRAMES);
    let mean = |v: &serde_json::Value| {
        let w: Vec<f64> =
            v["waits_ms"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
        w.iter().sum::<f64>() / w.len().max(1) as f64
    };

    // none: no real fence; every export gets the stub; nobody waits.
    let none = report("none");
    assert!(series(&none).is_none(), "none made fences: {none:#?}");
    assert_eq!(none.stub_exports(), n);
    let w = kwin(&none, "export").expect("kwin's exports");
    assert_eq!((w.waits, w.zero_waits), (0, n));
    assert_eq!(truth("none")["zero_waits"], n);

    // queue and run: a fence per frame; waits the job's length, as the waiter
    // measured them itself. run never hands a fence out unarmed; queue may
    // (whether the hand-over or device_run comes first is the scheduler's
    // call here: the starved run below makes it certain).
    for (mode, unarmed_at_most) in [("queue", n), ("run", 0)] {
        let s = report(mode);
        let g = series(&s).unwrap_or_else(|| panic!("{mode}: no vb2 fences"));
        assert_eq!((g.fences, g.signalled, g.resv_usage[1]), (n, n, n), "{mode}");
        let w = kwin(&s, "export").unwrap();
        assert_eq!(w.waits, n, "{mode}: waits");
        let own = mean(&truth(mode));
        let ours = w.latency.mean_ns as f64 / 1e6;
        eprintln!("{mode}: kwin waits mean {ours:.3} ms (waiter's own {own:.3}), job {job} ms");
        // Handed over M2M_HAND_AFTER_MS after the job was committed: the wait is
        // the rest of the job (the hand-over is a sleep, so a little less).
        let p50 = w.latency.p50_ns as f64 / 1e6;
        let least = job - scenario::M2M_HAND_AFTER_MS - 0.5;
        assert!(p50 <= job + 0.3 && p50 >= least, "{mode}: wait p50 {p50} ms, job {job} ms");
        assert!((ours - own).abs() <= 0.3, "{mode}: {ours} ms, the waiter saw {own} ms");
        let c = &s.contract;
        assert_eq!((c.arms, c.armed, c.arms_unmatched), (n, n, 0), "{mode}: {c:#?}");
        assert_eq!((c.handed_out, c.never_signalled), (n, 0), "{mode}");
        // Signalled inside vb2_buffer_done, as the series does: the skew.
        assert_eq!(g.vb2_done_to_signal.count, n, "{mode}: {:#?}", s.vb2);
        assert!(g.vb2_done_to_signal.max_ns < 1_000_000, "{mode}: {:?}", g.vb2_done_to_signal);
        assert!(c.handed_out_unarmed <= unarmed_at_most, "{mode}: {c:#?}");
        eprintln!("{mode}: {}", report_text_example(&boot, mode));
    }

    // queue, starved of OUTPUT: every fence unarmed for the starvation, handed
    // out unarmed, and the waits include it.
    let starve = report("starved");
    let c = &starve.contract;
    let frames = 5;
    assert_eq!((c.armed, c.handed_out_unarmed), (frames, frames), "{c:#?}");
    assert!(
        within(c.unarmed_window.p50_ns, M2M_STARVE_MS),
        "unarmed p50 {}",
        c.unarmed_window.p50_ns
    );
    let w = kwin(&starve, "poll+export").unwrap();
    assert_eq!(w.waits, frames);
    assert!(within(w.latency.p50_ns, M2M_STARVE_MS + job), "starved wait p50 {}", w.latency.p50_ns);
    assert!((w.latency.mean_ns as f64 / 1e6 - mean(&truth("starved"))).abs() <= 0.3);
    eprintln!("starved: {}", report_text_example(&boot, "starved"));

    // run, starved: the fence only exists once the job runs, so the hand-over
    // meets an idle buffer: nothing handed out unarmed, nobody waits.
    let sr = report("starved-run");
    assert_eq!((sr.contract.handed_out_unarmed, sr.contract.armed), (0, frames));
    assert_eq!(truth("starved-run")["zero_waits"], frames);

    // The series as posted: a fence per frame, on no buffer; the stub for kwin.
    let po = report("posted");
    assert_eq!(series(&po).map(|g| g.fences), Some(frames));
    assert_eq!((po.contract.unattached_fences, po.stub_exports()), (frames, frames));
    assert_eq!(report("queue").contract.unattached_fences, 0);

    // Buffers 2 and 3 of 4 never exported: 4 frames queued with a fence, 4
    // without, on the one CAPTURE queue.
    let pa = report("partial");
    let q = &pa.contract.unfenced_queues;
    assert_eq!(q.iter().map(|q| (q.1, q.2)).collect::<Vec<_>>(), [(4, 4)], "{q:?}");
    assert!(report("queue").contract.unfenced_queues.is_empty());

    // vgem writing the V4L2 buffers in place: a foreign fence on each.
    let fo = report("foreign");
    assert_eq!(truth("foreign")["foreign_fences"], frames);
    assert_eq!(fo.contract.foreign_fences, frames, "{:#?}", fo.contract);
    assert_eq!(fo.contract.foreign_drivers, [("vgem/unbound".to_string(), frames)]);
    assert_eq!(report("queue").contract.foreign_fences, 0);

    // A crashed client: its last fence is never armed and never signalled.
    let k = report("killed");
    let c = &k.contract;
    assert_eq!(c.never_signalled, 1, "{c:#?}");
    let hung = &c.never_signalled_worst[0];
    assert!(hung.armed_ns.is_none() && hung.signalled_ns.is_none(), "{hung:#?}");
    assert!(hung.age_ns >= 1_000_000_000, "alive {} ns", hung.age_ns);
    assert_eq!(hung.handed_to.as_deref(), Some(scenario::WAITER));
    eprintln!("killed: {}", report_text_example(&boot, "killed"));

    // Before (none) against after (run), as a cover letter carries it.
    let text = boot.file("compare.txt").unwrap();
    eprintln!("{text}");
    let row = |label: &str| -> Vec<String> {
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(label))
            .unwrap_or_else(|| panic!("{label}"));
        line.split_whitespace().map(str::to_string).collect()
    };
    assert_eq!(
        row("stub exports")[2..],
        [n.to_string(), "0".into(), format!("-{n}"), "gone".into()]
    );
    assert_eq!(
        row("fences armed")[2..],
        ["0".to_string(), n.to_string(), format!("+{n}"), "new".into()]
    );
}

/// The stage timeline lines of a mode's text report (its first example).
fn report_text_example(boot: &xtask::qemu::Boot, name: &str) -> String {
    let text = boot.file(&format!("{name}.report.txt")).unwrap();
    let contract = text.lines().skip_while(|l| !l.starts_with("arming contract")).take(12);
    let stages = text.lines().skip_while(|l| !l.starts_with("stage timelines"));
    contract.chain(stages).collect::<Vec<_>>().join("\n")
}
