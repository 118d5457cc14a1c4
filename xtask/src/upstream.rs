//! Scenarios on the source-built kernel (`--kernel 6.12-src`), where
//! upstream drivers with the series (kernel/patches) make the fences: vim2m
//! driven by the decoder-like m2m client, every mode recorded. Every boot on
//! that kernel also passes the lockdep gate (crate::lockdep).
use crate::scenario::Scenario;

/// Frames per mode.
pub const VIM2M_FRAMES: u32 = 10;
/// vim2m's transaction time (its `default_transtime` parameter), ms.
pub const VIM2M_JOB_MS: u32 = 20;
/// The modes of the series' `mode` parameter.
pub const VIM2M_MODES: [&str; 3] = ["none", "queue", "run"];

/// vim2m in each mode under `fencescope record`: MMAP CAPTURE buffers
/// exported with EXPBUF, each handed to a KWin-like waiter that exports.
pub fn vim2m() -> Scenario {
    let modes = VIM2M_MODES.join(" ");
    let script = format!(
        r#"P=/sys/module/vim2m/parameters
[ -d $P ] || {{ echo "no vim2m in this kernel"; exit 1; }}
echo {VIM2M_JOB_MS} > $P/default_transtime
run() {{ # MODE
    echo $1 > $P/mode
    fs_start $1 /dev/null record --verify -o /tmp/$1.fsc || exit 1
    fence-workload m2m --driver vim2m --frames {VIM2M_FRAMES} --style export --hand-after-ms 1 >/tmp/$1.json || exit 1
    fs_stop $1 || exit 1
    fencescope report /tmp/$1.fsc --format json >/tmp/$1.report.json || exit 1
    fencescope report /tmp/$1.fsc >/tmp/$1.report.txt || exit 1
    for f in $1.json $1.err $1.report.json $1.report.txt; do emit $f /tmp/$f; done
}}
for mode in {modes}; do run $mode; done
"#
    );
    // Everything is built in: no module to load.
    let mut sc = Scenario::new("vim2m", "vim2m", script, 900);
    sc.modules.clear();
    sc
}
