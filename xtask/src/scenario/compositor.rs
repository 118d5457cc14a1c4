//! Real compositors from Debian 13 in the test VM: KWin, Mutter and Weston
//! on the cached root filesystem (crate::rootfs), each showing frames of our
//! own Wayland client (`fence-workload wayland`) whose buffers carry vgem
//! fences signalled a known time after each commit, under `fencescope
//! record`. KWin and Mutter hold each frame until its fence signals; Weston
//! shows them at once, and fencescope must find no wait of it.
//!
//! The guest runs without icount and on two vCPUs: llvmpipe renders every
//! frame on the CPU and would take seconds a frame on one instruction-counted
//! vCPU. Timings are then wall-clock time, which is what the client measures
//! its hand-off and signal in too. AVX is hidden from the guest: llvmpipe's
//! AVX code crashes under this QEMU's TCG.
use super::Scenario;

/// One compositor as the scenario starts and the test checks it.
#[derive(Debug, Clone, Copy)]
pub struct Compositor {
    pub name: &'static str,
    /// The process (and main thread) a wait must be attributed to.
    pub process: &'static str,
    /// How it asks for a buffer's fence (fencescope's wait style); `None`:
    /// it does not wait.
    pub style: Option<&'static str>,
    pub socket: &'static str,
    /// Shell run before it starts.
    prepare: &'static str,
    /// Its command line inside the root filesystem.
    command: &'static str,
}

pub const KWIN: Compositor = Compositor {
    name: "kwin",
    process: "kwin_wayland",
    style: Some("dmabuf-poll"),
    socket: "wayland-k",
    prepare: "",
    // KWIN_COMPOSE=O2: OpenGL through llvmpipe on vgem's GBM device.
    command: "env KWIN_COMPOSE=O2 kwin_wayland --virtual --no-lockscreen --socket wayland-k \
--width 640 --height 480",
};

pub const MUTTER: Compositor = Compositor {
    name: "mutter",
    process: "mutter",
    style: Some("poll+export"),
    socket: "wayland-m",
    // On vgem's render node Mutter crashes at start; without one it renders
    // surfaceless.
    prepare: "rm -f /dev/dri/renderD*",
    command: "mutter --headless --wayland --no-x11 --virtual-monitor 640x480 \
--wayland-display wayland-m",
};

pub const WESTON: Compositor = Compositor {
    name: "weston",
    process: "weston",
    style: None,
    socket: "wayland-w",
    prepare: "",
    command: "weston --backend=headless --renderer=gl --socket=wayland-w --idle-time=0",
};

pub const COMPOSITORS: [Compositor; 3] = [KWIN, MUTTER, WESTON];

/// Frames per compositor, and each one's delay from commit to signal.
pub const COMPOSITOR_FRAMES: u32 = 12;
pub const COMPOSITOR_DELAY_MS: f64 = 300.0;

/// Mounts the root filesystem and gives `in_root` for commands inside it;
/// /proc, /sys, /dev and /tmp are the initramfs's own, so the Wayland socket
/// in /tmp/xdg and the DRM nodes are seen from both sides.
pub(super) const ROOT: &str = r#"mkdir -p /mnt
mount -t ext4 /dev/vda /mnt || { echo "no root filesystem on /dev/vda"; exit 1; }
for d in proc sys dev tmp; do mount -o bind /$d /mnt/$d; done
mount -t tmpfs run /mnt/run
mkdir -p /tmp/xdg && chmod 700 /tmp/xdg
uptime_s() { cut -d' ' -f1 /proc/uptime; }
# LP_NUM_THREADS=0: llvmpipe's worker threads crash KWin here.
in_root() {
    chroot /mnt /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
        XDG_RUNTIME_DIR=/tmp/xdg LIBGL_ALWAYS_SOFTWARE=1 LP_NUM_THREADS=0 \
        MESA_SHADER_CACHE_DIR=/var/cache/mesa "$@"
}
"#;

/// Shell that defines `start_compositor` (starts `c` on the root
/// filesystem and returns once its socket is there; T0 and T1 are when it
/// started and when the socket came) and `stop_compositor`; KWin can crash
/// as a client disconnects, so scenarios that run several clients start it
/// afresh for each.
pub fn compositor_shell(c: Compositor) -> String {
    let Compositor { name, process, socket, prepare, command, .. } = c;
    format!(
        r#"{ROOT}
{prepare}
start_compositor() {{
    T0=$(uptime_s)
    in_root dbus-run-session -- {command} >>/tmp/compositor.log 2>&1 &
    COMPOSITOR=$!
    local n=0
    until [ -S /tmp/xdg/{socket} ]; do
        n=$((n + 1)); [ $n -gt 1200 ] && {{ echo "{name} made no socket"; cat /tmp/compositor.log; return 1; }}
        sleep 0.1
    done
    T1=$(uptime_s)
}}
stop_compositor() {{
    chroot /mnt /usr/bin/pkill -x {process}
    wait $COMPOSITOR
    rm -f /tmp/xdg/{socket} /tmp/xdg/{socket}.lock
}}
"#
    )
}

/// `c` started on the root filesystem, the client's frames recorded; the
/// live report (`live.txt`) is what `cargo xtask demo --compositor` prints.
pub fn compositor(c: Compositor) -> Scenario {
    let Compositor { name, socket, .. } = c;
    let shell = compositor_shell(c);
    let script = format!(
        r#"{shell}
start_compositor || exit 1
fencescope probe >/tmp/probe.txt 2>&1
fs_start rec /tmp/live.txt record --verify -o /tmp/{name}.fsc --report text || exit 1
WAYLAND_DISPLAY={socket} XDG_RUNTIME_DIR=/tmp/xdg fence-workload wayland \
    --frames {COMPOSITOR_FRAMES} --delay-ms {COMPOSITOR_DELAY_MS} >/tmp/client.json \
    || {{ echo "the client failed on {name}"; cat /tmp/compositor.log; exit 1; }}
fs_stop rec || exit 1
fencescope report /tmp/{name}.fsc --format json >/tmp/report.json || exit 1
fencescope report /tmp/{name}.fsc >/tmp/report.txt || exit 1
echo "{{\"started_s\": $T0, \"socket_s\": $T1, \"done_s\": $(uptime_s)}}" >/tmp/timing.json
for f in client.json report.json report.txt live.txt probe.txt timing.json rec.err compositor.log; do emit $f /tmp/$f; done
"#
    );
    compositor_guest(Scenario::new(name, "vgem", script, 900))
}

/// What every compositor guest needs: the root filesystem on a virtio disk,
/// two vCPUs without icount, 4 GiB, no AVX.
pub fn compositor_guest(mut sc: Scenario) -> Scenario {
    sc.modules.extend(["virtio_blk", "ext4"]);
    sc.machine.cpus = 2;
    sc.machine.memory_mb = 4096;
    sc.machine.icount = false;
    sc.machine.cpu = Some("max,-avx,-avx2,-fma,-avx512f");
    sc.rootfs = true;
    sc
}
