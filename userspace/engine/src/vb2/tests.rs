use super::*;
use fencescope_schema::VB2_BUF_QUEUE;

fn who(driver: &str, node: &str, queue_type: u32, pid: u32) -> Who {
    Who {
        driver: driver.into(),
        device: format!("{driver}.0"),
        node: node.into(),
        queue_type,
        process: "client".into(),
        pid,
    }
}

#[test]
fn buffers_cycle_and_dones_pair_with_their_qbuf() {
    let mut v = Vb2::default();
    let q = 0x10;
    // Four buffers queued, then each done 10 ms apart and re-queued.
    for b in 0..4u64 {
        v.stage(q, 0x100 + b, VB2_QBUF, 0);
        v.stage(q, 0x100 + b, VB2_BUF_QUEUE, 0);
    }
    let mut t = 0;
    for frame in 0..12u64 {
        t += 10_000_000;
        let vb = 0x100 + frame % 4;
        v.stage(q, vb, VB2_BUF_DONE, t);
        v.stage(q, vb, VB2_DQBUF, t + 1_000_000);
        v.stage(q, vb, VB2_QBUF, t + 2_000_000);
        v.stage(q, vb, VB2_BUF_QUEUE, t + 2_000_000);
    }
    let s = v.summary();
    assert_eq!((s.queues, s.buffers, s.dones, s.done_paired), (1, 4, 12, 12));
    assert_eq!((s.qbufs, s.dqbufs), (16, 12));
    assert_eq!(s.done_to_dqbuf.count, 12);
    assert!(s.done_to_dqbuf.max_ns.abs_diff(1_000_000) < 1_000);
    // The first round waited 10..40 ms, later ones 38 ms (4 buffers).
    assert!(s.qbuf_to_done.max_ns.abs_diff(40_000_000) < 40_000);
    // Never named: one row, every name unknown.
    assert_eq!(s.by_queue.len(), 1);
    assert_eq!(s.by_queue[0].label(), "? ? ? ?");
    assert_eq!(s.by_queue[0].figures.dones, 12);
}

#[test]
fn a_done_without_its_qbuf_is_not_paired() {
    let mut v = Vb2::default();
    v.stage(1, 2, VB2_BUF_DONE, 5);
    let s = v.summary();
    assert_eq!((s.dones, s.done_paired), (1, 0));
}

/// A decoder (OUTPUT bitstream, CAPTURE frames) and a 2D engine on one
/// board, each queue's figures apart, fences only on the decoder's CAPTURE.
#[test]
fn each_queue_is_apart_under_who_it_is() {
    let mut v = Vb2::default();
    let (bitstream, frames, rga) = (0x10, 0x20, 0x30);
    v.named(bitstream, who("hantro-vpu", "video1", 10, 100));
    v.named(frames, who("hantro-vpu", "video1", 9, 100));
    v.named(rga, who("rockchip-rga", "video2", 10, 200));
    for (i, q) in [bitstream, frames, rga].into_iter().enumerate() {
        for n in 0..=i as u64 {
            let vb = q + 1 + n;
            v.stage(q, vb, VB2_QBUF, 0);
            v.stage(q, vb, VB2_BUF_QUEUE, 1_000);
            let tid = 7;
            v.done(tid, 5_000_000, Phase::Entry, vb);
            if q == frames {
                assert_eq!(v.signal_on(tid, 5_000_300), Some(5_000_000));
            }
            v.done(tid, 5_000_500, Phase::Return, 0);
            v.stage(q, vb, VB2_BUF_DONE, 5_000_100);
            v.stage(q, vb, VB2_DQBUF, 6_000_000);
        }
    }
    let s = v.summary();
    let rows: Vec<_> = s
        .by_queue
        .iter()
        .map(|r| (r.label(), r.pid, r.figures.qbufs, r.figures.buffers_done, r.figures.with_fence))
        .collect();
    assert_eq!(
        rows,
        [
            ("hantro-vpu hantro-vpu.0 video1 capture-mplane".to_string(), 100, 2, 2, 2),
            ("hantro-vpu hantro-vpu.0 video1 output-mplane".to_string(), 100, 1, 1, 0),
            ("rockchip-rga rockchip-rga.0 video2 output-mplane".to_string(), 200, 3, 3, 0),
        ]
    );
    let frames_row = &s.by_queue[0];
    assert_eq!(frames_row.buffers, 2);
    assert_eq!(frames_row.figures.done_to_signal.count, 2);
    assert!(frames_row.figures.done_to_signal.max_ns.abs_diff(300) <= 1);
    assert_eq!((s.qbufs, s.buffers_done, s.with_fence, s.queues), (6, 6, 2, 3));
}

#[test]
fn queues_of_one_name_are_one_row_and_intervals_restart_counts() {
    let mut v = Vb2::default();
    // A client that closes and reopens its node gets a new queue.
    for q in [0x10, 0x20] {
        v.named(q, who("vivid", "video0", 1, 5));
        v.stage(q, q + 1, VB2_QBUF, 0);
    }
    let s = v.summary();
    assert_eq!(s.by_queue.len(), 1);
    assert_eq!((s.by_queue[0].queues, s.by_queue[0].figures.qbufs), (2, 2));
    v.reset_interval();
    v.stage(0x10, 0x11, VB2_BUF_DONE, 9);
    let s = v.summary();
    assert_eq!((s.by_queue[0].figures.qbufs, s.by_queue[0].figures.dones), (0, 1));
    assert_eq!(s.by_queue[0].label(), "vivid vivid.0 video0 capture");
}

#[test]
fn nodes_are_recognised_and_other_strings_are_not() {
    for ok in ["video0", "video12", "v4l-subdev3", "radio1", "vbi0", "swradio0", "v4l-touch0"] {
        assert!(looks_like_a_node(ok), "{ok}");
    }
    for bad in ["video", "videox", "vim2m.0", "", "kworker/0:1", "video0 "] {
        assert!(!looks_like_a_node(bad), "{bad}");
    }
}
