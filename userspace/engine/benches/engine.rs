//! Engine throughput on a synthetic stream shaped like a compositor session:
//! per fence an init, its names, a resv add, an export (entry, sync_file,
//! return), a signal and a destroy. The baseline is decoding the same bytes
//! without feeding the engine, measured in the same run.
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use fencescope_engine::{Body, Engine, Event, Meta, Name, Phase, Symbols};

fn stream(fences: u64) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut push = |ts: u64, tid: u32, comm: &str, body: Body| {
        let meta = Meta { ts_ns: ts, cpu: 0, tgid: tid, tid, comm: Name::new(comm), via: None };
        let mut b = Vec::new();
        Event { meta, body }.encode(&mut b);
        out.push(b);
    };
    for i in 0..fences {
        let t = i * 1_000_000;
        // A few hundred live buffers' worth of addresses, reused.
        let fence = 0xffff_8880_0000_0000 + (i % 512) * 256;
        let names = Body::FenceNames {
            context: 1000 + i as u32,
            seqno: 1,
            driver: Name::new("vgem"),
            timeline: Name::new("unbound"),
        };
        push(t, 10, "producer", Body::FenceInit { fence, context: 1000 + i, seqno: 1 });
        push(t, 10, "producer", names);
        push(t + 1_000, 10, "producer", Body::ResvAdd { resv: 0x55, fence, usage: 1 });
        push(
            t + 2_000,
            20,
            "kwin_wayland",
            Body::Export { phase: Phase::Entry, object: 0xf1, ret: 0 },
        );
        push(t + 3_000, 20, "kwin_wayland", Body::SyncFile { fence, context: 1000 + i, seqno: 1 });
        push(
            t + 4_000,
            20,
            "kwin_wayland",
            Body::Export { phase: Phase::Return, object: 0, ret: 0 },
        );
        push(t + 500_000, 10, "producer", Body::FenceSignaled { fence, context: 0, seqno: 0 });
        push(t + 600_000, 10, "producer", Body::FenceDestroy { fence });
    }
    out
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
