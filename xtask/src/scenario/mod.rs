//! A scenario: the modules it loads and the shell script the guest runs, put
//! into an initramfs with the static binaries and booted on one kernel.
//! `cargo xtask vm`, the demo and the VM tests all go through [`run`], and
//! find a scenario by name in [`SCENARIOS`].
//!
//! Adding one: write its function in the submodule of its topic (its script
//! uses the `fs_start`/`fs_stop` helpers of `INIT` and `emit`s what the
//! host checks), add an [`Entry`] to [`SCENARIOS`], its row to the README's
//! table (the `readme_lists_every_scenario` test prints the row), and its
//! checks to `tests/vm.rs`.
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Result;

use crate::build::GuestBins;
use crate::initramfs::Initramfs;
use crate::kernels::Kernel;
use crate::qemu::{self, Boot, Machine};
use crate::workspace_root;

mod bench;
mod compositor;
mod truth;
mod upstream;
mod v4l2;
mod waits;

pub use bench::*;
pub use compositor::*;
pub use truth::*;
pub use upstream::*;
pub use v4l2::*;
pub use waits::*;

/// A scenario as the CLI, the tests and the README know it.
#[derive(Debug)]
pub struct Entry {
    /// What `--scenario` takes.
    pub name: &'static str,
    /// What it shows, one line (the README's table).
    pub about: &'static str,
    /// A kernel fixture it loads, built (against the fixture's kernel)
    /// before it boots.
    pub fixture: Option<&'static str>,
    /// Its guest script and modules.
    pub make: fn() -> Scenario,
}

/// Every scenario `cargo xtask vm` boots.
pub const SCENARIOS: &[Entry] = &[
    Entry {
        name: "truth",
        about: "vgem fences of known lifetimes, two attach modes, replayed",
        fixture: None,
        make: || truth("kprobe"),
    },
    Entry {
        name: "waits",
        about: "a KWin-like waiter in each style, every attach mode",
        fixture: None,
        make: waits,
    },
    Entry {
        name: "vivid",
        about: "two vivid instances, a client streaming each at once: each queue named apart (no fences)",
        fixture: None,
        make: vivid,
    },
    Entry {
        name: "arrays",
        about: "exports of busy buffers: fence arrays and their members",
        fixture: None,
        make: arrays,
    },
    Entry {
        name: "probe",
        about: "what attaches on the kernel, with BTF and without",
        fixture: None,
        make: probe,
    },
    Entry {
        name: "compare",
        about: "stub exports against real fences: compare, flamegraph, Perfetto",
        fixture: None,
        make: compare,
    },
    Entry {
        name: "killed",
        about: "a recorder killed with SIGKILL: its capture still reads; it served metrics meanwhile",
        fixture: None,
        make: killed,
    },
    Entry {
        name: "top",
        about: "top headless on the truth workload, recording and serving metrics",
        fixture: None,
        make: top,
    },
    Entry {
        name: "smp",
        about: "four vCPUs: fences made, signalled and waited on on different CPUs, 20 runs",
        fixture: None,
        make: smp,
    },
    Entry {
        name: "overload",
        about: "a ring too small for the run: drops counted, held against ftrace, logged with -v",
        fixture: None,
        make: overload,
    },
    Entry {
        name: "m2m",
        about: "the series' modes on the fencefix fixture (kernel 6.12-bpo)",
        fixture: Some("fencefix"),
        make: m2m,
    },
    Entry {
        name: "vim2m",
        about: "the series' patches on upstream vim2m, each mode, lockdep on (kernel 6.12-src)",
        fixture: None,
        make: vim2m,
    },
    Entry {
        name: "compliance",
        about: "v4l2-compliance on vim2m and vicodec before the series and with it (kernel 6.12-src)",
        fixture: None,
        make: compliance,
    },
    Entry {
        name: "kwin-vim2m",
        about: "KWin showing frames vim2m writes, waiting on the series' fences in each mode (kernel 6.12-src)",
        fixture: None,
        make: kwin_vim2m,
    },
    Entry {
        name: "kms",
        about: "GStreamer through vim2m into kmssink on vkms, and through vicodec: the series' fences under real clients, each mode (kernel 6.12-src)",
        fixture: None,
        make: kms,
    },
    Entry {
        name: "kwin",
        about: "KWin 6.3 (Debian 13) holding a Wayland client's frames until their vgem fences signal",
        fixture: None,
        make: || compositor(KWIN),
    },
    Entry {
        name: "mutter",
        about: "Mutter 48 (Debian 13) holding a Wayland client's frames until their vgem fences signal",
        fixture: None,
        make: || compositor(MUTTER),
    },
    Entry {
        name: "weston",
        about: "Weston 14 showing the same frames without waiting: no waits to report",
        fixture: None,
        make: || compositor(WESTON),
    },
    Entry {
        name: "bench",
        about: "the cost of watching: fence rates with and without tracers",
        fixture: None,
        make: || bench(None),
    },
    Entry {
        name: "live-memory",
        about: "fencescope watch through ten million vgem fences, its resident memory sampled",
        fixture: None,
        make: || live_memory(LIVE_MEMORY_FENCES),
    },
    Entry {
        name: "demo",
        about: "probe, then a live watch of the truth workload",
        fixture: None,
        make: demo,
    },
];

/// The scenario called `name`.
pub fn find(name: &str) -> Result<&'static Entry> {
    SCENARIOS
        .iter()
        .find(|e| e.name == name)
        .ok_or_else(|| anyhow::anyhow!("no scenario {name:?}: one of {}", names().join(", ")))
}

/// Every scenario's name, in the registry's order.
pub fn names() -> Vec<&'static str> {
    SCENARIOS.iter().map(|e| e.name).collect()
}

/// The README's table of scenarios, as the registry has them.
pub fn readme_table() -> String {
    let mut t = String::from("| scenario | what it shows |\n|---|---|\n");
    for e in SCENARIOS {
        t += &format!("| `{}` | {} |\n", e.name, e.about);
    }
    t
}

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
    /// Guest CPUs, memory, disk. Timing scenarios use one CPU: with icount,
    /// several vCPUs take turns on one host thread and the guest clock runs
    /// on while the producer's vCPU waits its turn, so a deadline slips by
    /// the other's slice. On one CPU the SCHED_FIFO producer preempts
    /// everything.
    pub machine: Machine,
    /// Boots with the compositors' root filesystem (crate::rootfs) as
    /// `/dev/vda`, built first if it is not cached.
    pub rootfs: bool,
}

impl Scenario {
    /// One vCPU, 1 GiB, nothing beyond the binaries and `module`.
    pub fn new(name: &str, module: &'static str, script: String, timeout_secs: u64) -> Scenario {
        Scenario {
            name: name.into(),
            modules: vec![module],
            script,
            timeout: Duration::from_secs(timeout_secs),
            extra: Vec::new(),
            machine: Machine::default(),
            rootfs: false,
        }
    }
}

/// Under TCG the first run of a kernel path is translated first and takes
/// milliseconds, and enabling a tracepoint patches kernel text, which is
/// translated again. So a throwaway fencescope enables the hooks, the
/// workload's paths run once, and only then do the measured tracers attach
/// (to already enabled tracepoints) while the throwaway one still holds them.
const WARM_UP: &str = "fs_start warm /dev/null watch || exit 1
fence-workload vgem --fences 5:10 --fences 20:2 --stub-exports 2 >/dev/null || exit 1
";
/// Ends the throwaway tracer once the measured ones are attached.
const WARM_DONE: &str = "fs_stop warm || exit 1\n";

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
# The run sequence every scenario repeats. `fs_start NAME OUT ARGS...` starts
# `fencescope ARGS...` in the background, its stdout to OUT and its stderr to
# /tmp/NAME.err, and returns once it is watching (fails if it never is);
# `fs_stop NAME` stops it with SIGINT, as a user's Ctrl-C, and fails showing
# its stderr if it failed; `fs_wait NAME` waits for one that stops itself.
fs_start() {
    local name=$1 out=$2; shift 2
    fencescope "$@" >"$out" 2>/tmp/$name.err &
    echo $! >/tmp/$name.pid
    wait_for /tmp/$name.err watching 120
}
# With --verify, a run ftrace could not check fails too: every scenario's
# figures are checked by the kernel's own trace.
fs_wait() {
    wait $(cat /tmp/$1.pid) || { echo "fencescope $1 failed:"; cat /tmp/$1.err; return 1; }
    if grep -q "^verify: not checked" /tmp/$1.err; then cat /tmp/$1.err; return 1; fi
    grep "^verify:" /tmp/$1.err | sed "s/^/$1 /"
    return 0
}
fs_stop() { kill -INT $(cat /tmp/$1.pid); fs_wait $1; }
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
    for (root, dir) in &scenario.extra {
        // Libraries and programs; documentation and locales stay out.
        fs.tree(root, dir, &|rel| !rel.contains("/share/"))?;
    }
    if !scenario.extra.is_empty() {
        for (link, target) in [("lib", "usr/lib"), ("lib64", "usr/lib64")] {
            fs.symlink(link, target);
        }
    }
    let gated = kernel.series == crate::kernels::Series::V6_12Src;
    if gated {
        fs.file(crate::lockdep::DMESG_FLAG, 0o644, Vec::new());
    }
    fs.write(&initrd)?;
    let mut machine = scenario.machine.clone();
    if scenario.rootfs {
        machine.disk = Some(crate::rootfs::ensure_built(kernel.arch)?.image);
    }
    let boot = qemu::boot(kernel.arch, &kernel.image, &initrd, &work, &machine, scenario.timeout)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readme_lists_every_scenario() {
        let readme = std::fs::read_to_string(workspace_root().join("README.md")).unwrap();
        let table = readme
            .split_once("<!-- scenarios -->\n")
            .and_then(|(_, rest)| rest.split_once("<!-- /scenarios -->"))
            .map(|(t, _)| t)
            .expect("README.md has a <!-- scenarios --> table");
        assert_eq!(
            table,
            readme_table(),
            "README's scenario table; it should read:\n{}",
            readme_table()
        );
    }

    #[test]
    fn names_are_unique_and_found() {
        let mut n = names();
        n.sort_unstable();
        n.dedup();
        assert_eq!(n.len(), SCENARIOS.len());
        assert!(find("truth").is_ok());
        let unknown = find("nope").unwrap_err().to_string();
        for name in names() {
            assert!(unknown.contains(name), "{unknown:?} does not offer {name}");
        }
    }

    #[test]
    fn every_entry_makes_the_scenario_of_its_name() {
        for e in SCENARIOS {
            assert_eq!((e.make)().name, e.name, "the entry and its Scenario::new disagree");
        }
    }

    #[test]
    fn every_script_uses_only_defined_helpers() {
        for e in SCENARIOS {
            let sc = (e.make)();
            for helper in ["fs_start", "fs_stop", "fs_wait", "wait_for", "emit"] {
                if sc.script.contains(helper) {
                    assert!(INIT.contains(&format!("{helper}() {{")), "{}: {helper}", e.name);
                }
            }
        }
    }
}
