//! Scenarios of what consumers do with fences: waits in each style, exports
//! of fence arrays, and a before/after comparison.
use super::truth::TRUTH_STUB_EXPORTS;
use super::{Scenario, WARM_DONE};

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
fencescope record --verify --attach auto -o /tmp/auto.fsc --report json >/tmp/auto.json 2>/tmp/auto.err &
echo $! >/tmp/auto.pid
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
fs_stop auto || exit 1
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

/// Arrays the arrays scenario exports, and fences in each.
pub const ARRAYS: u32 = 10;
pub const ARRAY_MEMBERS: u32 = 3;

/// Exports of busy buffers: each hands out a `dma_fence_array` of read fences.
pub fn arrays() -> Scenario {
    let script = format!(
        r#"fs_start warm /dev/null watch || exit 1
fence-workload vgem-arrays --arrays 2 >/dev/null || exit 1
fs_start arrays /tmp/arrays.json record --verify -o /tmp/arrays.fsc --report json || exit 1
{WARM_DONE}
fence-workload vgem-arrays --arrays {ARRAYS} --members {ARRAY_MEMBERS} >/tmp/truth.json || exit 1
sleep 0.5
fs_stop arrays || exit 1
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
        r#"fs_start warm /dev/null watch || exit 1
fence-workload vgem --fences 5:4 --stub-exports 4 >/dev/null || exit 1
for side in before after; do
    fs_start $side /dev/null record --verify -o /tmp/$side.fsc || exit 1
    if [ $side = before ]; then
        fence-workload vgem --fences 5:0 --stub-exports {n} --waiter-comm {WAITER} >/dev/null || exit 1
    else
        fence-workload vgem --fences 5:{n} --ask-after-ms 1 --waiter-comm {WAITER} >/dev/null || exit 1
    fi
    fs_stop $side || exit 1
done
fs_stop warm || exit 1
fencescope compare /tmp/before.fsc /tmp/after.fsc >/tmp/compare.txt 2>&1 || exit 1
fencescope flamegraph --diff /tmp/before.fsc /tmp/after.fsc -o /tmp/diff.svg || exit 1
fencescope export /tmp/after.fsc --perfetto /tmp/after.json || exit 1
for f in compare.txt diff.svg after.json; do emit $f /tmp/$f; done
"#
    );
    Scenario::new("compare", "vgem", script, 300)
}
