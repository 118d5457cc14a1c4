//! Builds the eBPF object (ebpf/) with the pinned toolchain; `object.rs`
//! embeds it.
//!
//! The bpf target links with bpf-linker. `./x setup` builds the pinned one
//! against the toolchain's own LLVM into fencescope's cache; find it there so
//! plain `cargo build` works without touching PATH.
use std::{env, path::PathBuf};

use anyhow::{Context as _, anyhow};
use aya_build::{Package, Toolchain};

const TOOLCHAIN: &str = "1.98.0";

fn cache_dir() -> Option<PathBuf> {
    if let Some(dir) = env::var_os("FENCESCOPE_CACHE") {
        return Some(PathBuf::from(dir));
    }
    if let Some(dir) = env::var_os("XDG_CACHE_HOME") {
        return Some(PathBuf::from(dir).join("fencescope"));
    }
    env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache").join("fencescope"))
}

fn main() -> anyhow::Result<()> {
    println!("cargo::rerun-if-env-changed=FENCESCOPE_CACHE");
    let mut path: Vec<PathBuf> =
        env::var_os("PATH").map(|p| env::split_paths(&p).collect()).unwrap_or_default();
    if let Some(tools) = cache_dir().map(|c| c.join("tools").join("bin")) {
        path.insert(0, tools);
    }
    if !path.iter().any(|d| d.join("bpf-linker").is_file()) {
        return Err(anyhow!(
            "bpf-linker not found (in fencescope's cache or on PATH): run `./x setup` first"
        ));
    }
    let joined = env::join_paths(path)?;
    // SAFETY: build scripts are single-threaded until aya-build spawns cargo.
    unsafe {
        env::set_var("PATH", joined);
        // Lets the stable toolchain build core for bpfel-unknown-none.
        env::set_var("RUSTC_BOOTSTRAP", "1");
    }

    let metadata =
        cargo_metadata::MetadataCommand::new().no_deps().exec().context("cargo metadata")?;
    let ebpf = metadata
        .packages
        .into_iter()
        .find(|p| p.name.as_str() == "fencescope-ebpf")
        .ok_or_else(|| anyhow!("fencescope-ebpf package not in the workspace"))?;
    let root =
        ebpf.manifest_path.parent().ok_or_else(|| anyhow!("fencescope-ebpf has no directory"))?;
    aya_build::build_ebpf(
        [Package { name: ebpf.name.as_str(), root_dir: root.as_str(), ..Default::default() }],
        Toolchain::Custom(TOOLCHAIN),
    )
}
