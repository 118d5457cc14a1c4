//! A scenario: the modules it loads and the shell script the guest runs, put
//! into an initramfs with the static binaries and booted on one kernel.
//! `cargo xtask vm`, the demo and the VM tests all go through [`run`].
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Result;

use crate::build::GuestBins;
use crate::initramfs::Initramfs;
use crate::kernels::Kernel;
use crate::qemu::{self, Boot};
use crate::workspace_root;

pub struct Scenario {
    pub name: String,
    /// Modules to load, by name; their dependencies come along.
    pub modules: Vec<&'static str>,
    /// Sourced by /init after the modules load. `emit NAME FILE` sends a file
    /// back to the host.
    pub script: String,
    pub timeout: Duration,
    /// Extra trees for the guest: (host root, directory below it), e.g.
    /// bpftrace and its libraries.
    pub extra: Vec<(PathBuf, &'static str)>,
    /// Guest memory, MiB.
    pub memory_mb: u32,
    /// Guest CPUs. Timing scenarios use one: with icount, several vCPUs take
    /// turns on one host thread and the guest clock runs on while the
    /// producer's vCPU waits its turn, so a deadline slips by the other's
    /// slice. On one CPU the SCHED_FIFO producer preempts everything.
    pub cpus: u32,
}

impl Scenario {
    /// One vCPU, 1 GiB, nothing beyond the binaries and `module`.
    pub fn new(name: &str, module: &'static str, script: String, timeout_secs: u64) -> Scenario {
        Scenario {
            name: name.into(),
            modules: vec![module],
            script,
            timeout: Duration::from_secs(timeout_secs),
            cpus: 1,
            extra: Vec::new(),
            memory_mb: 1024,
        }
    }
}

const INIT: &str = r#"#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mkdir -p /proc /sys /dev /tmp
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null
mount -t debugfs nodev /sys/kernel/debug 2>/dev/null
echo @@fencescope:init
# The workloads' producers run SCHED_FIFO for exact timings; they sleep most
# of the time, but no RT throttling may cut into a deadline.
echo -1 > /proc/sys/kernel/sched_rt_runtime_us
for m in $(cat /modules/order); do
    insmod /modules/$m || echo "insmod $m failed"
done
# (A file without a final newline gets one, so the end marker starts a line.)
emit() { echo "@@fencescope:file $1"; cat "$2"; [ -n "$(tail -c1 "$2")" ] && echo; echo "@@fencescope:end"; }
# Waits until FILE holds PATTERN (a program saying it is ready), at most S s.
wait_for() {
    local n=0
    while ! grep -q "$2" "$1" 2>/dev/null; do
        n=$((n + 1)); [ $n -gt $(($3 * 10)) ] && { echo "timed out waiting for $2 in $1"; cat "$1"; return 1; }
        sleep 0.1
    done
}
( . /scenario.sh )
rc=$?
# The kernel log, for the lockdep gate of the source-built kernel.
[ -e /send-dmesg ] && { dmesg >/tmp/dmesg.txt; emit dmesg.txt /tmp/dmesg.txt; }
echo "@@fencescope:exit $rc"
poweroff -f
"#;

fn busybox() -> Result<PathBuf> {
    for p in ["/bin/busybox", "/usr/bin/busybox"] {
        let p = PathBuf::from(p);
        if p.is_file() {
            return Ok(p);
        }
    }
    anyhow::bail!("no static busybox on this machine: run ./x setup")
}

/// Builds the initramfs for `scenario` on `kernel` and boots it.
pub fn run(scenario: &Scenario, kernel: &Kernel, bins: &GuestBins) -> Result<Boot> {
    let work = workspace_root().join("target").join("vm").join(format!(
        "{}-{}-{}",
        kernel.series.name(),
        kernel.arch.name(),
        scenario.name
    ));
    std::fs::create_dir_all(&work)?;
    let initrd = work.join("initrd.cpio");
    let mut fs = Initramfs::default();
    for d in ["bin", "dev", "proc", "sys", "tmp", "modules"] {
        fs.dir(d);
    }
    fs.char_dev("dev/console", 5, 1);
    fs.copy("bin/busybox", 0o755, &guest_busybox(kernel)?)?;
    fs.copy("bin/fencescope", 0o755, &bins.fencescope)?;
    fs.copy("bin/fence-workload", 0o755, &bins.workload)?;
    fs.file("init", 0o755, INIT.as_bytes().to_vec());
    fs.file("scenario.sh", 0o644, scenario.script.as_bytes().to_vec());
    let mut order = String::new();
    let mut seen = Vec::new();
    for m in &scenario.modules {
        for ko in kernel.module_chain(m)? {
            if seen.contains(&ko) {
                continue;
            }
            let name = format!("{:02}-{}.ko", seen.len(), module_name(&ko));
            fs.module(&format!("modules/{name}"), &ko)?;
            order.push_str(&name);
            order.push('\n');
            seen.push(ko);
        }
    }
    fs.file("modules/order", 0o644, order.into_bytes());
    let gated = kernel.series == crate::kernels::Series::V6_12Src;
    if gated {
        fs.file(crate::lockdep::DMESG_FLAG, 0o644, Vec::new());
    }
    for (root, dir) in &scenario.extra {
        // Libraries and programs; documentation and locales stay out.
        fs.tree(root, dir, &|rel| !rel.contains("/share/"))?;
    }
    if !scenario.extra.is_empty() {
        for (link, target) in [("lib", "usr/lib"), ("lib64", "usr/lib64")] {
            fs.symlink(link, target);
        }
    }
    fs.write(&initrd)?;
    let boot = qemu::boot(
        kernel.arch,
        &kernel.image,
        &initrd,
        &work,
        scenario.cpus,
        scenario.memory_mb,
        scenario.timeout,
    )?;
    if gated {
        crate::lockdep::gate(&boot)?;
    }
    Ok(boot)
}

fn module_name(ko: &Path) -> String {
    let file = ko.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
    file.split(".ko").next().unwrap_or(&file).to_string()
}

/// The guest's busybox: the host's own for its architecture, else one
/// fetched from Debian for the guest's.
fn guest_busybox(kernel: &Kernel) -> Result<PathBuf> {
    if kernel.arch == crate::Arch::host() {
        return busybox();
    }
    crate::kernels::busybox(kernel.arch)
}

/// Lifetimes the truth workload injects: (ms, count).
pub const TRUTH_FENCES: [(f64, u32); 2] = [(5.0, 200), (20.0, 200)];
/// Exports of a fence-less buffer: each hands out the stub.
pub const TRUTH_STUB_EXPORTS: u32 = 20;

/// Under TCG the first run of a kernel path is translated first and takes
/// milliseconds, and enabling a tracepoint patches kernel text, which is
/// translated again. So a throwaway fencescope enables the hooks, the
/// workload's paths run once, and only then do the measured tracers attach
/// (to already enabled tracepoints) while the throwaway one still holds them.
const WARM_UP: &str = "fencescope watch >/dev/null 2>/tmp/warm.err &
WARM=$!
wait_for /tmp/warm.err watching 120 || exit 1
fence-workload vgem --fences 5:10 --fences 20:2 --stub-exports 2 >/dev/null || exit 1
";
/// Ends the throwaway tracer once the measured ones are attached.
const WARM_DONE: &str = "kill -INT $WARM; wait $WARM\n";

fn workload_cmd() -> String {
    let fences: Vec<String> =
        TRUTH_FENCES.iter().map(|(ms, n)| format!("--fences {ms}:{n}")).collect();
    format!("fence-workload vgem {} --stub-exports {TRUTH_STUB_EXPORTS}", fences.join(" "))
}

/// The truth run: one fencescope recording with the raw tracepoint (printing
/// its live report when stopped with SIGINT), one watching with
/// `second_mode` (stopped by its own --duration, in guest seconds: idle time
/// costs no wall time under icount), both attached before the workload; then
/// the capture is replayed by `fencescope report` and sent back whole.
pub fn truth(second_mode: &str) -> Scenario {
    truth_with(second_mode, false)
}

/// [`truth`], on a kernel whose BTF is hidden (a tmpfs over
/// /sys/kernel/btf) when `hide_btf`: what a board kernel built without BTF
/// gives. `probe.txt` then says where the layout came from.
pub fn truth_with(second_mode: &str, hide_btf: bool) -> Scenario {
    let hide = if hide_btf {
        "mount -t tmpfs none /sys/kernel/btf || exit 1
"
    } else {
        ""
    };
    let script = format!(
        r#"{hide}fencescope probe >/tmp/probe.txt 2>&1
{WARM_UP}
fencescope record --attach raw-tracepoint -o /tmp/raw.fsc --report json >/tmp/raw.json 2>/tmp/raw.err &
R=$!
fencescope watch --attach {second_mode} --duration 30 --format json >/tmp/second.json 2>/tmp/second.err &
K=$!
wait_for /tmp/raw.err watching 120 || exit 1
wait_for /tmp/second.err watching 120 || exit 1
{WARM_DONE}
{workload} >/tmp/truth.json || exit 1
sleep 0.5
kill -INT $R
wait $R || {{ cat /tmp/raw.err; exit 1; }}
wait $K || {{ cat /tmp/second.err; exit 1; }}
fencescope report /tmp/raw.fsc --format json >/tmp/replay.json || exit 1
base64 /tmp/raw.fsc >/tmp/raw.b64
for f in truth.json raw.json second.json replay.json raw.err probe.txt; do emit $f /tmp/$f; done
emit raw.fsc.b64 /tmp/raw.b64
"#,
        workload = workload_cmd()
    );
    Scenario::new("truth", "vgem", script, 600)
}

/// Waits truth: each class is (lifetime ms, count, how the waiter asks).
/// The waiter asks [`WAITS_ASK_AFTER_MS`] after each birth, so each class's
/// waits last exactly lifetime - ask_after.
pub const WAITS_CLASSES: [(f64, u32, &str); 3] =
    [(5.0, 200, "export"), (20.0, 200, "dmabuf-poll"), (10.0, 50, "poll+export")];
pub const WAITS_ASK_AFTER_MS: f64 = 1.0;
/// The compositor's name, as a wait is attributed to it.
pub const WAITER: &str = "kwin_wayland";
/// The attach modes the waits scenario runs side by side.
pub const WAITS_MODES: [&str; 4] = ["auto", "kprobe", "fentry", "tracepoint"];

/// The waits run: one fencescope per attach mode (the `auto` one records,
/// and its capture is replayed), the KWin-like waiter asking in each style,
/// and exports of a fence-less buffer. A mode this kernel refuses leaves its
/// error in `MODE.err` and no `MODE.json`.
pub fn waits() -> Scenario {
    let classes: Vec<String> =
        WAITS_CLASSES.iter().map(|(ms, n, style)| format!("--fences {ms}:{n}:{style}")).collect();
    let workload = format!(
        "fence-workload vgem {} --ask-after-ms {WAITS_ASK_AFTER_MS} --stub-exports {TRUTH_STUB_EXPORTS} --waiter-comm {WAITER}",
        classes.join(" ")
    );
    let warm_workload = "fence-workload vgem --fences 5:4:export --fences 5:4:dmabuf-poll \
--fences 5:4:poll+export --ask-after-ms 1 --stub-exports 2 >/dev/null || exit 1";
    let modes = WAITS_MODES.join(" ");
    let script = format!(
        r#"# Throwaway tracers of every mode enable every hook first (see WARM_UP).
W=""
for m in {modes}; do
    fencescope watch --attach $m >/dev/null 2>/tmp/warm-$m.err & W="$W $!"
done
for m in {modes}; do until grep -q -e watching -e error: /tmp/warm-$m.err; do sleep 0.1; done; done
{warm_workload}
fencescope record --attach auto -o /tmp/auto.fsc --report json >/tmp/auto.json 2>/tmp/auto.err &
R=$!
P=""
for m in {modes}; do
    [ $m = auto ] && continue
    fencescope watch --attach $m --duration 60 --format json >/tmp/$m.json 2>/tmp/$m.err & P="$P $!"
done
# Filtered and interval views of the same run.
fencescope watch --comm {WAITER} --duration 60 --format json >/tmp/comm.json 2>/tmp/comm.err & P="$P $!"
fencescope watch --interval 1 --duration 60 --format json >/tmp/interval.jsonl 2>/tmp/interval.err & P="$P $!"
for m in {modes} comm interval; do until grep -q -e watching -e error: /tmp/$m.err; do sleep 0.1; done; done
kill -INT $W; wait $W
{workload} >/tmp/truth.json || exit 1
sleep 0.5
kill -INT $R; wait $R || {{ cat /tmp/auto.err; exit 1; }}
for p in $P; do wait $p; done
fencescope report /tmp/auto.fsc --format json >/tmp/replay.json || exit 1
for f in truth.json replay.json comm.json interval.jsonl; do emit $f /tmp/$f; done
base64 /tmp/auto.fsc >/tmp/auto.b64
emit auto.fsc.b64 /tmp/auto.b64
for m in {modes}; do
    grep -q '"groups"' /tmp/$m.json 2>/dev/null && emit $m.json /tmp/$m.json
    emit $m.err /tmp/$m.err
done
"#
    );
    Scenario::new("waits", "vgem", script, 900)
}

/// Frames the vivid scenario streams, and its buffers.
pub const VIVID_FRAMES: u32 = 30;
pub const VIVID_BUFFERS: u32 = 4;

/// vivid streaming: a stock videobuf2 producer (no fences: the state before
/// the series), watched at the vb2 tracepoints and `vb2_buffer_done`.
pub fn vivid() -> Scenario {
    let script = format!(
        r#"fencescope watch >/dev/null 2>/tmp/warm.err &
WARM=$!
wait_for /tmp/warm.err watching 120 || exit 1
fence-workload v4l2 --frames 4 --buffers {VIVID_BUFFERS} >/dev/null || exit 1
fencescope record -o /tmp/vivid.fsc --report json >/tmp/vivid.json 2>/tmp/vivid.err &
R=$!
wait_for /tmp/vivid.err watching 120 || exit 1
{WARM_DONE}
fence-workload v4l2 --frames {VIVID_FRAMES} --buffers {VIVID_BUFFERS} >/tmp/truth.json || exit 1
sleep 0.5
kill -INT $R; wait $R || {{ cat /tmp/vivid.err; exit 1; }}
fencescope report /tmp/vivid.fsc >/tmp/vivid.txt || exit 1
for f in truth.json vivid.json vivid.err vivid.txt; do emit $f /tmp/$f; done
"#
    );
    Scenario::new("vivid", "vivid", script, 600)
}

/// What fencescope says about the kernel, with its BTF and without.
pub fn probe() -> Scenario {
    let script = "fencescope probe >/tmp/probe.txt 2>&1; echo \"exit $?\" >>/tmp/probe.txt
fencescope --no-btf probe >/tmp/probe-nobtf.txt 2>&1; echo \"exit $?\" >>/tmp/probe-nobtf.txt
emit probe.txt /tmp/probe.txt
emit probe-nobtf.txt /tmp/probe-nobtf.txt
"
    .to_string();
    Scenario::new("probe", "vgem", script, 300)
}

/// Fences per run of the rate benchmark, and runs per condition.
pub const BENCH_FENCES: u32 = 20_000;
pub const BENCH_RUNS: u32 = 3;

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
    fencescope watch --format json >/tmp/on-$run.report 2>/tmp/on-$run.err &
    W=$!
    wait_for /tmp/on-$run.err watching 120 || exit 1
    fence-workload vgem-rate --fences {BENCH_FENCES} >/tmp/on-$run.json || exit 1
    kill -INT $W; wait $W || exit 1
    # The kernel side alone: the reader waits until the run is over.
    fencescope watch --format json --ring-mb 64 --defer-reading >/tmp/kernel-$run.report 2>/tmp/kernel-$run.err &
    W=$!
    wait_for /tmp/kernel-$run.err watching 120 || exit 1
    fence-workload vgem-rate --fences {BENCH_FENCES} >/tmp/kernel-$run.json || exit 1
    kill -INT $W; wait $W || exit 1
    # The hooks alone: every program attached, none emitting a record.
    fencescope watch --format json --emit-nothing >/dev/null 2>/tmp/hooks-$run.err &
    W=$!
    wait_for /tmp/hooks-$run.err watching 120 || exit 1
    fence-workload vgem-rate --fences {BENCH_FENCES} >/tmp/hooks-$run.json || exit 1
    kill -INT $W; wait $W || exit 1
{bt}    for f in off-$run.json on-$run.json on-$run.report kernel-$run.json kernel-$run.report hooks-$run.json; do emit $f /tmp/$f; done
    run=$((run + 1))
done
"#
    );
    let mut sc = Scenario::new("bench", "vgem", script, 1200);
    if let Some(root) = bpftrace {
        // bpftrace's LLVM and clang libraries: a 300 MB initramfs.
        sc.extra = vec![(root, "usr")];
        sc.memory_mb = 3072;
    }
    sc
}

/// Arrays the arrays scenario exports, and fences in each.
pub const ARRAYS: u32 = 10;
pub const ARRAY_MEMBERS: u32 = 3;

/// Exports of busy buffers: each hands out a `dma_fence_array` of read fences.
pub fn arrays() -> Scenario {
    let script = format!(
        r#"fencescope watch >/dev/null 2>/tmp/warm.err &
WARM=$!
wait_for /tmp/warm.err watching 120 || exit 1
fence-workload vgem-arrays --arrays 2 >/dev/null || exit 1
fencescope record -o /tmp/arrays.fsc --report json >/tmp/arrays.json 2>/tmp/arrays.err &
R=$!
wait_for /tmp/arrays.err watching 120 || exit 1
{WARM_DONE}
fence-workload vgem-arrays --arrays {ARRAYS} --members {ARRAY_MEMBERS} >/tmp/truth.json || exit 1
sleep 0.5
kill -INT $R; wait $R || {{ cat /tmp/arrays.err; exit 1; }}
fencescope report /tmp/arrays.fsc >/tmp/arrays.txt
for f in truth.json arrays.json arrays.txt; do emit $f /tmp/$f; done
"#
    );
    Scenario::new("arrays", "vgem", script, 300)
}

/// Exports in each half of the compare scenario.
pub const COMPARE_EXPORTS: u32 = 100;

/// Before and after, as the series changes things: first a compositor that
/// only ever gets the stub (no fence on the buffer), then one whose buffers
/// carry real fences; `fencescope compare` of the two captures, their
/// differential flamegraph, and the "after" capture as a Perfetto trace.
pub fn compare() -> Scenario {
    let n = COMPARE_EXPORTS;
    let script = format!(
        r#"fencescope watch >/dev/null 2>/tmp/warm.err &
WARM=$!
wait_for /tmp/warm.err watching 120 || exit 1
fence-workload vgem --fences 5:4 --stub-exports 4 >/dev/null || exit 1
for side in before after; do
    fencescope record -o /tmp/$side.fsc 2>/tmp/$side.err &
    R=$!
    wait_for /tmp/$side.err watching 120 || exit 1
    if [ $side = before ]; then
        fence-workload vgem --fences 5:0 --stub-exports {n} --waiter-comm {WAITER} >/dev/null || exit 1
    else
        fence-workload vgem --fences 5:{n} --ask-after-ms 1 --waiter-comm {WAITER} >/dev/null || exit 1
    fi
    kill -INT $R; wait $R || exit 1
done
kill -INT $WARM; wait $WARM
fencescope compare /tmp/before.fsc /tmp/after.fsc >/tmp/compare.txt 2>&1 || exit 1
fencescope flamegraph --diff /tmp/before.fsc /tmp/after.fsc -o /tmp/diff.svg || exit 1
fencescope export /tmp/after.fsc --perfetto /tmp/after.json || exit 1
for f in compare.txt diff.svg after.json; do emit $f /tmp/$f; done
"#
    );
    Scenario::new("compare", "vgem", script, 300)
}

/// A recorder killed with SIGKILL mid-run: its capture must still report
/// every complete chunk (flushed once a second) and say it was cut.
pub fn killed() -> Scenario {
    let script = r#"fencescope record -o /tmp/killed.fsc 2>/tmp/killed.err &
R=$!
wait_for /tmp/killed.err watching 120 || exit 1
fence-workload vgem --fences 5:200 >/tmp/truth.json || exit 1
sleep 2
kill -KILL $R
wait $R
fencescope report /tmp/killed.fsc --format json >/tmp/killed.json 2>/tmp/report.err
echo "report exit $?" >>/tmp/report.err
for f in truth.json killed.json report.err; do emit $f /tmp/$f; done
"#
    .to_string();
    Scenario::new("killed", "vgem", script, 300)
}

/// `top` live on the truth workload, headless on a 100×30 screen, recording
/// what it shows and serving metrics; the capture's report is the reference
/// for the screen and the endpoint.
pub fn top() -> Scenario {
    let script = format!(
        r#"{WARM_UP}
ifconfig lo 127.0.0.1 up
fencescope top --headless 100x30 --attach raw-tracepoint --interval 500 -o /tmp/top.fsc --serve 127.0.0.1:9464 >/tmp/top.txt 2>/tmp/top.err &
T=$!
wait_for /tmp/top.err watching 120 || exit 1
{WARM_DONE}
{workload} >/tmp/truth.json || exit 1
sleep 1.5
wget -q -O /tmp/metrics.txt http://127.0.0.1:9464/metrics || exit 1
kill -INT $T
wait $T || {{ cat /tmp/top.err; exit 1; }}
fencescope report /tmp/top.fsc --format json >/tmp/report.json || exit 1
for f in top.txt top.err report.json truth.json metrics.txt; do emit $f /tmp/$f; done
"#,
        workload = workload_cmd()
    );
    Scenario::new("top", "vgem", script, 600)
}

/// The demo: what fencescope says about the kernel, then a live watch of the
/// truth workload and its text report.
pub fn demo() -> Scenario {
    let mut s = String::from(WARM_UP);
    s.push_str("fencescope probe >/tmp/probe.txt 2>&1\nemit probe.txt /tmp/probe.txt\n");
    s += "fencescope watch >/tmp/report.txt 2>/tmp/watch.err &\nW=$!\n";
    s += "wait_for /tmp/watch.err watching 120 || exit 1\n";
    s += WARM_DONE;
    s += &format!("{} >/tmp/truth.json || exit 1\n", workload_cmd());
    s += "sleep 0.5\nkill -INT $W\nwait $W || { cat /tmp/watch.err; exit 1; }\n";
    s += "emit report.txt /tmp/report.txt\nemit truth.json /tmp/truth.json\n";
    Scenario::new("demo", "vgem", s, 600)
}

/// Frames per mode of the fixture scenario, and the starvation injected.
pub const M2M_FRAMES: u32 = 20;
pub const M2M_STARVE_MS: f64 = 200.0;
/// fencefix's job time, and how long after committing a job the client
/// hands its CAPTURE buffer to the waiter.
pub const M2M_JOB_MS: u32 = 10;
pub const M2M_HAND_AFTER_MS: f64 = 1.0;

/// The series' world on the fencefix fixture: the same decoder-like client
/// and KWin-like waiter under each mode (none, queue, run), each recorded;
/// queue mode starved of OUTPUT; a client killed mid-job; `compare` of
/// none against run.
pub fn m2m() -> Scenario {
    let script = format!(
        r#"P=/sys/module/fencefix/parameters
echo {M2M_JOB_MS} > $P/job_ms
{WARM_UP}
fence-workload m2m --frames 2 >/dev/null || exit 1
{WARM_DONE}
run() {{ # NAME MODE WORKLOAD-ARGS...
    name=$1; echo $2 > $P/mode; shift 2
    fencescope record -o /tmp/$name.fsc 2>/tmp/$name.err &
    R=$!
    wait_for /tmp/$name.err watching 120 || exit 1
    fence-workload m2m "$@" >/tmp/$name.json || exit 1
    [ -n "$LINGER" ] && sleep $LINGER
    kill -INT $R; wait $R || {{ cat /tmp/$name.err; exit 1; }}
    fencescope report /tmp/$name.fsc --format json >/tmp/$name.report.json || exit 1
    fencescope report /tmp/$name.fsc --stages 2 >/tmp/$name.report.txt || exit 1
    for f in $name.json $name.err $name.report.json $name.report.txt; do emit $f /tmp/$f; done
}}
for mode in none queue run; do
    run $mode $mode --frames {M2M_FRAMES} --style export --hand-after-ms {M2M_HAND_AFTER_MS}
done
run starved queue --frames 5 --starve-ms {M2M_STARVE_MS}
# The series as posted: fences only on DMABUF imports, so these EXPBUF'd
# MMAP buffers get none, and the compositor the stub.
run posted posted --frames 5 --style export
# Half the CAPTURE buffers never exported: queued without a fence beside
# fenced ones.
run partial queue --frames 8 --buffers 4 --export-only 2 --style export
# A GPU-like producer writes each decoded buffer in place: vgem's fence on it.
run foreign queue --frames 5 --foreign-ms 2
run starved-run run --frames 5 --starve-ms {M2M_STARVE_MS}
# A crashed client: its last CAPTURE fence is never armed, never signalled;
# the waiter, which still holds the device, gives up after 4 s.
LINGER=2 run killed queue --frames 5 --kill-after 3 --wait-limit-ms 4000
fencescope compare /tmp/none.fsc /tmp/run.fsc >/tmp/compare.txt 2>&1 || exit 1
emit compare.txt /tmp/compare.txt
"#
    );
    let mut sc = Scenario::new("m2m", "fencefix", script, 900);
    // The warm-up's workload makes vgem fences.
    sc.modules.push("vgem");
    sc
}
