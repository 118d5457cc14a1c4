//! The cost of watching: the producer's top fence rate with and without
//! tracers, in one boot.
use std::path::PathBuf;

use super::Scenario;

/// Fences per run of the rate benchmark, and runs per condition.
pub const BENCH_FENCES: u32 = 20_000;
pub const BENCH_RUNS: u32 = 3;
/// Rounds of the timed fence ioctls (attach, export, signal) per condition.
pub const IOCTL_ROUNDS: u32 = 2_000;

/// The pairing bpftrace users write by hand: init to signal by (context,
/// seqno), into a histogram. Run beside fencescope for its cost.
const BPFTRACE_PAIRING: &str = r#"tracepoint:dma_fence:dma_fence_init { @start[args.context, args.seqno] = nsecs; }
tracepoint:dma_fence:dma_fence_signaled /@start[args.context, args.seqno]/ {
    @lifetime_ns = hist(nsecs - @start[args.context, args.seqno]);
    delete(@start[args.context, args.seqno]);
}
"#;

/// The cost of watching: the producer's top fence rate with no tracer, then
/// with `fencescope watch` (auto plan) attached, with its kernel side alone,
/// with its hooks alone (every program attached, none emitting: the floor
/// any tracer of these hooks pays), and (given Debian's bpftrace) with a bpftrace script doing the same
/// pairing; conditions alternate within each run so a drift of the machine
/// cannot favour one. Guest time under icount counts instructions, so a
/// ratio is the instruction cost per fence.
pub fn bench(bpftrace: Option<PathBuf>) -> Scenario {
    let bt = if bpftrace.is_some() {
        format!(
            r#"    /usr/bin/bpftrace /tmp/pair.bt >/tmp/bt-$run.out 2>&1 &
    B=$!
    wait_for /tmp/bt-$run.out Attaching 600 || exit 1
    fence-workload vgem-rate --fences {BENCH_FENCES} >/tmp/bpftrace-$run.json || exit 1
    kill -INT $B; wait $B
    emit bpftrace-$run.json /tmp/bpftrace-$run.json; emit bt-$run.out /tmp/bt-$run.out
"#
        )
    } else {
        String::new()
    };
    let script = format!(
        r#"cat >/tmp/pair.bt <<'BT'
{BPFTRACE_PAIRING}BT
fence-workload vgem-rate --fences 2000 >/dev/null || exit 1
run=0
while [ $run -lt {BENCH_RUNS} ]; do
    fence-workload vgem-rate --fences {BENCH_FENCES} >/tmp/off-$run.json || exit 1
    fs_start on-$run /tmp/on-$run.report watch --format json || exit 1
    fence-workload vgem-rate --fences {BENCH_FENCES} >/tmp/on-$run.json || exit 1
    fs_stop on-$run || exit 1
    # The kernel side alone: the reader waits until the run is over.
    fs_start kernel-$run /tmp/kernel-$run.report watch --format json --ring-mb 64 --defer-reading || exit 1
    fence-workload vgem-rate --fences {BENCH_FENCES} >/tmp/kernel-$run.json || exit 1
    fs_stop kernel-$run || exit 1
    # The hooks alone: every program attached, none emitting a record.
    fs_start hooks-$run /dev/null watch --format json --emit-nothing || exit 1
    fence-workload vgem-rate --fences {BENCH_FENCES} >/tmp/hooks-$run.json || exit 1
    fs_stop hooks-$run || exit 1
    # Perturbation: the fence ioctls timed by the workload itself, without
    # and with fencescope watching (its report has its own export figure).
    fence-workload vgem-ioctls --rounds {IOCTL_ROUNDS} >/tmp/ioctl-off-$run.json || exit 1
    fs_start ioctl-$run /tmp/ioctl-on-$run.report watch --format json || exit 1
    fence-workload vgem-ioctls --rounds {IOCTL_ROUNDS} >/tmp/ioctl-on-$run.json || exit 1
    fs_stop ioctl-$run || exit 1
{bt}    for f in off-$run.json on-$run.json on-$run.report kernel-$run.json kernel-$run.report hooks-$run.json ioctl-off-$run.json ioctl-on-$run.json ioctl-on-$run.report; do emit $f /tmp/$f; done
    run=$((run + 1))
done
"#
    );
    let mut sc = Scenario::new("bench", "vgem", script, 1200);
    if let Some(root) = bpftrace {
        // bpftrace's LLVM and clang libraries: a 300 MB initramfs.
        sc.extra = vec![(root, "usr")];
        sc.machine.memory_mb = 3072;
    }
    sc
}

/// Fences of the long live run that shows fencescope's memory stays flat.
pub const LIVE_MEMORY_FENCES: u32 = 10_000_000;
/// Seconds between two samples of its resident memory.
pub const LIVE_MEMORY_SAMPLE_S: u32 = 5;

/// `fencescope watch` through `fences` vgem fences made as fast as the
/// producer can, its resident memory sampled meanwhile (uptime, VmRSS kB)
/// and its peak (VmHWM) read before it stops. No `--verify`: ftrace's
/// buffer cannot hold ten million fences' events, and this measures memory,
/// not figures (the report's counts are checked against the producer's).
/// Two vCPUs on wall-clock time: a rate, not a timing, is what it needs,
/// and instruction counting would make it several times longer.
pub fn live_memory(fences: u32) -> Scenario {
    let script = format!(
        r#"fence-workload vgem-rate --fences 2000 >/dev/null || exit 1
fs_start mem /tmp/mem.report watch --format json || exit 1
P=$(cat /tmp/mem.pid)
( while kill -0 $P 2>/dev/null; do
    echo "$(cut -d' ' -f1 /proc/uptime) $(awk '/^VmRSS/ {{print $2}}' /proc/$P/status)"
    sleep {LIVE_MEMORY_SAMPLE_S}
done ) >/tmp/rss.txt &
S=$!
fence-workload vgem-rate --fences {fences} >/tmp/mem.json || exit 1
awk '/^VmHWM/ {{print $2}}' /proc/$P/status >/tmp/hwm.txt
fs_stop mem || exit 1
kill $S 2>/dev/null
for f in mem.json mem.report rss.txt hwm.txt; do emit $f /tmp/$f; done
"#
    );
    let mut sc = Scenario::new("live-memory", "vgem", script, 3600);
    sc.machine.cpus = 2;
    sc.machine.icount = false;
    sc
}
