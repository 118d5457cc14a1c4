use crate::engine::Engine;
use crate::event::{Body, Event, Meta, Name, Phase};
use crate::summary::Summary;
use crate::waits::Symbols;

const MS: u64 = 1_000_000;
const POLL_CB: u64 = 0xffff_ffff_8111_0000;
const SYNC_CB: u64 = 0xffff_ffff_8222_0000;
const STUB: u64 = 0xffff_ffff_8333_0000;

struct S {
    engine: Engine,
}

impl S {
    fn new() -> S {
        let symbols = Symbols {
            dma_buf_poll_cb: POLL_CB,
            fence_check_cb_func: SYNC_CB,
            dma_fence_stub: STUB,
        };
        S { engine: Engine::default().with_symbols(symbols) }
    }

    fn at(&mut self, ts: u64, tid: u32, comm: &str, body: Body) -> &mut Self {
        let meta = Meta { ts_ns: ts, cpu: 0, tgid: tid, tid, comm: Name::new(comm), via: None };
        self.engine.feed(&Event { meta, body });
        self
    }

    /// A producer (tid 10) makes a vgem fence at `ts`.
    fn fence(&mut self, ts: u64, addr: u64, context: u64) -> &mut Self {
        self.at(ts, 10, "producer", Body::FenceInit { fence: addr, context, seqno: 1 }).at(
            ts,
            10,
            "producer",
            Body::FenceNames {
                context: context as u32,
                seqno: 1,
                driver: Name::new("vgem"),
                timeline: Name::new("unbound"),
            },
        )
    }

    fn signal(&mut self, ts: u64, addr: u64) -> &mut Self {
        self.at(ts, 10, "producer", Body::FenceSignaled { fence: addr, context: 0, seqno: 0 })
    }

    fn export(&mut self, ts: u64, tid: u32, handed: u64, context: u64, took: u64) -> &mut Self {
        let c = "kwin_wayland";
        self.at(ts, tid, c, Body::Export { phase: Phase::Entry, object: 0xf1, ret: 0 })
            .at(ts + took / 2, tid, c, Body::SyncFile { fence: handed, context, seqno: 0 })
            .at(ts + took, tid, c, Body::Export { phase: Phase::Return, object: 0, ret: 0 })
    }

    fn poll(&mut self, ts: u64, tid: u32, hook: Option<u64>, ready: bool) -> &mut Self {
        let c = "kwin_wayland";
        self.at(ts, tid, c, Body::DmaBufPoll { phase: Phase::Entry, file: 0xf1, mask: 0 });
        if let Some(fence) = hook {
            self.at(ts + 1000, tid, c, Body::AddCallback { fence, func: POLL_CB });
        }
        let mask = if ready { 1 } else { 0 };
        self.at(ts + 2000, tid, c, Body::DmaBufPoll { phase: Phase::Return, file: 0, mask })
    }

    fn summary(&self) -> Summary {
        self.engine.summary()
    }
}

fn near(got: u64, want: u64) -> bool {
    got.abs_diff(want) <= want / 500 + 2
}

#[test]
fn export_of_a_busy_fence_waits_until_it_signals() {
    let mut s = S::new();
    s.fence(0, 0xa0, 5).export(MS, 20, 0xa0, 5, 30_000).signal(5 * MS, 0xa0);
    let sum = s.summary();
    let w = sum.waits_of("kwin_wayland", "export").expect("an export wait");
    assert_eq!((w.waits, w.zero_waits, w.open), (1, 0, 0));
    assert!(near(w.latency.max_ns, 4 * MS), "{w:?}");
    let e = &sum.exports[0];
    assert_eq!((e.handed.as_str(), e.exports), ("fence", 1));
    assert!(near(e.round_trip.max_ns, 30_000), "{e:?}");
    assert_eq!(sum.stub_exports(), 0);
}

#[test]
fn export_of_a_fenceless_buffer_gets_the_stub_and_waits_for_nothing() {
    let mut s = S::new();
    for i in 0..3 {
        s.export(i * MS, 20, STUB, 0, 10_000);
    }
    // A private stub: context 0, another address.
    s.export(5 * MS, 20, 0xdead, 0, 10_000);
    // Polling the stub's sync file tries to hook it: not a wait.
    s.at(6 * MS, 20, "kwin_wayland", Body::AddCallback { fence: STUB, func: SYNC_CB });
    s.at(6 * MS, 20, "kwin_wayland", Body::AddCallback { fence: 0xdead, func: SYNC_CB });
    let sum = s.summary();
    assert_eq!(sum.stub_exports(), 4);
    let w = sum.waits_of("kwin_wayland", "export").unwrap();
    assert_eq!((w.waits, w.zero_waits, w.open), (0, 4, 0));
    assert_eq!(sum.waits.len(), 1, "{:?}", sum.waits);
    let handed: Vec<_> = sum.exports.iter().map(|e| (e.handed.as_str(), e.exports)).collect();
    assert_eq!(handed, [("private-stub", 1), ("stub", 3)]);
}

#[test]
fn export_of_a_signalled_fence_is_a_zero_wait() {
    let mut s = S::new();
    s.fence(0, 0xa0, 5).signal(MS, 0xa0).export(2 * MS, 20, 0xa0, 5, 10_000);
    let w = s.summary().waits_of("kwin_wayland", "export").cloned().unwrap();
    assert_eq!((w.waits, w.zero_waits), (0, 1));
}

#[test]
fn dmabuf_poll_wait_runs_from_the_busy_poll_to_the_signal() {
    let mut s = S::new();
    s.fence(0, 0xa0, 5).poll(MS, 20, Some(0xa0), false);
    s.signal(8 * MS, 0xa0);
    // The wake-up: poll again, now ready; dma_buf_poll tries to hook the
    // signalled fence again (which installs nothing). Not a second wait.
    s.poll(8 * MS + 50_000, 20, Some(0xa0), true);
    let w = s.summary().waits_of("kwin_wayland", "dmabuf-poll").cloned().unwrap();
    assert_eq!((w.waits, w.zero_waits), (1, 0));
    assert!(near(w.latency.max_ns, 7 * MS), "{w:?}");
}

#[test]
fn prepoll_then_export_is_one_wait() {
    let mut s = S::new();
    s.fence(0, 0xa0, 5).poll(MS, 20, Some(0xa0), false).export(MS + 10_000, 20, 0xa0, 5, 20_000);
    s.at(MS + 40_000, 20, "kwin_wayland", Body::AddCallback { fence: 0xa0, func: SYNC_CB });
    s.signal(6 * MS, 0xa0);
    let sum = s.summary();
    assert_eq!(sum.waits.len(), 1, "{:?}", sum.waits);
    let w = sum.waits_of("kwin_wayland", "poll+export").unwrap();
    assert_eq!(w.waits, 1);
    assert!(near(w.latency.max_ns, 5 * MS), "{w:?}");
}

#[test]
fn a_ready_poll_of_a_fenceless_buffer_is_a_zero_wait() {
    let mut s = S::new();
    s.poll(MS, 20, None, true).poll(2 * MS, 20, None, true);
    let w = s.summary().waits_of("kwin_wayland", "dmabuf-poll").cloned().unwrap();
    assert_eq!((w.waits, w.zero_waits), (0, 2));
}

#[test]
fn a_wait_on_a_fence_that_never_signals_stays_open() {
    let mut s = S::new();
    s.fence(0, 0xa0, 5).export(MS, 20, 0xa0, 5, 10_000);
    let w = s.summary().waits_of("kwin_wayland", "export").cloned().unwrap();
    assert_eq!((w.waits, w.open), (0, 1));
}

#[test]
fn sync_file_poll_of_a_fence_from_elsewhere_is_its_own_style() {
    let mut s = S::new();
    s.fence(0, 0xa0, 5).at(2 * MS, 30, "chrome", Body::AddCallback { fence: 0xa0, func: SYNC_CB });
    // Callbacks of other kinds are not waits fencescope knows.
    s.at(2 * MS, 31, "drm", Body::AddCallback { fence: 0xa0, func: 0x1234 });
    s.signal(3 * MS, 0xa0);
    let sum = s.summary();
    assert_eq!(sum.waits.len(), 1);
    assert!(near(sum.waits_of("chrome", "sync-file-poll").unwrap().latency.max_ns, MS));
}

#[test]
fn kernel_waits_run_from_start_to_end() {
    let mut s = S::new();
    s.fence(0, 0xa0, 5).at(MS, 40, "app", Body::FenceWait { phase: Phase::Entry, fence: 0xa0 });
    s.signal(3 * MS, 0xa0);
    s.at(3 * MS + 20_000, 40, "app", Body::FenceWait { phase: Phase::Return, fence: 0xa0 });
    let w = s.summary().waits_of("app", "kernel-wait").cloned().unwrap();
    assert!(near(w.latency.max_ns, 2 * MS + 20_000), "{w:?}");
    assert_eq!(w.on, [("vgem/unbound".to_string(), 1)], "what it waited on");
}

#[test]
fn waits_say_which_fences_they_were_on() {
    let mut s = S::new();
    s.fence(0, 0xa0, 5).fence(0, 0xb0, 6).fence(0, 0xc0, 7);
    for (i, f) in [0xa0, 0xb0, 0xc0].into_iter().enumerate() {
        let t = (i as u64 + 1) * MS;
        s.at(t, 40, "app", Body::FenceWait { phase: Phase::Entry, fence: f });
        s.signal(t + 100_000, f);
        s.at(t + 120_000, 40, "app", Body::FenceWait { phase: Phase::Return, fence: f });
    }
    // One more, on a fence whose names never came.
    s.at(9 * MS, 10, "producer", Body::FenceInit { fence: 0xd0, context: 8, seqno: 1 });
    s.at(9 * MS, 40, "app", Body::FenceWait { phase: Phase::Entry, fence: 0xd0 });
    s.signal(10 * MS, 0xd0);
    s.at(10 * MS, 40, "app", Body::FenceWait { phase: Phase::Return, fence: 0xd0 });
    let w = s.summary().waits_of("app", "kernel-wait").cloned().unwrap();
    assert_eq!(w.waits, 4);
    assert_eq!(w.on, [("vgem/unbound".to_string(), 3), ("?/?".to_string(), 1)]);
}

#[test]
fn vb2_done_window_links_the_signal_to_the_producer() {
    let mut s = S::new();
    s.fence(0, 0xa0, 5);
    s.at(4 * MS, 0, "irq/hantro", Body::Vb2Done { phase: Phase::Entry, vb: 0x77, state: 2 });
    s.at(
        4 * MS + 3_000,
        0,
        "irq/hantro",
        Body::FenceSignaled { fence: 0xa0, context: 0, seqno: 0 },
    );
    s.at(4 * MS + 5_000, 0, "irq/hantro", Body::Vb2Done { phase: Phase::Return, vb: 0, state: 0 });
    // A buffer done with no fence (before the series).
    s.at(6 * MS, 0, "irq/hantro", Body::Vb2Done { phase: Phase::Entry, vb: 0x78, state: 2 });
    s.at(6 * MS + 4_000, 0, "irq/hantro", Body::Vb2Done { phase: Phase::Return, vb: 0, state: 0 });
    let sum = s.summary();
    assert_eq!((sum.vb2.buffers_done, sum.vb2.with_fence), (2, 1));
    let g = sum.group("vgem", "unbound").unwrap();
    assert_eq!(g.vb2_done_to_signal.count, 1);
    assert!(near(g.vb2_done_to_signal.max_ns, 3_000), "{g:?}");
}

#[test]
fn resv_attach_counts_usage_and_times_attach_to_signal() {
    let mut s = S::new();
    s.fence(0, 0xa0, 5).at(MS, 10, "producer", Body::ResvAdd { resv: 0x55, fence: 0xa0, usage: 1 });
    s.at(MS, 10, "producer", Body::ResvAdd { resv: 0x56, fence: 0xa0, usage: 1 });
    s.signal(9 * MS, 0xa0);
    let g = s.summary().group("vgem", "unbound").cloned().unwrap();
    assert_eq!(g.resv_usage, [0, 1, 0, 0]);
    assert!(near(g.attach_to_signal.max_ns, 8 * MS), "{g:?}");
}
