//! Scenarios on the source-built kernel (`--kernel 6.12-src`), where
//! upstream drivers with the series (kernel/patches) make the fences: vim2m
//! driven by the decoder-like m2m client, every mode recorded; and vim2m
//! writing a Wayland client's buffers that KWin shows. Every boot on that
//! kernel also passes the lockdep gate (crate::lockdep).
use super::compositor::ROOT;
use super::{Compositor, KWIN, Scenario, compositor_guest, compositor_shell};

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

/// Frames per mode on KWin, and vim2m's job time there: long enough that a
/// frame shown without waiting is seen to come before the job's end.
pub const KWIN_VIM2M_FRAMES: u32 = 12;
pub const KWIN_VIM2M_JOB_MS: u32 = 300;
/// The frames' width and height: small, so that vim2m's conversion (which
/// it does in device_run, before its transaction time starts) takes little
/// of the job under emulation.
const KWIN_VIM2M_SIZE: u32 = 64;

/// The series' fences into a real compositor: vim2m writes each frame of
/// the Wayland client into its vgem buffer (imported as a DMABUF CAPTURE
/// buffer), the client commits the buffer as the job starts, and KWin, which
/// polls each buffer's dma-buf, meets the series' release fence (`queue`,
/// `run`) or nothing (`none`). A fresh KWin for each mode.
pub fn kwin_vim2m() -> Scenario {
    let c: Compositor = KWIN;
    let shell = compositor_shell(c);
    let modes = VIM2M_MODES.join(" ");
    let socket = c.socket;
    let script = format!(
        r#"P=/sys/module/vim2m/parameters
[ -d $P ] || {{ echo "no vim2m in this kernel"; exit 1; }}
echo {KWIN_VIM2M_JOB_MS} > $P/default_transtime
{shell}
run() {{ # MODE
    echo $1 > $P/mode
    start_compositor || exit 1
    fs_start $1 /dev/null record --verify -o /tmp/$1.fsc || exit 1
    WAYLAND_DISPLAY={socket} XDG_RUNTIME_DIR=/tmp/xdg fence-workload wayland --source vim2m \
        --frames {KWIN_VIM2M_FRAMES} --width {KWIN_VIM2M_SIZE} --height {KWIN_VIM2M_SIZE} >/tmp/$1.json \
        || {{ echo "the client failed on kwin, mode $1"; cat /tmp/compositor.log; exit 1; }}
    fs_stop $1 || exit 1
    stop_compositor
    fencescope report /tmp/$1.fsc --format json >/tmp/$1.report.json || exit 1
    fencescope report /tmp/$1.fsc >/tmp/$1.report.txt || exit 1
    for f in $1.json $1.err $1.report.json $1.report.txt; do emit $f /tmp/$f; done
}}
for mode in {modes}; do run $mode; done
fencescope compare /tmp/none.fsc /tmp/run.fsc >/tmp/compare.txt || exit 1
emit compare.txt /tmp/compare.txt
emit compositor.log /tmp/compositor.log
"#
    );
    let mut sc = compositor_guest(Scenario::new("kwin-vim2m", "vim2m", script, 1200));
    // Everything is built in: no module to load.
    sc.modules.clear();
    sc
}

/// The drivers v4l2-compliance checks, and the modes it checks them in.
pub const COMPLIANCE_DRIVERS: [&str; 2] = ["vim2m", "vicodec"];
pub const COMPLIANCE_MODES: [&str; 2] = ["none", "run"];

/// The seed's gate 2 ("hantro and rga still queue and dequeue buffers
/// correctly") on their upstream cousins: v4l2-compliance, streaming
/// included (`-s`), on every vim2m and vicodec node, before the series
/// (`none`) and with it (`run`). Each node's output is emitted as
/// `compliance-MODE-videoN.txt`; the test compares the totals.
pub fn compliance() -> Scenario {
    let drivers = COMPLIANCE_DRIVERS.join(" ");
    let modes = COMPLIANCE_MODES.join(" ");
    let script = format!(
        r#"{ROOT}
in_root sh -c 'command -v v4l2-compliance' >/dev/null || {{ echo "no v4l2-compliance in the root filesystem"; exit 1; }}
for mode in {modes}; do
    for d in {drivers}; do echo $mode > /sys/module/$d/parameters/mode; done
    for n in /sys/class/video4linux/video*; do
        node=${{n##*/}}
        drv=$(basename "$(readlink $n/device/driver)")
        case " {drivers} " in *" $drv "*) ;; *) continue ;; esac
        out=/tmp/compliance-$mode-$node.txt
        echo "driver $drv" >$out
        in_root v4l2-compliance -d /dev/$node -s >>$out 2>&1
        echo "exit $?" >>$out
        emit compliance-$mode-$node.txt $out
    done
done
"#
    );
    let mut sc = Scenario::new("compliance", "vim2m", script, 900);
    sc.modules.clear();
    sc.rootfs = true;
    sc.machine.icount = false;
    sc
}

/// Frames each pipeline passes, the rate its live source makes them at,
/// and vim2m's transaction time there.
pub const KMS_FRAMES: u32 = 30;
pub const KMS_FPS: u32 = 30;
pub const KMS_JOB_MS: u32 = 20;
/// The pipelines, by the driver whose CAPTURE buffers they pass on.
pub const KMS_PIPELINES: [&str; 2] = ["vim2m", "vicodec"];
/// The modes each pipeline runs in.
pub const KMS_MODES: [&str; 3] = ["none", "queue", "run"];
/// The kernel functions the guest's own kprobe events count in each run:
/// kmssink's PRIME imports and plane updates, the atomic helper's fence
/// look-up, and every fence wait.
pub const KMS_KPROBES: [&str; 4] = [
    "drm_prime_fd_to_handle_ioctl",
    "drm_mode_setplane",
    "drm_gem_plane_helper_prepare_fb",
    "dma_fence_wait_timeout",
];

/// Frames of each run of the m2m client committing to vkms, how long it
/// holds OUTPUT back in the starved runs, and the committing thread's name.
pub const KMS_CLIENT_FRAMES: u32 = 10;
pub const KMS_STARVE_MS: u32 = 100;
pub const KMS_COMMITTER: &str = "kms_client";
/// Those runs: (name, mode, whether OUTPUT is held back).
pub const KMS_CLIENT_RUNS: [(&str, &str, bool); 3] = [
    ("commit-run", "run", false),
    ("commit-queue-starved", "queue", true),
    ("commit-run-starved", "run", true),
];

/// Clients and a consumer nobody here wrote: GStreamer (Debian 13) feeds a
/// live 30 fps source through vim2m (`v4l2convert`) into `kmssink` on vkms,
/// which imports the CAPTURE dma-bufs and commits each one to its plane, so
/// the atomic helper looks up their WRITE fences, the series' release
/// fences; and through vicodec (FWHT encode, then decode). Each pipeline
/// in each mode under `fencescope record --verify`, with the guest's own
/// kprobe events (an ftrace instance of its own) counting the KMS path.
/// `identity` prints a line per frame it passes on.
///
/// Then the kernel's commit as the consumer of a buffer handed over before
/// its job is done, which GStreamer never does: the m2m client hands each
/// vim2m CAPTURE buffer to a waiter that commits it to vkms's CRTC
/// (`--style kms`, [`KMS_CLIENT_RUNS`]): as the job runs, and with OUTPUT
/// held back ([`KMS_STARVE_MS`]) at `queue` (the commit waits on userspace)
/// and at `run` (no fence yet: the commit does not wait at all).
///
/// vicodec's frames go to a fakesink: the only raw format v4l2fwhtenc and
/// v4l2fwhtdec agree on in GStreamer 1.26 is I420 (RGB streams fail to
/// negotiate), and 6.12's vkms scans out RGB only. 1280x720, vicodec's
/// default size: at another size GStreamer sizes the encoder's CAPTURE
/// buffers from the default format and refuses the smaller ones it gets.
pub fn kms() -> Scenario {
    let source = format!("videotestsrc is-live=true num-buffers={KMS_FRAMES}");
    let rate = format!("framerate={KMS_FPS}/1");
    let vim2m = format!(
        "{source} ! video/x-raw,format=RGB,width=640,height=480,{rate} ! \
v4l2convert capture-io-mode=dmabuf ! video/x-raw,format=RGB16 ! identity silent=false ! \
kmssink driver-name=vkms can-scale=false sync=false"
    );
    let vicodec = format!(
        "{source} ! video/x-raw,format=I420,width=1280,height=720,{rate} ! v4l2fwhtenc ! \
v4l2fwhtdec capture-io-mode=dmabuf ! identity silent=false ! fakesink"
    );
    let modes = KMS_MODES.join(" ");
    let pipelines = KMS_PIPELINES.join(" ");
    let kprobes = KMS_KPROBES.join(" ");
    let clients: String = KMS_CLIENT_RUNS
        .iter()
        .map(|(name, mode, starved)| {
            let args =
                if *starved { format!("--starve-ms {KMS_STARVE_MS}") } else { String::new() };
            format!("client {name} {mode} {args}\n")
        })
        .collect();
    let script = format!(
        r#"{ROOT}
for e in kmssink v4l2convert v4l2fwhtenc v4l2fwhtdec; do
    in_root gst-inspect-1.0 $e >/dev/null 2>&1 || {{ echo "no GStreamer $e in the root filesystem"; exit 1; }}
done
echo {KMS_JOB_MS} > /sys/module/vim2m/parameters/default_transtime
T=/sys/kernel/tracing
for f in {kprobes}; do
    echo "p:kms/$f $f" >> $T/kprobe_events || {{ echo "no kprobe on $f"; exit 1; }}
done
mkdir $T/instances/kms && echo 1 > $T/instances/kms/events/kms/enable || exit 1
pipeline() {{ case $1 in
    vim2m) echo "{vim2m}" ;;
    vicodec) echo "{vicodec}" ;;
esac; }}
kernel_counts() {{ # NAME FRAMES
    {{
        echo "frames $2"
        for f in {kprobes}; do echo "$f $(grep -c " $f:" $T/instances/kms/trace)"; done
        grep " dma_fence_wait_timeout:" $T/instances/kms/trace
    }} >/tmp/$1.kernel
    fencescope report /tmp/$1.fsc --format json >/tmp/$1.report.json || exit 1
    fencescope report /tmp/$1.fsc >/tmp/$1.report.txt || exit 1
    for f in $1.kernel $1.err $1.report.json $1.report.txt; do emit $f /tmp/$f; done
}}
run() {{ # PIPELINE MODE
    name=$1-$2
    echo $2 > /sys/module/$1/parameters/mode
    echo > $T/instances/kms/trace
    fs_start $name /dev/null record --verify -o /tmp/$name.fsc || exit 1
    in_root timeout 120 gst-launch-1.0 -v $(pipeline $1) >/tmp/$name.gst 2>&1 \
        || {{ echo "gst-launch failed: $name"; cat /tmp/$name.gst; exit 1; }}
    fs_stop $name || exit 1
    kernel_counts $name $(grep -c 'identity0:sink) (' /tmp/$name.gst)
}}
client() {{ # NAME MODE ARGS...
    name=$1
    echo $2 > /sys/module/vim2m/parameters/mode
    shift 2
    echo > $T/instances/kms/trace
    fs_start $name /dev/null record --verify -o /tmp/$name.fsc || exit 1
    fence-workload m2m --driver vim2m --frames {KMS_CLIENT_FRAMES} --style kms \
        --waiter-comm {KMS_COMMITTER} "$@" >/tmp/$name.json || exit 1
    fs_stop $name || exit 1
    emit $name.json /tmp/$name.json
    kernel_counts $name {KMS_CLIENT_FRAMES}
}}
for p in {pipelines}; do for mode in {modes}; do run $p $mode; done; done
{clients}
for p in {pipelines}; do
    fencescope compare /tmp/$p-none.fsc /tmp/$p-run.fsc >/tmp/$p-compare.txt || exit 1
    emit $p-compare.txt /tmp/$p-compare.txt
done
"#
    );
    let mut sc = Scenario::new("kms", "vim2m", script, 900);
    // Everything is built in: no module to load.
    sc.modules.clear();
    sc.rootfs = true;
    sc.machine.icount = false;
    sc.machine.cpus = 2;
    sc.machine.memory_mb = 2048;
    sc
}
