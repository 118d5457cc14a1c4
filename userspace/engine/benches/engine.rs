//! Engine throughput on a synthetic stream shaped like a compositor session
//! (see `synthetic`). The baseline is decoding the same bytes
//! without feeding the engine, measured in the same run.
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use fencescope_engine::{Engine, Event, Symbols, synthetic};

fn stream(fences: u64) -> Vec<Vec<u8>> {
    let events = synthetic::compositor_session(fences, 1, 1_000_000);
    events
        .iter()
        .map(|e| {
            let mut b = Vec::new();
            e.encode(&mut b);
            b
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let records = stream(20_000);
    let mut g = c.benchmark_group("engine");
    g.throughput(Throughput::Elements(records.len() as u64));
    g.bench_function("decode only (baseline)", |b| {
        b.iter(|| {
            let mut n = 0u64;
            for r in &records {
                n += Event::decode(r).map(|e| e.meta.ts_ns & 1).unwrap_or(0);
            }
            n
        })
    });
    g.bench_function("decode + engine", |b| {
        b.iter(|| {
            let mut e = Engine::default().with_symbols(Symbols::default());
            for r in &records {
                if let Ok(ev) = Event::decode(r) {
                    e.feed(&ev);
                }
            }
            e.summary().events
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
