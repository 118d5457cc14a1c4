//! A `top` frame at 100 k events/s: one second of a synthetic compositor
//! session (12,500 fences over 8 timelines, 8 records each) is fed to the
//! engine, then one refresh: summary, oldest fences, state update, the
//! detail histogram and drawing at 120×40. The baseline, measured in the
//! same run, is feeding that second of events alone; the frame's budget is
//! 100 ms.
use criterion::{Criterion, criterion_group, criterion_main};
use fencescope_engine::{Engine, synthetic};
use fencescope_top::{Top, draw};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

const EVENTS_PER_SEC: u64 = 100_000;

fn bench(c: &mut Criterion) {
    let fences = EVENTS_PER_SEC / 8;
    let events = synthetic::compositor_session(fences, 8, 1_000_000_000 / fences);
    let mut engine = Engine::default();
    for e in &events {
        engine.feed(e);
    }
    let mut g = c.benchmark_group("top at 100k events/s");
    g.bench_function("feed one second of events (baseline)", |b| {
        b.iter(|| {
            let mut e = Engine::default();
            events.iter().for_each(|ev| e.feed(ev));
            e.last_ns()
        })
    });
    let mut top = Top::new("bench", 1_000_000_000);
    top.key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    let mut term = Terminal::new(TestBackend::new(120, 40)).expect("test backend");
    let mut now = engine.last_ns();
    g.bench_function("one frame", |b| {
        b.iter(|| {
            now += 1_000_000_000;
            top.update(now, engine.summary(), engine.oldest_in_flight(now, 8));
            if let Some((_, key)) = top.detail_key() {
                top.detail_histogram = engine.distributions().lifetimes.remove(&key);
            }
            term.draw(|f| draw(f, &top)).expect("draw");
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
