//! Static guest binaries: fencescope (with its eBPF object inside) and the
//! workloads, built for the VM's architecture.
use std::path::PathBuf;
use std::process::Command;

use anyhow::Result;

use crate::{Arch, run, workspace_root};

/// The binaries a guest needs, built with musl so they run on a bare
/// busybox initramfs (and on the board as they are).
pub struct GuestBins {
    pub fencescope: PathBuf,
    pub workload: PathBuf,
}

pub fn guest_bins(arch: Arch) -> Result<GuestBins> {
    let root = workspace_root();
    run(Command::new(env!("CARGO"))
        .current_dir(&root)
        .args(["build", "--release", "--target", arch.rust_target()])
        .args(["--bin", "fencescope", "--bin", "fence-workload"]))?;
    let dir = root.join("target").join(arch.rust_target()).join("release");
    Ok(GuestBins { fencescope: dir.join("fencescope"), workload: dir.join("fence-workload") })
}
