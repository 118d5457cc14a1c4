//! A scenario: the modules it loads and the shell script the guest runs, put
//! into an initramfs with the static binaries and booted on one kernel.
//! `cargo xtask vm`, the demo and the VM tests all go through [`run`].
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};

use crate::build::GuestBins;
use crate::initramfs::Initramfs;
use crate::kernels::Kernel;
use crate::qemu::{self, Boot};
use crate::{cache, workspace_root};

pub struct Scenario {
    pub name: String,
    /// Modules to load, by name; their dependencies come along.
    pub modules: Vec<&'static str>,
    /// Sourced by /init after the modules load. `emit NAME FILE` sends a file
    /// back to the host.
    pub script: String,
    pub timeout: Duration,
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
for m in $(cat /modules/order); do
    insmod /modules/$m || echo "insmod $m failed"
done
emit() { echo "@@fencescope:file $1"; cat "$2"; echo "@@fencescope:end"; }
# Waits until FILE holds PATTERN (a program saying it is ready), at most S s.
wait_for() {
    i=0
    while ! grep -q "$2" "$1" 2>/dev/null; do
        i=$((i + 1)); [ $i -gt $(($3 * 10)) ] && { echo "timed out waiting for $2 in $1"; cat "$1"; return 1; }
        sleep 0.1
    done
}
( . /scenario.sh )
rc=$?
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
    let work = workspace_root()
        .join("target")
        .join("vm")
        .join(format!("{}-{}-{}", kernel.series.name(), kernel.arch.name(), scenario.name));
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
    fs.write(&initrd)?;
    qemu::boot(kernel.arch, &kernel.image, &initrd, &work, scenario.timeout)
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
    let p = cache::dir().join("busybox").join(kernel.arch.debian()).join("busybox");
    p.is_file().then_some(p.clone()).with_context(|| format!("no {} busybox at {}", kernel.arch.debian(), p.display()))
}
