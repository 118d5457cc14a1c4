//! What a start costs in BTF reading: this machine's kernel BTF parsed and
//! asked for `struct dma_fence`'s members and the signalled bit, as the
//! loader's layout does. Skipped where /sys/kernel/btf/vmlinux is unreadable.
use criterion::{Criterion, criterion_group, criterion_main};
use fencescope_btf::Btf;

fn layout(data: &[u8]) -> Option<(u32, u32, u32, i64)> {
    let btf = Btf::parse(data).ok()?;
    Some((
        btf.member_offset("dma_fence", "context")?,
        btf.member_offset("dma_fence", "seqno")?,
        btf.member_offset("dma_fence", "flags")?,
        btf.enum_value("dma_fence_flag_bits", "DMA_FENCE_FLAG_SIGNALED_BIT")?,
    ))
}

fn bench(c: &mut Criterion) {
    let Ok(data) = std::fs::read("/sys/kernel/btf/vmlinux") else {
        eprintln!("no readable /sys/kernel/btf/vmlinux: nothing to measure");
        return;
    };
    assert!(layout(&data).is_some(), "this kernel's BTF has no struct dma_fence");
    c.bench_function("vmlinux: parse + dma_fence layout", |b| b.iter(|| layout(&data)));
}

criterion_group!(benches, bench);
criterion_main!(benches);
