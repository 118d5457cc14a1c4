//! The truth workload's scenarios: vgem fences of known lifetimes, counted
//! and timed by fencescope (truth, probe, killed, top, demo, smp, overload).
use super::{Scenario, WARM_DONE, WARM_UP};

/// Lifetimes the truth workload injects: (ms, count).
pub const TRUTH_FENCES: [(f64, u32); 2] = [(5.0, 200), (20.0, 200)];
/// Exports of a fence-less buffer: each hands out the stub.
pub const TRUTH_STUB_EXPORTS: u32 = 20;

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
fs_start raw /tmp/raw.json record --verify --attach raw-tracepoint -o /tmp/raw.fsc --report json || exit 1
fs_start second /tmp/second.json watch --verify --attach {second_mode} --duration 30 --format json || exit 1
{WARM_DONE}
{workload} >/tmp/truth.json || exit 1
sleep 0.5
fs_stop raw || exit 1
fs_wait second || exit 1
fencescope report /tmp/raw.fsc --format json >/tmp/replay.json || exit 1
base64 /tmp/raw.fsc >/tmp/raw.b64
for f in truth.json raw.json second.json replay.json raw.err probe.txt; do emit $f /tmp/$f; done
emit raw.fsc.b64 /tmp/raw.b64
"#,
        workload = workload_cmd()
    );
    Scenario::new("truth", "vgem", script, 600)
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

/// A recorder killed with SIGKILL mid-run: its capture must still report
/// every complete chunk (flushed once a second) and say it was cut. It
/// serves metrics while it records, read before the kill.
pub fn killed() -> Scenario {
    let script = r#"ifconfig lo 127.0.0.1 up
fs_start killed /dev/null record -o /tmp/killed.fsc --serve 127.0.0.1:9464 || exit 1
fence-workload vgem --fences 5:200 >/tmp/truth.json || exit 1
sleep 2
wget -q -O /tmp/metrics.txt http://127.0.0.1:9464/metrics || exit 1
kill -KILL $(cat /tmp/killed.pid)
wait $(cat /tmp/killed.pid)
fencescope report /tmp/killed.fsc --format json >/tmp/killed.json 2>/tmp/report.err
echo "report exit $?" >>/tmp/report.err
for f in truth.json killed.json report.err metrics.txt; do emit $f /tmp/$f; done
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
fs_start top /tmp/top.txt top --verify --headless 100x30 --attach raw-tracepoint --interval 500 -o /tmp/top.fsc --serve 127.0.0.1:9464 || exit 1
{WARM_DONE}
{workload} >/tmp/truth.json || exit 1
sleep 1.5
wget -q -O /tmp/metrics.txt http://127.0.0.1:9464/metrics || exit 1
fs_stop top || exit 1
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
    s += "fs_start watch /tmp/report.txt watch --verify || exit 1\n";
    s += WARM_DONE;
    s += &format!("{} >/tmp/truth.json || exit 1\n", workload_cmd());
    s += "sleep 0.5\nfs_stop watch || exit 1\n";
    s += "sed -n '/^verify:/,$p' /tmp/watch.err >>/tmp/report.txt\n";
    s += "emit report.txt /tmp/report.txt\nemit truth.json /tmp/truth.json\n";
    Scenario::new("demo", "vgem", s, 600)
}

/// Runs of the SMP truth scenario, and what each run makes.
pub const SMP_RUNS: u32 = 20;
pub const SMP_PRODUCERS: u32 = 2;
pub const SMP_FENCES: u32 = 100;
pub const SMP_CPUS: u32 = 4;

/// Four vCPUs: two producers on CPUs 0 and 1, the signaller on 2, the
/// waiter on 3, so every fence's records come from two or three CPUs; the
/// same recording run [`SMP_RUNS`] times in a row, each count checked.
pub fn smp() -> Scenario {
    let script = format!(
        r#"{WARM_UP}{WARM_DONE}fence-workload vgem-smp --producers 1 --fences 4 >/dev/null || exit 1
i=0
while [ $i -lt {SMP_RUNS} ]; do
    fs_start smp-$i /tmp/smp-$i.json record --verify -o /tmp/smp-$i.fsc --report json || exit 1
    fence-workload vgem-smp --producers {SMP_PRODUCERS} --fences {SMP_FENCES} --producer-cpu 0 --signal-cpu 2 --waiter-cpu 3 >/tmp/truth-$i.json || exit 1
    sleep 0.5
    fs_stop smp-$i || exit 1
    emit smp-$i.json /tmp/smp-$i.json
    emit truth-$i.json /tmp/truth-$i.json
    grep -h -e recorded -e dropped -e verify: /tmp/smp-$i.err
    i=$((i + 1))
done
"#
    );
    let mut sc = Scenario::new("smp", "vgem", script, 1200);
    sc.machine.cpus = SMP_CPUS;
    sc
}

/// Fences the overload run makes, as fast as the producer can: their
/// records fill [`OVERLOAD_RING_MB`] several times over.
pub const OVERLOAD_FENCES: u32 = 5_000;
/// The overload run's ring, MiB: the smallest there is.
pub const OVERLOAD_RING_MB: u32 = 1;

/// A ring that cannot carry the run: the reader waits until the end (the
/// benchmarks' switch), so every record past the first MiB is dropped.
/// ftrace witnesses the same run, so the drops fencescope reports are held
/// against the fences it missed; `-v` shows the kernel side's own log of
/// its failed reservations. Every destroy it got says (from the fence's
/// flags) that its fence had signalled, as each of these has.
pub fn overload() -> Scenario {
    let script = format!(
        r#"{WARM_UP}fs_start over /tmp/over.json -v record --verify --ring-mb {OVERLOAD_RING_MB} --defer-reading -o /tmp/over.fsc --report json || exit 1
{WARM_DONE}fence-workload vgem-rate --fences {OVERLOAD_FENCES} >/tmp/truth.json || exit 1
sleep 0.5
fs_stop over || exit 1
fencescope report /tmp/over.fsc --format json >/tmp/replay.json || exit 1
fencescope dump /tmp/over.fsc >/tmp/dump.txt || exit 1
grep -c 'FenceDestroy' /tmp/dump.txt >/tmp/destroys.txt
grep -c 'FenceDestroy.*signalled: Some(true)' /tmp/dump.txt >>/tmp/destroys.txt
for f in truth.json over.json over.err replay.json destroys.txt; do emit $f /tmp/$f; done
"#
    );
    Scenario::new("overload", "vgem", script, 600)
}
