//! videobuf2 producers: vivid (no fences, before the series) and the
//! fencefix fixture (the series' semantics, mode by mode).
use super::{Scenario, WARM_DONE, WARM_UP};

/// Frames each vivid client streams, and its buffers.
pub const VIVID_FRAMES: u32 = 30;
pub const VIVID_BUFFERS: u32 = 4;
/// vivid instances, one streaming client on each: fencescope must name
/// each queue apart (device, node, process).
pub const VIVID_CLIENTS: u32 = 2;

/// vivid streaming: a stock videobuf2 producer (no fences: the state before
/// the series), two instances each streamed by its own client at once,
/// watched at the vb2 tracepoints and `vb2_buffer_done`.
pub fn vivid() -> Scenario {
    let script = format!(
        r#"rmmod vivid && insmod /modules/$(grep -- '-vivid.ko$' /modules/order) n_devs={VIVID_CLIENTS} || exit 1
fs_start warm /dev/null watch || exit 1
fence-workload v4l2 --frames 4 --buffers {VIVID_BUFFERS} >/dev/null || exit 1
fs_start vivid /tmp/vivid.json record --verify -o /tmp/vivid.fsc --report json || exit 1
{WARM_DONE}
pids=
for n in $(seq 0 $(({VIVID_CLIENTS} - 1))); do
    fence-workload v4l2 --nth $n --frames {VIVID_FRAMES} --buffers {VIVID_BUFFERS} >/tmp/truth-$n.json &
    pids="$pids $!"
done
for p in $pids; do wait $p || exit 1; done
sleep 0.5
fs_stop vivid || exit 1
fencescope report /tmp/vivid.fsc >/tmp/vivid.txt || exit 1
for f in /tmp/truth-*.json /tmp/vivid.json /tmp/vivid.err /tmp/vivid.txt; do emit ${{f##*/}} $f; done
"#
    );
    Scenario::new("vivid", "vivid", script, 600)
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
    fs_start $name /dev/null record --verify -o /tmp/$name.fsc || exit 1
    fence-workload m2m "$@" >/tmp/$name.json || exit 1
    [ -n "$LINGER" ] && sleep $LINGER
    fs_stop $name || exit 1
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
