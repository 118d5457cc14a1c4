use super::*;
use fencescope_engine::{GroupSummary, Summary, WaitSummary};
use hdrhistogram::Histogram;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

const MS: u64 = 1_000_000;
const S: u64 = 1_000 * MS;

fn lat(count: u64, p50_ms: f64, p99_ms: f64, max_ms: f64) -> LatencySummary {
    let ns = |ms: f64| (ms * 1e6) as u64;
    LatencySummary {
        count,
        p50_ns: ns(p50_ms),
        p99_ns: ns(p99_ms),
        max_ns: ns(max_ms),
        ..Default::default()
    }
}

fn summary(scale: u64) -> Summary {
    Summary {
        events: 500 * scale,
        groups: vec![
            GroupSummary {
                driver: "hantro-vpu".into(),
                timeline: "vb2-capture".into(),
                fences: 30 * scale,
                signalled: 30 * scale - 2,
                in_flight: 2,
                oldest_in_flight_ns: 40 * MS,
                lifetime: lat(30 * scale, 33.2, 41.0, 45.5),
                vb2_done_to_signal: lat(30 * scale, 0.004, 0.011, 0.02),
                ..Default::default()
            },
            GroupSummary {
                driver: "dma_fence_stub".into(),
                timeline: "stub".into(),
                stub: true,
                fences: 1,
                signalled: 1,
                ..Default::default()
            },
        ],
        waits: vec![WaitSummary {
            process: "kwin_wayland".into(),
            thread: "kwin_wayland".into(),
            style: "dmabuf-poll".into(),
            waits: 28 * scale,
            zero_waits: 2 * scale,
            open: 1,
            latency: lat(28 * scale, 12.5, 30.1, 31.0),
            on: vec![("hantro/hantro-vpu".into(), 28 * scale)],
        }],
        vb2: fencescope_engine::Vb2Summary {
            by_queue: decoder_queues(scale),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// A decoder's two queues: frames with fences, bitstream without.
fn decoder_queues(scale: u64) -> Vec<fencescope_engine::Vb2QueueSummary> {
    [(9, "capture-mplane", 30), (10, "output-mplane", 0)]
        .into_iter()
        .map(|(queue_type, queue, fenced)| fencescope_engine::Vb2QueueSummary {
            driver: "hantro-vpu".into(),
            device: "fdea0000.video-codec".into(),
            node: "video1".into(),
            queue_type,
            queue: queue.into(),
            process: "chromium".into(),
            pid: 1234,
            queues: 1,
            buffers: 4,
            figures: fencescope_engine::Vb2Summary {
                qbufs: 32 * scale,
                dones: 30 * scale,
                with_fence: fenced * scale,
                qbuf_to_done: lat(30 * scale, 33.0, 35.0, 36.0),
                done_to_dqbuf: lat(30 * scale, 0.5, 1.0, 1.2),
                done_to_signal: if fenced > 0 {
                    lat(30, 0.004, 0.011, 0.02)
                } else {
                    lat(0, 0.0, 0.0, 0.0)
                },
                ..Default::default()
            },
        })
        .collect()
}

fn oldest(age_ns: u64) -> Vec<InFlightFence> {
    vec![InFlightFence {
        driver: "hantro-vpu".into(),
        timeline: "vb2-capture".into(),
        context: 41,
        seqno: 1207,
        age_ns,
        tgid: 1893,
        process: "chromium".into(),
    }]
}

/// Two updates a second apart (so rates show), then `keys`.
fn top_with(keys: &[KeyCode], age_ns: u64) -> Top {
    let mut t = Top::new("replay before.fsc ×1", S);
    t.update(10 * S, summary(1), oldest(age_ns.saturating_sub(S)));
    t.update(11 * S, summary(2), oldest(age_ns));
    for k in keys {
        t.key(KeyEvent::new(*k, KeyModifiers::NONE));
    }
    t
}

fn render(t: &Top, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| draw(f, t)).unwrap();
    term
}

#[test]
fn first_screen() {
    let term = render(&top_with(&[], 40 * MS), 100, 30);
    insta::assert_snapshot!(crate::screen_text(term.backend().buffer()));
}

#[test]
fn narrow_terminal_80x24() {
    let text = crate::screen_text(render(&top_with(&[], 40 * MS), 80, 24).backend().buffer());
    // Every figure the user came for is still on the smallest screen.
    for want in ["hantro-vpu/vb2-capture", "33.2ms", "kwin_wayland dmabuf-poll", "drops 0"] {
        assert!(text.contains(want), "{want} missing from\n{text}");
    }
    insta::assert_snapshot!(text);
}

#[test]
fn help_screen() {
    let term = render(&top_with(&[KeyCode::Char('?')], 40 * MS), 100, 30);
    insta::assert_snapshot!(crate::screen_text(term.backend().buffer()));
}

#[test]
fn detail_pane_shows_the_selected_rows_histogram() {
    let mut t = top_with(&[KeyCode::Enter], 40 * MS);
    let mut h = Histogram::new(3).unwrap();
    for v in [30 * MS, 31 * MS, 33 * MS, 34 * MS, 41 * MS, 45 * MS] {
        h.record(v).unwrap();
    }
    t.detail_histogram = Some(h);
    let term = render(&t, 100, 30);
    let text = crate::screen_text(term.backend().buffer());
    assert!(text.contains("Lifetimes of hantro-vpu/vb2-capture"), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn a_hanging_fence_is_red() {
    let term = render(&top_with(&[], 75 * S), 100, 30);
    let buf = term.backend().buffer();
    let text = crate::screen_text(buf);
    insta::assert_snapshot!(text);
    let y = text.lines().position(|l| l.contains("context 41 seqno 1207")).expect("listed");
    let x = text.lines().nth(y).unwrap().find("1m15s").expect("age shown") as u16;
    assert_eq!(buf[(x, y as u16)].fg, Color::Red);
}

#[test]
fn drops_are_shown_in_red() {
    let mut t = top_with(&[], 40 * MS);
    let mut s = summary(2);
    s.dropped = 1234;
    s.evicted = 7;
    t.update(12 * S, s, oldest(40 * MS));
    let term = render(&t, 80, 24);
    let buf = term.backend().buffer();
    let last = crate::screen_text(buf).lines().last().unwrap().to_string();
    assert!(last.starts_with("drops 1234 · evicted 7"), "{last}");
    assert_eq!(buf[(0, 23)].fg, Color::Red);
}

#[test]
fn durations_are_compact() {
    let got: Vec<String> =
        [0, 850_000, 4_994_000, 20_010_000, 250 * MS, 1_204 * MS, 123 * S].map(dur).to_vec();
    assert_eq!(got, ["-", "850us", "4.99ms", "20.0ms", "250ms", "1.20s", "2m03s"]);
}

#[test]
fn a_broken_contract_is_red_on_the_status_line() {
    let mut t = top_with(&[], 40 * MS);
    let mut s = summary(2);
    s.contract.arms = 5;
    s.contract.handed_out_unarmed = 5;
    t.update(12 * S, s, oldest(40 * MS));
    let term = render(&t, 100, 30);
    let buf = term.backend().buffer();
    let last = crate::screen_text(buf).lines().last().unwrap().to_string();
    let at = last.find("contract: 5 handed out unarmed, 0 never signalled").expect(&last);
    let x = last[..at].chars().count() as u16;
    assert_eq!(buf[(x, 29)].fg, Color::Red);
}
