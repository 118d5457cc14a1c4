use super::*;
use fencescope_engine::LatencySummary;

const S: u64 = 1_000_000_000;

fn group(driver: &str, fences: u64, p99_ms: u64, in_flight: u64) -> GroupSummary {
    GroupSummary {
        driver: driver.into(),
        timeline: "unbound".into(),
        fences,
        signalled: fences.saturating_sub(in_flight),
        in_flight,
        lifetime: LatencySummary {
            count: fences,
            p99_ns: p99_ms * 1_000_000,
            ..Default::default()
        },
        ..Default::default()
    }
}

fn wait(thread: &str, style: &str, waits: u64) -> WaitSummary {
    WaitSummary {
        process: "kwin_wayland".into(),
        thread: thread.into(),
        style: style.into(),
        waits,
        ..Default::default()
    }
}

fn summary(vgem: u64, hantro: u64, waits: u64) -> Summary {
    Summary {
        events: 4 * (vgem + hantro),
        groups: vec![group("hantro", hantro, 30, 2), group("vgem", vgem, 5, 0)],
        waits: vec![wait("kwin_wayland", "export", waits), wait("kwin_wayland", "dmabuf-poll", 1)],
        ..Default::default()
    }
}

fn press(top: &mut Top, code: KeyCode) -> Action {
    top.key(KeyEvent::new(code, KeyModifiers::NONE))
}

#[test]
fn rates_are_deltas_over_the_time_between_updates() {
    let mut t = Top::new("test", S);
    t.update(10 * S, summary(100, 10, 0), vec![]);
    assert!(t.timelines.iter().all(|r| r.per_sec == 0.0), "no rate from one update");
    t.update(12 * S, summary(160, 30, 8), vec![]);
    let rates: Vec<f64> = t.timelines.iter().map(|r| r.per_sec).collect();
    assert_eq!(rates, [10.0, 30.0]);
    assert_eq!(t.waits[0].per_sec, 4.0);
    assert_eq!(t.history.back(), Some(&(12 * S, 40.0)));
    assert_eq!(t.since_ns, 10 * S);
}

#[test]
fn history_keeps_one_minute() {
    let mut t = Top::new("test", S);
    for i in 0..100u64 {
        t.update(i * S, summary(i, 0, 0), vec![]);
    }
    assert_eq!(t.history.len(), 61);
    assert_eq!(t.history.front().map(|h| h.0), Some(39 * S));
}

#[test]
fn pause_holds_the_figures_still() {
    let mut t = Top::new("test", S);
    t.update(S, summary(1, 1, 0), vec![]);
    assert_eq!(press(&mut t, KeyCode::Char('p')), Action::Continue);
    t.update(2 * S, summary(50, 1, 0), vec![]);
    assert_eq!(t.summary.groups[1].fences, 1);
    press(&mut t, KeyCode::Char('p'));
    t.update(3 * S, summary(50, 1, 0), vec![]);
    assert_eq!(t.summary.groups[1].fences, 50);
}

#[test]
fn sort_cycles_and_orders_rows() {
    let mut t = Top::new("test", S);
    t.update(S, summary(10, 1, 0), vec![]);
    t.update(2 * S, summary(30, 2, 0), vec![]);
    let names = |t: &Top| -> Vec<String> {
        t.timeline_rows().iter().map(|r| r.group.driver.clone()).collect()
    };
    assert_eq!(names(&t), ["hantro", "vgem"]);
    press(&mut t, KeyCode::Char('s'));
    assert_eq!((t.sort, names(&t)), (Sort::Rate, vec!["vgem".into(), "hantro".into()]));
    press(&mut t, KeyCode::Char('s'));
    assert_eq!((t.sort, names(&t)), (Sort::P99, vec!["hantro".into(), "vgem".into()]));
    press(&mut t, KeyCode::Char('s'));
    assert_eq!(t.sort, Sort::InFlight);
    press(&mut t, KeyCode::Char('s'));
    assert_eq!(t.sort, Sort::Name);
}

#[test]
fn filter_is_typed_after_slash_and_applied_on_enter() {
    let mut t = Top::new("test", S);
    t.update(S, summary(10, 1, 0), vec![]);
    press(&mut t, KeyCode::Char('/'));
    for c in "vgx".chars() {
        press(&mut t, KeyCode::Char(c));
    }
    press(&mut t, KeyCode::Backspace);
    assert_eq!(t.editing.as_deref(), Some("vg"));
    // While typing, q is a letter, not quit.
    assert_eq!(press(&mut t, KeyCode::Char('q')), Action::Continue);
    press(&mut t, KeyCode::Backspace);
    press(&mut t, KeyCode::Enter);
    assert_eq!(t.filter, "vg");
    assert_eq!(t.timeline_rows().len(), 1);
    assert!(t.wait_rows().is_empty());
    press(&mut t, KeyCode::Esc);
    assert_eq!(t.timeline_rows().len(), 2);
}

#[test]
fn selection_moves_within_the_focused_pane_and_opens_its_detail() {
    let mut t = Top::new("test", S);
    t.update(S, summary(10, 1, 3), vec![]);
    for _ in 0..5 {
        press(&mut t, KeyCode::Char('j'));
    }
    assert_eq!(t.selected, [1, 0]);
    press(&mut t, KeyCode::Tab);
    press(&mut t, KeyCode::Down);
    press(&mut t, KeyCode::Enter);
    assert_eq!(t.detail_key(), Some((Pane::Waits, "kwin_wayland dmabuf-poll".into())));
    press(&mut t, KeyCode::Up);
    assert_eq!(t.detail_key(), Some((Pane::Waits, "kwin_wayland export".into())));
    press(&mut t, KeyCode::Esc);
    assert_eq!(t.detail_key(), None);
    press(&mut t, KeyCode::BackTab);
    press(&mut t, KeyCode::Enter);
    assert_eq!(t.detail_key(), Some((Pane::Timelines, "vgem/unbound".into())));
}

#[test]
fn keys_quit_help_and_reset() {
    let mut t = Top::new("test", S);
    press(&mut t, KeyCode::Char('?'));
    assert!(t.help);
    press(&mut t, KeyCode::Esc);
    assert!(!t.help);
    assert_eq!(press(&mut t, KeyCode::Char('z')), Action::Reset);
    assert_eq!(press(&mut t, KeyCode::Char('q')), Action::Quit);
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert_eq!(t.key(ctrl_c), Action::Quit);
}

#[test]
fn a_reset_does_not_make_negative_rates() {
    let mut t = Top::new("test", S);
    t.update(S, summary(100, 10, 0), vec![]);
    t.reset(2 * S);
    t.update(2 * S, summary(0, 0, 0), vec![]);
    t.update(3 * S, summary(5, 0, 0), vec![]);
    assert_eq!(t.timelines[1].per_sec, 5.0);
    assert_eq!(t.since_ns, 2 * S);
}

#[test]
fn hanging_counts_fences_past_the_threshold() {
    let mut t = Top::new("test", S);
    let f = |age_ns| InFlightFence { age_ns, ..Default::default() };
    t.update(S, summary(1, 1, 0), vec![f(3 * S), f(S), f(S / 2)]);
    assert_eq!(t.hanging(), 2);
}
