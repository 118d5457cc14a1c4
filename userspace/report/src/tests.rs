use super::*;
use crate::text::text;
use fencescope_engine::{ExportSummary, GroupSummary, LatencySummary, Vb2Summary, WaitSummary};

fn lat(p50: u64, p90: u64, p99: u64, max: u64) -> LatencySummary {
    LatencySummary {
        count: 400,
        min_ns: 5_000_000,
        mean_ns: 12_500_000,
        p50_ns: p50,
        p90_ns: p90,
        p99_ns: p99,
        p999_ns: max,
        max_ns: max,
    }
}

/// A stateful decoder's two queues: OUTPUT (bitstream, no fences) and
/// CAPTURE (frames, each with the series' fence).
fn decoder_queues() -> Vec<fencescope_engine::Vb2QueueSummary> {
    let queue = |queue_type: u32, queue: &str, fenced: u64, signal: LatencySummary| {
        fencescope_engine::Vb2QueueSummary {
            driver: "hantro-vpu".into(),
            device: "fdea0000.video-codec".into(),
            node: "video1".into(),
            queue_type,
            queue: queue.into(),
            process: "chromium".into(),
            pid: 1234,
            queues: 1,
            buffers: 4,
            figures: Vb2Summary {
                buffers_done: 15,
                with_fence: fenced,
                qbufs: 17,
                buf_queues: 17,
                dones: 15,
                dqbufs: 15,
                done_paired: 15,
                qbuf_to_done: lat(33_000_000, 34_000_000, 35_000_000, 36_000_000),
                done_to_dqbuf: lat(1_000, 2_000, 3_000, 4_000),
                done_to_signal: signal,
                ..Vb2Summary::default()
            },
        }
    };
    vec![
        queue(9, "capture-mplane", 14, lat(20_000, 30_000, 40_000, 50_000)),
        queue(10, "output-mplane", 0, LatencySummary::default()),
    ]
}

fn sample() -> Summary {
    let mut s = Summary {
        events: 1650,
        span_ns: 10_420_000_000,
        groups: vec![
            GroupSummary {
                driver: "vgem".into(),
                timeline: "unbound".into(),
                fences: 400,
                signalled: 399,
                in_flight: 1,
                oldest_in_flight_ns: 2_500_000_000,
                lifetime: lat(5_012_000, 20_011_000, 20_054_000, 20_081_000),
                resv_usage: [0, 400, 0, 0],
                attach_to_signal: lat(4_990_000, 19_990_000, 20_030_000, 20_060_000),
                vb2_done_to_signal: lat(3_000, 4_000, 9_000, 12_000),
                ..Default::default()
            },
            GroupSummary {
                driver: "a_very_long_driver_name".into(),
                timeline: "timeline-with-a-long-name".into(),
                fences: 12,
                signalled: 12,
                destroyed_unsignalled: 2,
                signal_unseen: 3,
                lifetime: lat(1_000, 2_000, 3_000, 123_456_789),
                ..Default::default()
            },
            GroupSummary {
                driver: "stub".into(),
                timeline: "stub".into(),
                stub: true,
                fences: 1,
                signalled: 1,
                ..Default::default()
            },
        ],
        signals_without_init: 3,
        unnamed: 0,
        dropped: 7,
        dropped_by_kind: vec![("fence init".into(), 5), ("fence signalled".into(), 2)],
        partial: vec!["groups".into(), "contract".into()],
        evicted: 0,
        waits: vec![
            WaitSummary {
                process: "kwin_wayland".into(),
                thread: "kwin_wayland".into(),
                style: "poll+export".into(),
                waits: 398,
                zero_waits: 2,
                open: 0,
                latency: lat(4_010_000, 4_050_000, 4_080_000, 4_100_000),
                on: vec![("hantro/hantro-vpu".into(), 390), ("vgem/unbound".into(), 8)],
            },
            WaitSummary {
                process: "kwin_wayland".into(),
                thread: "KWinCompositingThread".into(),
                style: "dmabuf-poll".into(),
                zero_waits: 20,
                ..Default::default()
            },
        ],
        exports: vec![
            ExportSummary {
                process: "kwin_wayland".into(),
                thread: "kwin_wayland".into(),
                handed: "fence".into(),
                exports: 398,
                round_trip: lat(12_300, 40_100, 50_000, 61_000),
            },
            ExportSummary {
                process: "kwin_wayland".into(),
                thread: "kwin_wayland".into(),
                handed: "stub".into(),
                exports: 20,
                round_trip: lat(8_000, 9_000, 9_500, 9_900),
            },
        ],
        arrays: fencescope_engine::ArraySummary {
            arrays: 5,
            members: 10,
            unlisted: 0,
            member_groups: vec![("vgem".into(), "unbound".into(), 10)],
        },
        vb2: Vb2Summary {
            buffers_done: 30,
            with_fence: 28,
            queues: 1,
            buffers: 4,
            qbufs: 34,
            buf_queues: 34,
            dones: 30,
            dqbufs: 30,
            done_paired: 30,
            qbuf_to_done: lat(99_000_000, 100_000_000, 101_000_000, 102_000_000),
            done_to_dqbuf: lat(1_000, 2_000, 3_000, 4_000),
            done_to_signal: lat(20_000, 30_000, 40_000, 50_000),
            by_queue: decoder_queues(),
        },
        unpaired: 0,
        contract: fencescope_engine::contract::ContractSummary {
            arms: 20,
            arms_unmatched: 0,
            armed: 20,
            unarmed_window: lat(200_000_000, 200_100_000, 200_300_000, 200_300_000),
            handed_out: 20,
            handed_out_unarmed: 20,
            handed_out_unarmed_worst: vec![crate::contract::tests::starved()],
            never_signalled: 1,
            never_signalled_threshold_ns: 1_000_000_000,
            never_signalled_worst: vec![],
            foreign_fences: 5,
            foreign_drivers: vec![("vgem/unbound".into(), 5)],
            foreign_worst: vec![],
            unattached_fences: 0,
            unattached_worst: vec![],
            unfenced_queues: vec![("0xffff888004d2c000".into(), 4, 4)],
        },
        totals: Default::default(),
    };
    s.totals = s.totals();
    s
}

#[test]
fn text_report_snapshot() {
    insta::assert_snapshot!(text(&sample(), "6.12.117+deb13-amd64"));
}

#[test]
fn markdown_report_snapshot() {
    insta::assert_snapshot!(render(&sample(), Format::Markdown, "6.12.117+deb13-amd64"));
}

#[test]
fn text_report_fits_mail() {
    for line in text(&sample(), "6.12.117+deb13-amd64").lines() {
        assert!(line.chars().count() <= 72, "{line:?}");
    }
}

#[test]
fn json_report_snapshot() {
    // Field names are what scripts read: a rename shows up here.
    insta::assert_snapshot!(render(&sample(), Format::Json, "6.12.117+deb13-amd64"));
}

#[test]
fn json_report_round_trips_every_figure() {
    let s = sample();
    let back: Summary = serde_json::from_str(&render(&s, Format::Json, "k")).unwrap();
    assert_eq!(back, s);
}
