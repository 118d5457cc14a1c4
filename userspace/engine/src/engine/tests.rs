use super::*;
use crate::event::{Meta, Name, Phase};
use crate::summary::Summary;
use fencescope_schema::Via;

const MS: u64 = 1_000_000;

/// Builds event streams the way the kernel side emits them.
struct Stream {
    events: Vec<Event>,
}

impl Stream {
    fn new() -> Self {
        Stream { events: Vec::new() }
    }

    fn push(&mut self, ts: u64, body: Body) -> &mut Self {
        let meta = Meta {
            ts_ns: ts,
            cpu: 0,
            tgid: 100,
            tid: 101,
            comm: Name::new("producer"),
            via: Some(Via::RawTracepoint),
        };
        self.events.push(Event { meta, body });
        self
    }

    fn init(
        &mut self,
        ts: u64,
        addr: u64,
        context: u64,
        seqno: u64,
        names: (&str, &str),
    ) -> &mut Self {
        self.push(ts, Body::FenceInit { fence: addr, context, seqno });
        self.push(
            ts,
            Body::FenceNames {
                context: context as u32,
                seqno: seqno as u32,
                driver: Name::new(names.0),
                timeline: Name::new(names.1),
            },
        )
    }

    fn signal(&mut self, ts: u64, addr: u64) -> &mut Self {
        self.push(ts, Body::FenceSignaled { fence: addr, context: 0, seqno: 0 })
    }

    fn destroy(&mut self, ts: u64, addr: u64) -> &mut Self {
        self.push(ts, Body::FenceDestroy { fence: addr, signalled: Some(false) })
    }

    fn run(&self) -> Summary {
        let mut e = Engine::default();
        self.events.iter().for_each(|ev| e.feed(ev));
        e.summary()
    }
}

const VGEM: (&str, &str) = ("vgem", "unbound");

#[test]
fn pairs_init_and_signal_into_lifetimes_per_group() {
    let mut s = Stream::new();
    let mut t = 0;
    for i in 0..200u64 {
        s.init(t, 0x1000 + i * 64, 10 + i, 1, VGEM).signal(t + 5 * MS, 0x1000 + i * 64);
        t += 6 * MS;
    }
    for i in 0..100u64 {
        s.init(t, 0x9000 + i * 64, 500, i, ("i915", "ring0")).signal(t + 20 * MS, 0x9000 + i * 64);
        t += 21 * MS;
    }
    let sum = s.run();
    let vgem = sum.group("vgem", "unbound").unwrap();
    assert_eq!((vgem.fences, vgem.signalled, vgem.in_flight), (200, 200, 0));
    assert_eq!(vgem.lifetime.count, 200);
    assert!(vgem.lifetime.p50_ns.abs_diff(5 * MS) < 5 * MS / 1000);
    let i915 = sum.group("i915", "ring0").unwrap();
    assert_eq!(i915.fences, 100);
    assert!(i915.lifetime.p99_ns.abs_diff(20 * MS) < 20 * MS / 1000);
    assert_eq!(sum.real_fences(), 300);
    assert_eq!(sum.stub_fences(), 0);
    assert_eq!(sum.unnamed, 0);
}

#[test]
fn names_before_init_join_as_well_as_after() {
    let mut s = Stream::new();
    // Names first (a classic tracepoint attached before the raw one).
    s.push(
        0,
        Body::FenceNames {
            context: 7,
            seqno: 3,
            driver: Name::new("vgem"),
            timeline: Name::new("unbound"),
        },
    )
    .push(0, Body::FenceInit { fence: 0xa0, context: 7, seqno: 3 })
    .signal(2 * MS, 0xa0);
    let sum = s.run();
    let g = sum.group("vgem", "unbound").unwrap();
    assert_eq!((g.fences, g.signalled), (1, 1));
    assert_eq!(sum.unnamed, 0);
}

#[test]
fn join_uses_the_32_bit_ids_the_classic_tracepoint_has() {
    let mut s = Stream::new();
    let context = (5u64 << 32) | 9;
    s.init(0, 0xb0, context, 1, VGEM).signal(MS, 0xb0);
    assert_eq!(s.run().group("vgem", "unbound").unwrap().signalled, 1);
}

#[test]
fn stub_is_counted_apart() {
    let mut s = Stream::new();
    s.init(0, 0x50, 0, 0, ("stub", "stub")).signal(10, 0x50);
    s.init(100, 0x60, 3, 1, VGEM).signal(MS, 0x60);
    let sum = s.run();
    assert_eq!(sum.real_fences(), 1);
    assert_eq!(sum.stub_fences(), 1);
    assert!(sum.group("stub", "stub").unwrap().stub);
    // Real groups come first in the summary.
    assert!(!sum.groups[0].stub);
}

#[test]
fn signal_arriving_before_its_init_still_pairs() {
    let mut s = Stream::new();
    // A consumer merging per-CPU streams can see the signal first.
    s.signal(8 * MS, 0xc0).init(3 * MS, 0xc0, 4, 1, VGEM);
    let sum = s.run();
    let g = sum.group("vgem", "unbound").unwrap();
    assert_eq!(g.signalled, 1);
    assert_eq!(g.lifetime.max_ns.abs_diff(5 * MS) * 1000 / (5 * MS), 0);
    assert_eq!(sum.signals_without_init, 0);
}

#[test]
fn signal_of_a_fence_born_before_the_session_is_counted_not_paired() {
    let mut s = Stream::new();
    s.signal(0, 0xd0);
    // Far later, the address is reused by a new fence: no false pairing.
    s.init(5_000 * MS, 0xd0, 4, 1, VGEM).signal(5_001 * MS, 0xd0);
    let sum = s.run();
    assert_eq!(sum.signals_without_init, 1);
    let g = sum.group("vgem", "unbound").unwrap();
    assert_eq!(g.lifetime.count, 1);
    assert!(g.lifetime.max_ns.abs_diff(MS) < MS / 1000);
}

#[test]
fn missing_signal_shows_as_in_flight_then_destroyed_unsignalled() {
    let mut s = Stream::new();
    s.init(0, 0xe0, 4, 1, VGEM).init(MS, 0xe8, 5, 1, VGEM).signal(2 * MS, 0xe8);
    // On a buffer: someone could wait on it (an unpublished one is below).
    s.push(MS, Body::ResvAdd { resv: 0x55, fence: 0xe0, usage: 1 });
    s.push(300 * MS, Body::FenceDestroy { fence: 0xf00, signalled: Some(true) }); // someone else's fence
    let sum = s.run();
    let g = sum.group("vgem", "unbound").unwrap();
    assert_eq!((g.fences, g.signalled, g.in_flight), (2, 1, 1));
    assert_eq!(g.oldest_in_flight_ns, 300 * MS);

    s.destroy(301 * MS, 0xe0);
    let sum = s.run();
    let g = sum.group("vgem", "unbound").unwrap();
    assert_eq!((g.in_flight, g.destroyed_unsignalled), (0, 1));
}

#[test]
fn pointer_reuse_after_destroy_starts_a_new_fence() {
    let mut s = Stream::new();
    s.init(0, 0x100, 4, 1, VGEM).signal(5 * MS, 0x100).destroy(6 * MS, 0x100);
    s.init(10 * MS, 0x100, 5, 1, VGEM).signal(30 * MS, 0x100).destroy(31 * MS, 0x100);
    let g = s.run().group("vgem", "unbound").cloned().unwrap();
    assert_eq!((g.fences, g.signalled, g.destroyed_unsignalled), (2, 2, 0));
    assert!(g.lifetime.min_ns.abs_diff(5 * MS) < 5 * MS / 1000);
    assert!(g.lifetime.max_ns.abs_diff(20 * MS) < 20 * MS / 1000);
}

#[test]
fn pointer_reuse_without_destroy_closes_the_old_fence() {
    let mut s = Stream::new();
    s.init(0, 0x100, 4, 1, VGEM); // destroy lost
    s.push(MS, Body::ResvAdd { resv: 0x55, fence: 0x100, usage: 1 });
    s.init(10 * MS, 0x100, 5, 1, VGEM).signal(15 * MS, 0x100);
    let g = s.run().group("vgem", "unbound").cloned().unwrap();
    assert_eq!((g.fences, g.signalled, g.destroyed_unsignalled, g.in_flight), (2, 1, 1, 0));
    assert!(g.lifetime.max_ns.abs_diff(5 * MS) < 5 * MS / 1000);
}

#[test]
fn lost_names_file_the_fence_under_unnamed() {
    let mut s = Stream::new();
    s.push(0, Body::FenceInit { fence: 0x200, context: 8, seqno: 1 }).signal(MS, 0x200);
    s.push(2 * MS, Body::FenceInit { fence: 0x300, context: 9, seqno: 1 });
    let sum = s.run();
    let g = sum.group("?", "?").unwrap();
    assert_eq!((g.fences, g.signalled, g.in_flight), (2, 1, 1));
    assert_eq!(sum.unnamed, 2);
}

#[test]
fn drops_are_cumulative_and_shown() {
    let mut s = Stream::new();
    s.push(0, Body::Drops { by_kind: [0, 3, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] });
    s.push(0, Body::Drops { by_kind: [0, 5, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] });
    assert_eq!(s.run().dropped, 7);
}

#[test]
fn table_is_bounded_and_evictions_counted() {
    let mut e = Engine::new(Limits { max_fences: 8, ..Limits::default() }).with_trace();
    let mut s = Stream::new();
    for i in 0..20u64 {
        s.init(i, 0x1000 + i, 100 + i, 1, VGEM);
    }
    s.events.iter().for_each(|ev| e.feed(ev));
    let sum = e.summary();
    assert_eq!(sum.evicted, 12);
    let g = sum.group("vgem", "unbound").unwrap();
    assert_eq!((g.fences, g.in_flight), (20, 8));
    assert!(e.fences.len() <= 8);
    assert!(e.fences.order_len() <= 2 * 8 + 1024);
    // Evicted fences keep their span in the trace, unsignalled; the live
    // ones are added at the end.
    let spans = e.trace().unwrap().fences;
    assert_eq!(spans.len(), 20);
    assert!(spans.iter().all(|f| f.signal_ns.is_none()));
    assert_eq!(spans[0].context, 100);
}

#[test]
fn classic_tracepoints_alone_key_fences_by_context_and_seqno() {
    let mut e = Engine::default().with_names_as_inits(true);
    let mut s = Stream::new();
    for i in 0..10u64 {
        let names = Body::FenceNames {
            context: 40 + i as u32,
            seqno: 1,
            driver: Name::new("vgem"),
            timeline: Name::new("unbound"),
        };
        s.push(i * 10 * MS, names);
        s.push(i * 10 * MS + 5 * MS, Body::FenceSignaled { fence: 0, context: 40 + i, seqno: 1 });
    }
    s.events.iter().for_each(|ev| e.feed(ev));
    let sum = e.summary();
    let g = sum.group("vgem", "unbound").unwrap();
    assert_eq!((g.fences, g.signalled, g.in_flight), (10, 10, 0));
    assert!(g.lifetime.max_ns.abs_diff(5 * MS) < 5 * MS / 1000);
    assert_eq!(sum.unnamed, 0);
}

#[test]
fn filters_count_only_the_selected_producer_and_driver() {
    let run = |filter: crate::filter::Filter| {
        let mut e = Engine::default().with_filter(filter);
        let mut s = Stream::new();
        s.init(0, 0x10, 1, 1, VGEM).signal(MS, 0x10);
        s.init(0, 0x20, 2, 1, ("i915", "ring0")).signal(2 * MS, 0x20);
        // Another process's fence (the Stream's default task is 100/producer).
        let meta =
            Meta { ts_ns: 0, cpu: 0, tgid: 200, tid: 200, comm: Name::new("other"), via: None };
        s.events.push(Event { meta, body: Body::FenceInit { fence: 0x30, context: 3, seqno: 1 } });
        s.events.push(Event {
            meta,
            body: Body::FenceNames {
                context: 3,
                seqno: 1,
                driver: Name::new("vgem"),
                timeline: Name::new("unbound"),
            },
        });
        s.signal(3 * MS, 0x30);
        s.events.iter().for_each(|ev| e.feed(ev));
        e.summary()
    };
    let all = run(Default::default());
    assert_eq!((all.real_fences(), all.group("vgem", "unbound").unwrap().fences), (3, 2));
    let vgem = run(crate::filter::Filter { driver: Some("vgem".into()), ..Default::default() });
    assert_eq!((vgem.real_fences(), vgem.groups.len()), (2, 1));
    let pid = run(crate::filter::Filter { pid: Some(200), ..Default::default() });
    assert_eq!(pid.real_fences(), 1);
    let comm = run(crate::filter::Filter { comm: Some("producer".into()), ..Default::default() });
    assert_eq!(comm.real_fences(), 2);
    assert!(comm.group("vgem", "unbound").unwrap().lifetime.max_ns.abs_diff(MS) < MS / 1000);
}

#[test]
fn intervals_restart_counts_and_carry_fences_in_flight() {
    let mut e = Engine::default();
    let mut s = Stream::new();
    s.init(0, 0x10, 1, 1, VGEM).signal(MS, 0x10).init(2 * MS, 0x20, 2, 1, VGEM);
    s.events.iter().for_each(|ev| e.feed(ev));
    let first = e.take_interval();
    let g = first.group("vgem", "unbound").unwrap();
    assert_eq!((g.fences, g.signalled, g.in_flight), (2, 1, 1));
    let mut s = Stream::new();
    s.signal(7 * MS, 0x20);
    s.events.iter().for_each(|ev| e.feed(ev));
    let second = e.take_interval();
    let g = second.groups.iter().find(|g| g.driver == "vgem").unwrap();
    // Born in the first interval, signalled in the second: its lifetime
    // (5 ms) is the second's.
    assert_eq!((g.fences, g.signalled, g.in_flight, g.lifetime.count), (0, 1, 0, 1));
    assert!(g.lifetime.max_ns.abs_diff(5 * MS) < 5 * MS / 1000);
    assert_eq!(second.events, 1);
}

#[test]
fn an_array_links_to_the_fences_it_holds() {
    let mut s = Stream::new();
    s.init(0, 0x10, 1, 1, VGEM).init(0, 0x20, 2, 1, VGEM).init(0, 0x30, 3, 1, ("i915", "ring0"));
    let mut members = [0u64; 16];
    members[..3].copy_from_slice(&[0x10, 0x20, 0x30]);
    s.push(MS, Body::ArrayCreate { count: 3, members });
    s.init(MS, 0x40, 99, 1, ("dma_fence_array", "unbound"));
    let a = s.run().arrays;
    assert_eq!((a.arrays, a.members, a.unlisted), (1, 3, 0));
    assert_eq!(
        a.member_groups,
        [
            ("i915".to_string(), "ring0".to_string(), 1),
            ("vgem".to_string(), "unbound".to_string(), 2)
        ]
    );
}

#[test]
fn oldest_in_flight_lists_unsignalled_fences_oldest_first() {
    let mut s = Stream::new();
    s.init(0, 0x10, 7, 1, ("vgem", "unbound"))
        .init(MS, 0x20, 7, 2, ("vgem", "unbound"))
        .init(2 * MS, 0x30, 8, 1, ("hantro", "vb2"))
        .signal(3 * MS, 0x10);
    let mut e = Engine::default();
    s.events.iter().for_each(|ev| e.feed(ev));
    let open = e.oldest_in_flight(10 * MS, 8);
    let got: Vec<(&str, u64, u64, u64)> =
        open.iter().map(|f| (f.driver.as_str(), f.context, f.seqno, f.age_ns)).collect();
    assert_eq!(got, [("vgem", 7, 2, 9 * MS), ("hantro", 8, 1, 8 * MS)]);
    assert_eq!((open[0].tgid, open[0].process.as_str()), (100, "producer"));
    assert_eq!(e.oldest_in_flight(10 * MS, 1).len(), 1);
    assert_eq!(e.last_ns(), 3 * MS);
}

#[test]
fn stacks_file_waits_under_the_fence_waited_on() {
    let mut e = Engine::default().with_stacks().with_symbols(Symbols::default());
    crate::synthetic::compositor_session(3, 1, MS).iter().for_each(|ev| e.feed(ev));
    let s = e.stacks().expect("asked for");
    // Each export asks 2 us after init; the fence signals at 500 us.
    assert_eq!(
        Stacks::folded(&s.waits),
        ["kwin_wayland;kwin_wayland;export;drv0;unbound;ask→signal 1494"]
    );
    assert_eq!(
        Stacks::folded(&s.lifetimes),
        ["drv0;unbound;init→resv attach 3", "drv0;unbound;resv attach→signal 1497"]
    );
    assert!(Engine::default().stacks().is_none());
}

#[test]
fn drops_are_kept_by_kind() {
    let mut by_kind = [0u64; fencescope_schema::DROP_SLOTS as usize];
    by_kind[1] = 5;
    by_kind[3] = 2;
    let mut s = Stream::new();
    s.push(MS, Body::Drops { by_kind });
    let sum = s.run();
    assert_eq!(sum.dropped, 7);
    assert_eq!(sum.dropped_by_kind, [("fence init".into(), 5), ("fence signalled".into(), 2)]);
    assert_eq!(sum.partial, ["groups", "contract"]);

    by_kind = [0; fencescope_schema::DROP_SLOTS as usize];
    by_kind[fencescope_schema::Kind::Export as usize] = 1;
    by_kind[fencescope_schema::Kind::Vb2Buf as usize] = 1;
    let mut s = Stream::new();
    s.push(MS, Body::Drops { by_kind });
    assert_eq!(s.run().partial, ["waits", "exports", "vb2"]);
    assert!(Stream::new().run().partial.is_empty());
}

/// A vb2 release fence: created at `ts` (queue time), attached at once.
fn vb2_fence(s: &mut Stream, ts: u64, addr: u64, seqno: u64) {
    s.init(ts, addr, 40, seqno, ("videobuf2", "vb2-release-fence"));
    s.push(ts + 10_000, Body::ResvAdd { resv: 0x55, fence: addr, usage: 1 });
}

fn handed(s: &mut Stream, ts: u64, addr: u64) {
    let meta = Meta {
        ts_ns: ts,
        cpu: 0,
        tgid: 200,
        tid: 200,
        comm: Name::new("kwin_wayland"),
        via: Some(Via::Kprobe),
    };
    s.events.push(Event { meta, body: Body::SyncFile { fence: addr, context: 40, seqno: 1 } });
}

#[test]
fn a_fence_handed_out_before_it_is_armed_breaks_the_contract() {
    let mut s = Stream::new();
    // queue mode, starved: created, handed out, armed 200 ms later, signalled.
    vb2_fence(&mut s, 0, 0x10, 1);
    handed(&mut s, 50_000, 0x10);
    s.push(200 * MS, Body::Arm { arg0: 0x10 });
    s.signal(210 * MS, 0x10);
    // run mode: armed at creation, handed out after.
    vb2_fence(&mut s, 300 * MS, 0x20, 2);
    s.push(300 * MS + 20_000, Body::Arm { arg0: 0x20 });
    handed(&mut s, 301 * MS, 0x20);
    s.signal(310 * MS, 0x20);
    let c = s.run().contract;
    assert_eq!((c.arms, c.armed, c.arms_unmatched), (2, 2, 0));
    assert_eq!((c.handed_out, c.handed_out_unarmed), (2, 1));
    assert_eq!(c.unarmed_window.count, 2);
    assert!((c.unarmed_window.max_ns as f64 - 200e6).abs() < 0.2e6, "{c:?}");
    let worst = &c.handed_out_unarmed_worst[0];
    assert_eq!((worst.seqno, worst.handed_to.as_deref()), (1, Some("kwin_wayland")));
    assert_eq!(
        (worst.handed_ns, worst.armed_ns, worst.attached_ns),
        (Some(50_000), Some(200 * MS), Some(10_000))
    );
    assert_eq!(c.never_signalled, 0);
}

#[test]
fn a_kernel_wait_on_an_unarmed_fence_is_a_hand_out_before_arming() {
    let mut s = Stream::new();
    vb2_fence(&mut s, 0, 0x10, 1);
    // A KMS commit waits on it; its job is armed 100 ms later.
    s.push(MS, Body::FenceWait { phase: Phase::Entry, fence: 0x10 });
    s.push(101 * MS, Body::Arm { arg0: 0x10 });
    s.signal(120 * MS, 0x10);
    s.push(120 * MS + 10_000, Body::FenceWait { phase: Phase::Return, fence: 0x10 });
    let c = s.run().contract;
    assert_eq!((c.handed_out, c.handed_out_unarmed), (1, 1));
    assert_eq!(c.handed_out_unarmed_worst[0].handed_ns, Some(MS));
}

#[test]
fn an_arm_without_a_fence_arms_the_oldest_unarmed_series_fence() {
    let mut s = Stream::new();
    s.init(0, 0x90, 9, 1, ("vgem", "unbound"));
    vb2_fence(&mut s, MS, 0x10, 1);
    vb2_fence(&mut s, 2 * MS, 0x20, 2);
    // hantro's device_run(ctx): the job context, not a fence.
    s.push(5 * MS, Body::Arm { arg0: 0xdead_beef });
    s.push(6 * MS, Body::Arm { arg0: 0xdead_beef });
    s.push(7 * MS, Body::Arm { arg0: 0xdead_beef });
    let c = s.run().contract;
    assert_eq!((c.arms, c.armed, c.arms_unmatched), (3, 2, 1));
    // The first series fence (born at 1 ms) armed at 5 ms, in hdr's precision.
    assert!(c.unarmed_window.min_ns.abs_diff(4 * MS) < 4 * MS / 1000, "{c:?}");
}

#[test]
fn a_fence_alive_past_the_threshold_is_never_signalled() {
    let mut s = Stream::new();
    vb2_fence(&mut s, 0, 0x10, 1);
    handed(&mut s, MS, 0x10);
    vb2_fence(&mut s, 10 * MS, 0x20, 2);
    s.signal(20 * MS, 0x20);
    // The last event, 3 s on: the first fence is still unsignalled.
    s.init(3_000 * MS, 0x30, 9, 1, ("vgem", "unbound"));
    let c = s.run().contract;
    assert_eq!(c.never_signalled, 1);
    let hung = &c.never_signalled_worst[0];
    assert_eq!((hung.seqno, hung.signalled_ns, hung.age_ns), (1, None, 3_000 * MS));
    // Handed out and never armed (no arm hook ran, but it is the series' fence).
    assert_eq!(c.handed_out_unarmed, 1);
}

#[test]
fn another_drivers_fence_on_a_v4l2_buffer_is_foreign() {
    let mut s = Stream::new();
    vb2_fence(&mut s, 0, 0x10, 1); // on resv 0x55
    s.signal(10 * MS, 0x10);
    // A GPU writes the decoded buffer in place: its fence on the same resv.
    s.init(11 * MS, 0x20, 9, 1, ("vgem", "unbound"));
    s.push(11 * MS, Body::ResvAdd { resv: 0x55, fence: 0x20, usage: 1 });
    // vgem on a buffer of its own: not foreign.
    s.init(12 * MS, 0x30, 10, 1, ("vgem", "unbound"));
    s.push(12 * MS, Body::ResvAdd { resv: 0x66, fence: 0x30, usage: 1 });
    // Foreign first, the series' fence after: still counted.
    s.init(13 * MS, 0x40, 11, 1, ("vgem", "unbound"));
    s.push(13 * MS, Body::ResvAdd { resv: 0x77, fence: 0x40, usage: 1 });
    s.init(14 * MS, 0x50, 40, 2, ("videobuf2", "vb2-release-fence"));
    s.push(14 * MS, Body::ResvAdd { resv: 0x77, fence: 0x50, usage: 1 });
    let c = s.run().contract;
    assert_eq!(c.foreign_fences, 2, "{c:#?}");
    assert_eq!(c.foreign_drivers, [("vgem/unbound".to_string(), 2)]);
    assert_eq!(c.foreign_worst.iter().map(|f| f.context).collect::<Vec<_>>(), [9, 11]);
}

#[test]
fn a_series_fence_on_no_buffer_is_counted() {
    let mut s = Stream::new();
    s.init(0, 0x10, 40, 1, ("videobuf2", "vb2-release-fence")); // never added to a resv
    s.signal(10 * MS, 0x10);
    vb2_fence(&mut s, 20 * MS, 0x20, 2);
    s.signal(30 * MS, 0x20);
    s.init(40 * MS, 0x30, 9, 1, ("vgem", "unbound")); // not the series': not judged
    s.signal(50 * MS, 0x30);
    s.init(60 * MS, 0x40, 40, 3, ("videobuf2", "vb2-release-fence")); // longer-lived
    s.signal(90 * MS, 0x40);
    let c = s.run().contract;
    assert_eq!(c.unattached_fences, 2);
    assert_eq!(c.unattached_worst.iter().map(|f| f.seqno).collect::<Vec<_>>(), [3, 1]);

    // Another driver asked for: the series' fences are not counted.
    let mut e = Engine::default()
        .with_filter(crate::filter::Filter { driver: Some("vgem".into()), ..Default::default() });
    s.events.iter().for_each(|ev| e.feed(ev));
    let c = e.summary().contract;
    assert_eq!((c.unattached_fences, c.unattached_worst.len()), (0, 0));
}

#[test]
fn buffers_queued_without_a_fence_beside_fenced_ones_are_flagged() {
    use fencescope_schema::{VB2_BUF_QUEUE, VB2_QBUF};
    let mut s = Stream::new();
    for (i, fenced) in [true, false, true, false].into_iter().enumerate() {
        let t = i as u64 * MS;
        s.push(t, Body::Vb2Buf { queue: 0xc0, vb: 0xb0 + i as u64, stage: VB2_QBUF });
        s.push(t, Body::Vb2Buf { queue: 0xc0, vb: 0xb0 + i as u64, stage: VB2_BUF_QUEUE });
        if fenced {
            vb2_fence(&mut s, t + 1000, 0x100 + i as u64, i as u64);
        }
    }
    // Closes the last window; a queue of only unfenced buffers says nothing.
    s.push(9 * MS, Body::Vb2Buf { queue: 0xd0, vb: 0xe0, stage: VB2_BUF_QUEUE });
    s.push(9 * MS, Body::Vb2Buf { queue: 0xd0, vb: 0xe0, stage: VB2_QBUF });
    let c = s.run().contract;
    assert_eq!(c.unfenced_queues, [("0xc0".to_string(), 2, 2)]);

    // Once a QBUF has said who the queue is, it is called by its vb2 row.
    use crate::event::Name;
    let named = Body::Vb2Queue {
        queue: 0xc0,
        queue_type: 1,
        device: Name::new("vicodec.0"),
        driver: Name::new("vicodec"),
        node: Name::new("video0"),
    };
    s.events.insert(0, s.events[0]);
    s.events[0].body = named;
    let c = s.run().contract;
    assert_eq!(c.unfenced_queues, [("vicodec vicodec.0 video0 capture".to_string(), 2, 2)]);
}

#[test]
fn the_stage_log_keeps_the_first_fences_to_signal() {
    let mut s = Stream::new();
    for i in 0..4u64 {
        vb2_fence(&mut s, i * 20 * MS, 0x10 + i, i);
        s.push(i * 20 * MS + MS, Body::Arm { arg0: 0x10 + i });
        s.signal(i * 20 * MS + 11 * MS, 0x10 + i);
    }
    let mut e = Engine::default().with_stage_log(2);
    s.events.iter().for_each(|ev| e.feed(ev));
    let log = e.stage_log();
    assert_eq!(log.iter().map(|f| f.seqno).collect::<Vec<_>>(), [0, 1]);
    assert_eq!(
        (log[0].attached_ns, log[0].armed_ns, log[0].signalled_ns),
        (Some(10_000), Some(MS), Some(11 * MS))
    );
    assert!(Engine::default().stage_log().is_empty());
}

/// A fence of `VGEM` at `addr` (context `ctx`), then whatever publishes
/// it, then its destroy, unsignalled.
fn dropped(s: &mut Stream, addr: u64, ctx: u64, publish: Option<Body>) {
    s.init(ctx * MS, addr, ctx, 1, VGEM);
    if let Some(body) = publish {
        s.push(ctx * MS + 1_000, body);
    }
    s.destroy(ctx * MS + 2_000, addr);
}

#[test]
fn a_fence_dropped_before_anyone_could_wait_on_it_is_counted_apart() {
    let mut s = Stream::new();
    for i in 0..1000 {
        dropped(&mut s, 0x1_0000 + i * 64, 10 + i, None);
    }
    let sum = s.run();
    let g = sum.group("vgem", "unbound").unwrap();
    assert_eq!((g.fences, g.destroyed_unsignalled, g.dropped_unpublished), (1000, 0, 1000));
    assert_eq!(sum.contract.never_signalled, 0);
}

#[test]
fn a_fence_someone_could_wait_on_is_never_signalled_when_destroyed() {
    let mut s = Stream::new();
    let ways = [
        Body::ResvAdd { resv: 0x55, fence: 0x10, usage: 1 },
        Body::SyncFile { fence: 0x20, context: 2, seqno: 1 },
        Body::AddCallback { fence: 0x30, func: 0xc0ffee },
        Body::FenceWait { phase: Phase::Entry, fence: 0x40 },
    ];
    for (i, body) in ways.into_iter().enumerate() {
        let i = i as u64 + 1;
        dropped(&mut s, 0x10 * i, i, Some(body));
    }
    dropped(&mut s, 0x50, 5, None);
    let sum = s.run();
    let g = sum.group("vgem", "unbound").unwrap();
    assert_eq!((g.fences, g.destroyed_unsignalled, g.dropped_unpublished), (5, 4, 1));
    assert_eq!(sum.contract.never_signalled, 4);
}

#[test]
fn a_member_of_an_exported_array_is_published() {
    let mut s = Stream::new();
    s.init(0, 0x10, 1, 1, VGEM).init(0, 0x20, 2, 1, VGEM);
    let mut members = [0u64; 16];
    members[..2].copy_from_slice(&[0x10, 0x20]);
    s.push(MS, Body::ArrayCreate { count: 2, members });
    s.init(MS, 0xa0, 3, 1, ("dma_fence_array", "unbound"));
    // An array that nobody exports publishes nothing.
    s.init(2 * MS, 0x30, 4, 1, VGEM);
    let mut held = [0u64; 16];
    held[0] = 0x30;
    s.push(2 * MS, Body::ArrayCreate { count: 1, members: held });
    s.init(2 * MS, 0xb0, 5, 1, ("dma_fence_array", "unbound"));
    s.push(3 * MS, Body::SyncFile { fence: 0xa0, context: 3, seqno: 1 });
    for addr in [0x10, 0x20, 0x30] {
        s.destroy(4 * MS, addr);
    }
    let sum = s.run();
    let g = sum.group("vgem", "unbound").unwrap();
    assert_eq!((g.destroyed_unsignalled, g.dropped_unpublished), (2, 1));
}

#[test]
fn totals_sum_what_the_text_report_sums() {
    let mut s = Stream::new();
    s.init(0, 0x10, 1, 1, VGEM).signal(MS, 0x10);
    s.init(0, 0x20, 2, 1, VGEM); // still in flight
    dropped(&mut s, 0x30, 3, None);
    dropped(&mut s, 0x40, 4, Some(Body::ResvAdd { resv: 0x55, fence: 0x40, usage: 1 }));
    s.init(5 * MS, 0x50, 0, 1, ("dma_fence", "stub")).signal(5 * MS, 0x50);
    s.push(6 * MS, Body::FenceSignaled { fence: 0x60, context: 0, seqno: 0 });
    let mut by_kind = [0; fencescope_schema::DROP_SLOTS as usize];
    by_kind[1] = 3;
    s.push(3_000 * MS, Body::Drops { by_kind });
    let sum = s.run();
    let t = sum.totals();
    assert_eq!((t.fences, t.signalled, t.in_flight), (4, 1, 1));
    assert_eq!((t.destroyed_unsignalled, t.dropped_unpublished), (1, 1));
    // The one destroyed after it was on a buffer, and the one alive 3 s.
    assert_eq!(t.never_signalled, 2);
    assert_eq!((t.dropped_records, t.evicted, t.unnamed, t.signals_without_init), (3, 0, 0, 1));
    assert_eq!((t.waits, t.zero_waits, t.stub_exports), (0, 0, 0));
}

/// Classic tracepoints only: `n` fences of context 7 inited with seqno 0
/// (a names record is the init), numbered 1.. at emit when `emit`, each
/// signalled 5 ms later with its emitted seqno, as the signal record has.
fn numbered_at_emit(n: u32, emit: bool, batched: bool) -> Summary {
    let mut e = Engine::default().with_names_as_inits(true);
    let mut s = Stream::new();
    let names = |seqno| Body::FenceNames {
        context: 7,
        seqno,
        driver: Name::new("i915"),
        timeline: Name::new("rcs0"),
    };
    let signal = |seqno| Body::FenceSignaled { fence: 0, context: 7, seqno: u64::from(seqno) };
    let feed = |s: &mut Stream, e: &mut Engine| s.events.drain(..).for_each(|ev| e.feed(&ev));
    for i in 1..=n {
        let t = u64::from(i) * MS;
        s.push(t, names(0));
        feed(&mut s, &mut e);
        if emit && !(batched && i > 1) {
            e.fence_emitted(7, i);
        }
    }
    if emit && batched {
        (2..=n).for_each(|i| e.fence_emitted(7, i));
    }
    for i in 1..=n {
        s.push(100 * MS + u64::from(i) * MS, signal(i));
    }
    feed(&mut s, &mut e);
    e.summary()
}

#[test]
fn classic_fences_numbered_at_emit_pair_once_the_emit_re_keys_them() {
    // Without the emit each init lands on (7, 0), closing the one before,
    // and no signal finds its fence.
    let broken = numbered_at_emit(3, false, false);
    let g = broken.group("i915", "rcs0").unwrap();
    assert_eq!((g.fences, g.signalled, g.in_flight, g.dropped_unpublished), (3, 0, 1, 2));
    assert_eq!(broken.signals_without_init, 3);
    for batched in [false, true] {
        let sum = numbered_at_emit(3, true, batched);
        let g = sum.group("i915", "rcs0").unwrap();
        assert_eq!((g.fences, g.signalled, g.in_flight), (3, 3, 0), "batched {batched}");
        assert_eq!((g.destroyed_unsignalled, g.dropped_unpublished), (0, 0));
        assert_eq!(sum.signals_without_init, 0);
        // Each lived from its init to its signal: 100 ms.
        assert!(g.lifetime.max_ns.abs_diff(100 * MS) < 100 * MS / 1000, "{g:?}");
        assert!(g.lifetime.min_ns.abs_diff(100 * MS) < 100 * MS / 1000, "{g:?}");
    }
}

#[test]
fn fences_inited_with_seqno_zero_join_their_names_in_order_by_address() {
    let mut s = Stream::new();
    // Names after their inits, and names before theirs: FIFO on (7, 0).
    for i in 0..4u64 {
        s.init(i * MS, 0x100 + i * 64, 7, 0, ("i915", "rcs0"));
    }
    let names = Body::FenceNames {
        context: 7,
        seqno: 0,
        driver: Name::new("i915"),
        timeline: Name::new("rcs0"),
    };
    s.push(5 * MS, names);
    s.push(5 * MS, Body::FenceInit { fence: 0x900, context: 7, seqno: 0 });
    for i in 0..4u64 {
        s.signal(10 * MS + i * MS, 0x100 + i * 64);
    }
    s.signal(20 * MS, 0x900);
    let sum = s.run();
    let g = sum.group("i915", "rcs0").unwrap();
    assert_eq!((g.fences, g.signalled, g.in_flight), (5, 5, 0));
    assert_eq!((sum.unnamed, sum.signals_without_init), (0, 0));
    assert!(g.lifetime.min_ns.abs_diff(10 * MS) < 10 * MS / 1000, "{g:?}");
    assert!(g.lifetime.max_ns.abs_diff(15 * MS) < 15 * MS / 1000, "{g:?}");
}

#[test]
fn a_destroy_that_says_signalled_is_a_lost_signal_not_a_hang() {
    let mut s = Stream::new();
    s.init(0, 0x10, 1, 1, VGEM);
    s.push(MS, Body::ResvAdd { resv: 0x55, fence: 0x10, usage: 1 }); // someone could wait
    s.push(5 * MS, Body::FenceDestroy { fence: 0x10, signalled: Some(true) });
    s.init(0, 0x20, 2, 1, VGEM);
    s.push(MS, Body::ResvAdd { resv: 0x55, fence: 0x20, usage: 1 });
    s.push(5 * MS, Body::FenceDestroy { fence: 0x20, signalled: None }); // cannot tell: a hang
    let sum = s.run();
    let g = sum.group("vgem", "unbound").unwrap();
    assert_eq!((g.signal_unseen, g.destroyed_unsignalled, g.signalled), (1, 1, 0));
    assert_eq!((sum.totals.signal_unseen, sum.contract.never_signalled), (1, 1));
}
