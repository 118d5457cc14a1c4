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
    let boot = boot_ok("vim2m", Series::V6_12Src, Arch::X86_64);
    let n = u64::from(VIM2M_FRAMES);
    let truth = |name: &str| -> serde_json::Value { json(&boot, &format!("{name}.json")) };
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
        // vim2m's two queues apart, named: the fences are on CAPTURE's dones.
        let queue = |q: &str| {
            s.vb2.by_queue.iter().find(|r| r.queue == q).unwrap_or_else(|| panic!("{mode}: {q}"))
        };
        for (q, fenced) in [("capture", n), ("output", 0)] {
            let r = queue(q);
            assert_eq!((&*r.driver, &*r.process), ("vim2m", "fence-workload"), "{mode}: {r:#?}");
            assert!(!r.device.is_empty() && r.node.starts_with("video"), "{mode}: {r:#?}");
            assert_eq!(r.figures.with_fence, fenced, "{mode} {q}: {r:#?}");
        }
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
    let boot = boot_ok("kwin-vim2m", Series::V6_12Src, Arch::X86_64);
    let n = u64::from(KWIN_VIM2M_FRAMES);
    let client = |mode: &str| -> serde_json::Value { json(&boot, &format!("{mode}.json")) };
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

/// v4l2-compliance's verdict on one node: its totals and the tests that
/// failed, by name.
#[derive(Debug, PartialEq)]
struct Compliance {
    driver: String,
    totals: (u32, u32, u32),
    failed: Vec<String>,
}

fn compliance_of(text: &str) -> Compliance {
    let driver = text.lines().next().and_then(|l| l.strip_prefix("driver ")).unwrap_or("?");
    let total = text
        .lines()
        .find(|l| l.starts_with("Total for "))
        .unwrap_or_else(|| panic!("v4l2-compliance gave no total:\n{text}"));
    // "Total for vim2m device /dev/video3: 58, Succeeded: 58, Failed: 0, Warnings: 0"
    let n: Vec<u32> =
        total.split(|c: char| !c.is_ascii_digit()).filter_map(|t| t.parse().ok()).collect();
    let [.., t, s, f, _w] = n[..] else { panic!("unreadable total: {total}") };
    let failed = text
        .lines()
        .filter_map(|l| l.trim().strip_suffix(": FAIL"))
        .map(|l| l.trim_start_matches("test ").to_string())
        .collect();
    Compliance { driver: driver.into(), totals: (t, s, f), failed }
}

/// The seed's gate 2 on upstream drivers: with the series (`run`) every
/// vim2m and vicodec node passes what it passed without it (`none`), test
/// by test, and vim2m, the converter the series' fences are measured on,
/// passes everything.
#[test]
#[ignore = "boots a VM: run with cargo xtask test"]
fn v4l2_compliance_finds_no_new_failure_with_the_series_on_6_12_src_x86_64() {
    use xtask::scenario::{COMPLIANCE_DRIVERS, COMPLIANCE_MODES};
    let boot = boot_ok("compliance", Series::V6_12Src, Arch::X86_64);
    let [before, with] = COMPLIANCE_MODES;
    let nodes: Vec<String> = boot
        .files
        .keys()
        .filter_map(|k| k.strip_prefix(&format!("compliance-{before}-")))
        .map(|k| k.trim_end_matches(".txt").to_string())
        .collect();
    let mut drivers: Vec<String> = Vec::new();
    for node in &nodes {
        let of = |mode: &str| {
            let f = format!("compliance-{mode}-{node}.txt");
            compliance_of(boot.file(&f).unwrap_or_else(|e| panic!("{f}: {e}")))
        };
        let (b, w) = (of(before), of(with));
        eprintln!(
            "v4l2-compliance {} /dev/{node}: {before} {}/{} failed {}; {with} {}/{} failed {} {:?}",
            b.driver,
            b.totals.1,
            b.totals.0,
            b.totals.2,
            w.totals.1,
            w.totals.0,
            w.totals.2,
            w.failed
        );
        assert_eq!(b.driver, w.driver);
        let new: Vec<_> = w.failed.iter().filter(|t| !b.failed.contains(t)).collect();
        assert!(
            new.is_empty(),
            "/dev/{node} ({}): new failures with the series: {new:?}",
            w.driver
        );
        assert!(w.totals.2 <= b.totals.2, "/dev/{node}: {w:?} against {b:?}");
        if w.driver == "vim2m" {
            assert_eq!(w.totals.2, 0, "vim2m fails with the series: {:?}", w.failed);
        }
        drivers.push(w.driver);
    }
    for d in COMPLIANCE_DRIVERS {
        assert!(drivers.iter().any(|x| x == d), "no {d} node checked: {nodes:?}");
    }
}

/// The guest's own counts of the KMS path in one run (`NAME.kernel`):
/// frames identity passed on, then each kprobe's hits.
fn kms_counts(boot: &xtask::qemu::Boot, name: &str) -> std::collections::BTreeMap<String, u64> {
    let text = boot.file(&format!("{name}.kernel")).unwrap();
    text.lines()
        .filter_map(|l| l.split_once(' '))
        .filter_map(|(k, v)| Some((k.to_string(), v.trim().parse().ok()?)))
        .collect()
}

/// GStreamer and kmssink, nobody here wrote them, on the series' upstream
/// drivers. Per pipeline and mode: every frame passed on; `none` makes no
/// fence; `queue` and `run` one per CAPTURE buffer done with a dma-buf, all
/// signalled, each armed by its job, none handed out unarmed; `queue`'s
/// unarmed window spans the live source's wait for a frame, `run`'s does
/// not; ftrace agrees. kmssink imports vim2m's dma-bufs and commits every
/// frame, and the kernel's own kprobes say no commit waited: GStreamer
/// hands a buffer on only after DQBUF, when its fence has signalled, and
/// the atomic helper takes no signalled fence. fencescope must say the same.
#[test]
#[ignore = "boots a VM: run with cargo xtask test"]
fn kmssink_on_the_series_fences_on_6_12_src_x86_64() {
    use xtask::scenario::{KMS_FPS, KMS_FRAMES, KMS_JOB_MS, KMS_MODES, KMS_PIPELINES};
    let boot = boot_ok("kms", Series::V6_12Src, Arch::X86_64);
    let frames = u64::from(KMS_FRAMES);
    let interval_ms = 1e3 / f64::from(KMS_FPS);
    let ms = |ns: u64| ns as f64 / 1e6;
    for pipeline in KMS_PIPELINES {
        let mut unarmed_p50 = Vec::new();
        for mode in KMS_MODES {
            let name = format!("{pipeline}-{mode}");
            let k = kms_counts(&boot, &name);
            let s = parse(&boot, &format!("{name}.report.json"));
            let err = boot.file(&format!("{name}.err")).unwrap();
            assert_eq!(k["frames"], frames, "{name}: frames passed on: {k:?}");
            assert_eq!(s.dropped, 0, "{name}: dropped records");
            assert!(err.contains("verify: checked by ftrace"), "{name}: {err}");
            assert!(!err.contains("MISMATCH"), "{name}: {err}");
            let kernel_waits: u64 =
                s.waits.iter().filter(|w| w.style == "kernel-wait").map(|w| w.waits).sum();
            assert_eq!(kernel_waits, k["dma_fence_wait_timeout"], "{name}: {:#?}", s.waits);
            if pipeline == "vim2m" {
                assert!(k["drm_prime_fd_to_handle_ioctl"] > 0, "{name}: kmssink imported nothing");
                assert!(k["drm_mode_setplane"] >= frames, "{name}: {k:?}");
                assert!(k["drm_gem_plane_helper_prepare_fb"] >= frames, "{name}: {k:?}");
            } else {
                assert_eq!(k["drm_mode_setplane"], 0, "{name}: vicodec's frames reach no KMS");
            }
            assert_eq!(k["dma_fence_wait_timeout"], 0, "{name}: a fence wait: {k:?}");
            let capture: Vec<_> =
                s.vb2.by_queue.iter().filter(|q| q.queue.starts_with("capture")).collect();
            assert!(!capture.is_empty(), "{name}: no CAPTURE queue named: {:#?}", s.vb2);
            for q in &capture {
                assert_eq!(q.driver, pipeline, "{name}: {q:#?}");
                assert!(q.node.starts_with("video"), "{name}: {q:#?}");
            }
            let fenced: u64 = capture.iter().map(|q| q.figures.with_fence).sum();
            let g = s.group("videobuf2", "vb2-release-fence");
            if mode == "none" {
                assert!(g.is_none(), "{name}: fences before the series: {g:#?}");
                assert_eq!(fenced, 0, "{name}");
                continue;
            }
            let g = g.unwrap_or_else(|| panic!("{name}: no fences: {s:#?}"));
            let c = &s.contract;
            eprintln!(
                "kms {name}: {frames} frames; {} fences ({} armed, {} handed out unarmed), \
lifetime p50 {:.3} p99 {:.3} ms, unarmed window p50 {:.3} max {:.3} ms; \
kmssink imports {}, plane updates {}, fence look-ups {}, kernel waits {}",
                g.fences,
                c.armed,
                c.handed_out_unarmed,
                ms(g.lifetime.p50_ns),
                ms(g.lifetime.p99_ns),
                ms(c.unarmed_window.p50_ns),
                ms(c.unarmed_window.max_ns),
                k["drm_prime_fd_to_handle_ioctl"],
                k["drm_mode_setplane"],
                k["drm_gem_plane_helper_prepare_fb"],
                kernel_waits
            );
            assert_eq!(g.fences, fenced, "{name}: a fence per CAPTURE done with a fence");
            assert_eq!((g.signalled, g.in_flight), (g.fences, 0), "{name}: {g:#?}");
            assert_eq!(g.resv_usage[1], g.fences, "{name}: each added as WRITE");
            assert_eq!((c.arms_unmatched, c.never_signalled), (0, 0), "{name}: {c:#?}");
            assert_eq!(c.handed_out_unarmed, 0, "{name}: GStreamer hands out done buffers only");
            // A job per frame per CAPTURE queue; at `queue` the buffers
            // still queued at the end got fences no job armed.
            assert_eq!(c.arms, frames * capture.len() as u64, "{name}: {c:#?}");
            assert_eq!(c.armed, c.arms, "{name}: {c:#?}");
            if mode == "run" {
                assert_eq!(g.fences, c.armed, "{name}: at run every fence is armed");
            }
            if pipeline == "vim2m" {
                assert!(
                    ms(g.lifetime.p50_ns) >= f64::from(KMS_JOB_MS),
                    "{name}: lifetimes shorter than vim2m's job: {:#?}",
                    g.lifetime
                );
            }
            unarmed_p50.push(ms(c.unarmed_window.p50_ns));
        }
        // At queue the fence waits, unarmed, for the source's next frame.
        let [queue, run] = unarmed_p50[..] else { panic!("{pipeline}: {unarmed_p50:?}") };
        assert!(queue >= interval_ms, "{pipeline}: queue's unarmed window p50 {queue} ms");
        assert!(run < interval_ms / 4.0, "{pipeline}: run's unarmed window p50 {run} ms");
        eprintln!(
            "{pipeline} compare none run:\n{}",
            boot.file(&format!("{pipeline}-compare.txt")).unwrap()
        );
    }
    kms_commits_before_the_job_is_done(&boot);
}

/// The m2m client's waiter commits each vim2m CAPTURE buffer to vkms
/// before its job is done: the kernel's commit is then the consumer that
/// waits. fencescope must show those waits, on the committing thread, on
/// the series' fence, as many as the kernel's own kprobe counted.
fn kms_commits_before_the_job_is_done(boot: &xtask::qemu::Boot) {
    use xtask::scenario::{
        KMS_CLIENT_FRAMES, KMS_CLIENT_RUNS, KMS_COMMITTER, KMS_JOB_MS, KMS_STARVE_MS,
    };
    let frames = u64::from(KMS_CLIENT_FRAMES);
    let ms = |ns: u64| ns as f64 / 1e6;
    for (name, mode, starved) in KMS_CLIENT_RUNS {
        let k = kms_counts(boot, name);
        let s = parse(boot, &format!("{name}.report.json"));
        let truth = json(boot, &format!("{name}.json"));
        let err = boot.file(&format!("{name}.err")).unwrap();
        assert!(
            err.contains("verify: checked by ftrace") && !err.contains("MISMATCH"),
            "{name}: {err}"
        );
        assert_eq!((truth["mode"].as_str(), truth["ask"].as_str()), (Some(mode), Some("kms")));
        let commits: Vec<f64> =
            truth["waits_ms"].as_array().unwrap().iter().filter_map(|v| v.as_f64()).collect();
        assert_eq!(commits.len() as u64, frames, "{name}: every frame committed: {truth}");
        let g =
            s.group("videobuf2", "vb2-release-fence").unwrap_or_else(|| panic!("{name}: {s:#?}"));
        assert_eq!((g.fences, g.signalled), (frames, frames), "{name}: {g:#?}");
        let w = s.waits_of(KMS_COMMITTER, "kernel-wait");
        let waited = w.map_or(0, |w| w.waits + w.zero_waits);
        assert_eq!(waited, k["dma_fence_wait_timeout"], "{name}: fencescope against the kprobe");
        let mut sorted = commits.clone();
        sorted.sort_by(f64::total_cmp);
        let commit_p50 = sorted[sorted.len() / 2];
        let c = &s.contract;
        eprintln!(
            "kms {name}: {} fences, kernel waits {waited} (kprobe {}), wait p50 {:.3} max {:.3} ms \
on {:?}; commit p50 {commit_p50:.3} ms; handed out unarmed {}, unarmed window p50 {:.3} ms",
            g.fences,
            k["dma_fence_wait_timeout"],
            w.map_or(0.0, |w| ms(w.latency.p50_ns)),
            w.map_or(0.0, |w| ms(w.latency.max_ns)),
            w.map(|w| &w.on),
            c.handed_out_unarmed,
            ms(c.unarmed_window.p50_ns)
        );
        if mode == "run" && starved {
            // No fence until device_run, after the commit: it shows the
            // buffer at once, before vim2m has written it.
            assert_eq!(waited, 0, "{name}: a commit waited: {:#?}", s.waits);
            assert!(commit_p50 < f64::from(KMS_STARVE_MS), "{name}: commits {commits:?}");
            continue;
        }
        let w = w
            .unwrap_or_else(|| panic!("{name}: no kernel wait by {KMS_COMMITTER}: {:#?}", s.waits));
        assert_eq!((w.waits, w.zero_waits), (frames, 0), "{name}: {w:#?}");
        assert_eq!(w.on, [("videobuf2/vb2-release-fence".to_string(), frames)], "{name}");
        assert!(commit_p50 >= ms(w.latency.p50_ns), "{name}: a commit shorter than its wait");
        let floor = if starved { f64::from(KMS_STARVE_MS) } else { f64::from(KMS_JOB_MS) / 2.0 };
        assert!(ms(w.latency.p50_ns) >= floor, "{name}: waits p50 {:#?}", w.latency);
        assert!(w.latency.max_ns <= g.lifetime.max_ns, "{name}: a wait outlived its fence");
        // At queue the commit waits on a fence no job has armed yet: on
        // userspace, which is yet to queue OUTPUT. At run it never can.
        let unarmed = if mode == "queue" { frames } else { 0 };
        assert_eq!((c.handed_out, c.handed_out_unarmed), (frames, unarmed), "{name}: {c:#?}");
    }
}
